//! Boot scenarios on Pistachio in QEMU (harness = false: one summary line,
//! skipped and expected-to-fail scenarios counted apart from passes).
//!
//! Fixtures come from `../shared` (or `PISTACHIO_DIR`, `WEDGE_DIR`,
//! `ORIGINAL_DIR`; see `tests::fixtures`). Without them a scenario is
//! skipped, unless `REQUIRE_PISTACHIO=1` (CI), which makes a missing fixture
//! a failure. `BOOT_SCENARIOS=name,name` runs a subset (an unknown name is an
//! error); `BOOT_JOBS=N` runs N QEMU boots at once (default 2).
//!
//! Scenarios whose guests speak only the original protocol run twice: on
//! this monitor and on the original (`ORIGINAL_DIR/resourcemon-debug`), with
//! the same kernel, guests and command lines; what the guests saw is
//! compared field by field and every difference must be listed in
//! `roottask/DIFFERENCES.md` ("Side by side").

use std::path::Path;

use qemu::{Boot, Expect, InputStep, Module, RunOutcome, Verdict};
use tests::compare::{self, GuestRecord};
use tests::fixtures::{Found, Needs};
use tests::suite::{self, Outcome, Scenario, Totals};
use tests::{
    explain, guest, guest_baselines, guest_figures, guest_passes, module_file, monitor_value,
    pattern, position, printed_records, printed_tsc, printed_value, run_any, run_boot,
    scenario_expect, standard_boot, vm_summary, PrintedRecord,
};

/// Seed of the module data patterns the test guest checks.
const SEED: u32 = 0x5a;

/// `roottask/DIFFERENCES.md`, read at build time: its "Side by side" table
/// is the list of fields allowed to differ.
const DIFFERENCES_MD: &str = include_str!("../../roottask/DIFFERENCES.md");

const PISTACHIO_ONLY: Needs = Needs::NONE;
const ORIGINAL: Needs = Needs {
    original: true,
    ..Needs::NONE
};
const WEDGE: Needs = Needs {
    wedge: true,
    original: true,
    ..Needs::NONE
};

const SMP: Needs = Needs {
    smp: true,
    ..Needs::NONE
};
const SMP_ORIGINAL: Needs = Needs {
    original: true,
    smp: true,
    ..Needs::NONE
};

macro_rules! scenario {
    ($name:expr, $needs:expr, $run:expr) => {
        Scenario {
            name: $name,
            needs: $needs,
            waits_for: None,
            run: $run,
        }
    };
    ($name:expr, $needs:expr, $run:expr, waits_for = $issue:expr) => {
        Scenario {
            name: $name,
            needs: $needs,
            waits_for: Some($issue),
            run: $run,
        }
    };
}

const SCENARIOS: &[Scenario] = &[
    scenario!("first-boot", PISTACHIO_ONLY, first_boot),
    scenario!("from-config", PISTACHIO_ONLY, from_config),
    scenario!("one-vm", ORIGINAL, one_vm),
    scenario!("one-vm-eager", ORIGINAL, one_vm_eager),
    scenario!("two-vms", ORIGINAL, two_vms),
    scenario!("clones", ORIGINAL, clones),
    scenario!("modules-and-ramdisk", ORIGINAL, modules_and_ramdisk),
    scenario!("broken-group", PISTACHIO_ONLY, broken_group),
    scenario!("machine-facts", ORIGINAL, machine_facts),
    scenario!("console", PISTACHIO_ONLY, console_labelled),
    scenario!("multiboot", ORIGINAL, multiboot),
    scenario!("console-raw", ORIGINAL, console_raw),
    scenario!("scale-1", ORIGINAL, |f| scale(f, 1)),
    scenario!("scale-4", ORIGINAL, |f| scale(f, 4)),
    scenario!("scale-15", ORIGINAL, |f| scale(f, 15)),
    scenario!("every-slot", PISTACHIO_ONLY, every_slot),
    scenario!("size-16m", ORIGINAL, |f| size_scale(f, 16, 4)),
    scenario!("size-64m", ORIGINAL, |f| size_scale(f, 64, 4)),
    scenario!("size-256m", ORIGINAL, |f| size_scale(f, 256, 2)),
    scenario!("wedge-b", WEDGE, |f| wedge_tinyguest(
        f,
        "wedge-b",
        Variant::B
    )),
    scenario!("wedge-a", WEDGE, |f| wedge_tinyguest(
        f,
        "wedge-a",
        Variant::A
    )),
    scenario!("wedge-two-vms", WEDGE, wedge_two_vms),
    scenario!("wedge-no-kernel", WEDGE, wedge_no_kernel),
    scenario!("wedge-guest-memory-b", WEDGE, |f| wedge_guest(
        f,
        "memory",
        Variant::B,
        ""
    )),
    scenario!("wedge-guest-memory-a", WEDGE, |f| wedge_guest(
        f,
        "memory",
        Variant::A,
        ""
    )),
    scenario!("wedge-guest-vga", WEDGE, |f| wedge_guest(
        f,
        "vga",
        Variant::B,
        ""
    )),
    scenario!("wedge-guest-bios-ddos", WEDGE, |f| wedge_guest(
        f,
        "bios",
        Variant::B,
        " ddos"
    )),
    scenario!("wedge-pt-interrupt", WEDGE, wedge_pt_interrupt),
    scenario!("wedge-guest-echo-b", WEDGE, wedge_guest_echo),
    scenario!("console-input", PISTACHIO_ONLY, console_input),
    scenario!("console-focus", PISTACHIO_ONLY, console_focus),
    scenario!("console-overflow", PISTACHIO_ONLY, console_overflow),
    scenario!("isolation", PISTACHIO_ONLY, isolation),
    scenario!("driver", PISTACHIO_ONLY, driver),
    scenario!("soak", PISTACHIO_ONLY, soak),
    scenario!("fuzz", PISTACHIO_ONLY, fuzz),
    scenario!("panic", PISTACHIO_ONLY, panic),
    // Real boot loaders (issue 12).
    scenario!("grub2-iso", GRUB2, |f| boot_loader(
        f,
        "grub2-iso",
        Loader::Grub2
    )),
    scenario!("grub-legacy-disk", GRUB_LEGACY, |f| boot_loader(
        f,
        "grub-legacy-disk",
        Loader::GrubLegacy
    )),
    // VM supervision (issue 14): see the block near the end of this file.
    scenario!("supervise-fault", PISTACHIO_ONLY, supervise_fault),
    scenario!("supervise-restart", PISTACHIO_ONLY, supervise_restart),
    scenario!("supervise-always", PISTACHIO_ONLY, supervise_always),
    scenario!("supervise-watchdog", PISTACHIO_ONLY, supervise_watchdog),
    scenario!("supervise-exception", PISTACHIO_ONLY, supervise_exception),
    // SMP (issue 15): the SMP kernel on -smp 2 and -smp 4.
    scenario!("smp-2", SMP_ORIGINAL, smp_2),
    scenario!("smp-4", SMP, smp_4),
    scenario!(
        "smp-soak",
        SMP,
        smp_soak,
        waits_for = "an SMP kernel whose cross-processor IPC survives load (issue 15: ia32-smp stops serving CPU 1, or faults in the kernel, within seconds)"
    ),
];

// ---------------------------------------------------------------------------
// Side by side with the original monitor.

/// Which monitor a run boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Monitor {
    Ours,
    Original,
    /// The original's perf build (`resourcemon-perf`), for the figures of
    /// [`PERF_SCENARIOS`].
    OriginalPerf,
}

/// Side-by-side scenarios that also boot the original's perf build, whose
/// figures are recorded beside the debug build's (issue 13).
const PERF_SCENARIOS: [&str; 8] = [
    "one-vm",
    "one-vm-eager",
    "scale-1",
    "scale-4",
    "scale-15",
    "size-16m",
    "size-64m",
    "size-256m",
];

impl Monitor {
    fn roottask<'a>(self, f: &'a Found<'_>) -> Result<&'a Path, String> {
        match self {
            Monitor::Ours => Ok(Path::new(resourcemon::ROOTTASK_ELF)),
            Monitor::Original => Ok(&f.original()?.debug),
            Monitor::OriginalPerf => Ok(&f.original()?.perf),
        }
    }

    /// The run directory's name under the scenario's folder.
    fn run_name(self, scenario: &str) -> String {
        match self {
            Monitor::Ours => scenario.to_string(),
            Monitor::Original => format!("{scenario}/original"),
            Monitor::OriginalPerf => format!("{scenario}/original-perf"),
        }
    }
}

/// Machine memory of the side-by-side boots. The original places its
/// first VM above 132 MB (see DIFFERENCES.md, `phys_offset`) and loses
/// 16 MB to kernel memory below 256 MB, so 256 MB would not hold 15 VMs of
/// 8 MB or two of 64 MB there.
const SIDE_BY_SIDE_MIB: u32 = 512;

/// A boot for `monitor`: the standard boot with that root task.
fn boot_for(f: &Found<'_>, monitor: Monitor) -> Result<Boot, String> {
    let mut b = Boot::standard(f.pistachio, monitor.roottask(f)?, "");
    b.memory_mib = SIDE_BY_SIDE_MIB;
    Ok(b)
}

/// Run the boots of both monitors at once (each built first, so shared
/// files are written before either QEMU starts).
fn both(
    scenario: &str,
    ours: (Boot, Expect),
    original: (Boot, Expect),
) -> (Result<RunOutcome, String>, Result<RunOutcome, String>) {
    let (on, oo) = (
        Monitor::Ours.run_name(scenario),
        Monitor::Original.run_name(scenario),
    );
    std::thread::scope(|s| {
        let a = s.spawn(|| run_any(&on, &ours.0, ours.1.clone()));
        let b = s.spawn(|| run_any(&oo, &original.0, original.1.clone()));
        (
            a.join().unwrap_or_else(|_| Err("our run panicked".into())),
            b.join()
                .unwrap_or_else(|_| Err("the original's run panicked".into())),
        )
    })
}

/// Require the verdict `Pass` of the run under `monitor`.
fn passed(monitor: Monitor, r: Result<RunOutcome, String>) -> Result<RunOutcome, String> {
    let out = r.map_err(|e| format!("{monitor:?}: {e}"))?;
    if out.verdict == Verdict::Pass {
        Ok(out)
    } else {
        Err(format!("{monitor:?}: {}", explain(&out)))
    }
}

/// Expectations for a test-guest boot: every guest's pass line (and, on
/// ours, the monitor's sentinel).
fn guest_expect(monitor: Monitor, passes: &[&str]) -> Expect {
    let mut e = scenario_expect();
    // Each guest's pass line, then its init-complete time (printed just
    // before it tells the monitor, so it closes the guest's report).
    e.required = passes
        .iter()
        .flat_map(|n| [format!("GUEST_PASS {n}"), "time: init complete tsc=".into()])
        .collect();
    if monitor != Monitor::Ours {
        e.successes = 0;
    }
    e
}

/// What a side-by-side test-guest scenario found.
struct SideBySide {
    ours: RunOutcome,
    report: String,
}

/// Boot `build`'s modules on both monitors, require `passes` under both,
/// compare what the guests saw and print our figures as ratios to the
/// original's.
fn side_by_side(
    f: &Found<'_>,
    scenario: &str,
    passes: &[&str],
    build: &dyn Fn(Boot) -> Result<Boot, String>,
) -> Result<SideBySide, String> {
    let ours = build(boot_for(f, Monitor::Ours)?)?;
    let orig = build(boot_for(f, Monitor::Original)?)?;
    let expect = |m: Monitor, boot: &Boot| {
        let mut e = guest_expect(m, passes);
        if boot.extra_args.iter().any(|a| a == "clock=vm") {
            // The kernel calibrates its timer against the virtual RTC for
            // about a virtual second and a half: tens of seconds of wall
            // time without output, more on a loaded machine.
            e.idle_timeout = std::time::Duration::from_secs(300);
            e.hard_timeout = std::time::Duration::from_secs(600);
        }
        e
    };
    let (mut eo, er) = (
        expect(Monitor::Ours, &ours),
        expect(Monitor::Original, &orig),
    );
    if PERF_SCENARIOS.contains(&scenario) {
        // The monitor's own time per request (the floor), in its idle report.
        eo.required
            .push("resourcemon: served: own ns per request".into());
    }
    let perf = if PERF_SCENARIOS.contains(&scenario) {
        let boot = build(boot_for(f, Monitor::OriginalPerf)?)?;
        let e = expect(Monitor::OriginalPerf, &boot);
        Some((boot, e))
    } else {
        None
    };
    let (a, b, c) = std::thread::scope(|s| {
        let c = perf.as_ref().map(|(boot, e)| {
            let name = Monitor::OriginalPerf.run_name(scenario);
            s.spawn(move || run_any(&name, boot, e.clone()))
        });
        let (a, b) = both(scenario, (ours, eo), (orig, er));
        let c = c.map(|h| {
            h.join()
                .unwrap_or_else(|_| Err("the perf build's run panicked".into()))
        });
        (a, b, c)
    });
    let (a, b) = (passed(Monitor::Ours, a), passed(Monitor::Original, b));
    let (a, b) = (a?, b?);
    let c = c.map(|c| passed(Monitor::OriginalPerf, c)).transpose()?;
    for (m, out) in [(Monitor::Ours, &a), (Monitor::Original, &b)] {
        let got = guest_passes(&out.lines);
        if got != passes {
            return Err(format!("{m:?}: guest passes {got:?}, want {passes:?}"));
        }
    }
    let (ra, rb) = (
        compare::guest_records(&a.lines),
        compare::guest_records(&b.lines),
    );
    let mut report = compare_records(scenario, &ra, &rb)?;
    if let Some(c) = c {
        if guest_passes(&c.lines) != passes {
            return Err(format!(
                "OriginalPerf: guest passes {:?}, want {passes:?}",
                guest_passes(&c.lines)
            ));
        }
        let rc = compare::guest_records(&c.lines);
        let figures = compare::figures(&ra, &rc);
        tests::record_figures(&format!("{scenario} vs perf build"), &figures);
        report.push_str(&format!(
            "\n    figures for {scenario} against the original's perf build (virtual ns; ours / perf):\n{}",
            compare::figure_table(&figures).trim_end()
        ));
    }
    Ok(SideBySide { ours: a, report })
}

