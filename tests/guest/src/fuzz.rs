//! `mode=fuzz`: seeded random requests against the monitor, and the rules a
//! fuzzing guest can check about the answers itself (issue 16).
//!
//! [`Fuzzer::case`] generates request number `i` from a xorshift stream
//! ([`Rng`]): the firm-expectation requests of [`hostile_probes`], every
//! IDL operation with boundary and hostile arguments in both wire variants
//! (sometimes with a wrong word count), page faults with impossible
//! addresses and rights, other kernel-message labels, raw IPC with random
//! labels, word counts and typed items, send-only requests and calls with a
//! zero receive timeout (abandoned). [`Fuzzer::judge`] applies the rules:
//! a hostile probe's expectation holds; a map item never grants and never
//! names memory outside the own VM (and the runtime then compares the page
//! it received with the pattern it wrote there, [`MapCheck`]); a thread,
//! space or interrupt operation naming another VM's or the monitor's
//! threads never succeeds; IVMControl never answers for another slot; the
//! monitor's replies are success or exception replies only.

use crate::ipc::{iconsole, ilocator, ilogging, iresourcemon, ivmcontrol};
use crate::probe::{hostile_probes, irq_tid, map_item, raw, Env, Expect, Outcome, Probe, Wait};
use crate::{page_word, PAGE, WEDGE_VADDR};
use idl::{Acceptor, Fpage, MapItem, Message, StringItem, Tag, ThreadId, Variant, Word};

/// A xorshift64* stream: small, fast, deterministic.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rng(u64);

impl Rng {
    /// The stream of `seed` (any value, 0 included).
    pub fn new(seed: u32) -> Rng {
        Rng(((seed as u64) << 32 | 0x9e37_79b9) ^ 0x2545_f491_4f6c_dd1d)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        ((self.next_u32() as u64 * n as u64) >> 32) as u32
    }

    /// True once in `n`.
    pub fn one_in(&mut self, n: u32) -> bool {
        self.below(n) == 0
    }

    /// One of `xs` (not empty).
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u32) as usize]
    }
}

/// How many pages the fuzzer marks with its pattern ([`Fuzzer::marked`]).
pub const MARKED: usize = 8;
/// Label of the "storm over" message a fuzzer sends the victim.
pub const DONE_LABEL: u16 = 0x7E01;
/// Receive timeout of a request that may be answered (virtual µs): a reply
/// takes microseconds; a later one is dropped by the monitor (send
/// timeout zero), so a short wait never misjudges, it only gives up.
pub const FUZZ_WAIT_US: u64 = 2_000;
/// Send timeout towards the monitor.
pub const FUZZ_SEND_US: u64 = 20_000;
/// Send timeout towards threads that may not listen (the monitor's helpers).
pub const FUZZ_SEND_OTHER_US: u64 = 2_000;
/// The salt of the marked pages' pattern ([`page_word`]).
pub const MARK_SALT: u32 = 0xF022_5EED;

/// What kind of request a case is (counted per kind).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// A request of [`hostile_probes`] with its firm expectation.
    Probe,
    /// An IDL operation with generated arguments.
    Op,
    /// A page-fault message.
    Fault,
    /// request_pages aimed at the own (marked) pages and their boundaries.
    Pages,
    /// Another kernel-message label (0xFFxx).
    Kernel,
    /// Random label, word count and typed items.
    Raw,
}

impl Kind {
    /// Every kind, in counting order.
    pub const ALL: [Kind; 6] = [
        Kind::Probe,
        Kind::Op,
        Kind::Fault,
        Kind::Pages,
        Kind::Kernel,
        Kind::Raw,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Probe => "probe",
            Kind::Op => "op",
            Kind::Fault => "fault",
            Kind::Pages => "pages",
            Kind::Kernel => "kernel",
            Kind::Raw => "raw",
        }
    }
}

/// An extra rule a generated request carries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rule {
    /// Only the general rules.
    None,
    /// The answer must be this (a hostile probe).
    Expect(Expect),
    /// Names another VM's or the monitor's thread, or another slot: the
    /// answer must not be a success reply.
    NoSuccess,
}

/// How the send base of a map item in the answer is read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Space {
    /// Guest-physical (request_pages and the other memory operations).
    Phys,
    /// Guest-virtual (page faults).
    Virt,
    /// A device address (request_device): below the VM's size its own RAM
    /// page, above it the VM's zeroed stand-in page (a VM without `ddos`).
    Device,
}

/// One generated request.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Case {
    /// Its kind.
    pub kind: Kind,
    /// The server.
    pub to: Word,
    /// The request.
    pub msg: Message,
    /// BR0 and string buffer.
    pub accept: Acceptor,
    /// Send timeout (µs).
    pub send_us: u64,
    /// Receive timeout (µs); `None`: send-only; `Some(0)`: abandoned call.
    pub receive_us: Option<u64>,
    /// The extra rule.
    pub rule: Rule,
    /// How a map item's send base is read.
    pub space: Space,
}

/// What came back, by outcome (counted).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Got {
    /// A success reply.
    Reply,
    /// An exception reply.
    Exception,
    /// No reply (receive timeout; abandoned calls included).
    NoReply,
    /// Any other IPC error (send phase, typed items refused, ...).
    IpcError,
    /// A send-only request went out.
    Sent,
}

