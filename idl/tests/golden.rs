//! Golden wire vectors for every operation of resourcemon.md §7.4, in both
//! thread-id variants (§7.2).
//!
//! Each vector is written by hand from the spec table: the request words a
//! guest's IDL4 stub sends (junk words in variant B set to 0xDEADBEEF), the
//! call the server must see, and the exact reply words. The test feeds the
//! words to the generated dispatcher and checks the call and the reply, then
//! checks that the generated client encoder produces the same request (junk
//! words as 0).

mod common;

use common::gen::{ilocator, iresourcemon};
use common::{FakeKernel, Target};
use idl::{DispatchError, Message, NoReply, Reply, ServerError, Variant, Word};

const J: Word = 0xdead_beef;

const ME: Word = 0x000c_8002;

struct Golden {
    op: &'static str,
    variant: Variant,
    target: Target,
    /// MR0, MR1, ...
    request: &'static [Word],
    /// Indices (into `request`) of junk words.
    junk: &'static [usize],
    args: &'static [Word],
    /// Reply words MR0..., or None for "no reply".
    reply: Option<&'static [Word]>,
}

use Target::{Main, VmControl};
use Variant::{A, B};

macro_rules! g {
    ($op:expr, $v:expr, $t:expr, $req:expr, $junk:expr, $args:expr, $rep:expr) => {
        Golden {
            op: $op,
            variant: $v,
            target: $t,
            request: &$req,
            junk: &$junk,
            args: &$args,
            reply: $rep,
        }
    };
}

/// put_chars request: "hello" in raw[0..5] (MR1-MR2), len 5 in MR33, handle 3 in MR34.
const PUT_CHARS: [Word; 35] = {
    let mut w = [0; 35];
    w[0] = 0x0080_0022;
    w[1] = u32::from_le_bytes(*b"hell");
    w[2] = u32::from_le_bytes([b'o', 0, 0, 0]);
    w[33] = 5;
    w[34] = 3;
    w
};

/// get_chars reply: "ok" in raw[0..2], raw[127] = '!', len 2.
const GET_CHARS_REPLY: [Word; 34] = {
    let mut w = [0; 34];
    w[0] = 0x0000_0021;
    w[1] = u32::from_le_bytes([b'o', b'k', 0, 0]);
    w[32] = (b'!' as u32) << 24;
    w[33] = 2;
    w
};

