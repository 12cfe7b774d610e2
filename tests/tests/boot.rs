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
    standard_boot, PrintedRecord, ScenarioResult,
};

type Scenario = fn(&Pistachio) -> Result<String, String>;

const SCENARIOS: &[(&str, Scenario)] = &[("first-boot", first_boot), ("from-config", from_config)];

/// A boot written as a kickstart-config description: the QEMU tool boots
/// from the description's generated arguments, and the monitor receives
/// exactly the command lines the description gives.
fn from_config(p: &Pistachio) -> Result<String, String> {
    let dir = tests::runs_dir().join("from-config").join("files");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::copy(resourcemon::ROOTTASK_ELF, dir.join("guest.elf")).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("data.bin"), [7u8; 5000]).map_err(|e| e.to_string())?;
    let toml = r#"
title = "from-config scenario"
[machine]
memory = "256M"
[kickstart]
path = "kickstart"
args = "maxmem=256M"
[kernel]
path = "pistachio"
[sigma0]
path = "sigma0"
[roottask]
path = "roottask"
[[vm]]
name = "one"
vmsize = "32M"
kernel = { path = "guest.elf", args = "console=ttyS0 quiet" }
modules = [{ path = "data.bin", args = "first" }]
[[vm]]
name = "two"
vmsize = "16M"
kernel = { path = "guest.elf", args = "second" }
"#;
    let desc_path = dir.join("boot.toml");
    std::fs::write(&desc_path, toml).map_err(|e| e.to_string())?;
    let desc = kickstart_config::QemuBoot::load(&desc_path).map_err(|e| e.to_string())?;
    let boot =
        qemu::Boot::from_description(p, std::path::Path::new(resourcemon::ROOTTASK_ELF), &desc)
            .map_err(|e| e.to_string())?;
    let out = run_boot("from-config", &boot, scenario_expect())?;

    let records = printed_records(out.monitor_lines());
    let modules: Vec<&PrintedRecord> = records.iter().filter(|r| r.kind == 1).collect();
    let want: Vec<String> = desc.modules[3..]
        .iter()
        .map(|m| {
            let name = m.path.file_name().unwrap_or_default().to_string_lossy();
            if m.cmdline.is_empty() {
                name.into_owned()
            } else {
                format!("{name} {}", m.cmdline)
            }
        })
        .collect();
    let got: Vec<String> = modules
        .iter()
        .map(|r| r.cmdline.clone().unwrap_or_default())
        .collect();
    if got != want {
        return Err(format!(
            "module command lines {got:?}, description gives {want:?}"
        ));
    }
    let plan: Vec<&str> = out
        .monitor_lines()
        .filter(|l| l.starts_with("plan: "))
        .collect();
    let ok = plan.first() == Some(&"plan: groups=2 ok=2")
        && plan.get(1).is_some_and(|l| {
            l.starts_with("plan: vm 0: modules 0..2 ") && l.contains("vmsize=32M")
        })
        && plan.get(2).is_some_and(|l| {
            l.starts_with("plan: vm 1: modules 2..3 ") && l.contains("vmsize=16M")
        });
    if !ok {
        return Err(format!("plan lines {plan:?}"));
    }
    Ok(format!(
        "{} module records match the description; plan {plan:?}",
        modules.len()
    ))
}

/// The root task with two extra modules: the boot-info records it prints
/// must match the modules byte for byte, and it must take memory from sigma0.
fn first_boot(p: &Pistachio) -> Result<String, String> {
    // Any ELF executable can stand in for a VM module here: the planner
    // reads only its header.
    let alpha =
        std::fs::read(resourcemon::ROOTTASK_ELF).map_err(|e| format!("root task image: {e}"))?;
    let beta: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let alpha_args = "vmstart vmsize=64M";
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
    // The boot-configuration language groups both modules into one VM.
    let plan: Vec<&str> = out
        .monitor_lines()
        .filter(|l| l.starts_with("plan: "))
        .collect();
    check(
        plan.first() == Some(&"plan: groups=1 ok=1"),
        format!("plan summary: {plan:?}"),
    )?;
    check(
        plan.get(1).is_some_and(|l| {
            l.starts_with("plan: vm 0: modules 0..2 ") && l.contains("vmsize=64M")
        }),
        format!("plan line: {plan:?}"),
    )?;
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