impl Got {
    /// Every outcome, in counting order.
    pub const ALL: [Got; 5] = [
        Got::Reply,
        Got::Exception,
        Got::NoReply,
        Got::IpcError,
        Got::Sent,
    ];

    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Got::Reply => "reply",
            Got::Exception => "exception",
            Got::NoReply => "no-reply",
            Got::IpcError => "ipc-error",
            Got::Sent => "sent",
        }
    }

    /// The outcome of a call (`None`: a send-only request that went out).
    pub fn of(got: Option<&Outcome>) -> Got {
        match got {
            None => Got::Sent,
            Some(Outcome::Failed(code)) => {
                if crate::probe::IpcCode(*code).is_receive_timeout() {
                    Got::NoReply
                } else {
                    Got::IpcError
                }
            }
            Some(Outcome::Reply(m)) if m.tag().is_success_reply() => Got::Reply,
            Some(Outcome::Reply(_)) => Got::Exception,
        }
    }
}

/// A page the runtime must compare after a map item arrived in the window.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapCheck {
    /// Nothing to compare (nil item, no window, or memory the fuzzer did
    /// not mark: only its range was checked).
    None,
    /// The window must hold the pattern of marked guest-physical page `gp`.
    Marked(u32),
    /// The window must read like the own image page at guest-virtual `gv`.
    Image(u32),
    /// The window must read as zeros (the VM's device stand-in page, which
    /// the fuzzer never writes).
    Zero,
}

/// A broken rule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Broken {
    /// A hostile probe's expectation did not hold.
    Expectation(Expect),
    /// A map item grants.
    Grant,
    /// A map item names memory outside the own VM: send base and fpage.
    Outside(Word, Word),
    /// A success for another VM's or the monitor's thread or slot.
    Success,
    /// A reply whose label is neither 0 nor an exception.
    Label(u16),
    /// The mapped page does not read as the own page: offset, got, want.
    Content(u32, u32, u32),
}

impl core::fmt::Display for Broken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Broken::Expectation(e) => write!(f, "want {e}"),
            Broken::Grant => f.write_str("a grant item"),
            Broken::Outside(a, b) => write!(
                f,
                "a map item outside the own VM (send base {a:#x}, fpage {b:#x})"
            ),
            Broken::Success => f.write_str("success for another VM's or the monitor's thread"),
            Broken::Label(l) => write!(f, "a reply with label {l:#06x}"),
            Broken::Content(at, got, want) => write!(
                f,
                "the mapped page reads {got:#x} at offset {at:#x}, the own page {want:#x}"
            ),
        }
    }
}

/// How the answer's send base is read, from the label the monitor goes
/// by: a page-fault label (0xFFE0..=0xFFEF) is answered in guest-virtual
/// terms whichever generator made it (a kernel-label or raw case may hit
/// it: seed 0x1234, request 220,070, was one), everything else in
/// guest-physical terms.
pub fn space_of(msg: &Message) -> Space {
    if msg.tag().label() & 0xfff0 == 0xffe0 {
        Space::Virt
    } else {
        Space::Phys
    }
}

/// The word the fuzzer writes at guest-physical `addr` of a marked page.
pub fn mark_word(addr: u32) -> u32 {
    page_word(addr, MARK_SALT)
}

/// The generator and judge of one fuzzing guest.
#[derive(Clone, Debug)]
pub struct Fuzzer {
    /// The environment (ids, layout, scratch window).
    pub env: Env,
    /// The stream.
    pub rng: Rng,
    /// Guest-physical pages holding [`mark_word`] in every word.
    pub marked: [u32; MARKED],
    /// End of the own image (guest-virtual).
    pub image_end: u32,
    /// End of the wedge window (guest-virtual): own memory from
    /// `wedgeinstall` up is mapped at [`WEDGE_VADDR`].
    pub wedge_end: u32,
    /// How many hostile probes there are.
    probes: u32,
}

const A: Variant = Variant::A;
const B: Variant = Variant::B;

impl Fuzzer {
    /// A fuzzer over `env` seeded with `seed`.
    pub fn new(
        env: Env,
        seed: u32,
        marked: [u32; MARKED],
        image_end: u32,
        wedge_end: u32,
    ) -> Fuzzer {
        let mut probes = 0;
        hostile_probes(&env, &mut |_| probes += 1);
        Fuzzer {
            env,
            rng: Rng::new(seed),
            marked,
            image_end,
            wedge_end,
            probes,
        }
    }

    fn word(&mut self) -> Word {
        let e = self.env;
        let special = [
            0,
            1,
            2,
            !0,
            0x7fff_ffff,
            0x8000_0000,
            e.phys_size,
            e.phys_size - 1,
            e.phys_size.wrapping_add(PAGE),
            PAGE,
            PAGE - 1,
            0xffff_f000,
            WEDGE_VADDR,
            255,
            256,
            13,
            16,
        ];
        if self.rng.one_in(3) {
            self.rng.next_u32()
        } else {
            self.rng.pick(&special)
        }
    }

