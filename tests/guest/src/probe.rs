//! Requests with a predicted answer, for the isolation modes (`mode=`):
//! what to send (built with the generated encoders, variant A, or by hand
//! for malformed requests), how long to wait, and what must come back.
//!
//! The contract checked here is the monitor's isolation (issue 6):
//! malformed requests and requests outside the caller's VM get no reply or
//! a nil mapping; thread, space, interrupt, device, locator and IVMControl
//! requests naming another VM or the monitor get the operation's refusal
//! (exception replies: label `2 + (number << 8)`, u = t = 0, numbers per
//! interface as in `resourcemon.idl`).

use crate::checks::{thread_no, Device};
use crate::ipc::{iconsole, ilocator, iresourcemon, ivmcontrol};
use crate::{round_up, Hex, PAGE, WEDGE_VADDR};
use core::fmt;
use idl::{Acceptor, Fpage, MapItem, Message, StringItem, Tag, ThreadId, Variant, Word};

/// Thread numbers per VM slot (§6.1).
pub const THREAD_SPACE: u32 = 4096;
/// The slot of the VM `mode=hostile` attacks (started before it).
pub const VICTIM_SLOT: u32 = 1;
/// Label of the driver protocol: the client's request to the driver
/// (u = 2: client thread id, guest-physical address of the pattern page).
pub const DRIVER_LABEL: u16 = 0x7E00;
/// Seed of the client page pattern: byte j is `(j * 7 + 0x33) % 251`
/// ([`crate::pattern_byte`] with this seed and index 0).
pub const CLIENT_SEED: u32 = 0x33;
/// The locator guid the driver registers (IVMblock).
pub const DRIVER_GUID: u32 = 3;
/// IVMControl's guid; the monitor registers it itself.
pub const IVMCONTROL_GUID: u32 = 8;
/// A guid nobody registers in the scenarios (IQemu_pager).
pub const UNUSED_GUID: u32 = 12;
/// The first guid the locator rejects (`UUID_Max_IF`).
pub const BAD_GUID: u32 = 13;
/// VGA text memory.
pub const VGA_TEXT: u32 = 0xB8000;
/// Size of one UTCB on ia32; the UTCB area holds 4096 / 512 of them.
pub const UTCB_SIZE: u32 = 512;
/// Largest request_pages the monitor maps (4 MB).
pub const MAX_REQUEST_LOG2: u32 = 22;
/// request_pages / request_device attribute (the wedge passes 7).
pub const ATTR: Word = 7;
/// The priority that leaves a thread's priority unchanged (no Schedule).
pub const PRIO_UNCHANGED: Word = !0;
/// UTCB location "unchanged".
pub const UTCB_UNCHANGED: Word = !0;
/// Lowest guest-physical address below which everything is device memory.
pub const LOW_DEVICE_LIMIT: u32 = 0x10_0000;

/// A raw global thread id from number and version (ia32: 18 + 14 bits).
pub const fn tid(number: u32, version: u32) -> Word {
    (number << 14) | (version & 0x3fff)
}

/// The interrupt thread of `irq` (thread number = IRQ, version 1, §9.4).
pub const fn irq_tid(irq: u32) -> Word {
    tid(irq, 1)
}

/// The thread ids the modes use, from the shared page and the KIP.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Ids {
    /// The monitor's main thread (`resourcemon_tid`, raw).
    pub rm: Word,
    /// This thread (MyGlobalId, raw).
    pub me: Word,
    /// `thread_space_start`: the first thread number of this VM.
    pub space_start: u32,
    /// KIP ThreadInfo UserBase (sigma0's thread number).
    pub user_base: u32,
}

impl Ids {
    /// base_tid: the monitor's thread number (§6.1).
    pub fn base(&self) -> u32 {
        thread_no(self.rm)
    }

    /// This VM's slot: (thread_space_start − base_tid) / 4096.
    pub fn own_slot(&self) -> u32 {
        self.space_start.wrapping_sub(self.base()) / THREAD_SPACE
    }

    /// The first thread of VM slot `slot` (version 2).
    pub fn first(&self, slot: u32) -> Word {
        tid(self.base() + THREAD_SPACE * slot, 2)
    }

    /// This VM's first thread (number thread_space_start, version 2).
    pub fn own_first(&self) -> Word {
        tid(self.space_start, 2)
    }

    /// Thread `k` of this VM's range, version 2.
    pub fn own(&self, k: u32) -> Word {
        tid(self.space_start + k, 2)
    }

    /// Whether `t` names a thread of this VM's range.
    pub fn in_own_range(&self, t: Word) -> bool {
        thread_no(t).wrapping_sub(self.space_start) < THREAD_SPACE
    }

    /// sigma0 (UserBase, version 1): a thread in no VM.
    pub fn sigma0(&self) -> Word {
        tid(self.user_base, 1)
    }

    /// A thread number of the monitor's own slot that no thread uses.
    pub fn unused_monitor_thread(&self) -> Word {
        tid(self.base() + 4000, 2)
    }
}

/// What an exchange with a server produced.
// No allocator to box the message in; an outcome lives briefly on the stack.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// The IPC failed; the ErrorCode TCR.
    Failed(Word),
    /// The reply, MR0 (tag) and the words it covers.
    Reply(Message),
}

/// An IPC ErrorCode, for messages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IpcCode(pub Word);

impl IpcCode {
    /// The receive phase failed (else the send phase).
    pub fn receive_phase(self) -> bool {
        self.0 & 1 != 0
    }

    /// The error kind (bits 1-3): 1 timeout, 2 no partner, 3 cancelled,
    /// 4 message overflow, 5/6 transfer timeouts, 7 aborted.
    pub fn kind(self) -> Word {
        (self.0 >> 1) & 7
    }

    /// A timeout in the receive phase: the server did not answer.
    pub fn is_receive_timeout(self) -> bool {
        self.receive_phase() && self.kind() == 1
    }
}

impl fmt::Display for IpcCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = if self.receive_phase() {
            "receive"
        } else {
            "send"
        };
        let kind = match self.kind() {
            1 => "timeout",
            2 => "no partner",
            3 => "cancelled",
            4 => "message overflow",
            5 => "transfer timeout (invoker)",
            6 => "transfer timeout (partner)",
            7 => "aborted",
            _ => "unknown error",
        };
        write!(f, "IPC {phase} {kind} (error code {:#x})", self.0)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Failed(code) => IpcCode(*code).fmt(f),
            Outcome::Reply(m) => {
                let t = m.tag();
                write!(
                    f,
                    "reply label {:#06x} u {} t {}",
                    t.label(),
                    t.untyped(),
                    t.typed()
                )?;
                if t.flags() != 0 {
                    write!(f, " flags {:#x}", t.flags())?;
                }
                let words = &m.words()[1..];
                for (i, w) in words.iter().take(4).enumerate() {
                    write!(f, "{}{:#x}", if i == 0 { ": " } else { " " }, w)?;
                }
                if words.len() > 4 {
                    f.write_str(" ...")?;
                }
                Ok(())
            }
        }
    }
}

