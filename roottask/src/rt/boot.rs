//! The boot sequence: KIP, boot info, memory from sigma0, heap, report.

extern crate alloc;

use super::serve::{serve, Event, Ia32};
use super::vms::VmStarter;
use super::{arch, heap, sigma0};
use alloc::boxed::Box;
use alloc::vec::Vec;
use kickstart_config::plan::{ModuleInput, MAX_INPUT_MODULES};
use l4_sys::bootinfo::{BootInfo, Record};
use l4_sys::ia32::{self, kdb};
use l4_sys::kip::MemoryDesc;
use l4_sys::{Fpage, Rights, ThreadId, WORD_BYTES};
use roottask::bootlog::{CpuLine, CpuSummary, DescLine, KipSummary, MemoryDescSummary, RecordLine};
use roottask::fresh::FreshFrames;
use roottask::memory::{MemoryTally, MAX_LOG2, MIN_LOG2};
use roottask::server::devices::place_remap_window;
use roottask::server::{Monitor, RemapSlot, RemapWindow, REMAP_SLOTS, REMAP_WINDOW_BYTES};
use roottask::vm::threads::ThreadSpaces;
use roottask::vm::BootModule;
use roottask::FAILURE_SENTINEL;

/// Size of the heap carved out of sigma0's memory.
const HEAP_BYTES: u64 = 1 << 20;

/// Entered from `_start` with a stack and a zeroed .bss.
pub extern "C" fn rust_start() -> ! {
    let mut starter = match boot() {
        Ok(s) => s,
        Err(e) => fail(format_args!("{e}")),
    };
    let remap = remap_window(&mut starter);
    let fresh = fresh_frames(&starter);
    // Allocated once, before the heap figure: teardown bookkeeping adds
    // nothing to the heap later.
    let thread_sets =
        alloc::vec![roottask::supervise::ThreadSet::new(0); roottask::vm::threads::MAX_VM].leak();
    let (used, size) = super::heap::usage();
    println!("boot complete; heap used={used} of {size}; starting VMs");
    let mut monitor = Monitor::new(Ia32, starter.spaces, starter.irq_lines, remap);
    monitor.fresh = fresh;
    let own = roottask::vm::placement::monitor_block(starter.image_end);
    monitor.monitor_block = (own.base as idl::Word, own.size as idl::Word);
    super::uart::init();
    println!(
        "console: input from COM1 every {} ms (debugger break-in off); focus VM 1; keys: ESC n next VM, ESC 1-9 that VM, ESC s log lines off/on, ESC ESC kernel debugger",
        super::serve::POLL_US / 1000
    );
    monitor.thread_sets = thread_sets;
    starter.start_next(&mut monitor);
    serve(&mut monitor, |m, event| {
        if let Some(slot) = m.init_complete.take() {
            println!("vm {slot}: init complete tsc={}", ia32::rdtsc());
            starter.start_next(m);
        }
        // The common case, every request: nothing torn down, nothing to
        // supervise (kept out of the request path, which it would slow).
        if event == Event::Request && m.torn_down.is_empty() {
            return;
        }
        let restarts = match event {
            Event::IdleTick => m.supervise(true),
            Event::BusyTick => m.supervise(false),
            Event::Request => heapless::Vec::new(),
        };
        while let Some(t) = m.torn_down.pop() {
            starter.reclaim(m, t);
        }
        for slot in restarts {
            starter.restart(m, slot);
        }
    })
}

/// The root task's UTCB area (x2-abi §4: root servers get 2^17 bytes at
/// 0xBF000000 on ia32); the window must stay clear of it and of the KIP.
const ROOT_UTCB_AREA: (u64, u64) = (0xBF00_0000, 1 << 17);

