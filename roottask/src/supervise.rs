//! VM supervision: deciding that a VM is dead, and what happens then.
//!
//! Plain policy, host-tested; the server ([`crate::server`]) feeds it what
//! it sees (requests, page faults outside a VM, exception messages,
//! init-complete) and the runtime feeds it the clock. It answers with
//! [`Action`]s (poke a thread, declare a VM dead, restart a slot) and keeps
//! what the status lines show.
//!
//! How a VM is found dead (none of it needs a guest protocol change):
//!
//! * **A page fault outside the VM.** Guests may also *send* a page-fault
//!   message (the isolation probes and the fuzzers do, with a receive
//!   timeout), so one such message proves nothing. The monitor gives no
//!   reply, as before, and when the thread sends nothing else for
//!   [`CONFIRM_POLLS`] idle console polls it sends the thread an empty message with a zero
//!   timeout (a *poke*). A thread really blocked in the fault receives it,
//!   the kernel restarts the faulting instruction (x2-abi §5: "an empty
//!   reply simply causes another fault"), and the same fault comes again:
//!   dead. A guest that only sent the message is no longer waiting for the
//!   monitor, so the poke fails (or finds it elsewhere and no fault
//!   follows) and the suspicion is dropped.
//! * **An exception message** (label 0xFFB0 with the ia32 register dump)
//!   from a VM thread: the thread has no one else to handle its exception.
//! * **The watchdog** (`watchdog=MS`): no init complete within MS ms of the
//!   start. A VM stuck in an endless request loop is busy, not alive, so
//!   requests do not feed the watchdog; after init complete it is off
//!   (finished guests wait forever, which is not death).

use core::fmt;

use kickstart_config::options::Supervision;

use crate::vm::threads::{FIRST_THREAD_VERSION, MAX_VM, THREAD_SPACE_SIZE};

/// Idle console polls (receive timeouts of the monitor, 50 ms each) after
/// a page fault outside the VM before the poke, and after the poke before
/// the suspicion is dropped: 1 s of the kernel's timeout clock, five times
/// the isolation probes' 200 ms wait for a reply that must not come, so a
/// guest that only *sent* a fault message has stopped waiting before the
/// poke (a guest waiting longer would receive the empty message). Counted
/// in the monitor's own timeouts, not read from a clock: those run on the
/// same clock as the guests' timeouts, which the kernel's SystemClock (from
/// a calibrated TSC rate) does not under QEMU.
pub const CONFIRM_POLLS: u32 = 20;
/// Wait before the first restart when `backoff=` is not given (ms).
pub const DEFAULT_BACKOFF_MS: u32 = 100;
/// The back-off doubles per restart up to this (ms).
pub const MAX_BACKOFF_MS: u32 = 10_000;
/// Label of an ia32 exception message (x2-abi §5: −5 << 4).
pub const EXCEPTION_LABEL: u16 = 0xffb0;
/// Untyped words of an ia32 exception message.
pub const EXCEPTION_WORDS: u32 = 12;

/// The thread version of the `generation`-th VM started in a slot: 2 for
/// the first (§6.1, as the original), then 3, 4, …, skipping versions whose
/// low 6 bits are 0 (not a valid global id, x2-abi §9.1), within 14 bits.
pub fn thread_version(generation: u32) -> u32 {
    let mut v = FIRST_THREAD_VERSION;
    let mut left = generation;
    loop {
        if left == 0 && v & 0x3f != 0 {
            return v;
        }
        if v & 0x3f != 0 {
            left -= 1;
        }
        v += 1;
        if v >= 1 << 14 {
            v = 1;
        }
    }
}

/// Why a VM was declared dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeathReason {
    /// A thread faulted where nothing can be mapped, and faulted again
    /// after the poke.
    FaultOutside {
        /// The faulting thread.
        thread: u32,
        /// The fault address.
        addr: u32,
        /// The faulting instruction.
        ip: u32,
    },
    /// A thread's exception came to the monitor.
    Exception {
        /// The thread.
        thread: u32,
        /// EIP of the exception.
        ip: u32,
        /// Exception vector.
        vector: u32,
        /// Error code.
        error: u32,
    },
    /// No init complete within the watchdog's time.
    Watchdog {
        /// The `watchdog=` time.
        ms: u32,
    },
}

