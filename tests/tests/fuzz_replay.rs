//! The fuzzing guest's generator against the monitor on the host (issue 16):
//! the same seeds and the same [`Fuzzer`] as `mode=fuzz` in the `fuzz` boot
//! scenario, the requests dispatched by the monitor's own code, the answers
//! judged by the same rules, and the kernel replaced by [`KernelModel`],
//! which also knows the kernel traps a guest must not be able to reach
//! through the monitor. A failure prints the seed and the shortest request
//! sequence that still fails ([`shrink`]), ready to become a regression.
//!
//! `FUZZ_REPLAY_REQUESTS=N` sets the requests per fuzzer (default 200,000);
//! `FUZZ_REPLAY_SEEDS=S1,S2` replays one seed pair (the two fuzzers of the
//! `fuzz` scenario, hex with `0x` or decimal) instead of the built-in ones.

use std::collections::{BTreeMap, BTreeSet};

use idl::{Fpage, Message, ThreadId, Word};
use l4_sys::KernelError;
use roottask::server::{self, Device, Monitor, Platform, RemapSlot, RemapWindow, VmEntry};
use roottask::vm::layout::Layout;
use roottask::vm::threads::ThreadSpaces;
use test_guest::fuzz::{Case, Fuzzer, MARKED};
use test_guest::probe::{req, tid, Env, Ids, Outcome};
use test_guest::{PAGE, WEDGE_VADDR};

/// sigma0's thread number on the fixture kernel (KIP UserBase).
const USER_BASE: u32 = 48;
/// The monitor's main thread (thread number UserBase + 2, version 1).
const RM: Word = tid(USER_BASE + 2, 1);
/// Interrupt lines of the modelled kernel.
const IRQ_LINES: u32 = 24;
/// The victim's interrupt (as in the boot scenario).
const VICTIM_IRQ: u32 = 10;
/// An IPC error word for "receive timeout" (receive phase, kind 1).
const RECEIVE_TIMEOUT: Word = 0b11;

/// The kernel as far as the monitor's calls go: every call succeeds, and
/// the hazards found in the real kernel are recorded as violations.
#[derive(Default)]
struct KernelModel {
    /// Interrupt thread → its handler (absent or itself: not associated).
    irq_pager: BTreeMap<Word, Word>,
    /// Interrupt threads whose handler was deleted while associated.
    dangling: BTreeSet<Word>,
    /// What the real kernel would have done instead of carrying on.
    violations: Vec<String>,
}

impl KernelModel {
    fn is_interrupt_thread(t: ThreadId) -> bool {
        t.0 & 0x3fff == 1 && t.0 >> 14 < IRQ_LINES
    }
}

