//! Choosing a VM's host memory block (spec §3.1, vm.cc `init_mm`, main.cc
//! `kip_conflict`).
//!
//! First fit, bottom-up, 4 MB aligned, avoiding the monitor's own block,
//! every other VM block and every physical non-conventional KIP region. One
//! improvement over the original: the block must also lie inside memory the
//! monitor actually received from sigma0 (the original assumes it got
//! everything, §3.1 "there is no check that sigma0 actually handed the pages
//! over"). The caller then removes exactly that range from its tally.

use core::fmt;

use l4_sys::kip::{MemoryDesc, MemoryType};

use crate::memory::Region;

/// Block alignment and size granule (4 MB).
pub const VM_ALIGN: u64 = 4 << 20;
/// End of the 32-bit, 1:1-mapped space the monitor can address (§10.1).
pub const ADDRESS_SPACE_END: u64 = 1 << 32;

/// Rounds `v` up to a multiple of 4 MB (no overflow for 32-bit-range values).
pub const fn round_up_4m(v: u64) -> u64 {
    v.saturating_add(VM_ALIGN - 1) & !(VM_ALIGN - 1)
}

/// The monitor's own block, VM slot 0: `[0, round_up(image_end, 4 MB))`
/// (§1.2 step 6).
pub const fn monitor_block(image_end: u64) -> Region {
    Region {
        base: 0,
        size: round_up_4m(image_end),
    }
}

/// `max_phys` (§1.2 step 4): the largest inclusive `high` of the physical
/// descriptors of type exactly Conventional; `None` if there is none.
pub fn max_phys(descs: &[MemoryDesc]) -> Option<u64> {
    descs
        .iter()
        .filter(|d| !d.is_virtual && d.kind == MemoryType::Conventional)
        .map(|d| d.high)
        .max()
}

/// Is this the bogus "shared 0..~0" descriptor kickstart adds (§1.3)?
pub fn is_bogus_shared(d: &MemoryDesc) -> bool {
    d.kind == MemoryType::Shared && d.low == 0 && d.high >= 0xffff_ffff
}

/// Why no block was found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PlaceError {
    /// The size is 0 or not a multiple of 4 MB.
    BadSize {
        /// Requested size.
        size: u64,
    },
    /// The KIP lists no physical conventional memory.
    NoConventionalMemory,
    /// No free, received, 4 MB-aligned gap below `max_phys` is large enough.
    NoRoom {
        /// Requested size.
        size: u64,
        /// Largest block that would have fitted (0: none at all).
        largest_gap: u64,
        /// Base of that largest block.
        largest_at: u64,
        /// Highest conventional byte (blocks must end below it).
        max_phys: u64,
    },
}

impl fmt::Display for PlaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PlaceError::BadSize { size } => {
                write!(f, "VM size {size:#x} is not a non-zero multiple of 4 MB")
            }
            PlaceError::NoConventionalMemory => {
                f.write_str("the KIP lists no conventional memory to place a VM in")
            }
            PlaceError::NoRoom {
                size,
                largest_gap,
                largest_at,
                max_phys,
            } => {
                write!(
                    f,
                    "no room for a VM of {} KB ({size:#x} bytes): the largest free 4 MB-aligned block of received memory below max_phys {max_phys:#x} is {} KB",
                    size / 1024,
                    largest_gap / 1024
                )?;
                if largest_gap != 0 {
                    write!(f, " at {largest_at:#x}")?;
                }
                Ok(())
            }
        }
    }
}

/// What the placement consults about the machine.
#[derive(Clone, Copy, Debug)]
pub struct HostMemory<'a> {
    /// The KIP memory descriptors, in KIP order.
    pub descs: &'a [MemoryDesc],
    /// Memory received from sigma0 and still free (coalesced, as
    /// [`crate::memory::MemoryTally::regions`] returns them).
    pub received: &'a [Region],
    /// End of the monitor's image (`&_end`); slot 0's block is derived from it.
    pub monitor_image_end: u64,
}

/// Outcome of checking one candidate.
enum Check {
    Fits,
    /// Try again from this (4 MB-aligned) start.
    MoveTo(u64),
    /// Nothing at or above this start can work.
    Fail,
}