fn vectors() -> Vec<Golden> {
    vec![
        // --- ILocator (iid 0)
        g!(
            "query_interface",
            A,
            Main,
            [0x0000_0001, 5],
            [],
            [5],
            Some(&[0x0000_0002, 0xa000_0005, 0])
        ),
        g!(
            "query_interface",
            B,
            Main,
            [0x0000_0001, 5],
            [],
            [5],
            Some(&[0x0000_0002, 0xa000_0005, 0])
        ),
        g!(
            "register_interface",
            A,
            Main,
            [0x0001_0002, 3, 0x0010_0001],
            [],
            [3, 0x0010_0001],
            Some(&[0])
        ),
        g!(
            "register_interface",
            B,
            Main,
            [0x0001_0003, 0x0010_0001, 3, J],
            [3],
            [3, 0x0010_0001],
            Some(&[0])
        ),
        // --- IConsole (iid 2)
        g!("put_chars", A, Main, PUT_CHARS, [], [3, 5], Some(&[0])),
        g!("put_chars", B, Main, PUT_CHARS, [], [3, 5], Some(&[0])),
        g!(
            "get_chars",
            A,
            Main,
            [0x0081_0001, 0],
            [],
            [0],
            Some(&GET_CHARS_REPLY)
        ),
        g!(
            "get_chars",
            B,
            Main,
            [0x0081_0001, 0],
            [],
            [0],
            Some(&GET_CHARS_REPLY)
        ),
        // --- ILogging (iid 9)
        g!(
            "request_log_control_regs",
            A,
            Main,
            [0x0240_0001, 1],
            [],
            [1],
            Some(&[0x0000_0080, 0x4000_1008, 0x4000_10c5])
        ),
        g!(
            "request_log_control_regs",
            B,
            Main,
            [0x0240_0001, 1],
            [],
            [1],
            Some(&[0x0000_0080, 0x4000_1008, 0x4000_10c5])
        ),
        g!(
            "request_logfiles",
            A,
            Main,
            [0x0241_0001, 1],
            [],
            [1],
            Some(&[0x0000_0080, 0x5000_2008, 0x5000_20d5])
        ),
        g!(
            "request_logfiles",
            B,
            Main,
            [0x0241_0001, 1],
            [],
            [1],
            Some(&[0x0000_0080, 0x5000_2008, 0x5000_20d5])
        ),
        // --- IResourcemon (iid 1)
        // Write fault (rwx = 2) at 0xbc012345, IP 0xbc000100: map 4 KB, send
        // base = fault address bits 10-31, rights = fault rights.
        g!(
            "pagefault",
            A,
            Main,
            [0xffe2_0002, 0xbc01_2345, 0xbc00_0100],
            [],
            [0xbc01_2345, 0xbc00_0100, 2],
            Some(&[0x0000_0080, 0xbc01_2008, 0x0801_20c2])
        ),
        g!(
            "pagefault",
            B,
            Main,
            [0xffe2_0002, 0xbc01_2345, 0xbc00_0100],
            [],
            [0xbc01_2345, 0xbc00_0100, 2],
            Some(&[0x0000_0080, 0xbc01_2008, 0x0801_20c2])
        ),
        // The wedge's explicit pre-fault uses rwx = 7 (label 0xffe7).
        g!(
            "pagefault",
            A,
            Main,
            [0xffe7_0002, 0x0000_3000, 0xbc00_0100],
            [],
            [0x3000, 0xbc00_0100, 7],
            Some(&[0x0000_0080, 0x0000_3008, 0x0800_30c7])
        ),
        g!(
            "register_pdirptr",
            A,
            Main,
            [0x0041_0001, 0x1000],
            [],
            [0x1000],
            None
        ),
        g!(
            "register_pdirptr",
            B,
            Main,
            [0x0041_0001, 0x1000],
            [],
            [0x1000],
            None
        ),
        g!("client_init_complete", A, Main, [0x0042_0000], [], [], None),
        g!("client_init_complete", B, Main, [0x0042_0000], [], [], None),
        // request_pages(fpage(0x12000, 4 KB, rwx), attr 7): word A = gpaddr | 8.
        g!(
            "request_pages",
            A,
            Main,
            [0xffa0_0002, 0x0001_20c7, 7],
            [],
            [0x0001_20c7, 7],
            Some(&[0x0000_0080, 0x0001_2008, 0x0801_20c7])
        ),
        g!(
            "request_pages",
            B,
            Main,
            [0xffa0_0002, 0x0001_20c7, 7],
            [],
            [0x0001_20c7, 7],
            Some(&[0x0000_0080, 0x0001_2008, 0x0801_20c7])
        ),
        // 64 KB request.
        g!(
            "request_pages",
            A,
            Main,
            [0xffa0_0002, 0x0001_0107, 7],
            [],
            [0x0001_0107, 7],
            Some(&[0x0000_0080, 0x0001_0008, 0x0801_0107])
        ),
        g!(
            "request_device",
            A,
            Main,
            [0x0044_0002, 0x000b_80c7, 0],
            [],
            [0x000b_80c7, 0],
            Some(&[0x0000_0080, 0x000b_8008, 0xbe00_00c7])
        ),
        g!(
            "request_device",
            B,
            Main,
            [0x0044_0002, 0x000b_80c7, 0],
            [],
            [0x000b_80c7, 0],
            Some(&[0x0000_0080, 0x000b_8008, 0xbe00_00c7])
        ),
        g!(
            "unmap_device",
            A,
            Main,
            [0x0045_0002, 0x000b_80c7, 7],
            [],
            [0x000b_80c7, 7],
            Some(&[0x0000_0001, 8])
        ),
        g!(
            "unmap_device",
            B,
            Main,
            [0x0045_0002, 0x000b_80c7, 7],
            [],
            [0x000b_80c7, 7],
            Some(&[0x0000_0001, 8])
        ),
        g!(
            "request_client_pages",
            A,
            Main,
            [0x0046_0002, 0x0010_4002, 0x0000_50c7],
            [],
            [0x0010_4002, 0x0000_50c7],
            Some(&[0x0000_0080, 0x0000_5008, 0x0c00_50c7])
        ),
        g!(
            "request_client_pages",
            B,
            Main,
            [0x0046_0003, 0x0010_4002, 0x0000_50c7, J],
            [3],
            [0x0010_4002, 0x0000_50c7],
            Some(&[0x0000_0080, 0x0000_5008, 0x0c00_50c7])
        ),
        // ThreadControl: MR0 = 0x00470007 (A) / 0x0047000B (B), spec §12.1.
        g!(
            "ThreadControl",
            A,
            Main,
            [
                0x0047_0007,
                0x0010_4042,
                0x0010_4002,
                0x0010_4002,
                0x0010_4002,
                0xbfff_e000,
                !0,
                0
            ],
            [],
            [
                0x0010_4042,
                0x0010_4002,
                0x0010_4002,
                0x0010_4002,
                0xbfff_e000,
                !0,
                0
            ],
            Some(&[0x0000_0001, 1])
        ),
        g!(
            "ThreadControl",
            B,
            Main,
            [
                0x0047_000b,
                0x0010_4042,
                0x0010_4002,
                0x0010_4002,
                0x0010_4002,
                0xbfff_e000,
                !0,
                0,
                J,
                J,
                J,
                J
            ],
            [8, 9, 10, 11],
            [
                0x0010_4042,
                0x0010_4002,
                0x0010_4002,
                0x0010_4002,
                0xbfff_e000,
                !0,
                0
            ],
            Some(&[0x0000_0001, 1])
        ),
        // SpaceControl(space, control, kip, utcb, redir); B orders space, redir, control, kip, utcb.
        g!(
            "SpaceControl",
            A,
            Main,
            [0x0048_0005, 0x0010_8002, 0, 0xbfff_f0c0, 0xbffe_00d0, 0],
            [],
            [0x0010_8002, 0, 0xbfff_f0c0, 0xbffe_00d0, 0],
            Some(&[0x0000_0001, 1])
        ),
        g!(
            "SpaceControl",
            B,
            Main,
            [
                0x0048_0007,
                0x0010_8002,
                0x0000_0003,
                0,
                0xbfff_f0c0,
                0xbffe_00d0,
                J,
                J
            ],
            [6, 7],
            [0x0010_8002, 0, 0xbfff_f0c0, 0xbffe_00d0, 3],
            Some(&[0x0000_0001, 1])
        ),
        g!(
            "AssociateInterrupt",
            A,
            Main,
            [0x0049_0004, 0x0000_4001, 0x0010_4082, 103, 0],
            [],
            [0x0000_4001, 0x0010_4082, 103, 0],
            Some(&[0x0000_0001, 1])
        ),
        g!(
            "AssociateInterrupt",
            B,
            Main,
            [0x0049_0006, 0x0000_4001, 0x0010_4082, 103, 0, J, J],
            [5, 6],
            [0x0000_4001, 0x0010_4082, 103, 0],
            Some(&[0x0000_0001, 1])
        ),
        g!(
            "DeassociateInterrupt",
            A,
            Main,
            [0x004a_0001, 0x0000_4001],
            [],
            [0x0000_4001],
            Some(&[0x0000_0001, 0xffff_ffff])
        ),
        g!(
            "DeassociateInterrupt",
            B,
            Main,
            [0x004a_0002, 0x0000_4001, J],
            [2],
            [0x0000_4001],
            Some(&[0x0000_0001, 0xffff_ffff])
        ),
        g!(
            "get_client_phys_range",
            A,
            Main,
            [0x004b_0001, 0x0010_4002],
            [],
            [0x0010_4002],
            Some(&[0x0000_0002, 0x0800_0000, 0x0a80_0000])
        ),
        g!(
            "get_client_phys_range",
            B,
            Main,
            [0x004b_0002, 0x0010_4002, J],
            [2],
            [0x0010_4002],
            Some(&[0x0000_0002, 0x0800_0000, 0x0a80_0000])
        ),
        g!(
            "get_space_phys_range",
            A,
            Main,
            [0x004c_0001, 2],
            [],
            [2],
            Some(&[0x0000_0002, 0x0800_0000, 0x0400_0000])
        ),
        g!(
            "get_space_phys_range",
            B,
            Main,
            [0x004c_0001, 2],
            [],
            [2],
            Some(&[0x0000_0002, 0x0800_0000, 0x0400_0000])
        ),
        g!(
            "set_virtual_offset",
            A,
            Main,
            [0x004d_0001, 0xc000_0000],
            [],
            [0xc000_0000],
            Some(&[0])
        ),
        g!(
            "set_virtual_offset",
            B,
            Main,
            [0x004d_0001, 0xc000_0000],
            [],
            [0xc000_0000],
            Some(&[0])
        ),
        // tid 0x0800_8002 = thread number 0x2002 -> "space" 2 in the test server.
        g!(
            "tid_to_space_id",
            A,
            Main,
            [0x004e_0001, 0x0800_8002],
            [],
            [0x0800_8002],
            Some(&[0x0000_0001, 2])
        ),
        g!(
            "tid_to_space_id",
            B,
            Main,
            [0x004e_0002, 0x0800_8002, J],
            [2],
            [0x0800_8002],
            Some(&[0x0000_0001, 2])
        ),
        g!(
            "clone_vm",
            A,
            Main,
            [0x004f_0002, 0x0010_4002, 0xc010_0000],
            [],
            [0x0010_4002, 0xc010_0000],
            Some(&[0])
        ),
        g!(
            "clone_vm",
            B,
            Main,
            [0x004f_0003, 0x0010_4002, 0xc010_0000, J],
            [3],
            [0x0010_4002, 0xc010_0000],
            Some(&[0])
        ),
        g!(
            "get_vm_space",
            A,
            Main,
            [0x0050_0001, 2],
            [],
            [2],
            Some(&[0x0000_0080, 0x0000_0008, 0x0800_01a4])
        ),
        g!(
            "get_vm_space",
            B,
            Main,
            [0x0050_0001, 2],
            [],
            [2],
            Some(&[0x0000_0080, 0x0000_0008, 0x0800_01a4])
        ),
        g!(
            "vm_info",
            A,
            Main,
            [0x0051_0001, 2],
            [],
            [2],
            Some(&[0x0000_0080, 0x0000_0008, 0])
        ),
        g!(
            "vm_info",
            B,
            Main,
            [0x0051_0001, 2],
            [],
            [2],
            Some(&[0x0000_0080, 0x0000_0008, 0])
        ),
        g!("allocate_vm", A, Main, [0x0052_0000], [], [], Some(&[0])),
        g!("allocate_vm", B, Main, [0x0052_0000], [], [], Some(&[0])),
        g!("delete_vm", A, Main, [0x0053_0001, 2], [], [2], Some(&[0])),
        g!("delete_vm", B, Main, [0x0053_0001, 2], [], [2], Some(&[0])),
        g!(
            "set_vm_space",
            A,
            Main,
            [0x0054_0002, 2, 0x0012_3456],
            [],
            [2, 0x0012_3456],
            Some(&[0])
        ),
        g!(
            "set_vm_space",
            B,
            Main,
            [0x0054_0002, 2, 0x0012_3456],
            [],
            [2, 0x0012_3456],
            Some(&[0])
        ),
        g!("resume_vm", A, Main, [0x0055_0001, 2], [], [2], Some(&[0])),
        g!("resume_vm", B, Main, [0x0055_0001, 2], [], [2], Some(&[0])),
        // --- IVMControl (iid 8, helper thread 1)
        g!(
            "start_working_set_scan",
            A,
            VmControl,
            [0x0200_0003, 100, 10, 2],
            [],
            [100, 10, 2],
            None
        ),
        g!(
            "start_working_set_scan",
            B,
            VmControl,
            [0x0200_0003, 100, 10, 2],
            [],
            [100, 10, 2],
            None
        ),
        g!(
            "start_active_page_scan",
            A,
            VmControl,
            [0x0201_0002, 100, 2],
            [],
            [100, 2],
            None
        ),
        g!(
            "start_active_page_scan",
            B,
            VmControl,
            [0x0201_0002, 100, 2],
            [],
            [100, 2],
            None
        ),
        g!(
            "set_memballoon",
            A,
            VmControl,
            [0x0202_0002, 0x0100_0000, 2],
            [],
            [0x0100_0000, 2],
            None
        ),
        g!(
            "set_memballoon",
            B,
            VmControl,
            [0x0202_0002, 0x0100_0000, 2],
            [],
            [0x0100_0000, 2],
            None
        ),
        g!(
            "vmc.get_space_phys_range",
            A,
            VmControl,
            [0x0203_0001, 2],
            [],
            [2],
            Some(&[0x0000_0002, 0x1000_0000, 0x0100_0000])
        ),
        g!(
            "vmc.get_space_phys_range",
            B,
            VmControl,
            [0x0203_0001, 2],
            [],
            [2],
            Some(&[0x0000_0002, 0x1000_0000, 0x0100_0000])
        ),
        // String item: word A = length << 10, word B = address.
        g!(
            "get_space_block",
            A,
            VmControl,
            [0x0204_0003, 2, 0x1000, 0x200],
            [],
            [2, 0x1000, 0x200],
            Some(&[0x0000_0080, 0x0008_0000, 0x0800_1000])
        ),
        g!(
            "get_space_block",
            B,
            VmControl,
            [0x0204_0003, 2, 0x1000, 0x200],
            [],
            [2, 0x1000, 0x200],
            Some(&[0x0000_0080, 0x0008_0000, 0x0800_1000])
        ),
        g!(
            "start_perfmon_scan",
            A,
            VmControl,
            [0x0205_0002, 100, 10],
            [],
            [100, 10],
            None
        ),
        g!(
            "start_perfmon_scan",
            B,
            VmControl,
            [0x0205_0002, 100, 10],
            [],
            [100, 10],
            None
        ),
    ]
}