/// The field-by-field comparison and the figures, or the differences that
/// `DIFFERENCES.md` does not explain.
fn compare_records(
    scenario: &str,
    ours: &[GuestRecord],
    original: &[GuestRecord],
) -> Result<String, String> {
    if ours.len() != original.len() || ours.iter().any(|g| g.seen.is_empty()) {
        return Err(format!(
            "{} guests reported under ours, {} under the original (or a guest printed no `seen` lines)",
            ours.len(),
            original.len()
        ));
    }
    let diffs = compare::diff(ours, original);
    let allowed = compare::allowed_differences(DIFFERENCES_MD);
    let bad = compare::unexplained(&diffs, &allowed);
    if !bad.is_empty() {
        let list: Vec<String> = bad
            .iter()
            .map(|d| {
                format!(
                    "vm {} {}: ours {} original {}",
                    d.vm, d.field, d.ours, d.original
                )
            })
            .collect();
        return Err(format!(
            "differences from the original that roottask/DIFFERENCES.md does not list: {}",
            list.join("; ")
        ));
    }
    let fields = ours.iter().map(|g| g.seen.len()).sum::<usize>();
    let explained: Vec<String> = diffs
        .iter()
        .map(|d| format!("vm {} {} {} / {}", d.vm, d.field, d.ours, d.original))
        .collect();
    let figures = compare::figures(ours, original);
    tests::record_figures(scenario, &figures);
    Ok(format!(
        "side by side: {} guests, {fields} fields compared, {} differ (all listed in DIFFERENCES.md{}{})\n    figures for {scenario} (virtual ns; ours / original):\n{}",
        ours.len(),
        diffs.len(),
        if explained.is_empty() { "" } else { ": " },
        explained.join(", "),
        compare::figure_table(&figures).trim_end()
    ))
}

/// One VM (the test guest as a wedge) with two extra modules.
fn one_vm(f: &Found<'_>) -> Result<String, String> {
    let s = "one-vm";
    let r = side_by_side(f, s, &["one"], &|b| {
        Ok(b.module(guest(
            "vmstart vmsize=32M wedgeinstall=16M name=one touch=64 request=16 expect-modules=2",
        ))
        .module(data(s, "m0", 0, 10_000, "first module")?)
        .module(data(s, "m1", 1, 5_000, "second")?))
    })?;
    vm_count(&r.ours, 1, 0)?;
    let floor =
        floor(s, &r.ours).ok_or("no floor figures (guest timings or the monitor's own ns)")?;
    Ok(format!("{}; {floor}; {}", figures(&r.ours), r.report))
}

/// `one-vm` with `zero=eager` on our monitor's line: each VM block zeroed
/// whole at creation as the original does, so page faults and
/// request_pages pay no first-exposure zeroing; the two scenarios side by
/// side show what lazy zeroing costs a first touch and saves at creation.
fn one_vm_eager(f: &Found<'_>) -> Result<String, String> {
    let s = "one-vm-eager";
    let r = side_by_side(f, s, &["one"], &|mut b| {
        if let Some(rt) = b
            .modules
            .iter_mut()
            .find(|m| m.source == Path::new(resourcemon::ROOTTASK_ELF))
        {
            rt.args = "zero=eager".into();
        }
        Ok(b.module(guest(
            "vmstart vmsize=32M wedgeinstall=16M name=one touch=64 request=16 expect-modules=2",
        ))
        .module(data(s, "m0", 0, 10_000, "first module")?)
        .module(data(s, "m1", 1, 5_000, "second")?))
    })?;
    vm_count(&r.ours, 1, 0)?;
    if !r
        .ours
        .monitor_lines()
        .any(|l| l.starts_with("options: zero=eager"))
    {
        return Err("the monitor did not take zero=eager".into());
    }
    let floor =
        floor(s, &r.ours).ok_or("no floor figures (guest timings or the monitor's own ns)")?;
    Ok(format!("{}; {floor}; {}", figures(&r.ours), r.report))
}

/// Two VMs: the second starts only after the first reported init complete.
fn two_vms(f: &Found<'_>) -> Result<String, String> {
    let s = "two-vms";
    let r = side_by_side(f, s, &["a", "b"], &|b| {
        Ok(b.module(guest(
            "vmstart vmsize=24M wedgeinstall=12M name=a expect-modules=1",
        ))
        .module(data(s, "a0", 0, 3_000, "for a")?)
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=b expect-modules=1",
        ))
        .module(data(s, "b0", 0, 7_000, "for b")?))
    })?;
    vm_count(&r.ours, 2, 0)?;
    let out = &r.ours;
    let a_done = position(out.monitor_lines(), "vm 1: init complete");
    let b_start = position(out.monitor_lines(), "vm 2: started");
    match (a_done, b_start) {
        (Some(a), Some(b)) if a < b => Ok(format!(
            "vm 2 started after vm 1's init complete; {}; {}",
            figures(out),
            r.report
        )),
        _ => Err(format!(
            "start order: vm 1 init complete at {a_done:?}, vm 2 started at {b_start:?}"
        )),
    }
}

/// `clones=3`: three independent instances of one group.
fn clones(f: &Found<'_>) -> Result<String, String> {
    let s = "clones";
    let r = side_by_side(f, s, &["c", "c", "c"], &|b| {
        Ok(b.module(guest(
            "vmstart clones=3 vmsize=16M wedgeinstall=8M name=c expect-modules=1",
        ))
        .module(data(s, "c0", 0, 4_096, "shared module")?))
    })?;
    vm_count(&r.ours, 3, 0)?;
    for slot in 1..=3 {
        let prefix = format!("vm {slot}: started");
        position(r.ours.monitor_lines(), &prefix).ok_or(format!("no `{prefix}` line"))?;
    }
    Ok(format!("three clones in slots 1-3 passed; {}", r.report))
}

/// A VM with two extra modules and a VM in ramdisk mode on one boot line.
fn modules_and_ramdisk(f: &Found<'_>) -> Result<String, String> {
    let s = "modules-and-ramdisk";
    let r = side_by_side(f, s, &["mods", "rd"], &|b| {
        Ok(b.module(guest(
            "vmstart vmsize=24M wedgeinstall=12M name=mods expect-modules=2",
        ))
        .module(data(s, "x0", 0, 12_345, "x0 args")?)
        .module(data(s, "x1", 1, 4_096, "x1 args")?)
        .module(guest(
            "vmstart vmsize=24M wedgeinstall=12M name=rd initrd expect-ramdisk=1",
        ))
        .module(data(s, "ramdisk", 0, 50_000, "")?))
    })?;
    vm_count(&r.ours, 2, 0)?;
    Ok(format!(
        "module mode and ramdisk mode both verified by the guests; {}",
        r.report
    ))
}

/// The monitor's DHCP values replace `ip=grubdhcp` in a guest's command
/// line (§2.3, §2.5), and `pcpus=` is clamped to the machine's one CPU
/// (`pcpus=2` gives 1; `pcpus=17` is clamped, not refused), as the
/// original does.
fn machine_facts(f: &Found<'_>) -> Result<String, String> {
    let s = "machine-facts";
    const DHCP: &str = "ip=10.0.0.5,mask=255.255.255.0,server=10.0.0.1,gateway=10.0.0.254,";
    const WANT: &str = "ip=10.0.0.5:10.0.0.1:10.0.0.254:255.255.255.0:eth0";
    let r = side_by_side(f, s, &["dhcp", "cpus"], &|mut b| {
        b.modules[2].args = DHCP.into();
        Ok(b.module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=dhcp ip=grubdhcp:eth0 pcpus=2 expect-modules=1",
        ))
        .module(data(s, "m0", 0, 2_000, "ip=grubdhcp")?)
        .module(guest("vmstart vmsize=16M wedgeinstall=8M name=cpus pcpus=17")))
    })?;
    vm_count(&r.ours, 2, 0)?;
    let started = r
        .ours
        .lines
        .iter()
        .find(|l| l.contains("guest dhcp: started:"))
        .ok_or("no start line of guest dhcp")?;
    if !started.contains(WANT) || started.contains("grubdhcp") {
        return Err(format!(
            "guest dhcp's command line: {started:?}, want it to contain {WANT}"
        ));
    }
    Ok(format!(
        "guest command line has {WANT}; pcpus=2 and pcpus=17 both gave pcpu_count 1; {}",
        r.report
    ))
}

/// kickstart `bootinfo=no`: no BootInfo, only the multiboot info. Ours
/// takes the modules and its own command line from it (§1.4's second
/// provider); the original stops in the debugger there, reading its own
/// command line through the missing boot info (§1.4 "bug", §12), which
/// this scenario also checks, so that DIFFERENCES.md stays true.
fn multiboot(f: &Found<'_>) -> Result<String, String> {
    let s = "multiboot";
    let build = |m: Monitor| -> Result<Boot, String> {
        let mut b = boot_for(f, m)?;
        b.loader_args = "bootinfo=no".into();
        b.modules[2].args = "console=labels".into();
        Ok(b.module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=mb expect-modules=1",
        ))
        .module(data(s, "m0", 0, 6_000, "mb data")?))
    };
    let mut theirs = scenario_expect();
    theirs.successes = 0;
    theirs.required = vec![
        "BootInfo @ 0".into(),
        "--- \"KD# user touches kernel area\"".into(),
    ];
    let (a, b) = both(
        s,
        (build(Monitor::Ours)?, guest_expect(Monitor::Ours, &["mb"])),
        (build(Monitor::Original)?, theirs),
    );
    let (a, b) = (passed(Monitor::Ours, a), passed(Monitor::Original, b));
    let (a, _) = (a?, b?);
    vm_count(&a, 1, 0)?;
    let line = a
        .monitor_lines()
        .find(|l| l.starts_with("bootinfo: none at "))
        .ok_or("our monitor did not say it read the multiboot info")?;
    let records = printed_records(a.monitor_lines());
    let cmdlines: Vec<String> = records.iter().filter_map(|r| r.cmdline.clone()).collect();
    let want = [
        "test-guest vmstart vmsize=16M wedgeinstall=8M name=mb expect-modules=1",
        "m0 mb data",
    ];
    if cmdlines != want {
        return Err(format!("module command lines {cmdlines:?}, want {want:?}"));
    }
    if !a
        .monitor_lines()
        .any(|l| l.starts_with("options: trace=false"))
    {
        return Err("our monitor did not read its own command line from the multiboot info".into());
    }
    Ok(format!(
        "ours: {line:?}, modules {cmdlines:?}, guest passed; the original stopped in the debugger on its null boot info, as documented"
    ))
}

/// What `prompt=1` makes the test guest `p` print, with no newline.
fn prompt_bytes() -> Vec<u8> {
    let mut v = b"guest p: ".to_vec();
    v.extend_from_slice(b"raw \r\xff\xc3\xa9 prompt$ ");
    v
}

/// Does `hay` contain `needle`?
fn contains_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Guest output is printed at once and as it came (issue 10.6): a prompt
/// without a newline appears before anything else is printed, with its
/// `\r` and non-UTF-8 bytes unchanged, on a line labelled `vm1: `; the
/// monitor's next line starts a new line.
fn console_labelled(f: &Found<'_>) -> Result<String, String> {
    let boot = standard_boot(f.pistachio, "")
        .module(guest("vmstart vmsize=16M wedgeinstall=8M name=p prompt=1"))
        .module(guest("vmstart vmsize=16M wedgeinstall=8M name=q"));
    let mut e = scenario_expect();
    e.required = vec!["resourcemon: served: vm 2:".into()];
    let out = run_boot("console", &boot, e)?;
    let raw = std::fs::read(&out.serial_log).map_err(|e| e.to_string())?;
    let mut want = b"vm1: ".to_vec();
    want.extend(prompt_bytes());
    let at = contains_bytes(&raw, &want)
        .ok_or_else(|| format!("the serial log has no {:?}", String::from_utf8_lossy(&want)))?;
    // The next writer (vm 2 or the monitor) begins a line of its own.
    let after = &raw[at + want.len()..];
    let next = String::from_utf8_lossy(&after[..after.len().min(40)]).to_string();
    let rest = next.trim_start_matches(['\n', '\r']);
    if rest.len() == next.len() || !(rest.starts_with("vm2: ") || rest.starts_with("resourcemon: "))
    {
        return Err(format!(
            "after the prompt came {next:?}, want a newline, then vm 2's or the monitor's line"
        ));
    }
    let line = out
        .lines
        .iter()
        .find(|l| l.contains("prompt$"))
        .ok_or("no prompt line")?;
    if line != "vm1: guest p: raw \u{fffd}é prompt$ " {
        return Err(format!("prompt line {line:?}"));
    }
    Ok(format!(
        "the prompt {:?} appeared at once, bytes unchanged, labelled; the next writer began a new line",
        String::from_utf8_lossy(&want)
    ))
}

