//! Creating and starting VMs, one after the other (§1.5, §6.2).
//!
//! The decisions come from `roottask::vm::VmBuild` (safe, host-tested);
//! this module carries them out: it takes the block from the memory tally,
//! copies the ELF segments and modules, fills the shared page, and creates
//! and starts the first thread. A VM that fails at any step is reported and
//! skipped; the next one still starts.

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use kickstart_config::plan::BootPlan;
use l4_sys::ia32::{self, utcb};
use l4_sys::kip::MemoryDesc;
use l4_sys::{KernelError, MsgTag, ThreadId, Time, Timeouts};
use roottask::fresh::{FreshFrames, LazyBlock};
use roottask::memory::{MemoryTally, Region};
use roottask::server::teardown::Teardown;
use roottask::server::{Device, Monitor, Platform, VmEntry};
use roottask::supervise::Policy;
use roottask::vm::placement::HostMemory;
use roottask::vm::threads::{ThreadSpaces, MAX_VM};
use roottask::vm::{BootModule, Host, VmBuild, VmRequest};
use roottask::SUCCESS_SENTINEL;

use super::arch;
use super::serve::Ia32;

/// Everything the start sequence needs, kept for the life of the monitor.
pub struct VmStarter {
    /// Boot modules (Module records, bootinfo order), mapped 1:1.
    pub modules: Vec<BootModule<'static>>,
    /// The plan of VM groups.
    pub plan: Box<BootPlan<'static>>,
    /// KIP memory descriptors.
    pub descs: Vec<MemoryDesc>,
    /// Memory received from sigma0 and not yet used.
    pub tally: MemoryTally<256>,
    /// End of the monitor's image.
    pub image_end: u64,
    /// Thread-number ranges.
    pub spaces: ThreadSpaces,
    /// Interrupt lines (KIP SystemBase), for the interrupt proxies.
    pub irq_lines: u32,
    /// DHCP values from the monitor's line, for `ip=grubdhcp` (§2.5).
    pub dhcp: Option<kickstart_config::monitor::Dhcp>,
    /// (group, instance) in start order.
    sequence: Vec<(usize, u32)>,
    next: usize,
    /// Blocks given to VMs so far (slot-indexed).
    blocks: [Option<Region>; MAX_VM],
    started: u32,
    failed: u32,
    finished: bool,
}

/// A step of creating a VM that failed after it was planned and built.
enum StartError {
    NoSlot,
    NotReceived(Region),
    Load(roottask::vm::LoadError),
    Kernel(&'static str, KernelError),
    StartMessage(l4_sys::IpcError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::NoSlot => {
                f.write_str("every VM slot of the kernel's thread-number space is in use")
            }
            StartError::NotReceived(r) => {
                write!(
                    f,
                    "block [{:#x}, +{:#x}) is not free memory from sigma0",
                    r.base, r.size
                )
            }
            StartError::Load(e) => write!(f, "{e}"),
            StartError::Kernel(call, e) => write!(f, "{call} failed: {e}"),
            StartError::StartMessage(e) => write!(f, "start message: {e}"),
        }
    }
}

impl VmStarter {
    /// A starter for `plan`; groups that failed planning count as failed.
    pub fn new(
        modules: Vec<BootModule<'static>>,
        plan: Box<BootPlan<'static>>,
        descs: Vec<MemoryDesc>,
        tally: MemoryTally<256>,
        image_end: u64,
        spaces: ThreadSpaces,
    ) -> VmStarter {
        let mut sequence = Vec::new();
        let mut failed = 0;
        for (group, result) in plan.iter().enumerate() {
            match result {
                Ok(vm) => sequence.extend((0..vm.instances.max(1)).map(|i| (group, i))),
                Err(_) => failed += 1,
            }
        }
        VmStarter {
            modules,
            plan,
            descs,
            tally,
            image_end,
            spaces,
            irq_lines: 0,
            dhcp: None,
            sequence,
            next: 0,
            blocks: [None; MAX_VM],
            started: 0,
            failed,
            finished: false,
        }
    }