fn run(k: &mut FakeKernel, words: &[Word]) -> (Message, Reply) {
    let mut msg = Message::from_words(words);
    // Stale words after the message must not matter.
    for w in msg.mr.iter_mut().skip(words.len()) {
        *w = 0x5a5a_5a5a;
    }
    let r = match k.target {
        Main => common::gen::iresourcemon::dispatch(&mut k.server, k.caller, &mut msg),
        VmControl => common::gen::ivmcontrol::dispatch(&mut k.server, k.caller, &mut msg),
    };
    (msg, r)
}

#[test]
fn every_spec_operation_in_both_variants() {
    let vs = vectors();
    let mut seen = std::collections::BTreeSet::new();
    for g in &vs {
        let mut k = FakeKernel::new(g.target);
        let (msg, r) = run(&mut k, g.request);
        let ctx = format!("{} variant {:?}", g.op, g.variant);
        assert_eq!(k.server.calls.len(), 1, "{ctx}: {r:?}");
        let call = &k.server.calls[0];
        assert_eq!((call.op, call.caller), (g.op, ME), "{ctx}");
        assert_eq!(call.args, g.args, "{ctx}");
        match g.reply {
            Some(words) => {
                assert_eq!(r, Reply::Normal, "{ctx}");
                assert_eq!(msg.words(), words, "{ctx}");
            }
            None => assert!(
                matches!(r, Reply::NoReply(NoReply::Oneway | NoReply::Declined)),
                "{ctx}: {r:?}"
            ),
        }
        seen.insert(g.op);
    }
    // All 34 operations of the spec table, i.e. every generated operation
    // (IVMControl's get_space_phys_range is recorded as "vmc.").
    use common::gen::{iconsole, ilogging, ivmcontrol};
    let mut all: std::collections::BTreeSet<String> = Default::default();
    all.extend(ilocator::Op::ALL.iter().map(|o| o.name().to_string()));
    all.extend(iconsole::Op::ALL.iter().map(|o| o.name().to_string()));
    all.extend(ilogging::Op::ALL.iter().map(|o| o.name().to_string()));
    all.extend(iresourcemon::Op::ALL.iter().map(|o| o.name().to_string()));
    all.extend(ivmcontrol::Op::ALL.iter().map(|o| match o.name() {
        "get_space_phys_range" => "vmc.get_space_phys_range".to_string(),
        n => n.to_string(),
    }));
    assert_eq!(all.len(), 34);
    let seen: std::collections::BTreeSet<String> = seen.into_iter().map(String::from).collect();
    assert_eq!(seen, all);
}

