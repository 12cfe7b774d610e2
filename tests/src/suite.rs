//! Running the boot scenarios: selection, fixtures, expected failures,
//! parallel boots and the summary.
//!
//! A scenario names the fixtures it needs ([`Needs`]) and, when it fails
//! today because of a known divergence, the issue it waits for
//! ([`Scenario::waits_for`]). Such a scenario that fails is reported as
//! "expected to fail" (never as a pass); one that passes is a failure
//! ("unexpectedly passed"), so the marker is removed when the fix lands.

use std::time::{Duration, Instant};

use crate::fixtures::{Fixtures, Found, Needs};

/// A scenario's body: a summary on success, why on failure.
pub type Body = fn(&Found<'_>) -> Result<String, String>;

/// One boot scenario.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// Its name (`BOOT_SCENARIOS` selects by it).
    pub name: &'static str,
    /// What it needs besides Pistachio.
    pub needs: Needs,
    /// The issue and divergence it waits for, if it is expected to fail.
    pub waits_for: Option<&'static str>,
    /// The body.
    pub run: Body,
}

/// How one scenario ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Passed.
    Passed(String),
    /// Failed (including an unexpected pass of an expected failure).
    Failed(String),
    /// A fixture is missing and fixtures are not required.
    Skipped(String),
    /// Failed as expected, waiting for the named issue.
    ExpectedFailure {
        /// What it waits for.
        waits_for: &'static str,
        /// How it failed.
        why: String,
    },
}

/// Pick the scenarios named in `only` (all when `None`); an unknown name is
/// an error listing the known ones.
pub fn select<'s>(all: &'s [Scenario], only: Option<&str>) -> Result<Vec<&'s Scenario>, String> {
    let Some(only) = only else {
        return Ok(all.iter().collect());
    };
    let names: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err("BOOT_SCENARIOS is set but names no scenario".into());
    }
    let unknown: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !all.iter().any(|s| s.name == *n))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = all.iter().map(|s| s.name).collect();
        return Err(format!(
            "BOOT_SCENARIOS names unknown scenario(s) {unknown:?}; known: {}",
            known.join(",")
        ));
    }
    Ok(all.iter().filter(|s| names.contains(&s.name)).collect())
}

/// Decide a scenario's outcome from the fixtures and its result.
pub fn judge(
    s: &Scenario,
    fixtures: &Fixtures,
    require: bool,
    run: impl FnOnce(&Found<'_>) -> Result<String, String>,
) -> Outcome {
    let found = match fixtures.for_needs(s.needs) {
        Ok(f) => f,
        Err(e) if require => return Outcome::Failed(format!("{e} (REQUIRE_PISTACHIO=1)")),
        Err(e) => return Outcome::Skipped(e),
    };
    match (run(&found), s.waits_for) {
        (Ok(summary), None) => Outcome::Passed(summary),
        (Err(why), None) => Outcome::Failed(why),
        (Err(why), Some(waits_for)) => Outcome::ExpectedFailure { waits_for, why },
        (Ok(summary), Some(waits_for)) => Outcome::Failed(format!(
            "unexpectedly passed (marked as waiting for {waits_for}; remove the marker): {summary}"
        )),
    }
}

/// Counts of a finished suite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Failed as expected.
    pub expected_failures: usize,
}

impl Totals {
    /// Add one outcome.
    pub fn add(&mut self, o: &Outcome) {
        match o {
            Outcome::Passed(_) => self.passed += 1,
            Outcome::Failed(_) => self.failed += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::ExpectedFailure { .. } => self.expected_failures += 1,
        }
    }

    /// The summary line. Expected failures are counted with the skipped
    /// ones in the `N passed, N failed, N skipped` form that CI reads (they
    /// are not passes), and named separately after it.
    pub fn line(&self) -> String {
        let mut s = format!(
            "boot scenarios: {} passed, {} failed, {} skipped",
            self.passed,
            self.failed,
            self.skipped + self.expected_failures
        );
        if self.expected_failures > 0 {
            s.push_str(&format!(
                " (of which {} expected to fail)",
                self.expected_failures
            ));
        }
        s
    }
}

/// One finished scenario.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Its name.
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time.
    pub elapsed: Duration,
}

