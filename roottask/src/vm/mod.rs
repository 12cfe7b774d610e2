//! Building a VM: from a planned group ([`kickstart_config::VmPlan`]) and the
//! bytes of its boot modules to exact, checked decisions (spec §3–§6). The
//! ia32 side only executes them: zero the block, copy, write the shared page,
//! create the thread and space, send the start message.
//!
//! * [`placement`]: the host block (§3.1), with the received-memory rule.
//! * [`layout`]: the per-VM translations (§3.2).
//! * [`elf`]: the ELF load and the special sections (§3.3, §4).
//! * [`modules`]: module and ramdisk placement (§3.4).
//! * [`threads`]: thread-number spaces and priorities (§6.1, §6.3).
//! * [`shared`]: the shared page's offsets and the values written (§5.3, §5.4).
//!
//! [`VmBuild::new`] is pure: a bad VM yields a [`BuildError`] and cannot
//! affect other VMs (§10.2). Clones (§6.4) are separate builds with their own
//! slot and block.

use core::fmt;

use kickstart_config::monitor::{substitute_grubdhcp, Dhcp, GuestCmdline};
use kickstart_config::VmPlan;
use l4_sys::{Fpage, ThreadId};

use crate::memory::Region;

pub mod elf;
pub mod layout;
pub mod modules;
pub mod placement;
pub mod shared;
pub mod threads;

#[cfg(test)]
pub(crate) mod testelf;

use elf::{ElfError, ElfLoad};
use layout::Layout;
use modules::{Guards, ModuleError, Placement, Protected, ProtectedKind};
use placement::{HostMemory, PlaceError};
use shared::{SharedError, SharedInit, SharedModule, SharedRamdisk};
use threads::{ThreadSpaces, MAX_VM, THREAD_SPACE_SIZE};

/// One boot module as the ia32 side sees it (bootinfo order, as planned).
#[derive(Clone, Copy, Debug)]
pub struct BootModule<'a> {
    /// Full command line, path included.
    pub cmdline: &'a str,
    /// The module's bytes (physical memory, mapped 1:1; 4-byte aligned).
    pub bytes: &'a [u8],
}

/// Machine facts shared by all VM builds.
#[derive(Clone, Copy, Debug)]
pub struct Host<'a> {
    /// KIP descriptors, received memory, the monitor's image end.
    pub memory: HostMemory<'a>,
    /// Thread-number spaces (base = the root task's thread number).
    pub threads: ThreadSpaces,
    /// The monitor's main thread (resourcemon/locator/thread-server TID).
    pub monitor_tid: ThreadId,
    /// Kernel feature `iommu`: `phys_offset` is reported as 0.
    pub iommu: bool,
    /// DHCP values for `ip=grubdhcp` (none: lines are copied unchanged).
    pub dhcp: Option<&'a Dhcp>,
    /// The global maximum logid (1 without a logging kernel).
    pub max_logid_in_use: u32,
}

/// The VM to build.
#[derive(Clone, Copy, Debug)]
pub struct VmRequest<'p, 'a> {
    /// The planned group.
    pub plan: &'p VmPlan<'a>,
    /// All boot modules, indexed like the plan.
    pub modules: &'p [BootModule<'a>],
    /// The VM slot (1..=15).
    pub slot: usize,
    /// Blocks of the other VM slots (slot 0 comes from [`HostMemory`]).
    pub vm_blocks: &'p [Region],
}

/// Why a VM cannot be built.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum BuildErrorKind {
    /// The slot is not 1..=15 or its thread numbers do not fit a global id.
    Slot,
    /// The plan names a module the slice does not have.
    ModuleMissing {
        /// The module index.
        module: usize,
        /// Modules given.
        count: usize,
    },
    /// No host block (option `vmsize=`).
    Place(PlaceError),
    /// The VM module's ELF image.
    Elf {
        /// The VM module's index.
        module: usize,
        /// What is wrong.
        error: ElfError,
    },
    /// A module or the ramdisk.
    Module {
        /// The module's index.
        module: usize,
        /// What is wrong.
        error: ModuleError,
    },
    /// A command line is too long after the `ip=grubdhcp` substitution.
    Cmdline {
        /// The module whose line it is (the VM module for the options string).
        module: usize,
        /// Its length.
        len: usize,
    },
    /// The shared-page values cannot be written (pcpus above 16).
    Shared(SharedError),
}

