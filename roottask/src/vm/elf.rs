//! Deciding the ELF load of a VM module (spec §3.3) and reading its special
//! sections (§4), without trusting any offset in the file.
//!
//! Headers are read with `xmas_elf` after every table it will touch has been
//! checked against the file (that crate slices and asserts on bad offsets),
//! so a malformed module yields an [`ElfError`] naming the reason and the
//! offending value, never a panic. Nothing is copied here: the result lists
//! the copy and zero operations in gpaddr terms for the ia32 side.

use core::fmt;
use core::ops::Range;

use l4_sys::types::{Fpage, FpageError, Rights};
use xmas_elf::header::{Class, Data, HeaderPt2, Type};
use xmas_elf::program::{self, ProgramHeader};
use xmas_elf::sections::SectionHeader;
use xmas_elf::ElfFile;

use super::layout::Layout;
use super::shared::{
    self, GuestHeader, SharedError, GUEST_HEADER_BYTES, SHARED_SIZE, STARTUP_SIZE,
};

/// PT_LOAD segments a VM module may have (a limit of this implementation).
pub const MAX_SEGMENTS: usize = 16;
/// Default KIP area when `.l4kip` is missing (resourcemon.h KIP_LOCATION).
pub const DEFAULT_KIP_AREA: u32 = 0x30_0000;
/// Default KIP area size, log2 (16 KB).
pub const DEFAULT_KIP_LOG2: u32 = 14;
/// Default UTCB area when `.l4utcb` is missing (UTCB_LOCATION).
pub const DEFAULT_UTCB_AREA: u32 = 0x30_4000;
/// Default UTCB area size, log2 (16 KB).
pub const DEFAULT_UTCB_LOG2: u32 = 14;
/// ELF32 header size.
pub const EHDR_SIZE: usize = 52;
/// ELF32 program header size.
pub const PHDR_SIZE: u16 = 32;
/// ELF32 section header size.
pub const SHDR_SIZE: u16 = 40;

/// The special sections of §4.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Section {
    /// `.l4kip`: the KIP area.
    Kip,
    /// `.l4utcb`: the UTCB area.
    Utcb,
    /// `.resourcemon`: the shared page.
    Shared,
    /// `.resourcemon.startup`: the start IP/SP override.
    Startup,
}

impl Section {
    /// The section name.
    pub const fn name(self) -> &'static str {
        match self {
            Section::Kip => ".l4kip",
            Section::Utcb => ".l4utcb",
            Section::Shared => ".resourcemon",
            Section::Startup => ".resourcemon.startup",
        }
    }
}

/// Which header table a [`ElfError::HeaderTable`] is about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Table {
    /// Program headers (`e_phoff`, `e_phentsize`, `e_phnum`).
    Program,
    /// Section headers (`e_shoff`, `e_shentsize`, `e_shnum`).
    Section,
}

