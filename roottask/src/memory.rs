//! Accounting of the memory the monitor takes from sigma0.
//!
//! sigma0 hands out naturally aligned power-of-two pages; the monitor asks for
//! the largest sizes first so that a few hundred requests cover the machine
//! (not one per 4 KiB page) and records what it got as coalesced regions.

use core::fmt;

/// Smallest page size the monitor asks for (log2): the hardware page.
pub const MIN_LOG2: u32 = 12;
/// Largest page size the monitor asks for (log2): 2 GiB.
pub const MAX_LOG2: u32 = 31;

/// A contiguous physical range `[base, base + size)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Region {
    /// First byte.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

impl Region {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.base + self.size
    }
}

/// Why a page was not recorded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TallyError {
    /// The page overlaps memory already recorded (sigma0 handed it out twice).
    Overlap {
        /// The new page.
        page: Region,
    },
    /// The page size is outside 2^12..=2^31 or the base is not aligned to it.
    BadPage {
        /// The new page.
        page: Region,
    },
}

impl fmt::Display for TallyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TallyError::Overlap { page } => {
                write!(
                    f,
                    "page [{:#x}, {:#x}) overlaps memory already received",
                    page.base,
                    page.end()
                )
            }
            TallyError::BadPage { page } => {
                write!(
                    f,
                    "page [{:#x}, +{:#x}) is not a naturally aligned power of two",
                    page.base, page.size
                )
            }
        }
    }
}

/// Pages received, counted per size, and the regions they form.
///
/// `N` bounds the number of separate regions kept; pages that would need a
/// further region are still counted and reported by [`MemoryTally::dropped`].
#[derive(Clone, Debug)]
pub struct MemoryTally<const N: usize> {
    per_size: [u32; 32],
    regions: heapless::Vec<Region, N>,
    dropped: u64,
}

impl<const N: usize> Default for MemoryTally<N> {
    fn default() -> Self {
        MemoryTally {
            per_size: [0; 32],
            regions: heapless::Vec::new(),
            dropped: 0,
        }
    }
}

impl<const N: usize> MemoryTally<N> {
    /// Record a page of `2^log2` bytes at `base`.
    pub fn add(&mut self, base: u64, log2: u32) -> Result<(), TallyError> {
        let page = Region {
            base,
            size: 1u64.checked_shl(log2).unwrap_or(0),
        };
        if !(MIN_LOG2..=MAX_LOG2).contains(&log2) || !base.is_multiple_of(page.size) {
            return Err(TallyError::BadPage { page });
        }
        // Regions are kept sorted by base; find where the page goes.
        let at = self.regions.partition_point(|r| r.base < base);
        let overlaps_prev = at > 0 && self.regions[at - 1].end() > base;
        let overlaps_next = at < self.regions.len() && self.regions[at].base < page.end();
        if overlaps_prev || overlaps_next {
            return Err(TallyError::Overlap { page });
        }
        self.per_size[log2 as usize] += 1;
        let joins_prev = at > 0 && self.regions[at - 1].end() == base;
        let joins_next = at < self.regions.len() && self.regions[at].base == page.end();
        match (joins_prev, joins_next) {
            (true, true) => {
                self.regions[at - 1].size += page.size + self.regions[at].size;
                self.regions.remove(at);
            }
            (true, false) => self.regions[at - 1].size += page.size,
            (false, true) => {
                self.regions[at].base = base;
                self.regions[at].size += page.size;
            }
            (false, false) => {
                if self.regions.insert(at, page).is_err() {
                    self.dropped += page.size;
                }
            }
        }
        Ok(())
    }

    /// Number of pages of `2^log2` bytes received.
    pub fn count(&self, log2: u32) -> u32 {
        self.per_size.get(log2 as usize).copied().unwrap_or(0)
    }

    /// Total bytes received.
    pub fn total(&self) -> u64 {
        (0..32).map(|k| (self.per_size[k] as u64) << k).sum()
    }

    /// Received bytes that did not fit the region list.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The coalesced regions, sorted by base.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Remove exactly `[base, base + size)`; `false` (and no change) unless
    /// one region contains it. VM blocks are placed inside one received
    /// region (`vm::placement`), so this succeeds for every placed block.
    pub fn take_exact(&mut self, base: u64, size: u64) -> bool {
        let Some(end) = base.checked_add(size) else {
            return false;
        };
        if size == 0 {
            return false;
        }
        let Some(i) = self
            .regions
            .iter()
            .position(|r| r.base <= base && end <= r.end())
        else {
            return false;
        };
        let r = self.regions[i];
        let below = Region {
            base: r.base,
            size: base - r.base,
        };
        let above = Region {
            base: end,
            size: r.end() - end,
        };
        self.regions.remove(i);
        for part in [above, below] {
            if part.size > 0 && self.regions.insert(i, part).is_err() {
                self.dropped += part.size;
            }
        }
        true
    }

