//! The shared configuration page `IResourcemon::shared_t` (spec §5): byte
//! offsets, the guest's initial header checks (§4) and the values the monitor
//! writes when it creates a VM (§5.3 "RM writes" column, §5.4 devices).
//!
//! Offsets are plain constants (ia32 layout, §5.1) so a test can compare them
//! with the IDL-generated structure later without this module depending on it.

use core::fmt;

use super::Memory;

use kickstart_config::monitor::GuestCmdline;
use l4_sys::kip::MemoryDesc;

/// `sizeof(shared_t)` on ia32: the exact `.resourcemon` section size (§4, §10.3).
pub const SHARED_SIZE: usize = 1_064_368;
/// `IResourcemon::version`, required in the guest's initial `version` field.
pub const SHARED_VERSION: u32 = 1;
/// `max_cpus`: `cpu[]` entries and the limit for `cpu_cnt` and `pcpu_count`.
pub const MAX_CPUS: u32 = 16;
/// `max_vcpus`: `vcpu[]` entries.
pub const MAX_VCPUS: u32 = 32;
/// `max_modules`: `modules[]` entries.
pub const MAX_MODULES: usize = 3;
/// `max_devices`: `devices[]` entries.
pub const MAX_DEVICES: usize = 16;
/// Bytes of each command-line buffer (511 characters + NUL).
pub const CMDLINE_BYTES: usize = 512;
/// Size of `IResourcemon_startup_config_t` (`.resourcemon.startup`).
pub const STARTUP_SIZE: u32 = 12;
/// Type written for the client-DMA range in `devices[]` (Reserved, §5.4).
pub const DEVICE_TYPE_RESERVED: u32 = 2;

/// Byte offsets in `shared_t` (§5.2, §5.3), and in the startup record.
#[allow(missing_docs)]
pub mod offset {
    pub const VERSION: usize = 0;
    pub const CPU_CNT: usize = 4;
    pub const PRIO: usize = 8;
    pub const THREAD_SPACE_START: usize = 12;
    pub const THREAD_SPACE_LEN: usize = 16;
    pub const UTCB_FPAGE: usize = 20;
    pub const KIP_FPAGE: usize = 24;
    pub const LINK_VADDR: usize = 28;
    pub const ENTRY_IP: usize = 32;
    pub const ENTRY_SP: usize = 36;
    pub const PHYS_OFFSET: usize = 40;
    pub const PHYS_SIZE: usize = 44;
    pub const PHYS_END: usize = 48;
    pub const IOREMAP_START: usize = 52;
    pub const IOREMAP_END: usize = 56;
    pub const RAMDISK_START: usize = 60;
    pub const RAMDISK_SIZE: usize = 64;
    pub const WEDGE_VIRT_OFFSET: usize = 68;
    pub const WEDGE_VIRT_SIZE: usize = 72;
    pub const WEDGE_PHYS_OFFSET: usize = 76;
    pub const WEDGE_PHYS_SIZE: usize = 80;
    pub const RESOURCEMON_TID: usize = 84;
    pub const LOCATOR_TID: usize = 88;
    pub const THREAD_SERVER_TID: usize = 92;
    pub const MEM_BALLOON: usize = 96;
    pub const MAX_LOGID_IN_USE: usize = 100;
    pub const CMDLINE: usize = 104;
    pub const MODULE_COUNT: usize = 616;
    pub const MODULES: usize = 620;
    /// Size of one `shared_module_t`.
    pub const MODULE_STRIDE: usize = 520;
    pub const MODULE_VM_OFFSET: usize = 0;
    pub const MODULE_SIZE: usize = 4;
    pub const MODULE_CMDLINE: usize = 8;
    pub const DEVICES: usize = 2180;
    /// Size of one `shared_device_t`.
    pub const DEVICE_STRIDE: usize = 12;
    pub const DEVICE_LOW: usize = 0;
    pub const DEVICE_HIGH: usize = 4;
    pub const DEVICE_TYPE: usize = 8;
    pub const VCPU_COUNT: usize = 2372;
    pub const PCPU_COUNT: usize = 2376;
    pub const VCPUS_TO_L4CPU: usize = 2380;
    pub const CPU: usize = 2444;
    /// Size of one `shared_cpu_t`.
    pub const CPU_STRIDE: usize = 65_816;
    pub const CPU_TIME_BALLOON: usize = 0;
    pub const CPU_VIRQ_TID: usize = 4;
    pub const CPU_DYNINST_RESOURCEMON_TID: usize = 8;
    pub const CPU_DYNINST_THREAD_TID: usize = 12;
    pub const CPU_LOG_SPACE: usize = 16;
    /// Size of `ILogging::log_space_t`.
    pub const LOG_SPACE_SIZE: usize = 65_800;
    pub const LOG_BUFFER: usize = 0;
    pub const LOG_LOAD_PARMS: usize = 65_536;
    pub const LOG_RESOURCES: usize = 65_544;
    pub const VCPU: usize = 1_055_500;
    /// Size of one `shared_vcpu_t`.
    pub const VCPU_STRIDE: usize = 8;
    pub const VIRQ_PENDING: usize = 1_055_756;
    pub const CONSOLE_RX: usize = 1_055_788;
    /// Size of `IConsole::stream_t`.
    pub const CONSOLE_RX_SIZE: usize = 132;
    pub const PREEMPTION_INFO: usize = 1_055_920;
    /// Size of one preemption_info element.
    pub const PREEMPTION_INFO_STRIDE: usize = 264;
    pub const END: usize = 1_064_368;