/// Why a VM module cannot be loaded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ElfError {
    /// Shorter than the 52-byte ELF32 header.
    Truncated {
        /// File length.
        len: usize,
    },
    /// Not 7F 45 4C 46.
    BadMagic {
        /// The first bytes.
        found: [u8; 4],
    },
    /// `EI_CLASS` is not 1 (ELF32).
    NotElf32 {
        /// The byte at offset 4.
        class: u8,
    },
    /// `EI_DATA` is not 1 (little-endian).
    NotLittleEndian {
        /// The byte at offset 5.
        data: u8,
    },
    /// `e_type` is not 2 (ET_EXEC).
    NotExecutable {
        /// The value at offset 16.
        e_type: u16,
    },
    /// The module's bytes do not start on a 4-byte boundary (headers are read in place).
    ImageMisaligned {
        /// The address.
        addr: usize,
    },
    /// `e_phoff` is 0.
    NoProgramHeaders,
    /// A header table has the wrong entry size, is not 4-byte aligned, or
    /// lies (partly) outside the file.
    HeaderTable {
        /// Which table.
        table: Table,
        /// Its file offset.
        offset: u32,
        /// Entry size in the header.
        entsize: u16,
        /// Entry count.
        count: u16,
        /// File length.
        file_len: usize,
    },
    /// More than [`MAX_SEGMENTS`] PT_LOAD segments.
    TooManySegments {
        /// How many.
        count: usize,
    },
    /// No PT_LOAD segment at all.
    NoLoadSegments,
    /// `p_filesz > p_memsz`.
    SegmentFileSize {
        /// Program header index.
        index: u16,
        /// p_filesz.
        filesz: u32,
        /// p_memsz.
        memsz: u32,
    },
    /// `[p_offset, p_offset + p_filesz)` is not inside the file.
    SegmentOutsideFile {
        /// Program header index.
        index: u16,
        /// p_offset.
        offset: u32,
        /// p_filesz.
        filesz: u32,
        /// File length.
        file_len: usize,
    },
    /// The first or last byte does not translate into the VM ("ELF file doesn't fit!").
    SegmentOutsideVm {
        /// Program header index.
        index: u16,
        /// p_vaddr.
        vaddr: u32,
        /// p_memsz.
        memsz: u32,
        /// The VM size.
        vm_size: u32,
    },
    /// Both ends translate but not to one contiguous range (the segment
    /// straddles the wedge window's lower edge).
    SegmentSplit {
        /// Program header index.
        index: u16,
        /// p_vaddr.
        vaddr: u32,
        /// p_memsz.
        memsz: u32,
    },
    /// `e_shstrndx` is not a section, or the name table lies outside the file.
    NameTable {
        /// e_shstrndx.
        index: u16,
        /// The name table's offset (0 if the index is invalid).
        offset: u32,
        /// Its size.
        size: u32,
    },
    /// A KIP/UTCB section whose size gives no fpage (0 or below 1 KB).
    FpageSize {
        /// The section.
        section: Section,
        /// sh_size.
        size: u32,
    },
    /// sh_addr is not aligned to the size rounded up to a power of two.
    Misaligned {
        /// The section.
        section: Section,
        /// sh_addr.
        addr: u32,
        /// sh_size.
        size: u32,
        /// log2 of the fpage size.
        log2: u32,
    },
    /// The default KIP/UTCB area does not end at or below binary_start.
    DefaultArea {
        /// Which area.
        section: Section,
        /// End of the default area.
        end: u32,
        /// Lowest p_vaddr.
        binary_start: u32,
    },
    /// No `.resourcemon` section.
    SharedMissing,
    /// `.resourcemon` is not exactly [`SHARED_SIZE`] bytes.
    SharedSize {
        /// sh_size.
        size: u32,
    },
    /// A section's range does not translate into the VM contiguously.
    SectionOutsideVm {
        /// The section.
        section: Section,
        /// sh_addr.
        addr: u32,
        /// Bytes needed.
        size: u32,
    },
    /// `.resourcemon.startup` smaller than 12 bytes ("version mismatch").
    StartupSize {
        /// sh_size.
        size: u32,
    },
    /// The guest's initial shared page fails the version / cpu_cnt check.
    Shared(SharedError),
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ElfError::Truncated { len } => {
                write!(f, "invalid ELF binary: {len} bytes, shorter than the {EHDR_SIZE}-byte ELF32 header")
            }
            ElfError::BadMagic { found } => {
                write!(f, "invalid ELF binary: magic {found:02x?}, expected 7f 45 4c 46")
            }
            ElfError::NotElf32 { class } => {
                write!(f, "invalid ELF binary: class {class} at offset 4, expected 1 (ELF32)")
            }
            ElfError::NotLittleEndian { data } => write!(
                f,
                "invalid ELF binary: data encoding {data} at offset 5, expected 1 (little-endian)"
            ),
            ElfError::NotExecutable { e_type } => {
                write!(f, "invalid ELF binary: e_type {e_type} at offset 16, expected 2 (ET_EXEC)")
            }
            ElfError::ImageMisaligned { addr } => {
                write!(f, "module bytes at {addr:#x} are not 4-byte aligned")
            }
            ElfError::NoProgramHeaders => f.write_str("invalid ELF binary: e_phoff is 0"),
            ElfError::HeaderTable {
                table,
                offset,
                entsize,
                count,
                file_len,
            } => {
                let (name, want) = match table {
                    Table::Program => ("program", PHDR_SIZE),
                    Table::Section => ("section", SHDR_SIZE),
                };
                write!(
                    f,
                    "{name} header table at offset {offset:#x} ({count} entries of {entsize} bytes) does not fit a {file_len}-byte file; expected entries of {want} bytes at a 4-byte aligned offset inside the file"
                )
            }
            ElfError::TooManySegments { count } => {
                write!(f, "{count} PT_LOAD segments; at most {MAX_SEGMENTS} are supported")
            }
            ElfError::NoLoadSegments => f.write_str("no PT_LOAD segment"),
            ElfError::SegmentFileSize { index, filesz, memsz } => write!(
                f,
                "program header {index}: p_filesz {filesz:#x} exceeds p_memsz {memsz:#x}"
            ),
            ElfError::SegmentOutsideFile {
                index,
                offset,
                filesz,
                file_len,
            } => write!(
                f,
                "program header {index}: file bytes [{offset:#x}, +{filesz:#x}) lie outside the {file_len}-byte module"
            ),
            ElfError::SegmentOutsideVm {
                index,
                vaddr,
                memsz,
                vm_size,
            } => write!(
                f,
                "ELF file doesn't fit: program header {index} at vaddr {vaddr:#x} (+{memsz:#x}) does not translate into the VM of {vm_size:#x} bytes"
            ),
            ElfError::SegmentSplit { index, vaddr, memsz } => write!(
                f,
                "program header {index} at vaddr {vaddr:#x} (+{memsz:#x}) straddles the wedge window's edge; expected one contiguous guest-physical range"
            ),
            ElfError::NameTable {
                index,
                offset,
                size,
            } => write!(
                f,
                "section name table (e_shstrndx {index}, offset {offset:#x}, size {size:#x}) is not a section inside the file"
            ),
            ElfError::FpageSize { section, size } => write!(
                f,
                "section {}: size {size:#x} does not form an fpage; expected at least 1 KB",
                section.name()
            ),
            ElfError::Misaligned {
                section,
                addr,
                size,
                log2,
            } => write!(
                f,
                "section {} at {addr:#x} (size {size:#x}) is misaligned: expected alignment to 2^{log2}",
                section.name()
            ),
            ElfError::DefaultArea {
                section,
                end,
                binary_start,
            } => write!(
                f,
                "no {} section and the default area ends at {end:#x}, above the binary's start {binary_start:#x} (unable to find a decent {} location)",
                section.name(),
                if section == Section::Kip { "KIP" } else { "UTCB" }
            ),
            ElfError::SharedMissing => f.write_str(
                "unable to locate the VM's shared resourcemon page: no .resourcemon section",
            ),
            ElfError::SharedSize { size } => write!(
                f,
                "section .resourcemon size is wrong: {size} bytes, expected exactly {SHARED_SIZE}"
            ),
            ElfError::SectionOutsideVm {
                section,
                addr,
                size,
            } => write!(
                f,
                "section {} at {addr:#x} (+{size:#x}) does not translate into the VM",
                section.name()
            ),
            ElfError::StartupSize { size } => write!(
                f,
                "section .resourcemon.startup has {size} bytes (version mismatch); expected at least {STARTUP_SIZE}"
            ),
            ElfError::Shared(e) => write!(f, "section .resourcemon: {e}"),
        }
    }
}

