//! A safe reader over the bytes of the kernel interface page (§2).
//!
//! The root task maps the KIP and hands its bytes to [`Kip::parse`]; all
//! decoding is plain Rust that the host tests exercise with built pages.

use core::fmt;

/// Little-endian word reader over a byte slice, for ia32 (4) or amd64 (8).
#[derive(Clone, Copy)]
pub(crate) struct WordReader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) word: usize,
}

impl<'a> WordReader<'a> {
    /// The word at byte `offset`, or `None` past the end.
    pub(crate) fn at(&self, offset: usize) -> Option<u64> {
        let b = self.bytes.get(offset..offset.checked_add(self.word)?)?;
        let mut v = [0u8; 8];
        v[..self.word].copy_from_slice(b);
        Some(u64::from_le_bytes(v))
    }

    /// The word with index `index`.
    pub(crate) fn index(&self, index: usize) -> Option<u64> {
        self.at(index.checked_mul(self.word)?)
    }
}

/// The KIP magic: 'L', '4', 0xE6, 'K'.
pub const KIP_MAGIC: [u8; 4] = [b'L', b'4', 0xe6, b'K'];

/// Word indexes of the KIP fields (§2.1); byte offset = index × word size.
pub mod field {
    #![allow(missing_docs)]
    pub const MAGIC: usize = 0;
    pub const API_VERSION: usize = 1;
    pub const API_FLAGS: usize = 2;
    pub const KERNEL_VER_PTR: usize = 3;
    pub const SIGMA0: usize = 8;
    pub const ROOT_SERVER: usize = 16;
    pub const MEMORY_INFO: usize = 21;
    pub const UTCB_INFO: usize = 42;
    pub const KIP_AREA_INFO: usize = 43;
    pub const BOOT_INFO: usize = 46;
    pub const PROC_DESC_PTR: usize = 47;
    pub const CLOCK_INFO: usize = 48;
    pub const THREAD_INFO: usize = 49;
    pub const PAGE_INFO: usize = 50;
    pub const PROCESSOR_INFO: usize = 51;
    pub const SPACE_CONTROL: usize = 52;
    pub const THREAD_CONTROL: usize = 53;
    pub const PROCESSOR_CONTROL: usize = 54;
    pub const MEMORY_CONTROL: usize = 55;
    pub const IPC: usize = 56;
    pub const LIPC: usize = 57;
    pub const UNMAP: usize = 58;
    pub const EXCHANGE_REGISTERS: usize = 59;
    pub const SYSTEM_CLOCK: usize = 60;
    pub const THREAD_SWITCH: usize = 61;
    pub const SCHEDULE: usize = 62;
    /// Number of words in the KIP structure.
    pub const WORDS: usize = 72;
}

/// What is wrong with a KIP image.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KipError {
    /// The slice is shorter than the KIP structure.
    Truncated {
        /// Bytes given.
        len: usize,
        /// Bytes needed.
        need: usize,
    },
    /// The first four bytes are not 'L4', 0xE6, 'K'.
    BadMagic([u8; 4]),
    /// The API flags say another word size than the reader was asked for.
    WordSize {
        /// Word size the flags announce, in bytes.
        kip: usize,
        /// Word size asked for.
        expected: usize,
    },
    /// The memory-descriptor array lies outside the page.
    DescriptorsOutside {
        /// Offset of the array.
        offset: usize,
        /// Number of descriptors.
        count: usize,
    },
}

impl fmt::Display for KipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KipError::Truncated { len, need } => {
                write!(f, "KIP image has {len} bytes, needs {need}")
            }
            KipError::BadMagic(m) => write!(f, "KIP magic is {m:02x?}, expected 'L4', 0xe6, 'K'"),
            KipError::WordSize { kip, expected } => {
                write!(
                    f,
                    "KIP announces {}-bit words, this build expects {}-bit",
                    kip * 8,
                    expected * 8
                )
            }
            KipError::DescriptorsOutside { offset, count } => {
                write!(
                    f,
                    "KIP memory descriptors ({count} at offset {offset:#x}) lie outside the page"
                )
            }
        }
    }
}

/// Type of a memory descriptor (§2.3), subtype included for 0xE and 0xF.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemoryType {
    /// 0x0.
    Undefined,
    /// 0x1: RAM.
    Conventional,
    /// 0x2: the kernel's.
    Reserved,
    /// 0x3.
    Dedicated,
    /// 0x4: devices, holes.
    Shared,
    /// 0xE with subtype: 1 boot info, 2 initial servers, 3 boot modules.
    BootLoader(u8),
    /// 0xF with subtype (e820 type on PCs).
    Arch(u8),
    /// Reserved type numbers.
    Other(u8),
}

