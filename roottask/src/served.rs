//! What each VM asked of the monitor, counted by kind of request, and the
//! `served:` report the monitor prints when it falls idle.
//!
//! A user whose guest stops wants to know what the monitor did for it (did
//! the wedge ever ask for its device page? was it refused?), and the boot
//! scenarios compare these counts with what an upstream client is known to
//! ask (`../shared/wedge/README.md`). The report is printed once the monitor
//! has had no request for [`IDLE_REPORT_US`] and something changed since
//! the last one, so a busy monitor is never slowed by it.

use core::fmt::{self, Write};

use crate::vm::threads::MAX_VM;

/// Quiet time after which the counts are reported (virtual µs).
pub const IDLE_REPORT_US: u64 = 1_000_000;

/// IResourcemon `tid_to_space_id` (spec §7.6), timed on its own.
const TID_TO_SPACE_ID_LABEL: u64 = 0x004E;

/// Kinds of request, named as the report names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Kernel page-fault messages and explicit `pagefault` calls.
    PageFault,
    /// `request_pages`.
    RequestPages,
    /// `request_device`.
    RequestDevice,
    /// `unmap_device`.
    UnmapDevice,
    /// `request_client_pages`.
    ClientPages,
    /// `IConsole.put_chars`.
    PutChars,
    /// `IConsole.get_chars`.
    GetChars,
    /// The ThreadControl proxy.
    ThreadControl,
    /// The SpaceControl proxy.
    SpaceControl,
    /// The AssociateInterrupt proxy.
    AssociateInterrupt,
    /// The DeassociateInterrupt proxy.
    DeassociateInterrupt,
    /// `set_virtual_offset`.
    SetVirtualOffset,
    /// `client_init_complete`.
    InitComplete,
    /// ILocator.
    Locator,
    /// Everything else (IVMControl, ILogging, queries, unknown labels).
    Other,
}

impl Op {
    /// Number of kinds.
    pub const COUNT: usize = 15;
    /// Every kind, in report order.
    pub const ALL: [Op; Op::COUNT] = [
        Op::PageFault,
        Op::RequestPages,
        Op::RequestDevice,
        Op::UnmapDevice,
        Op::ClientPages,
        Op::PutChars,
        Op::GetChars,
        Op::ThreadControl,
        Op::SpaceControl,
        Op::AssociateInterrupt,
        Op::DeassociateInterrupt,
        Op::SetVirtualOffset,
        Op::InitComplete,
        Op::Locator,
        Op::Other,
    ];

    /// The kind of a request with message label `label` (spec §7.4).
    pub fn from_label(label: u64) -> Op {
        match label {
            0xFFE0..=0xFFEF => Op::PageFault,
            0xFFA0 => Op::RequestPages,
            0x0044 => Op::RequestDevice,
            0x0045 => Op::UnmapDevice,
            0x0046 => Op::ClientPages,
            0x0080 => Op::PutChars,
            0x0081 => Op::GetChars,
            0x0047 => Op::ThreadControl,
            0x0048 => Op::SpaceControl,
            0x0049 => Op::AssociateInterrupt,
            0x004A => Op::DeassociateInterrupt,
            0x004D => Op::SetVirtualOffset,
            0x0042 => Op::InitComplete,
            0x0000 | 0x0001 => Op::Locator,
            _ => Op::Other,
        }
    }

    /// The key in the report.
    pub fn name(self) -> &'static str {
        match self {
            Op::PageFault => "faults",
            Op::RequestPages => "request_pages",
            Op::RequestDevice => "request_device",
            Op::UnmapDevice => "unmap_device",
            Op::ClientPages => "request_client_pages",
            Op::PutChars => "put_chars",
            Op::GetChars => "get_chars",
            Op::ThreadControl => "thread_control",
            Op::SpaceControl => "space_control",
            Op::AssociateInterrupt => "associate_interrupt",
            Op::DeassociateInterrupt => "deassociate_interrupt",
            Op::SetVirtualOffset => "set_virtual_offset",
            Op::InitComplete => "init_complete",
            Op::Locator => "locator",
            Op::Other => "other",
        }
    }

    fn index(self) -> usize {
        Op::ALL
            .iter()
            .position(|o| *o == self)
            .unwrap_or(Op::COUNT - 1)
    }
}

