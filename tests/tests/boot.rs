//! Boot scenarios on Pistachio in QEMU (harness = false: one summary line,
//! skipped scenarios counted as skipped).
//!
//! Without a Pistachio build every scenario reports "skipped: no Pistachio
//! build" and the process succeeds, unless `REQUIRE_PISTACHIO=1`, which
//! turns a skip into a failure (for machines that must have one).
//! `BOOT_SCENARIOS=name,name` runs a subset.

use qemu::Pistachio;
use tests::{
    module_file, printed_records, printed_tsc, printed_value, run_boot, scenario_expect,
    standard_boot, ScenarioResult,
};

type Scenario = fn(&Pistachio) -> Result<String, String>;

const SCENARIOS: &[(&str, Scenario)] = &[("first-boot", first_boot)];

/// The root task with two extra modules: the boot-info records it prints
/// must match the modules byte for byte, and it must take memory from sigma0.
fn first_boot(p: &Pistachio) -> Result<String, String> {
    let alpha: Vec<u8> = b"alpha module\n".to_vec();
    let beta: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let alpha_args = "vmstart vmsize=64M wedgeinstall=0x80000000";
    let beta_args = "console=ttyS0,115200  two  spaces \"quoted\"";
    let boot = standard_boot(p, "--verbose")
        .module(module_file("first-boot", "alpha", &alpha, alpha_args).map_err(|e| e.to_string())?)
        .module(module_file("first-boot", "beta", &beta, beta_args).map_err(|e| e.to_string())?);
    let out = run_boot("first-boot", &boot, scenario_expect())?;

    let records = printed_records(out.monitor_lines());
    let check = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
    // sigma0 and root task (SimpleExec), two modules, the multiboot copy.
    check(
        records.len() == 5,
        format!(
            "expected 5 boot-info records, got {}: {records:?}",
            records.len()
        ),
    )?;
    let kinds: Vec<u64> = records.iter().map(|r| r.kind).collect();
    check(
        kinds == [2, 2, 1, 1, 0x102],
        format!("record types {kinds:x?}"),
    )?;
    check(
        records[0].cmdline.as_deref() == Some("sigma0"),
        format!("sigma0 record: {:?}", records[0]),
    )?;
    check(
        records[1].cmdline.as_deref() == Some("roottask --verbose"),
        format!("root task record: {:?}", records[1]),
    )?;
    for (rec, name, args, len) in [
        (&records[2], "alpha", alpha_args, alpha.len()),
        (&records[3], "beta", beta_args, beta.len()),
    ] {
        let want = format!("{name} {args}");
        check(
            rec.cmdline.as_deref() == Some(want.as_str()),
            format!("{name}: command line {:?}, want {want:?}", rec.cmdline),
        )?;
        check(
            rec.size == Some(len as u64),
            format!("{name}: size {:?}, want {len}", rec.size),
        )?;
        check(
            rec.start.is_some_and(|s| s % 4096 == 0),
            format!("{name}: start {:?} not page aligned", rec.start),
        )?;
    }
    let modules = printed_value(out.monitor_lines(), "bootinfo: modules=", "modules");
    let modules = modules.or_else(|| {
        out.monitor_lines()
            .find_map(|l| l.strip_prefix("bootinfo: modules=")?.parse().ok())
    });
    check(modules == Some(2), format!("module count {modules:?}"))?;
    let total = printed_value(out.monitor_lines(), "memory:", "total").unwrap_or(0);
    check(total > 0, "memory total missing or zero".into())?;
    let entry = printed_tsc(out.monitor_lines(), "entry").ok_or("no entry time")?;
    let mem = printed_tsc(out.monitor_lines(), "memory total").ok_or("no memory-total time")?;
    check(
        mem > entry,
        format!("time went backwards: entry {entry}, memory total {mem}"),
    )?;
    Ok(format!(
        "{} records, memory total {} KiB; virtual time (icount ns): reset->entry {entry}, \
         entry->memory total {}, reset->memory total {mem}; {:.1}s wall",
        records.len(),
        total / 1024,
        mem - entry,
        out.elapsed.as_secs_f64()
    ))
}

fn main() {
    let only: Option<Vec<String>> = std::env::var("BOOT_SCENARIOS")
        .ok()
        .map(|s| s.split(',').map(String::from).collect());
    let require = std::env::var("REQUIRE_PISTACHIO").is_ok_and(|v| v == "1");
    let pistachio = Pistachio::from_env();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, scenario) in SCENARIOS {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        eprintln!("scenario {name} ...");
        let result = match &pistachio {
            Err(e) if require => ScenarioResult::Failed(format!("{e} (REQUIRE_PISTACHIO=1)")),
            Err(_) => ScenarioResult::Skipped("no Pistachio build".into()),
            Ok(p) => match scenario(p) {
                Ok(summary) => ScenarioResult::Passed(summary),
                Err(why) => ScenarioResult::Failed(why),
            },
        };
        match result {
            ScenarioResult::Passed(s) => {
                passed += 1;
                println!("scenario {name} ... ok: {s}");
            }
            ScenarioResult::Failed(s) => {
                failed += 1;
                println!("scenario {name} ... FAILED: {s}");
            }
            ScenarioResult::Skipped(s) => {
                skipped += 1;
                println!("scenario {name} ... skipped: {s}");
            }
        }
    }
    if let Err(e) = &pistachio {
        println!("note: {e}; set PISTACHIO_DIR to a Pistachio ia32 build (README: Pistachio)");
    }
    println!("boot scenarios: {passed} passed, {failed} failed, {skipped} skipped");
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