/// `console=raw` on the monitor's line: guest output unlabelled, as the
/// original prints it; the same prompt bytes and check lines as under the
/// original.
fn console_raw(f: &Found<'_>) -> Result<String, String> {
    let build = |m: Monitor| -> Result<Boot, String> {
        let mut b = boot_for(f, m)?;
        if m == Monitor::Ours {
            b.modules[2].args = "console=raw".into();
        }
        Ok(
            b.module(guest("vmstart vmsize=16M wedgeinstall=8M name=p prompt=1"))
                .module(guest("vmstart vmsize=16M wedgeinstall=8M name=q")),
        )
    };
    let (a, b) = both(
        "console-raw",
        (
            build(Monitor::Ours)?,
            guest_expect(Monitor::Ours, &["p", "q"]),
        ),
        (
            build(Monitor::Original)?,
            guest_expect(Monitor::Original, &["p", "q"]),
        ),
    );
    let (a, b) = (passed(Monitor::Ours, a), passed(Monitor::Original, b));
    let (a, b) = (a?, b?);
    for (m, out) in [(Monitor::Ours, &a), (Monitor::Original, &b)] {
        let raw = std::fs::read(&out.serial_log).map_err(|e| e.to_string())?;
        contains_bytes(&raw, &prompt_bytes()).ok_or(format!(
            "{m:?}: the serial log has no {:?}",
            String::from_utf8_lossy(&prompt_bytes())
        ))?;
    }
    if let Some(l) = a
        .lines
        .iter()
        .find(|l| l.starts_with("vm1: ") || l.starts_with("vm2: "))
    {
        return Err(format!("a labelled line with console=raw: {l:?}"));
    }
    let checks = |out: &RunOutcome| -> Vec<String> {
        out.lines
            .iter()
            .filter(|l| l.starts_with("guest p: check ") || l.starts_with("guest q: check "))
            .cloned()
            .collect()
    };
    let (ca, cb) = (checks(&a), checks(&b));
    if ca != cb || ca.is_empty() {
        return Err(format!("check lines differ: ours {ca:?}, original {cb:?}"));
    }
    Ok(format!(
        "console=raw: no labels, the prompt bytes unchanged under both monitors, {} check lines identical",
        ca.len()
    ))
}

/// N clones of a small VM: virtual time until the last one's init complete.
fn scale(f: &Found<'_>, n: u32) -> Result<String, String> {
    let s = format!("scale-{n}");
    let want: Vec<&str> = vec!["s"; n as usize];
    let r = side_by_side(f, &s, &want, &|mut b| {
        // Bit-identical virtual time (the kernel calibrates against a
        // virtual RTC, about 35 s more boot): these are the figures of
        // record for the time from reset.
        b.extra_args
            .extend(["-rtc".to_string(), "clock=vm".to_string()]);
        Ok(b.module(guest(&format!(
            "vmstart clones={n} vmsize=8M wedgeinstall=4M name=s touch=16 request=4"
        ))))
    })?;
    let last = vm_count(&r.ours, n as u64, 0)?;
    let entry = printed_tsc(r.ours.monitor_lines(), "entry").ok_or("no entry time")?;
    Ok(format!(
        "{n} VMs: last client_init_complete at {last} ns virtual since reset, {} ns since the monitor's entry ({} ns per VM); {}",
        last - entry,
        (last - entry) / n as u64,
        r.report
    ))
}

/// Time per VM by VM size (issue 13): `n` VMs of `mib` MB on all three
/// monitors (ours, the original's debug and perf builds), 1 GB of machine
/// memory so that the original (which starts above 132 MB) holds them too.
/// The figure of record is the span from the first VM's entry to the last
/// VM's init complete, which repeats within 0.1 % without `-rtc clock=vm`.
fn size_scale(f: &Found<'_>, mib: u32, n: u32) -> Result<String, String> {
    let s = format!("size-{mib}m");
    let want: Vec<&str> = vec!["s"; n as usize];
    let r = side_by_side(f, &s, &want, &|mut b| {
        b.memory_mib = 1024;
        Ok(b.module(guest(&format!(
            "vmstart clones={n} vmsize={mib}M wedgeinstall={}M name=s touch=16 request=4",
            mib / 2
        ))))
    })?;
    vm_count(&r.ours, n as u64, 0)?;
    Ok(format!("{n} VMs of {mib} MB; {}", r.report))
}

/// Every VM slot the kernel's thread-number space holds (issue 13): the
/// monitor reads the count from the KIP (ia32 Pistachio: 17 thread-number
/// bits, 30 VM ranges of 4,096 after its own; the original stops at 15).
/// 30 VMs of 16 MB (`clones=`, as kickstart passes at most 32 modules)
/// start in order and pass; one VM more is refused with the reason; the
/// time per VM is the same at 15 and at 30, and the monitor's heap use
/// after the last VM equals its use after boot.
fn every_slot(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
    let mut boot = standard_boot(p, "")
        .module(guest(
            "vmstart clones=30 vmsize=16M wedgeinstall=8M name=s touch=16 request=4",
        ))
        .module(guest("vmstart vmsize=16M wedgeinstall=8M name=extra"));
    boot.memory_mib = 1024;
    let mut expect = scenario_expect();
    expect.required = vec!["resourcemon: served: heap used=".into()];
    expect.hard_timeout = std::time::Duration::from_secs(1200);
    let out = run_boot("every-slot", &boot, expect)?;
    let slots = out
        .monitor_lines()
        .find(|l| l.starts_with("vm slots: "))
        .ok_or("no `vm slots:` line")?;
    if !slots.starts_with("vm slots: 30 ") {
        return Err(format!("want 30 VM slots from the KIP, got {slots:?}"));
    }
    let refused = out
        .monitor_lines()
        .find(|l| l.contains("at most 30 guest VMs exist"))
        .ok_or("the 31st VM was not refused with the slot count")?
        .to_string();
    let passes = guest_passes(&out.lines);
    if passes.len() != 30 || passes.iter().any(|p| p != "s") {
        return Err(format!("{} guest passes, want 30 of `s`", passes.len()));
    }
    let (started, _, _) = vm_summary(out.monitor_lines()).ok_or("no `vms:` summary line")?;
    if started != 30 {
        return Err(format!("monitor summary started={started}, want 30"));
    }
    let records = compare::guest_records(&out.lines);
    let entries: Vec<u64> = records.iter().filter_map(|g| g.entry_tsc).collect();
    if entries.len() != 30 || entries.windows(2).any(|w| w[0] >= w[1]) {
        return Err(format!("VM entries not in start order: {entries:?}"));
    }
    let per_vm = |n: usize| (entries[n - 1] - entries[0]) / (n as u64 - 1);
    let (at15, at30) = (per_vm(15), per_vm(30));
    let growth = at30 as f64 / at15 as f64;
    if !(0.8..1.25).contains(&growth) {
        return Err(format!(
            "time per VM not linear: {at15} ns per VM up to 15, {at30} up to 30"
        ));
    }
    let start = monitor_value(out.monitor_lines(), "boot complete", "used")
        .ok_or("no heap use after boot")?;
    let end = monitor_value(
        out.monitor_lines()
            .filter(|l| l.starts_with("served: heap"))
            .last()
            .into_iter(),
        "served: heap",
        "used",
    )
    .ok_or("no heap use in the idle report")?;
    if end != start {
        return Err(format!(
            "heap use went from {start} to {end} bytes over 30 VMs"
        ));
    }
    Ok(format!(
        "{slots}; 30 VMs passed in order; {at15} ns per VM (entry to entry) over the first 15, {at30} over all 30 ({growth:.3}x); heap used {start} after boot and after the last VM; refused: {refused:?}"
    ))
}

/// The monitor's summary must say `started` VMs started and `failed`
/// failed; returns the virtual time of the last init complete.
fn vm_count(out: &RunOutcome, started: u64, failed: u64) -> Result<u64, String> {
    let (s, fl, tsc) = vm_summary(out.monitor_lines()).ok_or("no `vms:` summary line")?;
    if (s, fl) != (started, failed) {
        return Err(format!(
            "monitor summary started={s} failed={fl}, want started={started} failed={failed}"
        ));
    }
    Ok(tsc)
}

// ---------------------------------------------------------------------------
// The upstream afterburn wedge: a client nobody in this project wrote.

/// Which upstream wedge build: IDL4 wire variant A or B, or the
/// pass-through build (variant B; sends no client_init_complete, needs
/// `ddos`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    A,
    B,
    PassThrough,
}

impl Variant {
    fn tag(self) -> &'static str {
        match self {
            Variant::A => "a",
            Variant::B => "b",
            Variant::PassThrough => "pt",
        }
    }
}

/// The wedge's VM line (`../shared/wedge/README.md`).
const WEDGE_LINE: &str = "vmstart vmsize=64M wedgeinstall=16M wedgesize=16M";

/// What every wedge + `tinyguest.elf` boot prints, in order (README).
const TINYGUEST_LINES: [&str; 5] = [
    "afterburn: VCPU 0 Init done, entering monitor loop",
    "afterburn: VCPU 0 The guest kernel is missing PTE annotations.",
    "afterburn: VCPU 0 Required from guest: 5 total from guest 5",
    "tinyguest: hello from a guest kernel started by the afterburn wedge",
    "tinyguest: paging enabled, now printing from virtual address space",
];

fn wedge_module(f: &Found<'_>, v: Variant) -> Result<Module, String> {
    let w = f.wedge()?;
    let file = match v {
        Variant::A => &w.variant_a,
        Variant::B => &w.variant_b,
        Variant::PassThrough => &w.passthrough,
    };
    Ok(Module::new(file, WEDGE_LINE))
}

/// Expectations of a wedge boot with `vms` VMs whose guest kernels end with
/// `last_line`: ours waits for its idle `served:` report of the last VM
/// (printed after the guests went quiet), the original for the guests'
/// last lines.
fn wedge_expect(monitor: Monitor, vms: usize, last_line: &str) -> Expect {
    let mut e = scenario_expect();
    match monitor {
        Monitor::Ours => e.required = vec![format!("resourcemon: served: vm {vms}:")],
        Monitor::Original | Monitor::OriginalPerf => {
            e.successes = 0;
            e.required = vec![last_line.to_string(); vms];
        }
    }
    e
}

/// A `served: vm N:` report's counts.
fn served(out: &RunOutcome, vm: usize) -> Result<std::collections::BTreeMap<String, u64>, String> {
    let prefix = format!("served: vm {vm}: ");
    let line = out
        .monitor_lines()
        .filter(|l| l.starts_with(&prefix))
        .last()
        .ok_or(format!("no `{prefix}` report"))?;
    Ok(line[prefix.len()..]
        .split(' ')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect())
}

/// The counts every wedge + tinyguest VM must show (what the README counted
/// on the original: ~184 faults, 9 request_pages, 3 ThreadControl, 5
/// put_chars, 1 set_virtual_offset, 1 client_init_complete).
fn check_tinyguest_counts(
    counts: &std::collections::BTreeMap<String, u64>,
    vm: usize,
) -> Result<(), String> {
    let get = |k: &str| counts.get(k).copied().unwrap_or(0);
    let exact = [
        ("request_pages", 9),
        ("thread_control", 3),
        ("put_chars", 5),
        ("set_virtual_offset", 1),
        ("init_complete", 1),
        ("refused", 0),
        ("request_device", 0),
        ("space_control", 0),
    ];
    for (k, want) in exact {
        if get(k) != want {
            return Err(format!(
                "vm {vm}: served {k}={}, want {want}: {counts:?}",
                get(k)
            ));
        }
    }
    if !(150..=230).contains(&get("faults")) {
        return Err(format!(
            "vm {vm}: served faults={}, want about 184: {counts:?}",
            get("faults")
        ));
    }
    Ok(())
}

/// The lines of VM `vm` under our monitor (its `vmN: ` label).
fn our_vm_console(out: &RunOutcome, vm: usize) -> Vec<String> {
    let label = format!("vm{vm}: ");
    let mine: Vec<String> = out
        .lines
        .iter()
        .filter(|l| l.starts_with(&label))
        .cloned()
        .collect();
    compare::guest_console(&mine)
}

/// The wedge with `tinyguest.elf`: the README's lines under both monitors,
/// the same lines under both, and what our monitor served.
fn wedge_tinyguest(f: &Found<'_>, scenario: &str, v: Variant) -> Result<String, String> {
    let tiny = Module::new(&f.wedge()?.tinyguest, "console=ttyS0");
    let build = |m: Monitor| -> Result<Boot, String> {
        Ok(boot_for(f, m)?
            .module(wedge_module(f, v)?)
            .module(tiny.clone()))
    };
    let last = TINYGUEST_LINES[4];
    let (a, b) = both(
        scenario,
        (build(Monitor::Ours)?, wedge_expect(Monitor::Ours, 1, last)),
        (
            build(Monitor::Original)?,
            wedge_expect(Monitor::Original, 1, last),
        ),
    );
    let (a, b) = (passed(Monitor::Ours, a), passed(Monitor::Original, b));
    let (a, b) = (a?, b?);
    let want: Vec<String> = TINYGUEST_LINES.iter().map(|s| s.to_string()).collect();
    let ours = our_vm_console(&a, 1);
    if ours != want {
        return Err(format!(
            "under our monitor the wedge printed {ours:#?}, want {want:#?}"
        ));
    }
    let theirs = compare::guest_console(&b.lines);
    if theirs != want {
        return Err(format!(
            "under the original the wedge printed {theirs:#?}, want {want:#?}"
        ));
    }
    let counts = served(&a, 1)?;
    check_tinyguest_counts(&counts, 1)?;
    Ok(format!(
        "wedge variant {v:?} + tinyguest: the 5 console lines under both monitors; ours served {counts:?}; {:.1}s / {:.1}s wall",
        a.elapsed.as_secs_f64(),
        b.elapsed.as_secs_f64()
    ))
}