    /// A thread id: own (never the running thread), other VMs', the
    /// monitor's and its helpers', sigma0, nil, any, random.
    fn tid(&mut self) -> Word {
        let ids = self.env.ids;
        let k = 1 + self.rng.below(6);
        let slot = self.rng.below(5);
        match self.rng.below(12) {
            0 | 1 => ids.own(k),
            2 => ids.first(slot),
            3 => ids.first(slot) + (k << 14),
            4 => ids.rm,
            5 => ids.rm + (1 << 14),
            6 => ids.rm + (2 << 14),
            7 => ids.sigma0(),
            8 => 0,
            9 => !0,
            10 => ids.unused_monitor_thread(),
            _ => self.rng.next_u32(),
        }
    }

    fn foreign(&self, t: Word) -> bool {
        t != 0 && !self.env.ids.in_own_range(t)
    }

    /// An fpage of any size and alignment, sometimes a marked own page.
    fn fpage(&mut self) -> Fpage {
        if self.rng.one_in(4) {
            let gp = self.rng.pick(&self.marked);
            return Fpage::new(gp, 12, Fpage::RWX);
        }
        let base = match self.rng.below(4) {
            0 => self.rng.next_u32(),
            1 => self.rng.below(self.env.phys_size.max(1)),
            2 => self.env.phys_size,
            _ => self.word(),
        };
        let log2 = self.rng.below(64);
        Fpage((base & !0x3ff) | (log2 << 4) | self.rng.below(8))
    }

    fn irq(&mut self) -> Word {
        let n = self
            .rng
            .pick(&[0, 1, 4, 10, 11, 15, 16, 23, 24, 255, 256, 0x3ffff]);
        if self.rng.one_in(8) {
            self.rng.next_u32()
        } else {
            irq_tid(n)
        }
    }

    fn window(&self) -> Acceptor {
        self.env.window_acceptor()
    }

    /// Request number `i` (each call advances the stream).
    pub fn case(&mut self) -> Case {
        let mut c = match self.rng.below(16) {
            0 | 1 => self.probe_case(),
            2..=7 => self.op_case(),
            8 | 9 => self.fault_case(),
            10 | 11 => self.pages_case(),
            12 => self.kernel_case(),
            _ => self.raw_case(),
        };
        // Abandoned calls and send-only requests, now and then.
        if c.kind != Kind::Probe {
            match self.rng.below(16) {
                0 => c.receive_us = None,
                1 => c.receive_us = Some(0),
                _ => {}
            }
        }
        c
    }

    fn base(&self, kind: Kind, msg: Message, accept: Acceptor, rule: Rule) -> Case {
        Case {
            kind,
            to: self.env.ids.rm,
            space: space_of(&msg),
            msg,
            accept,
            send_us: FUZZ_SEND_US,
            receive_us: Some(FUZZ_WAIT_US),
            rule,
        }
    }

    fn probe_case(&mut self) -> Case {
        let want = self.rng.below(self.probes.max(1));
        let mut n = 0;
        let mut found: Option<Probe> = None;
        hostile_probes(&self.env, &mut |p| {
            if n == want {
                found = Some(p);
            }
            n += 1;
        });
        let p = found.expect("index below the probe count");
        let receive = match p.wait {
            Wait::Short => FUZZ_WAIT_US,
            _ => p.wait.micros().1,
        };
        // The own-thread pair succeeds only while the fuzzer's own
        // ThreadControl calls left that thread and UTCB slot free.
        // So does the refusal to deassociate the free IRQ (the fuzzer may
        // have claimed it).
        let free_irq = p.msg.tag().label() == 0x004A && p.msg.mr[1] == irq_tid(self.env.free_irq());
        let rule = if p.expect == Expect::RESULT_1 || free_irq {
            Rule::None
        } else {
            Rule::Expect(p.expect)
        };
        Case {
            kind: Kind::Probe,
            to: p.to,
            space: space_of(&p.msg),
            msg: p.msg,
            accept: p.accept,
            send_us: FUZZ_SEND_US,
            receive_us: Some(receive),
            rule,
        }
    }

