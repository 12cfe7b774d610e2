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

/// Print bytes on the debugger console with as few kernel entries as
/// possible: runs without NUL go out through PrintString, up to
/// [`PRINT_CHUNK`] bytes per call (one trap instead of one per byte); a
/// NUL byte goes out through PrintChar.
pub fn put_bytes(bytes: &[u8]) {
    let mut buf = [0u8; PRINT_CHUNK + 1];
    for run in bytes.split_inclusive(|b| *b == 0) {
        let (text, nul) = match run.split_last() {
            Some((0, head)) => (head, true),
            _ => (run, false),
        };
        for chunk in text.chunks(PRINT_CHUNK) {
            buf[..chunk.len()].copy_from_slice(chunk);
            buf[chunk.len()] = 0;
            print_nul_terminated(&buf[..=chunk.len()]);
        }
        if nul {
            put_byte(0);
        }
    }
}

/// Bytes per PrintString call.
pub const PRINT_CHUNK: usize = 128;

/// PrintString of `s`, which ends with its only NUL.
fn print_nul_terminated(s: &[u8]) {
    debug_assert_eq!(s.iter().position(|b| *b == 0), Some(s.len() - 1));
    // SAFETY: int3 followed by `cmp al, 1` is the debugger's PrintString
    // operation; the kernel reads the NUL-terminated string at EAX (mapped:
    // it is on our stack) and changes no memory of ours. EAX is declared
    // clobbered in case the kernel's return path does not restore it.
    unsafe { asm!("int3", "cmp al, 1", inout("eax") s.as_ptr() => _, options(readonly, nostack)) }
}

/// Print a string on the debugger console.
pub fn put_str(s: &str) {
    put_bytes(s.as_bytes());
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