impl MemoryType {
    fn from_bits(kind: u8, sub: u8) -> MemoryType {
        match kind {
            0x0 => MemoryType::Undefined,
            0x1 => MemoryType::Conventional,
            0x2 => MemoryType::Reserved,
            0x3 => MemoryType::Dedicated,
            0x4 => MemoryType::Shared,
            0xe => MemoryType::BootLoader(sub),
            0xf => MemoryType::Arch(sub),
            k => MemoryType::Other(k),
        }
    }

    /// The composite number the X.2 helpers report (type + subtype << 4).
    pub fn code(self) -> u8 {
        match self {
            MemoryType::Undefined => 0,
            MemoryType::Conventional => 1,
            MemoryType::Reserved => 2,
            MemoryType::Dedicated => 3,
            MemoryType::Shared => 4,
            MemoryType::BootLoader(s) => 0xe | (s << 4),
            MemoryType::Arch(s) => 0xf | (s << 4),
            MemoryType::Other(k) => k,
        }
    }
}

/// One memory descriptor; `high` is inclusive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MemoryDesc {
    /// Type and subtype.
    pub kind: MemoryType,
    /// Describes virtual (not physical) memory.
    pub is_virtual: bool,
    /// First byte.
    pub low: u64,
    /// Last byte.
    pub high: u64,
}

impl MemoryDesc {
    /// Decode the two descriptor words.
    pub fn from_words(w0: u64, w1: u64) -> MemoryDesc {
        MemoryDesc {
            kind: MemoryType::from_bits((w0 & 0xf) as u8, ((w0 >> 4) & 0xf) as u8),
            is_virtual: w0 & (1 << 9) != 0,
            low: w0 & !0x3ff,
            high: (w1 & !0x3ff) | 0x3ff,
        }
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.high.wrapping_sub(self.low).wrapping_add(1)
    }
}

/// One processor descriptor (§2.2: at KIP + ProcDescPtr + cpu × 2^s):
/// what the kernel says about each CPU, for the boot report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ProcessorDesc {
    /// External (bus) frequency in kHz.
    pub external_khz: u64,
    /// Internal (core) frequency in kHz.
    pub internal_khz: u64,
    /// Frequency-change word (0: none announced).
    pub frequency_change: u64,
    /// The architecture-specific word.
    pub arch: u64,
}

/// Thread-number ranges (ThreadInfo, §2.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ThreadInfo {
    /// Valid thread-number bits.
    pub bits: u32,
    /// First kernel thread number (= number of interrupt lines).
    pub system_base: u32,
    /// First user thread number (sigma0).
    pub user_base: u32,
}

/// An initial server's image and entry (sigma0, sigma1, root server).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ServerDesc {
    /// Initial stack pointer (0: the server sets its own).
    pub sp: u64,
    /// Entry point.
    pub ip: u64,
    /// First byte of the image.
    pub low: u64,
    /// End of the image (exclusive, as kickstart writes it).
    pub high: u64,
}

/// A parsed view of a KIP.
#[derive(Clone, Copy)]
pub struct Kip<'a> {
    r: WordReader<'a>,
}