impl Platform for KernelModel {
    fn log(&mut self, _: core::fmt::Arguments<'_>) {}
    fn guest_output(&mut self, _: usize, _: &[u8]) {}
    fn store_word(&mut self, _: u64, _: u32) {}
    fn load_word(&mut self, _: u64) -> u32 {
        0
    }
    fn store_byte(&mut self, _: u64, _: u8) {}
    fn console_notice(&mut self, _: core::fmt::Arguments<'_>) {}
    fn set_silent(&mut self, _: bool) {}
    fn enter_debugger(&mut self) {
        self.violations
            .push("the monitor entered the kernel debugger".into());
    }
    fn thread_control(
        &mut self,
        dest: ThreadId,
        space: ThreadId,
        _sched: ThreadId,
        pager: ThreadId,
        _utcb: Word,
    ) -> Result<(), KernelError> {
        if Self::is_interrupt_thread(dest) {
            // Pistachio: a ThreadControl on an interrupt thread whose
            // handler was deleted while it had an interrupt to deliver
            // fails `queue_state.is_set(send)` (tcb.h 727).
            if self.dangling.remove(&dest.0) {
                self.violations.push(format!(
                    "kernel assertion: ThreadControl on interrupt thread {:#x} after its handler was deleted while associated",
                    dest.0
                ));
            }
            self.irq_pager.insert(dest.0, pager.0);
        } else if space.0 == 0 {
            for (irq, handler) in &self.irq_pager {
                if *handler == dest.0 {
                    self.dangling.insert(*irq);
                }
            }
        }
        Ok(())
    }
    fn space_control(
        &mut self,
        _: ThreadId,
        _: Word,
        _: Fpage,
        _: Fpage,
        _: ThreadId,
    ) -> Result<(), KernelError> {
        Ok(())
    }
    fn schedule(&mut self, _: ThreadId, _: Word, _: Word) -> Result<(), KernelError> {
        Ok(())
    }
    fn unmap(&mut self, fpage: Fpage, _: bool) -> Fpage {
        fpage
    }
    fn map_device_frame(&mut self, _: Word, _: Word) -> bool {
        true
    }
    fn scratch_page(&mut self) -> Option<u64> {
        Some(0x4000_0000)
    }
    fn zero_frame(&mut self, _: u64) {}
    fn now_us(&mut self) -> u64 {
        0
    }
    fn poke(&mut self, _: ThreadId) -> bool {
        false
    }
}

/// The VM in `slot` as the fuzzing guest sees itself.
fn env(slot: u32) -> Env {
    let space_start = USER_BASE + 2 + slot * 4096;
    Env {
        ids: Ids {
            rm: RM,
            me: tid(space_start, 2),
            space_start,
            user_base: USER_BASE,
        },
        vmctl: RM,
        phys_size: 16 << 20,
        link_vaddr: 0,
        kip_fpage: 0,
        utcb_fpage: 0,
        window: 0xbbff_c000,
        string_buffer: 0x20_0000,
        code_page: WEDGE_VADDR,
        ip: WEDGE_VADDR + 0x100,
        victim_irq: Some(VICTIM_IRQ),
    }
}

fn fuzzer(slot: u32, seed: u32) -> Fuzzer {
    let marked: [u32; MARKED] = core::array::from_fn(|k| 0x30_0000 + k as u32 * PAGE);
    Fuzzer::new(
        env(slot),
        seed,
        marked,
        WEDGE_VADDR + 0x10_0000,
        WEDGE_VADDR + (8 << 20),
    )
}

/// A monitor with the boot scenario's three VMs (victim in slot 1, the
/// fuzzers in 2 and 3), the victim owning its interrupt.
fn monitor(slots: &'static mut [RemapSlot]) -> Monitor<KernelModel> {
    let mut m = Monitor::new(
        KernelModel::default(),
        ThreadSpaces::from_user_base(USER_BASE),
        IRQ_LINES,
        RemapWindow {
            base: 0xbc00_0000,
            slots,
        },
    );
    let devices = [Device {
        low: 0xa_0000,
        high: 0xb_ffff,
        kind: 4,
    }];
    for slot in 1..=3u32 {
        let base = u64::from(slot) << 24;
        m.vms[slot as usize] = Some(VmEntry::new(
            Layout::new(base, 16 << 20, 0, 8 << 20).with_entry(WEDGE_VADDR),
            base + (8 << 20),
            false,
            &devices,
        ));
    }
    let victim = env(1).ids.me;
    let mut msg = req::associate_interrupt(VICTIM_IRQ, victim);
    server::dispatch(&mut m, ThreadId(victim), &mut msg);
    m
}

/// One request of the stream: which fuzzer (slot) and what.
#[derive(Clone, Debug)]
struct Step {
    slot: u32,
    case: Case,
}

/// What went wrong, without the step number (shrinking keeps the kind).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Failure {
    slot: u32,
    what: String,
}

/// Run `steps` on a fresh monitor; the first failure and where.
fn replay(steps: &[Step], fuzzers: &[Fuzzer; 2]) -> Option<(usize, Failure)> {
    let slots = Box::leak(vec![RemapSlot::default(); 64].into_boxed_slice());
    let mut m = monitor(slots);
    for (i, step) in steps.iter().enumerate() {
        let f = &fuzzers[step.slot as usize - 2];
        let c = &step.case;
        let got = if c.to == RM {
            let mut msg: Message = c.msg.clone();
            let reply = server::dispatch(&mut m, ThreadId(f.env.ids.me), &mut msg);
            match (c.receive_us, reply.must_send()) {
                (None, _) => None,
                (Some(_), true) => Some(Outcome::Reply(msg)),
                (Some(_), false) => Some(Outcome::Failed(RECEIVE_TIMEOUT)),
            }
        } else {
            // Other VMs' threads and the monitor's helpers: not modelled.
            c.receive_us.map(|_| Outcome::Failed(RECEIVE_TIMEOUT))
        };
        if let Some(v) = m.platform.violations.pop() {
            return Some((
                i,
                Failure {
                    slot: step.slot,
                    what: v,
                },
            ));
        }
        if let Err(b) = f.judge(c, got.as_ref()) {
            return Some((
                i,
                Failure {
                    slot: step.slot,
                    what: b.to_string(),
                },
            ));
        }
    }
    None
}

/// The shortest sub-sequence of `steps` (by removing chunks, then single
/// steps, while `fails` holds: delta debugging) that still fails.
fn shrink<T: Clone>(mut steps: Vec<T>, fails: impl Fn(&[T]) -> bool) -> Vec<T> {
    let mut chunk = steps.len().div_ceil(2).max(1);
    loop {
        let mut removed = false;
        let mut at = 0;
        while at < steps.len() {
            let end = (at + chunk).min(steps.len());
            let mut candidate = steps[..at].to_vec();
            candidate.extend_from_slice(&steps[end..]);
            if !candidate.is_empty() && fails(&candidate) {
                steps = candidate;
                removed = true;
            } else {
                at = end;
            }
        }
        if chunk == 1 && !removed {
            return steps;
        }
        if !removed {
            chunk = chunk.div_ceil(2);
        }
    }
}

/// The fuzzers' two streams, interleaved one request each.
fn streams(seeds: [u32; 2], n: usize) -> (Vec<Step>, [Fuzzer; 2]) {
    let mut gens = [fuzzer(2, seeds[0]), fuzzer(3, seeds[1])];
    let judges = gens.clone();
    let mut steps = Vec::with_capacity(2 * n);
    for _ in 0..n {
        for (k, g) in gens.iter_mut().enumerate() {
            steps.push(Step {
                slot: 2 + k as u32,
                case: g.case(),
            });
        }
    }
    (steps, judges)
}

fn describe(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        let words: Vec<String> = s
            .case
            .msg
            .words()
            .iter()
            .map(|w| format!("{w:#x}"))
            .collect();
        out.push_str(&format!(
            "  vm {} to {:#x} receive {:?}: {}\n",
            s.slot,
            s.case.to,
            s.case.receive_us,
            words.join(" ")
        ));
    }
    out
}

