//! The few privileged instructions the guest uses, each padded and listed in
//! `.afterburn` so the wedge rewrites it into a call to its emulation.

use core::arch::asm;

/// Expands to the assembly of one sensitive instruction (AT&T syntax): the
/// instruction, NOPs up to 20 bytes, and its {start, end} pair pushed into
/// the `.afterburn` section (as `SENS` in `head.S` does).
macro_rules! sensitive {
    ($insn:literal) => {
        concat!(
            "771:\n",
            $insn,
            "\n772:\n",
            ".fill 20 - (772b - 771b), 1, 0x90\n",
            ".pushsection .afterburn, \"a\"\n",
            ".long 771b, 771b + 20\n",
            ".popsection\n",
        )
    };
}

/// The emulated 8250 UART's data port (COM1).
pub const COM1: u16 = 0x3f8;

/// Writes one byte to an I/O port.
pub fn outb(port: u16, value: u8) {
    // SAFETY: an `out` to a port has no effect on memory; under the wedge it
    // becomes a call into the wedge's device emulation, which preserves all
    // registers.
    unsafe {
        asm!(sensitive!("outb %al, %dx"), in("dx") port, in("al") value,
             options(att_syntax, nostack, preserves_flags));
    }
}

/// The emulated 8250 UART the wedge puts console input into (COM2).
pub const COM2: u16 = 0x2f8;

/// Reads one byte from an I/O port.
pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: an `in` from a port has no effect on memory; under the wedge it
    // becomes a call into the wedge's device emulation, which preserves all
    // registers but the result.
    unsafe {
        asm!(sensitive!("inb %dx, %al"), in("dx") port, out("al") v,
             options(att_syntax, nostack, preserves_flags));
    }
    v
}

/// Loads CR3 with the guest-physical address of a page directory (also
/// flushes the guest TLB, i.e. the wedge's mappings).
///
/// # Safety
/// `pdir` must be a valid page directory that maps the running code, its
/// stack and everything the caller touches next.
pub unsafe fn write_cr3(pdir: u32) {
    // SAFETY: the caller guarantees the new address space is usable.
    unsafe {
        asm!(sensitive!("movl %eax, %cr3"), in("eax") pdir,
             options(att_syntax, nostack, preserves_flags));
    }
}

/// Loads the IDT register.
///
/// # Safety
/// `base` must hold `limit + 1` bytes of valid gates that stay in place
/// while interrupts may be delivered.
pub unsafe fn load_idt(base: u32, limit: u16) {
    let mut dtr = [0u8; 6];
    dtr[..2].copy_from_slice(&limit.to_le_bytes());
    dtr[2..].copy_from_slice(&base.to_le_bytes());
    // SAFETY: `lidt` reads the 6-byte pseudo-descriptor; the caller
    // guarantees the table.
    unsafe {
        asm!(sensitive!("lidt (%eax)"), in("eax") dtr.as_ptr(),
             options(att_syntax, nostack, readonly, preserves_flags));
    }
}

/// Enables interrupts.
///
/// # Safety
/// An IDT must be loaded for every vector that can arrive.
pub unsafe fn sti() {
    // SAFETY: only EFLAGS.IF changes (emulated by the wedge); the caller
    // guarantees the IDT. Not `nomem`: handlers write memory.
    unsafe { asm!(sensitive!("sti"), options(att_syntax, nostack)) };
}

/// Disables interrupts.
pub fn cli() {
    // SAFETY: only clears EFLAGS.IF.
    unsafe { asm!(sensitive!("cli"), options(att_syntax, nostack)) };
}

/// Halts until the next interrupt (returns after its handler ran).
pub fn hlt() {
    // SAFETY: `hlt` only waits; the wedge blocks the virtual CPU until an
    // interrupt is pending. Not `nomem`: handlers write memory.
    unsafe { asm!(sensitive!("hlt"), options(att_syntax, nostack)) };
}

/// The emulated 8259s' interrupt mask registers (master, slave).
const PIC_MASKS: [u16; 2] = [0x21, 0xa1];

/// Idles forever: masks every interrupt line in the virtual PICs, enables
/// interrupts and halts. (The wedge panics on `hlt` with interrupts
/// disabled, so a plain `cli; hlt` would enter the kernel debugger.)
pub fn halt_forever() -> ! {
    for port in PIC_MASKS {
        outb(port, 0xff);
    }
    // SAFETY: with every line masked no interrupt is delivered, so no IDT
    // is needed (in `mode=irq` one is loaded anyway).
    unsafe { sti() };
    loop {
        hlt();
    }
}