impl fmt::Display for DeathReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DeathReason::FaultOutside { thread, addr, ip } => write!(
                f,
                "page fault at {addr:#010x} (ip {ip:#010x}) outside the VM by thread {thread:#x}"
            ),
            DeathReason::Exception {
                thread,
                ip,
                vector,
                error,
            } => write!(
                f,
                "exception {vector} (error {error:#x}) at ip {ip:#010x} in thread {thread:#x}"
            ),
            DeathReason::Watchdog { ms } => {
                write!(f, "watchdog: no init complete within {ms} ms of the start")
            }
        }
    }
}

/// A VM's supervision policy, from its VM line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Policy {
    /// Restarts allowed (`restart=`).
    pub restarts: u32,
    /// Wait before the first restart (ms).
    pub backoff_ms: u32,
    /// `watchdog=` (ms).
    pub watchdog_ms: Option<u32>,
}

impl Policy {
    /// The policy of a VM line's options.
    pub fn from_options(s: &Supervision) -> Policy {
        Policy {
            restarts: s.restart,
            backoff_ms: s.backoff_ms.unwrap_or(DEFAULT_BACKOFF_MS),
            watchdog_ms: s.watchdog_ms,
        }
    }

    /// Wait before restart number `k` (1-based): the back-off, doubled per
    /// earlier restart, at most [`MAX_BACKOFF_MS`].
    pub fn backoff_before(&self, k: u32) -> u32 {
        let shift = k.saturating_sub(1).min(16);
        self.backoff_ms
            .saturating_mul(1 << shift)
            .min(MAX_BACKOFF_MS.max(self.backoff_ms))
    }
}

/// Where a supervised VM is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmState {
    /// Started and not found dead.
    Running,
    /// Torn down; restarts at this time (µs). Its slot stays reserved.
    Restarting {
        /// When to restart.
        at_us: u64,
    },
    /// Torn down for good; its slot is free.
    Stopped,
}

/// A page fault outside the VM not yet confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Suspect {
    thread: u32,
    addr: u32,
    ip: u32,
    /// Idle polls since the fault (or since the poke).
    quiet_polls: u32,
    poked: bool,
}

/// One VM slot's supervision record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmWatch {
    /// The plan group (rebuilt from on restart).
    pub group: usize,
    /// Instance number within the group.
    pub instance: u32,
    /// Its policy.
    pub policy: Policy,
    /// Where it is.
    pub state: VmState,
    /// Restarts so far.
    pub restarts: u32,
    /// Why it died last.
    pub last_death: Option<DeathReason>,
    /// When the current instance started (µs).
    pub started_us: u64,
    /// The current instance reported init complete.
    pub init_complete: bool,
    suspect: Option<Suspect>,
}

/// What the runtime should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `thread` of VM `slot` an empty message, zero timeout.
    Poke {
        /// The VM.
        slot: usize,
        /// The suspected thread.
        thread: u32,
    },
    /// VM `slot` is dead: tear it down.
    Dead {
        /// The VM.
        slot: usize,
        /// Why.
        reason: DeathReason,
    },
    /// Rebuild VM `slot` from its boot modules and start it.
    Restart {
        /// The VM.
        slot: usize,
    },
}

/// What becomes of a VM that died.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Restart number `attempt` of `of` after `in_ms`.
    Restart {
        /// 1-based.
        attempt: u32,
        /// The policy's `restart=`.
        of: u32,
        /// Back-off before it.
        in_ms: u32,
    },
    /// Stays stopped after `restarts` restarts (of `allowed`).
    Stopped {
        /// Restarts made.
        restarts: u32,
        /// The policy's `restart=`.
        allowed: u32,
    },
}

/// Every slot's supervision record, and the totals for the summary.
#[derive(Clone, Debug)]
pub struct Supervisor {
    slots: [Option<VmWatch>; MAX_VM],
    /// VMs started per slot so far (the next thread version).
    generation: [u32; MAX_VM],
    /// VMs declared dead.
    pub deaths: u32,
    /// Restarts made.
    pub restarts: u32,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor {
            slots: [None; MAX_VM],
            generation: [0; MAX_VM],
            deaths: 0,
            restarts: 0,
        }
    }
}