/// Two wedge VMs in one boot: the second starts after the first's init
/// complete; both guest kernels print all their lines.
fn wedge_two_vms(f: &Found<'_>) -> Result<String, String> {
    let tiny = Module::new(&f.wedge()?.tinyguest, "console=ttyS0");
    let build = |m: Monitor| -> Result<Boot, String> {
        Ok(boot_for(f, m)?
            .module(wedge_module(f, Variant::B)?)
            .module(tiny.clone())
            .module(wedge_module(f, Variant::B)?)
            .module(tiny.clone()))
    };
    let last = TINYGUEST_LINES[4];
    let (a, b) = both(
        "wedge-two-vms",
        (build(Monitor::Ours)?, wedge_expect(Monitor::Ours, 2, last)),
        (
            build(Monitor::Original)?,
            wedge_expect(Monitor::Original, 2, last),
        ),
    );
    let (a, b) = (passed(Monitor::Ours, a), passed(Monitor::Original, b));
    let (a, b) = (a?, b?);
    let want: Vec<String> = TINYGUEST_LINES.iter().map(|s| s.to_string()).collect();
    let mut all = Vec::new();
    for vm in 1..=2 {
        let lines = our_vm_console(&a, vm);
        if lines != want {
            return Err(format!("vm {vm} printed {lines:#?}, want {want:#?}"));
        }
        check_tinyguest_counts(&served(&a, vm)?, vm)?;
        all.extend(lines);
    }
    let done = position(a.monitor_lines(), "vm 1: init complete");
    let started = position(a.monitor_lines(), "vm 2: started");
    if !matches!((done, started), (Some(d), Some(s)) if d < s) {
        return Err(format!(
            "start order: vm 1 init complete at {done:?}, vm 2 started at {started:?}"
        ));
    }
    // The original's stream has no VM labels: compare the lines as a multiset.
    let mut theirs = compare::guest_console(&b.lines);
    theirs.sort();
    all.sort();
    if theirs != all {
        return Err(format!(
            "the guests printed other lines under the original: {theirs:#?} vs ours {all:#?}"
        ));
    }
    Ok(format!(
        "two wedge VMs, vm 2 started after vm 1's init complete, 10 lines under both monitors; served vm 1 {:?}, vm 2 {:?}",
        served(&a, 1)?,
        served(&a, 2)?
    ))
}

/// The wedge without a guest kernel: it says so, panics the VM and enters
/// the kernel debugger itself. Both monitors must get there, and ours must
/// have printed nothing fatal and refused nothing before.
fn wedge_no_kernel(f: &Found<'_>) -> Result<String, String> {
    let lines = [
        "Unable to find a valid kernel.",
        "VM panic.  Halting VM threads.",
        "--- \"VM panic\"",
    ];
    let expect = |_: Monitor| {
        let mut e = scenario_expect();
        e.successes = 0;
        e.required = lines.iter().map(|s| s.to_string()).collect();
        e
    };
    let build = |m: Monitor| -> Result<Boot, String> {
        Ok(boot_for(f, m)?.module(wedge_module(f, Variant::B)?))
    };
    let (a, b) = both(
        "wedge-no-kernel",
        (build(Monitor::Ours)?, expect(Monitor::Ours)),
        (build(Monitor::Original)?, expect(Monitor::Original)),
    );
    let (a, b) = (passed(Monitor::Ours, a), passed(Monitor::Original, b));
    let (a, _b) = (a?, b?);
    let bad: Vec<&str> = a
        .monitor_lines()
        .filter(|l| l.contains("fatal") || l.contains("refused:") || l.contains("panic at"))
        .collect();
    if !bad.is_empty() {
        return Err(format!("our monitor printed before the VM panic: {bad:?}"));
    }
    let summary = a
        .monitor_lines()
        .find(|l| l.starts_with("vms: "))
        .ok_or("no `vms:` summary line before the panic")?;
    if monitor_value(a.monitor_lines(), "vms:", "refused") != Some(0) {
        return Err(format!("refusals before the panic: {summary}"));
    }
    Ok(format!(
        "the wedge reported the missing kernel and entered the debugger under both monitors; ours served before: {summary:?}"
    ))
}

/// One of the project's own guest kernels (`tests/wedge-guest`) under the
/// upstream wedge, on both monitors: `mode=` picks the path it drives the
/// wedge into; it ends with `wedgeguest <mode>: PASS`. The guest's console
/// lines must be the same under both monitors.
fn wedge_guest(f: &Found<'_>, mode: &str, v: Variant, vm_extra: &str) -> Result<String, String> {
    wedge_guest_then(f, mode, v, vm_extra, &[], &|_| Ok(String::new()))
}

/// [`wedge_guest`], then `check` on our run.
fn wedge_guest_then(
    f: &Found<'_>,
    mode: &str,
    v: Variant,
    vm_extra: &str,
    input: &[InputStep],
    check: &dyn Fn(&RunOutcome) -> Result<String, String>,
) -> Result<String, String> {
    let scenario = format!(
        "wedge-guest-{mode}-{}{}",
        v.tag(),
        vm_extra.replace(' ', "-")
    );
    let wedge = wedge_module(f, v)?;
    let wedge = Module::new(&wedge.source, format!("{WEDGE_LINE}{vm_extra}"));
    let kernel = Module::new(
        resourcemon::WEDGE_GUEST_ELF,
        format!("mode={mode} console=ttyS0"),
    )
    .named("wedge-guest");
    let build = |m: Monitor| -> Result<Boot, String> {
        Ok(boot_for(f, m)?.module(wedge.clone()).module(kernel.clone()))
    };
    let pass = format!("wedgeguest {mode}: PASS");
    let expect = |m: Monitor| {
        let mut e = wedge_expect(m, 1, &pass);
        if m == Monitor::Ours {
            e.required.insert(0, pass.clone());
            if v == Variant::PassThrough {
                // No client_init_complete, so no sentinel: the lines decide.
                e.successes = 0;
            }
        }
        // A livelocked guest prints nothing after its last refusal lines.
        e.idle_timeout = std::time::Duration::from_secs(30);
        e.input = input.to_vec();
        e
    };
    let (a, b) = both(
        &scenario,
        (build(Monitor::Ours)?, expect(Monitor::Ours)),
        (build(Monitor::Original)?, expect(Monitor::Original)),
    );
    let (a, b) = (passed(Monitor::Ours, a), passed(Monitor::Original, b));
    let (a, b) = (a?, b?);
    let ours = our_vm_console(&a, 1);
    let theirs = compare::guest_console(&b.lines);
    if ours != theirs {
        return Err(format!(
            "the guest printed other lines under our monitor: {ours:#?} vs the original's {theirs:#?}"
        ));
    }
    let counts = served(&a, 1)?;
    let detail: Vec<&String> = ours
        .iter()
        .filter(|l| l.starts_with("wedgeguest "))
        .rev()
        .take(3)
        .collect();
    let extra = check(&a)?;
    Ok(format!(
        "{pass} under both monitors, same {} console lines; ours served {counts:?}; guest said {detail:?}{extra}",
        ours.len()
    ))
}

/// The pass-through wedge (`ddos`) associates hardware interrupt 6 when the
/// guest unmasks it in the virtual 8259: the monitor associates the
/// interrupt thread 6.1 with the wedge's IRQ thread and schedules the
/// interrupt thread (not the handler) at the wedge's priority + 1 (issue
/// 10.3), on both monitors without a refusal.
fn wedge_pt_interrupt(f: &Found<'_>) -> Result<String, String> {
    wedge_guest_then(f, "unmask", Variant::PassThrough, " ddos", &[], &|a| {
        let line = a
            .monitor_lines()
            .find(|l| l.starts_with("vm 1: interrupt 6 associated with "))
            .ok_or("no association line for interrupt 6")?;
        // 6.1 = (6 << 14) | 1; ddos priority 112 + 1.
        if !line.ends_with("Schedule(interrupt thread 0x18001, cpu 0, prio 0x71)") {
            return Err(format!(
                "association: {line:?}, want Schedule of 0x18001 at prio 0x71"
            ));
        }
        let counts = served(a, 1)?;
        if counts.get("associate_interrupt") != Some(&1) || counts.get("refused") != Some(&0) {
            return Err(format!(
                "served {counts:?}, want one associate_interrupt, no refusal"
            ));
        }
        Ok(format!("; {line:?}"))
    })
}

/// Issue 11 (d): the upstream wedge delivers console input to its guest
/// kernel through its emulated UART (COM2's receive register, fed from
/// `console_rx`): the guest echoes two typed lines, byte for byte, under
/// both monitors, with the same console lines.
fn wedge_guest_echo(f: &Found<'_>) -> Result<String, String> {
    let input = [
        InputStep::new("wedgeguest echo: ready", b"hello wedge\n"),
        InputStep::new("wedgeguest echo: got \"hello wedge\"", b"Second line 2!\n"),
    ];
    wedge_guest_then(f, "echo", Variant::B, "", &input, &|a| {
        let got: Vec<&String> = a
            .lines
            .iter()
            .filter(|l| l.contains("wedgeguest echo: got "))
            .collect();
        let want = [
            "vm1: wedgeguest echo: got \"hello wedge\"",
            "vm1: wedgeguest echo: got \"Second line 2!\"",
        ];
        if got != want {
            return Err(format!(
                "wedge-guest-echo: the guest kernel read {got:?} from its UART, want {want:?}"
            ));
        }
        Ok(format!("; typed lines echoed: {got:?}"))
    })
}

// ---------------------------------------------------------------------------
// Console input (issue 11).

/// The `"..."` body of the first line containing `key`, and that line.
fn quoted_after<'a>(out: &'a RunOutcome, key: &str) -> Option<(&'a str, &'a str)> {
    let line = out.lines.iter().find(|l| l.contains(key))?;
    let body = &line[line.find(key)? + key.len()..];
    let body = body.strip_prefix('"')?;
    Some((&body[..body.rfind('"')?], line))
}

/// Issue 11 (a): bytes typed on the serial line reach the focused VM, first
/// through `console_rx` (popped by the guest as the wedge pops it), then
/// through `get_chars`; an ESC followed by another byte (an arrow key)
/// reaches the guest as both bytes; the debugger's break-in is off (an ESC
/// would otherwise have stopped the machine).
fn console_input(f: &Found<'_>) -> Result<String, String> {
    let boot = standard_boot(f.pistachio, "").module(guest(
        "vmstart vmsize=16M wedgeinstall=8M name=e mode=echo echo-rx=5 echo-line=1",
    ));
    let mut e = scenario_expect();
    e.input = vec![
        InputStep::new("guest e: echo: waiting for 5 bytes on console_rx", b"hello"),
        InputStep::new(
            "guest e: echo: waiting for a line via get_chars",
            b"world \x1b[A ok\n",
        ),
    ];
    e.required = vec!["guest e: echo: get_chars got".into()];
    let out = run_boot("console-input", &boot, e)?;
    out.monitor_lines()
        .find(|l| l.starts_with("console: input from COM1"))
        .ok_or("console-input: the monitor never said it reads COM1")?;
    let (rx, _) = quoted_after(&out, "guest e: echo: console_rx got ")
        .ok_or("console-input: no console_rx line from the guest")?;
    if rx != "hello" {
        return Err(format!(
            "console-input: console_rx delivered {rx:?}, want \"hello\" (in order)"
        ));
    }
    let (ipc, line) = quoted_after(&out, "guest e: echo: get_chars got ")
        .ok_or("console-input: no get_chars line from the guest")?;
    if ipc != "world \\x1b[A ok\\n" || !line.ends_with("(13 bytes)") {
        return Err(format!(
            "console-input: get_chars delivered {line:?}, want \"world \\x1b[A ok\\n\" (13 bytes)"
        ));
    }
    if let Some(l) = out.monitor_lines().find(|l| l.contains("dropped")) {
        return Err(format!("console-input: input was dropped: {l:?}"));
    }
    Ok(format!(
        "console_rx gave {rx:?}, get_chars {ipc:?} (ESC [ forwarded as two bytes)"
    ))
}

/// Issue 11 (b): two VMs; typed input goes only to the one with the focus
/// (VM 1 at first); ESC n moves the focus to VM 2 with a `---- VM Focus 2
/// ---` line; ESC 1 moves it back by number; ESC 7 (no such VM) says so and
/// keeps the focus; ESC s announces the silent console.
fn console_focus(f: &Found<'_>) -> Result<String, String> {
    let boot = standard_boot(f.pistachio, "")
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=a mode=echo echo-line=1",
        ))
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=b mode=echo echo-line=1",
        ));
    let mut e = scenario_expect();
    e.input = vec![
        InputStep::new(
            "guest b: echo: waiting for a line via get_chars",
            b"for-a\n",
        ),
        InputStep::new("guest a: echo: get_chars got", b"\x1bnfor-b\n"),
        InputStep::new("guest b: echo: get_chars got", b"\x1b1\x1b7\x1bs"),
    ];
    e.required = vec![
        "guest b: echo: get_chars got".into(),
        "---- VM Focus 1 ---".into(),
        "---- No VM 7, focus stays on VM 1 ---".into(),
        "---- Silent Console ---".into(),
    ];
    let out = run_boot("console-focus", &boot, e)?;
    let (a, _) = quoted_after(&out, "guest a: echo: get_chars got ")
        .ok_or("console-focus: VM a printed no get_chars line")?;
    let (b, _) = quoted_after(&out, "guest b: echo: get_chars got ")
        .ok_or("console-focus: VM b printed no get_chars line")?;
    if a != "for-a\\n" || b != "for-b\\n" {
        return Err(format!(
            "console-focus: VM a got {a:?}, VM b got {b:?}; want \"for-a\\n\" and \"for-b\\n\" (input only for the focused VM)"
        ));
    }
    let at = |text: &str| out.lines.iter().position(|l| l == text);
    let focus2 = at("---- VM Focus 2 ---")
        .ok_or("console-focus: ESC n printed no `---- VM Focus 2 ---` line")?;
    let b_line = out
        .lines
        .iter()
        .position(|l| l.contains("guest b: echo: get_chars got "))
        .unwrap_or(0);
    let focus1 = at("---- VM Focus 1 ---")
        .ok_or("console-focus: ESC 1 printed no `---- VM Focus 1 ---` line")?;
    if !(focus2 < b_line && b_line < focus1) {
        return Err(format!(
            "console-focus: focus lines out of order: Focus 2 at {focus2}, b's line at {b_line}, Focus 1 at {focus1}"
        ));
    }
    Ok(format!(
        "VM a got {a:?}, VM b (after ESC n) {b:?}; ESC 1, ESC 7 and ESC s answered"
    ))
}