    /// Start the next VM of the sequence that can be started; when none is
    /// left and none is awaited, print the summary and the success sentinel.
    pub fn start_next(&mut self, monitor: &mut Monitor<Ia32>) {
        while self.next < self.sequence.len() {
            let (group, instance) = self.sequence[self.next];
            self.next += 1;
            match self.start(monitor, group, instance, None) {
                Ok(slot) => {
                    self.started += 1;
                    monitor.waiting_for = Some(slot);
                    println!(
                        "vm {slot}: started (group {group}, instance {instance}) tsc={}",
                        ia32::rdtsc()
                    );
                    return;
                }
                Err(e) => {
                    self.failed += 1;
                    println!("vm group {group} instance {instance}: not started: {e}");
                }
            }
        }
        if monitor.waiting_for.is_none() && !self.finished {
            self.finished = true;
            let (used, size) = super::heap::usage();
            let st = monitor.stats;
            let sup = &monitor.supervisor;
            println!(
                "vms: started={} failed={} all init complete tsc={} heap used={used} of {size} requests={} faults={} pages={} refused={} deaths={} restarts={}",
                self.started,
                self.failed,
                ia32::rdtsc(),
                st.requests,
                st.faults_served,
                st.pages_requested,
                st.refused,
                sup.deaths,
                sup.restarts
            );
            sup.status_lines(|l| println!("{l}"));
            println_always!("{SUCCESS_SENTINEL}");
        }
    }

    /// VM `t.slot` was torn down: its block goes back to the free memory
    /// (the next build in it zeroes it), and if the start sequence was
    /// waiting for it, it counts as finished and the next VM starts.
    pub fn reclaim(&mut self, monitor: &mut Monitor<Ia32>, t: Teardown) {
        let region = Region {
            base: t.block_base,
            size: t.block_size,
        };
        if let Some(b) = self.blocks.get_mut(t.slot) {
            *b = None;
        }
        if self.tally.give_back(region) {
            println!(
                "vm {}: block [{:#x}, {:#x}) back in the free memory",
                t.slot,
                region.base,
                region.end()
            );
        } else {
            println!(
                "vm {}: block [{:#x}, {:#x}) not returned (overlaps free memory or no room in the list)",
                t.slot,
                region.base,
                region.end()
            );
        }
        if t.was_awaited {
            println!(
                "vm {}: died before init complete; counts as finished for the start order",
                t.slot
            );
            self.start_next(monitor);
        }
    }

    /// Rebuild VM `slot` from its boot modules in the same slot and thread
    /// range, with the next thread version, and start it.
    pub fn restart(&mut self, monitor: &mut Monitor<Ia32>, slot: usize) {
        let Some(w) = monitor.supervisor.watch(slot).copied() else {
            return;
        };
        monitor.supervisor.restarting(slot);
        let attempt = w.restarts + 1;
        match self.start(monitor, w.group, w.instance, Some(slot)) {
            Ok(_) => {
                println!(
                    "vm {slot}: restarted (restart {attempt} of {}) tsc={}",
                    w.policy.restarts,
                    ia32::rdtsc()
                );
                if let Some(s) = monitor.supervisor.status(slot) {
                    println!("{s}");
                }
            }
            Err(e) => {
                monitor.supervisor.restart_failed(slot);
                println!("vm {slot}: restart {attempt} failed: {e}; stopped");
            }
        }
    }

    fn start(
        &mut self,
        monitor: &mut Monitor<Ia32>,
        group: usize,
        instance: u32,
        slot: Option<usize>,
    ) -> Result<usize, DisplayBox> {
        let free = |s: usize| {
            monitor.vms[s].is_none() && self.blocks[s].is_none() && !monitor.supervisor.reserved(s)
        };
        let slot = match slot {
            Some(s) if monitor.vms[s].is_none() && self.blocks[s].is_none() => Some(s),
            Some(_) => None,
            None => (1..=self.spaces.vm_slots()).find(|&s| free(s)),
        }
        .ok_or(DisplayBox::Start(StartError::NoSlot))?;
        let Some(Ok(plan)) = self.plan.groups().get(group) else {
            return Err(DisplayBox::Start(StartError::NoSlot));
        };
        let blocks: Vec<Region> = self.blocks.iter().flatten().copied().collect();
        let host = Host {
            memory: HostMemory {
                descs: &self.descs,
                received: self.tally.regions(),
                monitor_image_end: self.image_end,
            },
            threads: self.spaces,
            monitor_tid: self.spaces.monitor_tid(),
            iommu: false,
            dhcp: self.dhcp.as_ref(),
            max_logid_in_use: 1,
        };
        let request = VmRequest {
            plan,
            modules: &self.modules,
            slot,
            vm_blocks: &blocks,
        };
        let mut build = VmBuild::new(&request, &host).map_err(DisplayBox::Build)?;
        // A new thread version per VM started in the slot (2 for the first,
        // as the original), so a restarted VM is a new instance.
        let version = monitor.supervisor.next_version(slot);
        build.first_thread = ThreadId::global(build.first_thread.number(), version);
        if !self.tally.take_exact(build.block.base, build.block.size) {
            return Err(DisplayBox::Start(StartError::NotReceived(build.block)));
        }
        // From here on the block is this VM's, even if starting fails.
        self.blocks[slot] = Some(build.block);
        println!(
            "vm {slot}: block [{:#x}, {:#x}) entry={:#x} sp={:#x} thread={}",
            build.block.base,
            build.block.end(),
            build.start_ip,
            build.start_sp,
            build.first_thread
        );
        self.load(&build, &mut monitor.fresh)
            .map_err(DisplayBox::Start)?;
        create_and_start(&build, self.spaces.monitor_tid()).map_err(DisplayBox::Start)?;
        let devices: Vec<Device> = build
            .shared
            .devices
            .entries
            .iter()
            .map(|d| Device {
                low: d.low,
                high: d.high,
                kind: d.kind.unwrap_or(0),
            })
            .collect();
        let entry = VmEntry::new(
            build.layout,
            build.shared_haddr(),
            plan.options.ddos,
            &devices,
        );
        monitor.install_vm(slot, entry, idl::ThreadId(build.first_thread.0));
        let policy = Policy::from_options(&plan.options.supervision);
        monitor
            .supervisor
            .started(slot, group, instance, policy, monitor.platform.now_us());
        Ok(slot)
    }