/// One PT_LOAD segment to load: copy `file_len` bytes from the module at
/// `file_offset` to `gpaddr`, then zero `mem_len − file_len` bytes after them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Segment {
    /// Program header index.
    pub index: u16,
    /// p_vaddr.
    pub gvaddr: u32,
    /// Where it goes in the VM.
    pub gpaddr: u32,
    /// p_offset.
    pub file_offset: u32,
    /// p_filesz.
    pub file_len: u32,
    /// p_memsz.
    pub mem_len: u32,
    /// Loaded through the wedge window.
    pub via_wedge: bool,
}

impl Segment {
    /// Bytes to zero after the copied ones.
    pub const fn zero_len(&self) -> u32 {
        self.mem_len - self.file_len
    }

    /// The gpaddr range the segment occupies.
    pub const fn gp_range(&self) -> Range<u64> {
        self.gpaddr as u64..self.gpaddr as u64 + self.mem_len as u64
    }
}

/// `.resourcemon.startup` contents (§4, §5.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Startup {
    /// sh_addr.
    pub gvaddr: u32,
    /// Offset 0 (not checked, as in the original).
    pub version: u32,
    /// Offset 4: the initial IP.
    pub ip: u32,
    /// Offset 8: the initial SP.
    pub sp: u32,
}

/// The decided load of a VM module.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ElfLoad {
    /// The VM's layout with `wedge_vaddr` set from the entry.
    pub layout: Layout,
    /// e_entry (what `shared.entry_ip` receives).
    pub entry: u32,
    /// PT_LOAD segments in program-header order (later ones win where they overlap).
    pub segments: heapless::Vec<Segment, MAX_SEGMENTS>,
    /// Lowest p_vaddr.
    pub binary_start: u32,
    /// Highest p_vaddr + p_memsz (64-bit: may be 2^32).
    pub binary_end: u64,
    /// KIP area fpage (rights 0).
    pub kip_area: Fpage,
    /// True when `.l4kip` was missing and the default was used.
    pub kip_default: bool,
    /// UTCB area fpage (rights 0).
    pub utcb_area: Fpage,
    /// True when `.l4utcb` was missing and the default was used.
    pub utcb_default: bool,
    /// sh_addr of `.resourcemon`.
    pub shared_gvaddr: u32,
    /// Where the shared page lies in the VM.
    pub shared_gpaddr: u32,
    /// The shared page's initial header as loaded.
    pub guest_header: GuestHeader,
    /// `.resourcemon.startup`, if present.
    pub startup: Option<Startup>,
}

impl ElfLoad {
    /// The IP of the start message: the startup override or e_entry.
    pub fn start_ip(&self) -> u32 {
        self.startup.map_or(self.entry, |s| s.ip)
    }

    /// The SP of the start message: the startup override or 0.
    pub fn start_sp(&self) -> u32 {
        self.startup.map_or(0, |s| s.sp)
    }

    /// The gpaddr range of the shared page.
    pub fn shared_gp_range(&self) -> Range<u64> {
        self.shared_gpaddr as u64..self.shared_gpaddr as u64 + SHARED_SIZE as u64
    }

    /// What the VM memory holds at `[gpaddr, gpaddr + out.len())` after the
    /// block was zeroed and the segments were loaded in order.
    pub fn read_loaded(&self, file: &[u8], gpaddr: u32, out: &mut [u8]) {
        read_loaded(&self.segments, file, gpaddr, out);
    }
}

fn read_loaded(segments: &[Segment], file: &[u8], gpaddr: u32, out: &mut [u8]) {
    out.fill(0);
    let want = gpaddr as u64..gpaddr as u64 + out.len() as u64;
    for s in segments {
        let r = s.gp_range();
        let lo = r.start.max(want.start);
        let hi = r.end.min(want.end);
        if lo >= hi {
            continue;
        }
        for at in lo..hi {
            let rel = (at - r.start) as usize;
            let byte = if rel < s.file_len as usize {
                file.get(s.file_offset as usize + rel).copied().unwrap_or(0)
            } else {
                0
            };
            out[(at - want.start) as usize] = byte;
        }
    }
}

