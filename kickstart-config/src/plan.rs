//! The boot planner: from the boot modules to VM groups (spec §1.5, §2.4,
//! §3.4, §10.1), decided before anything is loaded.
//!
//! [`plan`] is a pure function without allocation. Each group is either a
//! [`VmPlan`] or a [`GroupError`]; a bad group never hides the good ones.

use core::fmt;
use core::ops::Range;

use crate::num::Size;
use crate::options::{ModuleLine, OptionError, VmOptions};

/// Modules a VM may receive in module mode (`shared.modules`, vm.cc).
pub const MAX_MODULES_PER_VM: usize = 3;
/// Longest command line the original copies for a guest: 511 bytes + NUL (vm.cc).
pub const MAX_CMDLINE: usize = 511;
/// Physical CPUs a VM may use (vm.cc).
pub const MAX_CPUS: u32 = 16;
/// VCPUs the shared page has room for (`vcpus=` is unbounded upstream).
pub const MAX_VCPUS: u32 = 32;
/// Guest VMs over the whole run when the machine is not known: what ia32
/// Pistachio's thread-number space holds (KIP ThreadInfo t = 17 bits:
/// (2^17 − (UserBase 48 + 2)) / 4096 = 31 ranges of 4,096, the first the
/// monitor's). The monitor plans with the count its kernel's KIP gives
/// ([`PlanConfig::vm_slots`]); the original stops at 15.
pub const MAX_VMS: u32 = 30;
/// Modules kickstart passes at most (`MAX_MBI_MODULES`, anchors §7.8); the
/// planner looks at no more than this many inputs.
pub const MAX_INPUT_MODULES: usize = 32;
/// Room for one plan entry per considered module.
pub const MAX_GROUPS: usize = MAX_INPUT_MODULES;
/// Page size used for module placement.
const PAGE: u64 = 4096;

/// The ELF magic the original tests for the ELF-magic group fallback (spec §1.5).
pub const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];

/// One boot module as the root task sees it (bootinfo module index order:
/// index 0 is the first module after kernel, sigma0 and root task).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleInput<'a> {
    /// The full command line, module path included.
    pub cmdline: &'a str,
    /// The first bytes of the module (at least 4 for the ELF magic, 18 to also
    /// check `e_type`, enough to hold the program headers for the wedge's
    /// loaded extent, see [`load_extent`]); empty when unknown (host checks
    /// of a menu file).
    pub head: &'a [u8],
    /// Module size in bytes; 0 when unknown (placement checks are skipped).
    pub size: usize,
}

impl ModuleInput<'_> {
    fn is_elf(&self) -> bool {
        self.head.starts_with(&ELF_MAGIC)
    }
}

/// Bytes an ELF32 image's PT_LOAD segments span in memory (lowest `p_vaddr`
/// to highest `p_vaddr + p_memsz`), read from `head`; None when `head` does
/// not hold the ELF header and all program headers. This, not the file size
/// (which counts symbols and debug sections), is what a wedge occupies
/// from `wedgeinstall=`.
pub fn load_extent(head: &[u8]) -> Option<u64> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(head.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(head.get(o..o + 4)?.try_into().ok()?));
    if !head.starts_with(&ELF_MAGIC) || head.get(4) != Some(&1) {
        return None;
    }
    let (phoff, phentsize, phnum) = (u32_at(28)? as usize, u16_at(42)? as usize, u16_at(44)?);
    if phentsize < 32 {
        return None;
    }
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for k in 0..phnum as usize {
        let ph = phoff.checked_add(k.checked_mul(phentsize)?)?;
        if u32_at(ph)? != 1 {
            continue;
        }
        let (vaddr, memsz) = (u64::from(u32_at(ph + 8)?), u64::from(u32_at(ph + 20)?));
        lo = lo.min(vaddr);
        hi = hi.max(vaddr + memsz);
    }
    (hi > lo).then(|| hi - lo)
}

/// Machine facts the planner may use; all optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanConfig {
    /// CPUs in the KIP; `pcpus=` at or above it is clamped to it (spec §2.3).
    pub cpus: Option<u32>,
    /// Length of the `ip=grubdhcp` replacement text (see
    /// [`crate::monitor::Dhcp::replacement`]); counted in the line limit.
    pub dhcp_len: Option<usize>,
    /// Guest VM slots the kernel's thread-number space holds (from the
    /// KIP's ThreadInfo); [`MAX_VMS`] when not known.
    pub vm_slots: Option<u32>,
}