/// What must come back.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Expect {
    /// No reply: the receive phase times out.
    NoReply,
    /// The IPC fails (in the kernel), whatever the error.
    IpcError,
    /// An exception reply with this number: MR0 = (2 + (n << 8)) << 16.
    Exception(u16),
    /// A success reply with a map item whose fpage is nil.
    NilMap,
    /// A success reply mapping one fpage of `2^log2` bytes rwx at send base
    /// `send_base`.
    Map {
        /// Expected send base (bits 10 and up are compared).
        send_base: Word,
        /// Expected size.
        log2: u32,
    },
    /// A success reply without typed items whose MR`index` is `value`.
    Word {
        /// Which message register.
        index: usize,
        /// Its value.
        value: Word,
    },
    /// Any success reply (label 0, no error flag).
    Success,
}

impl Expect {
    /// The exception reply of IResourcemon's `ErrNoPrivilege` (6, 0x0602).
    pub const NO_PRIVILEGE: Expect =
        Expect::Exception(iresourcemon::Exception::ErrNoPrivilege as u16);
    /// The int result 1 (success) of the system-call proxies.
    pub const RESULT_1: Expect = Expect::Word { index: 1, value: 1 };

    /// Whether `got` is what this expects.
    pub fn judge(&self, got: &Outcome) -> bool {
        let m = match got {
            Outcome::Failed(code) => {
                return match self {
                    Expect::NoReply => IpcCode(*code).is_receive_timeout(),
                    Expect::IpcError => true,
                    _ => false,
                };
            }
            Outcome::Reply(m) => m,
        };
        let tag = m.tag();
        match *self {
            Expect::NoReply | Expect::IpcError => false,
            Expect::Exception(n) => tag == Tag::new(idl::exception_label(n), 0, 0),
            Expect::NilMap => map_item(m).is_some_and(|item| item.fpage.is_nil()),
            Expect::Map { send_base, log2 } => map_item(m).is_some_and(|item| {
                !item.grant
                    && item.send_base & !0x3ff == send_base & !0x3ff
                    && !item.fpage.is_nil()
                    && item.fpage.size_log2() == log2
                    && item.fpage.rights() == Fpage::RWX
            }),
            Expect::Word { index, value } => {
                tag.is_success_reply()
                    && tag.typed() == 0
                    && index >= 1
                    && tag.untyped() >= index
                    && m.mr[index] == value
            }
            Expect::Success => tag.is_success_reply(),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Expect::NoReply => f.write_str("no reply (receive timeout)"),
            Expect::IpcError => f.write_str("an IPC error"),
            Expect::Exception(n) => {
                write!(f, "exception reply label {:#06x}", idl::exception_label(n))
            }
            Expect::NilMap => f.write_str("a nil map item"),
            Expect::Map { send_base, log2 } => write!(
                f,
                "a map item {{send base {}, 2^{log2}, rwx}}",
                Hex(send_base & !0x3ff)
            ),
            Expect::Word { index, value } => {
                write!(f, "reply label 0x0000 with MR{index} = {}", Hex(value))
            }
            Expect::Success => f.write_str("a success reply"),
        }
    }
}

/// The map item of a success reply with exactly one typed item (after the
/// untyped words).
pub fn map_item(m: &Message) -> Option<MapItem> {
    let tag = m.tag();
    if !tag.is_success_reply() || tag.typed() != 2 {
        return None;
    }
    let at = tag.untyped() + 1;
    let (a, b) = (*m.mr.get(at)?, *m.mr.get(at + 1)?);
    // Map (0x8) or grant (0xA) item.
    if a & 0xc != 0x8 {
        return None;
    }
    Some(MapItem {
        send_base: a & !0x3ff,
        fpage: Fpage(b),
        grant: a & 0x2 != 0,
    })
}

/// How long the guest waits for an answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wait {
    /// No reply is expected: a short receive timeout ([`SHORT_WAIT_US`]).
    Short,
    /// A reply is expected: a generous timeout ([`LONG_WAIT_US`]) so a
    /// missing reply is a failed check instead of a hang.
    Long,
    /// The client's call to the driver ([`DRIVER_WAIT_US`]).
    Driver,
}

/// Receive timeout when no reply is expected.
pub const SHORT_WAIT_US: u64 = 200_000;
/// Send and receive timeout when a reply is expected.
pub const LONG_WAIT_US: u64 = 5_000_000;
/// Send and receive timeout of the client's call to the driver.
pub const DRIVER_WAIT_US: u64 = 10_000_000;
/// How long the driver waits for its client.
pub const CLIENT_WAIT_US: u64 = 60_000_000;

impl Wait {
    /// `(send, receive)` timeouts in microseconds.
    pub fn micros(self) -> (u64, u64) {
        match self {
            Wait::Short => (LONG_WAIT_US, SHORT_WAIT_US),
            Wait::Long => (LONG_WAIT_US, LONG_WAIT_US),
            Wait::Driver => (DRIVER_WAIT_US, DRIVER_WAIT_US),
        }
    }
}

/// One request and its predicted answer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Probe {
    /// The check's name (`check <what>: …`).
    pub what: &'static str,
    /// The server (raw thread id).
    pub to: Word,
    /// The request, MR0 first.
    pub msg: Message,
    /// BR0 (and a string buffer) for the answer.
    pub accept: Acceptor,
    /// How long to wait.
    pub wait: Wait,
    /// What must come back.
    pub expect: Expect,
}

/// Where the isolation modes point receive windows and buffers, and the
/// facts their requests are built from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Env {
    /// Thread ids.
    pub ids: Ids,
    /// The IVMControl server (query_interface(8), the monitor if unknown).
    pub vmctl: Word,
    /// `phys_size` of this VM.
    pub phys_size: u32,
    /// `link_vaddr`.
    pub link_vaddr: u32,
    /// The raw `kip_fpage` and `utcb_fpage` of this VM.
    pub kip_fpage: Word,
    /// See `kip_fpage`.
    pub utcb_fpage: Word,
    /// A guest-virtual page outside the VM's memory that nothing uses:
    /// receive window for answers that must not map anything.
    pub window: u32,
    /// A guest-virtual page of VM memory (already touched) for string
    /// items that must not arrive.
    pub string_buffer: u32,
    /// A mapped page of this image (map items sent to the monitor).
    pub code_page: u32,
    /// An instruction address for the page-fault request.
    pub ip: u32,
    /// The IRQ the slot-1 VM owns, if known.
    pub victim_irq: Option<u32>,
}

impl Env {
    /// The 4 KB receive window at `window`.
    pub fn window_acceptor(&self) -> Acceptor {
        Acceptor {
            window: Fpage::new(self.window, 12, Fpage::RWX),
            string: None,
        }
    }

