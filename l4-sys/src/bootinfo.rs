//! A safe reader over the generic BootInfo that kickstart builds (§7).
//!
//! Every offset read from the image is checked, so a corrupt boot-info page
//! gives a [`BootInfoError`] naming the record and offset, never a panic.

use crate::kip::WordReader;
use core::fmt;

/// Header magic.
pub const MAGIC: u64 = 0x14B0_021D;
/// Record type numbers (§7.2).
pub mod rec {
    /// A boot module (start, size, command line).
    pub const MODULE: u64 = 0x0001;
    /// An ELF executable decoded by the loader.
    pub const SIMPLE_EXEC: u64 = 0x0002;
    /// EFI tables.
    pub const EFI_TABLES: u64 = 0x0101;
    /// The address of a multiboot-info copy.
    pub const MULTIBOOT: u64 = 0x0102;
}

/// What is wrong with a boot-info image.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BootInfoError {
    /// Fewer bytes than the header or the size it announces.
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes the header or a record needs.
        need: usize,
    },
    /// The magic word is not 0x14B0021D (kickstart may have stored a multiboot pointer instead).
    BadMagic(u64),
    /// Only version 1 is defined.
    BadVersion(u64),
    /// A record's fields or link point outside the image.
    RecordOutside {
        /// Index of the record.
        index: usize,
        /// Byte offset of the record from the start of the boot info.
        offset: usize,
    },
    /// A record's command line is not NUL-terminated inside the image.
    UnterminatedCmdline {
        /// Index of the record.
        index: usize,
        /// Byte offset of the command line.
        offset: usize,
    },
    /// A record's command line is not UTF-8.
    CmdlineNotUtf8 {
        /// Index of the record.
        index: usize,
        /// Byte offset of the command line.
        offset: usize,
    },
}

impl fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootInfoError::Truncated { len, need } => {
                write!(f, "boot info has {len} bytes, needs {need}")
            }
            BootInfoError::BadMagic(m) => {
                write!(f, "boot info magic is {m:#x}, expected {MAGIC:#x}")
            }
            BootInfoError::BadVersion(v) => write!(f, "boot info version is {v}, only 1 is known"),
            BootInfoError::RecordOutside { index, offset } => {
                write!(
                    f,
                    "boot info record {index} at offset {offset:#x} lies outside the image"
                )
            }
            BootInfoError::UnterminatedCmdline { index, offset } => write!(
                f,
                "boot info record {index}: command line at offset {offset:#x} has no NUL terminator"
            ),
            BootInfoError::CmdlineNotUtf8 { index, offset } => {
                write!(
                    f,
                    "boot info record {index}: command line at offset {offset:#x} is not UTF-8"
                )
            }
        }
    }
}

/// One decoded record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Record<'a> {
    /// A module loaded into memory as is.
    Module {
        /// Physical start.
        start: u64,
        /// Size in bytes.
        size: u64,
        /// Its command line ("" when none), module path included.
        cmdline: &'a str,
    },
    /// An ELF image the loader decoded (sigma0, the root task, ...).
    SimpleExec {
        /// Physical start of text.
        text_pstart: u64,
        /// Virtual start of text.
        text_vstart: u64,
        /// Text size.
        text_size: u64,
        /// Physical start of data.
        data_pstart: u64,
        /// Data size.
        data_size: u64,
        /// Entry point.
        initial_ip: u64,
        /// ELF class byte (1 = 32-bit, 2 = 64-bit).
        flags: u64,
        /// Its command line.
        cmdline: &'a str,
    },
    /// Physical address of the multiboot info copy.
    Multiboot {
        /// Physical address.
        address: u64,
    },
    /// EFI system table and memory map.
    EfiTables {
        /// Physical address of the system table.
        systab: u64,
    },
    /// A record type this reader does not know; skipped, not an error.
    Unknown {
        /// Its type number.
        kind: u64,
    },
}