    /// Return `region` (a torn-down VM's block) to the free memory, joined
    /// with its neighbours. False (and no change) if it is empty or
    /// overlaps free memory: it was not taken.
    pub fn give_back(&mut self, region: Region) -> bool {
        if region.size == 0 || region.base.checked_add(region.size).is_none() {
            return false;
        }
        let at = self.regions.partition_point(|r| r.base < region.base);
        let overlaps_prev = at > 0 && self.regions[at - 1].end() > region.base;
        let overlaps_next = at < self.regions.len() && self.regions[at].base < region.end();
        if overlaps_prev || overlaps_next {
            return false;
        }
        let joins_prev = at > 0 && self.regions[at - 1].end() == region.base;
        let joins_next = at < self.regions.len() && self.regions[at].base == region.end();
        match (joins_prev, joins_next) {
            (true, true) => {
                self.regions[at - 1].size += region.size + self.regions[at].size;
                self.regions.remove(at);
            }
            (true, false) => self.regions[at - 1].size += region.size,
            (false, true) => {
                self.regions[at].base = region.base;
                self.regions[at].size += region.size;
            }
            (false, false) => {
                if self.regions.insert(at, region).is_err() {
                    return false;
                }
            }
        }
        true
    }

    /// Take the lowest `size` bytes aligned to `align` that lie inside
    /// `[lo, hi)`; returns the base. The monitor's heap goes below its
    /// first VM this way (memory the original never gives to guests), so it
    /// cannot take room a VM would get under the original.
    pub fn take_within(&mut self, lo: u64, hi: u64, size: u64, align: u64) -> Option<u64> {
        if size == 0 || align == 0 || !align.is_power_of_two() {
            return None;
        }
        let base = self.regions.iter().find_map(|r| {
            let start = r.base.max(lo).checked_add(align - 1)? & !(align - 1);
            let end = start.checked_add(size)?;
            (end <= r.end() && end <= hi).then_some(start)
        })?;
        self.take_exact(base, size).then_some(base)
    }

    /// Take `size` bytes (a multiple of 4 KiB) aligned to `align` from the
    /// regions, first fit from the top of memory; returns the base.
    pub fn take(&mut self, size: u64, align: u64) -> Option<u64> {
        if size == 0 || align == 0 || !align.is_power_of_two() {
            return None;
        }
        for i in (0..self.regions.len()).rev() {
            let r = self.regions[i];
            let Some(top) = r.end().checked_sub(size) else {
                continue;
            };
            let base = top & !(align - 1);
            if base < r.base {
                continue;
            }
            // Split the region around [base, base + size).
            let below = Region {
                base: r.base,
                size: base - r.base,
            };
            let above = Region {
                base: base + size,
                size: r.end() - (base + size),
            };
            self.regions.remove(i);
            for part in [above, below] {
                if part.size > 0 && self.regions.insert(i, part).is_err() {
                    self.dropped += part.size;
                }
            }
            return Some(base);
        }
        None
    }
}

