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
        let i = haddr.checked_sub(self.base)? / FRAME;
        (i < self.bits.len() as u64 * 64).then_some(i as usize)
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
        let first = haddr.div_ceil(FRAME) * FRAME;
        let end = (haddr + len) & !(FRAME - 1);
        let mut f = first;
        while f < end {
            if let Some(i) = self.index(f) {
                self.bits[i / 64] |= 1 << (i % 64);
            }
            f += FRAME;
        }
    }

    /// Every fresh frame touching `[haddr, haddr + len)`: no longer fresh,
    /// and `zero` called with its address (to be zeroed before anything
    /// else uses it). Returns how many there were.
    pub fn take(&mut self, haddr: u64, len: u64, mut zero: impl FnMut(u64)) -> u64 {
        if len == 0 {
            return 0;
        }
        let mut n = 0;
        let mut f = haddr & !(FRAME - 1);
        let end = haddr.saturating_add(len);
        while f < end {
            match self.index(f) {
                Some(i) if self.bits[i / 64] == 0 => {
                    // A whole word without fresh frames: skip to the next.
                    let next = self.base + ((i as u64 / 64) + 1) * 64 * FRAME;
                    f = next.max(f + FRAME);
                    continue;
                }
                Some(i) if self.bits[i / 64] & (1 << (i % 64)) != 0 => {
                    self.bits[i / 64] &= !(1 << (i % 64));
                    zero(f);
                    n += 1;
                }
                _ => {}
            }
            f += FRAME;
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
        for (frame, fresh_now) in [(0, true), (1, false), (3, false), (4, true), (5, false), (7, true)] {
            assert_eq!(fresh.is_fresh(BASE + frame * FRAME), fresh_now, "frame {frame}");
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
}
