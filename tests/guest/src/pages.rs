//! Guest-physical pages that hold nothing: for the page-fault and
//! request_pages measurements.

use crate::PAGE;

/// Ranges the picker must skip (wedge image, modules, ramdisk).
const MAX_RESERVED: usize = 8;

/// Hands out distinct free 4 KB guest-physical pages in ascending order,
/// from `start` up to `limit` (exclusive), skipping reserved ranges.
#[derive(Clone, Debug)]
pub struct FreePages {
    next: u32,
    limit: u32,
    reserved: [(u32, u32); MAX_RESERVED],
    count: usize,
}

impl FreePages {
    /// Pages in `[start, limit)`; `start` is rounded up to a page.
    pub fn new(start: u32, limit: u32) -> FreePages {
        FreePages {
            next: crate::round_up(start, PAGE),
            limit,
            reserved: [(0, 0); MAX_RESERVED],
            count: 0,
        }
    }

    /// Never hand out a page that overlaps `[start, start + len)`.
    /// Returns false when the table is full (the range is then not skipped).
    pub fn reserve(&mut self, start: u32, len: u32) -> bool {
        if len == 0 {
            return true;
        }
        if self.count == MAX_RESERVED {
            return false;
        }
        let end = (start as u64 + len as u64).min(u32::MAX as u64) as u32;
        self.reserved[self.count] = (start, end);
        self.count += 1;
        true
    }

    /// The next free page, or `None` when `limit` is reached.
    pub fn next_page(&mut self) -> Option<u32> {
        loop {
            let page = self.next;
            let end = page.checked_add(PAGE)?;
            if end > self.limit {
                return None;
            }
            match self.reserved[..self.count]
                .iter()
                .find(|&&(lo, hi)| page < hi && lo < end)
            {
                // Jump past the reserved range.
                Some(&(_, hi)) => self.next = crate::round_up(hi, PAGE).max(end),
                None => {
                    self.next = end;
                    return Some(page);
                }
            }
        }
    }
}

/// The free pages of a VM in `[from, limit)`: everything except this
/// image (where the monitor says it is, `wedge_phys_offset`, and where
/// `wedgeinstall=` says it should be; `image_len` bytes each), the modules
/// and the ramdisk. The flag is false when the reserve table overflowed.
pub fn vm_free_pages(
    snap: &crate::checks::Snapshot,
    opts: &crate::options::Options<'_>,
    image_len: u32,
    from: u32,
    limit: u32,
) -> (FreePages, bool) {
    let mut free = FreePages::new(from, limit);
    let mut reserved = free.reserve(snap.wedge_phys_offset, image_len);
    reserved &= free.reserve(opts.wedgeinstall, image_len);
    for m in &snap.modules[..(snap.module_count as usize).min(snap.modules.len())] {
        reserved &= free.reserve(m.vm_offset, m.size);
    }
    reserved &= free.reserve(
        snap.ramdisk_start.wrapping_sub(snap.link_vaddr),
        snap.ramdisk_size,
    );
    (free, reserved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn skips_reserved_ranges() {
        let mut p = FreePages::new(0x10_0000, 0x10_8000);
        assert!(p.reserve(0x10_1000, 0x1001)); // pages 1 and 2
        assert!(p.reserve(0x10_4800, 1)); // page 4
        assert!(p.reserve(0x10_6000, 0));
        let got: Vec<u32> = core::iter::from_fn(|| p.next_page()).collect();
        assert_eq!(got, [0x10_0000, 0x10_3000, 0x10_5000, 0x10_6000, 0x10_7000]);
    }

    #[test]
    fn stops_at_the_limit_and_at_the_top() {
        let mut p = FreePages::new(0xFFFF_E001, u32::MAX);
        assert_eq!(p.next_page(), None);
        let mut p = FreePages::new(0x1000, 0x2fff);
        assert_eq!(p.next_page(), Some(0x1000));
        assert_eq!(p.next_page(), None);
        let mut p = FreePages::new(0, 0x10_0000);
        assert!(p.reserve(0, u32::MAX));
        assert_eq!(p.next_page(), None);
    }

    #[test]
    fn reserve_table_is_bounded() {
        let mut p = FreePages::new(0, 0x10_0000);
        for i in 0..MAX_RESERVED as u32 {
            assert!(p.reserve(i * 0x2000, 0x1000));
        }
        assert!(!p.reserve(0x8_0000, 0x1000));
    }
}