/// Checks that a header table lies inside the file, 4-byte aligned, with
/// entries of the expected size.
fn check_table(
    table: Table,
    file_len: usize,
    offset: u64,
    entsize: u16,
    count: u16,
) -> Result<(), ElfError> {
    let want = match table {
        Table::Program => PHDR_SIZE,
        Table::Section => SHDR_SIZE,
    };
    let end = offset + entsize as u64 * count as u64;
    // xmas_elf refuses section indices at or above SHN_LORESERVE.
    let too_many = table == Table::Section && count >= 0xff00;
    if entsize != want || !offset.is_multiple_of(4) || end > file_len as u64 || too_many {
        return Err(ElfError::HeaderTable {
            table,
            offset: offset as u32,
            entsize,
            count,
            file_len,
        });
    }
    Ok(())
}

/// The section header table, checked once.
struct Sections<'e, 'a> {
    elf: &'e ElfFile<'a>,
    count: u16,
    names: &'a [u8],
}

impl<'a> Sections<'_, 'a> {
    fn find(&self, name: &str) -> Option<SectionHeader<'a>> {
        (0..self.count)
            .filter_map(|i| self.elf.section_header(i).ok())
            .find(|sh| {
                let rest = self.names.get(sh.name() as usize..).unwrap_or(&[]);
                rest.starts_with(name.as_bytes()) && rest.get(name.len()) == Some(&0)
            })
    }
}

/// Smallest k with 2^k ≥ size (size ≥ 1).
fn ceil_log2(size: u32) -> u32 {
    32 - (size - 1).leading_zeros()
}

/// The fpage of an area section: size rounded up to a power of two, base
/// naturally aligned (§4).
fn area_fpage(section: Section, addr: u32, size: u32) -> Result<Fpage, ElfError> {
    if size == 0 {
        return Err(ElfError::FpageSize { section, size });
    }
    let log2 = ceil_log2(size);
    Fpage::new(addr, log2, Rights::NONE).map_err(|e| match e {
        FpageError::BadSize(_) => ElfError::FpageSize { section, size },
        FpageError::Misaligned { .. } => ElfError::Misaligned {
            section,
            addr,
            size,
            log2,
        },
    })
}