    /// Mark the block's frames fresh (zeroed when first exposed,
    /// `roottask::fresh`), copy segments and modules, fill the shared page;
    /// a block outside the fresh-frame map is zeroed whole, as upstream.
    fn load(&self, b: &VmBuild, fresh: &mut FreshFrames<'static>) -> Result<(), StartError> {
        // SAFETY: `take_exact` removed the block from the tally, so nothing
        // else uses it; sigma0 mapped it to us 1:1 read-write; the heap was
        // taken from the tally before, so it cannot overlap.
        let block = unsafe { arch::phys_bytes_mut(b.block.base as usize, b.block.size as usize) };
        let (base, size) = (b.block.base, b.block.size);
        fresh.mark(base, size);
        let covered = fresh.is_fresh(base) && fresh.is_fresh(base + size - 4096);
        if !covered {
            fresh.take(base, size, |_| {});
            return b.load_into(block, &self.modules).map_err(StartError::Load);
        }
        let mut lazy = LazyBlock {
            block,
            haddr: base,
            fresh,
        };
        b.load_with(&mut lazy, &self.modules)
            .map_err(StartError::Load)
    }
}

/// Either kind of start failure, for one log line.
enum DisplayBox {
    Build(roottask::vm::BuildError),
    Start(StartError),
}

impl fmt::Display for DisplayBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisplayBox::Build(e) => write!(f, "{e}"),
            DisplayBox::Start(e) => write!(f, "{e}"),
        }
    }
}

/// §6.2: create the thread and its space, set the priority, activate it
/// with the monitor as pager and itself as scheduler, send the start message.
fn create_and_start(b: &VmBuild, monitor: ThreadId) -> Result<(), StartError> {
    let t = b.first_thread;
    let kernel = |call, r: Result<(), KernelError>| r.map_err(|e| StartError::Kernel(call, e));
    // SAFETY: `t` is a new thread in a new space, outside the monitor's own
    // space; none of these calls touch the monitor's threads or memory.
    unsafe {
        kernel(
            "ThreadControl (create)",
            ia32::thread_control(t, t, monitor, ThreadId::NIL, b.utcb_location),
        )?;
        let undo = |e| {
            let _ = ia32::thread_control(t, ThreadId::NIL, ThreadId::NIL, ThreadId::NIL, !0);
            e
        };
        ia32::space_control(t, 0, b.kip_area, b.utcb_area, ThreadId::NIL)
            .map_err(|e| undo(StartError::Kernel("SpaceControl", e)))?;
        if let Err(e) = ia32::schedule(t, !0, !0, b.priority, !0) {
            println!(
                "vm: Schedule(priority {}) for {t} failed: {e}; keeping the default",
                b.priority
            );
        }
        ia32::thread_control(t, t, t, monitor, !0)
            .map_err(|e| undo(StartError::Kernel("ThreadControl (activate)", e)))?;
        utcb::set_mr(1, b.start_ip);
        utcb::set_mr(2, b.start_sp);
        // A send-only IPC; the new thread already waits for its pager.
        let timeouts = Timeouts {
            send: Time::period_us(1_000_000),
            receive: Time::ZERO,
        };
        let r = ia32::ipc(t, ThreadId::NIL, timeouts, MsgTag::new(0, 2, 0));
        if let Some(e) = r.error() {
            return Err(undo(StartError::StartMessage(e)));
        }
    }
    Ok(())
}