    /// `startup_config_t` (in `.resourcemon.startup`).
    pub const STARTUP_VERSION: usize = 0;
    pub const STARTUP_IP: usize = 4;
    pub const STARTUP_SP: usize = 8;
}

// The arithmetic chain of §5.1, checked at compile time.
const _: () = {
    use offset::*;
    assert!(MAX_LOGID_IN_USE + 4 == CMDLINE);
    assert!(CMDLINE + CMDLINE_BYTES == MODULE_COUNT);
    assert!(MODULE_COUNT + 4 == MODULES);
    assert!(MODULE_STRIDE == MODULE_CMDLINE + CMDLINE_BYTES);
    assert!(MODULES + MAX_MODULES * MODULE_STRIDE == DEVICES);
    assert!(DEVICES + MAX_DEVICES * DEVICE_STRIDE == VCPU_COUNT);
    assert!(PCPU_COUNT + 4 == VCPUS_TO_L4CPU);
    assert!(VCPUS_TO_L4CPU + MAX_CPUS as usize * 4 == CPU);
    assert!(LOG_SPACE_SIZE == 65_536 + 8 + 32 * 8);
    assert!(CPU_STRIDE == CPU_LOG_SPACE + LOG_SPACE_SIZE);
    assert!(CPU + MAX_CPUS as usize * CPU_STRIDE == VCPU);
    assert!(VCPU + MAX_VCPUS as usize * VCPU_STRIDE == VIRQ_PENDING);
    assert!(VIRQ_PENDING + 8 * 4 == CONSOLE_RX);
    assert!(CONSOLE_RX + CONSOLE_RX_SIZE == PREEMPTION_INFO);
    assert!(PREEMPTION_INFO + 32 * PREEMPTION_INFO_STRIDE == END);
    assert!(END == SHARED_SIZE && SHARED_SIZE == 0x103DB0);
};

fn word(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The fields of the guest's initial shared page the monitor reads (§4):
/// `version`, `cpu_cnt`, and `wedge_phys_size` (used by the gpaddr → gvaddr
/// translation of the module checks, §3.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct GuestHeader {
    /// Offset 0; must be 1.
    pub version: u32,
    /// Offset 4; must be ≤ 16.
    pub cpu_cnt: u32,
    /// Offset 80.
    pub wedge_phys_size: u32,
}

/// Bytes of the shared page's start that [`GuestHeader::read`] needs.
pub const GUEST_HEADER_BYTES: usize = offset::WEDGE_PHYS_SIZE + 4;