impl HostMemory<'_> {
    /// The KIP conflict test of §3.1 step 3, literally: with `end` the last
    /// byte, `start < Low ≤ end`, or `start < High ≤ end`, or
    /// `Low ≤ start and end ≤ High`.
    fn kip_conflict(&self, start: u64, last: u64) -> Option<&MemoryDesc> {
        self.descs.iter().find(|d| {
            !d.is_virtual
                && d.kind != MemoryType::Conventional
                && !is_bogus_shared(d)
                && ((start < d.low && d.low <= last)
                    || (start < d.high && d.high <= last)
                    || (d.low <= start && last <= d.high))
        })
    }

    fn check(&self, start: u64, size: u64, vm_blocks: &[Region], max_phys: u64) -> Check {
        let end = start + size;
        if end > ADDRESS_SPACE_END {
            return Check::Fail;
        }
        // Step 2: the monitor's block and every VM block.
        let monitor = monitor_block(self.monitor_image_end);
        for b in core::iter::once(&monitor).chain(vm_blocks) {
            if b.size != 0 && start < b.end() && b.base < end {
                return Check::MoveTo(round_up_4m(b.end()));
            }
        }
        // Step 3: physical non-conventional KIP regions.
        if let Some(d) = self.kip_conflict(start, end - 1) {
            return Check::MoveTo(round_up_4m(d.high + 1));
        }
        // Step 4: fail if the last byte (end - 1) is at or above max_phys.
        if end > max_phys {
            return Check::Fail;
        }
        // Improvement: inside one received region.
        match self
            .received
            .iter()
            .find(|r| r.base <= start && start < r.end())
        {
            Some(r) if end <= r.end() => Check::Fits,
            Some(r) => Check::MoveTo(round_up_4m(r.end())),
            None => match self
                .received
                .iter()
                .filter(|r| r.base > start && r.size != 0)
                .map(|r| r.base)
                .min()
            {
                Some(b) => Check::MoveTo(round_up_4m(b)),
                None => Check::Fail,
            },
        }
    }

    /// Places a block of `size` bytes (a non-zero multiple of 4 MB) as
    /// §3.1 does, first fit from 0, with the extra received-memory rule.
    /// `vm_blocks` are the blocks of the other VM slots (slot 0 is derived
    /// from `monitor_image_end` and need not be included).
    pub fn place(&self, size: u64, vm_blocks: &[Region]) -> Result<Region, PlaceError> {
        if size == 0 || !size.is_multiple_of(VM_ALIGN) {
            return Err(PlaceError::BadSize { size });
        }
        let max_phys = max_phys(self.descs).ok_or(PlaceError::NoConventionalMemory)?;
        let mut start = 0u64;
        loop {
            match self.check(start, size, vm_blocks, max_phys) {
                Check::Fits => return Ok(Region { base: start, size }),
                // Every move is strictly upward, so this terminates.
                Check::MoveTo(next) if next > start => start = next,
                Check::MoveTo(_) | Check::Fail => break,
            }
        }
        let (largest_at, largest_gap) = self.largest_gap(vm_blocks, max_phys);
        Err(PlaceError::NoRoom {
            size,
            largest_gap,
            largest_at,
            max_phys,
        })
    }

    /// The largest block (base, size) the same rules would accept, found by
    /// scanning 4 MB chunks (only on the error path: at most 1024 chunks).
    pub fn largest_gap(&self, vm_blocks: &[Region], max_phys: u64) -> (u64, u64) {
        let mut best = (0, 0);
        let mut run_start = 0;
        let mut run = 0u64;
        let mut at = 0u64;
        while at < ADDRESS_SPACE_END {
            if matches!(self.check(at, VM_ALIGN, vm_blocks, max_phys), Check::Fits) {
                if run == 0 {
                    run_start = at;
                }
                run += VM_ALIGN;
                if run > best.1 {
                    best = (run_start, run);
                }
            } else {
                run = 0;
            }
            at += VM_ALIGN;
        }
        best
    }
}