/// Place the device remap window (§9.3, `server::devices`) and allocate its
/// slot table. A window in RAM (the second pass) is taken out of the free
/// memory and unmapped from the monitor first.
fn remap_window(starter: &mut VmStarter) -> RemapWindow {
    let kip_base = ia32::kernel_interface().kip_base as u64;
    let avoid = [ROOT_UTCB_AREA, (kip_base & !0xfff, 4096)];
    let tally = &mut starter.tally;
    let placed = place_remap_window(&starter.descs, &avoid, &mut |base, size| {
        tally.take_exact(base, size)
    });
    let Some(w) = placed else {
        println!("remap: no room for a 32 MB device window; device frames will be answered with VM memory");
        return RemapWindow {
            base: 0,
            slots: Vec::new().leak(),
        };
    };
    if w.from_ram {
        // SAFETY: the range was just taken out of the free memory, so
        // neither the heap nor a VM uses it; unmapping it from the monitor
        // makes room for device frames.
        unsafe { ia32::unmap(0, true, Fpage::from_parts(w.base as u32, 25, Rights::RWX)) };
    }
    println!(
        "remap: device window [{:#x}, {:#x}) ({} slots{})",
        w.base,
        w.base + REMAP_WINDOW_BYTES,
        REMAP_SLOTS,
        if w.from_ram { ", taken from RAM" } else { "" }
    );
    RemapWindow {
        base: w.base as idl::Word,
        slots: alloc::vec![RemapSlot::default(); REMAP_SLOTS].leak(),
    }
}

/// A boot step that failed, with what it was doing.
enum BootError {
    BootInfoMapping(sigma0::Sigma0Error, usize),
    BootInfo(l4_sys::bootinfo::BootInfoError),
    Multiboot(l4_sys::multiboot::MbiError),
    NoBootInfo,
    NoHeap(u64),
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::BootInfoMapping(e, addr) => {
                write!(f, "cannot map the boot-loader page at {addr:#x}: {e}")
            }
            BootError::BootInfo(e) => write!(f, "boot info unusable: {e}"),
            BootError::Multiboot(e) => write!(
                f,
                "neither a boot info nor a usable multiboot info at KIP.BootInfo: {e}"
            ),
            BootError::NoBootInfo => {
                f.write_str("the KIP has no boot info (kickstart bootinfo=no?)")
            }
            BootError::NoHeap(total) => write!(
                f,
                "no {HEAP_BYTES}-byte heap in the {total} bytes from sigma0"
            ),
        }
    }
}

