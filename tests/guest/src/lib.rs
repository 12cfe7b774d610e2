//! The test guest's logic: what it expects from the resource monitor and how
//! it reports, as safe `no_std` code the host tests run.
//!
//! The ia32 image (`main.rs`, `rt/`) adds only what needs the kernel: the
//! entry, IPC, raw memory. It reads the shared configuration page into a
//! [`checks::Snapshot`], parses the command line with [`options::Options`],
//! and runs [`checks::run`]; the measurements pick their pages with
//! [`pages::FreePages`] and print through [`console::LineWriter`]. The
//! isolation modes (`mode=`, [`options::Mode`]) send the requests of
//! [`probe`] and judge the answers with its expectations.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod checks;
pub mod console;
pub mod echo;
pub mod fuzz;
pub mod options;
pub mod pages;
pub mod probe;
pub mod seen;
pub mod smp;

/// The resource monitor's IPC interface, generated from `idl/resourcemon.idl`
/// (client stubs and the shared-page types).
#[allow(missing_docs, clippy::all)]
pub mod ipc {
    include!(concat!(env!("OUT_DIR"), "/resourcemon.rs"));
}

/// Where the image is linked (`link.ld`): the afterburn wedge's window.
pub const WEDGE_VADDR: u32 = 0xBC00_0000;
/// Page size used for every touch and request.
pub const PAGE: u32 = 4096;
/// Printed when every check passed; `{name}` follows, then this suffix.
pub const PASS_SENTINEL: &str = "GUEST_PASS";
/// What `prompt=1` prints after `guest <name>: `, with no newline: a
/// carriage return, a byte that is never UTF-8, a UTF-8 `é`, and a prompt.
pub const PROMPT_BYTES: &[u8] = b"raw \r\xff\xc3\xa9 prompt$ ";
/// The harness's failure sentinel (the same text the monitor prints).
pub const FAILURE_SENTINEL: &str = "INDICATE_FAILURE\x15";

/// Byte `j` of the test data of module (or ramdisk) `index` with `seed`:
/// `(j * 7 + seed + index) % 251`.
pub fn pattern_byte(seed: u32, index: u32, j: u32) -> u8 {
    ((j as u64 * 7 + seed as u64 + index as u64) % 251) as u8
}

/// The first byte of `data` that differs from the pattern, as
/// `(offset, got, want)`.
pub fn pattern_mismatch(data: &[u8], seed: u32, index: u32) -> Option<(usize, u8, u8)> {
    // (j * 7 + c) % 251 computed incrementally: +7 per byte, modulo 251.
    let mut want = ((seed as u64 + index as u64) % 251) as u8;
    for (j, &got) in data.iter().enumerate() {
        if got != want {
            return Some((j, got, want));
        }
        want = ((want as u16 + 7) % 251) as u8;
    }
    None
}

/// The word the guest stores at guest-physical `addr` in the measurement
/// pages: the address itself mixed with a per-phase `salt`, so a page mapped
/// at the wrong frame (or the right frame at the wrong place) reads wrong.
pub fn page_word(addr: u32, salt: u32) -> u32 {
    addr ^ salt
}

/// `x` rounded up to a multiple of `align` (a power of two), saturating.
pub fn round_up(x: u32, align: u32) -> u32 {
    match x.checked_add(align - 1) {
        Some(v) => v & !(align - 1),
        None => !(align - 1),
    }
}

/// Displays a word as `0x…` (addresses, fpages, thread ids).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Hex(pub u32);

impl core::fmt::Display for Hex {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matches_formula() {
        let data: std::vec::Vec<u8> = (0..2000u32).map(|j| pattern_byte(0x5a, 2, j)).collect();
        assert_eq!(data[0], (0x5a + 2) as u8);
        assert_eq!(data[40], ((40 * 7 + 0x5a + 2) % 251) as u8);
        assert_eq!(pattern_mismatch(&data, 0x5a, 2), None);
        assert_eq!(
            pattern_mismatch(&data, 0x5a, 1),
            Some((0, data[0], pattern_byte(0x5a, 1, 0)))
        );
        let mut bad = data.clone();
        bad[1234] ^= 1;
        assert_eq!(
            pattern_mismatch(&bad, 0x5a, 2),
            Some((1234, data[1234] ^ 1, data[1234]))
        );
        // Large seeds do not overflow.
        assert_eq!(pattern_byte(u32::MAX, u32::MAX, u32::MAX), {
            let v = (u32::MAX as u64 * 7 + 2 * u32::MAX as u64) % 251;
            v as u8
        });
        let big: std::vec::Vec<u8> = (0..300u32).map(|j| pattern_byte(u32::MAX, 3, j)).collect();
        assert_eq!(pattern_mismatch(&big, u32::MAX, 3), None);
    }

    #[test]
    fn rounding() {
        assert_eq!(round_up(0, 4 << 20), 0);
        assert_eq!(round_up(1, 4 << 20), 4 << 20);
        assert_eq!(round_up(64 << 20, 4 << 20), 64 << 20);
        assert_eq!(round_up(u32::MAX, 4 << 20), 0xFFC0_0000);
    }
}
