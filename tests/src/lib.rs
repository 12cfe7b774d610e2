//! Scenario support: build a boot, run it, read the facts the monitor printed.
//!
//! Scenarios assert on the monitor's report lines (format defined in
//! `roottask::bootlog`), never on "it did not crash".

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use qemu::{Boot, Expect, Module, Pistachio, RunOutcome, Verdict};

pub mod compare;
pub mod fixtures;
pub mod suite;

/// A boot-info record as the monitor printed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrintedRecord {
    /// Record index.
    pub index: usize,
    /// Record type number.
    pub kind: u64,
    /// Start address, for records with a region.
    pub start: Option<u64>,
    /// Size in bytes, for records with a region.
    pub size: Option<u64>,
    /// Command line, for records with one (everything up to the last quote).
    pub cmdline: Option<String>,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    line[at..].split(' ').next()
}

fn number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Parse a `bootinfo: record ...` line.
pub fn parse_record(line: &str) -> Option<PrintedRecord> {
    let rest = line.strip_prefix("bootinfo: record ")?;
    let index = rest.split(' ').next()?.parse().ok()?;
    let cmdline = line.find(" cmdline=\"").map(|at| {
        let body = &line[at + 10..];
        body[..body.rfind('"').unwrap_or(body.len())].to_string()
    });
    let head = line.split(" cmdline=\"").next()?;
    Some(PrintedRecord {
        index,
        kind: number(field(head, "type")?)?,
        start: field(head, "start").and_then(number),
        size: field(head, "size").and_then(number),
        cmdline,
    })
}

/// All records the monitor printed, in order.
pub fn printed_records<'a>(monitor_lines: impl Iterator<Item = &'a str>) -> Vec<PrintedRecord> {
    monitor_lines.filter_map(parse_record).collect()
}

/// `key=value` from the first monitor line starting with `prefix`.
pub fn printed_value<'a>(
    mut monitor_lines: impl Iterator<Item = &'a str>,
    prefix: &str,
    key: &str,
) -> Option<u64> {
    monitor_lines
        .find(|l| l.starts_with(prefix))
        .and_then(|l| field(&format!(" {l}"), key).and_then(number))
}

/// Virtual microseconds from a `time: <what> at <n> us` line.
pub fn printed_time<'a>(
    mut monitor_lines: impl Iterator<Item = &'a str>,
    what: &str,
) -> Option<u64> {
    let prefix = format!("time: {what} at ");
    let l = monitor_lines.find(|l| l.starts_with(&prefix))?;
    l[prefix.len()..].split(' ').next()?.parse().ok()
}

/// The `tsc=` value of a `time: <what> at ...` line: virtual nanoseconds
/// since reset under `-icount shift=0`.
pub fn printed_tsc<'a>(
    mut monitor_lines: impl Iterator<Item = &'a str>,
    what: &str,
) -> Option<u64> {
    let prefix = format!("time: {what} at ");
    let l = monitor_lines.find(|l| l.starts_with(&prefix))?;
    field(l, "tsc").and_then(number)
}

/// Where scenario runs keep their directories (kept for repeating by hand).
pub fn runs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/qemu-runs")
}

/// How a scenario ended.
#[derive(Debug)]
pub enum ScenarioResult {
    /// Passed every assertion.
    Passed(String),
    /// Failed, with why.
    Failed(String),
    /// Could not run here.
    Skipped(String),
}

/// A scenario's boot, before modules are added: the standard boot for this build.
pub fn standard_boot(p: &Pistachio, roottask_args: &str) -> Boot {
    Boot::standard(p, Path::new(resourcemon::ROOTTASK_ELF), roottask_args)
}

/// Write `bytes` as a module file for scenario `name`.
pub fn module_file(
    scenario: &str,
    file: &str,
    bytes: &[u8],
    args: &str,
) -> std::io::Result<Module> {
    let dir = runs_dir().join(scenario).join("files");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(file);
    std::fs::write(&path, bytes)?;
    Ok(Module::new(path, args))
}