/// Decides the load of `file` (the VM module's bytes) into a VM with
/// `layout` (its `wedge_vaddr` is derived here from e_entry), and reads the
/// special sections. Pure: nothing is written anywhere.
pub fn load(file: &[u8], layout: Layout) -> Result<ElfLoad, ElfError> {
    // Identification, checked by hand before xmas_elf reads anything.
    let ident = &file[..file.len().min(4)];
    if ident != xmas_elf::header::MAGIC {
        let mut found = [0u8; 4];
        found[..ident.len()].copy_from_slice(ident);
        return Err(ElfError::BadMagic { found });
    }
    if file.len() < EHDR_SIZE {
        return Err(ElfError::Truncated { len: file.len() });
    }
    if file[4] != 1 {
        return Err(ElfError::NotElf32 { class: file[4] });
    }
    if file[5] != 1 {
        return Err(ElfError::NotLittleEndian { data: file[5] });
    }
    let addr = file.as_ptr() as usize;
    if !addr.is_multiple_of(4) {
        return Err(ElfError::ImageMisaligned { addr });
    }
    let elf = ElfFile::new(file).map_err(|_| ElfError::Truncated { len: file.len() })?;
    let h = match elf.header.pt2 {
        HeaderPt2::Header32(h) => h,
        HeaderPt2::Header64(_) => return Err(ElfError::NotElf32 { class: 2 }),
    };
    debug_assert!(elf.header.pt1.class() == Class::ThirtyTwo);
    debug_assert!(elf.header.pt1.data() == Data::LittleEndian);
    if h.type_.as_type() != Type::Executable {
        return Err(ElfError::NotExecutable { e_type: h.type_.0 });
    }
    if h.ph_offset == 0 {
        return Err(ElfError::NoProgramHeaders);
    }
    let pt2 = &elf.header.pt2;
    check_table(
        Table::Program,
        file.len(),
        pt2.ph_offset(),
        pt2.ph_entry_size(),
        pt2.ph_count(),
    )?;

    let entry = h.entry_point;
    let layout = layout.with_entry(entry);

    // PT_LOAD segments (§3.3).
    let mut segments: heapless::Vec<Segment, MAX_SEGMENTS> = heapless::Vec::new();
    let mut loads = 0usize;
    let mut binary_start = u32::MAX;
    let mut binary_end = 0u64;
    for index in 0..pt2.ph_count() {
        let Ok(ProgramHeader::Ph32(ph)) = elf.program_header(index) else {
            continue;
        };
        if ph.get_type() != Ok(program::Type::Load) {
            continue;
        }
        loads += 1;
        let (vaddr, memsz, filesz, offset) =
            (ph.virtual_addr, ph.mem_size, ph.file_size, ph.offset);
        if filesz > memsz {
            return Err(ElfError::SegmentFileSize {
                index,
                filesz,
                memsz,
            });
        }
        if offset as u64 + filesz as u64 > file.len() as u64 {
            return Err(ElfError::SegmentOutsideFile {
                index,
                offset,
                filesz,
                file_len: file.len(),
            });
        }
        let last = vaddr.wrapping_add(memsz.max(1) - 1);
        if layout.gvaddr_to_gpaddr(vaddr).is_none() || layout.gvaddr_to_gpaddr(last).is_none() {
            return Err(ElfError::SegmentOutsideVm {
                index,
                vaddr,
                memsz,
                vm_size: layout.size,
            });
        }
        let Some(gpaddr) = layout.gv_range_to_gpaddr(vaddr, memsz) else {
            return Err(ElfError::SegmentSplit {
                index,
                vaddr,
                memsz,
            });
        };
        let seg = Segment {
            index,
            gvaddr: vaddr,
            gpaddr,
            file_offset: offset,
            file_len: filesz,
            mem_len: memsz,
            via_wedge: layout.in_wedge_window(vaddr),
        };
        if segments.push(seg).is_err() {
            // Count them all for the message.
            continue;
        }
        binary_start = binary_start.min(vaddr);
        binary_end = binary_end.max(vaddr as u64 + memsz as u64);
    }
    if loads > MAX_SEGMENTS {
        return Err(ElfError::TooManySegments { count: loads });
    }
    if segments.is_empty() {
        return Err(ElfError::NoLoadSegments);
    }

    // Section headers (§3.3 `elf_section_describe`), validated here.
    let sections = if pt2.sh_offset() == 0 || pt2.sh_count() == 0 {
        Sections {
            elf: &elf,
            count: 0,
            names: &[],
        }
    } else {
        check_table(
            Table::Section,
            file.len(),
            pt2.sh_offset(),
            pt2.sh_entry_size(),
            pt2.sh_count(),
        )?;
        let index = pt2.sh_str_index();
        let bad = |offset: u32, size: u32| ElfError::NameTable {
            index,
            offset,
            size,
        };
        if index >= pt2.sh_count() {
            return Err(bad(0, 0));
        }
        let st = elf.section_header(index).map_err(|_| bad(0, 0))?;
        let (off, size) = (st.offset(), st.size());
        // Both are 32-bit values, so the sum cannot overflow a u64; checked
        // before any conversion to usize (32 bits on ia32).
        if off + size > file.len() as u64 {
            return Err(bad(off as u32, size as u32));
        }
        let names = &file[off as usize..(off + size) as usize];
        Sections {
            elf: &elf,
            count: pt2.sh_count(),
            names,
        }
    };
    let describe = |s: Section| {
        sections
            .find(s.name())
            .map(|sh| (sh.address() as u32, sh.size() as u32))
    };

    // KIP and UTCB areas (§4).
    let area = |s: Section, base: u32, log2: u32| -> Result<(Fpage, bool), ElfError> {
        match describe(s) {
            Some((addr, size)) => Ok((area_fpage(s, addr, size)?, false)),
            None => {
                let end = base as u64 + (1u64 << log2);
                if end > binary_start as u64 {
                    return Err(ElfError::DefaultArea {
                        section: s,
                        end: end as u32,
                        binary_start,
                    });
                }
                Ok((Fpage::from_parts(base, log2, Rights::NONE), true))
            }
        }
    };
    let (kip_area, kip_default) = area(Section::Kip, DEFAULT_KIP_AREA, DEFAULT_KIP_LOG2)?;
    let (utcb_area, utcb_default) = area(Section::Utcb, DEFAULT_UTCB_AREA, DEFAULT_UTCB_LOG2)?;

    // The shared page.
    let (shared_gvaddr, shared_size) = describe(Section::Shared).ok_or(ElfError::SharedMissing)?;
    if shared_size != SHARED_SIZE as u32 {
        return Err(ElfError::SharedSize { size: shared_size });
    }
    let shared_gpaddr = layout
        .gv_range_to_gpaddr(shared_gvaddr, SHARED_SIZE as u32)
        .ok_or(ElfError::SectionOutsideVm {
            section: Section::Shared,
            addr: shared_gvaddr,
            size: SHARED_SIZE as u32,
        })?;
    let mut head = [0u8; GUEST_HEADER_BYTES];
    read_loaded(&segments, file, shared_gpaddr, &mut head);
    let guest_header = GuestHeader::read(&head).unwrap_or_default();
    guest_header.check().map_err(ElfError::Shared)?;

    // The startup override.
    let startup = match describe(Section::Startup) {
        None => None,
        Some((addr, size)) => {
            if size < STARTUP_SIZE {
                return Err(ElfError::StartupSize { size });
            }
            let gp = layout.gv_range_to_gpaddr(addr, STARTUP_SIZE).ok_or(
                ElfError::SectionOutsideVm {
                    section: Section::Startup,
                    addr,
                    size: STARTUP_SIZE,
                },
            )?;
            let mut b = [0u8; STARTUP_SIZE as usize];
            read_loaded(&segments, file, gp, &mut b);
            let w = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
            Some(Startup {
                gvaddr: addr,
                version: w(shared::offset::STARTUP_VERSION),
                ip: w(shared::offset::STARTUP_IP),
                sp: w(shared::offset::STARTUP_SP),
            })
        }
    };

    Ok(ElfLoad {
        layout,
        entry,
        segments,
        binary_start,
        binary_end,
        kip_area,
        kip_default,
        utcb_area,
        utcb_default,
        shared_gvaddr,
        shared_gpaddr,
        guest_header,
        startup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::testelf::{set16, set32, ElfBuilder};
    use std::vec::Vec;

    const M: u32 = 1 << 20;

    fn wedge_layout() -> Layout {
        Layout::new(0x100_0000, 32 * M, 0, 16 * M)
    }

    fn ok(file: &[u8]) -> ElfLoad {
        load(file, wedge_layout()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(file: &[u8]) -> ElfError {
        load(file, wedge_layout()).expect_err("should fail")
    }

    #[test]
    fn loads_a_wedge_like_image() {
        let img = ElfBuilder::wedge().build();
        let l = ok(&img);
        assert_eq!(l.entry, 0xBC10_0000);
        assert_eq!(l.layout.wedge_vaddr, 0xBC00_0000);
        assert_eq!(l.segments.len(), 2);
        let s = l.segments[0];
        assert_eq!(
            (s.gvaddr, s.gpaddr, s.file_len, s.mem_len),
            (0xBC10_0000, 0x110_0000, 0x100, 0x100)
        );
        assert!(s.via_wedge);
        let bss = l.segments[1];
        assert_eq!(bss.zero_len(), bss.mem_len - bss.file_len);
        assert_eq!(l.binary_start, 0xBC10_0000);
        assert_eq!(l.binary_end, bss.gvaddr as u64 + bss.mem_len as u64);
        // .l4kip / .l4utcb present: 4 KB each, rights 0 (§5.3's 0xBC10E0C0 form).
        assert_eq!(l.kip_area.0, 0xBC10_E0C0);
        assert_eq!(l.utcb_area.0, 0xBC10_F0C0);
        assert!(!l.kip_default && !l.utcb_default);
        assert_eq!(l.shared_gvaddr, 0xBC12_0000);
        assert_eq!(l.shared_gpaddr, 0x112_0000);
        assert_eq!(l.guest_header.version, 1);
        assert_eq!(l.guest_header.cpu_cnt, 1);
        let st = l.startup.unwrap();
        assert_eq!((st.ip, st.sp), (0xBC10_0040, 0xBC11_F000));
        assert_eq!((l.start_ip(), l.start_sp()), (0xBC10_0040, 0xBC11_F000));
        let mut out = [0u8; 4];
        l.read_loaded(&img, 0x110_0000, &mut out);
        assert_eq!(out, [0x90; 4]);
    }

    #[test]
    fn defaults_without_area_and_startup_sections() {
        // A native guest linked at 8 MB: defaults at 0x300000 / 0x304000 fit.
        let mut b = ElfBuilder::native(0x80_0000);
        let img = b.build();
        let l = load(&img, Layout::new(0, 32 * M, 0, 0)).unwrap();
        assert!(l.kip_default && l.utcb_default);
        assert_eq!(l.kip_area, Fpage::from_parts(0x30_0000, 14, Rights::NONE));
        assert_eq!(l.utcb_area, Fpage::from_parts(0x30_4000, 14, Rights::NONE));
        assert_eq!(l.layout.wedge_vaddr, 0);
        assert_eq!((l.start_ip(), l.start_sp()), (0x80_0000, 0));
        // Linked at 0x306000: the UTCB default ends at 0x308000 > binary_start.
        b = ElfBuilder::native(0x30_6000);
        let e = load(&b.build(), Layout::new(0, 32 * M, 0, 0)).unwrap_err();
        assert_eq!(
            e,
            ElfError::DefaultArea {
                section: Section::Utcb,
                end: 0x30_8000,
                binary_start: 0x30_6000
            }
        );
        b = ElfBuilder::native(0x30_2000);
        assert!(matches!(
            load(&b.build(), Layout::new(0, 32 * M, 0, 0)),
            Err(ElfError::DefaultArea {
                section: Section::Kip,
                end: 0x30_4000,
                ..
            })
        ));
        // Exactly at the end is fine.
        b = ElfBuilder::native(0x30_8000);
        assert!(load(&b.build(), Layout::new(0, 32 * M, 0, 0)).is_ok());
    }

    #[test]
    fn identification_errors() {
        let img = ElfBuilder::wedge().build();
        assert_eq!(
            err(&img[..3]),
            ElfError::BadMagic {
                found: [0x7f, b'E', b'L', 0]
            }
        );
        assert_eq!(err(&img[..51]), ElfError::Truncated { len: 51 });
        let mut x = img.clone();
        x[4] = 2;
        assert_eq!(err(&x), ElfError::NotElf32 { class: 2 });
        let mut x = img.clone();
        x[5] = 2;
        assert_eq!(err(&x), ElfError::NotLittleEndian { data: 2 });
        let mut x = img.clone();
        set16(&mut x, 16, 3);
        assert_eq!(err(&x), ElfError::NotExecutable { e_type: 3 });
        let mut x = img.clone();
        set32(&mut x, 28, 0);
        assert_eq!(err(&x), ElfError::NoProgramHeaders);
        let mut x = img.clone();
        x[0] = 0;
        assert!(std::format!("{}", err(&x)).contains("expected 7f 45 4c 46"));
        // Misaligned bytes: a copy one byte in.
        let mut shifted = Vec::with_capacity(img.len() + 1);
        shifted.push(0);
        shifted.extend_from_slice(&img);
        assert!(matches!(
            err(&shifted[1..]),
            ElfError::ImageMisaligned { .. }
        ));
    }

    #[test]
    fn program_header_table_errors() {
        let img = ElfBuilder::wedge().build();
        for (field, value) in [(28usize, img.len() as u32 - 16), (28, 0x10_0000), (28, 54)] {
            let mut x = img.clone();
            set32(&mut x, field, value);
            assert!(
                matches!(
                    err(&x),
                    ElfError::HeaderTable {
                        table: Table::Program,
                        ..
                    }
                ),
                "e_phoff {value:#x}"
            );
        }
        let mut x = img.clone();
        set16(&mut x, 42, 20);
        assert!(matches!(
            err(&x),
            ElfError::HeaderTable {
                table: Table::Program,
                entsize: 20,
                ..
            }
        ));
        let mut x = img.clone();
        set16(&mut x, 44, 0xffff);
        assert!(matches!(
            err(&x),
            ElfError::HeaderTable { count: 0xffff, .. }
        ));
        // No PT_LOAD at all.
        let mut x = img.clone();
        for i in 0..2 {
            set32(&mut x, 52 + 32 * i, 4);
        }
        assert_eq!(err(&x), ElfError::NoLoadSegments);
    }

    #[test]
    fn segment_errors() {
        let img = ElfBuilder::wedge().build();
        let ph = 52; // first program header
        let mut x = img.clone();
        set32(&mut x, ph + 16, 0x200); // filesz > memsz (0x100)
        assert_eq!(
            err(&x),
            ElfError::SegmentFileSize {
                index: 0,
                filesz: 0x200,
                memsz: 0x100
            }
        );
        let mut x = img.clone();
        set32(&mut x, ph + 4, img.len() as u32 - 0x80); // p_offset near the end
        assert!(matches!(
            err(&x),
            ElfError::SegmentOutsideFile {
                index: 0,
                filesz: 0x100,
                ..
            }
        ));
        let mut x = img.clone();
        set32(&mut x, ph + 4, 0xffff_ff80);
        assert!(matches!(
            err(&x),
            ElfError::SegmentOutsideFile {
                offset: 0xffff_ff80,
                ..
            }
        ));
        // At wedge offset 1 MB in a 32 MB VM with the wedge at 16 MB, 15 MB is the most that fits.
        let mut x = img.clone();
        set32(&mut x, ph + 20, 15 * M + 1);
        assert_eq!(
            err(&x),
            ElfError::SegmentOutsideVm {
                index: 0,
                vaddr: 0xBC10_0000,
                memsz: 15 * M + 1,
                vm_size: 32 * M
            }
        );
        let mut x = img.clone();
        set32(&mut x, ph + 20, 15 * M);
        assert!(load(&x, wedge_layout()).is_ok());
        // Below the wedge window with offset 0: vaddr 0x20000000 is outside.
        let mut x = img.clone();
        set32(&mut x, ph + 8, 0x2000_0000);
        assert!(matches!(
            err(&x),
            ElfError::SegmentOutsideVm {
                vaddr: 0x2000_0000,
                ..
            }
        ));
        // A segment straddling the window edge in a VM big enough for both ends.
        let b = ElfBuilder::wedge();
        let mut x = b.build();
        set32(&mut x, ph + 8, 0xBBFF_F000);
        set32(&mut x, ph + 20, 0x2000);
        let big = Layout::new(0, 0xC000_0000, 0, 16 * M);
        assert_eq!(
            load(&x, big),
            Err(ElfError::SegmentSplit {
                index: 0,
                vaddr: 0xBBFF_F000,
                memsz: 0x2000
            })
        );
    }

    #[test]
    fn too_many_segments() {
        let mut b = ElfBuilder::wedge();
        for i in 0..16 {
            b.segment(0xBC15_0000 + 0x1000 * i, &[1, 2, 3], 0x1000);
        }
        assert_eq!(err(&b.build()), ElfError::TooManySegments { count: 18 });
    }

    #[test]
    fn section_table_errors() {
        let img = ElfBuilder::wedge().build();
        let mut x = img.clone();
        set32(&mut x, 32, img.len() as u32 - 8); // e_shoff near the end
        assert!(matches!(
            err(&x),
            ElfError::HeaderTable {
                table: Table::Section,
                ..
            }
        ));
        let mut x = img.clone();
        set32(&mut x, 32, 0xffff_fff0);
        assert!(matches!(
            err(&x),
            ElfError::HeaderTable {
                table: Table::Section,
                offset: 0xffff_fff0,
                ..
            }
        ));
        let mut x = img.clone();
        set16(&mut x, 46, 64);
        assert!(matches!(err(&x), ElfError::HeaderTable { entsize: 64, .. }));
        let mut x = img.clone();
        set16(&mut x, 48, 0xff00);
        assert!(matches!(
            err(&x),
            ElfError::HeaderTable { count: 0xff00, .. }
        ));
        let mut x = img.clone();
        set16(&mut x, 50, 99);
        assert_eq!(
            err(&x),
            ElfError::NameTable {
                index: 99,
                offset: 0,
                size: 0
            }
        );
        // Name table's offset beyond the file.
        let b = ElfBuilder::wedge();
        let mut x = b.build();
        let shoff = u32::from_le_bytes(x[32..36].try_into().unwrap()) as usize;
        let strndx = u16::from_le_bytes(x[50..52].try_into().unwrap()) as usize;
        set32(&mut x, shoff + 40 * strndx + 16, 0x7fff_0000);
        assert!(matches!(
            err(&x),
            ElfError::NameTable {
                offset: 0x7fff_0000,
                ..
            }
        ));
        // A bad sh_name just does not match: then .resourcemon is "missing".
        let mut x = b.build();
        for i in 1..b.section_count() {
            set32(&mut x, shoff + 40 * i, 0xffff_0000);
        }
        assert_eq!(err(&x), ElfError::SharedMissing);
        // No section headers at all: no shared page either.
        let mut x = b.build();
        set32(&mut x, 32, 0);
        assert_eq!(err(&x), ElfError::SharedMissing);
    }

    #[test]
    fn area_section_errors() {
        let mut b = ElfBuilder::wedge();
        b.set_section(".l4kip", 0xBC10_E800, 0x1000);
        assert_eq!(
            err(&b.build()),
            ElfError::Misaligned {
                section: Section::Kip,
                addr: 0xBC10_E800,
                size: 0x1000,
                log2: 12
            }
        );
        // Non-power-of-two sizes are rounded up: 12 KB → 16 KB, needs 16 KB alignment.
        let mut b = ElfBuilder::wedge();
        b.set_section(".l4utcb", 0xBC10_F000, 0x3000);
        assert_eq!(
            err(&b.build()),
            ElfError::Misaligned {
                section: Section::Utcb,
                addr: 0xBC10_F000,
                size: 0x3000,
                log2: 14
            }
        );
        let mut b = ElfBuilder::wedge();
        b.set_section(".l4utcb", 0xBC11_0000, 0x3000);
        assert_eq!(
            ok(&b.build()).utcb_area,
            Fpage::from_parts(0xBC11_0000, 14, Rights::NONE)
        );
        let mut b = ElfBuilder::wedge();
        b.set_section(".l4kip", 0xBC10_E000, 0);
        assert_eq!(
            err(&b.build()),
            ElfError::FpageSize {
                section: Section::Kip,
                size: 0
            }
        );
        let mut b = ElfBuilder::wedge();
        b.set_section(".l4kip", 0xBC10_E000, 512);
        assert_eq!(
            err(&b.build()),
            ElfError::FpageSize {
                section: Section::Kip,
                size: 512
            }
        );
    }

    #[test]
    fn shared_page_errors() {
        let mut b = ElfBuilder::wedge();
        b.set_section(".resourcemon", 0xBC12_0000, SHARED_SIZE as u32 - 4);
        assert_eq!(
            err(&b.build()),
            ElfError::SharedSize {
                size: SHARED_SIZE as u32 - 4
            }
        );
        b.set_section(".resourcemon", 0xBC12_0000, SHARED_SIZE as u32 + 4);
        assert_eq!(
            err(&b.build()),
            ElfError::SharedSize {
                size: SHARED_SIZE as u32 + 4
            }
        );
        assert!(std::format!("{}", err(&b.build())).contains("1064368"));
        // Outside the VM: 0xBD000000 is gpaddr 32 MB.
        b.set_section(".resourcemon", 0xBD00_0000, SHARED_SIZE as u32);
        assert_eq!(
            err(&b.build()),
            ElfError::SectionOutsideVm {
                section: Section::Shared,
                addr: 0xBD00_0000,
                size: SHARED_SIZE as u32
            }
        );
        // Last byte outside.
        b.set_section(".resourcemon", 0xBCF0_0000, SHARED_SIZE as u32);
        assert!(matches!(
            err(&b.build()),
            ElfError::SectionOutsideVm {
                section: Section::Shared,
                ..
            }
        ));
        // Version and cpu_cnt come from the loaded bytes.
        let mut b = ElfBuilder::wedge();
        b.shared_header(2, 1);
        assert_eq!(
            err(&b.build()),
            ElfError::Shared(SharedError::Version { version: 2 })
        );
        b.shared_header(1, 17);
        assert_eq!(
            err(&b.build()),
            ElfError::Shared(SharedError::CpuCount { cpu_cnt: 17 })
        );
        b.shared_header(1, 16);
        assert!(load(&b.build(), wedge_layout()).is_ok());
        // A shared page in .bss (not in the file): version 0.
        let mut b = ElfBuilder::wedge();
        b.set_section(".resourcemon", 0xBC13_0000, SHARED_SIZE as u32);
        assert_eq!(
            err(&b.build()),
            ElfError::Shared(SharedError::Version { version: 0 })
        );
    }

    #[test]
    fn startup_section_errors() {
        let mut b = ElfBuilder::wedge();
        b.set_section(".resourcemon.startup", 0xBC10_0080, 8);
        assert_eq!(err(&b.build()), ElfError::StartupSize { size: 8 });
        b.set_section(".resourcemon.startup", 0xBD00_0000, 12);
        assert!(matches!(
            err(&b.build()),
            ElfError::SectionOutsideVm {
                section: Section::Startup,
                ..
            }
        ));
    }
}
