//! Shared by the integration tests: the code generated from
//! `resourcemon.idl` (by this crate's build script), a recording server that
//! implements every generated trait, and a fake kernel transport.
#![allow(dead_code)]

pub mod gen {
    include!(concat!(env!("OUT_DIR"), "/resourcemon.rs"));
}

use gen::{iconsole, ilocator, ilogging, iresourcemon, ivmcontrol};
use idl::{
    Acceptor, Fpage, IpcError, MapItem, Message, Reply, ServerError, StringItem, ThreadId,
    Transport, Word,
};

/// One recorded server call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub op: &'static str,
    pub caller: Word,
    pub args: Vec<Word>,
    /// put_chars text (the first `len` bytes, clamped to 128).
    pub text: Option<Vec<u8>>,
}

/// Records every call and answers deterministically from the arguments, so a
/// test can predict each reply; `*_err` fields inject failures.
#[derive(Default)]
pub struct TestServer {
    pub calls: Vec<Call>,
    pub loc_err: Option<ServerError<ilocator::Exception>>,
    pub rm_err: Option<ServerError<iresourcemon::Exception>>,
    /// For interfaces without exceptions: reply nothing.
    pub no_reply: bool,
}

impl TestServer {
    fn rec(&mut self, op: &'static str, caller: ThreadId, args: &[Word]) {
        self.calls.push(Call {
            op,
            caller: caller.0,
            args: args.to_vec(),
            text: None,
        });
    }

    fn rm<T>(&mut self, ok: T) -> Result<T, ServerError<iresourcemon::Exception>> {
        match self.rm_err {
            Some(e) => Err(e),
            None => Ok(ok),
        }
    }

    fn plain<T, E>(&mut self, ok: T) -> Result<T, ServerError<E>> {
        if self.no_reply {
            Err(ServerError::NoReply)
        } else {
            Ok(ok)
        }
    }
}

pub type RmResult<T> = Result<T, ServerError<iresourcemon::Exception>>;

impl ilocator::Server for TestServer {
    fn query_interface(
        &mut self,
        caller: ThreadId,
        guid: ilocator::Guid,
    ) -> Result<ThreadId, ServerError<ilocator::Exception>> {
        self.rec("query_interface", caller, &[guid]);
        match self.loc_err {
            Some(e) => Err(e),
            None => Ok(ThreadId(0xa000_0000 | guid)),
        }
    }

