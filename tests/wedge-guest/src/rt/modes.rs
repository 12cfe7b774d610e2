//! The modes: each drives the wedge into one path an afterburned Linux uses
//! and tinyguest never reaches, and returns the verdict.

use core::fmt;

use super::head;
use wedge_guest::{
    boot_params as bp, check_bios, interrupt_gate, pic_init, pit_divisor, prefill_pattern,
    second_offset, second_pattern, summarize_bios, vga_cell, E820Entry, Mode, BIOS_END, BIOS_START,
    IRQ0_VECTOR, IRQ_TICKS, KBASE, KERNEL_CS, MAPPED_BYTES, PAGE, VGA_CELLS, VGA_CHECKED_FROM,
    VGA_TEXT,
};

/// Why a mode failed (the text after `FAIL `).
pub enum Fail {
    /// A fixed reason.
    Static(&'static str),
    /// A word at a guest-physical address did not read back as written.
    Mismatch {
        /// What was being checked.
        what: &'static str,
        /// Guest-physical address.
        at: u32,
        /// Written value.
        want: u32,
        /// Read value.
        got: u32,
        /// Mismatches in that pass.
        count: u32,
    },
    /// The head and Rust disagree on the page plan.
    Plan {
        /// Pages the head prefilled.
        head: u32,
        /// Pages Rust planned.
        plan: u32,
    },
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Static(s) => f.write_str(s),
            Fail::Mismatch {
                what,
                at,
                want,
                got,
                count,
            } => write!(
                f,
                "{what}: {count} mismatches, first at {at:#x}: wrote {want:#010x}, read {got:#010x}"
            ),
            Fail::Plan { head, plan } => {
                write!(f, "head prefilled {head} pages, plan has {plan}")
            }
        }
    }
}

/// Runs one mode; `params` is the zero page at its virtual address.
pub fn run(mode: Mode, params: *const u8, cmdline: &[u8]) -> Result<(), Fail> {
    match mode {
        Mode::Memory => memory(params),
        Mode::Vga => vga(),
        Mode::Bios => bios(),
        Mode::Irq => irq(wedge_guest::has_word(cmdline, b"irq=spin")),
        Mode::Unmask => unmask(),
        Mode::Echo => echo(),
    }
}

/// The word at guest-physical `p`, through the KBASE window.
fn word(p: u32) -> *mut u32 {
    (KBASE + p) as *mut u32
}

/// The e820 map from the zero page.
fn e820(params: *const u8) -> impl Iterator<Item = E820Entry> {
    // SAFETY: the zero page is mapped and at least 4 KB long; the count is
    // capped at Linux's E820_MAX, whose entries fit in it.
    let count = usize::from(unsafe { params.add(bp::E820_ENTRIES).read() }).min(bp::E820_MAX);
    (0..count).map(move |i| {
        // SAFETY: entry i < E820_MAX lies inside the zero page.
        let raw = unsafe { &*params.add(bp::E820_MAP + 20 * i).cast::<[u8; 20]>() };
        E820Entry::from_bytes(raw)
    })
}

/// Calls `f` with every page of the plan: e820 RAM above the image and
/// below what the head mapped.
fn each_page(params: *const u8, mut f: impl FnMut(u32)) {
    // Only the address of the linker symbol is taken.
    let low = core::ptr::addr_of!(head::__image_end) as u32 - KBASE;
    for (start, end) in e820(params).filter_map(|e| e.test_range(low, MAPPED_BYTES)) {
        for p in (start..end).step_by(PAGE as usize) {
            f(p);
        }
    }
}

/// Checks one pass: `f(p)` returns (address, expected) for page `p`.
fn verify(
    params: *const u8,
    what: &'static str,
    f: impl Fn(u32) -> (u32, u32),
) -> Result<u32, Fail> {
    let (mut pages, mut bad) = (0u32, None::<Fail>);
    each_page(params, |p| {
        pages += 1;
        let (at, want) = f(p);
        // SAFETY: `at` is inside a planned RAM page, mapped by the head.
        let got = unsafe { word(at).read_volatile() };
        if got != want {
            match &mut bad {
                Some(Fail::Mismatch { count, .. }) => *count += 1,
                _ => {
                    bad = Some(Fail::Mismatch {
                        what,
                        at,
                        want,
                        got,
                        count: 1,
                    })
                }
            }
        }
    });
    bad.map_or(Ok(pages), Err)
}

