//! Boot scenarios on Pistachio in QEMU (harness = false: one summary line,
//! skipped scenarios counted as skipped).
//!
//! Without a Pistachio build every scenario reports "skipped: no Pistachio
//! build" and the process succeeds, unless `REQUIRE_PISTACHIO=1`, which
//! turns a skip into a failure (for machines that must have one).
//! `BOOT_SCENARIOS=name,name` runs a subset.

use qemu::{Module, Pistachio};
use tests::{
    guest, guest_baselines, guest_figures, guest_passes, module_file, monitor_value, pattern,
    position, printed_records, printed_tsc, printed_value, run_boot, scenario_expect,
    standard_boot, vm_summary, PrintedRecord, ScenarioResult,
};

type Scenario = fn(&Pistachio) -> Result<String, String>;

const SCENARIOS: &[(&str, Scenario)] = &[
    ("first-boot", first_boot),
    ("from-config", from_config),
    ("one-vm", one_vm),
    ("two-vms", two_vms),
    ("clones", clones),
    ("modules-and-ramdisk", modules_and_ramdisk),
    ("broken-group", broken_group),
    ("scale-1", |p| scale(p, 1)),
    ("scale-4", |p| scale(p, 4)),
    ("scale-15", |p| scale(p, 15)),
    ("isolation", isolation),
    ("driver", driver),
    ("soak", soak),
    ("panic", panic),
];

/// The failure path: a monitor panic prints the panic, the failure sentinel,
/// and stops; the harness reports it as a failure (exit code 1) with the
/// panic in its context, not as a timeout.
fn panic(p: &Pistachio) -> Result<String, String> {
    let boot = standard_boot(p, "selftest=panic");
    let staged = boot
        .stage(&tests::runs_dir().join("panic").join("run"))
        .map_err(|e| e.to_string())?;
    let out = qemu::run(&staged, scenario_expect()).map_err(|e| e.to_string())?;
    match &out.verdict {
        qemu::Verdict::Fail { context } if out.verdict.exit_code() == 1 => {
            let line = out
                .lines
                .iter()
                .find(|l| l.contains("fatal: panic at "))
                .ok_or("no panic line")?;
            if !line.contains("selftest=panic") {
                return Err(format!("panic line {line:?}"));
            }
            Ok(format!("failure verdict after {:?}", context.last()))
        }
        v => Err(format!("verdict {v}, want the failure sentinel")),
    }
}

/// A hostile guest between a victim that owns an interrupt and a
/// well-behaved neighbour: every hostile request is refused (checked inside
/// the hostile guest), the victim and the neighbour pass, the monitor keeps
/// serving and never stops.
fn isolation(p: &Pistachio) -> Result<String, String> {
    let boot = standard_boot(p, "")
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=victim mode=irq-owner irq=10",
        ))
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=hostile mode=hostile victim-irq=10",
        ))
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=neighbour touch=32 request=8",
        ));
    let (out, _) = run_vms("isolation", boot, &["victim", "hostile", "neighbour"], 3, 0)?;
    let refused =
        monitor_value(out.monitor_lines(), "vms:", "refused").ok_or("no refused count")?;
    let logged = out
        .monitor_lines()
        .filter(|l| l.starts_with("vm 2: refused:"))
        .count();
    if refused < 10 || logged < 10 {
        return Err(format!(
            "only {refused} refusals counted, {logged} logged for vm 2"
        ));
    }
    if out
        .monitor_lines()
        .any(|l| l.starts_with("vm 1: refused:") || l.starts_with("vm 3: refused:"))
    {
        return Err("a well-behaved VM was refused something".into());
    }
    Ok(format!("{refused} requests refused ({logged} logged for the hostile VM); victim and neighbour passed"))
}

/// A `ddos` driver VM maps VGA text memory and a page above RAM, registers
/// an interface; a client VM finds it with the locator and has the driver
/// map one of its pages through request_client_pages.
fn driver(p: &Pistachio) -> Result<String, String> {
    let boot = standard_boot(p, "")
        .module(guest(
            "vmstart ddos vmsize=16M wedgeinstall=8M name=driver mode=driver",
        ))
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=client mode=client",
        ));
    let (out, _) = run_vms("driver", boot, &["driver", "client"], 2, 0)?;
    let mapped = out
        .monitor_lines()
        .find(|l| l.starts_with("vm 1: maps vm 2 memory"));
    mapped
        .map(|l| format!("driver and client passed; {l:?}"))
        .ok_or("no request_client_pages line".into())
}

