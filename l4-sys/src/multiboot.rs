//! A safe reader over a multiboot information structure (ia32), the
//! fallback boot-module source when kickstart builds no BootInfo
//! (`bootinfo=no`: KIP.BootInfo then holds the multiboot info's address;
//! x2-abi §7.1, resourcemon §1.4).
//!
//! Only what the monitor needs: the flags, the command line's address
//! (kickstart puts the root task's command line there) and the module
//! table. Every offset is checked; bad input is an [`MbiError`], never a
//! panic. Addresses are physical; the caller maps and reads them.

use core::fmt;

/// `flags` bit: `cmdline` is valid.
pub const FLAG_CMDLINE: u32 = 1 << 2;
/// `flags` bit: `mods_count` and `mods_addr` are valid.
pub const FLAG_MODS: u32 = 1 << 3;
/// Bytes of the fixed part the reader looks at (up to `mods_addr`).
pub const HEADER_BYTES: usize = 0x1C;
/// Bytes per module table entry.
pub const MODULE_BYTES: usize = 16;
/// Modules the monitor reads at most (kickstart's limit).
pub const MAX_MODULES: u32 = 32;

/// What is wrong with a multiboot info.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MbiError {
    /// Fewer bytes than needed.
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The flags say there is no module table.
    NoModules,
    /// More modules than a boot can have (corrupt table).
    TooManyModules(u32),
    /// A module ends before it starts.
    BadModule {
        /// Index in the table.
        index: usize,
        /// `mod_start`.
        start: u32,
        /// `mod_end`.
        end: u32,
    },
}

impl fmt::Display for MbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MbiError::Truncated { len, need } => {
                write!(f, "multiboot info truncated: {len} bytes, need {need}")
            }
            MbiError::NoModules => {
                f.write_str("multiboot info has no module table (flags bit 3 clear)")
            }
            MbiError::TooManyModules(n) => {
                write!(
                    f,
                    "multiboot info lists {n} modules; expected at most {MAX_MODULES}"
                )
            }
            MbiError::BadModule { index, start, end } => write!(
                f,
                "multiboot module {index}: end {end:#x} is below start {start:#x}"
            ),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, MbiError> {
    b.get(at..at + 4)
        .and_then(|w| w.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(MbiError::Truncated {
            len: b.len(),
            need: at + 4,
        })
}

/// The fixed part of a multiboot info.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MultibootInfo {
    /// `flags`.
    pub flags: u32,
    /// Physical address of the command line (NUL-terminated), if present.
    pub cmdline: Option<u32>,
    /// Number of modules.
    pub mods_count: u32,
    /// Physical address of the module table.
    pub mods_addr: u32,
}

impl MultibootInfo {
    /// Read the fixed part from its first [`HEADER_BYTES`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<MultibootInfo, MbiError> {
        let flags = u32_at(bytes, 0)?;
        if flags & FLAG_MODS == 0 {
            return Err(MbiError::NoModules);
        }
        let cmdline = (flags & FLAG_CMDLINE != 0)
            .then(|| u32_at(bytes, 0x10))
            .transpose()?
            .filter(|a| *a != 0);
        let mods_count = u32_at(bytes, 0x14)?;
        if mods_count > MAX_MODULES {
            return Err(MbiError::TooManyModules(mods_count));
        }
        Ok(MultibootInfo {
            flags,
            cmdline,
            mods_count,
            mods_addr: u32_at(bytes, 0x18)?,
        })
    }

    /// Bytes of the module table.
    pub fn table_bytes(&self) -> usize {
        self.mods_count as usize * MODULE_BYTES
    }
}

/// One module table entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MbiModule {
    /// First byte (physical).
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
    /// Physical address of its command line (0: none).
    pub string: u32,
}

impl MbiModule {
    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.end - self.start
    }
}

/// The entries of a module table (`table` = [`MultibootInfo::table_bytes`]
/// bytes read from `mods_addr`).
pub fn modules(table: &[u8]) -> impl Iterator<Item = Result<MbiModule, MbiError>> + '_ {
    (0..table.len() / MODULE_BYTES).map(move |i| {
        let at = i * MODULE_BYTES;
        let (start, end) = (u32_at(table, at)?, u32_at(table, at + 4)?);
        if end < start {
            return Err(MbiError::BadModule {
                index: i,
                start,
                end,
            });
        }
        Ok(MbiModule {
            start,
            end,
            string: u32_at(table, at + 8)?,
        })
    })
}

/// A NUL-terminated string at the start of `bytes` (all of it if no NUL),
/// as text; None if it is not UTF-8.
pub fn c_string(bytes: &[u8]) -> Option<&str> {
    let len = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(flags: u32, cmdline: u32, count: u32, addr: u32) -> [u8; HEADER_BYTES] {
        let mut b = [0u8; HEADER_BYTES];
        b[0..4].copy_from_slice(&flags.to_le_bytes());
        b[0x10..0x14].copy_from_slice(&cmdline.to_le_bytes());
        b[0x14..0x18].copy_from_slice(&count.to_le_bytes());
        b[0x18..0x1C].copy_from_slice(&addr.to_le_bytes());
        b
    }

    #[test]
    fn reads_the_fixed_part() {
        let m = MultibootInfo::parse(&info(FLAG_MODS | FLAG_CMDLINE, 0x9000, 5, 0x9100)).unwrap();
        assert_eq!(
            m,
            MultibootInfo {
                flags: FLAG_MODS | FLAG_CMDLINE,
                cmdline: Some(0x9000),
                mods_count: 5,
                mods_addr: 0x9100
            }
        );
        assert_eq!(m.table_bytes(), 80);
        assert_eq!(
            MultibootInfo::parse(&info(FLAG_MODS, 0x9000, 1, 0))
                .unwrap()
                .cmdline,
            None,
            "no cmdline flag"
        );
        assert_eq!(
            MultibootInfo::parse(&info(FLAG_CMDLINE, 0, 1, 0)),
            Err(MbiError::NoModules)
        );
        assert_eq!(
            MultibootInfo::parse(&info(FLAG_MODS, 0, 1000, 0)),
            Err(MbiError::TooManyModules(1000))
        );
        assert_eq!(
            MultibootInfo::parse(&[0x08, 0, 0, 0]),
            Err(MbiError::Truncated { len: 4, need: 0x18 })
        );
    }

    #[test]
    fn reads_module_entries_and_strings() {
        let mut t = [0u8; 32];
        for (i, (s, e, str_at)) in [
            (0x10_0000u32, 0x10_2000u32, 0x9200u32),
            (0x20_0000, 0x1f_0000, 0),
        ]
        .into_iter()
        .enumerate()
        {
            t[i * 16..i * 16 + 4].copy_from_slice(&s.to_le_bytes());
            t[i * 16 + 4..i * 16 + 8].copy_from_slice(&e.to_le_bytes());
            t[i * 16 + 8..i * 16 + 12].copy_from_slice(&str_at.to_le_bytes());
        }
        let v: std::vec::Vec<_> = modules(&t).collect();
        assert_eq!(
            v[0],
            Ok(MbiModule {
                start: 0x10_0000,
                end: 0x10_2000,
                string: 0x9200
            })
        );
        assert_eq!(v[0].unwrap().size(), 0x2000);
        assert_eq!(
            v[1],
            Err(MbiError::BadModule {
                index: 1,
                start: 0x20_0000,
                end: 0x1f_0000
            })
        );
        assert_eq!(c_string(b"wedge vmstart\0junk"), Some("wedge vmstart"));
        assert_eq!(c_string(b"no nul"), Some("no nul"));
        assert_eq!(c_string(b"\xff\0"), None);
    }
}