    fn op_case(&mut self) -> Case {
        let v = if self.rng.one_in(2) { A } else { B };
        let mut m = Message::new();
        let mut rule = Rule::None;
        let mut accept = crate::probe::NONE;
        let mut device = false;
        let mut to = self.env.ids.rm;
        let w = self.word();
        let op = self.rng.below(33);
        match op {
            0 => ilocator::encode_query_interface(&mut m, v, w),
            1 => {
                let t = self.tid();
                if self.foreign(t) && (w as usize) < 13 {
                    rule = Rule::NoSuccess;
                }
                ilocator::encode_register_interface(&mut m, v, w, ThreadId(t));
            }
            2 => {
                let mut s = iconsole::Stream {
                    raw: [b'~'; 128],
                    len: 0,
                };
                s.len = self.rng.pick(&[0, 1, 127, 128, 129, !0]);
                if s.len > 4 {
                    s.raw[4..].fill(b'.');
                }
                iconsole::encode_put_chars(&mut m, v, w, &s);
                if self.rng.below(4) != 0 {
                    // Mostly the harmless empty stream.
                    m.mr[33] = 0;
                }
            }
            3 => iconsole::encode_get_chars(&mut m, v, w),
            4 => {
                accept = self.window();
                ilogging::encode_request_log_control_regs(&mut m, v, w);
            }
            5 => {
                accept = self.window();
                ilogging::encode_request_logfiles(&mut m, v, w);
            }
            6..=11 => {
                to = self.env.vmctl;
                let slot = self.rng.below(20);
                let own = slot == self.env.ids.own_slot();
                let w2 = self.word();
                match op {
                    6 => ivmcontrol::encode_start_working_set_scan(&mut m, v, w, w2, slot),
                    7 => ivmcontrol::encode_start_active_page_scan(&mut m, v, w, slot),
                    8 => ivmcontrol::encode_set_memballoon(&mut m, v, w, slot),
                    9 => ivmcontrol::encode_get_space_phys_range(&mut m, v, slot),
                    10 => {
                        accept = self.env.string_acceptor();
                        ivmcontrol::encode_get_space_block(&mut m, v, slot, w, w2)
                    }
                    _ => ivmcontrol::encode_start_perfmon_scan(&mut m, v, w, w2),
                }
                if !own && (op == 9 || op == 10) {
                    rule = Rule::NoSuccess;
                }
            }
            12 => iresourcemon::encode_register_pdirptr(&mut m, v, w),
            13 => iresourcemon::encode_client_init_complete(&mut m, v),
            14 | 15 => {
                accept = self.window();
                let fp = self.fpage();
                let attr = self.word();
                if op == 14 {
                    device = true;
                    iresourcemon::encode_request_device(&mut m, v, fp, attr)
                } else {
                    iresourcemon::encode_unmap_device(&mut m, v, fp, attr)
                }
            }
            16 => {
                accept = self.window();
                let (t, fp) = (self.tid(), self.fpage());
                iresourcemon::encode_request_client_pages(&mut m, v, ThreadId(t), fp);
            }
            17 => {
                let ids = self.env.ids;
                // Never the running thread, never a thread in the own
                // space but thread 1..6 (kernel memory stays bounded).
                let mut dest = self.tid();
                let k = crate::checks::thread_no(dest).wrapping_sub(ids.space_start);
                if ids.in_own_range(dest) && !(1..7).contains(&k) {
                    dest = ids.own(1 + self.rng.below(6));
                }
                let (space, sched, pager) = (self.tid(), self.tid(), self.tid());
                let utcb = self.word();
                let prio = self.rng.pick(&[!0, 0, 1, 255, 256]);
                let cpu = self.rng.pick(&[0, 1, !0]);
                if self.foreign(dest) || self.foreign(space) {
                    rule = Rule::NoSuccess;
                }
                let t = ThreadId;
                iresourcemon::encode_thread_control(
                    &mut m,
                    v,
                    t(dest),
                    t(space),
                    t(sched),
                    t(pager),
                    utcb,
                    prio,
                    cpu,
                );
            }
            18 => {
                let (space, mut redir) = (self.tid(), self.tid());
                let (kip, utcb) = (self.fpage(), self.fpage());
                if self.foreign(space) {
                    rule = Rule::NoSuccess;
                } else {
                    // A redirector on the own space would take the
                    // fuzzer's own IPC away.
                    redir = 0;
                }
                iresourcemon::encode_space_control(
                    &mut m,
                    v,
                    ThreadId(space),
                    w,
                    kip,
                    utcb,
                    ThreadId(redir),
                );
            }
            19 => {
                let irq = self.irq();
                let handler = self.tid();
                if self.foreign(handler) {
                    rule = Rule::NoSuccess;
                }
                let prio = self.rng.pick(&[255, 0, 1, 256, !0]);
                let cpu = self.rng.pick(&[0, 1, !0]);
                iresourcemon::encode_associate_interrupt(
                    &mut m,
                    v,
                    ThreadId(irq),
                    ThreadId(handler),
                    prio,
                    cpu,
                );
            }
            20 => {
                let irq = self.irq();
                iresourcemon::encode_deassociate_interrupt(&mut m, v, ThreadId(irq));
            }
            21 => {
                let t = self.tid();
                iresourcemon::encode_get_client_phys_range(&mut m, v, ThreadId(t));
            }
            22 => iresourcemon::encode_get_space_phys_range(&mut m, v, w),
            23 => {
                // Only the current offset: another one would move the own
                // memory under the fuzzer.
                iresourcemon::encode_set_virtual_offset(&mut m, v, self.env.link_vaddr)
            }
            24 => {
                let t = self.tid();
                iresourcemon::encode_tid_to_space_id(&mut m, v, ThreadId(t));
            }
            25 => {
                let t = self.tid();
                iresourcemon::encode_clone_vm(&mut m, v, ThreadId(t), w);
            }
            26 => {
                accept = self.window();
                iresourcemon::encode_get_vm_space(&mut m, v, w)
            }
            27 => {
                accept = self.window();
                iresourcemon::encode_vm_info(&mut m, v, w)
            }
            28 => iresourcemon::encode_allocate_vm(&mut m, v),
            29 => iresourcemon::encode_delete_vm(&mut m, v, w),
            30 => {
                let w2 = self.word();
                iresourcemon::encode_set_vm_space(&mut m, v, w, w2)
            }
            31 => iresourcemon::encode_resume_vm(&mut m, v, w),
            _ => {
                accept = self.window();
                let (fp, attr) = (self.fpage(), self.word());
                iresourcemon::encode_request_pages(&mut m, v, fp, attr);
            }
        }
        // Now and then the wrong word count (or one flipped word).
        if self.rng.one_in(8) {
            let t = m.tag();
            let u = self.rng.below(64) as usize;
            m.set_tag(Tag::new(t.label(), u, 0));
            for w in m.mr[t.untyped() + 1..=u.max(t.untyped())].iter_mut() {
                *w = self.rng.next_u32();
            }
            rule = match rule {
                Rule::NoSuccess => Rule::NoSuccess,
                _ => Rule::None,
            };
        }
        let mut c = self.base(Kind::Op, m, accept, rule);
        if to != self.env.ids.rm {
            c.to = to;
        }
        if device && c.space == Space::Phys {
            c.space = Space::Device;
        }
        c
    }