/// Is `[base, base + size)` entirely inside one of `regions`? (What the
/// caller's `MemoryTally::take_exact` will need to succeed.)
pub fn within_one(regions: &[Region], base: u64, size: u64) -> bool {
    base.checked_add(size)
        .is_some_and(|end| regions.iter().any(|r| r.base <= base && end <= r.end()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec::Vec;

    pub(crate) const M: u64 = 1 << 20;

    fn d(kind: MemoryType, low: u64, high: u64) -> MemoryDesc {
        MemoryDesc {
            kind,
            is_virtual: false,
            low,
            high,
        }
    }

    /// A QEMU-like 512 MB machine as kickstart describes it (§1.3), with boot
    /// modules at 0xB15000-0xE633FF (§3.1's verified example).
    pub(crate) fn qemu_descs() -> Vec<MemoryDesc> {
        std::vec![
            d(MemoryType::Shared, 0, 0xffff_ffff),
            d(MemoryType::Conventional, 0, 0x9_fbff),
            d(MemoryType::Conventional, 0x10_0000, 0x1ffd_ffff),
            d(MemoryType::Arch(2), 0x9_fc00, 0x9_ffff),
            d(MemoryType::Arch(2), 0xf_0000, 0xf_ffff),
            d(MemoryType::Arch(2), 0x1ffe_0000, 0x1fff_ffff),
            d(MemoryType::Arch(2), 0xfffc_0000, 0xffff_ffff),
            d(MemoryType::Shared, 0xa_0000, 0xb_ffff),
            d(MemoryType::Shared, 0xc_0000, 0xe_ffff),
            d(MemoryType::Reserved, 0x1f80_0000, 0x1ffd_ffff),
            d(MemoryType::BootLoader(1), 0x80_8000, 0x80_8fff),
            d(MemoryType::BootLoader(3), 0xb1_5000, 0xe6_33ff),
            MemoryDesc {
                kind: MemoryType::Conventional,
                is_virtual: true,
                low: 0,
                high: 0xbfff_ffff,
            },
        ]
    }

    pub(crate) fn all_ram() -> Vec<Region> {
        std::vec![Region {
            base: 0x10_0000,
            size: 0x1f70_0000
        }]
    }

    #[test]
    fn four_32m_vms_as_verified() {
        // §3.1: the monitor ends below 8 MB, the module region pushes the
        // first VM from 8 MB to 16 MB; then 0x3000000, 0x5000000, 0x7000000.
        let descs = qemu_descs();
        let received = all_ram();
        let host = HostMemory {
            descs: &descs,
            received: &received,
            monitor_image_end: 0x42_3456,
        };
        let mut blocks = Vec::new();
        for want in [0x100_0000u64, 0x300_0000, 0x500_0000, 0x700_0000] {
            // 32 MB blocks: 0x1000000 + 32M = 0x3000000.
            let b = host.place(32 * M, &blocks).unwrap();
            assert_eq!(
                b,
                Region {
                    base: want,
                    size: 32 * M
                }
            );
            assert!(within_one(&received, b.base, b.size));
            blocks.push(b);
        }
        assert_eq!(max_phys(&descs), Some(0x1ffd_ffff));
        assert_eq!(
            monitor_block(0x42_3456),
            Region {
                base: 0,
                size: 8 * M
            }
        );
        assert_eq!(monitor_block(0), Region { base: 0, size: 0 });
    }

    #[test]
    fn must_end_below_max_phys_and_reports_the_largest_gap() {
        let descs = qemu_descs();
        let received = all_ram();
        let host = HostMemory {
            descs: &descs,
            received: &received,
            monitor_image_end: 8 * M,
        };
        // Free: [16M, 0x1F800000) minus nothing = 488 MB, but blocks must end
        // below max_phys and the kmem reserve starts at 0x1F800000.
        let e = host.place(492 * M, &[]).unwrap_err();
        assert_eq!(
            e,
            PlaceError::NoRoom {
                size: 492 * M,
                largest_gap: 488 * M,
                largest_at: 16 * M,
                max_phys: 0x1ffd_ffff
            }
        );
        let text = std::format!("{e}");
        assert!(
            text.contains("503808 KB") && text.contains("499712 KB at 0x1000000"),
            "{text}"
        );
        assert_eq!(host.place(488 * M, &[]).unwrap().base, 16 * M);
        assert_eq!(
            host.place(3 * M, &[]),
            Err(PlaceError::BadSize { size: 3 * M })
        );
        assert_eq!(host.place(0, &[]), Err(PlaceError::BadSize { size: 0 }));
        let none = HostMemory {
            descs: &[],
            received: &received,
            monitor_image_end: 0,
        };
        assert_eq!(
            none.place(4 * M, &[]),
            Err(PlaceError::NoConventionalMemory)
        );
    }

    #[test]
    fn received_memory_is_required() {
        let descs = qemu_descs();
        // sigma0 kept [20M, 24M) and the monitor took [60M, 64M) for itself.
        let received = std::vec![
            Region {
                base: 0x10_0000,
                size: 20 * M - 0x10_0000
            },
            Region {
                base: 24 * M,
                size: 36 * M
            },
            Region {
                base: 64 * M,
                size: 400 * M
            },
        ];
        let host = HostMemory {
            descs: &descs,
            received: &received,
            monitor_image_end: 8 * M,
        };
        // The original would pick 16M; [16M, 24M) is not all received.
        assert_eq!(host.place(8 * M, &[]).unwrap().base, 24 * M);
        // 40 MB does not fit into [24M, 60M): next region.
        assert_eq!(host.place(40 * M, &[]).unwrap().base, 64 * M);
        assert!(!within_one(&received, 16 * M, 8 * M));
        // Unaligned received region: base rounded up to 4 MB.
        let odd = [Region {
            base: 30 * M + 0x1000,
            size: 100 * M,
        }];
        let host = HostMemory {
            received: &odd,
            ..host
        };
        assert_eq!(host.place(8 * M, &[]).unwrap().base, 32 * M);
        let host = HostMemory {
            received: &[],
            ..host
        };
        assert!(matches!(
            host.place(4 * M, &[]),
            Err(PlaceError::NoRoom { largest_gap: 0, .. })
        ));
    }

    #[test]
    fn conflict_rule_is_the_literal_one() {
        // A bootloader region fully inside a candidate, one straddling its
        // end, and a block inside a region: all three conditions of step 3.
        let mut descs = std::vec![d(MemoryType::Conventional, 0, 0x3fff_ffff)];
        let received = [Region {
            base: 0,
            size: 0x4000_0000,
        }];
        descs.push(d(MemoryType::BootLoader(3), 0x10_1000, 0x10_1fff));
        let host = HostMemory {
            descs: &descs,
            received: &received,
            monitor_image_end: 0,
        };
        assert_eq!(host.place(4 * M, &[]).unwrap().base, 4 * M);
        descs[1] = d(MemoryType::Dedicated, 0x3f_f000, 0x40_03ff);
        let host = HostMemory {
            descs: &descs,
            received: &received,
            monitor_image_end: 0,
        };
        assert_eq!(host.place(4 * M, &[]).unwrap().base, 8 * M);
        descs[1] = d(MemoryType::Arch(2), 0, 0x7f_ffff);
        let host = HostMemory {
            descs: &descs,
            received: &received,
            monitor_image_end: 0,
        };
        assert_eq!(host.place(4 * M, &[]).unwrap().base, 8 * M);
        // Virtual descriptors and the bogus shared one are ignored.
        descs[1] = MemoryDesc {
            is_virtual: true,
            ..d(MemoryType::Reserved, 0, 0x3fff_ffff)
        };
        descs.push(d(MemoryType::Shared, 0, 0xffff_ffff));
        let host = HostMemory {
            descs: &descs,
            received: &received,
            monitor_image_end: 0,
        };
        assert_eq!(host.place(4 * M, &[]).unwrap().base, 0);
        // An existing VM block is skipped, rounded to 4 MB.
        let blocks = [Region {
            base: 0,
            size: 5 * M,
        }];
        assert_eq!(host.place(4 * M, &blocks).unwrap().base, 8 * M);
    }

    #[test]
    fn a_region_reaching_4g_fails_instead_of_wrapping() {
        let descs = [
            d(MemoryType::Conventional, 0, 0xffff_ffff),
            d(MemoryType::Reserved, 0x4000_0000, 0xffff_ffff),
        ];
        let received = [Region {
            base: 0,
            size: 1 << 32,
        }];
        let host = HostMemory {
            descs: &descs,
            received: &received,
            monitor_image_end: 0x3fc0_0000,
        };
        assert!(matches!(
            host.place(8 * M, &[]),
            Err(PlaceError::NoRoom {
                largest_gap: 4194304,
                largest_at: 0x3fc0_0000,
                ..
            })
        ));
    }
}
