//! What the wedge guest decides, kept apart from the ia32 image so it builds
//! and is tested on the host: the `mode=` word on the kernel command line,
//! the Linux boot parameters the afterburn wedge builds (e820 map), which
//! pages the memory test touches and with which values, the VGA cell
//! pattern and the BIOS plausibility checks.
//!
//! The image itself (`src/main.rs`, `src/rt/`) is a guest kernel shaped like
//! an afterburned Linux 2.6: linked at 0x80100000, entered by the wedge at
//! the physical address with paging off and `%esi` pointing at the boot
//! parameters. Every line it prints starts with [`PREFIX`] and the mode name;
//! the last one is `wedgeguest <mode>: PASS` or `wedgeguest <mode>: FAIL …`.
#![no_std]

/// The guest kernel's virtual base: guest-physical `p` is at `KBASE + p`
/// once paging is on (the wedge derives it from the entry 0x80100000).
pub const KBASE: u32 = 0x8000_0000;
/// How much guest-physical memory the head maps (64 page tables of 4 MB,
/// must match `NPT` in `rt/head.S`); the memory test stays below it.
pub const MAPPED_BYTES: u32 = 64 << 22;
/// The size of a page.
pub const PAGE: u32 = 4096;
/// Every console line starts with this, then the mode name and `": "`.
pub const PREFIX: &str = "wedgeguest";

/// Offsets in the Linux i386 boot parameters ("zero page"), which the wedge
/// fills from the module's command line and the VM's size.
pub mod boot_params {
    /// `u8`: number of e820 entries.
    pub const E820_ENTRIES: usize = 0x1e8;
    /// `u32`: guest-physical address of the NUL-terminated command line.
    pub const CMD_LINE_PTR: usize = 0x228;
    /// The e820 map: 20-byte entries {u64 addr, u64 size, u32 type}.
    pub const E820_MAP: usize = 0x2d0;
    /// Linux's limit on e820 entries in the zero page.
    pub const E820_MAX: usize = 128;
    /// e820 type of usable RAM.
    pub const E820_RAM: u32 = 1;
    /// The longest command line the guest reads.
    pub const CMD_LINE_MAX: usize = 2048;
}

/// What the guest kernel exercises, chosen by `mode=<name>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Write and read back one word per page over the VM's RAM, before and
    /// after paging is on.
    Memory,
    /// Write and read back VGA text memory at guest-physical 0xB8000.
    Vga,
    /// Read the BIOS area 0xF0000–0xFFFFF and check it looks like a BIOS.
    /// The wedge treats that range as device memory (request_device) only
    /// when it is listed in the shared page's `devices[]`, i.e. with `ddos`
    /// on the VM line; otherwise it is the VM's own zero-filled RAM and the
    /// check fails.
    Bios,
    /// Take timer interrupts from the wedge's emulated 8254/8259
    /// (experimental: the wedge currently ends in a VM panic before the
    /// first interrupt reaches the guest; `irq=spin` polls instead of `hlt`).
    Irq,
    /// Initialise the virtual 8259 and unmask IRQ [`UNMASK_IRQ`] only (no
    /// interrupts enabled): a pass-through wedge then associates that
    /// hardware interrupt through the monitor (AssociateInterrupt).
    Unmask,
    /// Read console input from the wedge's emulated UART (COM2's receive
    /// register, where the wedge puts what the monitor pushed into
    /// `console_rx`) and print every line typed, [`ECHO_LINES`] of them.
    Echo,
}

/// How many lines `mode=echo` echoes before it passes.
pub const ECHO_LINES: u32 = 2;
/// The longest line `mode=echo` keeps (more is cut).
pub const ECHO_LINE_MAX: usize = 80;

/// Collects typed bytes into lines (ended by `\n` or `\r`; an empty line
/// is no line, so `\r\n` counts once).
pub struct LineBuf {
    buf: [u8; ECHO_LINE_MAX],
    len: usize,
}

impl Default for LineBuf {
    fn default() -> Self {
        LineBuf {
            buf: [0; ECHO_LINE_MAX],
            len: 0,
        }
    }
}