impl Supervisor {
    /// The thread version the next VM started in `slot` gets.
    pub fn next_version(&self, slot: usize) -> u32 {
        thread_version(self.generation.get(slot).copied().unwrap_or(0))
    }

    /// A VM (or its restart) started in `slot` at `now_us`.
    pub fn started(
        &mut self,
        slot: usize,
        group: usize,
        instance: u32,
        policy: Policy,
        now_us: u64,
    ) {
        let Some(g) = self.generation.get_mut(slot) else {
            return;
        };
        *g += 1;
        let (restarts, last_death) = match self.slots[slot] {
            Some(w) if matches!(w.state, VmState::Restarting { .. }) && w.group == group => {
                (w.restarts, w.last_death)
            }
            _ => (0, None),
        };
        self.slots[slot] = Some(VmWatch {
            group,
            instance,
            policy,
            state: VmState::Running,
            restarts,
            last_death,
            started_us: now_us,
            init_complete: false,
            suspect: None,
        });
    }

    /// The record of `slot`.
    pub fn watch(&self, slot: usize) -> Option<&VmWatch> {
        self.slots.get(slot)?.as_ref()
    }

    /// Is `slot` kept for a restart (not to be given to another VM)?
    pub fn reserved(&self, slot: usize) -> bool {
        matches!(
            self.watch(slot).map(|w| w.state),
            Some(VmState::Restarting { .. })
        )
    }

    fn running(&mut self, slot: usize) -> Option<&mut VmWatch> {
        self.slots
            .get_mut(slot)?
            .as_mut()
            .filter(|w| w.state == VmState::Running)
    }

    /// VM `slot` reported init complete: the watchdog is off.
    pub fn init_complete(&mut self, slot: usize) {
        if let Some(w) = self.running(slot) {
            w.init_complete = true;
        }
    }

    /// `thread` of VM `slot` sent something other than a page fault outside
    /// its VM: it is not blocked in a fault.
    pub fn request(&mut self, slot: usize, thread: u32) {
        if let Some(w) = self.running(slot) {
            if w.suspect.is_some_and(|s| s.thread == thread) {
                w.suspect = None;
            }
        }
    }

    /// `thread` of VM `slot` faulted (or sent a fault message) for `addr`
    /// outside the VM. The dead verdict when this is the same fault again
    /// after a poke.
    pub fn fault_outside(
        &mut self,
        slot: usize,
        thread: u32,
        addr: u32,
        ip: u32,
    ) -> Option<DeathReason> {
        let w = self.running(slot)?;
        if let Some(s) = w.suspect {
            if s.poked && (s.thread, s.addr, s.ip) == (thread, addr, ip) {
                w.suspect = None;
                return Some(DeathReason::FaultOutside { thread, addr, ip });
            }
        }
        w.suspect = Some(Suspect {
            thread,
            addr,
            ip,
            quiet_polls: 0,
            poked: false,
        });
        None
    }

    /// The poke of VM `slot` found no thread waiting for the monitor: it
    /// only sent a fault message.
    pub fn poke_failed(&mut self, slot: usize) {
        if let Some(w) = self.running(slot) {
            w.suspect = None;
        }
    }