/// Why a group cannot be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupErrorKind<'a> {
    /// A malformed or ambiguous option on the VM module line.
    Option(OptionError<'a>),
    /// The VM module does not start with the ELF magic (or is not ET_EXEC).
    NotElfExecutable,
    /// A command line is 512 bytes or longer (after the DHCP substitution, if known).
    CmdlineTooLong {
        /// Its length.
        len: usize,
    },
    /// The rounded VM size exceeds 32 bits.
    SizeOverflow {
        /// Requested size.
        requested: u32,
    },
    /// `wedgeinstall + wedgesize > requested size` (the original's check).
    WedgeDoesNotFit {
        /// `wedgeinstall=`.
        install: u32,
        /// `wedgesize=`.
        size: u32,
        /// The requested VM size before rounding.
        vm: u32,
    },
    /// `vcpus=` above [`MAX_VCPUS`].
    TooManyVcpus {
        /// Requested VCPUs.
        vcpus: u32,
    },
    /// `pcpus=` (after clamping) above [`MAX_CPUS`].
    TooManyCpus {
        /// Effective physical CPUs.
        pcpus: u32,
    },
    /// More than [`MAX_MODULES_PER_VM`] modules in module mode.
    TooManyModules {
        /// Modules in the group after the VM module.
        count: usize,
    },
    /// Ramdisk mode but no following module of the group to use as ramdisk.
    MissingRamdisk,
    /// A module or the ramdisk does not fit in the VM memory.
    ModuleTooBig {
        /// Module size.
        size: usize,
        /// Room left below the modules placed before it.
        room: u64,
    },
    /// Modules stacked at the top of memory reach the wedge's range.
    ModuleOverlapsWedge {
        /// Lowest guest-physical address used by modules.
        lowest: u64,
        /// End of the wedge range.
        wedge_end: u64,
    },
    /// The VM module is already installed into the previous VM (the ELF-magic
    /// fallback of a group without `vmstart`, spec §1.5).
    AlreadyInstalled {
        /// The group that installs it.
        by_group: usize,
    },
    /// More VM instances in total than there are VM slots.
    TooManyVms {
        /// Instances started before this group.
        before: u32,
        /// Instances this group asks for.
        instances: u32,
        /// The VM slots there are ([`PlanConfig::vm_slots`], else [`MAX_VMS`]).
        slots: u32,
    },
}

/// A group that cannot be started, decided before anything is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupError<'a> {
    /// Index of the group in the plan.
    pub group: usize,
    /// Index of the module the problem is about.
    pub module: usize,
    /// Byte offset in that module's command line, when the problem is on it.
    pub at: Option<usize>,
    /// The problem.
    pub kind: GroupErrorKind<'a>,
}

impl fmt::Display for GroupError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vm {}: module {}: ", self.group, self.module)?;
        match self.kind {
            GroupErrorKind::Option(e) => write!(f, "{e}"),
            GroupErrorKind::NotElfExecutable => f.write_str("the VM module is not an ELF executable (expected 7f 45 4c 46 and e_type 2)"),
            GroupErrorKind::CmdlineTooLong { len } => write!(f, "command line is {len} bytes; at most {MAX_CMDLINE} fit"),
            GroupErrorKind::SizeOverflow { requested } => write!(f, "vmsize {requested:#x} rounded up to 4M exceeds 32 bits; expected at most 0xFFC00000"),
            GroupErrorKind::WedgeDoesNotFit { install, size, vm } => write!(
                f,
                "the wedge doesn't fit within the virtual machine: wedgeinstall={} + wedgesize={} > vmsize={}; expected wedgeinstall + wedgesize <= vmsize",
                Size(install),
                Size(size),
                Size(vm)
            ),
            GroupErrorKind::TooManyVcpus { vcpus } => write!(f, "vcpus={vcpus}; expected at most {MAX_VCPUS} (the shared page's arrays)"),
            GroupErrorKind::TooManyCpus { pcpus } => write!(f, "pcpus={pcpus}; expected at most {MAX_CPUS}"),
            GroupErrorKind::TooManyModules { count } => {
                write!(f, "{count} modules in the group; expected at most {MAX_MODULES_PER_VM} (or a `vmstart` on the next VM's first module)")
            }
            GroupErrorKind::MissingRamdisk => f.write_str("ramdisk mode but no following module to use as the ramdisk"),
            GroupErrorKind::ModuleTooBig { size, room } => write!(f, "module of {size} bytes does not fit; {room} bytes left"),
            GroupErrorKind::ModuleOverlapsWedge { lowest, wedge_end } => {
                write!(f, "modules placed from the top of VM memory reach down to {lowest:#x}, into the wedge (ends at {wedge_end:#x}); expected a larger vmsize")
            }
            GroupErrorKind::AlreadyInstalled { by_group } => write!(
                f,
                "this ELF module is installed into vm {by_group}, which has no `vmstart`, so the original would also start it as the next VM; expected `vmstart` on every VM's first module"
            ),
            GroupErrorKind::TooManyVms { before, instances, slots } => {
                write!(f, "{instances} more VM instance(s) after {before}; at most {slots} guest VMs exist (the kernel's thread-number space)")
            }
        }
    }
}