    fn register_interface(
        &mut self,
        caller: ThreadId,
        guid: ilocator::Guid,
        tid: ThreadId,
    ) -> Result<(), ServerError<ilocator::Exception>> {
        self.rec("register_interface", caller, &[guid, tid.0]);
        match self.loc_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl iconsole::Server for TestServer {
    fn put_chars(
        &mut self,
        caller: ThreadId,
        handle: iconsole::Handle,
        stream: &iconsole::Stream,
    ) -> Result<(), ServerError<iconsole::Exception>> {
        self.rec("put_chars", caller, &[handle, stream.len]);
        let n = (stream.len as usize).min(stream.raw.len());
        self.calls.last_mut().expect("just pushed").text = Some(stream.raw[..n].to_vec());
        self.plain(())
    }

    fn get_chars(
        &mut self,
        caller: ThreadId,
        handle: iconsole::Handle,
    ) -> Result<iconsole::Stream, ServerError<iconsole::Exception>> {
        self.rec("get_chars", caller, &[handle]);
        let mut s = iconsole::Stream::zeroed();
        s.raw[..2].copy_from_slice(b"ok");
        s.raw[127] = b'!';
        s.len = 2;
        self.plain(s)
    }
}

impl ilogging::Server for TestServer {
    fn request_log_control_regs(
        &mut self,
        caller: ThreadId,
        cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.rec("request_log_control_regs", caller, &[cpu]);
        let a = 0x4000_0000u32.wrapping_add(cpu.wrapping_mul(0x1000));
        self.plain(MapItem::map(a, Fpage::new(a, 12, 5)))
    }

    fn request_logfiles(
        &mut self,
        caller: ThreadId,
        cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.rec("request_logfiles", caller, &[cpu]);
        let a = 0x5000_0000u32.wrapping_add(cpu.wrapping_mul(0x2000));
        self.plain(MapItem::map(a, Fpage::new(a, 13, 5)))
    }
}

impl iresourcemon::Server for TestServer {
    fn pagefault(
        &mut self,
        caller: ThreadId,
        addr: Word,
        ip: Word,
        privileges: Word,
    ) -> RmResult<MapItem> {
        self.rec("pagefault", caller, &[addr, ip, privileges]);
        let h = 0x0800_0000 + (addr & 0x00ff_f000);
        self.rm(MapItem::map(addr, Fpage::new(h, 12, privileges)))
    }

    fn register_pdirptr(&mut self, caller: ThreadId, addr: Word) -> RmResult<()> {
        self.rec("register_pdirptr", caller, &[addr]);
        Err(ServerError::NoReply)
    }

    fn client_init_complete(&mut self, caller: ThreadId) {
        self.rec("client_init_complete", caller, &[]);
    }

    fn request_pages(&mut self, caller: ThreadId, req_fp: Fpage, attr: Word) -> RmResult<MapItem> {
        self.rec("request_pages", caller, &[req_fp.0, attr]);
        let fp = Fpage::new(
            0x0800_0000u32.wrapping_add(req_fp.base()),
            req_fp.size_log2(),
            7,
        );
        self.rm(MapItem::map(req_fp.base(), fp))
    }

    fn request_device(&mut self, caller: ThreadId, req_fp: Fpage, attr: Word) -> RmResult<MapItem> {
        self.rec("request_device", caller, &[req_fp.0, attr]);
        self.rm(MapItem::map(req_fp.base(), Fpage::new(0xbe00_0000, 12, 7)))
    }

    fn unmap_device(&mut self, caller: ThreadId, req_fp: Fpage, attr: Word) -> RmResult<Word> {
        self.rec("unmap_device", caller, &[req_fp.0, attr]);
        self.rm(attr.wrapping_add(1))
    }

    fn request_client_pages(
        &mut self,
        caller: ThreadId,
        client_tid: ThreadId,
        req_fp: Fpage,
    ) -> RmResult<MapItem> {
        self.rec("request_client_pages", caller, &[client_tid.0, req_fp.0]);
        let fp = Fpage::new(
            0x0c00_0000u32.wrapping_add(req_fp.base()),
            req_fp.size_log2(),
            7,
        );
        self.rm(MapItem::map(req_fp.base(), fp))
    }

    fn thread_control(
        &mut self,
        caller: ThreadId,
        dest: ThreadId,
        space: ThreadId,
        sched: ThreadId,
        pager: ThreadId,
        utcb_location: Word,
        prio: Word,
        cpu: Word,
    ) -> RmResult<i32> {
        let args = [dest.0, space.0, sched.0, pager.0, utcb_location, prio, cpu];
        self.rec("ThreadControl", caller, &args);
        self.rm(1)
    }

    fn space_control(
        &mut self,
        caller: ThreadId,
        space: ThreadId,
        control: Word,
        kip: Fpage,
        utcb: Fpage,
        redir: ThreadId,
    ) -> RmResult<i32> {
        let args = [space.0, control, kip.0, utcb.0, redir.0];
        self.rec("SpaceControl", caller, &args);
        self.rm(1)
    }

    fn associate_interrupt(
        &mut self,
        caller: ThreadId,
        irq_tid: ThreadId,
        handler_tid: ThreadId,
        irq_prio: Word,
        irq_cpu: Word,
    ) -> RmResult<i32> {
        let args = [irq_tid.0, handler_tid.0, irq_prio, irq_cpu];
        self.rec("AssociateInterrupt", caller, &args);
        self.rm(1)
    }

    fn deassociate_interrupt(&mut self, caller: ThreadId, irq_tid: ThreadId) -> RmResult<i32> {
        self.rec("DeassociateInterrupt", caller, &[irq_tid.0]);
        self.rm(-1)
    }

    fn get_client_phys_range(
        &mut self,
        caller: ThreadId,
        client_tid: ThreadId,
    ) -> RmResult<(Word, Word)> {
        self.rec("get_client_phys_range", caller, &[client_tid.0]);
        self.rm((0x0800_0000, 0x0a80_0000))
    }

    fn get_space_phys_range(&mut self, caller: ThreadId, space_id: Word) -> RmResult<(Word, Word)> {
        self.rec("get_space_phys_range", caller, &[space_id]);
        self.rm((0x0400_0000u32.wrapping_mul(space_id), 0x0400_0000))
    }

    fn set_virtual_offset(&mut self, caller: ThreadId, new_offset: Word) -> RmResult<()> {
        self.rec("set_virtual_offset", caller, &[new_offset]);
        self.rm(())
    }

    fn tid_to_space_id(&mut self, caller: ThreadId, tid: ThreadId) -> RmResult<Word> {
        self.rec("tid_to_space_id", caller, &[tid.0]);
        self.rm((tid.0 >> 14) / 4096)
    }

    fn clone_vm(&mut self, caller: ThreadId, tid: ThreadId, resume_func: Word) -> RmResult<()> {
        self.rec("clone_vm", caller, &[tid.0, resume_func]);
        self.rm(())
    }

    fn get_vm_space(&mut self, caller: ThreadId, space_id: Word) -> RmResult<MapItem> {
        self.rec("get_vm_space", caller, &[space_id]);
        self.rm(MapItem::map(
            0,
            Fpage::new(0x0400_0000u32.wrapping_mul(space_id), 26, 4),
        ))
    }

    fn vm_info(&mut self, caller: ThreadId, space_id: Word) -> RmResult<MapItem> {
        self.rec("vm_info", caller, &[space_id]);
        self.rm(MapItem::map(0, Fpage::NIL))
    }

    fn allocate_vm(&mut self, caller: ThreadId) -> RmResult<()> {
        self.rec("allocate_vm", caller, &[]);
        self.rm(())
    }

    fn delete_vm(&mut self, caller: ThreadId, space_id: Word) -> RmResult<()> {
        self.rec("delete_vm", caller, &[space_id]);
        self.rm(())
    }

    fn set_vm_space(&mut self, caller: ThreadId, space_id: Word, fp: Word) -> RmResult<()> {
        self.rec("set_vm_space", caller, &[space_id, fp]);
        self.rm(())
    }

    fn resume_vm(&mut self, caller: ThreadId, space_id: Word) -> RmResult<()> {
        self.rec("resume_vm", caller, &[space_id]);
        self.rm(())
    }
}

/// Base address of the fake host memory that IVMControl string replies
/// point into.
pub const HOST_MEM_BASE: Word = 0x0800_0000;

impl ivmcontrol::Server for TestServer {
    fn start_working_set_scan(
        &mut self,
        caller: ThreadId,
        millisecond_sleep: Word,
        num_samples: Word,
        target_space_id: Word,
    ) {
        let args = [millisecond_sleep, num_samples, target_space_id];
        self.rec("start_working_set_scan", caller, &args);
    }

    fn start_active_page_scan(
        &mut self,
        caller: ThreadId,
        millisecond_sleep: Word,
        target_space_id: Word,
    ) {
        let args = [millisecond_sleep, target_space_id];
        self.rec("start_active_page_scan", caller, &args);
    }

    fn set_memballoon(&mut self, caller: ThreadId, size: Word, target_space_id: Word) {
        self.rec("set_memballoon", caller, &[size, target_space_id]);
    }

    fn get_space_phys_range(
        &mut self,
        caller: ThreadId,
        space_id: Word,
    ) -> Result<(Word, Word), ServerError<ivmcontrol::Exception>> {
        self.rec("vmc.get_space_phys_range", caller, &[space_id]);
        self.plain((0x1000_0000, 0x0100_0000))
    }

    fn get_space_block(
        &mut self,
        caller: ThreadId,
        space_id: Word,
        offset: Word,
        request_size: Word,
    ) -> Result<StringItem, ServerError<ivmcontrol::Exception>> {
        self.rec("get_space_block", caller, &[space_id, offset, request_size]);
        self.plain(StringItem {
            addr: HOST_MEM_BASE.wrapping_add(offset),
            len: request_size.min(0x40_0000),
        })
    }

    fn start_perfmon_scan(&mut self, caller: ThreadId, millisecond_sleep: Word, num_samples: Word) {
        self.rec(
            "start_perfmon_scan",
            caller,
            &[millisecond_sleep, num_samples],
        );
    }
}

/// Which generated dispatcher a fake kernel routes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The main thread: IResourcemon with its bases.
    Main,
    /// Helper thread 1: IVMControl.
    VmControl,
}

/// IPC error codes the fake kernel reports (x2-abi §1.8).
pub const RECV_TIMEOUT: IpcError = IpcError((1 << 1) | 1);
pub const MSG_OVERFLOW: IpcError = IpcError((4 << 1) | 1);

/// A fake kernel: transfers only the words the tag covers (so stale words
/// never leak), runs the generated dispatcher, checks acceptors like the
/// kernel does, and copies string items between fake memories.
pub struct FakeKernel {
    pub server: TestServer,
    pub target: Target,
    /// Thread id the server sees as the sender.
    pub caller: ThreadId,
    /// What the last dispatch returned.
    pub last: Option<Reply>,
    /// Fake host memory that string replies point into (at HOST_MEM_BASE).
    pub host_mem: Vec<u8>,
    /// The client's string receive buffer (address = rcv_buffer.addr).
    pub client_buf: Vec<u8>,
    /// Number of replies sent.
    pub replies: usize,
}

impl FakeKernel {
    pub fn new(target: Target) -> Self {
        FakeKernel {
            server: TestServer::default(),
            target,
            caller: ThreadId(0x000c_8002),
            last: None,
            host_mem: (0..0x4000u32).map(|i| (i * 7 + 3) as u8).collect(),
            client_buf: vec![0; 256],
            replies: 0,
        }
    }