    /// A 4 KB string buffer at `string_buffer`.
    pub fn string_acceptor(&self) -> Acceptor {
        Acceptor {
            window: Fpage::NIL,
            string: Some(StringItem {
                addr: self.string_buffer,
                len: PAGE,
            }),
        }
    }

    /// A guest-virtual address outside the VM: just past its memory.
    pub fn outside_gvaddr(&self) -> u32 {
        self.link_vaddr.wrapping_add(self.phys_size)
    }

    /// The IRQ (10 or 11) that differs from the victim's: nobody owns it.
    pub fn free_irq(&self) -> u32 {
        if self.victim_irq == Some(10) {
            11
        } else {
            10
        }
    }

    fn probe(
        &self,
        what: &'static str,
        msg: Message,
        accept: Acceptor,
        wait: Wait,
        expect: Expect,
    ) -> Probe {
        Probe {
            what,
            to: self.ids.rm,
            msg,
            accept,
            wait,
            expect,
        }
    }
}

/// Build a message with an encoder.
fn encode(f: impl FnOnce(&mut Message)) -> Message {
    let mut m = Message::new();
    f(&mut m);
    m
}

/// A hand-made message: tag, then MR1….
pub fn raw(label: u16, u: usize, t: usize, words: &[Word]) -> Message {
    let mut m = Message::new();
    m.set_tag(Tag::new(label, u, t));
    m.mr[1..=words.len()].copy_from_slice(words);
    m
}

const A: Variant = Variant::A;
const NIL: ThreadId = ThreadId(0);
/// Accept nothing (BR0 = 0).
pub const NONE: Acceptor = Acceptor {
    window: Fpage::NIL,
    string: None,
};

/// The exception reply of IResourcemon exception `e`.
pub fn rm_exception(e: iresourcemon::Exception) -> Expect {
    Expect::Exception(e as u16)
}

/// The requests the modes send, encoded for variant A.
pub mod req {
    use super::*;

    /// request_pages(fpage(addr, log2, rwx), 7).
    pub fn request_pages(addr: u32, log2: u32) -> Message {
        let fp = Fpage::new(addr, log2, Fpage::RWX);
        encode(|m| iresourcemon::encode_request_pages(m, A, fp, ATTR))
    }

    /// A page-fault message (label 0xFFE6: read/write) for `addr` at `ip`.
    pub fn pagefault(addr: u32, ip: u32) -> Message {
        encode(|m| iresourcemon::encode_pagefault(m, A, addr, ip, 6))
    }

    /// request_device(4 KB at addr, rwx; attr 7).
    pub fn request_device(addr: u32) -> Message {
        let fp = Fpage::new(addr, 12, Fpage::RWX);
        encode(|m| iresourcemon::encode_request_device(m, A, fp, ATTR))
    }

    /// unmap_device(4 KB at addr, rwx; attr 7).
    pub fn unmap_device(addr: u32) -> Message {
        let fp = Fpage::new(addr, 12, Fpage::RWX);
        encode(|m| iresourcemon::encode_unmap_device(m, A, fp, ATTR))
    }

    /// request_client_pages(client, 4 KB at guest-physical addr, rwx).
    pub fn request_client_pages(client: Word, addr: u32) -> Message {
        let fp = Fpage::new(addr, 12, Fpage::RWX);
        encode(|m| iresourcemon::encode_request_client_pages(m, A, ThreadId(client), fp))
    }

    /// ThreadControl with the priority unchanged and cpu 0 (no Schedule).
    pub fn thread_control(
        dest: Word,
        space: Word,
        sched: Word,
        pager: Word,
        utcb: Word,
    ) -> Message {
        let t = ThreadId;
        encode(|m| {
            iresourcemon::encode_thread_control(
                m,
                A,
                t(dest),
                t(space),
                t(sched),
                t(pager),
                utcb,
                PRIO_UNCHANGED,
                0,
            )
        })
    }

    /// ThreadControl with a priority and a processor (the monitor then
    /// calls Schedule with both; `mode=smp`).
    pub fn thread_control_on(
        dest: Word,
        space: Word,
        sched: Word,
        pager: Word,
        utcb: Word,
        prio: Word,
        cpu: Word,
    ) -> Message {
        let t = ThreadId;
        encode(|m| {
            iresourcemon::encode_thread_control(
                m,
                A,
                t(dest),
                t(space),
                t(sched),
                t(pager),
                utcb,
                prio,
                cpu,
            )
        })
    }

    /// AssociateInterrupt(IRQ `irq`, handler, `prio`, `cpu`).
    pub fn associate_interrupt_on(irq: u32, handler: Word, prio: Word, cpu: Word) -> Message {
        let (i, h) = (ThreadId(irq_tid(irq)), ThreadId(handler));
        encode(|m| iresourcemon::encode_associate_interrupt(m, A, i, h, prio, cpu))
    }

    /// ThreadControl deleting `dest` (space = nil).
    pub fn delete_thread(dest: Word) -> Message {
        thread_control(dest, 0, 0, 0, UTCB_UNCHANGED)
    }

    /// SpaceControl(space, 0, kip, utcb, nil).
    pub fn space_control(space: Word, kip: Word, utcb: Word) -> Message {
        let (kip, utcb) = (Fpage(kip), Fpage(utcb));
        encode(|m| iresourcemon::encode_space_control(m, A, ThreadId(space), 0, kip, utcb, NIL))
    }

    /// AssociateInterrupt(IRQ `irq`, handler, prio 0xFF, cpu 0).
    pub fn associate_interrupt(irq: u32, handler: Word) -> Message {
        let (i, h) = (ThreadId(irq_tid(irq)), ThreadId(handler));
        encode(|m| iresourcemon::encode_associate_interrupt(m, A, i, h, 0xFF, 0))
    }

    /// DeassociateInterrupt(IRQ `irq`).
    pub fn deassociate_interrupt(irq: u32) -> Message {
        let i = ThreadId(irq_tid(irq));
        encode(|m| iresourcemon::encode_deassociate_interrupt(m, A, i))
    }

    /// ILocator register_interface(guid, tid).
    pub fn register_interface(guid: u32, t: Word) -> Message {
        encode(|m| ilocator::encode_register_interface(m, A, guid, ThreadId(t)))
    }

    /// ILocator query_interface(guid).
    pub fn query_interface(guid: u32) -> Message {
        encode(|m| ilocator::encode_query_interface(m, A, guid))
    }

    /// IVMControl get_space_phys_range(slot).
    pub fn vmctl_phys_range(slot: u32) -> Message {
        encode(|m| ivmcontrol::encode_get_space_phys_range(m, A, slot))
    }

    /// IVMControl get_space_block(slot, 0, 4 KB).
    pub fn vmctl_space_block(slot: u32) -> Message {
        encode(|m| ivmcontrol::encode_get_space_block(m, A, slot, 0, PAGE))
    }