/// How many QEMU processes run at once (`BOOT_JOBS`, default 2: one per
/// core of the CI machine; virtual-time figures do not depend on it).
pub fn boot_jobs() -> usize {
    std::env::var("BOOT_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(2)
}

/// Free QEMU slots (see [`boot_jobs`]).
static QEMU_SLOTS: (Mutex<Option<usize>>, Condvar) = (Mutex::new(None), Condvar::new());

/// Run QEMU with a slot held, so at most [`boot_jobs`] run at once.
fn run_bounded(staged: &qemu::Staged, expect: Expect) -> Result<RunOutcome, qemu::RunError> {
    let (lock, cv) = &QEMU_SLOTS;
    {
        let mut free = lock.lock().unwrap_or_else(|e| e.into_inner());
        free.get_or_insert_with(boot_jobs);
        while *free == Some(0) {
            free = cv.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        if let Some(n) = free.as_mut() {
            *n -= 1;
        }
    }
    let out = qemu::run(staged, expect);
    let mut free = lock.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = free.as_mut() {
        *n += 1;
    }
    cv.notify_one();
    out
}

/// Stage and run `boot` without judging the verdict (the caller does).
pub fn run_any(scenario: &str, boot: &Boot, expect: Expect) -> Result<RunOutcome, String> {
    let staged = boot
        .stage(&runs_dir().join(scenario).join("run"))
        .map_err(|e| e.to_string())?;
    run_bounded(&staged, expect).map_err(|e| e.to_string())
}

/// Why a run did not pass: the verdict, what never appeared, the log's tail.
pub fn explain(outcome: &RunOutcome) -> String {
    let tail: Vec<&String> = outcome.lines.iter().rev().take(15).collect();
    let tail: Vec<&str> = tail.into_iter().rev().map(String::as_str).collect();
    let missing = if outcome.missing.is_empty() {
        String::new()
    } else {
        format!("; never printed {:?}", outcome.missing)
    };
    format!(
        "{} (exit code {}){missing}; log {}; last lines:\n    {}",
        outcome.verdict,
        outcome.verdict.exit_code(),
        outcome.serial_log.display(),
        tail.join("\n    ")
    )
}

/// Stage and run `boot`, requiring the verdict `Pass`.
pub fn run_boot(scenario: &str, boot: &Boot, expect: Expect) -> Result<RunOutcome, String> {
    let outcome = run_any(scenario, boot, expect)?;
    if outcome.verdict != Verdict::Pass {
        return Err(explain(&outcome));
    }
    Ok(outcome)
}

/// Default clocks for scenarios (generous: software emulation with -icount).
pub fn scenario_expect() -> Expect {
    Expect {
        boot_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(90),
        hard_timeout: Duration::from_secs(300),
        ..Expect::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_record_lines() {
        let r = parse_record(
            "bootinfo: record 3 type=0x1 start=0x00896000 size=10000 cmdline=\"mod2 a=\"x\" b\"",
        )
        .unwrap();
        assert_eq!(
            r,
            PrintedRecord {
                index: 3,
                kind: 1,
                start: Some(0x896000),
                size: Some(10000),
                cmdline: Some("mod2 a=\"x\" b".into())
            }
        );
        let r = parse_record("bootinfo: record 4 type=0x102 mbi=0x809000").unwrap();
        assert_eq!((r.kind, r.size, r.cmdline), (0x102, None, None));
        assert_eq!(parse_record("memory: total=1"), None);
    }

    #[test]
    fn reads_values_and_times() {
        let lines = [
            "kip: api=0x84050000",
            "memory: total=250605568 (244732 KiB) pages",
            "time: memory total at 8668675 us tsc=230950285",
        ];
        assert_eq!(
            printed_value(lines.iter().copied(), "memory:", "total"),
            Some(250_605_568)
        );
        assert_eq!(
            printed_value(lines.iter().copied(), "kip:", "api"),
            Some(0x8405_0000)
        );
        assert_eq!(
            printed_time(lines.iter().copied(), "memory total"),
            Some(8_668_675)
        );
        assert_eq!(
            printed_tsc(lines.iter().copied(), "memory total"),
            Some(230_950_285)
        );
    }
}

/// The test guest as a VM module with `args` (its name in the run
/// directory is `test-guest`; several VMs may share the file).
pub fn guest(args: &str) -> Module {
    Module::new(resourcemon::TEST_GUEST_ELF, args).named("test-guest")
}

/// The data pattern the test guest checks: byte j of module i is
/// `(j * 7 + seed + i) % 251`.
pub fn pattern(seed: u32, index: u32, size: usize) -> Vec<u8> {
    (0..size as u32)
        .map(|j| ((j.wrapping_mul(7) + seed + index) % 251) as u8)
        .collect()
}

/// Names from the guests' `GUEST_PASS <name>` lines, in order.
pub fn guest_passes(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let at = l.find("GUEST_PASS ")? + "GUEST_PASS ".len();
            Some(l[at..].trim_end_matches(['\x06', ' ']).to_string())
        })
        .collect()
}

/// `(count, ns)` from guest lines `touched N pages, T ns per fault` or
/// `requested M pages, T ns per request` (`what` = "touched" / "requested").
pub fn guest_figures(lines: &[String], what: &str) -> Vec<(u64, u64)> {
    let key = format!(": {what} ");
    lines
        .iter()
        .filter_map(|l| {
            let rest = &l[l.find(&key)? + key.len()..];
            let mut w = rest.split([' ', ',']).filter(|s| !s.is_empty());
            let n = w.next()?.parse().ok()?;
            let _pages = w.next()?;
            let ns = w.next()?.parse().ok()?;
            Some((n, ns))
        })
        .collect()
}

/// The monitor's summary `vms: started=S failed=F all init complete tsc=T`.
pub fn vm_summary<'a>(monitor_lines: impl Iterator<Item = &'a str>) -> Option<(u64, u64, u64)> {
    let l = monitor_lines.into_iter().find(|l| l.starts_with("vms: "))?;
    let l = format!(" {l}");
    Some((
        number(field(&l, "started")?)?,
        number(field(&l, "failed")?)?,
        number(field(&l, "tsc")?)?,
    ))
}

