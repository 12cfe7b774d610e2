//! The boot report: one line per fact, in a fixed format that the QEMU
//! scenarios parse (see `tests/`), so changing a format is a test change.

use core::fmt;
use l4_sys::bootinfo::Record;
use l4_sys::kip::{Kip, MemoryDesc, MemoryType, ProcessorDesc};

/// `kip: api=0x84050000 kernel=0x04020000 supplier="UKa " version="..."`.
pub struct KipSummary<'a>(pub &'a Kip<'a>);

impl fmt::Display for KipSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kip = self.0;
        write!(
            f,
            "kip: api={:#010x} flags={:#x}",
            kip.api_version(),
            kip.api_flags()
        )?;
        if let Some(id) = kip.kernel_id() {
            write!(f, " kernel={id:#010x}")?;
        }
        if let Some(s) = kip.kernel_supplier() {
            f.write_str(" supplier=\"")?;
            for b in s {
                fmt::Write::write_char(
                    f,
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '?'
                    },
                )?;
            }
            f.write_str("\"")?;
        }
        let t = kip.thread_info();
        write!(
            f,
            " threads(bits={} system={} user={}) utcb={} cpus={}",
            t.bits,
            t.system_base,
            t.user_base,
            kip.utcb_size(),
            kip.processors()
        )?;
        if let Some(khz) = kip.cpu0_khz() {
            write!(f, " cpu0={khz}kHz")?;
        }
        Ok(())
    }
}

/// `cpus: count=N descriptors=K desc_size=16`: the processor count from
/// the KIP (what `pcpus=` is clamped to) and how many descriptors it has.
pub struct CpuSummary<'a>(pub &'a Kip<'a>);

impl fmt::Display for CpuSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kip = self.0;
        write!(
            f,
            "cpus: count={} descriptors={} desc_size={}",
            kip.processors(),
            kip.processor_descs().count(),
            1u64 << kip.processor_desc_log2()
        )
    }
}

/// `cpu N: external=K kHz internal=K kHz freq_change=0x0 arch=0x0`: one
/// processor descriptor of the KIP.
pub struct CpuLine<'a>(pub u32, pub &'a ProcessorDesc);

impl fmt::Display for CpuLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.1;
        write!(
            f,
            "cpu {}: external={}kHz internal={}kHz freq_change={:#x} arch={:#x}",
            self.0, d.external_khz, d.internal_khz, d.frequency_change, d.arch
        )
    }
}

/// Counts and sizes of the memory descriptors by type.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryDescSummary {
    /// Number of descriptors.
    pub count: usize,
    /// Physical conventional memory, bytes (later descriptors not subtracted).
    pub conventional: u64,
    /// Highest inclusive address of physical conventional memory.
    pub max_conventional: u64,
    /// Reserved (kernel) memory, bytes.
    pub reserved: u64,
    /// Boot-loader regions (boot info, servers, modules), bytes.
    pub boot_loader: u64,
    /// Descriptors of other types.
    pub other: usize,
}

impl MemoryDescSummary {
    /// Summarise descriptors (virtual ones only count towards `count`).
    pub fn new(descs: impl Iterator<Item = MemoryDesc>) -> MemoryDescSummary {
        let mut s = MemoryDescSummary::default();
        for d in descs {
            s.count += 1;
            if d.is_virtual {
                continue;
            }
            match d.kind {
                MemoryType::Conventional => {
                    s.conventional += d.size();
                    s.max_conventional = s.max_conventional.max(d.high);
                }
                MemoryType::Reserved => s.reserved += d.size(),
                MemoryType::BootLoader(_) => s.boot_loader += d.size(),
                _ => s.other += 1,
            }
        }
        s
    }
}

impl fmt::Display for MemoryDescSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memdesc: count={} conventional={}K max={:#x} reserved={}K bootloader={}K other={}",
            self.count,
            self.conventional / 1024,
            self.max_conventional,
            self.reserved / 1024,
            self.boot_loader / 1024,
            self.other
        )
    }
}