/// `S1,S2` as two seeds.
fn seed_pair(v: &str) -> [u32; 2] {
    let parse = |s: &str| {
        let s = s.trim();
        match s.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => s.parse(),
        }
        .unwrap_or_else(|e| panic!("FUZZ_REPLAY_SEEDS: {s:?} is not a seed: {e}"))
    };
    let seeds: Vec<u32> = v.split(',').map(parse).collect();
    match seeds[..] {
        [a, b] => [a, b],
        _ => panic!("FUZZ_REPLAY_SEEDS: want two seeds, got {v:?}"),
    }
}

#[test]
fn the_boot_scenarios_seeds_break_no_rule_on_the_host() {
    let n: usize = std::env::var("FUZZ_REPLAY_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let pairs = match std::env::var("FUZZ_REPLAY_SEEDS") {
        Ok(v) => vec![seed_pair(&v)],
        Err(_) => vec![[0x1234, 0xbeef], [1, 2], [0xdead, 0xf00d]],
    };
    for seeds in pairs {
        let (steps, judges) = streams(seeds, n);
        if let Some((at, failure)) = replay(&steps, &judges) {
            let prefix = steps[..=at].to_vec();
            let minimal = shrink(prefix, |s| {
                replay(s, &judges).is_some_and(|(_, f)| f == failure)
            });
            panic!(
                "seeds {:#x}/{:#x}: request {} of vm {} fails: {}\nshortest sequence that still fails ({} requests):\n{}",
                seeds[0],
                seeds[1],
                at,
                failure.slot,
                failure.what,
                minimal.len(),
                describe(&minimal)
            );
        }
    }
}

/// The kernel hazard the fuzzing guest found, through the monitor: with
/// its release of a deleted handler's interrupts, the model sees no
/// violation; the same calls straight to the kernel model trip it, and the
/// shrinker reduces a padded sequence to exactly those three calls.
#[test]
fn the_handler_deletion_hazard_is_modelled_and_shrinks_to_three_calls() {
    let e = env(2);
    let (first, handler) = (e.ids.own_first(), e.ids.own(1));
    let irq0 = ThreadId(1);
    // Through the monitor: no violation.
    let slots = Box::leak(vec![RemapSlot::default(); 64].into_boxed_slice());
    let mut m = monitor(slots);
    let me = ThreadId(e.ids.me);
    for mut msg in [
        req::thread_control(handler, first, first, RM, 0x1000),
        req::associate_interrupt(0, handler),
        req::delete_thread(handler),
        req::deassociate_interrupt(0),
    ] {
        server::dispatch(&mut m, me, &mut msg);
    }
    assert_eq!(m.platform.violations, Vec::<String>::new());

    // Straight to the kernel: a padded call list shrinks to the hazard.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Call {
        Associate,
        Delete,
        Deassociate,
        Other(u32),
    }
    let kernel_fails = |calls: &[Call]| {
        let mut k = KernelModel::default();
        let h = ThreadId(handler);
        for c in calls {
            let _ = match c {
                Call::Associate => k.thread_control(irq0, irq0, ThreadId::NIL, h, !0),
                Call::Delete => {
                    k.thread_control(h, ThreadId::NIL, ThreadId::NIL, ThreadId::NIL, !0)
                }
                Call::Deassociate => k.thread_control(irq0, irq0, ThreadId::NIL, irq0, !0),
                Call::Other(n) => k.thread_control(
                    ThreadId(tid(e.ids.space_start + n, 2)),
                    ThreadId::NIL,
                    ThreadId::NIL,
                    ThreadId::NIL,
                    !0,
                ),
            };
        }
        !k.violations.is_empty()
    };
    let mut padded = Vec::new();
    for n in 0..40 {
        padded.push(Call::Other(2 + n % 5));
        match n {
            7 => padded.push(Call::Associate),
            19 => padded.push(Call::Delete),
            33 => padded.push(Call::Deassociate),
            _ => {}
        }
    }
    assert!(kernel_fails(&padded));
    assert!(!kernel_fails(&[
        Call::Associate,
        Call::Deassociate,
        Call::Delete
    ]));
    assert_eq!(
        shrink(padded, kernel_fails),
        [Call::Associate, Call::Delete, Call::Deassociate]
    );
}
