//! Byte-level access to parameters packed into message words.
//!
//! IDL4 packs in-parameters like a C struct over MR1… (spec §7.1): byte `k` of
//! the packed struct is byte `k mod 4` (little-endian) of word `⌊k/4⌋`.
//! Generated code reads and writes structs and sub-word scalars through these
//! helpers instead of transmuting, so it needs no `unsafe`.
//!
//! All offsets are byte offsets into `words` (whose element 0 is MR1). The
//! generator only emits in-range offsets; out-of-range accesses read 0 and
//! write nothing rather than panicking, so a bug can corrupt a value but never
//! bring the root task down.

use crate::{Word, WORD_BYTES};

#[inline(always)]
fn split(byte_off: usize) -> (usize, u32) {
    (byte_off / WORD_BYTES, ((byte_off % WORD_BYTES) * 8) as u32)
}

/// Reads a whole word at a word-aligned byte offset.
#[inline(always)]
pub fn get_word(words: &[Word], byte_off: usize) -> Word {
    words.get(byte_off / WORD_BYTES).copied().unwrap_or(0)
}

/// Writes a whole word at a word-aligned byte offset.
#[inline(always)]
pub fn put_word(words: &mut [Word], byte_off: usize, v: Word) {
    if let Some(w) = words.get_mut(byte_off / WORD_BYTES) {
        *w = v;
    }
}

/// Reads a 16-bit value at a 2-aligned byte offset.
#[inline(always)]
pub fn get_u16(words: &[Word], byte_off: usize) -> u16 {
    let (i, sh) = split(byte_off);
    (words.get(i).copied().unwrap_or(0) >> sh) as u16
}

/// Writes a 16-bit value at a 2-aligned byte offset.
#[inline(always)]
pub fn put_u16(words: &mut [Word], byte_off: usize, v: u16) {
    let (i, sh) = split(byte_off);
    if let Some(w) = words.get_mut(i) {
        *w = (*w & !(0xffff << sh)) | ((v as Word) << sh);
    }
}

/// Reads a byte.
#[inline(always)]
pub fn get_u8(words: &[Word], byte_off: usize) -> u8 {
    let (i, sh) = split(byte_off);
    (words.get(i).copied().unwrap_or(0) >> sh) as u8
}

/// Writes a byte.
#[inline(always)]
pub fn put_u8(words: &mut [Word], byte_off: usize, v: u8) {
    let (i, sh) = split(byte_off);
    if let Some(w) = words.get_mut(i) {
        *w = (*w & !(0xff << sh)) | ((v as Word) << sh);
    }
}

/// Reads `out.len()` consecutive bytes starting at `byte_off` (e.g. a `char[128]`).
pub fn get_bytes(words: &[Word], byte_off: usize, out: &mut [u8]) {
    for (k, b) in out.iter_mut().enumerate() {
        *b = get_u8(words, byte_off + k);
    }
}

/// Writes `bytes` starting at `byte_off`.
pub fn put_bytes(words: &mut [Word], byte_off: usize, bytes: &[u8]) {
    for (k, b) in bytes.iter().enumerate() {
        put_u8(words, byte_off + k, *b);
    }
}

/// Types that can be packed into / unpacked from message words.
///
/// Implemented by the runtime for scalars and by generated code for IDL
/// structs that appear as parameters.
pub trait Wire: Sized {
    /// Size in bytes of the C representation.
    const SIZE: usize;
    /// Unpacks a value whose first byte is at `byte_off`.
    fn read(words: &[Word], byte_off: usize) -> Self;
    /// Packs the value at `byte_off`.
    fn write(&self, words: &mut [Word], byte_off: usize);
}

macro_rules! wire_word {
    ($t:ty, $to:expr, $from:expr) => {
        // The casts are identities for 32-bit words and real conversions
        // once `Word` is 64 bits wide.
        #[allow(clippy::unnecessary_cast)]
        impl Wire for $t {
            const SIZE: usize = WORD_BYTES;
            #[inline(always)]
            fn read(words: &[Word], byte_off: usize) -> Self {
                #[allow(clippy::redundant_closure_call)]
                ($from)(get_word(words, byte_off))
            }
            #[inline(always)]
            fn write(&self, words: &mut [Word], byte_off: usize) {
                #[allow(clippy::redundant_closure_call)]
                put_word(words, byte_off, ($to)(*self))
            }
        }
    };
}

wire_word!(u32, |v: u32| v as Word, |w: Word| w as u32);
wire_word!(i32, |v: i32| v as Word, |w: Word| w as i32);
wire_word!(crate::ThreadId, |v: crate::ThreadId| v.0, crate::ThreadId);
wire_word!(crate::Fpage, |v: crate::Fpage| v.0, crate::Fpage);

impl Wire for u16 {
    const SIZE: usize = 2;
    fn read(words: &[Word], byte_off: usize) -> Self {
        get_u16(words, byte_off)
    }
    fn write(&self, words: &mut [Word], byte_off: usize) {
        put_u16(words, byte_off, *self)
    }
}

impl Wire for i16 {
    const SIZE: usize = 2;
    fn read(words: &[Word], byte_off: usize) -> Self {
        get_u16(words, byte_off) as i16
    }
    fn write(&self, words: &mut [Word], byte_off: usize) {
        put_u16(words, byte_off, *self as u16)
    }
}

impl Wire for u8 {
    const SIZE: usize = 1;
    fn read(words: &[Word], byte_off: usize) -> Self {
        get_u8(words, byte_off)
    }
    fn write(&self, words: &mut [Word], byte_off: usize) {
        put_u8(words, byte_off, *self)
    }
}

impl Wire for i8 {
    const SIZE: usize = 1;
    fn read(words: &[Word], byte_off: usize) -> Self {
        get_u8(words, byte_off) as i8
    }
    fn write(&self, words: &mut [Word], byte_off: usize) {
        put_u8(words, byte_off, *self as u8)
    }
}

impl<T: Wire + Copy + Default, const N: usize> Wire for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn read(words: &[Word], byte_off: usize) -> Self {
        let mut out = [T::default(); N];
        for (k, v) in out.iter_mut().enumerate() {
            *v = T::read(words, byte_off + k * T::SIZE);
        }
        out
    }
    fn write(&self, words: &mut [Word], byte_off: usize) {
        for (k, v) in self.iter().enumerate() {
            v.write(words, byte_off + k * T::SIZE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_little_endian_within_words() {
        let mut w = [0u32; 3];
        put_bytes(&mut w, 0, b"abcdef");
        assert_eq!(w[0], u32::from_le_bytes(*b"abcd"));
        assert_eq!(w[1] & 0xffff, u32::from(u16::from_le_bytes(*b"ef")));
        let mut out = [0u8; 6];
        get_bytes(&w, 0, &mut out);
        assert_eq!(&out, b"abcdef");
    }

    #[test]
    fn sub_word_writes_preserve_neighbours() {
        let mut w = [0xffff_ffffu32; 1];
        put_u16(&mut w, 2, 0x1234);
        assert_eq!(w[0], 0x1234_ffff);
        put_u8(&mut w, 1, 0);
        assert_eq!(w[0], 0x1234_00ff);
        assert_eq!(get_u16(&w, 2), 0x1234);
    }

    #[test]
    fn out_of_range_is_harmless() {
        let mut w = [7u32; 1];
        put_word(&mut w, 4, 1);
        put_u8(&mut w, 100, 1);
        assert_eq!(w, [7]);
        assert_eq!(get_word(&w, 4), 0);
        assert_eq!(get_u8(&w, 9), 0);
    }
}