/// Issue 11 (c): a burst larger than the input buffer while the guest
/// reads nothing: what does not fit is dropped and counted by the monitor,
/// what fits arrives in order (the byte in `console_rx`, then 128 queued
/// for `get_chars`), and input typed afterwards arrives whole.
fn console_overflow(f: &Found<'_>) -> Result<String, String> {
    const BURST: usize = 300;
    const KEPT: usize = 1 + 128;
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let burst: Vec<u8> = (0..BURST)
        .map(|i| alphabet[(i * 7 + i / alphabet.len()) % alphabet.len()])
        .collect();
    // QEMU hands the UART about one byte per monitor poll (50 ms), and
    // the guest's hold and the monitor's polls are both kernel timeouts: a
    // 30 s hold spans 600 polls, twice what the whole burst needs, so the
    // burst is in (and the overflow dropped) before the guest reads.
    let boot = standard_boot(f.pistachio, "").module(guest(
        "vmstart vmsize=16M wedgeinstall=8M name=c mode=echo echo-line=1 hold=30000",
    ));
    let mut e = scenario_expect();
    e.input = vec![
        InputStep::new("guest c: echo: holding", &burst),
        InputStep::new("guest c: echo: drained", b"-end\n"),
    ];
    // The monitor reports the drops at the latest when the guest drains
    // its queue (get_chars), before the guest says it drained.
    e.required = vec![
        "resourcemon: console: vm 1: ".into(),
        "guest c: echo: drained".into(),
        "guest c: echo: get_chars got".into(),
    ];
    let out = run_boot("console-overflow", &boot, e)?;
    let dropped = out
        .monitor_lines()
        .filter(|l| l.starts_with("console: vm 1: ") && l.contains(" dropped (buffer full; "))
        .filter_map(|l| {
            let rest = &l[l.find("buffer full; ")? + "buffer full; ".len()..];
            rest.split(' ').next()?.parse::<usize>().ok()
        })
        .max()
        .ok_or("console-overflow: the monitor reported no dropped input")?;
    let (got, _) = quoted_after(&out, "guest c: echo: get_chars got ")
        .ok_or("console-overflow: the guest printed no get_chars line")?;
    let got = got
        .strip_suffix("-end\\n")
        .ok_or(format!(
            "console-overflow: input typed after the burst was lost: {got:?}"
        ))?
        .as_bytes();
    if !got.starts_with(&burst[..KEPT]) {
        return Err(format!(
            "console-overflow: the first {KEPT} bytes of the burst did not arrive in order: {:?}",
            String::from_utf8_lossy(got)
        ));
    }
    let mut rest = burst.iter();
    if !got.iter().all(|b| rest.any(|c| c == b)) {
        return Err("console-overflow: the guest got bytes out of order".into());
    }
    if got.len() + dropped != BURST {
        return Err(format!(
            "console-overflow: {} bytes arrived and {dropped} were reported dropped, want {BURST} in all",
            got.len()
        ));
    }
    Ok(format!(
        "burst of {BURST}: {} arrived in order, {dropped} dropped and counted, the next line whole",
        got.len()
    ))
}

// ---------------------------------------------------------------------------
// Scenarios of this monitor alone.

// The failure path: a monitor panic prints the panic, the failure sentinel,
/// and stops; the harness reports it as a failure (exit code 1) with the
/// panic in its context, not as a timeout.
fn panic(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
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
fn isolation(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
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
    // The fuzzer's kernel regression: deleting an interrupt's handler
    // releases the interrupt first (the guest's own checks saw every call
    // succeed; this is the monitor's side of it).
    if !out
        .monitor_lines()
        .any(|l| l.starts_with("vm 2: interrupt 0 released from its handler"))
    {
        return Err("no release of interrupt 0 before its handler's deletion".into());
    }
    if out
        .monitor_lines()
        .any(|l| l.starts_with("vm 1: refused:") || l.starts_with("vm 3: refused:"))
    {
        return Err("a well-behaved VM was refused something".into());
    }
    // The hostile guest *sends* a page fault outside its VM (and waits
    // 200 ms for a reply that must not come): supervision must not take
    // that for a thread blocked in a fault (issue 14).
    if let Some(l) = out.monitor_lines().find(|l| l.contains(": dead: ")) {
        return Err(format!("a VM was declared dead: {l:?}"));
    }
    Ok(format!("{refused} requests refused ({logged} logged for the hostile VM); victim and neighbour passed"))
}

/// A `ddos` driver VM maps VGA text memory and a page above RAM, registers
/// an interface; a client VM finds it with the locator and has the driver
/// map one of its pages through request_client_pages.
fn driver(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
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
fn soak(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
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

/// Requests per fuzzer in the `fuzz` scenario (`FUZZ_REQUESTS` overrides):
/// one million in all.
const FUZZ_REQUESTS: u32 = 500_000;

/// A victim (normal checks, then soak rounds and a check of its own pages
/// until both fuzzers are done, then one more round) beside two fuzzing
/// VMs with different seeds. Passes only if every guest passes (no fuzzer
/// broke a rule it checks itself: no mapping outside its VM, no success
/// where the spec says refusal, ...), the monitor kept serving (its idle
/// `served:` report comes after the victim's verdict), and its heap use at
/// that report equals its use after boot plus the fuzzers' device
/// stand-in pages (one 4 KB page per VM, logged when taken).
fn fuzz(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
    let n: u32 = std::env::var("FUZZ_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FUZZ_REQUESTS);
    // `FUZZ_TRACE=1`: the fuzzers print their thread, space and interrupt
    // requests (to trace a kernel failure back to its requests).
    let trace = match std::env::var("FUZZ_TRACE").as_deref() {
        Ok("1") => " fuzz-trace=1",
        _ => "",
    };
    let boot = standard_boot(p, "")
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=victim mode=victim irq=10 fuzzers=2",
        ))
        .module(guest(&format!(
            "vmstart vmsize=16M wedgeinstall=8M name=fuzz1 mode=fuzz seed=0x1234 fuzz={n} victim-irq=10{trace}"
        )))
        .module(guest(&format!(
            "vmstart vmsize=16M wedgeinstall=8M name=fuzz2 mode=fuzz seed=0xbeef fuzz={n} victim-irq=10{trace}"
        )));
    // The kernel's timer calibrated against a virtual RTC (about 35 s more
    // boot): its IPC timeouts then last what they say in virtual time, so
    // the fuzzers' requests per second (virtual) mean something.
    let mut boot = boot;
    boot.extra_args
        .extend(["-rtc".to_string(), "clock=vm".to_string()]);
    let mut expect = scenario_expect();
    expect.hard_timeout = std::time::Duration::from_secs(3600);
    expect.idle_timeout = std::time::Duration::from_secs(300);
    expect.required = vec![
        "GUEST_PASS victim".into(),
        "resourcemon: served: heap used=".into(),
    ];
    let out = run_boot("fuzz", &boot, expect).map_err(|e| {
        format!(
            "{e}\nTo find the requests behind it: replay the seeds on the host, which shrinks a failure to its shortest sequence (FUZZ_REPLAY_SEEDS=0x1234,0xbeef FUZZ_REPLAY_REQUESTS={n} cargo test -p tests --test fuzz_replay); for a kernel failure, boot again with FUZZ_TRACE=1"
        )
    })?;
    let mut passes = guest_passes(&out.lines);
    passes.sort();
    if passes != ["fuzz1", "fuzz2", "victim"] {
        return Err(format!("guest passes {passes:?}"));
    }
    // Fuzzers send page-fault and exception-labelled messages; none of
    // that is a dead VM (issue 14).
    if let Some(l) = out.monitor_lines().find(|l| l.contains(": dead: ")) {
        return Err(format!("a VM was declared dead: {l:?}"));
    }
    let start = monitor_value(out.monitor_lines(), "boot complete", "used")
        .ok_or("no heap use after boot")?;
    let end = monitor_value(
        out.monitor_lines()
            .filter(|l| l.starts_with("served: heap"))
            .last()
            .into_iter(),
        "served: heap",
        "used",
    )
    .ok_or("no heap use in the idle report")?;
    // The one heap allocation a VM may cause while it runs: its device
    // stand-in page (4 KB, once, logged), which a fuzzer's request_device
    // above its memory brings about. Anything more is a leak.
    let stand_ins = out
        .monitor_lines()
        .filter(|l| l.contains("is served from a stand-in page at"))
        .count() as u64;
    if end != start + 4096 * stand_ins {
        return Err(format!(
            "heap use went from {start} to {end} bytes; {stand_ins} stand-in page(s) of 4 KB account for {}",
            4096 * stand_ins
        ));
    }
    let stats: Vec<&String> = out
        .lines
        .iter()
        .filter(|l| l.contains(": fuzz: seed=") || l.contains(": victim: "))
        .collect();
    let mut total = 0u64;
    let mut per_s = Vec::new();
    for l in &stats {
        let word = |k: &str| -> Option<u64> {
            l.split(' ')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
        };
        if let (Some(r), Some(s)) = (word("requests"), word("requests_per_s")) {
            total += r;
            per_s.push(s);
        }
    }
    if total < 2 * n as u64 {
        return Err(format!("only {total} fuzz requests, want {}", 2 * n));
    }
    // The wall rate is what bounds a CI run.
    Ok(format!(
        "{total} fuzz requests, {per_s:?} requests/s (virtual) per fuzzer, {:.0} requests/s (wall); heap used {start} after boot, {end} at the end ({stand_ins} stand-in page(s)); {stats:?}; {:.0}s wall",
        total as f64 / out.elapsed.as_secs_f64().max(0.001),
        out.elapsed.as_secs_f64()
    ))
}

// ---------------------------------------------------------------------------
// SMP (issue 15): the SMP kernel (`PISTACHIO_SMP_DIR`, default
// ../shared/pistachio/ia32-smp) on `-smp N` with single-threaded TCG.
//
// These boots run without -icount: with `-smp 2` or more, this kernel (its
// own l4test too) hangs right after its banner under every -icount setting
// tried (shift=0 with and without sleep=off, align=off, shift=1, auto),
// while `-smp 1` boots. Their figures are therefore wall-clock TSC and
// vary from run to run; they are reported as ratios within the same run.

/// Boots of the SMP kernel a scenario tries before it fails.
const SMP_ATTEMPTS: usize = 3;

/// The fixture kernel sometimes stops the machine by itself under SMP
/// (a reset, a debugger stop, a hang; README "Multiprocessor"): a run
/// that ended so, and not with the failure sentinel, is tried again, up
/// to [`SMP_ATTEMPTS`] boots; every earlier ending is reported.
fn kernel_stopped(out: &RunOutcome) -> bool {
    !matches!(out.verdict, Verdict::Pass | Verdict::Fail { .. })
}

/// A boot of `roottask` on the SMP kernel with `cpus` processors.
fn smp_boot(f: &Found<'_>, roottask: &Path, cpus: u32) -> Result<Boot, String> {
    let mut b = Boot::standard(f.smp()?, roottask, "").smp(cpus);
    b.icount = false;
    Ok(b)
}

/// The `mode=smp` guest: a second thread on processor `cpu` (which claims
/// IRQ 10 for that processor), both threads measure.
fn smp_guest(name: &str, cpu: u32) -> Module {
    guest(&format!(
        "vmstart vmsize=16M wedgeinstall=8M name={name} mode=smp vcpus=2 pcpus=2 expect-pcpus=2 cpu={cpu} touch=256 request=64 irq=10"
    ))
}

/// What every SMP boot with `cpus` processors must show: the processor
/// count and one descriptor line per processor (none more) in the boot
/// report; `pcpus=` planned as clamped; the second thread's Schedule and
/// interrupt on processor `cpu` (in VM `smp_vm`).
fn smp_report(out: &RunOutcome, cpus: u32, smp_vm: usize, cpu: u32) -> Result<String, String> {
    let mon: Vec<&str> = out.monitor_lines().collect();
    let want = format!("cpus: count={cpus} descriptors={cpus} ");
    if !mon.iter().any(|l| l.starts_with(&want)) {
        return Err(format!("no `{want}` line in the boot report"));
    }
    for c in 0..=cpus {
        let prefix = format!("cpu {c}: external=");
        let has = mon.iter().any(|l| l.starts_with(&prefix));
        if has != (c < cpus) {
            return Err(format!("processor descriptor line for cpu {c}: {has}"));
        }
    }
    let schedule = format!("vm {smp_vm}: ThreadControl: Schedule(");
    let s = mon
        .iter()
        .find(|l| l.starts_with(&schedule))
        .ok_or(format!("no `{schedule}` line"))?;
    if !s.ends_with(&format!(", prio 102, cpu {cpu})")) {
        return Err(format!("Schedule line {s:?}, want prio 102 and cpu {cpu}"));
    }
    let irq = mon
        .iter()
        .find(|l| l.starts_with(&format!("vm {smp_vm}: interrupt 10 associated")))
        .ok_or("no association of interrupt 10")?;
    if !irq.contains(&format!(", cpu {cpu}, prio 0x67)")) {
        return Err(format!("interrupt line {irq:?}, want cpu {cpu}, prio 0x67"));
    }
    Ok(format!("{} cpu lines; {s:?}; {irq:?}", cpus))
}

/// Per page fault and per request_pages from both threads of guest `name`
/// (CPU 0 and CPU `cpu`), and each as ratio CPU `cpu` / CPU 0.
fn smp_figures(out: &RunOutcome, name: &str, cpu: u32) -> Result<[u64; 4], String> {
    let second = format!("{name}@cpu{cpu}");
    let get = |n: &str, w: &str| {
        tests::named_guest_figure(&out.lines, n, w)
            .ok_or(format!("guest {n} printed no `{w}` figure"))
    };
    Ok([
        get(name, "touched")?,
        get(&second, "touched")?,
        get(name, "requested")?,
        get(&second, "requested")?,
    ])
}

fn describe_smp_figures(f: &[u64; 4], cpu: u32) -> String {
    format!(
        "ns per page fault cpu 0 {} / cpu {cpu} {} (ratio {:.2}); ns per request_pages cpu 0 {} / cpu {cpu} {} (ratio {:.2})",
        f[0],
        f[1],
        f[1] as f64 / f[0].max(1) as f64,
        f[2],
        f[3],
        f[3] as f64 / f[2].max(1) as f64
    )
}

/// `-smp 2`, side by side with the original on the same kernel: the boot
/// report's processors, `pcpus=2` and `pcpus=17` clamped to 2, and the
/// `mode=smp` guest's second thread on CPU 1 (ThreadControl proxy with
/// cpu 1 and prio 102; faults, request_pages, put_chars from there; its
/// UTCB's processor number must be 1; IRQ 10 with irq_cpu 1). Figures
/// from CPU 0 and CPU 1, ours and the original's.
///
/// The original replies with a zero send timeout only (see DIFFERENCES.md
/// "Multiprocessor"), and this kernel sometimes stops the machine under
/// either monitor (README, SMP notes): the original's run must get its
/// first two guests through and print the CPU 0 figures; what it does on
/// CPU 1 is reported, not required (a short idle timeout ends it).
fn smp_2(f: &Found<'_>) -> Result<String, String> {
    let s = "smp-2";
    let passes = ["two", "over", "s"];
    let build = |m: Monitor| -> Result<Boot, String> {
        Ok(smp_boot(f, m.roottask(f)?, 2)?
            .module(guest(
                "vmstart vmsize=16M wedgeinstall=8M name=two pcpus=2 expect-pcpus=2",
            ))
            .module(guest(
                "vmstart vmsize=16M wedgeinstall=8M name=over pcpus=17 expect-pcpus=2",
            ))
            .module(smp_guest("s", 1)))
    };
    let mut orig_expect = guest_expect(Monitor::Original, &passes);
    orig_expect.idle_timeout = std::time::Duration::from_secs(30);
    let mut earlier = Vec::new();
    let (a, b) = loop {
        let (a, b) = both(
            s,
            (build(Monitor::Ours)?, guest_expect(Monitor::Ours, &passes)),
            (build(Monitor::Original)?, orig_expect.clone()),
        );
        match &a {
            Ok(out) if kernel_stopped(out) && earlier.len() + 1 < SMP_ATTEMPTS => {
                earlier.push(out.verdict.to_string());
            }
            _ => break (a, b),
        }
    };
    let a = passed(Monitor::Ours, a).map_err(|e| format!("{e}; earlier boots: {earlier:?}"))?;
    let b = b.map_err(|e| format!("Original: {e}"))?;
    let got = guest_passes(&a.lines);
    if got != passes {
        return Err(format!("Ours: guest passes {got:?}, want {passes:?}"));
    }
    let orig_passes = guest_passes(&b.lines);
    if orig_passes.len() < 2 || orig_passes[..2] != passes[..2] {
        return Err(format!(
            "Original: guest passes {orig_passes:?}, want at least two, over; {}",
            explain(&b)
        ));
    }
    let orig_cpu1 = if b.verdict == Verdict::Pass {
        "served its CPU 1 thread".to_string()
    } else {
        let last = b
            .lines
            .iter()
            .rev()
            .find(|l| l.contains("guest s@cpu1: "))
            .cloned()
            .unwrap_or_else(|| "(no line of the CPU 1 thread)".into());
        format!(
            "did not serve its CPU 1 thread to the end ({}); last line of that thread: {last:?}",
            b.verdict
        )
    };
    let report = smp_report(&a, 2, 3, 1)?;
    let plan: Vec<&str> = a
        .monitor_lines()
        .filter(|l| l.starts_with("plan: vm "))
        .collect();
    if plan.len() != 3 || plan.iter().any(|l| !l.contains(" pcpus=2 ")) {
        return Err(format!("plan lines {plan:?}, want pcpus=2 in all three"));
    }
    let (ra, rb) = (
        compare::guest_records(&a.lines),
        compare::guest_records(&b.lines),
    );
    // Recorded under a name that says these are not -icount figures.
    let compared = compare_records("smp-2 (wall TSC, no -icount)", &ra, &rb)?;
    let fo = smp_figures(&a, "s", 1)?;
    let orig = |n: &str, w: &str| tests::named_guest_figure(&b.lines, n, w);
    let fr = [
        orig("s", "touched"),
        orig("s@cpu1", "touched"),
        orig("s", "requested"),
        orig("s@cpu1", "requested"),
    ];
    let names = [
        "TSC cycles per page fault from cpu 0 (no -icount)",
        "TSC cycles per page fault from cpu 1 (no -icount)",
        "TSC cycles per request_pages from cpu 0 (no -icount)",
        "TSC cycles per request_pages from cpu 1 (no -icount)",
    ];
    let figures: Vec<compare::Figure> = names
        .iter()
        .zip(fo.iter().zip(fr.iter()))
        .filter_map(|(w, (o, r))| {
            Some(compare::Figure {
                what: w.to_string(),
                ours: *o,
                original: (*r)?,
            })
        })
        .collect();
    if figures.len() < 2 {
        return Err(format!("the original printed no CPU 0 figures: {fr:?}"));
    }
    tests::record_figures("smp-2 (wall TSC, no -icount)", &figures);
    Ok(format!(
        "boot {} of {SMP_ATTEMPTS} (earlier: {earlier:?}); {report}; pcpus=2 and pcpus=17 both gave pcpu_count 2; ours: {}; the original {orig_cpu1}; original figures (cpu 0 fault, cpu 1 fault, cpu 0 request, cpu 1 request): {fr:?}; {compared}\n    cross-CPU figures (ours / original):\n{}",
        earlier.len() + 1,
        describe_smp_figures(&fo, 1),
        compare::figure_table(&figures).trim_end()
    ))
}

/// `-smp 4`: four processors in the boot report, `pcpus=4` stays 4 and
/// `pcpus=17` is clamped to 4, and the second thread runs on CPU 3.
fn smp_4(f: &Found<'_>) -> Result<String, String> {
    let boot = smp_boot(f, Path::new(resourcemon::ROOTTASK_ELF), 4)?
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=four pcpus=4 expect-pcpus=4",
        ))
        .module(guest(
            "vmstart vmsize=16M wedgeinstall=8M name=over pcpus=17 expect-pcpus=4",
        ))
        .module(smp_guest("s", 3));
    let mut earlier = Vec::new();
    let out = loop {
        let out = run_any("smp-4", &boot, scenario_expect())?;
        if kernel_stopped(&out) && earlier.len() + 1 < SMP_ATTEMPTS {
            earlier.push(out.verdict.to_string());
            continue;
        }
        if out.verdict != Verdict::Pass {
            return Err(format!("{}; earlier boots: {earlier:?}", explain(&out)));
        }
        break out;
    };
    let passes = guest_passes(&out.lines);
    if passes != ["four", "over", "s"] {
        return Err(format!("guest passes {passes:?}, want four, over, s"));
    }
    let report = smp_report(&out, 4, 3, 3)?;
    let plan: Vec<&str> = out
        .monitor_lines()
        .filter(|l| l.starts_with("plan: vm "))
        .collect();
    let want = [" pcpus=4 ", " pcpus=4 ", " pcpus=2 "];
    if plan.len() != 3 || plan.iter().zip(want).any(|(l, w)| !l.contains(w)) {
        return Err(format!("plan lines {plan:?}, want pcpus 4, 4, 2"));
    }
    let figs = smp_figures(&out, "s", 3)?;
    Ok(format!(
        "boot {} of {SMP_ATTEMPTS} (earlier: {earlier:?}); {report}; pcpus=4 gave 4 and pcpus=17 gave 4; {}",
        earlier.len() + 1,
        describe_smp_figures(&figs, 3)
    ))
}