/// Two guests issue 150,000 mixed requests each; the monitor's heap use at
/// the end equals its use after boot.
fn soak(p: &Pistachio) -> Result<String, String> {
    let boot = standard_boot(p, "")
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=soak1 mode=soak soak=150000",
        ))
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=soak2 mode=soak soak=150000",
        ));
    let mut expect = scenario_expect();
    expect.hard_timeout = std::time::Duration::from_secs(900);
    expect.idle_timeout = std::time::Duration::from_secs(300);
    let out = run_boot("soak", &boot, expect)?;
    let passes = guest_passes(&out.lines);
    if passes != ["soak1", "soak2"] {
        return Err(format!("guest passes {passes:?}"));
    }
    let start = monitor_value(out.monitor_lines(), "boot complete", "used")
        .ok_or("no heap use after boot")?;
    let end = monitor_value(out.monitor_lines(), "vms:", "used").ok_or("no heap use at the end")?;
    let requests =
        monitor_value(out.monitor_lines(), "vms:", "requests").ok_or("no request count")?;
    if end > start {
        return Err(format!(
            "heap grew from {start} to {end} bytes over {requests} requests"
        ));
    }
    if requests < 300_000 {
        return Err(format!("only {requests} requests reached the monitor"));
    }
    let soak: Vec<&String> = out
        .lines
        .iter()
        .filter(|l| l.contains(": soak: "))
        .collect();
    Ok(format!("{requests} requests; heap used {start} bytes after boot, {end} at the end; {soak:?}; {:.0}s wall", out.elapsed.as_secs_f64()))
}

const SEED: u32 = 0x5a;

fn data(scenario: &str, file: &str, index: u32, size: usize, args: &str) -> Result<Module, String> {
    module_file(scenario, file, &pattern(SEED, index, size), args).map_err(|e| e.to_string())
}

/// Run a VM boot and require: every expected guest passed, in start order,
/// and the monitor's summary says `started` VMs started and `failed` failed.
fn run_vms(
    scenario: &str,
    boot: qemu::Boot,
    want_passes: &[&str],
    started: u64,
    failed: u64,
) -> Result<(qemu::RunOutcome, u64), String> {
    let out = run_boot(scenario, &boot, scenario_expect())?;
    let passes = guest_passes(&out.lines);
    if passes != want_passes {
        return Err(format!("guest passes {passes:?}, want {want_passes:?}"));
    }
    let (s, f, tsc) = vm_summary(out.monitor_lines()).ok_or("no `vms:` summary line")?;
    if (s, f) != (started, failed) {
        return Err(format!(
            "monitor summary started={s} failed={f}, want started={started} failed={failed}"
        ));
    }
    Ok((out, tsc))
}

/// Page-fault and request_pages times, each also as a ratio to the null
/// RPC the same guest measured in the same run (the baseline).
fn figures(out: &qemu::RunOutcome) -> String {
    let f = guest_figures(&out.lines, "touched");
    let r = guest_figures(&out.lines, "requested");
    let b = guest_baselines(&out.lines);
    let ratio = |x: &[(u64, u64)]| -> Vec<String> {
        x.iter()
            .zip(&b)
            .map(|((_, ns), (_, base))| format!("{:.2}", *ns as f64 / (*base).max(1) as f64))
            .collect()
    };
    format!(
        "page faults {f:?} (count, virtual ns each), request_pages {r:?}, null RPC baseline {b:?}; \
         ratio to baseline: fault {:?}, request_pages {:?}",
        ratio(&f),
        ratio(&r)
    )
}

/// One VM (the test guest as a wedge) with two extra modules.
fn one_vm(p: &Pistachio) -> Result<String, String> {
    let s = "one-vm";
    let boot = standard_boot(p, "")
        .module(guest(
            "vmstart vmsize=32M wedgeinstall=16M name=one touch=64 request=16 expect-modules=2",
        ))
        .module(data(s, "m0", 0, 10_000, "first module")?)
        .module(data(s, "m1", 1, 5_000, "second")?);
    let (out, _) = run_vms(s, boot, &["one"], 1, 0)?;
    Ok(figures(&out))
}