impl LineBuf {
    /// Add `b`; the finished line when `b` ends one (the next push starts
    /// a new line).
    pub fn push(&mut self, b: u8) -> Option<&[u8]> {
        if b == b'\n' || b == b'\r' {
            let n = core::mem::take(&mut self.len);
            return (n > 0).then(|| &self.buf[..n]);
        }
        if self.len < ECHO_LINE_MAX {
            self.buf[self.len] = b;
            self.len += 1;
        }
        None
    }
}

/// Bytes shown as a string body: printable ASCII as is (`"` and `\`
/// escaped), everything else `\xNN`.
pub struct Escaped<'a>(pub &'a [u8]);

impl core::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            match b {
                b'"' | b'\\' => write!(f, "\\{}", b as char)?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        Ok(())
    }
}

/// The hardware interrupt `mode=unmask` unmasks: the floppy's, which the
/// pass-through wedge passes through and QEMU never raises.
pub const UNMASK_IRQ: u8 = 6;

impl Mode {
    /// Every mode, in the order they are documented.
    pub const ALL: [Mode; 6] = [
        Mode::Memory,
        Mode::Vga,
        Mode::Bios,
        Mode::Irq,
        Mode::Unmask,
        Mode::Echo,
    ];

    /// The name used on the command line and in console lines.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Memory => "memory",
            Mode::Vga => "vga",
            Mode::Bios => "bios",
            Mode::Irq => "irq",
            Mode::Unmask => "unmask",
            Mode::Echo => "echo",
        }
    }
}

/// Why no mode could be chosen from the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeError<'a> {
    /// No word starting with `mode=`.
    Missing,
    /// `mode=` names no known mode; holds the value.
    Unknown(&'a [u8]),
}

/// Picks the mode from a command line: the first whitespace-separated word
/// that starts with `mode=`. The bytes end at the first NUL, if any.
pub fn parse_mode(cmdline: &[u8]) -> Result<Mode, ModeError<'_>> {
    let end = cmdline
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(cmdline.len());
    let value = cmdline[..end]
        .split(|b| b.is_ascii_whitespace())
        .find_map(|w| w.strip_prefix(b"mode="))
        .ok_or(ModeError::Missing)?;
    Mode::ALL
        .into_iter()
        .find(|m| m.name().as_bytes() == value)
        .ok_or(ModeError::Unknown(value))
}

/// Whether the command line (up to its first NUL) has the exact word `word`.
pub fn has_word(cmdline: &[u8], word: &[u8]) -> bool {
    let end = cmdline
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(cmdline.len());
    cmdline[..end]
        .split(|b| b.is_ascii_whitespace())
        .any(|w| w == word)
}

/// One e820 entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
    /// 1 = RAM, 2 = reserved, …
    pub kind: u32,
}

impl E820Entry {
    /// Decodes the 20-byte little-endian record.
    pub fn from_bytes(raw: &[u8; 20]) -> Self {
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[i..i + 8]);
            u64::from_le_bytes(b)
        };
        E820Entry {
            base: u64_at(0),
            size: u64_at(8),
            kind: u32::from_le_bytes([raw[16], raw[17], raw[18], raw[19]]),
        }
    }

    /// The page-aligned part of this RAM entry at or above `low` and below
    /// `limit` (both guest-physical), as `[start, end)`; `None` if the entry
    /// is not RAM or nothing is left. Must match the head's prefill loop.
    pub fn test_range(&self, low: u32, limit: u32) -> Option<(u32, u32)> {
        if self.kind != boot_params::E820_RAM || self.base >= 1 << 32 {
            return None;
        }
        let base = self.base as u32;
        let end = self.base.saturating_add(self.size).min(0xffff_f000) as u32;
        let start = base.max(low).checked_add(PAGE - 1)? & !(PAGE - 1);
        let end = end.min(limit) & !(PAGE - 1);
        (start < end).then_some((start, end))
    }
}

