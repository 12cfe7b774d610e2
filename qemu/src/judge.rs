//! The verdict on a run, from what the serial console printed and when.
//!
//! A run passes only on positive evidence: the kernel banner within the boot
//! timeout, then the success sentinel. Every other ending has its own
//! verdict and exit code, so CI logs say *how* a run went wrong.

use std::collections::VecDeque;
use std::time::Duration;

/// What a run must (and must not) print, and how long it may take.
#[derive(Clone, Debug)]
pub struct Expect {
    /// Start of the kernel's first line (after colour codes are removed).
    pub banner: String,
    /// A line containing this passes the run (after `successes` of them).
    pub success: String,
    /// How many success lines are needed (0: none, the run passes on
    /// `required` alone, as for a monitor that prints no sentinel).
    pub successes: usize,
    /// Lines that must also appear, in this order (each a substring of a
    /// line after the banner), before the run passes: guest output that
    /// comes after the monitor's sentinel, or stands in for it.
    pub required: Vec<String>,
    /// A line containing this fails the run.
    pub failure: String,
    /// The banner must appear within this time.
    pub boot_timeout: Duration,
    /// Longest silence between two lines.
    pub idle_timeout: Duration,
    /// Longest run.
    pub hard_timeout: Duration,
    /// Bytes to type on the serial line during the run (not judged; see
    /// [`crate::run::InputStep`]). Empty: nothing is sent, stdin is closed.
    pub input: Vec<crate::run::InputStep>,
}

/// Pistachio's banner line starts with this.
pub const PISTACHIO_BANNER: &str = "L4Ka::Pistachio - ";
/// The kernel debugger announces itself with lines starting like this.
pub const KDB_ENTERED: &str = "--- \"";

impl Default for Expect {
    fn default() -> Self {
        Expect {
            banner: PISTACHIO_BANNER.into(),
            success: roottask::SUCCESS_SENTINEL.into(),
            successes: 1,
            required: Vec::new(),
            failure: roottask::FAILURE_SENTINEL.into(),
            boot_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            hard_timeout: Duration::from_secs(300),
            input: Vec::new(),
        }
    }
}

/// Which clock ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    /// No kernel banner in time: QEMU, kickstart or the kernel did not start.
    Boot,
    /// Nothing printed for too long: something hangs.
    Idle,
    /// The whole run took too long.
    Hard,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The success sentinel appeared (as often as required).
    Pass,
    /// The failure sentinel appeared; the line before it says why.
    Fail {
        /// The last lines before the sentinel.
        context: Vec<String>,
    },
    /// The kernel debugger was entered (a kernel-detected fault or a KDB stop).
    KernelDebugger {
        /// The debugger's message line.
        line: String,
    },
    /// A second kernel banner: the machine rebooted.
    Reboot,
    /// A clock ran out.
    Timeout(TimeoutKind),
    /// QEMU ended before a verdict.
    Exited {
        /// Its exit code, if any.
        code: Option<i32>,
    },
}

impl Verdict {
    /// The process exit code the tool uses for this verdict.
    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail { .. } => 1,
            Verdict::KernelDebugger { .. } => 2,
            Verdict::Reboot => 3,
            Verdict::Timeout(TimeoutKind::Boot) => 4,
            Verdict::Timeout(TimeoutKind::Idle) => 5,
            Verdict::Timeout(TimeoutKind::Hard) => 6,
            Verdict::Exited { .. } => 7,
        }
    }
}

/// Exit code when the run could not be set up (staging, spawning QEMU).
pub const EXIT_SETUP_ERROR: i32 = 8;
/// Exit code when the run was skipped (no Pistachio build); as automake's.
pub const EXIT_SKIP: i32 = 77;

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Pass => {
                f.write_str("pass: the success sentinel and every expected line were printed")
            }
            Verdict::Fail { context } => {
                write!(f, "fail: failure sentinel seen")?;
                if let Some(last) = context.last() {
                    write!(f, " after \"{last}\"")?;
                }
                Ok(())
            }
            Verdict::KernelDebugger { line } => write!(f, "fail: kernel debugger entered: {line}"),
            Verdict::Reboot => f.write_str("fail: a second kernel banner (unexpected reboot)"),
            Verdict::Timeout(TimeoutKind::Boot) => {
                f.write_str("timeout: no kernel banner within the boot timeout")
            }
            Verdict::Timeout(TimeoutKind::Idle) => {
                f.write_str("timeout: no output within the idle timeout")
            }
            Verdict::Timeout(TimeoutKind::Hard) => {
                f.write_str("timeout: the run exceeded the hard timeout")
            }
            Verdict::Exited { code } => {
                write!(f, "fail: QEMU exited before a verdict (code {code:?})")
            }
        }
    }
}