    /// get_client_phys_range(t).
    pub fn client_phys_range(t: Word) -> Message {
        encode(|m| iresourcemon::encode_get_client_phys_range(m, A, ThreadId(t)))
    }

    /// tid_to_space_id(t).
    pub fn tid_to_space_id(t: Word) -> Message {
        encode(|m| iresourcemon::encode_tid_to_space_id(m, A, ThreadId(t)))
    }

    /// IConsole get_chars(handle 0).
    pub fn get_chars() -> Message {
        encode(|m| iconsole::encode_get_chars(m, A, 0))
    }

    /// The client's request to the driver: label 0x7E00, MR1 = the
    /// client's thread, MR2 = the guest-physical address of its page.
    pub fn driver_request(client: Word, gpaddr: u32) -> Message {
        raw(DRIVER_LABEL, 2, 0, &[client, gpaddr])
    }

    /// The driver's answer: label 0, u = 1, MR1 = 1 if the page verified.
    pub fn driver_reply(verified: bool) -> Message {
        raw(0, 1, 0, &[verified as Word])
    }
}

/// The legitimate own-range ThreadControl pair: create thread
/// `own_first + 1` in the own space (scheduler = own first thread, pager =
/// the monitor, UTCB = area base + 512), then delete it. Both return 1.
pub fn own_thread_probes(env: &Env, each: &mut dyn FnMut(Probe)) {
    let ids = env.ids;
    let utcb = Fpage(env.utcb_fpage).base() + UTCB_SIZE;
    let (first, new) = (ids.own_first(), ids.own(1));
    let create = req::thread_control(new, first, first, ids.rm, utcb);
    let mut s = Sink { env, each };
    s.p(
        "ThreadControl create own thread",
        create,
        NONE,
        Wait::Long,
        Expect::RESULT_1,
    );
    let delete = req::delete_thread(new);
    s.p(
        "ThreadControl delete own thread",
        delete,
        NONE,
        Wait::Long,
        Expect::RESULT_1,
    );
}