/// Position of the first monitor line starting with `prefix`.
pub fn position<'a>(monitor_lines: impl Iterator<Item = &'a str>, prefix: &str) -> Option<usize> {
    monitor_lines
        .into_iter()
        .position(|l| l.starts_with(prefix))
}

#[cfg(test)]
mod guest_line_tests {
    use super::*;

    #[test]
    fn reads_guest_lines() {
        let lines: Vec<String> = [
            "vm1: guest a: touched 64 pages, 2108 ns per fault",
            "vm1: guest a: requested 16 pages, 2377 ns per request",
            "vm1: guest a: GUEST_PASS a\x06",
            "vm2: guest b: GUEST_PASS b\x06",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(guest_passes(&lines), ["a", "b"]);
        assert_eq!(guest_figures(&lines, "touched"), [(64, 2108)]);
        assert_eq!(guest_figures(&lines, "requested"), [(16, 2377)]);
        let mon = [
            "vm 1: started",
            "vms: started=2 failed=1 all init complete tsc=273296144",
        ];
        assert_eq!(vm_summary(mon.iter().copied()), Some((2, 1, 273_296_144)));
        assert_eq!(position(mon.iter().copied(), "vms:"), Some(1));
        assert_eq!(pattern(0x5a, 1, 3), [91, 98, 105]);
    }
}

/// `key=value` (a number) from the first monitor line starting with `prefix`.
pub fn monitor_value<'a>(
    mut monitor_lines: impl Iterator<Item = &'a str>,
    prefix: &str,
    key: &str,
) -> Option<u64> {
    let l = monitor_lines.find(|l| l.starts_with(prefix))?;
    field(&format!(" {l}"), key).and_then(number)
}

#[cfg(test)]
mod monitor_value_tests {
    use super::*;

    #[test]
    fn reads_heap_and_stats() {
        let lines = [
            "boot complete; heap used=4980 of 1048576; starting VMs",
            "vms: started=2 failed=0 all init complete tsc=5 heap used=4980 of 1048576 requests=300123 faults=40 pages=10 refused=7",
        ];
        assert_eq!(
            monitor_value(lines.iter().copied(), "boot complete", "used"),
            Some(4980)
        );
        assert_eq!(
            monitor_value(lines.iter().copied(), "vms:", "used"),
            Some(4980)
        );
        assert_eq!(
            monitor_value(lines.iter().copied(), "vms:", "requests"),
            Some(300_123)
        );
        assert_eq!(
            monitor_value(lines.iter().copied(), "vms:", "refused"),
            Some(7)
        );
    }
}

/// `(calls, ns)` from guest lines `baseline: N null calls, T ns per call`.
pub fn guest_baselines(lines: &[String]) -> Vec<(u64, u64)> {
    lines
        .iter()
        .filter_map(|l| {
            let rest = &l[l.find(": baseline: ")? + ": baseline: ".len()..];
            let mut w = rest.split([' ', ',']).filter(|s| !s.is_empty());
            let n = w.next()?.parse().ok()?;
            let ns = w.nth(2)?.parse().ok()?;
            Some((n, ns))
        })
        .collect()
}

#[cfg(test)]
mod baseline_tests {
    #[test]
    fn reads_baselines() {
        let lines = ["vm1: guest a: baseline: 16 null calls, 1850 ns per call".to_string()];
        assert_eq!(super::guest_baselines(&lines), [(16, 1850)]);
    }
}