/// The plan for one VM group: everything decided before loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmPlan<'a> {
    /// Index of the group in the plan (the `vm N` of the boot log).
    pub group: usize,
    /// The VM module (first of the group; ELF-loaded).
    pub vm_module: usize,
    /// Module mode: the modules copied into the VM, in order (`shared.modules`).
    pub installed: heapless::Vec<usize, MAX_MODULES_PER_VM>,
    /// Ramdisk mode: the module installed as the ramdisk.
    pub ramdisk: Option<usize>,
    /// The guest kernel: with a wedge, the first installed ELF module (else
    /// the first installed module); otherwise the VM module itself.
    pub kernel: usize,
    /// The parsed VM options.
    pub options: VmOptions<'a>,
    /// VM memory size, rounded up to 4 MB.
    pub size: u32,
    /// Physical CPUs after clamping to the known CPU count.
    pub pcpus: u32,
    /// Instances to start (`clones=`, per group).
    pub instances: u32,
    /// Instances the original would start (its clone counter is never reset,
    /// spec §1.5, §12 item 10).
    pub original_instances: u32,
    /// The guest kernel's command line: the kernel module's full line with a
    /// wedge, else the VM options string (both passed through untouched).
    pub guest_cmdline: &'a str,
}

impl VmPlan<'_> {
    /// Module indices covered by the group (VM module up to the last used one).
    pub fn modules(&self) -> Range<usize> {
        let last = self
            .installed
            .last()
            .copied()
            .or(self.ramdisk)
            .unwrap_or(self.vm_module);
        self.vm_module..last + 1
    }
}

impl fmt::Display for VmPlan<'_> {
    /// One boot-log line; module ranges are half-open (`3..5` = 3 and 4).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let r = self.modules();
        write!(
            f,
            "vm {}: modules {}..{} kernel={} vmsize={}",
            self.group,
            r.start,
            r.end,
            self.kernel,
            Size(self.size)
        )?;
        if o.wedgeinstall != 0 {
            write!(f, " wedge={:#x}+{:#x}", o.wedgeinstall, o.wedgesize)?;
        } else {
            f.write_str(" wedge=none")?;
        }
        write!(
            f,
            " offset={:#x} vcpus={} pcpus={} clones={}",
            o.offset,
            o.vcpu_count(),
            self.pcpus,
            self.instances
        )?;
        write!(f, " ddos={} clientdma={}", yn(o.ddos), yn(o.client_dma()))?;
        match self.ramdisk {
            Some(m) => write!(f, " mode=ramdisk({m})")?,
            None => {
                f.write_str(" mode=modules(")?;
                for (i, m) in self.installed.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{m}")?;
                }
                f.write_str(")")?;
            }
        }
        if o.grubdhcp.is_some() {
            f.write_str(" ip=grubdhcp")?;
        }
        write!(f, "{}", o.supervision)?;
        Ok(())
    }
}

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// One entry of a boot plan.
pub type GroupResult<'a> = Result<VmPlan<'a>, GroupError<'a>>;

/// The boot plan: VM groups in start order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BootPlan<'a> {
    groups: heapless::Vec<GroupResult<'a>, MAX_GROUPS>,
    /// Inputs beyond [`MAX_INPUT_MODULES`] that were not considered.
    pub ignored_modules: usize,
}

impl<'a> BootPlan<'a> {
    /// The groups in start order.
    pub fn groups(&self) -> &[GroupResult<'a>] {
        &self.groups
    }

    /// Iterates the groups in start order.
    pub fn iter(&self) -> core::slice::Iter<'_, GroupResult<'a>> {
        self.groups.iter()
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when there is no module and hence no VM.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// True when every group can be started and no module was ignored.
    pub fn is_ok(&self) -> bool {
        self.ignored_modules == 0 && self.groups.iter().all(Result::is_ok)
    }
}

impl<'p, 'a> IntoIterator for &'p BootPlan<'a> {
    type Item = &'p GroupResult<'a>;
    type IntoIter = core::slice::Iter<'p, GroupResult<'a>>;
    fn into_iter(self) -> Self::IntoIter {
        self.groups.iter()
    }
}

/// Plans a boot without machine facts; see [`plan_with`].
pub fn plan<'a>(modules: &[ModuleInput<'a>]) -> BootPlan<'a> {
    plan_with(modules, &PlanConfig::default())
}