/// Every request `mode=hostile` (a VM without `ddos`, in slot 2 or later)
/// sends, in order, with the refusal the monitor must give. Where a
/// harmless request tests the same rule as a harmful one, the harmless one
/// is sent (no-op modifications, deletions of threads that do not exist),
/// so that a monitor failing a check does not take the victim down.
pub fn hostile_probes(env: &Env, each: &mut dyn FnMut(Probe)) {
    use Wait::{Long, Short};
    let ids = env.ids;
    let (me, first, rm) = (ids.me, ids.own_first(), ids.rm);
    let victim = ids.first(VICTIM_SLOT);
    let utcb = Fpage(env.utcb_fpage).base();
    let win = env.window_acceptor();
    let no_privilege = Expect::NO_PRIVILEGE;
    let no_permission = rm_exception(iresourcemon::Exception::NoPermission);
    let not_supported = rm_exception(iresourcemon::Exception::NotSupported);
    let locator = |e: ilocator::Exception| Expect::Exception(e as u16);
    let size_word = Expect::Word {
        index: 2,
        value: env.phys_size,
    };

    // Malformed requests: no reply at all.
    let mut s = Sink { env, each };
    s.p(
        "unknown label 0x0abc",
        raw(0x0ABC, 0, 0, &[]),
        NONE,
        Short,
        Expect::NoReply,
    );
    let hello = [0x6c6c_6568, 0x6f, 0, 0, 0];
    s.p(
        "put_chars with u=5",
        raw(0x0080, 5, 0, &hello),
        NONE,
        Short,
        Expect::NoReply,
    );
    let tc3 = raw(0x0047, 3, 0, &[0, 0, 0]);
    s.p("ThreadControl with u=3", tc3, NONE, Short, Expect::NoReply);
    // Typed items: the monitor accepts none, so the kernel fails the IPC.
    let item = MapItem::map(0, Fpage::new(env.code_page, 12, Fpage::R));
    let msg = raw(0x0081, 1, 2, &[0, item.word_a(), item.fpage.0]);
    s.p(
        "get_chars carrying a map item",
        msg,
        NONE,
        Short,
        Expect::IpcError,
    );
    let string = StringItem {
        addr: env.code_page,
        len: 64,
    };
    let msg = raw(0x0081, 1, 2, &[0, string.word_a(), string.addr]);
    s.p(
        "get_chars carrying a string item",
        msg,
        NONE,
        Short,
        Expect::IpcError,
    );

    // Memory outside the VM.
    let msg = req::request_pages(env.phys_size, 12);
    s.p(
        "request_pages past the VM's end",
        msg,
        win,
        Long,
        Expect::NilMap,
    );
    let msg = req::request_pages(0xFFFF_F000, 12);
    s.p(
        "request_pages at 0xfffff000",
        msg,
        win,
        Long,
        Expect::NilMap,
    );
    let msg = req::request_pages(0, MAX_REQUEST_LOG2 + 1);
    s.p("request_pages of 8 MB", msg, win, Long, Expect::NilMap);
    let msg = req::pagefault(env.outside_gvaddr(), env.ip);
    s.p("pagefault outside the VM", msg, win, Short, Expect::NoReply);

    // Threads and spaces: the own range works, everything else is refused.
    own_thread_probes(env, &mut *s.each);
    let msg = req::thread_control(victim, victim, 0, 0, UTCB_UNCHANGED);
    s.p(
        "ThreadControl on slot 1's first thread",
        msg,
        NONE,
        Long,
        no_privilege,
    );
    let msg = req::delete_thread(victim + (7 << 14));
    s.p(
        "ThreadControl delete in slot 1",
        msg,
        NONE,
        Long,
        no_privilege,
    );
    let msg = req::thread_control(ids.own(3), victim, first, rm, utcb + 2 * UTCB_SIZE);
    s.p(
        "ThreadControl own thread into slot 1's space",
        msg,
        NONE,
        Long,
        no_privilege,
    );
    let msg = req::thread_control(ids.own(4), first, victim, rm, utcb + 3 * UTCB_SIZE);
    s.p(
        "ThreadControl slot 1 as scheduler",
        msg,
        NONE,
        Long,
        no_privilege,
    );
    let msg = req::thread_control(rm, rm, 0, 0, UTCB_UNCHANGED);
    s.p(
        "ThreadControl on the monitor",
        msg,
        NONE,
        Long,
        no_privilege,
    );
    let msg = req::delete_thread(ids.unused_monitor_thread());
    s.p(
        "ThreadControl delete in slot 0",
        msg,
        NONE,
        Long,
        no_privilege,
    );
    let msg = req::space_control(victim, env.kip_fpage, env.utcb_fpage);
    s.p("SpaceControl on slot 1", msg, NONE, Long, no_privilege);
    let msg = req::space_control(rm, env.kip_fpage, env.utcb_fpage);
    s.p("SpaceControl on the monitor", msg, NONE, Long, no_privilege);

    // Interrupts: slot 1's IRQ is not ours; neither is a free one.
    if let Some(irq) = env.victim_irq {
        let msg = req::associate_interrupt(irq, first);
        s.p(
            "AssociateInterrupt of slot 1's IRQ",
            msg,
            NONE,
            Long,
            no_privilege,
        );
        let msg = req::deassociate_interrupt(irq);
        s.p(
            "DeassociateInterrupt of slot 1's IRQ",
            msg,
            NONE,
            Long,
            no_privilege,
        );
    }
    let msg = req::deassociate_interrupt(env.free_irq());
    s.p(
        "DeassociateInterrupt of an unowned IRQ",
        msg,
        NONE,
        Long,
        no_privilege,
    );

    // Device memory without `ddos`: the VM's own page at that address (a
    // private frame buffer), never the host's, and never a refusal the
    // wedge would answer by faulting again (issue 10).
    let msg = req::request_device(VGA_TEXT);
    let own_page = Expect::Map {
        send_base: VGA_TEXT,
        log2: 12,
    };
    s.p("request_device without ddos", msg, win, Long, own_page);
    let msg = req::unmap_device(VGA_TEXT);
    s.p(
        "unmap_device without ddos",
        msg,
        NONE,
        Long,
        Expect::Success,
    );
    // Other VMs' memory needs `ddos`.
    let msg = req::request_client_pages(victim, LOW_DEVICE_LIMIT);
    s.p(
        "request_client_pages without ddos",
        msg,
        win,
        Long,
        no_permission,
    );

    // The locator.
    let msg = req::register_interface(BAD_GUID, first);
    let e = locator(ilocator::Exception::InvalidGuidFormat);
    s.p("register_interface guid 13", msg, NONE, Long, e);
    let msg = req::register_interface(DRIVER_GUID, victim);
    let e = locator(ilocator::Exception::NoPermission);
    s.p("register_interface for slot 1's thread", msg, NONE, Long, e);
    let msg = req::query_interface(UNUSED_GUID);
    let e = locator(ilocator::Exception::UnknownInterface);
    s.p("query_interface unregistered guid 12", msg, NONE, Long, e);
    let msg = req::query_interface(IVMCONTROL_GUID);
    let e = Expect::Word {
        index: 1,
        value: rm,
    };
    s.p("query_interface IVMControl", msg, NONE, Long, e);

    // IVMControl: the own slot only.
    let msg = req::vmctl_phys_range(ids.own_slot());
    s.vmctl(
        "IVMControl get_space_phys_range own slot",
        msg,
        NONE,
        size_word,
    );
    let refused = Expect::Exception(ivmcontrol::Exception::NoPermission as u16);
    let msg = req::vmctl_phys_range(VICTIM_SLOT);
    s.vmctl("IVMControl get_space_phys_range slot 1", msg, NONE, refused);
    let msg = req::vmctl_space_block(VICTIM_SLOT);
    let buffer = env.string_acceptor();
    s.vmctl("IVMControl get_space_block slot 1", msg, buffer, refused);

    // The migration family is not supported.
    let slot = VICTIM_SLOT;
    let rmc = iresourcemon::encode_clone_vm;
    let migration: [(&'static str, Message, Acceptor); 7] = [
        (
            "clone_vm",
            encode(|m| rmc(m, A, ThreadId(victim), env.ip)),
            NONE,
        ),
        (
            "get_vm_space",
            encode(|m| iresourcemon::encode_get_vm_space(m, A, slot)),
            win,
        ),
        (
            "vm_info",
            encode(|m| iresourcemon::encode_vm_info(m, A, slot)),
            win,
        ),
        (
            "allocate_vm",
            encode(|m| iresourcemon::encode_allocate_vm(m, A)),
            NONE,
        ),
        (
            "delete_vm",
            encode(|m| iresourcemon::encode_delete_vm(m, A, slot)),
            NONE,
        ),
        (
            "set_vm_space",
            encode(|m| iresourcemon::encode_set_vm_space(m, A, slot, 0)),
            NONE,
        ),
        (
            "resume_vm",
            encode(|m| iresourcemon::encode_resume_vm(m, A, slot)),
            NONE,
        ),
    ];
    for (what, msg, accept) in migration {
        s.p(what, msg, accept, Long, not_supported);
    }

    // Client ranges: any VM's, never a thread in no VM.
    let msg = req::client_phys_range(me);
    s.p(
        "get_client_phys_range own thread",
        msg,
        NONE,
        Long,
        size_word,
    );
    let msg = req::client_phys_range(victim);
    s.p(
        "get_client_phys_range slot 1",
        msg,
        NONE,
        Long,
        Expect::Success,
    );
    let msg = req::client_phys_range(ids.sigma0());
    let e = rm_exception(iresourcemon::Exception::UnknownClient);
    s.p("get_client_phys_range thread in no VM", msg, NONE, Long, e);
    let msg = req::tid_to_space_id(me);
    let e = Expect::Word {
        index: 1,
        value: ids.own_slot(),
    };
    s.p("tid_to_space_id own thread", msg, NONE, Long, e);
}

/// Hands probes to the caller's sink.
pub struct Sink<'a> {
    /// The environment (the monitor and IVMControl thread ids).
    pub env: &'a Env,
    /// Where the probes go.
    pub each: &'a mut dyn FnMut(Probe),
}

impl Sink<'_> {
    /// A request to the monitor.
    pub fn p(
        &mut self,
        what: &'static str,
        msg: Message,
        accept: Acceptor,
        wait: Wait,
        expect: Expect,
    ) {
        (self.each)(self.env.probe(what, msg, accept, wait, expect));
    }

    /// A request to IVMControl (a reply is expected).
    pub fn vmctl(&mut self, what: &'static str, msg: Message, accept: Acceptor, expect: Expect) {
        (self.each)(Probe {
            what,
            to: self.env.vmctl,
            msg,
            accept,
            wait: Wait::Long,
            expect,
        });
    }
}

/// The request kinds `mode=soak` cycles through, in order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SoakKind {
    /// request_pages of an own page: maps, word B as the first time.
    OwnPage,
    /// tid_to_space_id(own thread) = own slot.
    SpaceId,
    /// query_interface(8) = the monitor.
    Locator,
    /// IVMControl get_space_phys_range(own slot) = (start, phys_size).
    PhysRange,
    /// get_chars: len 0.
    GetChars,
    /// ThreadControl on a slot-0 thread: ErrNoPrivilege.
    Refused,
    /// request_pages outside the VM: nil.
    Outside,
}

impl SoakKind {
    /// Every kind, in cycle order.
    pub const ALL: [SoakKind; 7] = [
        SoakKind::OwnPage,
        SoakKind::SpaceId,
        SoakKind::Locator,
        SoakKind::PhysRange,
        SoakKind::GetChars,
        SoakKind::Refused,
        SoakKind::Outside,
    ];