/// What is wrong with the shared page or the values to write into it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SharedError {
    /// The guest's initial `version` is not 1.
    Version {
        /// The value found.
        version: u32,
    },
    /// The guest's initial `cpu_cnt` is above 16.
    CpuCount {
        /// The value found.
        cpu_cnt: u32,
    },
    /// The page slice given to [`SharedInit::write_into`] has the wrong length.
    PageSize {
        /// Its length.
        len: usize,
    },
    /// `pcpu_count` above 16: `cpu[]` has no room for it.
    PcpuCount {
        /// The value.
        pcpu_count: u32,
    },
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SharedError::Version { version } => write!(
                f,
                "shared page version (offset 0) is {version}; expected {SHARED_VERSION}"
            ),
            SharedError::CpuCount { cpu_cnt } => write!(
                f,
                "shared page cpu_cnt (offset 4) is {cpu_cnt}; expected at most {MAX_CPUS}"
            ),
            SharedError::PageSize { len } => write!(
                f,
                "shared page slice has {len} bytes; expected {SHARED_SIZE}"
            ),
            SharedError::PcpuCount { pcpu_count } => {
                write!(f, "pcpu_count {pcpu_count}; expected at most {MAX_CPUS}")
            }
        }
    }
}

impl GuestHeader {
    /// Reads the header from the first [`GUEST_HEADER_BYTES`] of the page.
    pub fn read(page: &[u8]) -> Option<GuestHeader> {
        Some(GuestHeader {
            version: word(page, offset::VERSION)?,
            cpu_cnt: word(page, offset::CPU_CNT)?,
            wedge_phys_size: word(page, offset::WEDGE_PHYS_SIZE)?,
        })
    }

    /// The checks of §4 / vm.cc `init_client_shared`: version 1, cpu_cnt ≤ 16.
    pub fn check(&self) -> Result<(), SharedError> {
        if self.version != SHARED_VERSION {
            return Err(SharedError::Version {
                version: self.version,
            });
        }
        if self.cpu_cnt > MAX_CPUS {
            return Err(SharedError::CpuCount {
                cpu_cnt: self.cpu_cnt,
            });
        }
        Ok(())
    }
}

/// One `modules[]` entry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SharedModule {
    /// gpaddr of the module's copy.
    pub vm_offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// The full raw GRUB line (path included, `ip=grubdhcp` expanded).
    pub cmdline: GuestCmdline,
}

/// One `devices[]` entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SharedDevice {
    /// First byte.
    pub low: u32,
    /// Last byte (inclusive).
    pub high: u32,
    /// Type to write; `None` for the terminator, whose type the original
    /// leaves as it is in the image (§5.4 step 3).
    pub kind: Option<u32>,
}

/// The `devices[]` list (§5.4) and how many matching ranges did not fit.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct DeviceList {
    /// Entries in order.
    pub entries: heapless::Vec<SharedDevice, MAX_DEVICES>,
    /// Ranges dropped because 16 entries were used (the original prints a message).
    pub dropped: usize,
}

/// Builds `devices[]` exactly as §5.4 describes, in this order:
/// 1. client-DMA VMs, if `phys_offset + phys_size < phys_end`: the host
///    memory above the VM `{phys_offset + phys_size, phys_end, 2}`;
/// 2. every KIP descriptor in KIP order (virtual ones included):
///    architecture-specific ones (`type & 0xF == 0xF`) for device-access VMs
///    with their full type code, and the VGA shared range
///    `{0xA0000, 0xBFFFF, 4}` for every VM;
/// 3. if room is left, the terminator `{max_phys, 0xFFFFFFFF}` with no type.
pub fn device_list(
    descs: &[MemoryDesc],
    device_access: bool,
    client_dma: bool,
    phys_offset: u32,
    phys_size: u32,
    phys_end: u32,
    max_phys: u32,
) -> DeviceList {
    let mut out = DeviceList::default();
    let push = |out: &mut DeviceList, d: SharedDevice| {
        if out.entries.push(d).is_err() {
            out.dropped += 1;
        }
    };
    let above = phys_offset as u64 + phys_size as u64;
    if client_dma && above < phys_end as u64 {
        push(
            &mut out,
            SharedDevice {
                low: above as u32,
                high: phys_end,
                kind: Some(DEVICE_TYPE_RESERVED),
            },
        );
    }
    for d in descs {
        let code = d.kind.code() as u32;
        let vga = code & 0xf == 4 && d.low == 0xa_0000 && d.high == 0xb_ffff;
        if (code & 0xf == 0xf && device_access) || vga {
            push(
                &mut out,
                SharedDevice {
                    low: d.low as u32,
                    high: d.high as u32,
                    kind: Some(code),
                },
            );
        }
    }
    if !out.entries.is_full() {
        push(
            &mut out,
            SharedDevice {
                low: max_phys,
                high: 0xffff_ffff,
                kind: None,
            },
        );
    }
    out
}

