//! Host frames a guest has not seen yet and that are zeroed on first use
//! (issue 13).
//!
//! Creating a VM used to zero its whole block (§3.1), most of the time it
//! takes for a large VM. Instead the block's frames are marked *fresh* and
//! zeroed when something first exposes them: the ELF load and the shared
//! page write (through [`LazyBlock`]), a page fault, `request_pages`, a
//! device page of the VM's own RAM, a `ddos` VM's client pages and
//! IVMControl's `get_space_block` (through `Monitor::prepare`). A guest
//! therefore never sees a byte it did not write that another VM or the
//! monitor left there, and frames it never touches are never written.
//!
//! One bit per 4 KB frame of the memory VMs can get, allocated once at
//! boot, so the monitor's memory does not grow per VM.

use crate::vm::Memory;

/// Frame size.
pub const FRAME: u64 = 4096;
const FRAME_SHIFT: u32 = 12;

/// Which frames of `[base, base + 64 · 4 KB · bits.len())` are fresh.
#[derive(Debug, Default)]
pub struct FreshFrames<'a> {
    base: u64,
    bits: &'a mut [u64],
}

impl<'a> FreshFrames<'a> {
    /// Frames from `base` (4 KB aligned), 64 per word of `bits`, none fresh.
    pub fn new(base: u64, bits: &'a mut [u64]) -> FreshFrames<'a> {
        bits.fill(0);
        FreshFrames {
            base: base & !(FRAME - 1),
            bits,
        }
    }

    /// Words of bits needed for `len` bytes of frames.
    pub const fn words_for(len: u64) -> usize {
        len.div_ceil(FRAME * 64) as usize
    }

    fn index(&self, haddr: u64) -> Option<usize> {
        // Shifts, not divisions: on ia32 a 64-bit division is a library
        // call, and this runs for every reply.
        let i = haddr.checked_sub(self.base)? >> FRAME_SHIFT;
        (i < (self.bits.len() as u64) << 6).then_some(i as usize)
    }

    /// No frame is covered (`zero=eager`, or no map at boot).
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Is the frame holding `haddr` fresh?
    pub fn is_fresh(&self, haddr: u64) -> bool {
        self.index(haddr)
            .is_some_and(|i| self.bits[i / 64] & (1 << (i % 64)) != 0)
    }

    /// Mark every frame wholly inside `[haddr, haddr + len)` fresh (frames
    /// outside the covered memory are left alone: they are never fresh, so
    /// whoever fills them must zero them).
    pub fn mark(&mut self, haddr: u64, len: u64) {
        let covered = (self.bits.len() as u64) << 6;
        let start = haddr.div_ceil(FRAME) * FRAME;
        let stop = haddr.saturating_add(len) & !(FRAME - 1);
        if stop <= self.base || start >= stop {
            return;
        }
        let mut i = (start.max(self.base) - self.base) >> FRAME_SHIFT;
        let end = ((stop - self.base) >> FRAME_SHIFT).min(covered);
        while i < end {
            if i & 63 == 0 && end - i >= 64 {
                self.bits[(i >> 6) as usize] = !0;
                i += 64;
            } else {
                self.bits[(i >> 6) as usize] |= 1 << (i & 63);
                i += 1;
            }
        }
    }

    /// Every fresh frame touching `[haddr, haddr + len)`: no longer fresh,
    /// and `zero` called with its address (to be zeroed before anything
    /// else uses it). Returns how many there were.
    pub fn take(&mut self, haddr: u64, len: u64, mut zero: impl FnMut(u64)) -> u64 {
        // Frame indices [first, end) of the range, clamped to the map.
        let covered = (self.bits.len() as u64) << 6;
        let first = (haddr.max(self.base) - self.base) >> FRAME_SHIFT;
        let end_addr = haddr.saturating_add(len);
        if len == 0 || end_addr <= self.base {
            return 0;
        }
        let end = ((end_addr - self.base + FRAME - 1) >> FRAME_SHIFT).min(covered);
        let mut n = 0;
        let mut i = first;
        while i < end {
            let w = (i >> 6) as usize;
            if self.bits[w] == 0 {
                // A whole word without fresh frames: on to the next.
                i = ((i >> 6) + 1) << 6;
                continue;
            }
            let bit = 1u64 << (i & 63);
            if self.bits[w] & bit != 0 {
                self.bits[w] &= !bit;
                zero(self.base + (i << FRAME_SHIFT));
                n += 1;
            }
            i += 1;
        }
        n
    }

    /// How many frames are fresh (for the boot log and tests).
    pub fn count(&self) -> u64 {
        self.bits.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// A VM block being loaded with its frames fresh: writes zero a fresh
/// frame first; zeroing a fresh frame costs nothing.
pub struct LazyBlock<'b, 'f> {
    /// The block's bytes.
    pub block: &'b mut [u8],
    /// Host address of `block[0]`.
    pub haddr: u64,
    /// The frames.
    pub fresh: &'b mut FreshFrames<'f>,
}

impl LazyBlock<'_, '_> {
    fn prepare(&mut self, at: usize, len: usize) {
        let (block, base) = (&mut *self.block, self.haddr);
        self.fresh.take(base + at as u64, len as u64, |f| {
            let off = (f - base) as usize;
            let end = (off + FRAME as usize).min(block.len());
            block[off..end].fill(0);
        });
    }
}

impl Memory for LazyBlock<'_, '_> {
    fn len(&self) -> usize {
        self.block.len()
    }

    fn write(&mut self, at: usize, bytes: &[u8]) {
        self.prepare(at, bytes.len());
        self.block[at..at + bytes.len()].copy_from_slice(bytes);
    }

    fn zero(&mut self, at: usize, len: usize) {
        // Whole fresh frames already read as zero once exposed; only the
        // frames the range cuts, and frames written before, need writing.
        let start = self.haddr + at as u64;
        let end = start + len as u64;
        let mut f = start & !(FRAME - 1);
        while f < end {
            let (lo, hi) = (f.max(start), (f + FRAME).min(end));
            let whole = lo == f && hi == f + FRAME;
            if !(whole && self.fresh.is_fresh(f)) {
                let (a, b) = ((lo - self.haddr) as usize, (hi - self.haddr) as usize);
                self.prepare(a, b - a);
                self.block[a..b].fill(0);
            }
            f += FRAME;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn mark_take_and_count() {
        let mut bits = [0u64; 2];
        let mut f = FreshFrames::new(0x10_0000, &mut bits);
        assert_eq!(f.count(), 0);
        // A range that starts and ends inside frames marks the whole ones.
        f.mark(0x10_0800, 3 * FRAME);
        assert_eq!(f.count(), 2);
        assert!(!f.is_fresh(0x10_0000) && f.is_fresh(0x10_1000) && f.is_fresh(0x10_2fff));
        assert!(!f.is_fresh(0x10_3000));
        // Outside the covered frames: nothing, no panic.
        f.mark(0, 0x10_0000);
        f.mark(0x10_0000 + 128 * FRAME, 16 * FRAME);
        assert!(!f.is_fresh(0xfff) && !f.is_fresh(0x10_0000 + 200 * FRAME));
        let mut zeroed = vec![];
        assert_eq!(f.take(0x10_1ffc, 8, |a| zeroed.push(a)), 2);
        assert_eq!(zeroed, [0x10_1000, 0x10_2000]);
        assert_eq!(f.take(0x10_0000, 64 * FRAME, |_| panic!("taken twice")), 0);
        assert_eq!(f.count(), 0);
    }

    #[test]
    fn take_skips_empty_words_and_finds_the_last_frame() {
        let mut bits = [0u64; 4];
        let mut f = FreshFrames::new(0, &mut bits);
        f.mark(255 * FRAME, FRAME);
        f.mark(64 * FRAME, FRAME);
        let mut zeroed = vec![];
        assert_eq!(f.take(0, 256 * FRAME, |a| zeroed.push(a / FRAME)), 2);
        assert_eq!(zeroed, [64, 255]);
    }

    #[test]
    fn a_lazy_block_zeroes_what_it_writes_into_and_nothing_else() {
        const BASE: u64 = 0x40_0000;
        let mut mem = vec![0xa5u8; 8 * FRAME as usize];
        let mut bits = [0u64; 1];
        let mut fresh = FreshFrames::new(BASE, &mut bits);
        fresh.mark(BASE, 8 * FRAME);
        let mut b = LazyBlock {
            block: &mut mem,
            haddr: BASE,
            fresh: &mut fresh,
        };
        // A write into frame 1: the rest of frame 1 reads zero.
        b.write(0x1010, b"hello");
        // A zero range over frames 3..=5 cutting frame 3 and 5: frame 4 is
        // whole and fresh, so it is not written; 3 and 5 are zeroed whole.
        b.zero(0x3800, 0x2100);
        assert_eq!(&mem[0x1010..0x1015], b"hello");
        assert!(mem[0x1000..0x1010].iter().all(|&x| x == 0));
        assert!(mem[0x1015..0x2000].iter().all(|&x| x == 0));
        assert!(mem[0x3000..0x4000].iter().all(|&x| x == 0));
        assert!(mem[0x5000..0x6000].iter().all(|&x| x == 0));
        // Untouched frames keep their old bytes and stay fresh, so whoever
        // exposes them later zeroes them.
        assert!(mem[0x4000..0x5000].iter().all(|&x| x == 0xa5));
        assert!(mem[0x7000..0x8000].iter().all(|&x| x == 0xa5));
        for (frame, fresh_now) in [
            (0, true),
            (1, false),
            (3, false),
            (4, true),
            (5, false),
            (7, true),
        ] {
            assert_eq!(
                fresh.is_fresh(BASE + frame * FRAME),
                fresh_now,
                "frame {frame}"
            );
        }
    }

    #[test]
    fn zeroing_a_written_frame_writes_it() {
        const BASE: u64 = 0;
        let mut mem = vec![0u8; 2 * FRAME as usize];
        let mut bits = [0u64; 1];
        let mut fresh = FreshFrames::new(BASE, &mut bits);
        fresh.mark(BASE, 2 * FRAME);
        let mut b = LazyBlock {
            block: &mut mem,
            haddr: BASE,
            fresh: &mut fresh,
        };
        b.write(0, &[7; 4096]);
        b.zero(0, 4096);
        assert!(mem[..4096].iter().all(|&x| x == 0));
    }

    #[test]
    fn mark_and_take_agree_with_a_set_of_frames() {
        use std::collections::BTreeSet;
        const BASE: u64 = 0x80_0000;
        let mut bits = [0u64; 5];
        let mut f = FreshFrames::new(BASE, &mut bits);
        let frames = 5 * 64;
        let mut model = BTreeSet::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for _ in 0..2000 {
            // Ranges that start before, inside and past the map.
            let at = BASE - 8 * FRAME + next((frames + 16) * FRAME);
            let len = next(100 * FRAME);
            if next(2) == 0 {
                f.mark(at, len);
                let (lo, hi) = (at.div_ceil(FRAME), (at + len) / FRAME);
                for k in lo..hi {
                    if (BASE / FRAME..BASE / FRAME + frames).contains(&k) {
                        model.insert(k * FRAME);
                    }
                }
            } else {
                let mut got = Vec::new();
                f.take(at, len, |a| got.push(a));
                let want: Vec<u64> = model
                    .range(at & !(FRAME - 1)..(at + len).max(at))
                    .copied()
                    .filter(|&a| len > 0 && a < at + len)
                    .collect();
                for a in &want {
                    model.remove(a);
                }
                assert_eq!(got, want, "take({at:#x}, {len:#x})");
            }
            assert_eq!(f.count(), model.len() as u64);
        }
    }
}