/// Groups the modules into VMs exactly as the original sequences them and
/// checks every group against the limits. Never panics, never allocates.
pub fn plan_with<'a>(modules: &[ModuleInput<'a>], cfg: &PlanConfig) -> BootPlan<'a> {
    let n = modules.len().min(MAX_INPUT_MODULES);
    let slots = cfg.vm_slots.unwrap_or(MAX_VMS);
    let mut out = BootPlan {
        groups: heapless::Vec::new(),
        ignored_modules: modules.len() - n,
    };
    let modules = &modules[..n];
    let vmstart = |i: usize| ModuleLine::parse(modules[i].cmdline).vmstart;
    let mut current = 0;
    let mut clone_counter = 1u32;
    let mut vms = 0u32;
    let mut prev_used: Range<usize> = 0..0;
    let mut prev_group = 0;
    let mut via_fallback = false;
    while current < n {
        let group = out.groups.len();
        let mut r = plan_group(modules, current, group, cfg);
        if let Ok(p) = &r {
            let clones = p.options.clone_count();
            let original = 1 + clones.saturating_sub(clone_counter);
            clone_counter = clone_counter.max(clones);
            if via_fallback && prev_used.contains(&current) {
                r = Err(GroupError {
                    group,
                    module: current,
                    at: None,
                    kind: GroupErrorKind::AlreadyInstalled {
                        by_group: prev_group,
                    },
                });
            } else if vms + p.instances > slots {
                r = Err(GroupError {
                    group,
                    module: current,
                    at: None,
                    kind: GroupErrorKind::TooManyVms {
                        before: vms,
                        instances: p.instances,
                        slots,
                    },
                });
            } else {
                vms += p.instances;
            }
            if let Ok(p) = &mut r {
                p.original_instances = original;
            }
        }
        prev_used = match &r {
            Ok(p) => p.modules(),
            Err(_) => current..group_end(modules, current, vmstart),
        };
        prev_group = group;
        if out.groups.push(r).is_err() {
            break;
        }
        // next_module(): a vmstart module, or with no vmstart here the next ELF module.
        let here = vmstart(current);
        let next = (current + 1..n).find(|&j| vmstart(j) || (!here && modules[j].is_elf()));
        match next {
            Some(j) => {
                via_fallback = !vmstart(j);
                current = j;
            }
            None => break,
        }
    }
    out
}