/// Rounds per soaking thread of `smp-soak` (`SMP_SOAK_ROUNDS` overrides):
/// each round is a page fault after an unmap (two, with the write), and a
/// request_pages: about 300,000 requests for the two threads.
const SMP_SOAK_ROUNDS: u32 = 50_000;

/// Two VMs on `-smp 2`: VM 1 runs on CPU 0 and soaks on its first thread,
/// VM 2 moves its first thread to CPU 1 (its own Schedule; its second
/// thread is there too) and soaks there, at once (VM 1 waits for VM 2's
/// go): every answer right (each page reads what its own thread last
/// wrote, a pattern unique to the VM and thread), none refused or lost,
/// the soaks overlap in time, the monitor's heap is flat.
///
/// Expected to fail on the fixture kernel (marked `waits_for`): with
/// requests from CPU 1 and CPU 0 at full speed, its CPU 1 stops within
/// seconds (the thread there waits for a page fault or request_pages
/// that never reaches the monitor, which saw no failed reply), or the
/// kernel faults itself ("kernel access raised user pagefault @ 00000090",
/// `KD# kpf`) when both threads of one VM soak; the original monitor
/// stops earlier still. See the README's SMP notes.
fn smp_soak(f: &Found<'_>) -> Result<String, String> {
    let n: u32 = std::env::var("SMP_SOAK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SMP_SOAK_ROUNDS);
    let vm = |name: &str, sync: &str| {
        guest(&format!(
            "vmstart vmsize=16M wedgeinstall=8M name={name} mode=smp vcpus=2 pcpus=2 expect-pcpus=2 cpu=1 smp-soak={n} {sync}"
        ))
    };
    let boot = smp_boot(f, Path::new(resourcemon::ROOTTASK_ELF), 2)?
        .module(vm("soak1", "soak-wait=1 soak-on=0"))
        .module(vm("soak2", "soak-go=1 soak-on=0 soak-cpu=1"));
    let mut expect = scenario_expect();
    expect.hard_timeout = std::time::Duration::from_secs(1800);
    expect.idle_timeout = std::time::Duration::from_secs(150);
    expect.required = vec![
        // VM 2's pass, then the idle report: printed only once neither
        // VM asks anything (both done, whichever finished first).
        "GUEST_PASS soak2".into(),
        "resourcemon: served: heap used=".into(),
    ];
    let out = run_boot("smp-soak", &boot, expect)?;
    let mut passes = guest_passes(&out.lines);
    passes.sort();
    if passes != ["soak1", "soak2"] {
        return Err(format!("guest passes {passes:?}"));
    }
    // Every thread's tally: rounds, clean, and its time span.
    let mut spans = Vec::new();
    let mut total = 0u64;
    for who in ["soak1", "soak2"] {
        let key = format!("guest {who}: smp soak: ");
        let line = out
            .lines
            .iter()
            .find(|l| l.contains(&key))
            .ok_or(format!("no soak line of {who}"))?;
        let word = |k: &str| -> Option<u64> {
            line.split(' ')
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
        };
        let get = |k: &str| word(k).ok_or(format!("{who}: no {k}= in {line:?}"));
        if get("rounds")? != n as u64 {
            return Err(format!("{who}: {line:?}, want {n} rounds"));
        }
        for k in ["wrong", "refused", "lost"] {
            if get(k)? != 0 {
                return Err(format!("{who}: {line:?}"));
            }
        }
        total += get("requests")?;
        spans.push((get("start_tsc")?, get("end_tsc")?));
    }
    let latest_start = spans.iter().map(|s| s.0).max().unwrap_or(0);
    let earliest_end = spans.iter().map(|s| s.1).min().unwrap_or(0);
    if latest_start >= earliest_end {
        return Err(format!("the soaks did not overlap: {spans:?}"));
    }
    let overlap = (earliest_end - latest_start) as f64
        / spans.iter().map(|s| s.1 - s.0).max().unwrap_or(1).max(1) as f64;
    // The monitor's own count (its last idle report per VM): each VM's two
    // threads made n faults and n request_pages each, none refused.
    let mut served = Vec::new();
    let mut served_total = 0u64;
    for vm in [1, 2] {
        let prefix = format!("served: vm {vm}: ");
        let last = out
            .monitor_lines()
            .filter(|l| l.starts_with(&prefix))
            .last()
            .ok_or(format!("no `{prefix}` report"))?;
        let value = |k| monitor_value(std::iter::once(last), &prefix, k).unwrap_or(0);
        let (faults, pages, refused) = (value("faults"), value("request_pages"), value("refused"));
        if faults < n as u64 || pages < n as u64 || refused != 0 {
            return Err(format!(
                "monitor: {last:?}, want at least {n} faults and {n} request_pages, none refused"
            ));
        }
        served_total += faults + pages;
        served.push(last.to_string());
    }
    let start = monitor_value(out.monitor_lines(), "boot complete", "used")
        .ok_or("no heap use after boot")?;
    let end = monitor_value(
        out.monitor_lines()
            .filter(|l| l.starts_with("served: heap"))
            .last()
            .into_iter(),
        "served: heap",
        "used",
    )
    .ok_or("no heap use in the idle report")?;
    if end != start {
        return Err(format!("heap use went from {start} to {end} bytes"));
    }
    if served_total < 250_000 {
        return Err(format!(
            "only {served_total} faults and request_pages served"
        ));
    }
    Ok(format!(
        "{served_total} faults and request_pages served ({total} counted by the guests: {n} rounds each on CPU 0 and CPU 1, both at once for {:.0}% of the longer), none wrong, refused or lost; monitor: {served:?}; heap used {start} after boot and at the end; {:.0}s wall",
        overlap * 100.0,
        out.elapsed.as_secs_f64()
    ))
}

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

/// The floor: for page faults, request_pages and the null RPC
/// (tid_to_space_id), the round trip the first guest
/// measured beside the monitor's own part of it (its `served: own ns`
/// line), recorded for the suite's floor table; None without both.
fn floor(scenario: &str, out: &qemu::RunOutcome) -> Option<String> {
    let first = |v: Vec<(u64, u64)>| v.first().map(|(_, ns)| *ns);
    let guest = [
        (
            "page fault",
            first(guest_figures(&out.lines, "touched")),
            "faults",
        ),
        (
            "request_pages",
            first(guest_figures(&out.lines, "requested")),
            "request_pages",
        ),
        (
            "null RPC",
            first(guest_baselines(&out.lines)),
            "tid_to_space_id",
        ),
    ];
    let rows: Vec<tests::Floor> = guest
        .iter()
        .filter_map(|(kind, g, own)| {
            Some(tests::Floor {
                kind,
                guest_ns: (*g)?,
                own_ns: tests::monitor_own_ns(out.monitor_lines(), own)?,
            })
        })
        .collect();
    if rows.len() != guest.len() {
        return None;
    }
    tests::record_floor(scenario, &rows);
    let null = rows[2].guest_ns.max(1) as f64;
    let text: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} ns, of which the monitor's own {} ns ({:.0} %; {:.2}x the null RPC's round trip)",
                r.kind,
                r.guest_ns,
                r.own_ns,
                100.0 * r.own_ns as f64 / r.guest_ns.max(1) as f64,
                r.own_ns as f64 / null
            )
        })
        .collect();
    Some(format!("floor: {}", text.join("; ")))
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