fn boot() -> Result<VmStarter, BootError> {
    let ki = ia32::kernel_interface();
    let kip = ia32::kip();
    // On an SMP kernel the monitor's lines go to COM1 directly (see
    // `uart::set_direct_output`).
    super::uart::set_direct_output(kip.processors() > 1);
    println!(
        "L4Ka resource monitor (Rust) starting; KIP at {:#x}",
        ki.kip_base
    );
    // Virtual time since the CPU reset (time-stamp counter), so scenarios can
    // report the monitor's own share of the boot.
    // (SystemClock is 0 where the kernel's calibration failed; the TSC is
    // what the scenarios use.)
    println!(
        "time: entry at {} us tsc={}",
        ia32::system_clock().unwrap_or(0),
        ia32::rdtsc()
    );
    println!("{}", KipSummary(&kip));
    // The processors: `pcpus=` is clamped to this count (§2.3), and a VM's
    // threads may be placed on any of them (ThreadControl's `cpu`).
    println!("{}", CpuSummary(&kip));
    for (i, d) in kip.processor_descs().enumerate() {
        println!("{}", CpuLine(i as u32, &d));
    }
    if let Some(v) = kip.kernel_version_string() {
        println!("kernel: {v}");
    }
    let (lo, hi) = arch::image_range();
    println!("image: [{lo:#x}, {hi:#x})");
    println!("{}", MemoryDescSummary::new(kip.memory_descs()));
    for (i, d) in kip.memory_descs().enumerate() {
        println!("{}", DescLine(i, &d));
    }

    let s0 = sigma0::sigma0_id();
    let (own_line, module_regions) = match map_boot_info(s0, kip.boot_info() as usize) {
        Ok(bootinfo) => {
            println!(
                "bootinfo: at {:#x} size={} records={}",
                kip.boot_info(),
                bootinfo.size(),
                bootinfo.len()
            );
            let mut modules = 0usize;
            for (i, rec) in bootinfo.records().enumerate() {
                match rec {
                    Ok(r) => {
                        modules += matches!(r, Record::Module { .. }) as usize;
                        println!("{}", RecordLine(i, &r));
                    }
                    Err(e) => println!("bootinfo: record {i} unusable: {e}"),
                }
            }
            println!("bootinfo: modules={modules}");
            (own_cmdline(&bootinfo), map_modules(s0, &bootinfo))
        }
        // kickstart `bootinfo=no`: KIP.BootInfo holds the multiboot info
        // (§1.4's second provider).
        Err(BootError::BootInfo(l4_sys::bootinfo::BootInfoError::BadMagic(magic))) => {
            println!(
                "bootinfo: none at {:#x} (magic {magic:#x}); reading it as a multiboot info (kickstart bootinfo=no)",
                kip.boot_info()
            );
            multiboot_modules(s0, kip.boot_info() as usize)?
        }
        Err(e) => return Err(e),
    };
    let (own_cmdline, dhcp) = print_monitor_options(own_line);

    let tally = take_all_memory(s0);
    println!("{tally}");
    let t = ia32::system_clock().unwrap_or(0);
    println!("time: memory total at {t} us tsc={}", ia32::rdtsc());

    let mut tally = tally;
    // The heap lies in the monitor's own block below the first VM (VM slot
    // 0, memory the original never gives to guests), so it takes no room
    // a VM would get; only a machine without room there takes it from the
    // top of memory.
    let own_block = roottask::vm::placement::monitor_block(arch::image_range().1 as u64);
    let base = tally
        .take_within(
            arch::image_range().1 as u64,
            own_block.end(),
            HEAP_BYTES,
            4096,
        )
        .or_else(|| tally.take(HEAP_BYTES, 4096))
        .ok_or(BootError::NoHeap(tally.total()))?;
    // SAFETY: `take` removed the range from the tally, so nothing else will
    // use it; sigma0 mapped it to us read-write at its physical address.
    unsafe { heap::init(base as usize, HEAP_BYTES as usize) };

    let modules: Vec<BootModule<'static>> = module_regions
        .iter()
        .map(|&(start, size, cmdline)| BootModule {
            cmdline,
            // SAFETY: map_modules mapped every module page (1:1, read-only
            // use); boot modules are never written by anyone.
            bytes: if size == usize::MAX {
                &[]
            } else {
                unsafe { arch::phys_bytes(start, size) }
            },
        })
        .collect();
    let inputs: Vec<ModuleInput<'static>> = modules
        .iter()
        .map(|m| ModuleInput {
            cmdline: m.cmdline,
            head: &m.bytes[..m.bytes.len().min(HEAD_BYTES)],
            size: m.bytes.len(),
        })
        .collect();
    // Planned with the machine's CPU count (`pcpus=` is clamped to it,
    // §2.3) and the length of the DHCP text (counted in the line limit).
    // VM slots: what the kernel's thread-number space holds (KIP ThreadInfo).
    let spaces = ThreadSpaces::from_user_base(kip.thread_info().user_base)
        .with_number_bits(kip.thread_info().bits);
    println!(
        "vm slots: {} (ranges of {} thread numbers from {} below 2^{})",
        spaces.vm_slots(),
        roottask::vm::threads::THREAD_SPACE_SIZE,
        spaces.base(),
        kip.thread_info().bits
    );
    let cfg = kickstart_config::plan::PlanConfig {
        cpus: Some(kip.processors()),
        dhcp_len: dhcp.as_ref().map(|d| d.replacement().len()),
        vm_slots: Some(spaces.vm_slots() as u32),
    };
    let plan = Box::new(kickstart_config::plan::plan_with(&inputs, &cfg));
    println!(
        "plan: groups={} ok={}",
        plan.len(),
        plan.iter().filter(|g| g.is_ok()).count()
    );
    for group in plan.iter() {
        match group {
            Ok(vm) => println!("plan: {vm}"),
            Err(e) => println!("plan: error: {e}"),
        }
    }
    let (used, size) = heap::usage();
    println!("heap: base={base:#x} size={size} used={used}");
    // Test hook: proves the failure path (panic message, failure sentinel,
    // debugger stop) end to end; the `panic` boot scenario uses it.
    if own_cmdline
        .split_ascii_whitespace()
        .any(|w| w == "selftest=panic")
    {
        panic!("selftest=panic on the monitor's command line");
    }
    let descs: Vec<MemoryDesc> = kip.memory_descs().collect();
    let mut starter = VmStarter::new(
        modules,
        plan,
        descs,
        tally,
        arch::image_range().1 as u64,
        spaces,
    );
    starter.irq_lines = kip.thread_info().system_base;
    starter.dhcp = dhcp;
    Ok(starter)
}