/// The original's group extent in module mode: up to the next `vmstart`.
fn group_end(modules: &[ModuleInput<'_>], start: usize, vmstart: impl Fn(usize) -> bool) -> usize {
    (start + 1..modules.len())
        .find(|&j| vmstart(j))
        .unwrap_or(modules.len())
}

fn plan_group<'a>(
    modules: &[ModuleInput<'a>],
    vm: usize,
    group: usize,
    cfg: &PlanConfig,
) -> GroupResult<'a> {
    let fail = |module: usize, at: Option<usize>, kind| {
        Err(GroupError {
            group,
            module,
            at,
            kind,
        })
    };
    let m = &modules[vm];
    let o = match VmOptions::parse(m.cmdline) {
        Ok(o) => o,
        Err(e) => return fail(vm, Some(e.at), GroupErrorKind::Option(e)),
    };
    if m.head.len() >= 4
        && (!m.is_elf()
            || (m.head.len() >= 18 && u16::from_le_bytes([m.head[16], m.head[17]]) != 2))
    {
        return fail(vm, None, GroupErrorKind::NotElfExecutable);
    }
    let dhcp = |has: bool| if has { cfg.dhcp_len.unwrap_or(0) } else { 0 };
    let len = o.line.options.len() + dhcp(o.grubdhcp.is_some());
    if len > MAX_CMDLINE {
        return fail(
            vm,
            Some(o.line.options_at),
            GroupErrorKind::CmdlineTooLong { len },
        );
    }
    let requested = o.requested_size();
    let Some(size) = o.vm_size() else {
        return fail(vm, None, GroupErrorKind::SizeOverflow { requested });
    };
    if u64::from(o.wedgeinstall) + u64::from(o.wedgesize) > u64::from(requested) {
        return fail(
            vm,
            None,
            GroupErrorKind::WedgeDoesNotFit {
                install: o.wedgeinstall,
                size: o.wedgesize,
                vm: requested,
            },
        );
    }
    if o.vcpu_count() > MAX_VCPUS {
        return fail(
            vm,
            None,
            GroupErrorKind::TooManyVcpus {
                vcpus: o.vcpu_count(),
            },
        );
    }
    let pcpus = match cfg.cpus {
        Some(c) if c > 0 && o.pcpu_count() >= c => c,
        _ => o.pcpu_count(),
    };
    if pcpus > MAX_CPUS {
        return fail(vm, None, GroupErrorKind::TooManyCpus { pcpus });
    }
    let end = group_end(modules, vm, |i| {
        ModuleLine::parse(modules[i].cmdline).vmstart
    });
    let mut installed = heapless::Vec::new();
    let mut ramdisk = None;
    let vm_size = u64::from(size);
    if o.ramdisk {
        if vm + 1 >= end {
            return fail(vm, None, GroupErrorKind::MissingRamdisk);
        }
        let rd = vm + 1;
        let s = modules[rd].size as u64;
        if s > 0 && (s > vm_size || vm_size - s < PAGE) {
            return fail(
                rd,
                None,
                GroupErrorKind::ModuleTooBig {
                    size: modules[rd].size,
                    room: vm_size.saturating_sub(PAGE),
                },
            );
        }
        ramdisk = Some(rd);
    } else {
        let count = end - vm - 1;
        if count > MAX_MODULES_PER_VM {
            return fail(
                vm + 1 + MAX_MODULES_PER_VM,
                None,
                GroupErrorKind::TooManyModules { count },
            );
        }
        let mut ceiling = vm_size;
        for (i, module) in modules.iter().enumerate().take(end).skip(vm + 1) {
            let _ = installed.push(i);
            let s = module.size as u64;
            if s > ceiling {
                return fail(
                    i,
                    None,
                    GroupErrorKind::ModuleTooBig {
                        size: module.size,
                        room: ceiling,
                    },
                );
            }
            ceiling = (ceiling - s) & !(PAGE - 1);
        }
        // The wedge's extent: `wedgesize=`, else what its segments span;
        // unknown (no program headers at hand) leaves the check to the
        // loader, which knows the segments.
        let wedge_extent = if o.wedgesize != 0 {
            u64::from(o.wedgesize)
        } else {
            load_extent(m.head).unwrap_or(0)
        };
        let wedge_end = u64::from(o.wedgeinstall) + wedge_extent;
        if o.wedgeinstall != 0 && ceiling < vm_size && ceiling < wedge_end {
            return fail(
                *installed.last().unwrap_or(&vm),
                None,
                GroupErrorKind::ModuleOverlapsWedge {
                    lowest: ceiling,
                    wedge_end,
                },
            );
        }
    }
    for &i in installed.iter().chain(ramdisk.iter()) {
        let line = ModuleLine::parse(modules[i].cmdline);
        let len = modules[i].cmdline.len() + dhcp(line.grubdhcp.is_some());
        if len > MAX_CMDLINE {
            return fail(i, Some(0), GroupErrorKind::CmdlineTooLong { len });
        }
    }
    let kernel = if o.wedgeinstall != 0 {
        installed
            .iter()
            .copied()
            .find(|&i| modules[i].is_elf())
            .or(installed.first().copied())
            .unwrap_or(vm)
    } else {
        vm
    };
    let guest_cmdline = if kernel != vm {
        modules[kernel].cmdline
    } else {
        o.guest_cmdline()
    };
    let instances = o.clone_count();
    Ok(VmPlan {
        group,
        vm_module: vm,
        installed,
        ramdisk,
        kernel,
        options: o,
        size,
        pcpus,
        instances,
        original_instances: instances,
        guest_cmdline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::MIB;
    use std::string::ToString;
    use std::vec::Vec;

    const ELF: &[u8] = &[
        0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0,
    ];
    const DATA: &[u8] = &[0x1f, 0x8b, 8, 0];

    fn m(cmdline: &str) -> ModuleInput<'_> {
        ModuleInput {
            cmdline,
            head: &[],
            size: 0,
        }
    }
    fn e(cmdline: &str) -> ModuleInput<'_> {
        ModuleInput {
            cmdline,
            head: ELF,
            size: 0,
        }
    }
    fn ok<'p, 'a>(p: &'p BootPlan<'a>, i: usize) -> &'p VmPlan<'a> {
        p.groups()[i].as_ref().unwrap_or_else(|e| panic!("{e}"))
    }
    fn err<'p, 'a>(p: &'p BootPlan<'a>, i: usize) -> &'p GroupError<'a> {
        p.groups()[i].as_ref().expect_err("group should fail")
    }

    #[test]
    fn no_modules_no_vm() {
        assert!(plan(&[]).is_empty());
    }

    #[test]
    fn two_vms_with_vmstart() {
        let mods = [
            e("/wedge vmstart vmsize=64M wedgeinstall=16M"),
            e("/vmlinuz console=ttyS0 root=/dev/ram0"),
            ModuleInput {
                cmdline: "/rd.gz",
                head: DATA,
                size: 0,
            },
            e("/wedge vmstart vmsize=32M wedgeinstall=16M ddos"),
            e("/vmlinuz2 x"),
        ];
        let p = plan(&mods);
        assert_eq!(p.len(), 2);
        let a = ok(&p, 0);
        assert_eq!(
            (a.vm_module, a.installed.as_slice(), a.kernel, a.size),
            (0, &[1, 2][..], 1, 64 * MIB)
        );
        assert_eq!(a.guest_cmdline, "/vmlinuz console=ttyS0 root=/dev/ram0");
        assert_eq!(a.to_string(), "vm 0: modules 0..3 kernel=1 vmsize=64M wedge=0x1000000+0x0 offset=0x0 vcpus=1 pcpus=1 clones=1 ddos=no clientdma=no mode=modules(1,2)");
        let b = ok(&p, 1);
        assert_eq!(
            (b.vm_module, b.installed.as_slice(), b.kernel),
            (3, &[4][..], 4)
        );
        assert!(b.options.client_dma());
        assert!(p.is_ok());
    }

    #[test]
    fn first_vm_needs_no_vmstart_and_elf_fallback() {
        // Without vmstart the next ELF module starts the next VM, even though it
        // is also installed into the first one: an error for that group only.
        let mods = [
            e("/wedge vmsize=64M wedgeinstall=16M"),
            e("/vmlinuz"),
            ModuleInput {
                cmdline: "/rd",
                head: DATA,
                size: 0,
            },
        ];
        let p = plan(&mods);
        assert_eq!(p.len(), 2);
        assert_eq!(ok(&p, 0).installed.as_slice(), &[1, 2]);
        assert_eq!(
            err(&p, 1).kind,
            GroupErrorKind::AlreadyInstalled { by_group: 0 }
        );
        // Unknown heads: no fallback, one group.
        let p = plan(&[m("/wedge vmsize=64M wedgeinstall=16M"), m("/vmlinuz")]);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn elf_fallback_in_ramdisk_mode_starts_a_fresh_vm() {
        let mods = [
            e("/linux root=/dev/ram0 vmsize=32M"),
            ModuleInput {
                cmdline: "/rd",
                head: DATA,
                size: 0,
            },
            e("/other vmsize=16M"),
        ];
        let p = plan(&mods);
        assert_eq!(p.len(), 2);
        assert_eq!(ok(&p, 0).ramdisk, Some(1));
        assert!(ok(&p, 0).to_string().contains("mode=ramdisk(1)"));
        assert_eq!(ok(&p, 1).vm_module, 2);
    }

    #[test]
    fn vmstart_group_skips_modules_without_vmstart() {
        let mods = [
            e("/a vmstart root=/dev/ram0"),
            m("/rd"),
            e("/ignored"),
            e("/b vmstart"),
        ];
        let p = plan(&mods);
        assert_eq!(p.len(), 2);
        assert_eq!(ok(&p, 1).vm_module, 3);
    }

    #[test]
    fn too_many_modules_is_an_error_for_that_group_only() {
        let mods = [
            e("/w vmstart"),
            e("/k"),
            m("/1"),
            m("/2"),
            m("/3"),
            e("/w vmstart"),
            e("/k"),
        ];
        let p = plan(&mods);
        assert_eq!(err(&p, 0).kind, GroupErrorKind::TooManyModules { count: 4 });
        assert_eq!(err(&p, 0).module, 4);
        assert!(p.groups()[1].is_ok());
        assert!(!p.is_ok());
    }

    #[test]
    fn wedge_must_fit() {
        let p = plan(&[
            e("/w vmstart vmsize=16M wedgeinstall=12M wedgesize=8M"),
            e("/k"),
        ]);
        assert!(matches!(
            err(&p, 0).kind,
            GroupErrorKind::WedgeDoesNotFit { .. }
        ));
        assert!(err(&p, 0).to_string().contains("doesn't fit"));
        let p = plan(&[
            e("/w vmstart vmsize=16M wedgeinstall=12M wedgesize=4M"),
            e("/k"),
        ]);
        assert!(p.is_ok());
    }

    #[test]
    fn cpu_limits() {
        let p = plan(&[e("/w vcpus=33")]);
        assert_eq!(err(&p, 0).kind, GroupErrorKind::TooManyVcpus { vcpus: 33 });
        assert!(plan(&[e("/w vcpus=32")]).is_ok());
        let p = plan(&[e("/w pcpus=17")]);
        assert_eq!(err(&p, 0).kind, GroupErrorKind::TooManyCpus { pcpus: 17 });
        // Clamped to the machine's CPUs like the original.
        let p = plan_with(
            &[e("/w pcpus=17")],
            &PlanConfig {
                cpus: Some(4),
                ..PlanConfig::default()
            },
        );
        assert_eq!(ok(&p, 0).pcpus, 4);
    }

    #[test]
    fn line_limits() {
        let long = std::format!("/w {}", "x".repeat(512));
        let p = plan(&[e(&long)]);
        assert_eq!(err(&p, 0).kind, GroupErrorKind::CmdlineTooLong { len: 512 });
        let ok_line = std::format!("/w {}", "x".repeat(511));
        assert!(plan(&[e(&ok_line)]).is_ok());
        let kline = std::format!("/k {}", "y".repeat(508));
        assert!(plan(&[e("/w vmstart"), m(&kline)]).is_ok());
        let kline = std::format!("/k {}", "y".repeat(509));
        assert_eq!(
            err(&plan(&[e("/w vmstart"), m(&kline)]), 0).kind,
            GroupErrorKind::CmdlineTooLong { len: 512 }
        );
        // With the DHCP substitution length known.
        let kline = std::format!("/k ip=grubdhcp {}", "y".repeat(480));
        let cfg = PlanConfig {
            dhcp_len: Some(40),
            ..PlanConfig::default()
        };
        assert!(plan(&[e("/w vmstart"), m(&kline)]).is_ok());
        assert!(!plan_with(&[e("/w vmstart"), m(&kline)], &cfg).is_ok());
    }

    #[test]
    fn option_errors_name_module_and_offset() {
        let p = plan(&[
            e("/w vmstart vmsize=64MB"),
            e("/k"),
            e("/w2 vmstart vmsize=8M"),
        ]);
        let g = err(&p, 0);
        assert_eq!((g.module, g.at), (0, Some(21)));
        let text = g.to_string();
        assert!(
            text.starts_with("vm 0: module 0: option `vmsize=` at byte 21"),
            "{text}"
        );
        assert!(p.groups()[1].is_ok());
    }

    #[test]
    fn clones_and_vm_slots() {
        let p = plan(&[
            e("/a vmstart clones=2"),
            e("/b vmstart clones=2"),
            e("/c vmstart clones=3"),
        ]);
        assert_eq!(ok(&p, 0).instances, 2);
        assert_eq!(ok(&p, 0).original_instances, 2);
        assert_eq!(ok(&p, 1).instances, 2);
        assert_eq!(
            ok(&p, 1).original_instances,
            1,
            "the original's counter is never reset"
        );
        assert_eq!(ok(&p, 2).original_instances, 2);
        let groups = [
            e("/a vmstart clones=10"),
            e("/b vmstart clones=5"),
            e("/c vmstart clones=1"),
        ];
        // The original's 15 slots.
        let cfg = PlanConfig {
            vm_slots: Some(15),
            ..PlanConfig::default()
        };
        let p = plan_with(&groups, &cfg);
        assert!(p.groups()[1].is_ok());
        assert_eq!(
            err(&p, 2).kind,
            GroupErrorKind::TooManyVms {
                before: 15,
                instances: 1,
                slots: 15
            }
        );
        // Unknown machine: ia32 Pistachio's 30.
        assert!(plan(&groups).groups().iter().all(|g| g.is_ok()));
        let p = plan(&[e("/a vmstart clones=20"), e("/b vmstart clones=11")]);
        assert_eq!(
            err(&p, 1).kind,
            GroupErrorKind::TooManyVms {
                before: 20,
                instances: 11,
                slots: 30
            }
        );
    }

    #[test]
    fn ramdisk_rules() {
        // The original accepts ramdisk mode on a wedge line (an afterburn
        // wedge then finds no kernel, which `check` warns about).
        let p = plan(&[e("/w vmstart wedgeinstall=16M root=/dev/ram0"), m("/rd")]);
        assert!(p.groups()[0].as_ref().is_ok_and(|v| v.ramdisk == Some(1)));
        let p = plan(&[e("/linux vmstart initrd"), e("/next vmstart")]);
        assert_eq!(err(&p, 0).kind, GroupErrorKind::MissingRamdisk);
        let big = [
            e("/linux vmstart vmsize=4M initrd"),
            ModuleInput {
                cmdline: "/rd",
                head: DATA,
                size: 4 * MIB as usize - 100,
            },
        ];
        assert!(matches!(
            err(&plan(&big), 0).kind,
            GroupErrorKind::ModuleTooBig { .. }
        ));
        // A wedge with nothing to boot is accepted, as by the original.
        let p = plan(&[e("/w vmstart wedgeinstall=16M")]);
        assert!(p.groups()[0].is_ok());
    }

    #[test]
    fn module_placement() {
        let mods = [
            ModuleInput {
                cmdline: "/w vmstart vmsize=32M wedgeinstall=16M wedgesize=8M",
                head: ELF,
                size: 100_000,
            },
            ModuleInput {
                cmdline: "/k",
                head: ELF,
                size: 6 * MIB as usize,
            },
            ModuleInput {
                cmdline: "/rd",
                head: DATA,
                size: 3 * MIB as usize,
            },
        ];
        assert!(matches!(
            err(&plan(&mods), 0).kind,
            GroupErrorKind::ModuleOverlapsWedge { .. }
        ));
        let mut ok_mods = mods;
        ok_mods[2].size = MIB as usize;
        assert!(plan(&ok_mods).is_ok());
        ok_mods[1].size = 40 * MIB as usize;
        assert!(matches!(
            err(&plan(&ok_mods), 0).kind,
            GroupErrorKind::ModuleTooBig { .. }
        ));
    }

    /// An ELF32 header with PT_LOAD segments `(vaddr, memsz)` (and one
    /// PT_NOTE that must not count), program headers right after it.
    fn elf_with_segments(segs: &[(u32, u32)]) -> std::vec::Vec<u8> {
        let mut h = std::vec![0u8; 52];
        h[..4].copy_from_slice(&ELF_MAGIC);
        h[4] = 1;
        h[16] = 2;
        h[28..32].copy_from_slice(&52u32.to_le_bytes());
        h[42..44].copy_from_slice(&32u16.to_le_bytes());
        h[44..46].copy_from_slice(&(segs.len() as u16 + 1).to_le_bytes());
        for &(vaddr, memsz) in segs.iter().chain([(0xdead_0000, 0x1000_0000)].iter()) {
            let mut ph = [0u8; 32];
            let kind: u32 = if vaddr == 0xdead_0000 { 4 } else { 1 };
            ph[..4].copy_from_slice(&kind.to_le_bytes());
            ph[8..12].copy_from_slice(&vaddr.to_le_bytes());
            ph[20..24].copy_from_slice(&memsz.to_le_bytes());
            h.extend_from_slice(&ph);
        }
        h
    }

    #[test]
    fn a_wedge_is_as_large_as_its_segments_not_its_file() {
        // The upstream wedge: a 5 MB file (symbols) whose segments span
        // about 2 MB from 0xBC000000 (issue 10.7).
        let head = elf_with_segments(&[(0xbc00_0000, 0x7_2000), (0xbc07_2000, 0x18_0000)]);
        assert_eq!(load_extent(&head), Some(0x1f_2000));
        assert_eq!(load_extent(&head[..60]), None, "program headers cut off");
        assert_eq!(load_extent(DATA), None);
        // No PT_LOAD at all (found by the fuzzer: the span was computed
        // before it was checked).
        assert_eq!(load_extent(&elf_with_segments(&[])), None);
        let mods = [
            ModuleInput {
                cmdline: "/wedge vmstart vmsize=24M wedgeinstall=16M",
                head: &head,
                size: 5_128_792,
            },
            ModuleInput {
                cmdline: "/k",
                head: ELF,
                size: 5_000_000,
            },
        ];
        // The module stacks down to 24M - 5M = 19M: above the segments'
        // end (16M + 2M), though below 16M + the file's 5 MB.
        assert!(plan(&mods).is_ok(), "{:?}", plan(&mods).groups()[0]);
        let mut bigger = mods;
        bigger[1].size = 6_500_000;
        assert!(matches!(
            err(&plan(&bigger), 0).kind,
            GroupErrorKind::ModuleOverlapsWedge { .. }
        ));
    }

    #[test]
    fn vm_module_must_be_elf_exec() {
        let p = plan(&[ModuleInput {
            cmdline: "/w",
            head: DATA,
            size: 0,
        }]);
        assert_eq!(err(&p, 0).kind, GroupErrorKind::NotElfExecutable);
        let mut dyn_elf = ELF.to_vec();
        dyn_elf[16] = 3;
        let p = plan(&[ModuleInput {
            cmdline: "/w",
            head: &dyn_elf,
            size: 0,
        }]);
        assert_eq!(err(&p, 0).kind, GroupErrorKind::NotElfExecutable);
    }

    #[test]
    fn kernel_is_first_elf_module_with_a_wedge() {
        let mods = [
            e("/w vmstart wedgeinstall=16M"),
            ModuleInput {
                cmdline: "/rd",
                head: DATA,
                size: 0,
            },
            e("/k x"),
        ];
        let p = plan(&mods);
        assert_eq!(ok(&p, 0).kernel, 2);
        assert_eq!(ok(&p, 0).guest_cmdline, "/k x");
        let p = plan(&[e("/native vmstart a=b")]);
        assert_eq!(ok(&p, 0).kernel, 0);
        assert_eq!(ok(&p, 0).guest_cmdline, "vmstart a=b");
    }

    #[test]
    fn at_most_32_inputs_are_considered() {
        let lines: Vec<std::string::String> =
            (0..40).map(|i| std::format!("/m{i} vmstart")).collect();
        let mods: Vec<_> = lines.iter().map(|l| e(l)).collect();
        let p = plan(&mods);
        assert_eq!(p.ignored_modules, 8);
        assert_eq!(p.len(), 32);
        assert!(!p.is_ok());
    }
}