/// Broken groups between good ones: a VM module that is no ELF and a VM
/// too large for the machine are reported; both good VMs still pass.
fn broken_group(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
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

/// A boot written as a kickstart-config description: the QEMU tool boots
/// from the description's generated arguments, and the monitor receives
/// exactly the command lines the description gives.
fn from_config(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
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
fn first_boot(f: &Found<'_>) -> Result<String, String> {
    let p = f.pistachio;
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
    // The heap lies in the monitor's own block below 8 MB (issue 10.7: it
    // was taken from the top of memory, where the original places VMs).
    let heap = printed_value(out.monitor_lines(), "heap:", "base").ok_or("no heap line")?;
    check(
        (0x40_0000..0x80_0000).contains(&heap),
        format!("heap at {heap:#x}, want it in the monitor's block [4 MB, 8 MB)"),
    )?;
    // The device window: 32 MB from the KIP, clear of the UTCB and KIP
    // areas at 0xBF000000 and 0xBFF00000 (issue 10.2).
    let window = out
        .monitor_lines()
        .find(|l| l.starts_with("remap: device window "))
        .ok_or("no remap window line")?;
    check(
        window == "remap: device window [0xbc000000, 0xbe000000) (8192 slots)",
        format!("remap window: {window:?}"),
    )?;
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

// ---------------------------------------------------------------------------
// Real boot loaders (issue 12): one kickstart-config description booted by
// QEMU's multiboot loader (`-kernel`) and from the image `kickstart-config
// image` writes (GRUB 2 ISO on `-cdrom`, GRUB legacy disk on `-hda`); the
// image boot must give the same sentinel, guest results, boot-info records
// and plan as the direct boot, with the image's paths in every command line.

use kickstart_config::image::{self as boot_image, Loader};

const GRUB2: Needs = Needs {
    grub2: true,
    ..Needs::NONE
};
const GRUB_LEGACY: Needs = Needs {
    grub_legacy: true,
    ..Needs::NONE
};

/// Two test-guest VMs with modules; a module argument with `$` (quoted in
/// grub.cfg, plain in menu.lst) and one with two words.
const BOOT_LOADER_DESC: &str = r#"
title = "boot-loader scenario"
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
wedgeinstall = "16M"
kernel = { path = "test-guest", args = "name=one touch=64 request=16 expect-modules=2" }
modules = [{ path = "m0", args = "first module" }, { path = "m1", args = "second a=$x" }]
[[vm]]
name = "two"
vmsize = "16M"
wedgeinstall = "8M"
kernel = { path = "test-guest", args = "name=two expect-modules=1" }
modules = [{ path = "b0", args = "for b" }]
"#;

/// What a boot of [`BOOT_LOADER_DESC`] showed, for comparison.
#[derive(Debug, PartialEq, Eq)]
struct LoaderBootResult {
    /// `GUEST_PASS` names in order.
    passes: Vec<String>,
    /// `(started, failed)` from the monitor's summary.
    vms: (u64, u64),
    /// Boot-info records: kind, size and command line with the image
    /// prefix taken off the path (start addresses depend on the loader).
    records: Vec<(u64, Option<u64>, String)>,
    /// The planner's lines.
    plan: Vec<String>,
}

fn loader_boot_result(out: &RunOutcome) -> Result<(LoaderBootResult, u64), String> {
    let (started, failed, tsc) = vm_summary(out.monitor_lines()).ok_or("no `vms:` summary line")?;
    let prefix = format!("{}/", boot_image::DEFAULT_PREFIX);
    let records = printed_records(out.monitor_lines())
        .into_iter()
        .filter(|r| r.kind == 1 || r.kind == 2)
        .map(|r| {
            let c = r.cmdline.unwrap_or_default();
            (
                r.kind,
                r.size,
                c.strip_prefix(&prefix).unwrap_or(&c).to_string(),
            )
        })
        .collect();
    Ok((
        LoaderBootResult {
            passes: guest_passes(&out.lines),
            vms: (started, failed),
            records,
            plan: out
                .monitor_lines()
                .filter(|l| l.starts_with("plan: "))
                .map(String::from)
                .collect(),
        },
        tsc,
    ))
}

/// Writes the description's files (the Pistachio build's, the root task,
/// the test guest, the data modules) and the description into the
/// scenario's folder; returns the description's path.
fn boot_loader_files(f: &Found<'_>, s: &str) -> Result<std::path::PathBuf, String> {
    let dir = tests::runs_dir().join(s).join("files");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let p = f.pistachio;
    for (from, to) in [
        (p.kickstart.as_path(), "kickstart"),
        (p.kernel.as_path(), "pistachio"),
        (p.sigma0.as_path(), "sigma0"),
        (Path::new(resourcemon::ROOTTASK_ELF), "roottask"),
        (Path::new(resourcemon::TEST_GUEST_ELF), "test-guest"),
    ] {
        let _ = std::fs::remove_file(dir.join(to));
        std::fs::copy(from, dir.join(to)).map_err(|e| format!("{}: {e}", from.display()))?;
    }
    for (file, index, size) in [("m0", 0, 10_000), ("m1", 1, 5_000), ("b0", 0, 7_000)] {
        std::fs::write(dir.join(file), pattern(SEED, index, size)).map_err(|e| e.to_string())?;
    }
    let desc = dir.join("boot.toml");
    std::fs::write(&desc, BOOT_LOADER_DESC).map_err(|e| e.to_string())?;
    Ok(desc)
}

/// The description booted with `-kernel`, then from `loader`'s image.
fn boot_loader(f: &Found<'_>, s: &str, loader: Loader) -> Result<String, String> {
    let desc_path = boot_loader_files(f, s)?;
    let base = desc_path.parent().unwrap_or(Path::new("."));

    // The direct boot: QEMU's multiboot loader, as `from-config`.
    let qemu_desc = kickstart_config::QemuBoot::load(&desc_path).map_err(|e| e.to_string())?;
    let direct = Boot::from_description(
        f.pistachio,
        Path::new(resourcemon::ROOTTASK_ELF),
        &qemu_desc,
    )
    .map_err(|e| e.to_string())?;
    let direct = run_boot(&format!("{s}/multiboot"), &direct, scenario_expect())?;
    let (want, direct_tsc) = loader_boot_result(&direct)?;
    if want.passes != ["one", "two"] || want.vms != (2, 0) {
        return Err(format!(
            "direct boot: guest passes {:?}, vms {:?}; want [one, two], (2, 0)",
            want.passes, want.vms
        ));
    }

    // The image, from the same description.
    let desc = kickstart_config::host::BootDesc::load(&desc_path).map_err(|e| e.to_string())?;
    let layout = boot_image::layout(&desc, base, loader).map_err(|e| e.to_string())?;
    let tools = boot_image::Tools::find(loader).map_err(|e| e.to_string())?;
    let (medium_file, medium): (_, fn(std::path::PathBuf) -> qemu::Medium) = match loader {
        Loader::Grub2 => ("boot.iso", qemu::Medium::Cdrom),
        Loader::GrubLegacy => ("disk.img", qemu::Medium::Disk),
    };
    let image = tests::runs_dir().join(s).join(medium_file);
    boot_image::build(&layout, &tools, &image).map_err(|e| e.to_string())?;
    let boot = Boot::from_image(medium(image.clone()));
    let expect = Expect {
        boot_timeout: std::time::Duration::from_secs(120),
        ..scenario_expect()
    };
    let out = run_boot(&format!("{s}/image"), &boot, expect)?;
    let (got, image_tsc) = loader_boot_result(&out)?;

    // Every module came through the menu: its path is the image's.
    let prefix = format!("{}/", boot_image::DEFAULT_PREFIX);
    let through_menu = printed_records(out.monitor_lines())
        .iter()
        .filter(|r| r.kind == 1 || r.kind == 2)
        .all(|r| r.cmdline.as_deref().is_some_and(|c| c.starts_with(&prefix)));
    if !through_menu || got.records.len() != 7 {
        return Err(format!(
            "image boot: records {:?} do not all name {prefix} paths (want 7 records)",
            got.records
        ));
    }
    if got != want {
        return Err(format!(
            "{loader} boot differs from the direct boot:\n  image  {got:?}\n  direct {want:?}"
        ));
    }
    Ok(format!(
        "{loader} image {} ({} bytes): same sentinel, guest passes {:?}, {} records and {} plan lines \
         as the -kernel boot; all VMs init complete at {image_tsc} virtual ns, {:.2} times the \
         direct boot's {direct_tsc} (BIOS and boot loader included); wall {:.1}s (direct {:.1}s)",
        image.display(),
        std::fs::metadata(&image).map(|m| m.len()).unwrap_or(0),
        got.passes,
        got.records.len(),
        got.plan.len(),
        image_tsc as f64 / direct_tsc.max(1) as f64,
        out.elapsed.as_secs_f64(),
        direct.elapsed.as_secs_f64()
    ))
}

// End of the real boot loaders block.
// ---------------------------------------------------------------------------
// VM supervision (issue 14): a VM that dies is noticed, torn down and, if
// asked, restarted, while the VMs beside it keep running.

/// The first line of `out` (monitor or guest) containing `what`.
fn line_with<'a>(out: &'a RunOutcome, what: &str) -> Result<&'a str, String> {
    out.lines
        .iter()
        .find(|l| l.contains(what))
        .map(String::as_str)
        .ok_or_else(|| format!("no line containing {what:?}"))
}

/// Host bases of `vm <slot>: block [base, …) entry=…` lines (a VM
/// placed in the slot), in order.
fn block_bases(out: &RunOutcome, slot: usize) -> Vec<u64> {
    let prefix = format!("vm {slot}: block [");
    out.monitor_lines()
        .filter(|l| l.contains(" entry="))
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let hex = rest.split(',').next()?.strip_prefix("0x")?;
            u64::from_str_radix(hex, 16).ok()
        })
        .collect()
}

/// `checks: N passed, M failed` of guest `name`.
fn guest_checks(out: &RunOutcome, name: &str) -> Result<String, String> {
    let key = format!("{name}: checks: ");
    let l = line_with(out, &key)?;
    Ok(l[l.find(&key).unwrap_or(0) + key.len()..].to_string())
}

/// The good neighbours `first` and `third` passed every check, the same
/// number each: the dying VM between them changed nothing for them.
fn neighbours_unchanged(out: &RunOutcome) -> Result<String, String> {
    let (a, b) = (guest_checks(out, "first")?, guest_checks(out, "third")?);
    if !a.ends_with(" 0 failed") || a != b {
        return Err(format!("neighbours' checks: first {a:?}, third {b:?}"));
    }
    Ok(a)
}

/// Three VMs: a good one, one that dies on purpose (`dier_args`), a good
/// one; `required` are the lines that must follow, in order.
fn supervise_boot(
    f: &Found<'_>,
    scenario: &str,
    dier_args: &str,
    required: &[&str],
) -> Result<RunOutcome, String> {
    let boot = standard_boot(f.pistachio, "")
        .module(guest("vmstart vmsize=16M wedgeinstall=8M name=first"))
        .module(guest(&format!(
            "vmstart vmsize=16M wedgeinstall=8M name=dier {dier_args}"
        )))
        .module(guest("vmstart vmsize=16M wedgeinstall=8M name=third"));
    let mut expect = scenario_expect();
    expect.required = required.iter().map(|s| s.to_string()).collect();
    let out = run_boot(scenario, &boot, expect)?;
    let (started, failed, _) = vm_summary(out.monitor_lines()).ok_or("no `vms:` summary")?;
    if (started, failed) != (3, 0) {
        return Err(format!(
            "summary started={started} failed={failed}, want 3 and 0"
        ));
    }
    Ok(out)
}