/// The monitor's own mean ns for request kind `kind` (`faults`,
/// `request_pages`, `other`, ...) from its last `served: own ns per
/// request` line: the time from the receive's return to the reply.
pub fn monitor_own_ns<'a>(monitor_lines: impl Iterator<Item = &'a str>, kind: &str) -> Option<u64> {
    let line = monitor_lines
        .filter(|l| l.starts_with("served: own ns per request"))
        .last()?;
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(kind)?.strip_prefix('=')?.parse().ok())
}

/// One row of the floor table: a request kind as the guest measured it
/// (round trip) beside the monitor's own part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Floor {
    /// The request kind.
    pub kind: &'static str,
    /// Guest-measured round trip (virtual ns).
    pub guest_ns: u64,
    /// The monitor's own part, receive to reply (virtual ns).
    pub own_ns: u64,
}

/// Floor rows recorded by the scenarios, for the suite's closing table.
static FLOOR: Mutex<Vec<(String, Floor)>> = Mutex::new(Vec::new());

/// Keep `rows` of `scenario` for the suite's floor table.
pub fn record_floor(scenario: &str, rows: &[Floor]) {
    let mut all = FLOOR.lock().unwrap_or_else(|e| e.into_inner());
    all.extend(rows.iter().map(|r| (scenario.to_string(), r.clone())));
}

/// Every recorded floor row, sorted by scenario name.
pub fn recorded_floor() -> Vec<(String, Floor)> {
    let mut v = FLOOR.lock().unwrap_or_else(|e| e.into_inner()).clone();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[cfg(test)]
mod own_ns_tests {
    #[test]
    fn reads_the_last_own_line() {
        let lines = [
            "served: own ns per request (receive to reply): faults=900",
            "served: vm 1: requests=3 faults=3 refused=0",
            "served: own ns per request (receive to reply): faults=812 request_pages=1003 other=240",
        ];
        let own = |k| super::monitor_own_ns(lines.iter().copied(), k);
        assert_eq!(own("faults"), Some(812));
        assert_eq!(own("request_pages"), Some(1003));
        assert_eq!(own("other"), Some(240));
        assert_eq!(own("put_chars"), None);
    }
}

/// Side-by-side figures recorded by the scenarios, for the suite's table.
static FIGURES: Mutex<Vec<(String, compare::Figure)>> = Mutex::new(Vec::new());

/// Keep `figures` of `scenario` for the suite's closing table: the per
/// operation figures and the first and last VM's times (the rest stay in
/// the scenario's own report).
pub fn record_figures(scenario: &str, figures: &[compare::Figure]) {
    let keep = figures
        .iter()
        .filter(|f| !f.what.starts_with("reset to vm ") || f.what.starts_with("reset to vm 1 "));
    // (`vm 1 entry to last init complete` is kept: it starts with "vm".)
    let mut all = FIGURES.lock().unwrap_or_else(|e| e.into_inner());
    all.extend(keep.map(|f| (scenario.to_string(), f.clone())));
}

/// Every recorded figure, sorted by scenario name.
pub fn recorded_figures() -> Vec<(String, compare::Figure)> {
    let mut v = FIGURES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The `ns` of guest `name`'s line `touched N pages, T ns per fault`
/// (`what` = "touched") or `requested M pages, T ns per request`
/// ("requested"), or `baseline: N null calls, T ns per call`
/// ("baseline:"). Only that guest's lines: `guest s@cpu1` is not `guest s`.
pub fn named_guest_figure(lines: &[String], name: &str, what: &str) -> Option<u64> {
    let key = format!("guest {name}: {what} ");
    lines.iter().find_map(|l| {
        let rest = &l[l.find(&key)? + key.len()..];
        let mut w = rest.split([' ', ',']).filter(|s| !s.is_empty());
        w.nth(if what == "baseline:" { 3 } else { 2 })?.parse().ok()
    })
}

#[cfg(test)]
mod named_figure_tests {
    #[test]
    fn reads_one_guests_figures() {
        let lines: Vec<String> = [
            "vm1: guest s: touched 64 pages, 2108 ns per fault",
            "vm1: guest s@cpu1: touched 64 pages, 3108 ns per fault",
            "vm1: guest s@cpu1: requested 16 pages, 2377 ns per request",
            "vm1: guest s: baseline: 16 null calls, 1850 ns per call",
        ]
        .map(String::from)
        .to_vec();
        let f = |n, w| super::named_guest_figure(&lines, n, w);
        assert_eq!(f("s", "touched"), Some(2108));
        assert_eq!(f("s@cpu1", "touched"), Some(3108));
        assert_eq!(f("s@cpu1", "requested"), Some(2377));
        assert_eq!(f("s", "requested"), None);
        assert_eq!(f("s", "baseline:"), Some(1850));
    }
}