#[test]
fn put_chars_text_arrives() {
    let mut k = FakeKernel::new(Main);
    let (_, r) = run(&mut k, &PUT_CHARS);
    assert_eq!(r, Reply::Normal);
    assert_eq!(k.server.calls[0].text.as_deref(), Some(&b"hello"[..]));
}

/// The generated client encoders produce exactly the golden request words
/// (junk words as zero).
#[test]
fn client_encoders_match_golden_requests() {
    use common::gen::{iconsole, ilogging, ivmcontrol};
    use idl::{Fpage, ThreadId};
    let t = ThreadId;
    let f = Fpage;
    for g in vectors() {
        let mut m = Message::new();
        let a = g.args;
        let v = g.variant;
        match (g.target, g.op) {
            (_, "query_interface") => ilocator::encode_query_interface(&mut m, v, a[0]),
            (_, "register_interface") => {
                ilocator::encode_register_interface(&mut m, v, a[0], t(a[1]))
            }
            (_, "put_chars") => {
                let mut s = iconsole::Stream::zeroed();
                s.raw[..5].copy_from_slice(b"hello");
                s.len = 5;
                iconsole::encode_put_chars(&mut m, v, a[0], &s)
            }
            (_, "get_chars") => iconsole::encode_get_chars(&mut m, v, a[0]),
            (_, "request_log_control_regs") => {
                ilogging::encode_request_log_control_regs(&mut m, v, a[0])
            }
            (_, "request_logfiles") => ilogging::encode_request_logfiles(&mut m, v, a[0]),
            (_, "pagefault") => iresourcemon::encode_pagefault(&mut m, v, a[0], a[1], a[2]),
            (_, "register_pdirptr") => iresourcemon::encode_register_pdirptr(&mut m, v, a[0]),
            (_, "client_init_complete") => iresourcemon::encode_client_init_complete(&mut m, v),
            (_, "request_pages") => iresourcemon::encode_request_pages(&mut m, v, f(a[0]), a[1]),
            (_, "request_device") => iresourcemon::encode_request_device(&mut m, v, f(a[0]), a[1]),
            (_, "unmap_device") => iresourcemon::encode_unmap_device(&mut m, v, f(a[0]), a[1]),
            (_, "request_client_pages") => {
                iresourcemon::encode_request_client_pages(&mut m, v, t(a[0]), f(a[1]))
            }
            (_, "ThreadControl") => iresourcemon::encode_thread_control(
                &mut m,
                v,
                t(a[0]),
                t(a[1]),
                t(a[2]),
                t(a[3]),
                a[4],
                a[5],
                a[6],
            ),
            (_, "SpaceControl") => iresourcemon::encode_space_control(
                &mut m,
                v,
                t(a[0]),
                a[1],
                f(a[2]),
                f(a[3]),
                t(a[4]),
            ),
            (_, "AssociateInterrupt") => {
                iresourcemon::encode_associate_interrupt(&mut m, v, t(a[0]), t(a[1]), a[2], a[3])
            }
            (_, "DeassociateInterrupt") => {
                iresourcemon::encode_deassociate_interrupt(&mut m, v, t(a[0]))
            }
            (_, "get_client_phys_range") => {
                iresourcemon::encode_get_client_phys_range(&mut m, v, t(a[0]))
            }
            (Main, "get_space_phys_range") => {
                iresourcemon::encode_get_space_phys_range(&mut m, v, a[0])
            }
            (_, "set_virtual_offset") => iresourcemon::encode_set_virtual_offset(&mut m, v, a[0]),
            (_, "tid_to_space_id") => iresourcemon::encode_tid_to_space_id(&mut m, v, t(a[0])),
            (_, "clone_vm") => iresourcemon::encode_clone_vm(&mut m, v, t(a[0]), a[1]),
            (_, "get_vm_space") => iresourcemon::encode_get_vm_space(&mut m, v, a[0]),
            (_, "vm_info") => iresourcemon::encode_vm_info(&mut m, v, a[0]),
            (_, "allocate_vm") => iresourcemon::encode_allocate_vm(&mut m, v),
            (_, "delete_vm") => iresourcemon::encode_delete_vm(&mut m, v, a[0]),
            (_, "set_vm_space") => iresourcemon::encode_set_vm_space(&mut m, v, a[0], a[1]),
            (_, "resume_vm") => iresourcemon::encode_resume_vm(&mut m, v, a[0]),
            (_, "start_working_set_scan") => {
                ivmcontrol::encode_start_working_set_scan(&mut m, v, a[0], a[1], a[2])
            }
            (_, "start_active_page_scan") => {
                ivmcontrol::encode_start_active_page_scan(&mut m, v, a[0], a[1])
            }
            (_, "set_memballoon") => ivmcontrol::encode_set_memballoon(&mut m, v, a[0], a[1]),
            (_, "vmc.get_space_phys_range") => {
                ivmcontrol::encode_get_space_phys_range(&mut m, v, a[0])
            }
            (_, "get_space_block") => {
                ivmcontrol::encode_get_space_block(&mut m, v, a[0], a[1], a[2])
            }
            (_, "start_perfmon_scan") => {
                ivmcontrol::encode_start_perfmon_scan(&mut m, v, a[0], a[1])
            }
            other => panic!("no encoder mapped for {other:?}"),
        }
        let mut want = g.request.to_vec();
        for &j in g.junk {
            want[j] = 0;
        }
        assert_eq!(m.words(), &want[..], "{} variant {:?}", g.op, g.variant);
    }
}