impl<'a> Kip<'a> {
    /// Check and wrap a KIP image with `word`-byte words (4 on ia32).
    pub fn parse(bytes: &'a [u8], word: usize) -> Result<Kip<'a>, KipError> {
        let need = field::WORDS * word;
        if bytes.len() < need {
            return Err(KipError::Truncated {
                len: bytes.len(),
                need,
            });
        }
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != KIP_MAGIC {
            return Err(KipError::BadMagic(magic));
        }
        let kip = Kip {
            r: WordReader { bytes, word },
        };
        let announced = if (kip.word(field::API_FLAGS) >> 2) & 3 == 1 {
            8
        } else {
            4
        };
        if announced != word {
            return Err(KipError::WordSize {
                kip: announced,
                expected: word,
            });
        }
        let (offset, count) = kip.memory_desc_location();
        let end = count
            .checked_mul(2 * word)
            .and_then(|n| n.checked_add(offset));
        if end.is_none_or(|end| end > bytes.len()) {
            return Err(KipError::DescriptorsOutside { offset, count });
        }
        Ok(kip)
    }

    fn word(&self, index: usize) -> u64 {
        // parse() checked the structure's length.
        self.r.index(index).unwrap_or(0)
    }

    /// The API version word (0x84050000 for Pistachio's X.2).
    pub fn api_version(&self) -> u32 {
        self.word(field::API_VERSION) as u32
    }

    /// The API flags word.
    pub fn api_flags(&self) -> u32 {
        self.word(field::API_FLAGS) as u32
    }

    /// Kernel id word from the kernel descriptor (id << 24 | subid << 16).
    pub fn kernel_id(&self) -> Option<u32> {
        self.r
            .at(self.word(field::KERNEL_VER_PTR) as usize)
            .map(|w| w as u32)
    }

    /// Kernel supplier (4 ASCII bytes, "UKa " for Pistachio).
    pub fn kernel_supplier(&self) -> Option<[u8; 4]> {
        let at = self.word(field::KERNEL_VER_PTR) as usize + 3 * self.r.word;
        let b = self.r.bytes.get(at..at + 4)?;
        Some([b[0], b[1], b[2], b[3]])
    }

    /// The kernel's version string (after the kernel descriptor's four words).
    pub fn kernel_version_string(&self) -> Option<&'a str> {
        let at = self.word(field::KERNEL_VER_PTR) as usize + 4 * self.r.word;
        let rest = self.r.bytes.get(at..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        core::str::from_utf8(&rest[..len]).ok()
    }

    fn server(&self, first: usize) -> ServerDesc {
        ServerDesc {
            sp: self.word(first),
            ip: self.word(first + 1),
            low: self.word(first + 2),
            high: self.word(first + 3),
        }
    }

    /// sigma0's image.
    pub fn sigma0(&self) -> ServerDesc {
        self.server(field::SIGMA0)
    }

    /// The root server's image (ours).
    pub fn root_server(&self) -> ServerDesc {
        self.server(field::ROOT_SERVER)
    }

    fn memory_desc_location(&self) -> (usize, usize) {
        let info = self.word(field::MEMORY_INFO);
        let half = self.r.word * 4;
        let count = (info & ((1u64 << half) - 1)) as usize;
        let offset = (info >> half) as usize;
        (offset, count)
    }

    /// The memory descriptors, in order (later ones override earlier ones).
    pub fn memory_descs(&self) -> impl Iterator<Item = MemoryDesc> + 'a {
        let (offset, count) = self.memory_desc_location();
        let r = self.r;
        (0..count).map(move |i| {
            let at = offset + i * 2 * r.word;
            MemoryDesc::from_words(r.at(at).unwrap_or(0), r.at(at + r.word).unwrap_or(0))
        })
    }

    /// UTCB geometry: (log2 minimal area size, log2 alignment, multiplier).
    pub fn utcb_info(&self) -> (u32, u32, u32) {
        let w = self.word(field::UTCB_INFO);
        (
            ((w >> 16) & 0x3f) as u32,
            ((w >> 10) & 0x3f) as u32,
            (w & 0x3ff) as u32,
        )
    }

    /// Size of one UTCB in bytes.
    pub fn utcb_size(&self) -> u64 {
        let (_, align, mult) = self.utcb_info();
        (mult as u64) << align
    }

    /// log2 of the KIP area size.
    pub fn kip_area_log2(&self) -> u32 {
        (self.word(field::KIP_AREA_INFO) & 0x3f) as u32
    }

    /// Physical address of the boot information (0 if none).
    pub fn boot_info(&self) -> u64 {
        self.word(field::BOOT_INFO)
    }

    /// Thread-number ranges.
    pub fn thread_info(&self) -> ThreadInfo {
        let w = self.word(field::THREAD_INFO);
        ThreadInfo {
            bits: (w & 0xff) as u32,
            system_base: ((w >> 8) & 0xfff) as u32,
            user_base: ((w >> 20) & 0xfff) as u32,
        }
    }

    /// Supported hardware page sizes as a mask (bit k set = 2^k bytes).
    pub fn page_size_mask(&self) -> u64 {
        self.word(field::PAGE_INFO) & !0x3ff
    }

    /// Page sizes, largest first, as log2 values.
    pub fn page_sizes_largest_first(&self) -> impl Iterator<Item = u32> {
        let mask = self.page_size_mask();
        (10..64u32).rev().filter(move |k| mask & (1u64 << k) != 0)
    }

    /// Number of processors.
    pub fn processors(&self) -> u32 {
        (self.word(field::PROCESSOR_INFO) & 0xffff) as u32 + 1
    }

