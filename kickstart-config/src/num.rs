//! Number syntax of the command-line language (spec §2.2).
//!
//! The original reads every numeric option with `strtoul(…, 0)` followed by an
//! optional `K`/`M`/`G` suffix ([`compat_size`] reproduces that, including its
//! traps). The strict reader [`parse_size`] accepts the same well-formed texts
//! with the same values and rejects the texts the original silently turned into
//! 0, a wrapped value or a saturated value.

use core::fmt;

/// Multiplier of the `K` suffix.
pub const KIB: u32 = 1 << 10;
/// Multiplier of the `M` suffix.
pub const MIB: u32 = 1 << 20;
/// Multiplier of the `G` suffix.
pub const GIB: u32 = 1 << 30;

/// Why a number text was refused; the position is relative to the start of
/// the value text so callers can turn it into a line offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumberError {
    /// Byte offset inside the value text where the problem starts.
    pub at: usize,
    /// What went wrong.
    pub kind: NumberErrorKind,
}

/// The kinds of refused number texts, each naming what would have been accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberErrorKind {
    /// No value at all (`vmsize=`). The original skipped blanks and read the
    /// *next* word as the value.
    Empty,
    /// A character that is neither a digit of the chosen base nor a suffix.
    BadDigit {
        /// The number base the digits were read in (8, 10 or 16).
        base: u32,
    },
    /// Text after the suffix (`64MB`); the original turned the whole option into 0.
    Trailing,
    /// A `-` sign; the original negated modulo 2^32.
    Negative,
    /// More than 32 bits (the original saturated, or wrapped when multiplying: `4G` = 0).
    Overflow,
}

impl fmt::Display for NumberErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberErrorKind::Empty => f.write_str(
                "missing value; expected a number such as 64M, 0x1000000 or 0200000000 right after `=`",
            ),
            NumberErrorKind::BadDigit { base: 16 } => f.write_str(
                "not a hexadecimal digit; expected 0-9/a-f, then an optional K, M or G, then a blank or the end",
            ),
            NumberErrorKind::BadDigit { base: 8 } => f.write_str(
                "not an octal digit (a leading 0 means octal); expected 0-7, then an optional K, M or G",
            ),
            NumberErrorKind::BadDigit { .. } => f.write_str(
                "not a decimal digit; expected 0-9, then an optional K, M or G (upper case), then a blank or the end",
            ),
            NumberErrorKind::Trailing => f.write_str(
                "unexpected text after the number; expected at most one suffix K, M or G (upper case) and then a blank or the end (the original read this as 0)",
            ),
            NumberErrorKind::Negative => {
                f.write_str("negative number; expected an unsigned number (the original wrapped it modulo 2^32)")
            }
            NumberErrorKind::Overflow => f.write_str(
                "value does not fit in 32 bits; expected at most 0xFFFFFFFF (the original saturated or wrapped it, e.g. 4G = 0)",
            ),
        }
    }
}

/// Reads a whole value text strictly: `[+](0x|0X)hex+ | [+]0oct* | [+][1-9]dec*`,
/// then at most one of `K`, `M`, `G`, then the end of the text.
///
/// Every text this accepts is read by the original with the same value; see
/// the crate documentation for the texts it refuses.
pub fn parse_size(text: &str) -> Result<u32, NumberError> {
    parse_size_up_to(text, u64::from(u32::MAX)).map(|v| v as u32)
}