    fn deliver(&mut self, msg: &Message) -> (Message, Reply) {
        // The kernel copies MR0..MR(u+t) into the receiver's registers.
        let mut rcv = Message::from_words(msg.words());
        let r = match self.target {
            Target::Main => gen::iresourcemon::dispatch(&mut self.server, self.caller, &mut rcv),
            Target::VmControl => gen::ivmcontrol::dispatch(&mut self.server, self.caller, &mut rcv),
        };
        self.last = Some(r);
        (rcv, r)
    }
}

impl Transport for FakeKernel {
    fn call(&mut self, _to: ThreadId, msg: &mut Message, accept: Acceptor) -> Result<(), IpcError> {
        let (reply, r) = self.deliver(msg);
        if !r.must_send() {
            // The real client would block forever; the fake times out.
            return Err(RECV_TIMEOUT);
        }
        self.replies += 1;
        let mut got = Message::from_words(reply.words());
        let tag = got.tag();
        let mut i = 1 + tag.untyped();
        while i < tag.untyped() + tag.typed() {
            let (a, b) = (got.mr[i], got.mr[i + 1]);
            if a & 0x8 != 0 {
                // Map/grant item: needs a receive window.
                if accept.window.is_nil() {
                    return Err(MSG_OVERFLOW);
                }
            } else {
                // String item: copy into the client's buffer, report the
                // receiver's buffer address like the kernel does.
                let Some(buf) = accept.string else {
                    return Err(MSG_OVERFLOW);
                };
                let len = (a >> 10) as usize;
                if len > buf.len as usize || len > self.client_buf.len() {
                    return Err(MSG_OVERFLOW);
                }
                let src = b.wrapping_sub(HOST_MEM_BASE) as usize;
                let data = self.host_mem.get(src..src + len).ok_or(MSG_OVERFLOW)?;
                self.client_buf[..len].copy_from_slice(data);
                got.mr[i + 1] = buf.addr;
            }
            i += 2;
        }
        *msg = got;
        Ok(())
    }

    fn send(&mut self, _to: ThreadId, msg: &Message) -> Result<(), IpcError> {
        let (_, r) = self.deliver(msg);
        assert!(!r.must_send(), "a oneway request produced a reply: {r:?}");
        Ok(())
    }
}