    /// The kind of request number `i`.
    pub fn of(i: u32) -> SoakKind {
        SoakKind::ALL[i as usize % SoakKind::ALL.len()]
    }

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            SoakKind::OwnPage => "request_pages own page",
            SoakKind::SpaceId => "tid_to_space_id",
            SoakKind::Locator => "query_interface(8)",
            SoakKind::PhysRange => "get_space_phys_range",
            SoakKind::GetChars => "get_chars",
            SoakKind::Refused => "refused ThreadControl",
            SoakKind::Outside => "request_pages outside",
        }
    }
}

/// Own pages `mode=soak` requests over and over.
pub const SOAK_PAGES: usize = 8;

/// `mode=soak`'s requests and the memory of first answers.
#[derive(Clone, Debug)]
pub struct Soak {
    /// The environment.
    pub env: Env,
    /// Guest-physical own pages (free, 4 KB).
    pub pages: [u32; SOAK_PAGES],
    first_b: [Option<Word>; SOAK_PAGES],
    first_start: Option<Word>,
}

impl Soak {
    /// A soak over `pages`.
    pub fn new(env: Env, pages: [u32; SOAK_PAGES]) -> Soak {
        Soak {
            env,
            pages,
            first_b: [None; SOAK_PAGES],
            first_start: None,
        }
    }

    fn page_index(i: u32) -> usize {
        (i as usize / SoakKind::ALL.len()) % SOAK_PAGES
    }

    /// Request number `i`.
    pub fn probe(&self, i: u32) -> Probe {
        let env = &self.env;
        let ids = env.ids;
        let (to, msg, accept, expect) = match SoakKind::of(i) {
            SoakKind::OwnPage => {
                let gp = self.pages[Soak::page_index(i)];
                (
                    ids.rm,
                    req::request_pages(gp, 12),
                    // The page's own guest-virtual address: the same frame
                    // the page-fault path maps there.
                    Acceptor {
                        window: Fpage::new(gp.wrapping_add(env.link_vaddr), 12, 7),
                        string: None,
                    },
                    Expect::Map {
                        send_base: gp,
                        log2: 12,
                    },
                )
            }
            SoakKind::SpaceId => (
                ids.rm,
                req::tid_to_space_id(ids.me),
                NONE,
                Expect::Word {
                    index: 1,
                    value: ids.own_slot(),
                },
            ),
            SoakKind::Locator => (
                ids.rm,
                req::query_interface(IVMCONTROL_GUID),
                NONE,
                Expect::Word {
                    index: 1,
                    value: ids.rm,
                },
            ),
            SoakKind::PhysRange => (
                env.vmctl,
                req::vmctl_phys_range(ids.own_slot()),
                NONE,
                Expect::Word {
                    index: 2,
                    value: env.phys_size,
                },
            ),
            SoakKind::GetChars => (
                ids.rm,
                req::get_chars(),
                NONE,
                // stream_t: raw in MR1-32, len in MR33.
                Expect::Word {
                    index: 33,
                    value: 0,
                },
            ),
            SoakKind::Refused => (
                ids.rm,
                req::delete_thread(ids.unused_monitor_thread()),
                NONE,
                Expect::NO_PRIVILEGE,
            ),
            SoakKind::Outside => (
                ids.rm,
                req::request_pages(env.phys_size, 12),
                env.window_acceptor(),
                Expect::NilMap,
            ),
        };
        Probe {
            what: SoakKind::of(i).name(),
            to,
            msg,
            accept,
            wait: Wait::Long,
            expect,
        }
    }

    /// Judge the answer to request `i`, remembering first answers: own
    /// pages must map the same frame (word B) every time, the own phys
    /// range must keep its start.
    pub fn judge(&mut self, i: u32, probe: &Probe, got: &Outcome) -> bool {
        if !probe.expect.judge(got) {
            return false;
        }
        let Outcome::Reply(m) = got else {
            return false;
        };
        match SoakKind::of(i) {
            SoakKind::OwnPage => map_item(m).is_some_and(|item| {
                let first = self.first_b[Soak::page_index(i)].get_or_insert(item.fpage.0);
                *first == item.fpage.0
            }),
            SoakKind::PhysRange => *self.first_start.get_or_insert(m.mr[1]) == m.mr[1],
            _ => true,
        }
    }
}

/// A guest-virtual page for receive windows, `k` pages below the page just
/// under the wedge window (which `mode=normal` uses as its alias page), if
/// it lies above the VM's guest-physical window.
pub fn scratch_page(k: u32, link_vaddr: u32, phys_size: u32) -> Option<u32> {
    let page = WEDGE_VADDR.checked_sub(k.checked_add(2)?.checked_mul(PAGE)?)?;
    let vm_end = link_vaddr.checked_add(phys_size)?;
    (page >= vm_end).then_some(page)
}

/// The device ranges of `devices` that are in use (not all zero).
fn listed(devices: &[Device]) -> impl Iterator<Item = &Device> {
    devices.iter().filter(|d| (d.low, d.high) != (0, 0))
}

/// The first 4 KB page above RAM: `devices[]`' terminator (the entry ending
/// at 0xFFFFFFFF) starts at the highest RAM address; `(low + 1)` rounded up
/// to 4 KB.
pub fn above_ram_page(devices: &[Device]) -> Option<u32> {
    let t = crate::checks::terminator(devices)?;
    let next = t.low.checked_add(1)?;
    let page = round_up(next, PAGE);
    (page >= next).then_some(page)
}