    /// Internal (core) frequency of processor 0 in kHz, if the descriptor is there.
    pub fn cpu0_khz(&self) -> Option<u64> {
        self.processor_desc(0).map(|d| d.internal_khz)
    }

    /// log2 of one processor descriptor's size in bytes (ProcessorInfo's
    /// top four bits; §2.2). Pistachio's ia32 KIP says 4 (16 bytes).
    pub fn processor_desc_log2(&self) -> u32 {
        let shift = self.r.word as u32 * 8 - 4;
        ((self.word(field::PROCESSOR_INFO) >> shift) & 0xf) as u32
    }

    /// The descriptor of processor `cpu` (at ProcDescPtr + cpu × 2^s), or
    /// `None` past the last processor or outside the page.
    pub fn processor_desc(&self, cpu: u32) -> Option<ProcessorDesc> {
        if cpu >= self.processors() {
            return None;
        }
        // A size below four words would overlap the next descriptor; read
        // four words apart then (what Pistachio's own layout gives).
        let log2 = self
            .processor_desc_log2()
            .max(self.r.word.trailing_zeros() + 2);
        let at = (self.word(field::PROC_DESC_PTR) as usize)
            .checked_add((cpu as usize).checked_shl(log2)?)?;
        let w = |i: usize| self.r.at(at.checked_add(i * self.r.word)?);
        Some(ProcessorDesc {
            external_khz: w(0)?,
            internal_khz: w(1)?,
            frequency_change: w(2)?,
            arch: w(3)?,
        })
    }

