//! Host round trips: generated client stub → fake kernel (copies only the
//! words the tag covers, checks acceptors, copies strings) → generated
//! dispatch → test server → reply → client stub, for both variants.

mod common;

use common::gen::{iconsole, ilocator, ilogging, iresourcemon, ivmcontrol};
use common::{FakeKernel, Target, HOST_MEM_BASE, MSG_OVERFLOW, RECV_TIMEOUT};
use idl::{
    ClientError, Fpage, MapItem, NoReply, Reply, ServerError, StringItem, ThreadId, Variant,
};

const RM: ThreadId = ThreadId(0x000c_8001);
const WINDOW: Fpage = Fpage::new(0, 32, 0);

fn both(mut f: impl FnMut(Variant)) {
    f(Variant::A);
    f(Variant::B);
}

#[test]
fn pagefault_and_request_pages() {
    both(|v| {
        let mut k = FakeKernel::new(Target::Main);
        let mut c = iresourcemon::Client::new(&mut k, RM, v);
        let item = c.pagefault(0xbc01_2345, 0xbc00_0100, 7, WINDOW).unwrap();
        assert_eq!(item.send_base, 0xbc01_2000);
        assert_eq!(item.fpage, Fpage::new(0x0801_2000, 12, 7));
        assert!(!item.grant);
        let item = c
            .request_pages(Fpage::new(0x10000, 16, 7), 7, WINDOW)
            .unwrap();
        assert_eq!(item, MapItem::map(0x10000, Fpage::new(0x0801_0000, 16, 7)));
        assert_eq!(
            k.server.calls[1].args,
            vec![Fpage::new(0x10000, 16, 7).0, 7]
        );
    });
}

#[test]
fn map_reply_without_window_overflows_like_the_kernel() {
    let mut k = FakeKernel::new(Target::Main);
    let mut c = iresourcemon::Client::new(&mut k, RM, Variant::A);
    let r = c.request_pages(Fpage::new(0x10000, 12, 7), 7, Fpage::NIL);
    assert_eq!(r, Err(ClientError::Ipc(MSG_OVERFLOW)));
}

#[test]
fn console_put_and_get() {
    both(|v| {
        let mut k = FakeKernel::new(Target::Main);
        let mut s = iconsole::Stream::zeroed();
        let text = b"Linux version 2.6.9 (afterburn)\n";
        s.raw[..text.len()].copy_from_slice(text);
        s.raw[127] = b'#';
        s.len = text.len() as u32;
        let mut c = iresourcemon::Client::new(&mut k, RM, v);
        c.iconsole().put_chars(0, &s).unwrap();
        let got = c.iconsole().get_chars(1).unwrap();
        assert_eq!(&got.raw[..2], b"ok");
        assert_eq!(got.raw[127], b'!');
        assert_eq!(got.len, 2);
        assert_eq!(k.server.calls[0].text.as_deref(), Some(&text[..]));
        assert_eq!(k.server.calls[0].args, vec![0, text.len() as u32]);
        // A full 128-byte stream survives the trip.
        let mut full = iconsole::Stream::zeroed();
        for (i, b) in full.raw.iter_mut().enumerate() {
            *b = i as u8;
        }
        full.len = 128;
        let mut c = iconsole::Client::new(&mut k, RM, v);
        c.put_chars(9, &full).unwrap();
        assert_eq!(k.server.calls[2].text.as_deref(), Some(&full.raw[..]));
    });
}

#[test]
fn locator_and_exceptions() {
    both(|v| {
        let mut k = FakeKernel::new(Target::Main);
        let mut c = ilocator::Client::new(&mut k, RM, v);
        c.register_interface(5, ThreadId(0x0010_4002)).unwrap();
        assert_eq!(c.query_interface(5).unwrap(), ThreadId(0xa000_0005));
        k.server.loc_err = Some(ServerError::Exception(
            ilocator::Exception::UnknownInterface,
        ));
        let mut c = ilocator::Client::new(&mut k, RM, v);
        assert_eq!(
            c.query_interface(12),
            Err(ClientError::Exception(
                ilocator::Exception::UnknownInterface
            ))
        );
        assert_eq!(
            k.server.calls[0].args,
            vec![5, 0x0010_4002],
            "register_interface arguments in IDL order for variant {v:?}"
        );
    });
}