/// All three guests passed (the third and the restarted middle one run at
/// the same time, so in either order).
fn all_three_passed(out: &RunOutcome) -> Result<(), String> {
    let mut passes = guest_passes(&out.lines);
    passes.sort();
    if passes != ["dier", "first", "third"] {
        return Err(format!("guest passes {passes:?}, want first, third, dier"));
    }
    Ok(())
}

/// Heap use after boot equals the last idle report's.
fn heap_flat(out: &RunOutcome) -> Result<u64, String> {
    let start = monitor_value(out.monitor_lines(), "boot complete", "used")
        .ok_or("no heap use after boot")?;
    let end = monitor_value(
        out.monitor_lines()
            .filter(|l| l.starts_with("served: heap"))
            .last()
            .into_iter(),
        "served: heap",
        "used",
    )
    .ok_or("no idle heap report")?;
    if end != start {
        return Err(format!("heap use went from {start} to {end} bytes"));
    }
    Ok(end)
}

/// The middle VM faults just past its memory (0x1000000 for 16 MB at
/// offset 0) and has no `restart=`: found dead after the poke, torn down,
/// stopped; the start order goes on; the third VM gets the freed slot and
/// the very same block; both neighbours pass as usual.
fn supervise_fault(f: &Found<'_>) -> Result<String, String> {
    let out = supervise_boot(
        f,
        "supervise-fault",
        "die=fault",
        &[
            "dier: die: instance with thread version 2: dying by fault now",
            "resourcemon: vm 2: dead: page fault at 0x01000000",
            "resourcemon: vm 2: torn down: 1 threads deleted, 0 interrupts and 0 remap slots released",
            "resourcemon: vm 2: stopped (no restart=)",
            "resourcemon: vm 2: status: stopped, restarted 0 times of 0 allowed; last death: page fault at 0x01000000",
            "resourcemon: vm 2: block [",
            "resourcemon: vm 2: died before init complete; counts as finished for the start order",
            "resourcemon: vm 2: started (group 2, instance 0)",
            "GUEST_PASS third",
            "resourcemon: vms: ",
            "resourcemon: vm 2: status: running, restarted 0 times of 0 allowed; never died",
        ],
    )?;
    let passes = guest_passes(&out.lines);
    if passes != ["first", "third"] {
        return Err(format!("guest passes {passes:?}, want first and third"));
    }
    let bases = block_bases(&out, 2);
    if bases.len() != 2 || bases[0] != bases[1] {
        return Err(format!(
            "slot 2 blocks {bases:x?}: want the dead VM's block reused"
        ));
    }
    let deaths = monitor_value(out.monitor_lines(), "vms:", "deaths");
    if deaths != Some(1) {
        return Err(format!("summary deaths={deaths:?}, want 1"));
    }
    let checks = neighbours_unchanged(&out)?;
    let dead = line_with(&out, "vm 2: dead:")?;
    Ok(format!(
        "{dead:?}; block {:#x} reused by the third VM; neighbours' checks {checks}",
        bases[0]
    ))
}

/// The middle VM faults outside its memory once; with `restart=2` it is
/// rebuilt in the same slot and thread range with thread version 3, says
/// it is a new instance and passes. The third VM starts when the middle
/// one dies and runs beside its restart (which comes first varies).
fn supervise_restart(f: &Found<'_>) -> Result<String, String> {
    let out = supervise_boot(
        f,
        "supervise-restart",
        "die=fault restart=2 backoff=3000",
        &[
            "dier: die: instance with thread version 2: dying by fault now",
            "resourcemon: vm 2: dead: page fault at 0x01000000",
            "resourcemon: vm 2: restart 1 of 2 in 3000 ms",
            "resourcemon: vm 2: status: restarting, restarted 0 times of 2 allowed",
            "resourcemon: vm 2: died before init complete; counts as finished for the start order",
            "resourcemon: vm 3: started (group 2, instance 0)",
            "resourcemon: vm 2: restarted (restart 1 of 2)",
            "resourcemon: vm 2: status: running, restarted 1 time of 2 allowed; last death: page fault at 0x01000000",
            "dier: die: new instance with thread version 3 (die-until=3): not dying; running the checks",
            "GUEST_PASS dier",
            "resourcemon: served: heap used=",
        ],
    )?;
    all_three_passed(&out)?;
    // Same slot, same thread range; a new thread version.
    let started = line_with(&out, "dier: started: thread")?;
    let restarted: Vec<&String> = out
        .lines
        .iter()
        .filter(|l| l.contains("dier: started: thread"))
        .collect();
    if restarted.len() != 2 {
        return Err(format!(
            "dier started {} times: {restarted:?}",
            restarted.len()
        ));
    }
    let number = |l: &str| {
        l.split("(number ")
            .nth(1)
            .map(|r| r.split(')').next().unwrap_or("").to_string())
    };
    if number(restarted[0]) != number(restarted[1]) {
        return Err(format!("thread numbers differ: {restarted:?}"));
    }
    let checks = neighbours_unchanged(&out)?;
    let heap = heap_flat(&out)?;
    Ok(format!(
        "{started:?} then {:?}; neighbours' checks {checks}; heap used {heap} after boot and at the end",
        restarted[1]
    ))
}

/// A VM that always dies (`die-until=1000`) with `restart=2`: three
/// instances (thread versions 2, 3, 4), then stopped with a clear line;
/// the neighbours pass; the heap is where it was after boot.
fn supervise_always(f: &Found<'_>) -> Result<String, String> {
    let out = supervise_boot(
        f,
        "supervise-always",
        "die=fault die-until=1000 restart=2 backoff=50",
        &[
            "dier: die: instance with thread version 2: dying by fault now",
            "resourcemon: vm 2: restart 1 of 2 in 50 ms",
            "dier: die: instance with thread version 3: dying by fault now",
            "resourcemon: vm 2: restart 2 of 2 in 100 ms",
            "dier: die: instance with thread version 4: dying by fault now",
            "resourcemon: vm 2: stopped: died again after 2 of 2 restarts; no more restarts",
            "resourcemon: vm 2: status: stopped, restarted 2 times of 2 allowed; last death: page fault at 0x01000000",
            "resourcemon: served: heap used=",
        ],
    )?;
    let passes = guest_passes(&out.lines);
    let mut sorted = passes.clone();
    sorted.sort();
    if sorted != ["first", "third"] {
        return Err(format!("guest passes {passes:?}, want first and third"));
    }
    let deaths = out
        .monitor_lines()
        .filter(|l| l.starts_with("vm 2: dead: page fault"))
        .count();
    if deaths != 3 {
        return Err(format!("{deaths} deaths of vm 2, want 3"));
    }
    if out
        .lines
        .iter()
        .any(|l| l.contains("dier: die: instance with thread version 5"))
    {
        return Err("a fourth instance was started".into());
    }
    let checks = neighbours_unchanged(&out)?;
    let heap = heap_flat(&out)?;
    Ok(format!(
        "3 deaths, stopped after 2 restarts; neighbours' checks {checks}; heap used {heap} after boot and at the end"
    ))
}

/// The middle VM loops on requests and never reports init complete; its
/// `watchdog=1000` finds it dead, the third VM starts, and the one
/// restart (a new instance, which does not loop) passes beside it.
fn supervise_watchdog(f: &Found<'_>) -> Result<String, String> {
    let out = supervise_boot(
        f,
        "supervise-watchdog",
        "die=loop watchdog=1000 restart=1 backoff=3000",
        &[
            "dier: die: instance with thread version 2: dying by loop now",
            "resourcemon: vm 2: dead: watchdog: no init complete within 1000 ms of the start",
            "resourcemon: vm 2: restart 1 of 1 in 3000 ms",
            "resourcemon: vm 2: died before init complete; counts as finished for the start order",
            "resourcemon: vm 3: started (group 2, instance 0)",
            "resourcemon: vm 2: restarted (restart 1 of 1)",
            "dier: die: new instance with thread version 3 (die-until=3): not dying; running the checks",
            "GUEST_PASS dier",
            "resourcemon: served: heap used=",
        ],
    )?;
    all_three_passed(&out)?;
    // The loop really ran: the monitor served it many requests first.
    let served = served(&out, 2).unwrap_or_default();
    let checks = neighbours_unchanged(&out)?;
    let heap = heap_flat(&out)?;
    Ok(format!(
        "watchdog death, one restart passed; vm 2 served {served:?}; neighbours' checks {checks}; heap used {heap} after boot and at the end"
    ))
}

/// The middle VM makes the monitor its exception handler and executes a
/// privileged instruction: the kernel's exception message (vector 13,
/// #GP) is its death; the one restart passes.
fn supervise_exception(f: &Found<'_>) -> Result<String, String> {
    let out = supervise_boot(
        f,
        "supervise-exception",
        "die=exception restart=1 backoff=3000",
        &[
            "dier: die: instance with thread version 2: dying by exception now",
            "resourcemon: vm 2: dead: exception 13 (error 0x0) at ip 0x",
            "resourcemon: vm 2: restart 1 of 1 in 3000 ms",
            "resourcemon: vm 3: started (group 2, instance 0)",
            "resourcemon: vm 2: restarted (restart 1 of 1)",
            "GUEST_PASS dier",
            "resourcemon: served: heap used=",
        ],
    )?;
    all_three_passed(&out)?;
    let checks = neighbours_unchanged(&out)?;
    let heap = heap_flat(&out)?;
    let dead = line_with(&out, "vm 2: dead:")?;
    Ok(format!(
        "{dead:?}; neighbours' checks {checks}; heap used {heap} after boot and at the end"
    ))
}

fn main() {
    let only = std::env::var("BOOT_SCENARIOS").ok();
    let selected = match suite::select(SCENARIOS, only.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            println!("error: {e}");
            println!("boot scenarios: 0 passed, 1 failed, 0 skipped");
            std::process::exit(2);
        }
    };
    let require = std::env::var("REQUIRE_PISTACHIO").is_ok_and(|v| v == "1");
    let fixtures = tests::fixtures::Fixtures::locate();
    for l in fixtures.describe() {
        println!("{l}");
    }
    let workers = tests::boot_jobs();
    println!(
        "running {} boot scenarios, {} QEMU boots at a time{}",
        selected.len(),
        workers,
        if require { " (fixtures required)" } else { "" }
    );
    let started = std::time::Instant::now();
    let print = |r: &suite::Finished| {
        let t = r.elapsed.as_secs_f64();
        match &r.outcome {
            Outcome::Passed(s) => println!("scenario {} ... ok ({t:.1}s): {s}", r.name),
            Outcome::Failed(s) => println!("scenario {} ... FAILED ({t:.1}s): {s}", r.name),
            Outcome::Skipped(s) => println!("scenario {} ... skipped: {s}", r.name),
            Outcome::ExpectedFailure { waits_for, why } => println!(
                "scenario {} ... expected to fail ({t:.1}s), waits for {waits_for}: {why}",
                r.name
            ),
        }
    };
    let results = suite::run_all(&selected, &fixtures, require, workers, &print);
    let mut totals = Totals::default();
    println!("boot scenario times:");
    for r in &results {
        totals.add(&r.outcome);
        let what = match &r.outcome {
            Outcome::Passed(_) => "ok",
            Outcome::Failed(_) => "FAILED",
            Outcome::Skipped(_) => "skipped",
            Outcome::ExpectedFailure { .. } => "expected to fail",
        };
        println!(
            "    {:<24} {:>6.1}s  {what}",
            r.name,
            r.elapsed.as_secs_f64()
        );
    }
    println!(
        "    {:<24} {:>6.1}s  (wall, {workers} at a time)",
        "all",
        started.elapsed().as_secs_f64()
    );
    let table = tests::recorded_figures();
    if !table.is_empty() {
        println!(
            "side by side with the original (virtual ns under -icount; ratio = ours / original):"
        );
        println!("    | scenario | figure | ours | original | ratio |");
        println!("    | --- | --- | --- | --- | --- |");
        for (scenario, f) in table {
            println!(
                "    | {scenario} | {} | {} | {} | {:.3} |",
                f.what,
                f.ours,
                f.original,
                f.ratio()
            );
        }
    }
    let floor = tests::recorded_floor();
    if !floor.is_empty() {
        println!(
            "the monitor's floor (ours; virtual ns; own = receive to reply inside the monitor):"
        );
        println!("    | scenario | request | guest round trip | monitor's own | own share | own / null RPC round trip |");
        println!("    | --- | --- | --- | --- | --- | --- |");
        for (scenario, r) in &floor {
            let null = floor
                .iter()
                .find(|(s, n)| s == scenario && n.kind == "null RPC")
                .map_or(1, |(_, n)| n.guest_ns.max(1));
            println!(
                "    | {scenario} | {} | {} | {} | {:.2} | {:.2} |",
                r.kind,
                r.guest_ns,
                r.own_ns,
                r.own_ns as f64 / r.guest_ns.max(1) as f64,
                r.own_ns as f64 / null as f64
            );
        }
    }
    if totals.skipped > 0 {
        println!("note: scenarios were skipped for missing fixtures; set REQUIRE_PISTACHIO=1 to make that a failure (README: Tests)");
    }
    println!("{}", totals.line());
    std::process::exit(if totals.failed > 0 { 1 } else { 0 });
}