/// The ramdisk fields (written in ramdisk mode only).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SharedRamdisk {
    /// gvaddr of the ramdisk (`ramdisk_start`).
    pub start: u32,
    /// Size in bytes.
    pub size: u32,
}

/// Every value the monitor writes into a new VM's shared page (§5.3).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SharedInit {
    /// VM priority (102, 112 with `ddos`).
    pub prio: u32,
    /// First thread number of the VM.
    pub thread_space_start: u32,
    /// 4096.
    pub thread_space_len: u32,
    /// Raw UTCB-area fpage, rights 0.
    pub utcb_fpage: u32,
    /// Raw KIP-area fpage, rights 0.
    pub kip_fpage: u32,
    /// `vaddr_offset` (`offset=`).
    pub link_vaddr: u32,
    /// ELF `e_entry` of the VM module (not the startup override).
    pub entry_ip: u32,
    /// 0.
    pub entry_sp: u32,
    /// haddr_base (0 with the kernel feature `iommu`).
    pub phys_offset: u32,
    /// VM size after rounding.
    pub phys_size: u32,
    /// max_phys for client-DMA VMs, else `phys_size − 1`.
    pub phys_end: u32,
    /// Ramdisk mode only.
    pub ramdisk: Option<SharedRamdisk>,
    /// wedge_vaddr (0 without `wedgeinstall=`).
    pub wedge_virt_offset: u32,
    /// wedge_paddr (`wedgeinstall=`).
    pub wedge_phys_offset: u32,
    /// The monitor's main thread (raw id).
    pub resourcemon_tid: u32,
    /// Same.
    pub locator_tid: u32,
    /// Same.
    pub thread_server_tid: u32,
    /// 0.
    pub mem_balloon: u32,
    /// Global max logid (1 initially).
    pub max_logid_in_use: u32,
    /// The VM module's options string (path stripped, `ip=grubdhcp` expanded).
    pub cmdline: GuestCmdline,
    /// Installed modules (module mode).
    pub modules: heapless::Vec<SharedModule, MAX_MODULES>,
    /// `devices[]`.
    pub devices: DeviceList,
    /// `vcpus=` or 1.
    pub vcpu_count: u32,
    /// `pcpus=` (clamped) or 1.
    pub pcpu_count: u32,
}

fn put(page: &mut dyn Memory, at: usize, v: u32) {
    page.write(at, &v.to_le_bytes());
}

/// Writes `s` and a NUL into a 512-byte buffer, clearing the rest.
fn put_str(page: &mut dyn Memory, at: usize, s: &str) {
    let n = s.len().min(CMDLINE_BYTES - 1);
    page.write(at, &s.as_bytes()[..n]);
    page.zero(at + n, CMDLINE_BYTES - n);
}

/// `page` seen from `at` on: the shared page inside a whole VM block.
struct Within<'m> {
    mem: &'m mut dyn Memory,
    at: usize,
}

impl Memory for Within<'_> {
    fn len(&self) -> usize {
        self.mem.len().saturating_sub(self.at)
    }
    fn write(&mut self, at: usize, bytes: &[u8]) {
        self.mem.write(self.at + at, bytes);
    }
    fn zero(&mut self, at: usize, len: usize) {
        self.mem.zero(self.at + at, len);
    }
}

impl SharedInit {
    /// Writes the values at the §5.3 offsets into `page` (exactly
    /// [`SHARED_SIZE`] bytes: the VM's `.resourcemon` region). Fields the
    /// monitor does not write keep their bytes, except: the rest of each
    /// written command-line buffer after its NUL is cleared, and the whole
    /// `log_space` of all 16 `cpu[]` entries is zeroed (the original zeroes
    /// its log buffer, load_parms and resources, i.e. all of it).
    pub fn write_into(&self, page: &mut [u8]) -> Result<(), SharedError> {
        if page.len() != SHARED_SIZE {
            return Err(SharedError::PageSize { len: page.len() });
        }
        self.write_at(&mut super::Bytes(page), 0)
    }