/// Injected locator error, injected resourcemon error, request, expected
/// outcome, expected reply tag.
type ExceptionCase = (
    Option<ServerError<ilocator::Exception>>,
    Option<ServerError<iresourcemon::Exception>>,
    &'static [Word],
    Reply,
    Word,
);

/// Exception replies: label 2 + (n << 8), u = t = 0, only for declared
/// exceptions (§7.1).
#[test]
fn exception_replies() {
    use iresourcemon::Exception as E;
    let cases: &[ExceptionCase] = &[
        (
            Some(ServerError::Exception(
                ilocator::Exception::UnknownInterface,
            )),
            None,
            &[0x0000_0001, 13],
            Reply::Exception(2),
            0x0202_0000,
        ),
        (
            Some(ServerError::Exception(
                ilocator::Exception::InvalidGuidFormat,
            )),
            None,
            &[0x0001_0002, 13, 0x1234],
            Reply::Exception(1),
            0x0102_0000,
        ),
        (
            None,
            Some(ServerError::Exception(E::NoPermission)),
            &[0x0046_0002, 0x0010_4002, 0x50c7],
            Reply::Exception(3),
            0x0302_0000,
        ),
        (
            None,
            Some(ServerError::Exception(E::UnknownClient)),
            &[0x0046_0002, 0x0010_4002, 0x50c7],
            Reply::Exception(1),
            0x0102_0000,
        ),
        (
            None,
            Some(ServerError::Exception(E::DeviceNotMapped)),
            &[0x0045_0002, 0, 7],
            Reply::Exception(4),
            0x0402_0000,
        ),
        (
            None,
            Some(ServerError::Exception(E::ErrInvalidThread)),
            &[0x0047_0007, 1, 2, 3, 4, 5, 6, 7],
            Reply::Exception(7),
            0x0702_0000,
        ),
        (
            None,
            Some(ServerError::Exception(E::ErrKipArea)),
            &[0x0048_0005, 1, 2, 3, 4, 5],
            Reply::Exception(12),
            0x0c02_0000,
        ),
    ];
    for (loc, rm, req, want, tag) in cases {
        let mut k = FakeKernel::new(Main);
        k.server.loc_err = *loc;
        k.server.rm_err = *rm;
        let (msg, r) = run(&mut k, req);
        assert_eq!(r, *want, "{req:x?}");
        assert_eq!(msg.words(), &[*tag], "{req:x?}");
    }
}