    /// VM `slot` died of `reason` at `now_us` (the server has torn it
    /// down): restart it later, or leave it stopped.
    pub fn died(&mut self, slot: usize, reason: DeathReason, now_us: u64) -> Fate {
        self.deaths += 1;
        let Some(w) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return Fate::Stopped {
                restarts: 0,
                allowed: 0,
            };
        };
        w.last_death = Some(reason);
        w.suspect = None;
        if w.restarts < w.policy.restarts {
            let attempt = w.restarts + 1;
            let in_ms = w.policy.backoff_before(attempt);
            w.state = VmState::Restarting {
                at_us: now_us + u64::from(in_ms) * 1000,
            };
            Fate::Restart {
                attempt,
                of: w.policy.restarts,
                in_ms,
            }
        } else {
            w.state = VmState::Stopped;
            Fate::Stopped {
                restarts: w.restarts,
                allowed: w.policy.restarts,
            }
        }
    }

    /// The restart of `slot` is being made (counted whether or not the
    /// rebuild succeeds; a failed rebuild leaves the VM stopped).
    pub fn restarting(&mut self, slot: usize) {
        if let Some(w) = self.slots.get_mut(slot).and_then(Option::as_mut) {
            w.restarts += 1;
            self.restarts += 1;
        }
    }

    /// The restart of `slot` could not be built: stopped.
    pub fn restart_failed(&mut self, slot: usize) {
        if let Some(w) = self.slots.get_mut(slot).and_then(Option::as_mut) {
            w.state = VmState::Stopped;
        }
    }

    /// What is due at `now_us`, in slot order: pokes of quiet suspects,
    /// suspicions dropped, watchdog deaths, restarts. `idle`: the monitor
    /// just waited a whole console poll without a request (suspects count
    /// only these, see [`CONFIRM_POLLS`]).
    pub fn tick(&mut self, now_us: u64, idle: bool) -> heapless::Vec<Action, MAX_VM> {
        let mut due = heapless::Vec::new();
        for (slot, w) in self.slots.iter_mut().enumerate() {
            let Some(w) = w else { continue };
            match w.state {
                VmState::Running => {}
                VmState::Restarting { at_us } => {
                    if now_us >= at_us {
                        let _ = due.push(Action::Restart { slot });
                    }
                    continue;
                }
                VmState::Stopped => continue,
            }
            if let Some(ms) = w.policy.watchdog_ms {
                if !w.init_complete && now_us >= w.started_us + u64::from(ms) * 1000 {
                    let _ = due.push(Action::Dead {
                        slot,
                        reason: DeathReason::Watchdog { ms },
                    });
                    continue;
                }
            }
            if let Some(s) = &mut w.suspect {
                if idle {
                    s.quiet_polls += 1;
                }
                if s.quiet_polls >= CONFIRM_POLLS {
                    if s.poked {
                        // Poked and no fault followed: it was a message.
                        w.suspect = None;
                    } else {
                        s.poked = true;
                        s.quiet_polls = 0;
                        let _ = due.push(Action::Poke {
                            slot,
                            thread: s.thread,
                        });
                    }
                }
            }
        }
        due
    }

    /// `vm N: status: …` for every slot that ever held a supervised VM.
    pub fn status_lines(&self, mut line: impl FnMut(Status<'_>)) {
        for (slot, w) in self.slots.iter().enumerate() {
            if let Some(w) = w {
                line(Status { slot, watch: w });
            }
        }
    }

    /// The status line of `slot`.
    pub fn status(&self, slot: usize) -> Option<Status<'_>> {
        self.watch(slot).map(|watch| Status { slot, watch })
    }
}

/// `vm 2: status: running, restarted 1 time (last death: …)`.
pub struct Status<'a> {
    slot: usize,
    watch: &'a VmWatch,
}

impl fmt::Display for Status<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.watch;
        write!(f, "vm {}: status: ", self.slot)?;
        match w.state {
            VmState::Running => f.write_str("running")?,
            VmState::Restarting { .. } => f.write_str("restarting")?,
            VmState::Stopped => f.write_str("stopped")?,
        }
        let times = if w.restarts == 1 { "time" } else { "times" };
        write!(
            f,
            ", restarted {} {times} of {} allowed",
            w.restarts, w.policy.restarts
        )?;
        match w.last_death {
            Some(d) => write!(f, "; last death: {d}"),
            None => f.write_str("; never died"),
        }
    }
}

/// The thread numbers a VM has (created through the monitor), so teardown
/// deletes exactly those: one bit per number of the VM's range.
#[derive(Clone, PartialEq, Eq)]
pub struct ThreadSet {
    start: u32,
    bits: [u32; (THREAD_SPACE_SIZE / 32) as usize],
}

impl fmt::Debug for ThreadSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl ThreadSet {
    /// An empty set for the range starting at thread number `start`.
    pub const fn new(start: u32) -> ThreadSet {
        ThreadSet {
            start,
            bits: [0; (THREAD_SPACE_SIZE / 32) as usize],
        }
    }

    fn index(&self, number: u32) -> Option<usize> {
        let i = number.checked_sub(self.start)?;
        (i < THREAD_SPACE_SIZE).then_some(i as usize)
    }