/// A VM that cannot be built, with its group.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BuildError {
    /// The plan's group index (`vm N`).
    pub group: usize,
    /// The slot it was to get.
    pub slot: usize,
    /// What went wrong.
    pub kind: BuildErrorKind,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vm {} (slot {}): ", self.group, self.slot)?;
        match &self.kind {
            BuildErrorKind::Slot => write!(
                f,
                "VM slot {} has no thread-number space; expected 1..={}",
                self.slot,
                MAX_VM - 1
            ),
            BuildErrorKind::ModuleMissing { module, count } => {
                write!(f, "module {module} is not among the {count} boot modules")
            }
            BuildErrorKind::Place(e) => write!(f, "vmsize=: {e}"),
            BuildErrorKind::Elf { module, error } => write!(f, "module {module}: {error}"),
            BuildErrorKind::Module { module, error } => write!(f, "module {module}: {error}"),
            BuildErrorKind::Cmdline { module, len } => write!(
                f,
                "module {module}: command line is {len} bytes after the ip=grubdhcp substitution; at most {} fit",
                shared::CMDLINE_BYTES - 1
            ),
            BuildErrorKind::Shared(e) => write!(f, "pcpus=: {e}"),
        }
    }
}

/// One memory operation on the VM block, in gpaddr terms.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// Copy `len` bytes of boot module `module` from `src_offset` to `dst_gpaddr`.
    Copy {
        /// Source module index.
        module: usize,
        /// Offset in the module.
        src_offset: u32,
        /// Destination gpaddr.
        dst_gpaddr: u32,
        /// Bytes.
        len: u32,
    },
    /// Zero `len` bytes at `dst_gpaddr`.
    Zero {
        /// Destination gpaddr.
        dst_gpaddr: u32,
        /// Bytes.
        len: u32,
    },
}

/// Memory a VM is loaded into: a plain byte slice, or a block whose frames
/// are zeroed on first write (`crate::fresh::LazyBlock`); [`Bytes`] for a
/// plain slice.
pub trait Memory {
    /// Bytes.
    fn len(&self) -> usize;
    /// No bytes at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Write `bytes` at `at` (in range: the caller checked).
    fn write(&mut self, at: usize, bytes: &[u8]);
    /// Make `[at, at + len)` read as zeros (in range).
    fn zero(&mut self, at: usize, len: usize);
}

/// A plain byte slice as [`Memory`].
pub struct Bytes<'a>(pub &'a mut [u8]);

impl Memory for Bytes<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn write(&mut self, at: usize, bytes: &[u8]) {
        self.0[at..at + bytes.len()].copy_from_slice(bytes);
    }
    fn zero(&mut self, at: usize, len: usize) {
        self.0[at..at + len].fill(0);
    }
}

/// Operations a build has at most: block zeroing, two per segment, modules.
pub const MAX_OPS: usize = 1 + 2 * elf::MAX_SEGMENTS + shared::MAX_MODULES;

/// A module (or the ramdisk) to copy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ModuleCopy {
    /// Source module index.
    pub module: usize,
    /// Where it goes.
    pub placement: Placement,
}