/// `memory: total=<bytes> (<MiB> MiB) pages 2^22:<n> 2^12:<n> ... regions=<n>`.
impl<const N: usize> fmt::Display for MemoryTally<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory: total={} ({} KiB) pages",
            self.total(),
            self.total() / 1024
        )?;
        for k in (0..32).rev() {
            if self.per_size[k] != 0 {
                write!(f, " 2^{k}:{}", self.per_size[k])?;
            }
        }
        write!(f, " regions={}", self.regions.len())?;
        if self.dropped != 0 {
            write!(f, " untracked={}", self.dropped)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn coalesces_and_counts() {
        let mut t = MemoryTally::<8>::default();
        t.add(0x40_0000, 22).unwrap();
        t.add(0x80_0000, 22).unwrap();
        t.add(0x3f_f000, 12).unwrap();
        t.add(0x10_0000, 20).unwrap();
        assert_eq!(
            t.regions(),
            &[
                Region {
                    base: 0x10_0000,
                    size: 0x10_0000
                },
                Region {
                    base: 0x3f_f000,
                    size: 0x80_1000
                }
            ]
        );
        assert_eq!((t.count(22), t.count(12), t.count(20)), (2, 1, 1));
        assert_eq!(t.total(), 8 * 1024 * 1024 + 4096 + 1024 * 1024);
        // Filling the gap joins both regions.
        t.add(0x20_0000, 20).unwrap();
        for page in (0x30_0000..0x3f_f000).step_by(0x1000) {
            t.add(page, 12).unwrap();
        }
        assert_eq!(
            t.regions(),
            &[Region {
                base: 0x10_0000,
                size: 0xb0_0000
            }]
        );
        assert_eq!(t.total(), 0xb0_0000);
        assert_eq!(t.count(12), 1 + 0xff);
        assert!(format!("{t}").starts_with(
            "memory: total=11534336 (11264 KiB) pages 2^22:2 2^20:2 2^12:256 regions=1"
        ));
    }

    #[test]
    fn refuses_overlap_and_bad_pages() {
        let mut t = MemoryTally::<4>::default();
        t.add(0x40_0000, 22).unwrap();
        assert_eq!(
            t.add(0x50_0000, 12),
            Err(TallyError::Overlap {
                page: Region {
                    base: 0x50_0000,
                    size: 4096
                }
            })
        );
        assert!(matches!(t.add(0x1000, 13), Err(TallyError::BadPage { .. })));
        assert!(matches!(t.add(0, 40), Err(TallyError::BadPage { .. })));
        assert_eq!(t.total(), 4 << 20);
    }

    #[test]
    fn counts_pages_beyond_region_capacity() {
        let mut t = MemoryTally::<2>::default();
        for i in 0..4u64 {
            t.add(i * 0x2000, 12).unwrap();
        }
        assert_eq!(t.regions().len(), 2);
        assert_eq!(t.dropped(), 2 * 4096);
        assert_eq!(t.total(), 4 * 4096);
    }

    #[test]
    fn take_exact_removes_only_contained_ranges() {
        let mut t = MemoryTally::<8>::default();
        t.add(0x40_0000, 22).unwrap();
        assert!(
            !t.take_exact(0x30_0000, 0x20_0000),
            "straddles the region start"
        );
        assert!(!t.take_exact(0x40_0000, 0));
        assert!(t.take_exact(0x50_0000, 0x10_0000));
        assert_eq!(
            t.regions(),
            &[
                Region {
                    base: 0x40_0000,
                    size: 0x10_0000
                },
                Region {
                    base: 0x60_0000,
                    size: 0x20_0000
                }
            ]
        );
        assert!(!t.take_exact(0x50_0000, 0x1000), "already taken");
    }

    #[test]
    fn give_back_rejoins_a_taken_block() {
        let mut t = MemoryTally::<8>::default();
        for i in 0..4u64 {
            t.add(0x400_0000 + (i << 22), 22).unwrap();
        }
        let whole = t.regions().to_vec();
        let block = Region {
            base: 0x480_0000,
            size: 0x40_0000,
        };
        assert!(t.take_exact(block.base, block.size));
        assert_eq!(t.regions().len(), 2);
        assert!(
            !t.give_back(Region {
                base: 0x470_0000,
                size: 0x20_0000
            }),
            "overlaps free memory"
        );
        assert!(t.give_back(block));
        assert_eq!(t.regions(), whole.as_slice());
        assert!(!t.give_back(block), "given back twice");
        assert!(!t.give_back(Region { base: 0, size: 0 }));
        // At either end and apart from the rest.
        assert!(t.take_exact(0x400_0000, 0x40_0000));
        assert!(t.give_back(Region {
            base: 0x400_0000,
            size: 0x40_0000
        }));
        assert!(t.give_back(Region {
            base: 0x1000_0000,
            size: 0x40_0000
        }));
        assert_eq!(t.regions().len(), 2);
        assert_eq!(t.total(), 4 << 22, "the page counts are what sigma0 gave");
    }

    #[test]
    fn take_is_aligned_and_splits() {
        let mut t = MemoryTally::<8>::default();
        t.add(0x40_0000, 22).unwrap();
        t.add(0x80_0000, 22).unwrap();
        assert_eq!(t.take(0x10_0000, 0x10_0000), Some(0xb0_0000));
        assert_eq!(
            t.regions(),
            &[Region {
                base: 0x40_0000,
                size: 0x70_0000
            }]
        );
        assert_eq!(t.take(0x40_0000, 0x40_0000), Some(0x40_0000));
        assert_eq!(
            t.regions(),
            &[Region {
                base: 0x80_0000,
                size: 0x30_0000
            }]
        );
        assert_eq!(t.take(0x40_0000, 0x1000), None);
    }

    #[test]
    fn take_within_is_the_lowest_fit_inside_the_bounds() {
        let mut t = MemoryTally::<8>::default();
        t.add(0x40_0000, 20).unwrap(); // [4M, 5M)
        t.add(0x60_0000, 21).unwrap(); // [6M, 8M)
        t.add(0x100_0000, 24).unwrap(); // [16M, 32M)
                                        // Above the image end at 0x42_9000: 1 MB does not fit in the rest of
                                        // [4M, 5M), so it comes from [6M, 8M), aligned.
        assert_eq!(
            t.take_within(0x42_9000, 0x80_0000, 0x10_0000, 0x1000),
            Some(0x60_0000)
        );
        // Nothing left below 8M for 2 MB; the bounds hold.
        assert_eq!(t.take_within(0x42_9000, 0x80_0000, 0x20_0000, 0x1000), None);
        assert_eq!(
            t.take_within(0, u64::MAX, 0x20_0000, 0x10_0000),
            Some(0x100_0000)
        );
        assert_eq!(t.take_within(0, 0x1000, 0, 0x1000), None);
    }
}