/// Two VMs: the second starts only after the first reported init complete.
fn two_vms(p: &Pistachio) -> Result<String, String> {
    let s = "two-vms";
    let boot = standard_boot(p, "")
        .module(guest(
            "vmstart vmsize=24M wedgeinstall=12M name=a expect-modules=1",
        ))
        .module(data(s, "a0", 0, 3_000, "for a")?)
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=b expect-modules=1",
        ))
        .module(data(s, "b0", 0, 7_000, "for b")?);
    let (out, _) = run_vms(s, boot, &["a", "b"], 2, 0)?;
    let a_done = position(out.monitor_lines(), "vm 1: init complete");
    let b_start = position(out.monitor_lines(), "vm 2: started");
    match (a_done, b_start) {
        (Some(a), Some(b)) if a < b => Ok(format!(
            "vm 2 started after vm 1's init complete; {}",
            figures(&out)
        )),
        _ => Err(format!(
            "start order: vm 1 init complete at {a_done:?}, vm 2 started at {b_start:?}"
        )),
    }
}

/// `clones=3`: three independent instances of one group.
fn clones(p: &Pistachio) -> Result<String, String> {
    let s = "clones";
    let boot = standard_boot(p, "")
        .module(guest(
            "vmstart clones=3 vmsize=16M wedgeinstall=8M name=c expect-modules=1",
        ))
        .module(data(s, "c0", 0, 4_096, "shared module")?);
    let (out, _) = run_vms(s, boot, &["c", "c", "c"], 3, 0)?;
    for slot in 1..=3 {
        let prefix = format!("vm {slot}: started");
        position(out.monitor_lines(), &prefix).ok_or(format!("no `{prefix}` line"))?;
    }
    Ok("three clones in slots 1-3 passed".into())
}

/// A VM with two extra modules and a VM in ramdisk mode on one boot line.
fn modules_and_ramdisk(p: &Pistachio) -> Result<String, String> {
    let s = "modules-and-ramdisk";
    let boot = standard_boot(p, "")
        .module(guest(
            "vmstart vmsize=24M wedgeinstall=12M name=mods expect-modules=2",
        ))
        .module(data(s, "x0", 0, 12_345, "x0 args")?)
        .module(data(s, "x1", 1, 4_096, "x1 args")?)
        .module(guest(
            "vmstart vmsize=24M wedgeinstall=12M name=rd initrd expect-ramdisk=1",
        ))
        .module(data(s, "ramdisk", 0, 50_000, "")?);
    run_vms(s, boot, &["mods", "rd"], 2, 0)?;
    Ok("module mode and ramdisk mode both verified by the guests".into())
}

/// Broken groups between good ones: a VM module that is no ELF and a VM
/// too large for the machine are reported; both good VMs still pass.
fn broken_group(p: &Pistachio) -> Result<String, String> {
    let s = "broken-group";
    let boot = standard_boot(p, "")
        .module(guest("vmstart vmsize=16M wedgeinstall=8M name=good1"))
        .module(data(s, "noelf", 0, 8_192, "vmstart vmsize=16M")?)
        .module(guest("vmstart vmsize=2G wedgeinstall=8M name=huge"))
        .module(guest("vmstart vmsize=16M wedgeinstall=8M name=good2"));
    let (out, _) = run_vms(s, boot, &["good1", "good2"], 2, 2)?;
    let noelf = out
        .monitor_lines()
        .find(|l| l.starts_with("plan: error: ") && l.contains("module 1") && l.contains("ELF"));
    let huge = out.monitor_lines().find(|l| {
        l.starts_with("vm group 2 ")
            && l.contains("not started")
            && l.contains("vmsize=")
            && l.contains("no room")
    });
    match (noelf, huge) {
        (Some(a), Some(b)) => Ok(format!("reported: {a:?}; {b:?}")),
        _ => Err(format!(
            "missing error lines: not-ELF {noelf:?}, too large {huge:?}"
        )),
    }
}

/// N clones of a small VM: virtual time until the last one's init complete.
fn scale(p: &Pistachio, n: u32) -> Result<String, String> {
    let s = format!("scale-{n}");
    let boot = standard_boot(p, "").module(guest(&format!(
        "vmstart clones={n} vmsize=8M wedgeinstall=4M name=s touch=16 request=4"
    )));
    let want: Vec<&str> = vec!["s"; n as usize];
    let (out, last) = run_vms(&s, boot, &want, n as u64, 0)?;
    let entry = printed_tsc(out.monitor_lines(), "entry").ok_or("no entry time")?;
    Ok(format!(
        "{n} VMs: last client_init_complete at {last} ns virtual since reset, {} ns since the monitor's entry ({} ns per VM); {:.1}s wall",
        last - entry,
        (last - entry) / n as u64,
        out.elapsed.as_secs_f64()
    ))
}

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