/// `zero=eager` on the monitor's line: no fresh-frame map.
static ZERO_EAGER: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// The fresh-frame map (`roottask::fresh`) over the memory VMs can get:
/// from the lowest to the highest byte received from sigma0 and not used
/// by the monitor, one bit per 4 KB frame, allocated once (so the heap
/// does not grow per VM). Without room for it the map is empty and every
/// VM block is zeroed whole at creation, as upstream.
fn fresh_frames(starter: &VmStarter) -> FreshFrames<'static> {
    if ZERO_EAGER.load(core::sync::atomic::Ordering::Relaxed) {
        return FreshFrames::default();
    }
    let regions = starter.tally.regions();
    let lo = regions.iter().map(|r| r.base).min().unwrap_or(0);
    let hi = regions.iter().map(|r| r.end()).max().unwrap_or(0);
    let words = FreshFrames::words_for(hi.saturating_sub(lo));
    let mut bits = Vec::new();
    if words == 0 || bits.try_reserve_exact(words).is_err() {
        println!("fresh frames: no map; VM blocks are zeroed whole at creation");
        return FreshFrames::default();
    }
    bits.resize(words, 0u64);
    println!(
        "fresh frames: map of [{lo:#x}, {hi:#x}) ({} KB); VM memory is zeroed when first exposed",
        words * 8 / 1024
    );
    FreshFrames::new(lo, Box::leak(bits.into_boxed_slice()))
}

/// Map the boot-info pages from sigma0 (boot-loader regions are not served
/// by page fault; x2-abi §6) and check the header.
fn map_boot_info(s0: ThreadId, addr: usize) -> Result<BootInfo<'static>, BootError> {
    if addr == 0 {
        return Err(BootError::NoBootInfo);
    }
    let page = addr & !0xfff;
    let map = |p: usize| {
        sigma0::request(s0, Fpage::from_parts(p as u32, 12, Rights::RWX))
            .map_err(|e| BootError::BootInfoMapping(e, p))
    };
    map(page)?;
    // SAFETY: the page holding the header is mapped now (1:1); the header
    // lies within it when kickstart's 8-word header is page-aligned, and
    // the bytes are not written by anyone after boot.
    let first = unsafe { arch::phys_bytes(addr, page + 4096 - addr) };
    let size = BootInfo::parse(first, WORD_BYTES)
        .map(|b| b.size())
        .or_else(|e| match e {
            // A header announcing more than one page: map the rest below.
            l4_sys::bootinfo::BootInfoError::Truncated { need, .. } => Ok(need),
            e => Err(BootError::BootInfo(e)),
        })?;
    let mut p = page + 4096;
    while p < addr + size {
        map(p)?;
        p += 4096;
    }
    // SAFETY: all pages of [addr, addr + size) were mapped above.
    let bytes = unsafe { arch::phys_bytes(addr, size) };
    BootInfo::parse(bytes, WORD_BYTES).map_err(BootError::BootInfo)
}