/// Remove ANSI colour sequences and carriage returns.
pub fn clean_line(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Watches a run line by line.
#[derive(Debug)]
pub struct Judge {
    expect: Expect,
    banners: usize,
    successes: usize,
    required_seen: usize,
    last_line_at: Duration,
    context: VecDeque<String>,
}

impl Judge {
    /// Lines kept for the failure context.
    const CONTEXT: usize = 8;

    /// A judge for `expect`.
    pub fn new(expect: Expect) -> Judge {
        Judge {
            expect,
            banners: 0,
            successes: 0,
            required_seen: 0,
            last_line_at: Duration::ZERO,
            context: VecDeque::new(),
        }
    }

    /// The kernel banner has been seen.
    pub fn booted(&self) -> bool {
        self.banners > 0
    }

    /// A line arrived `at` after the start of the run.
    pub fn line(&mut self, raw: &str, at: Duration) -> Option<Verdict> {
        let line = clean_line(raw);
        self.last_line_at = at;
        if line.starts_with(&self.expect.banner) {
            self.banners += 1;
            if self.banners > 1 {
                return Some(Verdict::Reboot);
            }
        }
        if line.contains(&self.expect.failure) {
            return Some(Verdict::Fail {
                context: self.context.iter().cloned().collect(),
            });
        }
        let mut was_required = false;
        if self.booted() {
            if let Some(next) = self.expect.required.get(self.required_seen) {
                if line.contains(next.as_str()) {
                    self.required_seen += 1;
                    was_required = true;
                }
            }
        }
        // A debugger entry fails the run unless it is the line expected next
        // (a scenario whose guest stops the machine on purpose).
        if line.starts_with(KDB_ENTERED) && !was_required {
            return Some(Verdict::KernelDebugger { line });
        }
        if self.booted() {
            if self.expect.successes > 0 && line.contains(&self.expect.success) {
                self.successes += 1;
            }
            if self.successes >= self.expect.successes
                && self.required_seen == self.expect.required.len()
                && (self.expect.successes > 0 || !self.expect.required.is_empty())
            {
                return Some(Verdict::Pass);
            }
        }
        if self.context.len() == Self::CONTEXT {
            self.context.pop_front();
        }
        self.context.push_back(line);
        self.check_clocks(at)
    }

    /// Time passed without a line; `now` is the time since the start.
    pub fn tick(&mut self, now: Duration) -> Option<Verdict> {
        self.check_clocks(now)
    }

    fn check_clocks(&self, now: Duration) -> Option<Verdict> {
        if now >= self.expect.hard_timeout {
            Some(Verdict::Timeout(TimeoutKind::Hard))
        } else if !self.booted() && now >= self.expect.boot_timeout {
            Some(Verdict::Timeout(TimeoutKind::Boot))
        } else if now.saturating_sub(self.last_line_at) >= self.expect.idle_timeout {
            Some(Verdict::Timeout(TimeoutKind::Idle))
        } else {
            None
        }
    }

    /// The required lines not seen yet (for a failure report).
    pub fn missing(&self) -> &[String] {
        &self.expect.required[self.required_seen.min(self.expect.required.len())..]
    }

    /// QEMU's output ended before a verdict.
    pub fn exited(&self, code: Option<i32>) -> Verdict {
        Verdict::Exited { code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const BANNER: &str = "\x1b[1m\x1b[33mL4Ka::Pistachio - built on Nov 24 2026\x1b[0m\r";

    fn judge() -> Judge {
        Judge::new(Expect::default())
    }

    #[test]
    fn passes_only_after_banner_and_sentinel() {
        let mut j = judge();
        // A sentinel before the banner does not count (stale output).
        assert_eq!(j.line("resourcemon: INDICATE_SUCCESS\x06", S), None);
        assert_eq!(j.line(BANNER, 2 * S), None);
        assert!(j.booted());
        assert_eq!(
            j.line("resourcemon: INDICATE_SUCCESS\x06\r", 3 * S),
            Some(Verdict::Pass)
        );
    }

    #[test]
    fn echoed_sentinel_text_without_control_char_is_not_success() {
        let mut j = judge();
        j.line(BANNER, S);
        assert_eq!(j.line("println!(\"INDICATE_SUCCESS\")", 2 * S), None);
    }

    #[test]
    fn counts_required_successes() {
        let mut j = Judge::new(Expect {
            successes: 2,
            ..Expect::default()
        });
        j.line(BANNER, S);
        assert_eq!(j.line("INDICATE_SUCCESS\x06", 2 * S), None);
        assert_eq!(j.line("INDICATE_SUCCESS\x06", 3 * S), Some(Verdict::Pass));
    }

    #[test]
    fn required_lines_must_follow_in_order_even_after_the_sentinel() {
        let mut j = Judge::new(Expect {
            required: vec!["guest: one".into(), "guest: two".into()],
            ..Expect::default()
        });
        j.line(BANNER, S);
        // Out of order: "two" before "one" does not count.
        assert_eq!(j.line("guest: two", S), None);
        assert_eq!(j.line("INDICATE_SUCCESS\x06", 2 * S), None);
        assert_eq!(j.line("vm1: guest: one", 3 * S), None);
        assert_eq!(j.missing(), ["guest: two"]);
        assert_eq!(j.line("vm1: guest: two", 4 * S), Some(Verdict::Pass));
    }

    #[test]
    fn an_expected_debugger_entry_is_a_required_line() {
        let mut j = Judge::new(Expect {
            successes: 0,
            required: vec!["VM panic.".into(), "--- \"VM panic\"".into()],
            ..Expect::default()
        });
        j.line(BANNER, S);
        assert_eq!(j.line("VM panic.  Halting VM threads.", S), None);
        assert_eq!(j.line("--- \"VM panic\" ---", 2 * S), Some(Verdict::Pass));
        // Any other debugger entry still fails the run.
        let mut j = Judge::new(Expect {
            successes: 0,
            required: vec!["--- \"VM panic\"".into()],
            ..Expect::default()
        });
        j.line(BANNER, S);
        assert!(matches!(
            j.line("--- \"KD# page fault\" ---", 2 * S),
            Some(Verdict::KernelDebugger { .. })
        ));
    }

    #[test]
    fn without_a_sentinel_the_required_lines_decide() {
        let mut j = Judge::new(Expect {
            successes: 0,
            required: vec!["GUEST_PASS a".into()],
            ..Expect::default()
        });
        j.line(BANNER, S);
        assert_eq!(j.line("INDICATE_SUCCESS\x06", 2 * S), None);
        assert_eq!(j.line("guest a: GUEST_PASS a", 3 * S), Some(Verdict::Pass));
        // Nothing required at all never passes by itself.
        let mut j = Judge::new(Expect {
            successes: 0,
            ..Expect::default()
        });
        j.line(BANNER, S);
        assert_eq!(j.line("anything", 2 * S), None);
    }

    #[test]
    fn failure_sentinel_carries_context() {
        let mut j = judge();
        j.line(BANNER, S);
        j.line("resourcemon: fatal: boot info unusable", 2 * S);
        let v = j.line("resourcemon: INDICATE_FAILURE\x15", 3 * S).unwrap();
        assert_eq!(v.exit_code(), 1);
        assert!(v.to_string().contains("fatal: boot info unusable"), "{v}");
    }

    #[test]
    fn second_banner_is_a_reboot() {
        let mut j = judge();
        j.line(BANNER, S);
        // The monitor printing the version string mid-line is not a banner.
        assert_eq!(
            j.line("resourcemon: kernel: L4Ka::Pistachio - built on", 2 * S),
            None
        );
        assert_eq!(j.line(BANNER, 3 * S), Some(Verdict::Reboot));
    }

    #[test]
    fn kernel_debugger_entry_is_its_own_failure() {
        let mut j = judge();
        j.line(BANNER, S);
        let v = j
            .line("--- \"KD# user touches kernel area\" ---", 2 * S)
            .unwrap();
        assert_eq!(
            v,
            Verdict::KernelDebugger {
                line: "--- \"KD# user touches kernel area\" ---".into()
            }
        );
        assert_eq!(v.exit_code(), 2);
    }

    #[test]
    fn each_clock_has_its_verdict() {
        let e = Expect {
            boot_timeout: 10 * S,
            idle_timeout: 20 * S,
            hard_timeout: 100 * S,
            ..Expect::default()
        };
        let mut j = Judge::new(e.clone());
        assert_eq!(j.tick(9 * S), None);
        assert_eq!(j.tick(10 * S), Some(Verdict::Timeout(TimeoutKind::Boot)));

        let mut j = Judge::new(e.clone());
        j.line(BANNER, 5 * S);
        assert_eq!(j.tick(24 * S), None);
        assert_eq!(j.tick(25 * S), Some(Verdict::Timeout(TimeoutKind::Idle)));

        let mut j = Judge::new(e);
        j.line(BANNER, S);
        for t in (6..100).step_by(5) {
            assert_eq!(j.line("noise", t * S), None);
        }
        assert_eq!(
            j.line("noise", 100 * S),
            Some(Verdict::Timeout(TimeoutKind::Hard))
        );
        assert_eq!(Verdict::Timeout(TimeoutKind::Hard).exit_code(), 6);
    }

    #[test]
    fn exit_codes_are_distinct() {
        let all = [
            Verdict::Pass,
            Verdict::Fail { context: vec![] },
            Verdict::KernelDebugger {
                line: String::new(),
            },
            Verdict::Reboot,
            Verdict::Timeout(TimeoutKind::Boot),
            Verdict::Timeout(TimeoutKind::Idle),
            Verdict::Timeout(TimeoutKind::Hard),
            Verdict::Exited { code: None },
        ];
        let mut codes: Vec<i32> = all.iter().map(Verdict::exit_code).collect();
        codes.extend([EXIT_SETUP_ERROR, EXIT_SKIP]);
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n);
    }

    #[test]
    fn colour_codes_are_removed() {
        assert_eq!(clean_line(BANNER), "L4Ka::Pistachio - built on Nov 24 2026");
    }
}