    /// Add thread `number`; false if it is outside the range.
    pub fn insert(&mut self, number: u32) -> bool {
        let Some(i) = self.index(number) else {
            return false;
        };
        self.bits[i / 32] |= 1 << (i % 32);
        true
    }

    /// Remove thread `number`.
    pub fn remove(&mut self, number: u32) {
        if let Some(i) = self.index(number) {
            self.bits[i / 32] &= !(1 << (i % 32));
        }
    }

    /// The thread numbers, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..THREAD_SPACE_SIZE)
            .filter(|&i| self.bits[(i / 32) as usize] & (1 << (i % 32)) != 0)
            .map(|i| self.start + i)
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// None at all?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::vec::Vec;

    fn policy(restarts: u32) -> Policy {
        Policy {
            restarts,
            backoff_ms: 100,
            watchdog_ms: None,
        }
    }

    #[test]
    fn versions_skip_invalid_ones() {
        assert_eq!(thread_version(0), 2);
        assert_eq!(thread_version(1), 3);
        // 64 has low 6 bits 0: skipped.
        assert_eq!(thread_version(61), 63);
        assert_eq!(thread_version(62), 65);
        for g in 0..20_000 {
            let v = thread_version(g);
            assert!(v & 0x3f != 0 && v < 1 << 14, "{g}: {v}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy(5);
        let waits: Vec<u32> = (1..=5).map(|k| p.backoff_before(k)).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600]);
        let p = Policy {
            backoff_ms: 6000,
            ..p
        };
        assert_eq!(p.backoff_before(3), MAX_BACKOFF_MS);
        let s = Supervision {
            restart: 2,
            backoff_ms: None,
            watchdog_ms: Some(5),
        };
        assert_eq!(
            Policy::from_options(&s),
            Policy {
                restarts: 2,
                backoff_ms: DEFAULT_BACKOFF_MS,
                watchdog_ms: Some(5)
            }
        );
    }

    /// `n` idle ticks; the actions of the last.
    fn idle(s: &mut Supervisor, n: u32) -> heapless::Vec<Action, MAX_VM> {
        let mut last = heapless::Vec::new();
        for _ in 0..n {
            last = s.tick(0, true);
        }
        last
    }

    #[test]
    fn fault_outside_needs_the_same_fault_after_a_poke() {
        let mut s = Supervisor::default();
        s.started(2, 1, 0, policy(0), 0);
        assert_eq!(s.fault_outside(2, 0x77, 0xf000_0000, 0x1234), None);
        // Busy ticks do not count; idle ones do, up to CONFIRM_POLLS.
        for _ in 0..100 {
            assert!(s.tick(u64::MAX / 4, false).is_empty());
        }
        assert!(idle(&mut s, CONFIRM_POLLS - 1).is_empty());
        assert_eq!(
            idle(&mut s, 1).as_slice(),
            [Action::Poke {
                slot: 2,
                thread: 0x77
            }]
        );
        // A different fault after the poke only renews the suspicion.
        assert_eq!(s.fault_outside(2, 0x77, 0xf000_1000, 0x1234), None);
        assert_eq!(idle(&mut s, CONFIRM_POLLS).len(), 1);
        assert_eq!(
            s.fault_outside(2, 0x77, 0xf000_1000, 0x1234),
            Some(DeathReason::FaultOutside {
                thread: 0x77,
                addr: 0xf000_1000,
                ip: 0x1234
            })
        );
    }

    #[test]
    fn a_sent_fault_message_is_forgiven() {
        let mut s = Supervisor::default();
        s.started(3, 1, 0, policy(0), 0);
        // Another request by the same thread clears the suspicion.
        s.fault_outside(3, 9, 0xf000_0000, 1);
        s.request(3, 9);
        assert!(idle(&mut s, 5 * CONFIRM_POLLS).is_empty());
        // A failed poke clears it.
        s.fault_outside(3, 9, 0xf000_0000, 1);
        assert_eq!(idle(&mut s, CONFIRM_POLLS).len(), 1);
        s.poke_failed(3);
        assert!(idle(&mut s, 3 * CONFIRM_POLLS).is_empty());
        // A delivered poke with no fault after it: dropped one period later.
        s.fault_outside(3, 9, 0xf000_0000, 1);
        assert_eq!(idle(&mut s, CONFIRM_POLLS).len(), 1);
        assert!(idle(&mut s, CONFIRM_POLLS).is_empty());
        assert_eq!(s.fault_outside(3, 9, 0xf000_0000, 1), None);
        // Requests of another thread do not clear it.
        s.request(3, 10);
        assert_eq!(idle(&mut s, CONFIRM_POLLS).len(), 1);
    }