/// Everything the ia32 side needs to create and start one VM.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VmBuild {
    /// The plan's group index.
    pub group: usize,
    /// VM slot (1..=15).
    pub slot: usize,
    /// Host block `[base, base + size)`; remove exactly this from the tally.
    pub block: Region,
    /// The translations (with `wedge_vaddr`).
    pub layout: Layout,
    /// Index of the VM module (ELF-loaded).
    pub vm_module: usize,
    /// The ELF load decisions.
    pub elf: ElfLoad,
    /// Modules (module mode) or the ramdisk, in placement order.
    pub module_copies: heapless::Vec<ModuleCopy, { shared::MAX_MODULES }>,
    /// Values for the shared page (write with [`SharedInit::write_into`]).
    pub shared: SharedInit,
    /// Where the shared page lies in the VM.
    pub shared_gpaddr: u32,
    /// KIP area for SpaceControl (rights 0).
    pub kip_area: Fpage,
    /// UTCB area for SpaceControl (rights 0).
    pub utcb_area: Fpage,
    /// UTCB location of the first thread (start of the UTCB area, §6.2 step 1).
    pub utcb_location: u32,
    /// The VM's first thread (number base + 4096·slot, version 2).
    pub first_thread: ThreadId,
    /// Priority for L4_Schedule (102 / 112).
    pub priority: u32,
    /// Start message MR1.
    pub start_ip: u32,
    /// Start message MR2.
    pub start_sp: u32,
}

fn cmdline(line: &str, dhcp: Option<&Dhcp>, module: usize) -> Result<GuestCmdline, BuildErrorKind> {
    let too_long = |len| BuildErrorKind::Cmdline { module, len };
    match dhcp {
        Some(d) => substitute_grubdhcp(line, d).map_err(|e| too_long(e.len)),
        None => GuestCmdline::try_from(line).map_err(|_| too_long(line.len())),
    }
}

impl VmBuild {
    /// Decides everything about one VM; never panics, never writes.
    pub fn new(req: &VmRequest<'_, '_>, host: &Host<'_>) -> Result<VmBuild, BuildError> {
        let plan = req.plan;
        let fail = |kind| BuildError {
            group: plan.group,
            slot: req.slot,
            kind,
        };
        Self::build(req, host).map_err(fail)
    }

