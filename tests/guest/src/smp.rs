//! `mode=smp`: what the first thread and the second thread (on another
//! processor) agree on, and the soak's bookkeeping, as safe code the host
//! tests run. The ia32 side is `rt/smp.rs`.

use crate::page_word;
use core::fmt;

/// Label of a go message (from one VM to another): start the soak.
pub const GO_LABEL: u16 = 0x5302;
/// The second thread's number in the VM's range (the first is 0).
pub const SECOND_THREAD: u32 = 1;
/// ExchangeRegisters control word that starts a thread of the own space:
/// set SP and IP, clear the halt flag, abort send and receive (x2-abi
/// §ExchangeRegisters, what libl4's `L4_Start_SpIp` uses).
pub const START_CONTROL: u32 = (3 << 3) | (1 << 8) | 6;
/// Guest-physical address from which the second thread measures (above
/// the first thread's pages, below a wedge installed at 8 MB).
pub const SECOND_MEASURE_FROM: u32 = 0x40_0000;
/// Where each thread's soak pages start: the first thread's, the second's.
pub const SOAK_FROM: [u32; 2] = [0x20_0000, 0x60_0000];
/// Pages each thread cycles through in the soak.
pub const SOAK_PAGES: usize = 32;

/// The pattern salt of one thread of one VM: different for every slot
/// and thread, so a frame of another VM (or of the other thread) reads
/// wrong.
pub fn thread_salt(slot: u32, thread: u32) -> u32 {
    0x3c00_0000 ^ (slot << 16) ^ (thread << 12)
}

/// The word a soak round `round` stores at the start of guest-physical
/// page `gp`.
pub fn soak_value(gp: u32, salt: u32, round: u32) -> u32 {
    page_word(gp, salt.wrapping_add(round.wrapping_mul(0x9e37_79b9)))
}

/// What a soak found: every fault and every request_pages is one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoakTally {
    /// Rounds done (one page fault and one request_pages each).
    pub rounds: u32,
    /// Words that read other than last written (after the fault, or
    /// through the mapping request_pages gave).
    pub wrong: u32,
    /// request_pages answered with anything but the page's map item.
    pub refused: u32,
    /// request_pages without an answer in time (an IPC error).
    pub lost: u32,
    /// Virtual ns (TSC under -icount) at the start and the end.
    pub start_tsc: u64,
    /// See `start_tsc`.
    pub end_tsc: u64,
}

impl SoakTally {
    /// Requests the monitor served at least: a fault and a request_pages
    /// per round (a read fault and then a write fault where the monitor
    /// maps read-only first).
    pub fn requests(&self) -> u64 {
        2 * u64::from(self.rounds)
    }

    /// Virtual ns per round.
    pub fn ns_per_round(&self) -> u64 {
        self.end_tsc.saturating_sub(self.start_tsc) / u64::from(self.rounds.max(1))
    }

    /// Nothing went wrong.
    pub fn clean(&self) -> bool {
        self.wrong == 0 && self.refused == 0 && self.lost == 0
    }
}

impl fmt::Display for SoakTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "smp soak: rounds={} requests={} wrong={} refused={} lost={} ns_per_round={} start_tsc={} end_tsc={}",
            self.rounds,
            self.requests(),
            self.wrong,
            self.refused,
            self.lost,
            self.ns_per_round(),
            self.start_tsc,
            self.end_tsc
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn salts_and_values_differ_per_vm_thread_and_round() {
        let salts = [
            thread_salt(1, 0),
            thread_salt(1, 1),
            thread_salt(2, 0),
            thread_salt(2, 1),
        ];
        for (i, a) in salts.iter().enumerate() {
            for b in &salts[i + 1..] {
                assert_ne!(soak_value(0x20_0000, *a, 5), soak_value(0x20_0000, *b, 5));
            }
        }
        let s = thread_salt(1, 0);
        assert_ne!(soak_value(0x20_0000, s, 1), soak_value(0x20_0000, s, 2));
        assert_ne!(soak_value(0x20_0000, s, 1), soak_value(0x20_1000, s, 1));
        assert_eq!(START_CONTROL, 0x11e);
    }

    #[test]
    fn tally_line_is_what_the_scenario_parses() {
        let t = SoakTally {
            rounds: 10,
            wrong: 0,
            refused: 1,
            lost: 0,
            start_tsc: 1000,
            end_tsc: 6000,
        };
        assert!(!t.clean());
        assert_eq!(
            format!("{t}"),
            "smp soak: rounds=10 requests=20 wrong=0 refused=1 lost=0 ns_per_round=500 start_tsc=1000 end_tsc=6000"
        );
    }
}