/// Per-VM counts since boot. Slot 0 collects callers of no VM.
#[derive(Clone, Debug)]
pub struct Served {
    counts: [[u32; Op::COUNT]; MAX_VM],
    refused: [u32; MAX_VM],
    /// The monitor's own time per kind (all VMs), receive to reply: the
    /// floor of what a request costs a guest beyond the kernel's IPC.
    /// (Index [`Op::COUNT`]: `tid_to_space_id` alone, the guests' null RPC.)
    own_ns: [u64; Op::COUNT + 1],
    own_n: [u32; Op::COUNT + 1],
    changed: bool,
}

impl Default for Served {
    fn default() -> Self {
        Served {
            counts: [[0; Op::COUNT]; MAX_VM],
            refused: [0; MAX_VM],
            own_ns: [0; Op::COUNT + 1],
            own_n: [0; Op::COUNT + 1],
            changed: false,
        }
    }
}

impl Served {
    /// Count one request of `op` from VM `slot` (`None`: no VM), refused or not.
    pub fn record(&mut self, slot: Option<usize>, op: Op, refused: bool) {
        let s = slot.filter(|s| *s < MAX_VM).unwrap_or(0);
        let c = &mut self.counts[s][op.index()];
        *c = c.saturating_add(1);
        if refused {
            self.refused[s] = self.refused[s].saturating_add(1);
        }
        self.changed = true;
    }

    /// Add `ns` of the monitor's own time (from the receive's return to the
    /// reply's start) to the request kind of label `label`.
    /// `tid_to_space_id` is also kept on its own: it is the null RPC the
    /// test guest measures as its baseline.
    pub fn record_own(&mut self, label: u64, ns: u64) {
        let mut add = |i: usize| {
            self.own_ns[i] = self.own_ns[i].saturating_add(ns);
            self.own_n[i] = self.own_n[i].saturating_add(1);
        };
        add(Op::from_label(label).index());
        if label == TID_TO_SPACE_ID_LABEL {
            add(Op::COUNT);
        }
    }

    /// The monitor's own mean time for requests of `op` (ns), if any came.
    pub fn own_mean_ns(&self, op: Op) -> Option<u64> {
        self.own_mean_at(op.index())
    }

    fn own_mean_at(&self, i: usize) -> Option<u64> {
        (self.own_n[i] > 0).then(|| self.own_ns[i] / u64::from(self.own_n[i]))
    }

    /// How many requests of `op` VM `slot` made.
    pub fn count(&self, slot: usize, op: Op) -> u32 {
        self.counts.get(slot).map_or(0, |c| c[op.index()])
    }

    /// How many of VM `slot`'s requests were refused.
    pub fn refused(&self, slot: usize) -> u32 {
        self.refused.get(slot).copied().unwrap_or(0)
    }