/// The word the head writes at guest-physical page `p` with paging off
/// (`PREFILL_XOR` in `rt/head.S`).
pub fn prefill_pattern(p: u32) -> u32 {
    p ^ 0xA5A5_5A5A
}

/// Where in page `p` the second pass (paging on) writes its word: never
/// offset 0 (the prefill word), different for neighbouring pages.
pub fn second_offset(p: u32) -> u32 {
    4 + ((p / PAGE) % 1023) * 4
}

/// The word the second pass writes at `p + second_offset(p)`.
pub fn second_pattern(p: u32) -> u32 {
    p.rotate_left(7) ^ 0x3C3C_C3C3
}

/// VGA text memory: guest-physical address and number of 16-bit cells the
/// test writes (80 × 25).
pub const VGA_TEXT: u32 = 0xB8000;
/// 80 × 25 character cells.
pub const VGA_CELLS: usize = 80 * 25;
/// The first cell the read-back compares: row 0 is left out, because a
/// kernel with its debugger built in (the test kernel) turns "spin wheels"
/// in the top-right corner of the host's VGA text screen. A monitor that
/// hands the host's VGA memory to the guest (the original) then reads some
/// of those cells back changed.
pub const VGA_CHECKED_FROM: usize = 80;

/// The 16-bit cell the VGA test writes at index `i`: a readable letter
/// pattern with varying attributes, so a stuck bus or a byte swap shows.
pub fn vga_cell(i: usize) -> u16 {
    let ch = b'A' + (i % 26) as u8;
    let attr = 0x07 + ((i / 80) % 8) as u8 * 0x10;
    u16::from(attr) << 8 | u16::from(ch)
}

/// The BIOS area the `bios` mode reads.
pub const BIOS_START: u32 = 0xF0000;
/// One past its last byte.
pub const BIOS_END: u32 = 0x10_0000;

/// What the guest found in the BIOS area.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BiosSummary {
    /// Bytes that are neither 0x00 nor 0xFF.
    pub busy_bytes: usize,
    /// The first byte of the reset vector at 0xFFFF0.
    pub reset_opcode: u8,
    /// A "MM/DD/YY" date string at 0xFFFF5.
    pub has_date: bool,
    /// Wrapping sum of all 32-bit words (a fingerprint to print).
    pub checksum: u32,
}

/// Summarizes a copy of 0xF0000–0xFFFFF (64 KB); `None` if it is not 64 KB.
pub fn summarize_bios(image: &[u8]) -> Option<BiosSummary> {
    if image.len() != (BIOS_END - BIOS_START) as usize {
        return None;
    }
    let busy_bytes = image.iter().filter(|&&b| b != 0 && b != 0xff).count();
    let reset = &image[0xfff0..];
    let date = &reset[5..13];
    let has_date = date[2] == b'/'
        && date[5] == b'/'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| date[i].is_ascii_digit());
    let checksum = image.chunks_exact(4).fold(0u32, |s, w| {
        s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    });
    Some(BiosSummary {
        busy_bytes,
        reset_opcode: reset[0],
        has_date,
        checksum,
    })
}

/// Judges a copy of 0xF0000–0xFFFFF (64 KB). A real BIOS has mostly
/// non-trivial bytes and a far jump (0xEA) at the reset vector; RAM handed
/// out instead of the device (all zero) or an unbacked range (all 0xFF)
/// fails.
pub fn check_bios(image: &[u8]) -> Result<BiosSummary, &'static str> {
    let summary = summarize_bios(image).ok_or("BIOS image is not 64 KB")?;
    if summary.busy_bytes < image.len() / 16 {
        Err("BIOS area is (nearly) all 0x00/0xFF")
    } else if summary.reset_opcode != 0xEA {
        Err("no far jump at the reset vector 0xFFFF0")
    } else {
        Ok(summary)
    }
}