/// Exceptions outside the raises list and explicit NoReply send nothing.
#[test]
fn undeclared_exceptions_are_silent() {
    use iresourcemon::Exception as E;
    let cases: &[(ServerError<E>, &[Word], Reply)] = &[
        // request_pages declares no exceptions (§7.6 step 4).
        (
            ServerError::Exception(E::InvalidMemRegion),
            &[0xffa0_0002, 0x20c7, 7],
            Reply::NoReply(NoReply::UndeclaredException(2)),
        ),
        // ThreadControl: code 5 (invalid param) -> ErrInvalidParam is not declared.
        (
            ServerError::Exception(E::ErrInvalidParam),
            &[0x0047_0007, 1, 2, 3, 4, 5, 6, 7],
            Reply::NoReply(NoReply::UndeclaredException(10)),
        ),
        // tid_to_space_id declares only unknown_client.
        (
            ServerError::Exception(E::InvalidMemRegion),
            &[0x004e_0001, 9],
            Reply::NoReply(NoReply::UndeclaredException(2)),
        ),
        // page fault from an unknown client / invalid address.
        (
            ServerError::NoReply,
            &[0xffe4_0002, 0x1000, 0x2000],
            Reply::NoReply(NoReply::Declined),
        ),
    ];
    for (e, req, want) in cases {
        let mut k = FakeKernel::new(Main);
        k.server.rm_err = Some(*e);
        let (_, r) = run(&mut k, req);
        assert_eq!(r, *want, "{req:x?}");
        assert!(!r.must_send());
        assert_eq!(k.server.calls.len(), 1);
    }
}

