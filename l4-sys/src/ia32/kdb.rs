//! The kernel debugger console (§8): `int3` followed by an operation byte.
//!
//! Only available on kernels built with the debugger; the project's boot
//! scenarios require that configuration.

use core::arch::asm;

/// Print one byte on the debugger console.
pub fn put_byte(c: u8) {
    // SAFETY: int3 followed by `cmp al, 0` is the debugger's PrintChar
    // operation; the kernel returns after the three bytes with no register
    // changed except the flags (the cmp).
    unsafe { asm!("int3", "cmp al, 0", in("al") c, options(nomem, nostack)) }
}

/// Print a string on the debugger console.
pub fn put_str(s: &str) {
    for b in s.bytes() {
        put_byte(b);
    }
}

/// Toggle the debugger's serial break-in (an ESC on the serial line
/// entering the debugger, checked on the timer tick). The kernel keeps only
/// a flag and offers no way to read it; debug kernels start with break-in
/// on, so one call at boot switches it off.
pub fn toggle_breakin() {
    // SAFETY: int3 followed by `cmp al, 3` is the debugger's ToggleBreakin
    // operation; it changes no register except the flags (the cmp).
    unsafe { asm!("int3", "cmp al, 3", options(nomem, nostack)) }
}

/// Read a byte from the debugger console without blocking.
pub fn try_get_byte() -> Option<u8> {
    let c: u8;
    // SAFETY: ReadChar returns the byte (or 0xff) in AL; nothing else changes.
    unsafe { asm!("int3", "cmp al, 8", out("al") c, options(nomem, nostack)) }
    (c != 0xff).then_some(c)
}

/// Stop in the kernel debugger with a fixed message.
///
/// The message address is read by the kernel from the instruction stream,
/// so it must be a link-time constant; print details with [`put_str`] first.
pub fn enter() {
    // SAFETY: int3; jmp +5; mov eax, imm32 is the "enter debugger" sequence.
    // The kernel reads the string address from the mov's immediate. EAX is
    // really loaded only if the debugger returns, hence the clobber.
    unsafe {
        asm!(
            "int3",
            "jmp 2f",
            "mov eax, offset {msg}",
            "2:",
            msg = sym ENTER_MESSAGE_BYTES,
            out("eax") _,
            options(nostack),
        )
    }
}

#[no_mangle]
static ENTER_MESSAGE_BYTES: [u8; 17] = *b"roottask stopped\0";

/// A `core::fmt::Write` sink for the debugger console.
pub struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        put_str(s);
        Ok(())
    }
}