    fn build(req: &VmRequest<'_, '_>, host: &Host<'_>) -> Result<VmBuild, BuildErrorKind> {
        let plan = req.plan;
        let o = &plan.options;
        if req.slot == 0 {
            return Err(BuildErrorKind::Slot);
        }
        let range = host.threads.range(req.slot).ok_or(BuildErrorKind::Slot)?;
        let first_thread = host
            .threads
            .first_thread(req.slot)
            .ok_or(BuildErrorKind::Slot)?;
        let module = |i: usize| {
            req.modules
                .get(i)
                .copied()
                .ok_or(BuildErrorKind::ModuleMissing {
                    module: i,
                    count: req.modules.len(),
                })
        };
        let vm = module(plan.vm_module)?;
        for &i in plan.installed.iter().chain(plan.ramdisk.iter()) {
            module(i)?;
        }
        let shared_cmdline = cmdline(o.guest_cmdline(), host.dhcp, plan.vm_module)?;

        // §3.1: the block.
        let size = plan.size;
        let block = host
            .memory
            .place(size as u64, req.vm_blocks)
            .map_err(BuildErrorKind::Place)?;
        let max_phys = placement::max_phys(host.memory.descs).unwrap_or(0) as u32;

        // §3.3, §4: the ELF load.
        let layout = Layout::new(block.base, size, o.offset, o.wedgeinstall);
        let elf = elf::load(vm.bytes, layout).map_err(|error| BuildErrorKind::Elf {
            module: plan.vm_module,
            error,
        })?;
        let layout = elf.layout;

        // §3.4: modules / ramdisk, with the protected guest-physical ranges.
        let mut protected: heapless::Vec<Protected, { elf::MAX_SEGMENTS + 2 }> =
            heapless::Vec::new();
        for s in &elf.segments {
            let _ = protected.push(Protected {
                kind: ProtectedKind::Segment(s.index),
                gp: s.gp_range(),
            });
        }
        if layout.has_wedge() {
            let start = layout.wedge_paddr as u64;
            let declared = start + o.wedgesize as u64;
            let loaded = elf
                .segments
                .iter()
                .filter(|s| s.via_wedge)
                .map(|s| s.gp_range().end)
                .max()
                .unwrap_or(start);
            let end = declared.max(loaded);
            if end > start {
                let _ = protected.push(Protected {
                    kind: ProtectedKind::Wedge,
                    gp: start..end,
                });
            }
        }
        let _ = protected.push(Protected {
            kind: ProtectedKind::SharedPage,
            gp: elf.shared_gp_range(),
        });
        let guards = Guards {
            layout: &layout,
            wedge_phys_size: elf.guest_header.wedge_phys_size,
            binary: elf.binary_start as u64..elf.binary_end,
            kip: elf.kip_area,
            utcb: elf.utcb_area,
            protected: &protected,
        };
        let mut module_copies = heapless::Vec::new();
        let mut shared_modules = heapless::Vec::new();
        let mut ramdisk = None;
        if let Some(rd) = plan.ramdisk {
            let m = module(rd)?;
            let p = guards
                .place_ramdisk(m.bytes.len() as u64)
                .map_err(|error| BuildErrorKind::Module { module: rd, error })?;
            ramdisk = Some(SharedRamdisk {
                start: p.gvaddr,
                size: p.size,
            });
            let _ = module_copies.push(ModuleCopy {
                module: rd,
                placement: p,
            });
        } else {
            let mut sizes: heapless::Vec<u64, { shared::MAX_MODULES }> = heapless::Vec::new();
            for &i in &plan.installed {
                let _ = sizes.push(module(i)?.bytes.len() as u64);
            }
            let placed =
                guards
                    .place_modules(&sizes)
                    .map_err(|(k, error)| BuildErrorKind::Module {
                        module: plan.installed.get(k).copied().unwrap_or(plan.vm_module),
                        error,
                    })?;
            for (&i, p) in plan.installed.iter().zip(placed) {
                let line = cmdline(module(i)?.cmdline, host.dhcp, i)?;
                let _ = shared_modules.push(SharedModule {
                    vm_offset: p.gpaddr,
                    size: p.size,
                    cmdline: line,
                });
                let _ = module_copies.push(ModuleCopy {
                    module: i,
                    placement: p,
                });
            }
        }

        // §5.3, §5.4: the shared page values.
        if plan.pcpus > shared::MAX_CPUS {
            return Err(BuildErrorKind::Shared(SharedError::PcpuCount {
                pcpu_count: plan.pcpus,
            }));
        }
        let phys_offset = if host.iommu { 0 } else { block.base as u32 };
        let phys_end = if o.client_dma() { max_phys } else { size - 1 };
        let tid = host.monitor_tid.0;
        let priority = threads::vm_priority(o.ddos);
        let shared = SharedInit {
            prio: priority,
            thread_space_start: range.start,
            thread_space_len: THREAD_SPACE_SIZE,
            utcb_fpage: elf.utcb_area.0,
            kip_fpage: elf.kip_area.0,
            link_vaddr: layout.vaddr_offset,
            entry_ip: elf.entry,
            entry_sp: 0,
            phys_offset,
            phys_size: size,
            phys_end,
            ramdisk,
            wedge_virt_offset: layout.wedge_vaddr,
            wedge_phys_offset: layout.wedge_paddr,
            resourcemon_tid: tid,
            locator_tid: tid,
            thread_server_tid: tid,
            mem_balloon: 0,
            max_logid_in_use: host.max_logid_in_use,
            cmdline: shared_cmdline,
            modules: shared_modules,
            devices: shared::device_list(
                host.memory.descs,
                o.ddos,
                o.client_dma(),
                phys_offset,
                size,
                phys_end,
                max_phys,
            ),
            vcpu_count: o.vcpu_count(),
            pcpu_count: plan.pcpus,
        };
        Ok(VmBuild {
            group: plan.group,
            slot: req.slot,
            block,
            layout,
            vm_module: plan.vm_module,
            module_copies,
            shared,
            shared_gpaddr: elf.shared_gpaddr,
            kip_area: elf.kip_area,
            utcb_area: elf.utcb_area,
            utcb_location: elf.utcb_area.base(),
            first_thread,
            priority,
            start_ip: elf.start_ip(),
            start_sp: elf.start_sp(),
            elf,
        })
    }