/// Malformed requests: defined outcome, the server is not called, nothing is
/// sent.
#[test]
fn malformed_requests_are_rejected() {
    let cases: &[(&[Word], Target, DispatchError)] = &[
        // Unknown label, and the first unused IResourcemon slot.
        (
            &[0x0056_0000],
            Main,
            DispatchError::UnknownLabel { label: 0x0056 },
        ),
        // IVMControl is served by helper thread 1, not the main dispatcher.
        (
            &[0x0200_0003, 1, 2, 3],
            Main,
            DispatchError::UnknownLabel { label: 0x0200 },
        ),
        // IDL4 aliases iid 16 to table index 0; we do not.
        (
            &[0x0400_0001, 1],
            Main,
            DispatchError::UnknownLabel { label: 0x0400 },
        ),
        // Kernel messages we do not serve (interrupt, exception).
        (
            &[0xfff0_0000],
            Main,
            DispatchError::UnknownLabel { label: 0xfff0 },
        ),
        (
            &[0xffb0_000c],
            Main,
            DispatchError::UnknownLabel { label: 0xffb0 },
        ),
        // A sigma0 label with low bits set is not request_pages.
        (
            &[0xffa1_0002, 0, 0],
            Main,
            DispatchError::UnknownLabel { label: 0xffa1 },
        ),
        // Page fault with a wrong word count.
        (
            &[0xffe4_0001, 0x1000],
            Main,
            DispatchError::BadUntypedCount {
                label: 0xffe4,
                untyped: 1,
            },
        ),
        // ThreadControl with neither 7 nor 11 words.
        (
            &[0x0047_0008, 1, 2, 3, 4, 5, 6, 7, 8],
            Main,
            DispatchError::BadUntypedCount {
                label: 0x0047,
                untyped: 8,
            },
        ),
        // put_chars one word short.
        (
            &[0x0080_0021],
            Main,
            DispatchError::BadUntypedCount {
                label: 0x0080,
                untyped: 33,
            },
        ),
        // oneway with arguments.
        (
            &[0x0042_0001, 1],
            Main,
            DispatchError::BadUntypedCount {
                label: 0x0042,
                untyped: 1,
            },
        ),
        // Typed items where none are expected (a map item riding along).
        (
            &[0x0045_0082, 0, 7, 0x1008, 0x10c7],
            Main,
            DispatchError::UnexpectedTypedItems {
                label: 0x0045,
                typed: 2,
            },
        ),
        (
            &[0x0203_0000],
            VmControl,
            DispatchError::BadUntypedCount {
                label: 0x0203,
                untyped: 0,
            },
        ),
        (
            &[0x0047_0007, 1, 2, 3, 4, 5, 6, 7],
            VmControl,
            DispatchError::UnknownLabel { label: 0x0047 },
        ),
    ];
    for (req, target, err) in cases {
        let mut k = FakeKernel::new(*target);
        let (_, r) = run(&mut k, req);
        assert_eq!(r, Reply::Rejected(*err), "{req:x?}");
        assert!(k.server.calls.is_empty(), "{req:x?}");
        assert!(!err.to_string().is_empty());
    }
}

/// Every accepted page-fault access combination reaches the server with the
/// rights taken from the label.
#[test]
fn pagefault_rights_from_label() {
    for rwx in 0..8u32 {
        let mut k = FakeKernel::new(Main);
        let (msg, r) = run(&mut k, &[(0xffe0 | rwx) << 16 | 2, 0x5000, 0x100]);
        assert_eq!(r, Reply::Normal);
        assert_eq!(k.server.calls[0].args, vec![0x5000, 0x100, rwx]);
        assert_eq!(msg.mr[2] & 7, rwx);
    }
}

#[test]
fn call_record_is_complete() {
    // Sanity check of the harness itself: every vector names a distinct
    // request (op, variant, words).
    let vs = vectors();
    let mut keys: Vec<_> = vs
        .iter()
        .map(|g| (g.op, g.variant == A, g.request))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), vs.len());
}