/// The kernel code segment selector the guest runs with (its far jump
/// loads it; IDT gates use it).
pub const KERNEL_CS: u16 = 0x10;
/// The vector the master 8259 is programmed to deliver IRQ0 at.
pub const IRQ0_VECTOR: u8 = 0x20;
/// The 8254's input clock in Hz.
pub const PIT_HZ: u32 = 1_193_182;
/// How many timer ticks `mode=irq` waits for.
pub const IRQ_TICKS: u32 = 5;

/// A 32-bit ring-0 interrupt gate (type 0xE, present) to `offset`.
pub fn interrupt_gate(offset: u32, selector: u16) -> u64 {
    u64::from(offset & 0xffff)
        | u64::from(selector) << 16
        | 0x8e_u64 << 40
        | u64::from(offset >> 16) << 48
}

/// The 8254 divisor for `hz` interrupts per second (rounded, 1..=65535).
pub fn pit_divisor(hz: u32) -> u16 {
    let d = (PIT_HZ + hz.max(1) / 2) / hz.max(1);
    d.clamp(1, 0xffff) as u16
}

/// The 8259 initialisation as (port, value) writes: ICW1-4 for master and
/// slave (vectors `base`, `base + 8`, cascade on IRQ2, 8086 mode), then
/// the masks: only IRQ0 open.
pub fn pic_init(base: u8) -> [(u16, u8); 10] {
    pic_init_masked(base, 0xfe)
}