/// Run `scenarios` on `workers` threads (the QEMU processes themselves are
/// bounded separately by [`crate::boot_jobs`]); `done` sees each as it
/// finishes. Returns them in table order.
pub fn run_all(
    scenarios: &[&Scenario],
    fixtures: &Fixtures,
    require: bool,
    workers: usize,
    done: &(dyn Fn(&Finished) + Sync),
) -> Vec<Finished> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(s) = scenarios.get(i) else { break };
                let t = Instant::now();
                let outcome = judge(s, fixtures, require, |f| {
                    // A panicking scenario is a failed scenario, not a dead suite.
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (s.run)(f)))
                        .unwrap_or_else(|_| Err("the scenario panicked".into()))
                });
                let f = Finished {
                    name: s.name,
                    outcome,
                    elapsed: t.elapsed(),
                };
                done(&f);
                results
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, f));
            });
        }
    });
    let mut v = results.into_inner().unwrap_or_else(|e| e.into_inner());
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, f)| f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use qemu::Pistachio;

    fn ok(_: &Found<'_>) -> Result<String, String> {
        Ok("fine".into())
    }
    fn bad(_: &Found<'_>) -> Result<String, String> {
        Err("broken".into())
    }

    const ALL: [Scenario; 3] = [
        Scenario {
            name: "a",
            needs: Needs { ..Needs::NONE },
            waits_for: None,
            run: ok,
        },
        Scenario {
            name: "b",
            needs: Needs {
                wedge: true,
                ..Needs::NONE
            },
            waits_for: None,
            run: ok,
        },
        Scenario {
            name: "c",
            needs: Needs { ..Needs::NONE },
            waits_for: Some("issue 10"),
            run: bad,
        },
    ];

    fn fixtures() -> Fixtures {
        Fixtures {
            pistachio: Ok(Pistachio {
                kickstart: "/k".into(),
                kernel: "/p".into(),
                sigma0: "/s".into(),
            }),
            wedge: Err("missing fixture /w/afterburn-wedge".into()),
            original: Err("missing fixture /o/resourcemon-debug".into()),
            grub2: Err("GRUB 2 image: grub-mkrescue not found".into()),
            grub_legacy: Ok(()),
            pistachio_smp: Err("missing fixture /s/ia32-kernel".into()),
        }
    }

    #[test]
    fn selection_refuses_unknown_names() {
        assert_eq!(select(&ALL, None).unwrap().len(), 3);
        let s = select(&ALL, Some("c,a")).unwrap();
        assert_eq!(s.iter().map(|s| s.name).collect::<Vec<_>>(), ["a", "c"]);
        let e = select(&ALL, Some("a,nope")).err().unwrap();
        assert!(e.contains("nope") && e.contains("known: a,b,c"), "{e}");
        assert!(select(&ALL, Some(" , ")).is_err());
    }

    #[test]
    fn missing_fixtures_skip_or_fail() {
        let f = fixtures();
        assert!(
            matches!(judge(&ALL[1], &f, false, ok), Outcome::Skipped(e) if e.contains("afterburn-wedge"))
        );
        assert!(
            matches!(judge(&ALL[1], &f, true, ok), Outcome::Failed(e) if e.contains("afterburn-wedge") && e.contains("REQUIRE"))
        );
        assert_eq!(judge(&ALL[0], &f, true, ok), Outcome::Passed("fine".into()));
    }

    #[test]
    fn expected_failures_are_not_passes() {
        let f = fixtures();
        let o = judge(&ALL[2], &f, true, bad);
        assert_eq!(
            o,
            Outcome::ExpectedFailure {
                waits_for: "issue 10",
                why: "broken".into()
            }
        );
        // Passing while marked expected-to-fail is a failure.
        assert!(
            matches!(judge(&ALL[2], &f, true, ok), Outcome::Failed(e) if e.contains("unexpectedly passed"))
        );
        let mut t = Totals::default();
        t.add(&o);
        t.add(&Outcome::Passed(String::new()));
        assert_eq!(
            t.line(),
            "boot scenarios: 1 passed, 0 failed, 1 skipped (of which 1 expected to fail)"
        );
    }

    #[test]
    fn runs_in_parallel_and_reports_in_table_order() {
        let f = fixtures();
        let sel = select(&ALL, None).unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let out = run_all(&sel, &f, false, 3, &|r| seen.lock().unwrap().push(r.name));
        assert_eq!(
            out.iter().map(|r| r.name).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(seen.lock().unwrap().len(), 3);
        assert!(matches!(out[1].outcome, Outcome::Skipped(_)));
    }
}