impl<'a> Record<'a> {
    /// The record type number.
    pub fn kind(&self) -> u64 {
        match self {
            Record::Module { .. } => rec::MODULE,
            Record::SimpleExec { .. } => rec::SIMPLE_EXEC,
            Record::Multiboot { .. } => rec::MULTIBOOT,
            Record::EfiTables { .. } => rec::EFI_TABLES,
            Record::Unknown { kind } => *kind,
        }
    }

    /// Physical start and size of the memory the record describes, if any.
    pub fn region(&self) -> Option<(u64, u64)> {
        match *self {
            Record::Module { start, size, .. } => Some((start, size)),
            Record::SimpleExec {
                text_pstart,
                text_size,
                data_pstart,
                data_size,
                ..
            } => {
                let end = (text_pstart + text_size).max(data_pstart + data_size);
                let start = if data_size == 0 {
                    text_pstart
                } else {
                    text_pstart.min(data_pstart)
                };
                Some((start, end - start))
            }
            _ => None,
        }
    }

    /// The command line, for record types that have one.
    pub fn cmdline(&self) -> Option<&'a str> {
        match *self {
            Record::Module { cmdline, .. } | Record::SimpleExec { cmdline, .. } => Some(cmdline),
            _ => None,
        }
    }
}

/// A checked boot-info image.
#[derive(Clone, Copy)]
pub struct BootInfo<'a> {
    r: WordReader<'a>,
    first: usize,
    count: usize,
}

impl<'a> BootInfo<'a> {
    /// Size of the header in words.
    pub const HEADER_WORDS: usize = 8;

    /// Check the header of a boot-info image with `word`-byte words.
    ///
    /// `bytes` may be longer than the image; only the announced size is read.
    pub fn parse(bytes: &'a [u8], word: usize) -> Result<BootInfo<'a>, BootInfoError> {
        let header = Self::HEADER_WORDS * word;
        if bytes.len() < header {
            return Err(BootInfoError::Truncated {
                len: bytes.len(),
                need: header,
            });
        }
        let r = WordReader { bytes, word };
        let w = |i| r.index(i).unwrap_or(0);
        if w(0) != MAGIC {
            return Err(BootInfoError::BadMagic(w(0)));
        }
        if w(1) != 1 {
            return Err(BootInfoError::BadVersion(w(1)));
        }
        let size = w(2) as usize;
        if size > bytes.len() || size < header {
            return Err(BootInfoError::Truncated {
                len: bytes.len(),
                need: size.max(header),
            });
        }
        Ok(BootInfo {
            r: WordReader {
                bytes: &bytes[..size],
                word,
            },
            first: w(3) as usize,
            count: w(4) as usize,
        })
    }

    /// Total size the header announces.
    pub fn size(&self) -> usize {
        self.r.bytes.len()
    }

    /// Number of records the header announces.
    pub fn len(&self) -> usize {
        self.count
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The records in order; a corrupt record ends the walk with its error.
    pub fn records(&self) -> Records<'a> {
        Records {
            r: self.r,
            offset: self.first,
            index: 0,
            count: self.count,
            failed: false,
        }
    }
}

/// Iterator over boot-info records.
pub struct Records<'a> {
    r: WordReader<'a>,
    offset: usize,
    index: usize,
    count: usize,
    failed: bool,
}

impl<'a> Records<'a> {
    fn field(&self, n: usize) -> Result<u64, BootInfoError> {
        let at = self.offset.checked_add(n * self.r.word);
        at.and_then(|at| self.r.at(at))
            .ok_or(BootInfoError::RecordOutside {
                index: self.index,
                offset: self.offset,
            })
    }