/// `memory`: the pages the head wrote with paging off read back through the
/// KBASE window with paging on; then a second word per page is written and
/// everything read back again.
fn memory(params: *const u8) -> Result<(), Fail> {
    let mut ram = 0u64;
    for e in e820(params) {
        say!(
            "e820 {:#010x}-{:#010x} type {}",
            e.base,
            e.base + e.size,
            e.kind
        );
        if e.kind == bp::E820_RAM {
            ram += e.size;
        }
    }
    let mut plan = 0u32;
    let (mut first, mut last) = (u32::MAX, 0);
    each_page(params, |p| {
        plan += 1;
        first = first.min(p);
        last = last.max(p);
    });
    say!(
        "{} KB RAM in e820; testing {plan} pages ({} KB) in {first:#x}-{:#x}",
        ram / 1024,
        plan * 4,
        last + PAGE
    );
    if plan == 0 {
        return Err(Fail::Static("no RAM to test"));
    }
    // SAFETY: written once by the head before Rust ran.
    let head = unsafe { core::ptr::addr_of!(head::wg_prefilled).read_volatile() };
    if head != plan {
        return Err(Fail::Plan { head, plan });
    }
    let n = verify(params, "paging-off words", |p| (p, prefill_pattern(p)))?;
    say!("{n} words written with paging off read back with paging on");
    each_page(params, |p| {
        // SAFETY: inside a planned RAM page, mapped by the head.
        unsafe { word(p + second_offset(p)).write_volatile(second_pattern(p)) };
    });
    let n = verify(params, "paging-on words", |p| {
        (p + second_offset(p), second_pattern(p))
    })?;
    verify(params, "paging-off words after the second pass", |p| {
        (p, prefill_pattern(p))
    })?;
    say!("{n} words written with paging on read back, first words intact");
    Ok(())
}

/// `vga`: fills the 80×25 text screen at guest-physical 0xB8000 (the wedge
/// asks the monitor for the device page) and reads it back.
fn vga() -> Result<(), Fail> {
    let cells = (KBASE + VGA_TEXT) as *mut u16;
    for i in 0..VGA_CELLS {
        // SAFETY: VGA text memory is 32 KB at 0xB8000, mapped by the head.
        unsafe { cells.add(i).write_volatile(vga_cell(i)) };
    }
    say!("wrote {VGA_CELLS} cells at {VGA_TEXT:#x}");
    let mut bad = None;
    for i in VGA_CHECKED_FROM..VGA_CELLS {
        // SAFETY: as above.
        let got = unsafe { cells.add(i).read_volatile() };
        if got != vga_cell(i) {
            match &mut bad {
                Some(Fail::Mismatch { count, .. }) => *count += 1,
                _ => {
                    bad = Some(Fail::Mismatch {
                        what: "VGA cells",
                        at: VGA_TEXT + 2 * i as u32,
                        want: u32::from(vga_cell(i)),
                        got: u32::from(got),
                        count: 1,
                    })
                }
            }
        }
    }
    bad.map_or(Ok(()), Err)?;
    say!(
        "read back {} cells (rows 1-24; row 0 holds the kernel's spin wheels on a shared screen)",
        VGA_CELLS - VGA_CHECKED_FROM
    );
    Ok(())
}

/// `bios`: reads 0xF0000–0xFFFFF (16 device pages) and checks it is a BIOS.
fn bios() -> Result<(), Fail> {
    // SAFETY: the BIOS area is mapped by the head and is read-only memory
    // nobody writes while the slice lives.
    let image = unsafe {
        core::slice::from_raw_parts(
            (KBASE + BIOS_START) as *const u8,
            (BIOS_END - BIOS_START) as usize,
        )
    };
    let s = summarize_bios(image).ok_or(Fail::Static("BIOS image is not 64 KB"))?;
    let tail = &image[0xfff0..];
    let date = core::str::from_utf8(&tail[5..13]).unwrap_or("?");
    say!(
        "read {:#x}-{:#x}: {} non-trivial bytes, sum {:#010x}, reset vector {:02x} {:02x} {:02x} {:02x} {:02x}, date \"{}\"",
        BIOS_START,
        BIOS_END,
        s.busy_bytes,
        s.checksum,
        tail[0],
        tail[1],
        tail[2],
        tail[3],
        tail[4],
        if s.has_date { date } else { "none" }
    );
    check_bios(image).map_err(Fail::Static)?;
    Ok(())
}