#[test]
fn proxies_and_ranges() {
    both(|v| {
        let mut k = FakeKernel::new(Target::Main);
        let mut c = iresourcemon::Client::new(&mut k, RM, v);
        let t = ThreadId;
        let r = c
            .thread_control(
                t(0x0010_4042),
                t(0x0010_4002),
                t(0x0010_4002),
                RM,
                0xbfff_e000,
                !0,
                1,
            )
            .unwrap();
        assert_eq!(r, 1);
        let r = c
            .space_control(
                t(0x0010_8002),
                0,
                Fpage(0xbfff_f0c0),
                Fpage(0xbffe_00d0),
                t(3),
            )
            .unwrap();
        assert_eq!(r, 1);
        assert_eq!(
            c.associate_interrupt(t(0x4001), t(0x0010_4082), 103, 0)
                .unwrap(),
            1
        );
        assert_eq!(c.deassociate_interrupt(t(0x4001)).unwrap(), -1);
        assert_eq!(
            c.get_client_phys_range(t(0x0010_4002)).unwrap(),
            (0x0800_0000, 0x0a80_0000)
        );
        assert_eq!(
            c.get_space_phys_range(3).unwrap(),
            (0x0c00_0000, 0x0400_0000)
        );
        assert_eq!(c.tid_to_space_id(t(0x0800_8002)).unwrap(), 2);
        c.set_virtual_offset(0xc000_0000).unwrap();
        c.client_init_complete().unwrap();
        assert_eq!(c.unmap_device(Fpage(0xb80c7), 3).unwrap(), 4);
        let calls = &k.server.calls;
        assert_eq!(
            calls[1].args,
            vec![0x0010_8002, 0, 0xbfff_f0c0, 0xbffe_00d0, 3]
        );
        assert_eq!(calls[7].op, "set_virtual_offset");
        assert_eq!(calls[8].op, "client_init_complete");
        assert_eq!(k.replies, 9, "the oneway call got no reply");
    });
}

#[test]
fn declared_and_undeclared_exceptions_seen_by_the_client() {
    let mut k = FakeKernel::new(Target::Main);
    k.server.rm_err = Some(ServerError::Exception(iresourcemon::Exception::ErrNoMem));
    let mut c = iresourcemon::Client::new(&mut k, RM, Variant::B);
    let t = ThreadId;
    assert_eq!(
        c.thread_control(t(1), t(2), t(3), t(4), 5, 6, 7),
        Err(ClientError::Exception(iresourcemon::Exception::ErrNoMem))
    );
    // Not in request_pages' raises list: no reply, the client would block.
    assert_eq!(
        c.request_pages(Fpage::new(0, 12, 7), 7, WINDOW),
        Err(ClientError::Ipc(RECV_TIMEOUT))
    );
    assert_eq!(
        k.last,
        Some(Reply::NoReply(NoReply::UndeclaredException(13)))
    );
}

#[test]
fn logging_and_migration_items() {
    both(|v| {
        let mut k = FakeKernel::new(Target::Main);
        let mut c = iresourcemon::Client::new(&mut k, RM, v);
        let regs = c.ilogging().request_log_control_regs(0, WINDOW).unwrap();
        assert_eq!(regs.fpage, Fpage::new(0x4000_0000, 12, 5));
        let files = ilogging::Client::new(c.transport, RM, v)
            .request_logfiles(1, WINDOW)
            .unwrap();
        assert_eq!(files.fpage.size_log2(), 13);
        let mut c = iresourcemon::Client::new(&mut k, RM, v);
        assert_eq!(c.get_vm_space(1, WINDOW).unwrap().fpage.size_log2(), 26);
        assert!(c.vm_info(1, WINDOW).unwrap().fpage.is_nil());
        c.clone_vm(ThreadId(0x0010_4002), 0xc010_0000).unwrap();
        c.allocate_vm().unwrap();
        c.delete_vm(2).unwrap();
        c.set_vm_space(2, 0x1234).unwrap();
        c.resume_vm(2).unwrap();
        c.request_client_pages(ThreadId(0x0010_4002), Fpage::new(0x5000, 12, 7), WINDOW)
            .unwrap();
        c.request_device(Fpage::new(0xb8000, 12, 7), 0, WINDOW)
            .unwrap();
        // register_pdirptr never replies.
        assert_eq!(
            c.register_pdirptr(0x1000),
            Err(ClientError::Ipc(RECV_TIMEOUT))
        );
    });
}

#[test]
fn vm_control_oneway_and_string_item() {
    both(|v| {
        let mut k = FakeKernel::new(Target::VmControl);
        let mut c = ivmcontrol::Client::new(&mut k, ThreadId(0x000c_4002), v);
        c.start_working_set_scan(100, 10, 2).unwrap();
        c.start_active_page_scan(100, 2).unwrap();
        c.set_memballoon(0x0100_0000, 2).unwrap();
        c.start_perfmon_scan(100, 10).unwrap();
        assert_eq!(
            c.get_space_phys_range(2).unwrap(),
            (0x1000_0000, 0x0100_0000)
        );
        // The string item points into fake host memory; the fake kernel
        // copies it into the client's buffer and reports the buffer address.
        let buf = StringItem {
            addr: 0x7000_0000,
            len: 256,
        };
        let got = c.get_space_block(2, 0x100, 64, buf).unwrap();
        assert_eq!(
            got,
            StringItem {
                addr: 0x7000_0000,
                len: 64
            }
        );
        let src = 0x100usize;
        assert_eq!(&k.client_buf[..64], &k.host_mem[src..src + 64]);
        assert_eq!(k.replies, 2);
        let _ = HOST_MEM_BASE;
    });
}
