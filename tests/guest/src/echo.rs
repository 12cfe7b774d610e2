//! `mode=echo`: what the guest does with console input (it prints what
//! arrived, so a boot scenario can compare it with what was typed).
//!
//! Two ways in (resourcemon.md §5.5, §7.5): the shared page's `console_rx`,
//! a stack the monitor pushes onto (`len := len + 1; raw[len] := byte`) and
//! the guest pops from (`raw[len]`, then `len - 1`, as the afterburn wedge
//! does), and `IConsole::get_chars`, which answers up to 128 bytes.

use core::fmt;

/// Offset of `console_rx` in the shared page (§5.3).
pub const CONSOLE_RX: usize = 1_055_788;
/// Offset of `console_rx.len` in the shared page.
pub const CONSOLE_RX_LEN: usize = CONSOLE_RX + 128;
/// The most bytes one `get_chars` line of `mode=echo` collects.
pub const LINE_MAX: usize = 512;

/// The `raw` index a consumer reads when `len` reads `len`: 1..=127.
/// Index 128 would be `len`'s own low byte (the original's off-by-one,
/// which this monitor never produces), so a `len` of 128 or more is a
/// broken stream: nothing is taken.
pub fn rx_index(len: u32) -> Option<usize> {
    (1..128).contains(&len).then_some(len as usize)
}

/// Bytes shown as a Rust-like string body: printable ASCII as is (`"`
/// and `\` escaped), `\n`, `\r`, `\t`, everything else `\xNN`.
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                b'\n' => f.write_str("\\n")?,
                b'\r' => f.write_str("\\r")?,
                b'\t' => f.write_str("\\t")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn escapes() {
        assert_eq!(
            format!("{}", Escaped(b"a \"b\\\n\x1b[A\xff")),
            "a \\\"b\\\\\\n\\x1b[A\\xff"
        );
    }

    #[test]
    fn rx_indexes() {
        assert_eq!(rx_index(0), None);
        assert_eq!(rx_index(1), Some(1));
        assert_eq!(rx_index(127), Some(127));
        assert_eq!(rx_index(128), None);
        assert_eq!(rx_index(u32::MAX), None);
    }
}