    fn fault_addr(&mut self) -> Word {
        let e = self.env;
        match self.rng.below(8) {
            0 => e.link_vaddr + self.rng.pick(&self.marked) + self.rng.below(PAGE),
            1 => e.outside_gvaddr() + self.rng.below(4) * PAGE,
            2 => e.link_vaddr.wrapping_sub(1 + self.rng.below(PAGE)),
            3 => WEDGE_VADDR + self.rng.below(self.image_end - WEDGE_VADDR),
            4 => self.image_end + self.rng.below(4) * PAGE,
            5 => self
                .rng
                .pick(&[0, 0xc000_0000, 0xffff_ffff, 0xffff_f000, 0xbfff_f000]),
            _ => self.rng.next_u32(),
        }
    }

    fn fault_case(&mut self) -> Case {
        let addr = self.fault_addr();
        let ip = self.word();
        let rights = self.rng.below(8);
        let mut m = Message::new();
        iresourcemon::encode_pagefault(&mut m, A, addr, ip, rights);
        if self.rng.one_in(8) {
            let u = self.rng.below(64) as usize;
            m.set_tag(Tag::new(0xffe0 | rights as u16, u, 0));
        }
        self.base(Kind::Fault, m, self.window(), Rule::None)
    }

    fn pages_case(&mut self) -> Case {
        let e = self.env;
        let gp = self.rng.pick(&self.marked);
        let fp = match self.rng.below(6) {
            0 | 1 => Fpage::new(gp, 12, self.rng.below(8)),
            2 => Fpage::new(e.phys_size - PAGE, 12, 7),
            3 => Fpage::new(e.phys_size, 12, 7),
            4 => Fpage::new(0, 12 + self.rng.below(21), 7),
            _ => Fpage::new(gp & !((1 << 16) - 1), 16, 7),
        };
        let mut m = Message::new();
        let v = if self.rng.one_in(2) { A } else { B };
        iresourcemon::encode_request_pages(&mut m, v, fp, self.word());
        self.base(Kind::Pages, m, self.window(), Rule::None)
    }

    fn kernel_case(&mut self) -> Case {
        // startup 0, interrupt 1, preemption 3, sysexc 4, archexc 5,
        // sigma0 6, iopagefault 8, and any other low byte.
        let low = if self.rng.one_in(2) {
            self.rng
                .pick(&[0x00, 0xf0, 0xd0, 0xc0, 0xb0, 0xa0, 0xa1, 0xa7, 0x80, 0x90])
        } else {
            self.rng.below(256)
        };
        let label = 0xff00 | low as u16;
        let u = self.rng.below(8) as usize;
        let words = [
            self.word(),
            self.word(),
            self.word(),
            self.word(),
            0,
            0,
            0,
            0,
        ];
        let m = raw(label, u, 0, &words);
        self.base(Kind::Kernel, m, self.window(), Rule::None)
    }

    fn raw_case(&mut self) -> Case {
        let mut label = self.rng.next_u32() as u16;
        if self.rng.one_in(2) {
            // Near the real labels: interface 0..15, function 0..63.
            label = (self.rng.below(16) << 6 | self.rng.below(64)) as u16;
        }
        // Never set_virtual_offset (0x004D, however the index is masked).
        if label & 0x1f == 0x0d && (label >> 6) & 0xf == 1 {
            label ^= 1;
        }
        let mut u = self.rng.below(64) as usize;
        // Never an exception message (label 0xFFB0, 12 words): the monitor
        // takes it for the VM's death (issue 14), and the fuzzer must live.
        if label == 0xffb0 && u == 12 {
            u = 11;
        }
        let mut m = Message::new();
        for w in m.mr[1..=u].iter_mut() {
            *w = self.word();
        }
        let mut t = 0;
        let items = self.rng.below(4);
        if items > 0 && u < 60 {
            let at = u + 1;
            let (a, b) = match items {
                1 => {
                    let item = MapItem::map(0, Fpage::new(self.env.code_page, 12, Fpage::R));
                    (item.word_a(), item.fpage.0)
                }
                2 => {
                    let s = StringItem {
                        addr: self.env.code_page,
                        len: self.rng.below(2 * PAGE),
                    };
                    (s.word_a(), s.addr)
                }
                _ => (self.rng.next_u32(), self.rng.next_u32()),
            };
            m.mr[at] = a;
            m.mr[at + 1] = b;
            t = 2;
        }
        m.set_tag(Tag::new(label, u, t));
        let accept = if self.rng.one_in(2) {
            self.window()
        } else {
            crate::probe::NONE
        };
        self.base(Kind::Raw, m, accept, Rule::None)
    }