    #[test]
    fn watchdog_until_init_complete() {
        let mut s = Supervisor::default();
        let p = Policy {
            watchdog_ms: Some(500),
            ..policy(0)
        };
        s.started(1, 0, 0, p, 1_000);
        s.started(2, 1, 0, p, 1_000);
        s.init_complete(1);
        assert!(s.tick(500_999, false).is_empty());
        assert_eq!(
            s.tick(501_000, false).as_slice(),
            [Action::Dead {
                slot: 2,
                reason: DeathReason::Watchdog { ms: 500 }
            }]
        );
    }

    #[test]
    fn restarts_by_policy_then_stops() {
        let mut s = Supervisor::default();
        let why = DeathReason::Watchdog { ms: 1 };
        assert_eq!(s.next_version(4), 2);
        s.started(4, 2, 0, policy(2), 0);
        assert_eq!(s.next_version(4), 3);
        assert_eq!(
            s.died(4, why, 1_000),
            Fate::Restart {
                attempt: 1,
                of: 2,
                in_ms: 100
            }
        );
        assert!(s.reserved(4));
        assert!(s.tick(100_999, true).is_empty());
        assert_eq!(
            s.tick(101_000, false).as_slice(),
            [Action::Restart { slot: 4 }]
        );
        s.restarting(4);
        s.started(4, 2, 0, policy(2), 101_000);
        assert!(!s.reserved(4));
        let st = format!("{}", s.status(4).unwrap());
        assert_eq!(
            st,
            "vm 4: status: running, restarted 1 time of 2 allowed; last death: watchdog: no init complete within 1 ms of the start"
        );
        assert_eq!(
            s.died(4, why, 200_000),
            Fate::Restart {
                attempt: 2,
                of: 2,
                in_ms: 200
            }
        );
        s.restarting(4);
        s.started(4, 2, 0, policy(2), 400_000);
        assert_eq!(s.next_version(4), 5);
        assert_eq!(
            s.died(4, why, 500_000),
            Fate::Stopped {
                restarts: 2,
                allowed: 2
            }
        );
        assert!(!s.reserved(4));
        assert!(s.tick(u64::MAX / 2, true).is_empty());
        assert_eq!((s.deaths, s.restarts), (3, 2));
        assert!(format!("{}", s.status(4).unwrap())
            .starts_with("vm 4: status: stopped, restarted 2 times of 2 allowed"));
        // A new VM in the freed slot starts with a clean record.
        s.started(4, 5, 0, policy(0), 600_000);
        let w = s.watch(4).unwrap();
        assert_eq!((w.restarts, w.last_death, w.group), (0, None, 5));
        let mut lines = Vec::new();
        s.status_lines(|l| lines.push(format!("{l}")));
        assert_eq!(
            lines,
            ["vm 4: status: running, restarted 0 times of 0 allowed; never died"]
        );
    }

    #[test]
    fn dead_vms_ignore_further_signals() {
        let mut s = Supervisor::default();
        s.started(1, 0, 0, policy(0), 0);
        s.died(1, DeathReason::Watchdog { ms: 1 }, 0);
        assert_eq!(s.fault_outside(1, 1, 2, 3), None);
        s.init_complete(1);
        assert!(!s.watch(1).unwrap().init_complete);
        assert!(s.tick(u64::MAX / 2, true).is_empty());
    }

    #[test]
    fn thread_set() {
        let mut t = ThreadSet::new(4146);
        assert!(t.is_empty());
        assert!(t.insert(4146) && t.insert(4146 + 4095) && t.insert(5000));
        assert!(!t.insert(4145) && !t.insert(4146 + 4096));
        t.insert(5000);
        assert_eq!(t.len(), 3);
        t.remove(5000);
        t.remove(1);
        assert_eq!(t.iter().collect::<Vec<_>>(), [4146, 4146 + 4095]);
    }
}