/// The monitor's own command line, from its boot-info record (the second
/// SimpleExec: sigma0 comes first; resourcemon.md §1.4).
fn own_cmdline(bootinfo: &BootInfo<'static>) -> Option<&'static str> {
    bootinfo
        .records()
        .filter_map(Result::ok)
        .filter(|r| matches!(r, Record::SimpleExec { .. }))
        .nth(1)
        .and_then(|r| r.cmdline())
}

/// Print and apply the monitor's own options. Returns the command line (for
/// the test hooks) and the DHCP values.
fn print_monitor_options(
    own: Option<&'static str>,
) -> (&'static str, Option<kickstart_config::monitor::Dhcp>) {
    let dhcp = match own.map(kickstart_config::parse_monitor) {
        Some(Ok(o)) => {
            super::console::set_labels(o.console_labels);
            ZERO_EAGER.store(o.zero_eager, core::sync::atomic::Ordering::Relaxed);
            if o.zero_eager {
                println!(
                    "options: zero=eager: each VM block zeroed whole at creation, as the original"
                );
            }
            if !o.console_labels {
                println!(
                    "options: console=raw: guest output unlabelled, as the original prints it"
                );
            }
            match &o.dhcp {
                Some(d) => println!(
                    "options: trace={} dhcp={} (ip=grubdhcp in guest lines becomes it)",
                    o.trace,
                    d.replacement()
                ),
                None => println!("options: trace={} dhcp=none", o.trace),
            }
            o.dhcp
        }
        Some(Err(e)) => {
            println!("options: ignored: {e}");
            None
        }
        None => {
            println!("options: no command line");
            None
        }
    };
    (own.unwrap_or(""), dhcp)
}

/// Map every boot module (boot-loader regions are only served on request,
/// x2-abi §6); a module that cannot be mapped is kept with size `usize::MAX`
/// as a marker, so module indexes still match the plan's.
/// Runs before the heap exists, hence the fixed-size list.
fn map_modules(s0: ThreadId, bootinfo: &BootInfo<'static>) -> ModuleRegions {
    let mut out = heapless::Vec::new();
    for (start, size, cmdline) in bootinfo.records().filter_map(|r| match r {
        Ok(Record::Module {
            start,
            size,
            cmdline,
        }) => Some((start as usize, size as usize, cmdline)),
        _ => None,
    }) {
        if out.len() == MAX_INPUT_MODULES {
            println!("module at {start:#x}: more than {MAX_INPUT_MODULES} modules; ignored");
            continue;
        }
        match map_region(s0, start, size) {
            Ok(()) => {
                let _ = out.push((start, size, cmdline));
            }
            Err(e) => {
                println!("module at {start:#x}: {e}; planned without its contents");
                let _ = out.push((start, usize::MAX, cmdline));
            }
        }
    }
    out
}

/// Bytes of each module the planner looks at: the ELF header and, in any
/// image made by a usual linker, the program headers (the wedge's loaded
/// extent, `kickstart_config::plan::load_extent`).
const HEAD_BYTES: usize = 4096;

/// Boot modules from a multiboot info at `addr` (kickstart `bootinfo=no`):
/// modules 3 and up of its table (0–2 are the kernel, sigma0 and this root
/// task), and the root task's command line, which kickstart stores as the
/// multiboot command line. Every page read is requested from sigma0 first;
/// a page asked for twice is fine (sigma0 maps it again or refuses, and it
/// is ours either way).
fn multiboot_modules(
    s0: ThreadId,
    addr: usize,
) -> Result<(Option<&'static str>, ModuleRegions), BootError> {
    use l4_sys::multiboot::{self, MultibootInfo};
    let map = |start: usize, len: usize| {
        let mut p = start & !0xfff;
        while p < start + len.max(1) {
            let _ = sigma0::request(s0, Fpage::from_parts(p as u32, 12, Rights::RWX));
            p += 4096;
        }
    };
    map(addr, multiboot::HEADER_BYTES);
    // SAFETY: the pages holding the fixed part were just requested 1:1;
    // boot-loader data is never written after boot.
    let head = unsafe { arch::phys_bytes(addr, multiboot::HEADER_BYTES) };
    let mbi = MultibootInfo::parse(head).map_err(BootError::Multiboot)?;
    map(mbi.mods_addr as usize, mbi.table_bytes());
    // SAFETY: as above, for the module table.
    let table = unsafe { arch::phys_bytes(mbi.mods_addr as usize, mbi.table_bytes()) };
    // A command line: up to the end of the page after the one it starts in.
    let string = |at: u32| -> Option<&'static str> {
        if at == 0 {
            return None;
        }
        let at = at as usize;
        let len = (at & !0xfff) + 0x2000 - at;
        map(at, len);
        // SAFETY: both pages were requested just above.
        multiboot::c_string(unsafe { arch::phys_bytes(at, len) })
    };
    let own = mbi.cmdline.and_then(string);
    let mut out = ModuleRegions::new();
    let mut count = 0;
    for (i, m) in multiboot::modules(table).enumerate().skip(3) {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                println!("multiboot: module {i} ignored: {e}");
                continue;
            }
        };
        let cmdline = string(m.string).unwrap_or("");
        println!(
            "bootinfo: record {} type=0x1 start={:#010x} size={} cmdline=\"{cmdline}\"",
            i - 3,
            m.start,
            m.size()
        );
        let size = match map_region(s0, m.start as usize, m.size() as usize) {
            Ok(()) => m.size() as usize,
            Err(e) => {
                println!(
                    "module at {:#x}: {e}; planned without its contents",
                    m.start
                );
                usize::MAX
            }
        };
        if out.push((m.start as usize, size, cmdline)).is_err() {
            println!(
                "module at {:#x}: more than {MAX_INPUT_MODULES} modules; ignored",
                m.start
            );
        }
        count += 1;
    }
    println!("bootinfo: modules={count} (from the multiboot info)");
    Ok((own, out))
}