    /// [`SharedInit::write_into`] on the [`SHARED_SIZE`] bytes at `at` of
    /// `mem` (a VM block, possibly loaded lazily: see `crate::fresh`).
    pub fn write_at(&self, mem: &mut dyn Memory, at: usize) -> Result<(), SharedError> {
        use offset::*;
        let len = mem.len().saturating_sub(at).min(SHARED_SIZE);
        if len != SHARED_SIZE {
            return Err(SharedError::PageSize { len });
        }
        let page = &mut Within { mem, at };
        if self.pcpu_count > MAX_CPUS {
            return Err(SharedError::PcpuCount {
                pcpu_count: self.pcpu_count,
            });
        }
        put(page, PRIO, self.prio);
        put(page, THREAD_SPACE_START, self.thread_space_start);
        put(page, THREAD_SPACE_LEN, self.thread_space_len);
        put(page, UTCB_FPAGE, self.utcb_fpage);
        put(page, KIP_FPAGE, self.kip_fpage);
        put(page, LINK_VADDR, self.link_vaddr);
        put(page, ENTRY_IP, self.entry_ip);
        put(page, ENTRY_SP, self.entry_sp);
        put(page, PHYS_OFFSET, self.phys_offset);
        put(page, PHYS_SIZE, self.phys_size);
        put(page, PHYS_END, self.phys_end);
        if let Some(r) = self.ramdisk {
            put(page, RAMDISK_START, r.start);
            put(page, RAMDISK_SIZE, r.size);
        }
        put(page, WEDGE_VIRT_OFFSET, self.wedge_virt_offset);
        put(page, WEDGE_PHYS_OFFSET, self.wedge_phys_offset);
        put(page, RESOURCEMON_TID, self.resourcemon_tid);
        put(page, LOCATOR_TID, self.locator_tid);
        put(page, THREAD_SERVER_TID, self.thread_server_tid);
        put(page, MEM_BALLOON, self.mem_balloon);
        put(page, MAX_LOGID_IN_USE, self.max_logid_in_use);
        put_str(page, CMDLINE, &self.cmdline);
        put(page, MODULE_COUNT, self.modules.len() as u32);
        for (i, m) in self.modules.iter().enumerate() {
            let at = MODULES + MODULE_STRIDE * i;
            put(page, at + MODULE_VM_OFFSET, m.vm_offset);
            put(page, at + MODULE_SIZE, m.size);
            put_str(page, at + MODULE_CMDLINE, &m.cmdline);
        }
        for (i, d) in self.devices.entries.iter().enumerate() {
            let at = DEVICES + DEVICE_STRIDE * i;
            put(page, at + DEVICE_LOW, d.low);
            put(page, at + DEVICE_HIGH, d.high);
            if let Some(k) = d.kind {
                put(page, at + DEVICE_TYPE, k);
            }
        }
        put(page, VCPU_COUNT, self.vcpu_count);
        put(page, PCPU_COUNT, self.pcpu_count);
        for i in 0..MAX_CPUS as usize {
            let cpu = CPU + CPU_STRIDE * i;
            if i < self.pcpu_count as usize {
                put(page, cpu + CPU_TIME_BALLOON, 0);
            }
            page.zero(cpu + CPU_LOG_SPACE, LOG_SPACE_SIZE);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::placement::tests::qemu_descs;
    use l4_sys::kip::MemoryType;
    use std::vec;

    #[test]
    fn verified_devices_for_a_non_ddos_vm() {
        // §5.4: devices[0] = {0xA0000, 0xBFFFF, 4}, devices[1] =
        // {0x1FFDFFFF, 0xFFFFFFFF, (type not written)}.
        let l = device_list(
            &qemu_descs(),
            false,
            false,
            0x100_0000,
            32 << 20,
            (32 << 20) - 1,
            0x1ffd_ffff,
        );
        assert_eq!(
            l.entries.as_slice(),
            &[
                SharedDevice {
                    low: 0xa_0000,
                    high: 0xb_ffff,
                    kind: Some(4)
                },
                SharedDevice {
                    low: 0x1ffd_ffff,
                    high: 0xffff_ffff,
                    kind: None
                },
            ]
        );
        assert_eq!(l.dropped, 0);
    }

    #[test]
    fn ddos_vm_gets_dma_range_and_arch_ranges() {
        let base = 0x100_0000;
        let size = 32 << 20;
        let l = device_list(
            &qemu_descs(),
            true,
            true,
            base,
            size,
            0x1ffd_ffff,
            0x1ffd_ffff,
        );
        let e = l.entries.as_slice();
        assert_eq!(
            e[0],
            SharedDevice {
                low: 0x300_0000,
                high: 0x1ffd_ffff,
                kind: Some(2)
            }
        );
        // KIP order: four e820-reserved (Arch 2 = code 0x2F), then VGA.
        assert_eq!(
            e[1],
            SharedDevice {
                low: 0x9_fc00,
                high: 0x9_ffff,
                kind: Some(0x2f)
            }
        );
        assert_eq!(
            e[4],
            SharedDevice {
                low: 0xfffc_0000,
                high: 0xffff_ffff,
                kind: Some(0x2f)
            }
        );
        assert_eq!(e[5].kind, Some(4));
        assert_eq!(
            e[6],
            SharedDevice {
                low: 0x1ffd_ffff,
                high: 0xffff_ffff,
                kind: None
            }
        );
        assert_eq!(e.len(), 7);
        // No DMA entry when nothing lies above the VM; none for noclientdma.
        let l = device_list(
            &qemu_descs(),
            true,
            true,
            base,
            size,
            base + size,
            0x1ffd_ffff,
        );
        assert_eq!(l.entries[0].kind, Some(0x2f));
        let l = device_list(
            &qemu_descs(),
            true,
            false,
            base,
            size,
            size - 1,
            0x1ffd_ffff,
        );
        assert_eq!(l.entries[0].kind, Some(0x2f));
    }

    #[test]
    fn devices_stop_at_16_without_terminator() {
        let descs: std::vec::Vec<_> = (0..20u64)
            .map(|i| MemoryDesc {
                kind: MemoryType::Arch(2),
                is_virtual: i % 2 == 0,
                low: i << 12,
                high: (i << 12) | 0xfff,
            })
            .collect();
        let l = device_list(&descs, true, false, 0, 4 << 20, (4 << 20) - 1, 0x1fff_ffff);
        assert_eq!(l.entries.len(), 16);
        assert!(l.entries.iter().all(|d| d.kind == Some(0x2f)));
        assert_eq!(l.dropped, 4);
    }

    #[test]
    fn guest_header_checks() {
        let mut page = vec![0u8; GUEST_HEADER_BYTES];
        assert_eq!(
            GuestHeader::read(&page).unwrap().check(),
            Err(SharedError::Version { version: 0 })
        );
        page[0] = 1;
        page[4] = 17;
        page[80] = 0x10;
        let h = GuestHeader::read(&page).unwrap();
        assert_eq!(h.wedge_phys_size, 0x10);
        assert_eq!(h.check(), Err(SharedError::CpuCount { cpu_cnt: 17 }));
        page[4] = 16;
        assert_eq!(GuestHeader::read(&page).unwrap().check(), Ok(()));
        assert_eq!(GuestHeader::read(&page[..83]), None);
    }

    fn sample() -> SharedInit {
        let mut modules = heapless::Vec::new();
        for (i, line) in ["/vmlinuz console=ttyS0", "/rd.gz"].iter().enumerate() {
            let _ = modules.push(SharedModule {
                vm_offset: 0x1ffd000 - 0x2000 * i as u32,
                size: 10000,
                cmdline: GuestCmdline::try_from(*line).unwrap(),
            });
        }
        SharedInit {
            prio: 102,
            thread_space_start: 4146,
            thread_space_len: 4096,
            utcb_fpage: 0xBC10_F0C0,
            kip_fpage: 0xBC10_E0C0,
            link_vaddr: 0,
            entry_ip: 0xBC10_0000,
            entry_sp: 0,
            phys_offset: 0x100_0000,
            phys_size: 32 << 20,
            phys_end: (32 << 20) - 1,
            ramdisk: None,
            wedge_virt_offset: 0xBC00_0000,
            wedge_phys_offset: 16 << 20,
            resourcemon_tid: 0xC8001,
            locator_tid: 0xC8001,
            thread_server_tid: 0xC8001,
            mem_balloon: 0,
            max_logid_in_use: 1,
            cmdline: GuestCmdline::try_from("vmstart vmsize=32M wedgeinstall=16M").unwrap(),
            modules,
            devices: device_list(
                &qemu_descs(),
                false,
                false,
                0x100_0000,
                32 << 20,
                (32 << 20) - 1,
                0x1ffd_ffff,
            ),
            vcpu_count: 1,
            pcpu_count: 1,
        }
    }

    fn rd(page: &[u8], at: usize) -> u32 {
        word(page, at).unwrap()
    }

    #[test]
    fn writes_every_field_at_its_offset() {
        let s = sample();
        let mut page = vec![0xeeu8; SHARED_SIZE];
        page[..8].copy_from_slice(&[1, 0, 0, 0, 1, 0, 0, 0]);
        s.write_into(&mut page).unwrap();
        let expect: [(usize, u32); 24] = [
            (0, 1),
            (4, 1),
            (8, 102),
            (12, 4146),
            (16, 4096),
            (20, 0xBC10_F0C0),
            (24, 0xBC10_E0C0),
            (28, 0),
            (32, 0xBC10_0000),
            (36, 0),
            (40, 0x100_0000),
            (44, 0x200_0000),
            (48, 0x1ff_ffff),
            (68, 0xBC00_0000),
            (76, 0x100_0000),
            (84, 0xC8001),
            (88, 0xC8001),
            (92, 0xC8001),
            (96, 0),
            (100, 1),
            (616, 2),
            (620, 0x1ffd000),
            (624, 10000),
            (2372, 1),
        ];
        for (at, v) in expect {
            assert_eq!(rd(&page, at), v, "offset {at}");
        }
        // Not written: ioremap, ramdisk (module mode), wedge sizes, vcpus_to_l4cpu.
        for at in [52, 56, 60, 64, 72, 80, 2380] {
            assert_eq!(rd(&page, at), 0xeeee_eeee, "offset {at}");
        }
        assert_eq!(rd(&page, 2376), 1);
        assert_eq!(&page[104..140], b"vmstart vmsize=32M wedgeinstall=16M\0");
        assert!(page[140..616].iter().all(|&b| b == 0));
        assert_eq!(&page[628..651], b"/vmlinuz console=ttyS0\0");
        assert_eq!((rd(&page, 1140), rd(&page, 1144)), (0x1ffb000, 10000));
        assert_eq!(&page[1148..1155], b"/rd.gz\0");
        // Third module slot untouched.
        assert_eq!(rd(&page, 1660), 0xeeee_eeee);
        // devices: VGA, terminator (type left alone), rest untouched.
        assert_eq!(
            (rd(&page, 2180), rd(&page, 2184), rd(&page, 2188)),
            (0xA0000, 0xBFFFF, 4)
        );
        assert_eq!(
            (rd(&page, 2192), rd(&page, 2196), rd(&page, 2200)),
            (0x1FFDFFFF, 0xFFFFFFFF, 0xeeee_eeee)
        );
        assert_eq!(rd(&page, 2204), 0xeeee_eeee);
        // cpu[0].time_balloon written, cpu[1] not; all log spaces zeroed.
        assert_eq!(rd(&page, 2444), 0);
        assert_eq!(rd(&page, 2444 + 65_816), 0xeeee_eeee);
        assert_eq!(rd(&page, 2444 + 65_816 + 4), 0xeeee_eeee);
        for i in 0..16 {
            let log = 2444 + 65_816 * i + 16;
            assert!(page[log..log + 65_800].iter().all(|&b| b == 0), "cpu {i}");
        }
        assert_eq!(rd(&page, offset::VCPU), 0xeeee_eeee);
        assert_eq!(rd(&page, offset::CONSOLE_RX), 0xeeee_eeee);
        assert_eq!(page[SHARED_SIZE - 1], 0xee);
    }

    #[test]
    fn ramdisk_and_error_paths() {
        let mut s = sample();
        s.ramdisk = Some(SharedRamdisk {
            start: 0x1ff_0000,
            size: 5000,
        });
        s.pcpu_count = 3;
        let mut page = vec![0u8; SHARED_SIZE];
        s.write_into(&mut page).unwrap();
        assert_eq!((rd(&page, 60), rd(&page, 64)), (0x1ff_0000, 5000));
        assert_eq!(
            s.write_into(&mut page[1..]),
            Err(SharedError::PageSize {
                len: SHARED_SIZE - 1
            })
        );
        s.pcpu_count = 17;
        assert_eq!(
            s.write_into(&mut page),
            Err(SharedError::PcpuCount { pcpu_count: 17 })
        );
    }
}