/// [`parse_size`] with another upper bound (e.g. 4 GiB for a machine's
/// memory, which is no command-line number and may be 4G itself).
pub fn parse_size_up_to(text: &str, max: u64) -> Result<u64, NumberError> {
    let b = text.as_bytes();
    let mut i = 0;
    match b.first() {
        None => {
            return Err(NumberError {
                at: 0,
                kind: NumberErrorKind::Empty,
            })
        }
        Some(b'+') => i = 1,
        Some(b'-') => {
            return Err(NumberError {
                at: 0,
                kind: NumberErrorKind::Negative,
            })
        }
        _ => {}
    }
    let (base, digits_start) =
        if b.get(i) == Some(&b'0') && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            (16, i + 2)
        } else if b.get(i) == Some(&b'0') {
            (8, i)
        } else {
            (10, i)
        };
    let mut value: u64 = 0;
    let mut j = digits_start;
    while let Some(&c) = b.get(j) {
        let d = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'a'..=b'f' => u32::from(c - b'a') + 10,
            b'A'..=b'F' => u32::from(c - b'A') + 10,
            _ => break,
        };
        if d >= base {
            // In base 10/8 the letters K, M, G end the digits; anything else is wrong.
            break;
        }
        value = value * u64::from(base) + u64::from(d);
        if value > max {
            return Err(NumberError {
                at: digits_start,
                kind: NumberErrorKind::Overflow,
            });
        }
        j += 1;
    }
    if j == digits_start {
        let kind = if j >= b.len() && base != 16 {
            NumberErrorKind::Empty
        } else {
            NumberErrorKind::BadDigit { base }
        };
        return Err(NumberError { at: j, kind });
    }
    let mult = match b.get(j) {
        None => 1,
        Some(b'K') => KIB,
        Some(b'M') => MIB,
        Some(b'G') => GIB,
        Some(_) => {
            return Err(NumberError {
                at: j,
                kind: NumberErrorKind::BadDigit { base },
            })
        }
    };
    if mult != 1 {
        j += 1;
        if j < b.len() {
            return Err(NumberError {
                at: j,
                kind: NumberErrorKind::Trailing,
            });
        }
    }
    let total = value * u64::from(mult);
    if total > max {
        return Err(NumberError {
            at: digits_start,
            kind: NumberErrorKind::Overflow,
        });
    }
    Ok(total)
}

/// Largest machine memory the tools accept: what ia32 addresses without PAE.
pub const MAX_MACHINE_MEMORY: u64 = 1 << 32;

/// A machine memory size as both tools take it on the command line
/// (`--memory`): a plain decimal number is MiB (`512`, as QEMU's `-m`),
/// otherwise the number syntax of [`parse_size`] (`512M`, `1G`,
/// `0x20000000`), at most [`MAX_MACHINE_MEMORY`]. Returns bytes.
pub fn parse_memory(text: &str) -> Result<u64, NumberError> {
    if !text.is_empty() && text.bytes().all(|c| c.is_ascii_digit()) && !text.starts_with('0') {
        let mib = parse_size_up_to(text, MAX_MACHINE_MEMORY >> 20)?;
        return Ok(mib << 20);
    }
    parse_size_up_to(text, MAX_MACHINE_MEMORY)
}

/// The original's reading of the text that follows `name=` (spec §2.2), kept so
/// the strict reader can be checked against it: `strtoul` base 0 over 32 bits
/// (blanks skipped, sign, saturation), one optional upper-case suffix with
/// wrapping multiplication, and 0 unless a blank or the end follows.
pub fn compat_size(rest: &str) -> u32 {
    let b = rest.as_bytes();
    let mut i = 0;
    while matches!(b.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    let mut negative = false;
    match b.get(i) {
        Some(b'+') => i += 1,
        Some(b'-') => {
            negative = true;
            i += 1
        }
        _ => {}
    }
    let base: u64 = if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        i += 2;
        16
    } else if b.get(i) == Some(&b'0') {
        8
    } else {
        10
    };
    let start = i;
    let mut value: u64 = 0;
    while let Some(d) = b.get(i).and_then(|&c| (c as char).to_digit(base as u32)) {
        value = (value * base + u64::from(d)).min(u64::from(u32::MAX) + 1);
        i += 1;
    }
    if i == start {
        return 0;
    }
    let mut v = value.min(u64::from(u32::MAX)) as u32;
    if negative {
        v = v.wrapping_neg();
    }
    match b.get(i) {
        Some(b'K') => {
            v = v.wrapping_mul(KIB);
            i += 1
        }
        Some(b'M') => {
            v = v.wrapping_mul(MIB);
            i += 1
        }
        Some(b'G') => {
            v = v.wrapping_mul(GIB);
            i += 1
        }
        _ => {}
    }
    match b.get(i) {
        None | Some(b' ' | b'\t') => v,
        _ => 0,
    }
}