    /// Every processor descriptor, processor 0 first (as many as
    /// [`Kip::processors`] says, fewer if some lie outside the page).
    pub fn processor_descs(&self) -> impl Iterator<Item = ProcessorDesc> + '_ {
        (0..self.processors()).map_while(|c| self.processor_desc(c))
    }

    /// A system-call link word (ia32: byte offset from the KIP base; §2.4).
    pub fn syscall_link(&self, index: usize) -> u64 {
        self.word(index)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an ia32 KIP page the way Pistachio lays it out (§2.1–2.3).
    pub(crate) fn sample_ia32_kip() -> [u8; 4096] {
        let mut p = [0u8; 4096];
        fn put(p: &mut [u8], index: usize, v: u32) {
            p[index * 4..index * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        put(&mut p, 0, u32::from_le_bytes(KIP_MAGIC));
        put(&mut p, field::API_VERSION, 0x8405_0000);
        put(&mut p, field::KERNEL_VER_PTR, 0x130);
        put(&mut p, field::ROOT_SERVER + 1, 0x0100_0000);
        put(&mut p, field::ROOT_SERVER + 2, 0x0100_0000);
        put(&mut p, field::ROOT_SERVER + 3, 0x0102_0000);
        put(&mut p, field::MEMORY_INFO, (0x200 << 16) | 3);
        put(&mut p, field::UTCB_INFO, 0x000c_2401);
        put(&mut p, field::KIP_AREA_INFO, 12);
        put(&mut p, field::BOOT_INFO, 0x0009_0000);
        put(&mut p, field::PROC_DESC_PTR, 0x120);
        put(&mut p, field::THREAD_INFO, (48 << 20) | (16 << 8) | 17);
        put(&mut p, field::PAGE_INFO, 0x0040_1006);
        put(&mut p, field::IPC, 0x800);
        put(&mut p, 0x120 / 4 + 1, 2_000_000);
        put(&mut p, 0x130 / 4, 0x0402_0000);
        p[0x13c..0x140].copy_from_slice(b"UKa ");
        p[0x140..0x14b].copy_from_slice(b"Pistachio\0\0");
        // shared 0..4G, conventional 0..128M (physical), user area (virtual).
        let descs: [(u32, u32); 3] = [
            (0x4, 0xffff_fc00),
            (0x1, 0x07ff_fc00),
            (0x1 | 1 << 9, 0xbfff_fc00),
        ];
        for (i, (w0, w1)) in descs.iter().enumerate() {
            put(&mut p, 0x200 / 4 + 2 * i, *w0);
            put(&mut p, 0x200 / 4 + 2 * i + 1, *w1);
        }
        p
    }

    #[test]
    fn reads_every_field_of_a_sample_kip() {
        let page = sample_ia32_kip();
        let kip = Kip::parse(&page, 4).unwrap();
        assert_eq!(kip.api_version(), 0x8405_0000);
        assert_eq!(kip.kernel_id(), Some(0x0402_0000));
        assert_eq!(kip.kernel_supplier(), Some(*b"UKa "));
        assert_eq!(kip.kernel_version_string(), Some("Pistachio"));
        assert_eq!(kip.utcb_info(), (12, 9, 1));
        assert_eq!(kip.utcb_size(), 512);
        assert_eq!(kip.kip_area_log2(), 12);
        assert_eq!(kip.boot_info(), 0x9_0000);
        assert_eq!(
            kip.thread_info(),
            ThreadInfo {
                bits: 17,
                system_base: 16,
                user_base: 48
            }
        );
        assert_eq!(
            kip.page_sizes_largest_first().collect::<std::vec::Vec<_>>(),
            [22, 12]
        );
        assert_eq!(kip.processors(), 1);
        assert_eq!(kip.cpu0_khz(), Some(2_000_000));
        assert_eq!(kip.processor_descs().count(), 1);
        assert_eq!(kip.processor_desc(1), None);
        assert_eq!(kip.root_server().ip, 0x0100_0000);
        assert_eq!(kip.syscall_link(field::IPC), 0x800);
        let d: [MemoryDesc; 3] = core::array::from_fn(|i| kip.memory_descs().nth(i).unwrap());
        assert_eq!(d[0].kind, MemoryType::Shared);
        assert_eq!(
            (d[1].kind, d[1].low, d[1].size()),
            (MemoryType::Conventional, 0, 128 << 20)
        );
        assert!(d[2].is_virtual);
        assert_eq!(kip.memory_descs().count(), 3);
    }

    #[test]
    fn reads_every_processor_descriptor() {
        let mut page = sample_ia32_kip();
        let put = |p: &mut [u8; 4096], at: usize, v: u32| {
            p[at..at + 4].copy_from_slice(&v.to_le_bytes());
        };
        // Four CPUs, 16-byte descriptors (size log2 4 in bits 28-31).
        put(&mut page, field::PROCESSOR_INFO * 4, (4 << 28) | 3);
        for cpu in 0..4u32 {
            let at = 0x120 + 16 * cpu as usize;
            put(&mut page, at, 100_000 + cpu);
            put(&mut page, at + 4, 2_000_000 + cpu);
            put(&mut page, at + 8, 0);
            put(&mut page, at + 12, 0x10 + cpu);
        }
        let kip = Kip::parse(&page, 4).unwrap();
        assert_eq!(kip.processors(), 4);
        assert_eq!(kip.processor_desc_log2(), 4);
        let d: std::vec::Vec<ProcessorDesc> = kip.processor_descs().collect();
        assert_eq!(d.len(), 4);
        assert_eq!(
            d[3],
            ProcessorDesc {
                external_khz: 100_003,
                internal_khz: 2_000_003,
                frequency_change: 0,
                arch: 0x13
            }
        );
        assert_eq!(kip.processor_desc(4), None);
        // A descriptor array running off the page ends the list there.
        put(&mut page, field::PROC_DESC_PTR * 4, 0xfe0);
        let kip = Kip::parse(&page, 4).unwrap();
        assert_eq!(kip.processor_descs().count(), 2);
    }

    #[test]
    fn rejects_bad_images() {
        let mut page = sample_ia32_kip();
        assert_eq!(
            Kip::parse(&page[..100], 4).err(),
            Some(KipError::Truncated {
                len: 100,
                need: 288
            })
        );
        assert_eq!(
            Kip::parse(&page, 8).err(),
            Some(KipError::WordSize {
                kip: 4,
                expected: 8
            })
        );
        page[field::MEMORY_INFO * 4..field::MEMORY_INFO * 4 + 4]
            .copy_from_slice(&((0xff0u32 << 16) | 9).to_le_bytes());
        assert_eq!(
            Kip::parse(&page, 4).err(),
            Some(KipError::DescriptorsOutside {
                offset: 0xff0,
                count: 9
            })
        );
        page[1] = b'5';
        assert!(matches!(Kip::parse(&page, 4), Err(KipError::BadMagic(_))));
    }

    #[test]
    fn memory_type_codes_match_helpers() {
        let d = MemoryDesc::from_words(0x0010_002e, 0x0010_3c00);
        assert_eq!(d.kind, MemoryType::BootLoader(2));
        assert_eq!(d.kind.code(), 0x2e);
        assert_eq!(d.size(), 0x4000);
    }
}