    /// Judge the answer to `c` (`None`: a send-only request went out):
    /// a broken rule, or the page the runtime must compare.
    pub fn judge(&self, c: &Case, got: Option<&Outcome>) -> Result<MapCheck, Broken> {
        if let Rule::Expect(e) = c.rule {
            if let Some(got) = got {
                if !e.judge(got) {
                    return Err(Broken::Expectation(e));
                }
            }
        }
        let Some(Outcome::Reply(m)) = got else {
            return Ok(MapCheck::None);
        };
        let tag = m.tag();
        if !tag.is_success_reply() {
            let exception = tag.untyped() == 0 && tag.typed() == 0 && tag.label() & 0xff == 2;
            return if exception {
                Ok(MapCheck::None)
            } else {
                Err(Broken::Label(tag.label()))
            };
        }
        if c.rule == Rule::NoSuccess {
            return Err(Broken::Success);
        }
        let Some(item) = map_item(m) else {
            return Ok(MapCheck::None);
        };
        if item.grant {
            return Err(Broken::Grant);
        }
        if item.fpage.is_nil() {
            return Ok(MapCheck::None);
        }
        let (sb, log2) = (item.send_base, item.fpage.size_log2());
        let outside = Err(Broken::Outside(sb, item.fpage.0));
        if log2 > 22 {
            return outside;
        }
        // The part of the fpage the 4 KB window receives (send base mod
        // size, rounded down to the window) lies at the send base's page.
        let page = sb & !(PAGE - 1);
        let e = &self.env;
        match c.space {
            Space::Phys => {
                let size = 1u64 << log2;
                let start = (sb as u64) & !(size - 1);
                if start + size > e.phys_size as u64 {
                    return outside;
                }
                if c.accept.window.is_nil() {
                    return Ok(MapCheck::None);
                }
                Ok(if self.marked.contains(&page) {
                    MapCheck::Marked(page)
                } else {
                    MapCheck::None
                })
            }
            Space::Device => {
                if log2 != 12 {
                    return outside;
                }
                if c.accept.window.is_nil() {
                    return Ok(MapCheck::None);
                }
                Ok(if page >= e.phys_size {
                    MapCheck::Zero
                } else if self.marked.contains(&page) {
                    MapCheck::Marked(page)
                } else {
                    MapCheck::None
                })
            }
            Space::Virt => {
                if log2 != 12 {
                    return outside;
                }
                let gp = page.wrapping_sub(e.link_vaddr);
                if gp < e.phys_size {
                    Ok(if self.marked.contains(&gp) && !c.accept.window.is_nil() {
                        MapCheck::Marked(gp)
                    } else {
                        MapCheck::None
                    })
                } else if (WEDGE_VADDR..self.wedge_end).contains(&page) {
                    // The kernel's KIP and UTCB areas cover image pages:
                    // the own read sees the kernel's page, not the frame.
                    let area = |fp: Word| {
                        let fp = Fpage(fp);
                        let size = 1u64 << fp.size_log2().min(32);
                        (page as u64).wrapping_sub(fp.base() as u64) < size
                    };
                    let covered = area(e.kip_fpage) || area(e.utcb_fpage);
                    Ok(
                        if c.accept.window.is_nil() || page >= self.image_end || covered {
                            MapCheck::None
                        } else {
                            MapCheck::Image(page)
                        },
                    )
                } else {
                    outside
                }
            }
        }
    }
}

/// Counts per kind and outcome.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Counts {
    /// By [`Got`] (index in [`Got::ALL`]).
    pub got: [u32; 5],
    /// By [`Kind`] (index in [`Kind::ALL`]).
    pub kind: [u32; 6],
    /// Map items that arrived (not nil).
    pub maps: u32,
    /// Of those, pages compared with their pattern or the image.
    pub compared: u32,
}

impl Counts {
    /// Count one request.
    pub fn add(&mut self, c: &Case, got: Got) {
        let k = Kind::ALL.iter().position(|k| *k == c.kind).unwrap_or(0);
        self.kind[k] += 1;
        let g = Got::ALL.iter().position(|x| *x == got).unwrap_or(0);
        self.got[g] += 1;
    }
}