/// Formats a byte count the way the generators write it: the largest exact
/// `G`/`M`/`K` suffix, else decimal, so the text reads back to the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(pub u32);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v != 0 && v.is_multiple_of(GIB) {
            write!(f, "{}G", v / GIB)
        } else if v != 0 && v.is_multiple_of(MIB) {
            write!(f, "{}M", v / MIB)
        } else if v != 0 && v.is_multiple_of(KIB) {
            write!(f, "{}K", v / KIB)
        } else {
            write!(f, "{v}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_accepts_the_documented_forms() {
        assert_eq!(parse_size("64M"), Ok(64 * MIB));
        assert_eq!(parse_size("131072K"), Ok(128 * MIB));
        assert_eq!(parse_size("3G"), Ok(3 * GIB));
        assert_eq!(parse_size("0x1000000"), Ok(0x100_0000));
        assert_eq!(parse_size("0X10M"), Ok(16 * MIB));
        assert_eq!(parse_size("0100"), Ok(64));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("+12"), Ok(12));
        assert_eq!(parse_size("4294967295"), Ok(u32::MAX));
    }

    #[test]
    fn strict_refuses_the_traps() {
        assert_eq!(
            parse_size("64MB").unwrap_err(),
            NumberError {
                at: 3,
                kind: NumberErrorKind::Trailing
            }
        );
        assert_eq!(
            parse_size("64m").unwrap_err().kind,
            NumberErrorKind::BadDigit { base: 10 }
        );
        assert_eq!(
            parse_size("M").unwrap_err().kind,
            NumberErrorKind::BadDigit { base: 10 }
        );
        assert_eq!(parse_size("").unwrap_err().kind, NumberErrorKind::Empty);
        assert_eq!(
            parse_size("4G").unwrap_err().kind,
            NumberErrorKind::Overflow
        );
        assert_eq!(
            parse_size("4294967296").unwrap_err().kind,
            NumberErrorKind::Overflow
        );
        assert_eq!(
            parse_size("-1").unwrap_err().kind,
            NumberErrorKind::Negative
        );
        assert_eq!(
            parse_size("08").unwrap_err(),
            NumberError {
                at: 1,
                kind: NumberErrorKind::BadDigit { base: 8 }
            }
        );
        assert_eq!(
            parse_size("0x").unwrap_err().kind,
            NumberErrorKind::BadDigit { base: 16 }
        );
        assert_eq!(
            parse_size("12Q").unwrap_err().kind,
            NumberErrorKind::BadDigit { base: 10 }
        );
    }

    #[test]
    fn compat_reproduces_the_original() {
        assert_eq!(compat_size("64M rest"), 64 * MIB);
        assert_eq!(compat_size("64MB"), 0);
        assert_eq!(compat_size("64m"), 0);
        assert_eq!(compat_size("M"), 0);
        assert_eq!(compat_size("4G"), 0);
        assert_eq!(compat_size("-1"), u32::MAX);
        assert_eq!(compat_size(" \t16M"), 16 * MIB);
        assert_eq!(compat_size("99999999999"), u32::MAX);
        assert_eq!(compat_size("0x10\tx"), 16);
        assert_eq!(compat_size("010"), 8);
        assert_eq!(compat_size("exactmap"), 0);
    }

    #[test]
    fn size_display_round_trips() {
        for v in [0, 1, 1024, 4 * MIB, 3 * GIB, 0x1234, 168 * MIB] {
            let s = std::format!("{}", Size(v));
            assert_eq!(parse_size(&s), Ok(v), "{s}");
        }
    }
}