    fn cmdline(&self, n: usize) -> Result<&'a str, BootInfoError> {
        let rel = self.field(n)? as usize;
        if rel == 0 {
            return Ok("");
        }
        let offset = self.offset.saturating_add(rel);
        let index = self.index;
        let rest = self
            .r
            .bytes
            .get(offset..)
            .ok_or(BootInfoError::UnterminatedCmdline { index, offset })?;
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(BootInfoError::UnterminatedCmdline { index, offset })?;
        core::str::from_utf8(&rest[..len])
            .map_err(|_| BootInfoError::CmdlineNotUtf8 { index, offset })
    }

    fn decode(&self) -> Result<Record<'a>, BootInfoError> {
        let kind = self.field(0)?;
        Ok(match kind {
            rec::MODULE => Record::Module {
                start: self.field(3)?,
                size: self.field(4)?,
                cmdline: self.cmdline(5)?,
            },
            rec::SIMPLE_EXEC => Record::SimpleExec {
                text_pstart: self.field(3)?,
                text_vstart: self.field(4)?,
                text_size: self.field(5)?,
                data_pstart: self.field(6)?,
                data_size: self.field(8)?,
                initial_ip: self.field(12)?,
                flags: self.field(13)?,
                cmdline: self.cmdline(15)?,
            },
            rec::MULTIBOOT => Record::Multiboot {
                address: self.field(3)?,
            },
            rec::EFI_TABLES => Record::EfiTables {
                systab: self.field(3)?,
            },
            kind => Record::Unknown { kind },
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, BootInfoError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.index >= self.count {
            return None;
        }
        let result = self.decode().and_then(|record| {
            let next = self.field(2)? as usize;
            // A zero link would loop forever; the last record may have one.
            if next == 0 && self.index + 1 < self.count {
                return Err(BootInfoError::RecordOutside {
                    index: self.index,
                    offset: self.offset,
                });
            }
            self.offset = self.offset.saturating_add(next);
            Ok(record)
        });
        self.index += 1;
        self.failed = result.is_err();
        Some(result)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::vec::Vec;

    /// Writes a boot-info image the way kickstart does (§7.3), ia32 words.
    pub(crate) struct Builder {
        pub bytes: Vec<u8>,
        count: u32,
    }

    impl Builder {
        pub fn new() -> Builder {
            let mut bytes = Vec::new();
            for w in [MAGIC as u32, 1, 0, 0x20, 0, 0, 0, 0] {
                bytes.extend_from_slice(&w.to_le_bytes());
            }
            Builder { bytes, count: 0 }
        }

        fn record(&mut self, fields: &[u32], cmdline: Option<&str>) -> &mut Self {
            let start = self.bytes.len();
            let mut words: Vec<u32> = fields.to_vec();
            if let Some(c) = cmdline {
                let at = words.len() as u32 * 4;
                *words.last_mut().unwrap() = at;
                let mut body: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                body.extend_from_slice(c.as_bytes());
                body.push(0);
                while !body.len().is_multiple_of(4) {
                    body.push(0);
                }
                self.bytes.extend_from_slice(&body);
            } else {
                self.bytes
                    .extend(words.iter().flat_map(|w| w.to_le_bytes()));
            }
            let len = (self.bytes.len() - start) as u32;
            self.bytes[start + 8..start + 12].copy_from_slice(&len.to_le_bytes());
            self.count += 1;
            self
        }

        pub fn module(&mut self, start: u32, size: u32, cmdline: &str) -> &mut Self {
            self.record(&[1, 1, 0, start, size, 0], Some(cmdline))
        }

        pub fn simple_exec(&mut self, start: u32, size: u32, ip: u32, cmdline: &str) -> &mut Self {
            self.record(
                &[2, 1, 0, start, start, size, 0, 0, 0, 0, 0, 0, ip, 1, 0, 0],
                Some(cmdline),
            )
        }

        pub fn multiboot(&mut self, address: u32) -> &mut Self {
            self.record(&[0x102, 1, 0, address], None)
        }

        pub fn finish(&mut self) -> Vec<u8> {
            let size = self.bytes.len() as u32;
            self.bytes[8..12].copy_from_slice(&size.to_le_bytes());
            self.bytes[16..20].copy_from_slice(&self.count.to_le_bytes());
            self.bytes.clone()
        }
    }

    #[test]
    fn reads_kickstart_shaped_records() {
        let img = Builder::new()
            .simple_exec(0x20000, 0x8000, 0x20100, "(hd0,0)/sigma0")
            .simple_exec(0x1000000, 0x20000, 0x1000000, "/roottask verbose")
            .module(0x2000000, 12345, "/guest vmstart vmsize=64M")
            .multiboot(0x9000)
            .finish();
        let bi = BootInfo::parse(&img, 4).unwrap();
        assert_eq!(bi.len(), 4);
        let recs: Vec<_> = bi.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs[1].cmdline(), Some("/roottask verbose"));
        assert_eq!(recs[1].region(), Some((0x1000000, 0x20000)));
        assert_eq!(
            recs[2],
            Record::Module {
                start: 0x2000000,
                size: 12345,
                cmdline: "/guest vmstart vmsize=64M"
            }
        );
        assert_eq!(recs[3], Record::Multiboot { address: 0x9000 });
        assert_eq!(recs[3].cmdline(), None);
    }

    #[test]
    fn header_errors() {
        let img = Builder::new().module(0, 1, "x").finish();
        assert_eq!(
            BootInfo::parse(&img[..16], 4).err(),
            Some(BootInfoError::Truncated { len: 16, need: 32 })
        );
        assert_eq!(
            BootInfo::parse(&img[..40], 4).err(),
            Some(BootInfoError::Truncated {
                len: 40,
                need: img.len()
            })
        );
        let mut bad = img.clone();
        bad[0] = 0;
        assert!(matches!(
            BootInfo::parse(&bad, 4),
            Err(BootInfoError::BadMagic(_))
        ));
        let mut bad = img.clone();
        bad[4] = 2;
        assert_eq!(
            BootInfo::parse(&bad, 4).err(),
            Some(BootInfoError::BadVersion(2))
        );
    }

    #[test]
    fn corrupt_records_end_the_walk_with_an_error() {
        // A link that points past the end.
        let mut img = Builder::new().module(0, 1, "a").module(0, 2, "b").finish();
        img[0x20 + 8..0x20 + 12].copy_from_slice(&0x1000u32.to_le_bytes());
        let got: Vec<_> = BootInfo::parse(&img, 4).unwrap().records().collect();
        assert!(got[0].is_ok());
        assert_eq!(
            got[1],
            Err(BootInfoError::RecordOutside {
                index: 1,
                offset: 0x1020
            })
        );
        assert_eq!(got.len(), 2);

        // A command line without a terminator.
        let mut img = Builder::new().module(0, 1, "abc").finish();
        let n = img.len();
        img[n - 4..].copy_from_slice(b"abcd");
        let got: Vec<_> = BootInfo::parse(&img, 4).unwrap().records().collect();
        assert!(matches!(
            got[0],
            Err(BootInfoError::UnterminatedCmdline { index: 0, .. })
        ));

        // A zero link before the last record would loop.
        let mut img = Builder::new().module(0, 1, "a").module(0, 1, "b").finish();
        img[0x28..0x2c].copy_from_slice(&0u32.to_le_bytes());
        let got: Vec<_> = BootInfo::parse(&img, 4).unwrap().records().collect();
        assert_eq!(
            got,
            [Err(BootInfoError::RecordOutside {
                index: 0,
                offset: 0x20
            })]
        );
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        // A cheap deterministic fuzz: mutate a valid image byte by byte.
        let img = Builder::new()
            .simple_exec(1, 2, 3, "s")
            .module(4, 5, "m")
            .multiboot(6)
            .finish();
        for i in 0..img.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut m = img.clone();
                m[i] = v;
                if let Ok(bi) = BootInfo::parse(&m, 4) {
                    for r in bi.records().take(64).flatten() {
                        let _ = (r.cmdline().map(str::len), r.region());
                    }
                }
            }
        }
    }
}