/// Boot modules as `(start, size, command line)`; size `usize::MAX` marks
/// a module whose pages could not be mapped.
type ModuleRegions = heapless::Vec<(usize, usize, &'static str), MAX_INPUT_MODULES>;

/// Request `[start, start + size)` from sigma0 page by page.
fn map_region(s0: ThreadId, start: usize, size: usize) -> Result<(), BootError> {
    let mut p = start & !0xfff;
    while p < start + size.max(1) {
        sigma0::request(s0, Fpage::from_parts(p as u32, 12, Rights::RWX))
            .map_err(|e| BootError::BootInfoMapping(e, p))?;
        p += 4096;
    }
    Ok(())
}

/// Take every page sigma0 will give, largest sizes first (anchors §7 item 6).
fn take_all_memory(s0: ThreadId) -> MemoryTally<256> {
    let mut tally = MemoryTally::default();
    for log2 in (MIN_LOG2..=MAX_LOG2).rev() {
        loop {
            match sigma0::request(s0, Fpage::any_of_size(log2)) {
                Ok(fp) => {
                    if let Err(e) = tally.add(fp.base() as u64, fp.log2_size()) {
                        println!("memory: ignoring a page from sigma0: {e}");
                        break;
                    }
                }
                Err(sigma0::Sigma0Error::Refused) => break,
                Err(e) => {
                    println!("memory: stopping at 2^{log2}: {e}");
                    break;
                }
            }
        }
    }
    tally
}

/// Print the failure, the failure sentinel, and stop in the kernel debugger.
fn fail(what: core::fmt::Arguments<'_>) -> ! {
    println_always!("fatal: {what}");
    println_always!("{FAILURE_SENTINEL}");
    loop {
        kdb::enter();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // One line: location and message, so the log and the harness's failure
    // context show the whole panic.
    match info.location() {
        Some(l) => fail(format_args!(
            "panic at {}:{}: {}",
            l.file(),
            l.line(),
            info.message()
        )),
        None => fail(format_args!("panic: {}", info.message())),
    }
}