impl core::fmt::Display for Counts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (g, n) in Got::ALL.iter().zip(self.got) {
            write!(f, "{}={n} ", g.name())?;
        }
        write!(f, "maps={} compared={}", self.maps, self.compared)?;
        for (k, n) in Kind::ALL.iter().zip(self.kind) {
            write!(f, " {}={n}", k.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Ids;

    fn env() -> Env {
        Env {
            ids: Ids {
                rm: crate::probe::tid(50, 1),
                me: crate::probe::tid(50 + 2 * 4096, 2),
                space_start: 50 + 2 * 4096,
                user_base: 48,
            },
            vmctl: crate::probe::tid(50, 1),
            phys_size: 16 << 20,
            link_vaddr: 0,
            kip_fpage: 0,
            utcb_fpage: 0,
            window: 0xbbff_c000,
            string_buffer: 0x20_0000,
            code_page: WEDGE_VADDR,
            ip: WEDGE_VADDR + 0x100,
            victim_irq: Some(10),
        }
    }

    fn fuzzer(seed: u32) -> Fuzzer {
        let marked = core::array::from_fn(|k| 0x30_0000 + k as u32 * PAGE);
        Fuzzer::new(
            env(),
            seed,
            marked,
            WEDGE_VADDR + 0x10_0000,
            WEDGE_VADDR + (8 << 20),
        )
    }

    #[test]
    fn rng_is_deterministic_and_spread() {
        let (mut a, mut b) = (Rng::new(0x1234), Rng::new(0x1234));
        let mut seen = [0u32; 16];
        for _ in 0..16_000 {
            let x = a.next_u32();
            assert_eq!(x, b.next_u32());
            seen[(x >> 28) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_ne!(Rng::new(1).next_u32(), Rng::new(2).next_u32());
        let mut z = Rng::new(0);
        assert!((0..100).any(|_| z.next_u32() != 0));
        assert!((0..1000).all(|_| z.below(7) < 7));
    }

    #[test]
    fn same_seed_same_requests() {
        let (mut a, mut b) = (fuzzer(7), fuzzer(7));
        for _ in 0..2000 {
            assert_eq!(a.case(), b.case());
        }
    }

    #[test]
    fn every_kind_and_every_label_family_is_generated() {
        let mut f = fuzzer(0x1234);
        let mut kinds = [0u32; 6];
        let mut labels = std::collections::BTreeSet::new();
        let (mut send_only, mut abandoned, mut variant_b, mut typed) = (0, 0, 0, 0);
        for _ in 0..20_000 {
            let c = f.case();
            kinds[Kind::ALL.iter().position(|k| *k == c.kind).unwrap()] += 1;
            let t = c.msg.tag();
            labels.insert(t.label());
            // Every request is bounded (no "never" receive).
            assert!(c.receive_us.is_none_or(|r| r <= crate::probe::LONG_WAIT_US));
            match c.receive_us {
                None => send_only += 1,
                Some(0) => abandoned += 1,
                _ => {}
            }
            if t.label() == 0x0047 && t.untyped() == 11 {
                variant_b += 1;
            }
            if t.typed() > 0 {
                typed += 1;
            }
            // The running thread is never modified.
            if t.label() == 0x0047 && t.untyped() >= 7 {
                assert_ne!(thread_of(c.msg.mr[1]), thread_of(f.env.ids.me));
            }
            // set_virtual_offset (however masked) only with the own offset.
            if t.label() & 0x1f == 0x0d && (t.label() >> 6) & 0xf == 1 {
                assert!(t.label() == 0x004D && c.msg.mr[1] == f.env.link_vaddr);
            }
        }
        assert!(kinds.iter().all(|&n| n > 500), "{kinds:?}");
        for l in [
            0x0000, 0x0001, 0x0080, 0x0081, 0x0240, 0x0241, 0x0200, 0x0204,
        ] {
            assert!(labels.contains(&l), "label {l:#x}");
        }
        for l in (0x0041..=0x0055u16).filter(|l| *l != 0x0043) {
            assert!(labels.contains(&l), "label {l:#x}");
        }
        assert!(labels.contains(&0xffe0) && labels.contains(&0xffe7) && labels.contains(&0xffa0));
        assert!(send_only > 100 && abandoned > 100 && variant_b > 10 && typed > 100);
    }

    fn thread_of(t: Word) -> Word {
        t >> 14
    }

    fn reply(words: &[Word]) -> Outcome {
        let mut m = Message::new();
        m.mr[..words.len()].copy_from_slice(words);
        Outcome::Reply(m)
    }

    fn case(space: Space, rule: Rule) -> Case {
        let f = fuzzer(1);
        let mut c = f.base(Kind::Pages, Message::new(), f.window(), rule);
        c.space = space;
        c
    }

    #[test]
    fn map_items_inside_the_vm_only() {
        let f = fuzzer(1);
        let item = |sb: Word, fp: Fpage| reply(&[Tag::new(0, 0, 2).0, sb | 8, fp.0]);
        let phys = case(Space::Phys, Rule::None);
        let marked = f.marked[3];
        let got = item(marked, Fpage::new(0x1234_5000, 12, 7));
        assert_eq!(f.judge(&phys, Some(&got)), Ok(MapCheck::Marked(marked)));
        let got = item(0x10_0000, Fpage::new(0x1234_5000, 12, 7));
        assert_eq!(f.judge(&phys, Some(&got)), Ok(MapCheck::None));
        let got = item(16 << 20, Fpage::new(0x1234_5000, 12, 7));
        assert!(matches!(
            f.judge(&phys, Some(&got)),
            Err(Broken::Outside(..))
        ));
        let got = item(0, Fpage::new(0, 25, 7));
        assert!(matches!(
            f.judge(&phys, Some(&got)),
            Err(Broken::Outside(..))
        ));
        let got = reply(&[Tag::new(0, 0, 2).0, marked | 0xa, Fpage::new(0, 12, 7).0]);
        assert_eq!(f.judge(&phys, Some(&got)), Err(Broken::Grant));
        let got = item(16 << 20, Fpage::NIL);
        assert_eq!(f.judge(&phys, Some(&got)), Ok(MapCheck::None));
        let virt = case(Space::Virt, Rule::None);
        let got = item(WEDGE_VADDR + PAGE, Fpage::new(0x80_0000, 12, 5));
        assert_eq!(
            f.judge(&virt, Some(&got)),
            Ok(MapCheck::Image(WEDGE_VADDR + PAGE))
        );
        let got = item(WEDGE_VADDR + (4 << 20), Fpage::new(0x80_0000, 12, 5));
        assert_eq!(f.judge(&virt, Some(&got)), Ok(MapCheck::None));
        let got = item(0xc000_0000, Fpage::new(0x80_0000, 12, 5));
        assert!(f.judge(&virt, Some(&got)).is_err());
    }

    #[test]
    fn every_page_fault_label_is_judged_in_guest_virtual_terms() {
        // Seed 0x1234, request 220,070: a kernel-label case with label
        // 0xFFE6 and MR1 = 0xBC000000 is a page fault for the own image;
        // its answer maps the image page and is no outside mapping.
        let mut f = fuzzer(0x1234);
        let mut seen = 0;
        for _ in 0..50_000 {
            let c = f.case();
            let fault = c.msg.tag().label() & 0xfff0 == 0xffe0;
            assert_eq!(c.space == Space::Virt, fault, "{c:?}");
            seen += (fault && c.kind != Kind::Fault && c.kind != Kind::Probe) as u32;
        }
        assert!(seen > 0, "no kernel or raw case with a page-fault label");
        let mut m = Message::new();
        m.set_tag(Tag::new(0xffe6, 2, 0));
        m.mr[1] = WEDGE_VADDR;
        let c = f.base(Kind::Kernel, m, f.window(), Rule::None);
        let got = reply(&[Tag::new(0, 0, 2).0, WEDGE_VADDR | 8, 0x0280_00c6]);
        assert_eq!(f.judge(&c, Some(&got)), Ok(MapCheck::Image(WEDGE_VADDR)));
    }

    #[test]
    fn device_answers_are_the_own_page_or_the_zeroed_stand_in() {
        let f = fuzzer(1);
        let item = |sb: Word, fp: Fpage| reply(&[Tag::new(0, 0, 2).0, sb | 8, fp.0]);
        let dev = case(Space::Device, Rule::None);
        // Found by the fuzz scenario (seed 0xbeef, request 74,610): above
        // the VM's memory a non-ddos VM gets its stand-in page, whose host
        // frame is the monitor's; it must read as zeros.
        let got = item(0xe8c5_3000, Fpage::new(0x43_f000, 12, 7));
        assert_eq!(f.judge(&dev, Some(&got)), Ok(MapCheck::Zero));
        let got = item(f.marked[2], Fpage::new(0x43_f000, 12, 7));
        assert_eq!(f.judge(&dev, Some(&got)), Ok(MapCheck::Marked(f.marked[2])));
        let got = item(0xa_0000, Fpage::new(0x43_f000, 12, 7));
        assert_eq!(f.judge(&dev, Some(&got)), Ok(MapCheck::None));
        let got = item(0xe8c0_0000, Fpage::new(0x40_0000, 22, 7));
        assert!(matches!(
            f.judge(&dev, Some(&got)),
            Err(Broken::Outside(..))
        ));
        // The same answer to request_pages is outside the VM.
        let phys = case(Space::Phys, Rule::None);
        let got = item(0xe8c5_3000, Fpage::new(0x43_f000, 12, 7));
        assert!(matches!(
            f.judge(&phys, Some(&got)),
            Err(Broken::Outside(..))
        ));
    }

    #[test]
    fn refusal_rules() {
        let f = fuzzer(1);
        let c = case(Space::Phys, Rule::NoSuccess);
        let ok = reply(&[Tag::new(0, 1, 0).0, 1]);
        assert_eq!(f.judge(&c, Some(&ok)), Err(Broken::Success));
        let exc = reply(&[Tag::new(idl::exception_label(6), 0, 0).0]);
        assert_eq!(f.judge(&c, Some(&exc)), Ok(MapCheck::None));
        let odd = reply(&[Tag::new(0x1234, 0, 0).0]);
        assert_eq!(f.judge(&c, Some(&odd)), Err(Broken::Label(0x1234)));
        let c = case(Space::Phys, Rule::Expect(Expect::NoReply));
        assert!(f.judge(&c, Some(&ok)).is_err());
        assert_eq!(f.judge(&c, None), Ok(MapCheck::None));
        assert_eq!(f.judge(&c, Some(&Outcome::Failed(3))), Ok(MapCheck::None));
    }
}