/// [`pic_init`] with master mask `master_mask` (slave all masked).
pub fn pic_init_masked(base: u8, master_mask: u8) -> [(u16, u8); 10] {
    [
        (0x20, 0x11),
        (0xa0, 0x11),
        (0x21, base),
        (0xa1, base + 8),
        (0x21, 0x04),
        (0xa1, 0x02),
        (0x21, 0x01),
        (0xa1, 0x01),
        (0x21, master_mask),
        (0xa1, 0xff),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_words() {
        assert_eq!(parse_mode(b"mode=vga console=ttyS0"), Ok(Mode::Vga));
        assert_eq!(
            parse_mode(b"/x/wedge-guest console=ttyS0 mode=memory\0mode=vga"),
            Ok(Mode::Memory)
        );
        assert_eq!(parse_mode(b"mode=bios"), Ok(Mode::Bios));
        assert_eq!(parse_mode(b"mode=echo"), Ok(Mode::Echo));
        assert_eq!(parse_mode(b"console=ttyS0"), Err(ModeError::Missing));
        assert_eq!(parse_mode(b"xmode=vga"), Err(ModeError::Missing));
        assert_eq!(
            parse_mode(b"mode=memoryx"),
            Err(ModeError::Unknown(b"memoryx"))
        );
        assert_eq!(parse_mode(b"\0mode=vga"), Err(ModeError::Missing));
        for m in Mode::ALL {
            let mut line = [0u8; 16];
            line[..5].copy_from_slice(b"mode=");
            line[5..5 + m.name().len()].copy_from_slice(m.name().as_bytes());
            assert_eq!(parse_mode(&line), Ok(m));
        }
    }

    fn entry(base: u64, size: u64, kind: u32) -> E820Entry {
        let mut raw = [0u8; 20];
        raw[..8].copy_from_slice(&base.to_le_bytes());
        raw[8..16].copy_from_slice(&size.to_le_bytes());
        raw[16..].copy_from_slice(&kind.to_le_bytes());
        let e = E820Entry::from_bytes(&raw);
        assert_eq!(e, E820Entry { base, size, kind });
        e
    }

    #[test]
    fn ranges() {
        let low = 0x0015_2000;
        // What the wedge reports for vmsize=64M wedgeinstall=16M.
        assert_eq!(entry(0, 0xa0000, 1).test_range(low, MAPPED_BYTES), None);
        assert_eq!(entry(0xa0000, 0x60000, 2).test_range(0, MAPPED_BYTES), None);
        assert_eq!(
            entry(0x10_0000, 0xf0_0000, 1).test_range(low, MAPPED_BYTES),
            Some((low, 0x100_0000))
        );
        assert_eq!(
            entry(0x11f_2000, 0x2e0_e000, 1).test_range(low, MAPPED_BYTES),
            Some((0x11f_2000, 0x400_0000))
        );
        // Unaligned ends shrink inwards; the limit cuts; above 4 GB is out.
        assert_eq!(
            entry(0x20_0001, 0x2fff, 1).test_range(0, u32::MAX),
            Some((0x20_1000, 0x20_3000))
        );
        assert_eq!(
            entry(0, 0x2000_0000, 1).test_range(0x10_0000, MAPPED_BYTES),
            Some((0x10_0000, MAPPED_BYTES))
        );
        assert_eq!(entry(1 << 32, 0x1000, 1).test_range(0, u32::MAX), None);
        assert_eq!(
            entry(0xffff_0000, 0x10_0000, 1).test_range(0, u32::MAX),
            Some((0xffff_0000, 0xffff_f000))
        );
    }

    #[test]
    fn patterns_are_distinct() {
        let pages = (0x10_0000..0x400_0000).step_by(PAGE as usize);
        let mut seen = [0u8; 0x400_0000 / 4096 / 8];
        for p in pages {
            assert_ne!(prefill_pattern(p), 0);
            assert_ne!(second_pattern(p), prefill_pattern(p));
            let off = second_offset(p);
            assert!((4..PAGE).contains(&off) && off.is_multiple_of(4));
            // Both patterns are injective in p.
            assert_eq!(prefill_pattern(prefill_pattern(p)), p);
            assert_eq!((second_pattern(p) ^ 0x3C3C_C3C3).rotate_right(7), p);
            let i = (p / PAGE) as usize;
            assert_eq!(seen[i / 8] & (1 << (i % 8)), 0);
            seen[i / 8] |= 1 << (i % 8);
        }
        assert_ne!(second_offset(0x10_0000), second_offset(0x10_1000));
    }

    #[test]
    fn vga_cells() {
        assert_eq!(vga_cell(0), 0x0741);
        assert_eq!(vga_cell(25), 0x075a);
        assert_eq!(vga_cell(80), 0x1743);
        assert!((0..VGA_CELLS).all(|i| vga_cell(i) & 0xff >= u16::from(b'A')));
    }

    #[test]
    fn interrupts() {
        let g = interrupt_gate(0x8010_1234, KERNEL_CS);
        assert_eq!(g, 0x8010_8e00_0010_1234);
        assert_eq!(pit_divisor(100), 11932);
        assert_eq!(pit_divisor(0), 0xffff);
        assert_eq!(pit_divisor(10), 0xffff);
        assert_eq!(pit_divisor(2_000_000), 1);
        let init = pic_init(IRQ0_VECTOR);
        assert_eq!(init[2], (0x21, 0x20));
        assert_eq!(init[3], (0xa1, 0x28));
        assert_eq!(init[8], (0x21, 0xfe));
    }

    #[test]
    fn bios() {
        let mut image = [0u8; 0x10000];
        assert_eq!(
            check_bios(&image),
            Err("BIOS area is (nearly) all 0x00/0xFF")
        );
        image.fill(0xff);
        assert!(check_bios(&image).is_err());
        for (i, b) in image.iter_mut().enumerate() {
            *b = (i % 251) as u8 | 1;
        }
        assert_eq!(
            check_bios(&image),
            Err("no far jump at the reset vector 0xFFFF0")
        );
        image[0xfff0..0xfffd].copy_from_slice(b"\xea\x5b\xe0\x00\xf006/23/99");
        let s = check_bios(&image).unwrap();
        assert_eq!(s.reset_opcode, 0xea);
        assert!(s.has_date);
        assert!(s.busy_bytes > 60000);
        assert!(check_bios(&image[1..]).is_err());
    }

    #[test]
    fn lines_and_escapes() {
        extern crate std;
        let mut l = LineBuf::default();
        let mut got = std::vec::Vec::new();
        for &b in b"ab\"c\r\nd\x1b\n" {
            if let Some(line) = l.push(b) {
                got.push(std::format!("{}", Escaped(line)));
            }
        }
        assert_eq!(got, ["ab\\\"c", "d\\x1b"]);
    }
}