/// The IDT for `mode=irq`: 256 gates.
#[repr(C, align(8))]
struct Idt([u64; 256]);

/// The IDT, filled once by [`irq`] before interrupts are enabled.
static mut IDT: Idt = Idt([0; 256]);

/// `irq`: loads an IDT, programs the virtual 8259 (IRQ0 at vector 0x20,
/// only IRQ0 unmasked) and the 8254 (100 Hz), enables interrupts and halts
/// until [`IRQ_TICKS`] timer interrupts have been taken.
/// `unmask`: initialise the virtual 8259 with only IRQ [`UNMASK_IRQ`]
/// unmasked; interrupts stay disabled, so nothing is delivered.
fn unmask() -> Result<(), Fail> {
    for (port, value) in wedge_guest::pic_init_masked(IRQ0_VECTOR, !(1 << wedge_guest::UNMASK_IRQ))
    {
        super::cpu::outb(port, value);
    }
    say!("8259 initialised, IRQ {} unmasked", wedge_guest::UNMASK_IRQ);
    Ok(())
}

fn irq(spin: bool) -> Result<(), Fail> {
    let other = head::wg_other_entry as *const () as u32;
    let timer = head::wg_irq0_entry as *const () as u32;
    // SAFETY: interrupts are still disabled, so nothing reads the IDT while
    // it is written; it is a static that never moves.
    unsafe {
        let idt = &mut *core::ptr::addr_of_mut!(IDT);
        idt.0.fill(interrupt_gate(other, KERNEL_CS));
        idt.0[usize::from(IRQ0_VECTOR)] = interrupt_gate(timer, KERNEL_CS);
        super::cpu::load_idt(idt.0.as_ptr() as u32, (256 * 8 - 1) as u16);
    }
    for (port, value) in pic_init(IRQ0_VECTOR) {
        super::cpu::outb(port, value);
    }
    let [lo, hi] = pit_divisor(100).to_le_bytes();
    super::cpu::outb(0x43, 0x34); // channel 0, lo/hi byte, rate generator
    super::cpu::outb(0x40, lo);
    super::cpu::outb(0x40, hi);
    say!("IDT loaded, 8259 at vector {IRQ0_VECTOR:#x}, 8254 at 100 Hz, IRQ0 unmasked");
    let ticks = || {
        // SAFETY: a word only the interrupt entry writes.
        unsafe { core::ptr::addr_of!(head::wg_ticks).read_volatile() }
    };
    // SAFETY: the IDT covers every vector.
    unsafe { super::cpu::sti() };
    let mut halts = 0u32;
    while ticks() < IRQ_TICKS {
        if !spin {
            super::cpu::hlt();
        }
        halts += 1;
    }
    super::cpu::cli();
    // SAFETY: as for ticks.
    let unexpected = unsafe { core::ptr::addr_of!(head::wg_unexpected).read_volatile() };
    say!(
        "{} timer interrupts after {halts} hlt, {unexpected} other interrupts",
        ticks()
    );
    if unexpected != 0 {
        return Err(Fail::Static("interrupts at vectors other than IRQ0"));
    }
    Ok(())
}

/// `echo`: poll COM2's line status (bit 0: a byte waits) and read its
/// receive register; print each line typed. A write to COM2's scratch
/// register between polls makes the wedge look for console input at once
/// (it does on guest serial writes and on its IRQ thread's wake-ups).
fn echo() -> Result<(), Fail> {
    use super::cpu::{inb, outb, COM2};
    say!("ready: type {} lines", wedge_guest::ECHO_LINES);
    let mut line = wedge_guest::LineBuf::default();
    let mut lines = 0;
    while lines < wedge_guest::ECHO_LINES {
        outb(COM2 + 7, 0);
        if inb(COM2 + 5) & 1 == 0 {
            continue;
        }
        if let Some(l) = line.push(inb(COM2)) {
            say!("got \"{}\"", wedge_guest::Escaped(l));
            lines += 1;
        }
    }
    Ok(())
}