/// The lowest 4 KB page at or above `max(phys_size, 1 MB)` (outside the VM
/// and above the always-device first megabyte) that overlaps no range of
/// `devices`: request_device must refuse it with invalid_mem_region.
pub fn unlisted_page(devices: &[Device], phys_size: u32) -> Option<u32> {
    let mut page = round_up(phys_size.max(LOW_DEVICE_LIMIT), PAGE);
    loop {
        let end = page.checked_add(PAGE - 1)?;
        match listed(devices).find(|d| d.low <= end && page <= d.high) {
            None => return Some(page),
            Some(d) => {
                let next = d.high.checked_add(1)?;
                page = round_up(next, PAGE);
                if page < next {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    const MB: u32 = 1 << 20;
    /// UserBase 48, the monitor is thread 50 version 1; this VM is slot 2.
    const IDS: Ids = Ids {
        rm: (50 << 14) | 1,
        me: ((50 + 2 * 4096) << 14) | 2,
        space_start: 50 + 2 * 4096,
        user_base: 48,
    };
    const ENV: Env = Env {
        ids: IDS,
        vmctl: (50 << 14) | 1,
        phys_size: 16 * MB,
        link_vaddr: 0,
        kip_fpage: 0xBC00_90C0,
        utcb_fpage: 0xBC00_A0C0,
        window: 0xBBFF_E000,
        string_buffer: 0x10_0000,
        code_page: 0xBC00_0000,
        ip: 0xBC00_0000,
        victim_irq: Some(10),
    };
    /// Host base of each slot's memory in the model.
    const HOST: [u32; 3] = [0, 0x0100_0000, 0x0200_0000];
    const SIZES: [u32; 3] = [0, 24 * MB, 16 * MB];

    #[test]
    fn ids() {
        assert_eq!(IDS.base(), 50);
        assert_eq!(IDS.own_slot(), 2);
        assert_eq!(IDS.first(1), 0x40C_8002);
        assert_eq!(IDS.own_first(), IDS.me);
        assert!(IDS.in_own_range(IDS.own(4095)));
        assert!(!IDS.in_own_range(IDS.own(4096)));
        assert!(!IDS.in_own_range(IDS.first(1)));
        assert!(!IDS.in_own_range(IDS.rm));
        assert_eq!(IDS.sigma0(), (48 << 14) | 1);
        assert_eq!(irq_tid(10), (10 << 14) | 1);
    }

    fn reply(label: u16, words: &[Word], typed: usize) -> Outcome {
        Outcome::Reply(raw(label, words.len() - typed, typed, words))
    }

    #[test]
    fn judging() {
        let timeout = Outcome::Failed(3);
        let send_overflow = Outcome::Failed(4 << 1);
        assert!(Expect::NoReply.judge(&timeout));
        assert!(!Expect::NoReply.judge(&send_overflow));
        assert!(Expect::IpcError.judge(&send_overflow));
        assert!(!Expect::IpcError.judge(&reply(0, &[], 0)));
        assert!(Expect::NO_PRIVILEGE.judge(&reply(0x0602, &[], 0)));
        assert!(!Expect::NO_PRIVILEGE.judge(&reply(0x0702, &[], 0)));
        assert!(!Expect::NO_PRIVILEGE.judge(&reply(0x0602, &[1], 0)));
        assert!(!Expect::NO_PRIVILEGE.judge(&timeout));
        assert!(Expect::NilMap.judge(&reply(0, &[0x8, 0], 2)));
        assert!(!Expect::NilMap.judge(&reply(0, &[0x8, 0xB8C7], 2)));
        let map = Expect::Map {
            send_base: 0xB8000,
            log2: 12,
        };
        assert!(map.judge(&reply(0, &[0xB8008, 0x1FFE_00C7], 2)));
        assert!(!map.judge(&reply(0, &[0xB8008, 0x1FFE_00C5], 2)));
        assert!(!map.judge(&reply(0, &[0xB9008, 0x1FFE_00C7], 2)));
        assert!(!map.judge(&reply(0, &[0xB800A, 0x1FFE_00C7], 2)));
        assert!(!map.judge(&reply(0, &[0xB8008, 0], 2)));
        assert!(Expect::RESULT_1.judge(&reply(0, &[1], 0)));
        assert!(!Expect::RESULT_1.judge(&reply(0, &[0], 0)));
        assert!(!Expect::RESULT_1.judge(&reply(0x0602, &[1], 0)));
        assert!(Expect::Success.judge(&reply(0, &[5, 6], 0)));
        assert_eq!(
            std::format!("{}", reply(0x0602, &[], 0)),
            "reply label 0x0602 u 0 t 0"
        );
        assert_eq!(
            std::format!("{}", reply(0, &[0xB8008, 0x1FFE_00C7], 2)),
            "reply label 0x0000 u 0 t 2: 0xb8008 0x1ffe00c7"
        );
        assert_eq!(
            std::format!("{timeout}"),
            "IPC receive timeout (error code 0x3)"
        );
        assert_eq!(
            std::format!("{}", Expect::NO_PRIVILEGE),
            "exception reply label 0x0602"
        );
    }

    /// The isolation contract as a model: what the monitor answers.
    fn contract(p: &Probe) -> Outcome {
        let m = &p.msg;
        let tag = m.tag();
        let timeout = Outcome::Failed(3);
        if tag.typed() != 0 {
            return Outcome::Failed(4 << 1);
        }
        let exc = |n: u16| Outcome::Reply(raw(idl::exception_label(n), 0, 0, &[]));
        let ok = |words: &[Word]| Outcome::Reply(raw(0, words.len(), 0, words));
        let map = |base: Word, fp: Word| Outcome::Reply(raw(0, 0, 2, &[base | 8, fp]));
        let slot_of = |t: Word| {
            let n = thread_no(t).wrapping_sub(50);
            (n / 4096 < 3 && n / 4096 > 0).then_some(n / 4096)
        };
        let own = |t: Word| t == 0 || slot_of(t) == Some(2);
        let (label, u, w) = (tag.label(), tag.untyped(), &m.mr);
        if p.to == ENV.vmctl && (0x0200..=0x0205).contains(&label) {
            return match (label, u) {
                (0x0203, 1) if w[1] == 2 => ok(&[HOST[2], SIZES[2]]),
                (0x0203, 1) | (0x0204, 3) => exc(2),
                _ => timeout,
            };
        }
        match (label, u) {
            (0xFFA0, 2) => {
                let fp = Fpage(w[1]);
                let end = fp.base() as u64 + (1u64 << fp.size_log2());
                if fp.size_log2() > 22 || end > SIZES[2] as u64 {
                    map(0, 0)
                } else {
                    map(
                        fp.base(),
                        Fpage::new(HOST[2] + fp.base(), fp.size_log2(), 7).0,
                    )
                }
            }
            (0xFFE6, 2) if w[1] >= SIZES[2] => timeout,
            (0x0047, 7) if own(w[1]) && own(w[2]) && own(w[3]) => ok(&[1]),
            (0x0047, 7) | (0x0048, 5) => exc(6),
            (0x0049, 4) if thread_no(w[1]) == 10 => exc(6),
            (0x004A, 1) => exc(6),
            // Device memory below 1 MB: the VM's own page there.
            (0x0044, 2) if Fpage(w[1]).base() < 0x10_0000 => {
                let fp = Fpage(w[1]);
                map(fp.base(), Fpage::new(HOST[2] + fp.base(), 12, 7).0)
            }
            (0x0045, 2) => ok(&[0]),
            (0x0046, 2) => exc(3),
            (0x0001, 2) if w[1] >= 13 => exc(1),
            (0x0001, 2) if !own(w[2]) => exc(3),
            (0x0000, 1) if w[1] == 8 => ok(&[ENV.ids.rm, 0]),
            (0x0000, 1) => exc(2),
            (0x004F, 2) | (0x0050..=0x0051, 1) | (0x0052, 0) => exc(14),
            (0x0053, 1) | (0x0054, 2) | (0x0055, 1) => exc(14),
            (0x004B, 1) => match slot_of(w[1]) {
                Some(s) => ok(&[HOST[s as usize], SIZES[s as usize]]),
                None => exc(1),
            },
            (0x004E, 1) => ok(&[slot_of(w[1]).unwrap()]),
            (0x0081, 1) => Outcome::Reply(raw(0, 33, 0, &[0; 33])),
            _ => timeout,
        }
    }

    fn hostile() -> Vec<Probe> {
        let mut all = Vec::new();
        hostile_probes(&ENV, &mut |p| all.push(p));
        all
    }

    #[test]
    fn hostile_probes_pass_against_the_contract() {
        let all = hostile();
        assert_eq!(all.len(), 43);
        for p in &all {
            let got = contract(p);
            assert!(
                p.expect.judge(&got),
                "{}: got {got}, want {}",
                p.what,
                p.expect
            );
        }
        // Names are unique (they are the check names).
        for (i, p) in all.iter().enumerate() {
            assert!(all[..i].iter().all(|q| q.what != p.what), "{}", p.what);
        }
    }

    #[test]
    fn hostile_probes_are_harmless_if_executed() {
        for p in hostile() {
            let (tag, w) = (p.msg.tag(), &p.msg.mr);
            // ThreadControl deletions name only this VM's threads or
            // threads that do not exist (not slot 1's or the monitor's
            // first thread).
            if tag.label() == 0x0047 && tag.untyped() == 7 && w[2] == 0 {
                assert!(w[1] != IDS.first(1) && w[1] != IDS.rm, "{}", p.what);
            }
            // Expected replies never wait forever; no-reply probes are short.
            match p.expect {
                Expect::NoReply | Expect::IpcError => assert_eq!(p.wait, Wait::Short),
                _ => assert_eq!(p.wait, Wait::Long, "{}", p.what),
            }
        }
    }

    #[test]
    fn wire_shapes() {
        let all = hostile();
        let find = |what: &str| all.iter().find(|p| p.what == what).unwrap();
        let tc = find("ThreadControl create own thread");
        assert_eq!(tc.msg.words()[0], (0x0047 << 16) | 7);
        assert_eq!(
            &tc.msg.words()[1..],
            &[IDS.own(1), IDS.me, IDS.me, IDS.rm, 0xBC00_A000 + 512, !0, 0]
        );
        let pf = find("pagefault outside the VM");
        assert_eq!(pf.msg.words(), &[(0xFFE6 << 16) | 2, 16 * MB, 0xBC00_0000]);
        let rp = find("request_pages of 8 MB");
        assert_eq!(rp.msg.words(), &[0xFFA0 << 16 | 2, (23 << 4) | 7, 7]);
        let ai = find("AssociateInterrupt of slot 1's IRQ");
        assert_eq!(
            ai.msg.words(),
            &[(0x0049 << 16) | 4, irq_tid(10), IDS.me, 0xFF, 0]
        );
        let ri = find("register_interface for slot 1's thread");
        assert_eq!(ri.msg.words(), &[1 << 16 | 2, 3, IDS.first(1)]);
        let gb = find("IVMControl get_space_block slot 1");
        assert_eq!(gb.to, ENV.vmctl);
        assert_eq!(gb.msg.words(), &[(0x0204 << 16) | 3, 1, 0, 4096]);
        assert_eq!(gb.accept.string.unwrap().addr, 0x10_0000);
        let clone = find("clone_vm");
        assert_eq!(clone.msg.tag().label(), 0x004F);
        assert_eq!(clone.expect, Expect::Exception(14));
        let map = find("get_chars carrying a map item");
        assert_eq!(
            map.msg.words(),
            &[(0x0081 << 16) | (2 << 6) | 1, 0, 8, 0xBC00_00C4]
        );
        assert_eq!(
            req::driver_request(IDS.me, 0x10_0000).words(),
            &[0x7E00 << 16 | 2, IDS.me, 0x10_0000]
        );
        assert_eq!(req::driver_reply(true).words(), &[1, 1]);
        // Without a victim IRQ the two IRQ probes are left out.
        let env = Env {
            victim_irq: None,
            ..ENV
        };
        let mut n = 0;
        hostile_probes(&env, &mut |_| n += 1);
        assert_eq!(n, 41);
        assert_eq!(env.free_irq(), 10);
        assert_eq!(ENV.free_irq(), 11);
    }

    #[test]
    fn soak_cycles_and_remembers() {
        let pages = core::array::from_fn(|i| 0x10_0000 + 0x1000 * i as u32);
        let mut soak = Soak::new(ENV, pages);
        for i in 0..200 {
            let p = soak.probe(i);
            let got = contract(&p);
            assert!(soak.judge(i, &p, &got), "{i} {}: got {got}", p.what);
        }
        assert_eq!(SoakKind::of(0), SoakKind::OwnPage);
        assert_eq!(SoakKind::of(12), SoakKind::Refused);
        // A page that maps a different frame the second time is a mismatch.
        let p = soak.probe(7);
        assert_eq!(p.msg.words()[1], Fpage::new(0x10_1000, 12, 7).0);
        let moved = Outcome::Reply(raw(0, 0, 2, &[0x10_1008, Fpage::new(0x0300_0000, 12, 7).0]));
        assert!(p.expect.judge(&moved));
        assert!(!soak.judge(7, &p, &moved));
        // So is a phys range whose start changes.
        let p = soak.probe(3);
        assert!(!soak.judge(3, &p, &Outcome::Reply(raw(0, 2, 0, &[1, 16 * MB]))));
    }

    #[test]
    fn pages_for_devices_and_windows() {
        let dev = |low, high, kind| Device { low, high, kind };
        let mut devices = [Device::default(); 16];
        // A ddos VM with client DMA: its reserved range above its own
        // memory (phys_offset 32 MB, 16 MB), VGA, the terminator.
        devices[0] = dev(0x0300_0000, 0x1FFD_FFFF, 2);
        devices[1] = dev(0xA0000, 0xBFFFF, 4);
        devices[2] = dev(0xFFFC_0000, u32::MAX, 0xF);
        devices[4] = dev(0x1FFD_FFFF, u32::MAX, 0);
        assert_eq!(above_ram_page(&devices), Some(0x1FFE_0000));
        assert_eq!(unlisted_page(&devices, 16 * MB), Some(16 * MB));
        devices[3] = dev(0x100_0000, 0x2FF_FFFF, 2);
        assert_eq!(unlisted_page(&devices, 16 * MB), None);
        devices[2] = Device::default();
        devices[3] = dev(0x100_0000, 0x100_0800, 2);
        assert_eq!(unlisted_page(&devices, 16 * MB), Some(0x100_1000));
        assert_eq!(unlisted_page(&devices, 0), Some(0x10_0000));
        assert_eq!(above_ram_page(&[Device::default(); 4]), None);
        let exact = [dev(0x1FFF_FFFF, u32::MAX, 2)];
        assert_eq!(above_ram_page(&exact), Some(0x2000_0000));

        assert_eq!(scratch_page(0, 0, 16 * MB), Some(0xBBFF_E000));
        assert_eq!(scratch_page(3, 0, 16 * MB), Some(0xBBFF_B000));
        assert_eq!(scratch_page(0, 0xBB00_0000, 16 * MB), None);
        assert_eq!(scratch_page(u32::MAX, 0, 0), None);
    }
}