/// One memory descriptor, for the detailed listing.
pub struct DescLine<'a>(pub usize, pub &'a MemoryDesc);

impl fmt::Display for DescLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.1;
        write!(
            f,
            "memdesc {}: type={:#04x} {} [{:#010x}, {:#010x}]",
            self.0,
            d.kind.code(),
            if d.is_virtual { "virt" } else { "phys" },
            d.low,
            d.high
        )
    }
}

/// `bootinfo: record <i> type=<t> start=<s> size=<n> cmdline="<text>"`.
///
/// The command line is printed byte for byte between the quotes; readers take
/// everything up to the last quote on the line.
pub struct RecordLine<'a>(pub usize, pub &'a Record<'a>);

impl fmt::Display for RecordLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.1;
        write!(f, "bootinfo: record {} type={:#x}", self.0, r.kind())?;
        if let Some((start, size)) = r.region() {
            write!(f, " start={start:#010x} size={size}")?;
        }
        match r {
            Record::Multiboot { address } => write!(f, " mbi={address:#x}")?,
            Record::SimpleExec { initial_ip, .. } => write!(f, " entry={initial_ip:#x}")?,
            _ => {}
        }
        if let Some(c) = r.cmdline() {
            write!(f, " cmdline=\"{c}\"")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn cpu_line_format_is_stable() {
        let d = ProcessorDesc {
            external_khz: 0,
            internal_khz: 2_000_000,
            frequency_change: 0,
            arch: 1,
        };
        assert_eq!(
            format!("{}", CpuLine(1, &d)),
            "cpu 1: external=0kHz internal=2000000kHz freq_change=0x0 arch=0x1"
        );
    }

    #[test]
    fn record_line_format_is_stable() {
        let r = Record::Module {
            start: 0x250000,
            size: 4096,
            cmdline: "/mods/a vmstart \"q\"",
        };
        assert_eq!(
            format!("{}", RecordLine(3, &r)),
            "bootinfo: record 3 type=0x1 start=0x00250000 size=4096 cmdline=\"/mods/a vmstart \"q\"\""
        );
        let r = Record::Multiboot { address: 0x9000 };
        assert_eq!(
            format!("{}", RecordLine(4, &r)),
            "bootinfo: record 4 type=0x102 mbi=0x9000"
        );
    }

    #[test]
    fn memory_summary_counts_physical_types() {
        let descs = [
            MemoryDesc {
                kind: MemoryType::Shared,
                is_virtual: false,
                low: 0,
                high: 0xffff_ffff,
            },
            MemoryDesc {
                kind: MemoryType::Conventional,
                is_virtual: false,
                low: 0,
                high: 0x9_ffff,
            },
            MemoryDesc {
                kind: MemoryType::Conventional,
                is_virtual: false,
                low: 0x10_0000,
                high: 0x7ff_ffff,
            },
            MemoryDesc {
                kind: MemoryType::Reserved,
                is_virtual: false,
                low: 0x700_0000,
                high: 0x7ff_ffff,
            },
            MemoryDesc {
                kind: MemoryType::BootLoader(3),
                is_virtual: false,
                low: 0x30_0000,
                high: 0x30_0fff,
            },
            MemoryDesc {
                kind: MemoryType::Conventional,
                is_virtual: true,
                low: 0,
                high: 0xbfff_ffff,
            },
        ];
        let s = MemoryDescSummary::new(descs.into_iter());
        assert_eq!(s.count, 6);
        assert_eq!(s.conventional, 0xa_0000 + 0x7f0_0000);
        assert_eq!(s.max_conventional, 0x7ff_ffff);
        assert_eq!(s.reserved, 16 << 20);
        assert_eq!(s.boot_loader, 4096);
        assert_eq!(s.other, 1);
        assert_eq!(
            format!("{s}"),
            "memdesc: count=6 conventional=130688K max=0x7ffffff reserved=16384K bootloader=4K other=1"
        );
    }
}