    /// Something was counted since the last report.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Write one report line per slot that asked anything
    /// (`vm N: requests=… faults=… … refused=…`, kinds with a zero count
    /// left out; slot 0 is written `no vm`), then mark the counts reported.
    pub fn report(&mut self, mut line: impl FnMut(fmt::Arguments<'_>)) {
        for slot in 0..MAX_VM {
            let total: u32 = self.counts[slot].iter().sum();
            if total == 0 {
                continue;
            }
            let mut text: heapless::String<400> = heapless::String::new();
            for op in Op::ALL {
                let n = self.counts[slot][op.index()];
                if n > 0 {
                    let _ = write!(text, " {}={n}", op.name());
                }
            }
            let refused = self.refused[slot];
            if slot == 0 {
                line(format_args!(
                    "served: no vm: requests={total}{} refused={refused}",
                    text.as_str()
                ));
            } else {
                line(format_args!(
                    "served: vm {slot}: requests={total}{} refused={refused}",
                    text.as_str()
                ));
            }
        }
        let mut own: heapless::String<400> = heapless::String::new();
        for op in Op::ALL {
            if let Some(ns) = self.own_mean_ns(op) {
                let _ = write!(own, " {}={ns}", op.name());
            }
        }
        if let Some(ns) = self.own_mean_at(Op::COUNT) {
            let _ = write!(own, " tid_to_space_id={ns}");
        }
        if !own.is_empty() {
            line(format_args!(
                "served: own ns per request (receive to reply):{}",
                own.as_str()
            ));
        }
        self.changed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    #[test]
    fn labels_map_to_kinds() {
        assert_eq!(Op::from_label(0xFFE7), Op::PageFault);
        assert_eq!(Op::from_label(0xFFE2), Op::PageFault);
        assert_eq!(Op::from_label(0xFFA0), Op::RequestPages);
        assert_eq!(Op::from_label(0x0044), Op::RequestDevice);
        assert_eq!(Op::from_label(0x0080), Op::PutChars);
        assert_eq!(Op::from_label(0x0047), Op::ThreadControl);
        assert_eq!(Op::from_label(0x004D), Op::SetVirtualOffset);
        assert_eq!(Op::from_label(0x0042), Op::InitComplete);
        assert_eq!(Op::from_label(0x0204), Op::Other);
        assert_eq!(Op::from_label(0x1234), Op::Other);
        // Every kind has its own name and index.
        let mut names: Vec<&str> = Op::ALL.iter().map(|o| o.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Op::COUNT);
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
        }
    }

    #[test]
    fn reports_each_active_vm_once_per_change() {
        let mut s = Served::default();
        assert!(!s.changed());
        for _ in 0..184 {
            s.record(Some(1), Op::PageFault, false);
        }
        s.record(Some(1), Op::RequestDevice, true);
        s.record(Some(3), Op::PutChars, false);
        s.record(None, Op::Other, true);
        assert!(s.changed());
        assert_eq!(s.count(1, Op::PageFault), 184);
        assert_eq!(s.refused(1), 1);
        let mut lines = Vec::new();
        s.report(|a| lines.push(a.to_string()));
        assert_eq!(
            lines,
            [
                "served: no vm: requests=1 other=1 refused=1",
                "served: vm 1: requests=185 faults=184 request_device=1 refused=1",
                "served: vm 3: requests=1 put_chars=1 refused=0",
            ]
        );
        assert!(!s.changed());
        // Out-of-range slots count as "no vm".
        s.record(Some(MAX_VM + 3), Op::Locator, false);
        assert_eq!(s.count(0, Op::Locator), 1);
        let mut all = String::new();
        s.report(|a| all.push_str(&a.to_string()));
        assert!(all.contains("served: no vm: requests=2 locator=1 other=1"));
    }

    #[test]
    fn own_time_is_a_mean_per_kind_and_reported_after_the_vms() {
        let mut s = Served::default();
        s.record(Some(1), Op::PageFault, false);
        s.record_own(0xFFE6, 900);
        s.record_own(0xFFE2, 1100);
        s.record_own(0xFFA0, 1500);
        s.record_own(0x004E, 300);
        s.record_own(0x0204, 500);
        assert_eq!(s.own_mean_ns(Op::PageFault), Some(1000));
        assert_eq!(s.own_mean_ns(Op::Other), Some(400));
        assert_eq!(s.own_mean_ns(Op::PutChars), None);
        let mut lines = Vec::new();
        s.report(|a| lines.push(a.to_string()));
        assert_eq!(
            lines,
            [
                "served: vm 1: requests=1 faults=1 refused=0",
                "served: own ns per request (receive to reply): faults=1000 request_pages=1500 other=400 tid_to_space_id=300",
            ]
        );
    }
}