    /// The memory operations in order: zero the whole block (§3.1), load
    /// each segment (copy, then zero the rest of p_memsz; later segments win
    /// where they overlap), copy the modules or the ramdisk. Then write the
    /// shared page with [`SharedInit::write_into`] on the
    /// [`shared::SHARED_SIZE`] bytes at [`VmBuild::shared_gpaddr`] (modules
    /// never overlap it, so the order of these last two steps is free).
    pub fn operations(&self) -> heapless::Vec<Op, MAX_OPS> {
        let mut ops = heapless::Vec::new();
        let _ = ops.push(Op::Zero {
            dst_gpaddr: 0,
            len: self.layout.size,
        });
        for s in &self.elf.segments {
            if s.file_len != 0 {
                let _ = ops.push(Op::Copy {
                    module: self.vm_module,
                    src_offset: s.file_offset,
                    dst_gpaddr: s.gpaddr,
                    len: s.file_len,
                });
            }
            if s.zero_len() != 0 {
                let _ = ops.push(Op::Zero {
                    dst_gpaddr: s.gpaddr + s.file_len,
                    len: s.zero_len(),
                });
            }
        }
        for c in &self.module_copies {
            let _ = ops.push(Op::Copy {
                module: c.module,
                src_offset: 0,
                dst_gpaddr: c.placement.gpaddr,
                len: c.placement.size,
            });
        }
        ops
    }

    /// Host address of the shared page.
    pub fn shared_haddr(&self) -> u64 {
        self.block.base + self.shared_gpaddr as u64
    }

    /// Carry out the build on the VM's memory: run [`VmBuild::operations`]
    /// (zero the block, copy segments and modules) on `block` (the VM's
    /// memory, `layout.size` bytes) and fill the shared page.
    ///
    /// Every range is checked against `block` and the modules, so a wrong
    /// operation is an error, never a panic or a write outside the VM.
    pub fn load_into(&self, block: &mut [u8], modules: &[BootModule<'_>]) -> Result<(), LoadError> {
        self.load_with(&mut Bytes(block), modules)
    }

    /// [`VmBuild::load_into`] on any [`Memory`]: with a
    /// `crate::fresh::LazyBlock` the block's frames are marked fresh
    /// instead of zeroed, and only the frames the load writes are zeroed
    /// (the first operation, zeroing the whole block, then writes nothing).
    pub fn load_with(
        &self,
        block: &mut dyn Memory,
        modules: &[BootModule<'_>],
    ) -> Result<(), LoadError> {
        let fits = |at: u32, len: u32, size: usize| {
            (at as usize)
                .checked_add(len as usize)
                .is_some_and(|end| end <= size)
        };
        for op in self.operations() {
            match op {
                Op::Zero { dst_gpaddr, len } => {
                    if !fits(dst_gpaddr, len, block.len()) {
                        return Err(LoadError::Outside(op));
                    }
                    block.zero(dst_gpaddr as usize, len as usize);
                }
                Op::Copy {
                    module,
                    src_offset,
                    dst_gpaddr,
                    len,
                } => {
                    let src = modules
                        .get(module)
                        .and_then(|m| {
                            let at = src_offset as usize;
                            m.bytes.get(at..at.checked_add(len as usize)?)
                        })
                        .ok_or(LoadError::Outside(op))?;
                    if !fits(dst_gpaddr, len, block.len()) {
                        return Err(LoadError::Outside(op));
                    }
                    block.write(dst_gpaddr as usize, src);
                }
            }
        }
        if !fits(self.shared_gpaddr, shared::SHARED_SIZE as u32, block.len()) {
            return Err(LoadError::Outside(Op::Zero {
                dst_gpaddr: self.shared_gpaddr,
                len: shared::SHARED_SIZE as u32,
            }));
        }
        self.shared
            .write_at(block, self.shared_gpaddr as usize)
            .map_err(LoadError::Shared)
    }
}

/// Why carrying out a build failed (a bug in the build, or memory that is
/// not the VM's block).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum LoadError {
    /// An operation reaches outside the block or its source module.
    Outside(Op),
    /// The shared page could not be written.
    Shared(SharedError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Outside(op) => {
                write!(f, "memory operation outside the block or module: {op:?}")
            }
            LoadError::Shared(e) => write!(f, "shared page: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
