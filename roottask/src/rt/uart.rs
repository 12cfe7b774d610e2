//! The serial console's receive side: COM1's 16550 read directly with
//! `in`/`out`, as the original's console thread does (§9.5: Pistachio on
//! ia32 gives user threads IOPL 3, so no I/O fpage is needed).
//!
//! The kernel debugger keeps COM1's transmit side (PrintChar); the monitor
//! only reads the line status and receive registers, after switching off
//! the debugger's ESC break-in (which would otherwise eat the bytes on its
//! timer tick and stop the machine on the first ESC).

use core::arch::asm;
use l4_sys::ia32::kdb;

/// COM1's base port (the kernel debugger's console, x2-abi §8).
const COM1: u16 = 0x3f8;
/// Receive buffer (read).
const RBR: u16 = COM1;
/// Transmit holding register (write).
const THR: u16 = COM1;
/// LSR bit 5: the transmit holding register is empty.
const THR_EMPTY: u8 = 0x20;
/// FIFO control (write).
const FCR: u16 = COM1 + 2;
/// Line status: bit 0, a byte is waiting.
const LSR: u16 = COM1 + 5;
/// FCR: FIFOs on, both cleared, trigger level 1.
const FIFO_ON: u8 = 0x07;

fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: reading a UART register has no effect on memory; the root
    // task runs with IOPL 3 (§9.5), so `in` does not fault.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags))
    };
    v
}

fn outb(port: u16, v: u8) {
    // SAFETY: as for `inb`; only the FIFO control register and (with
    // direct output) the transmit register are written.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack, preserves_flags))
    };
}

/// Take the serial line from the debugger: break-in off, receive FIFO on
/// (16 bytes held between two polls instead of 1). Call once, before any
/// VM runs.
pub fn init() {
    kdb::toggle_breakin();
    outb(FCR, FIFO_ON);
}

/// The next received byte, if one is waiting.
pub fn try_read() -> Option<u8> {
    (inb(LSR) & 1 != 0).then(|| inb(RBR))
}

/// Whether the monitor writes its output to COM1 itself instead of through
/// the kernel debugger's PrintString (set once at boot on an SMP kernel).
static DIRECT: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Write output straight to COM1 from now on (`true`), not through the
/// kernel debugger. On the SMP kernel every PrintString is a debugger
/// entry, and under load those entries misread their operation ("kdb:
/// unknown kdb op") or stopped the machine; one CPU keeps the debugger
/// path, whose timing the single-CPU scenarios' figures were taken with.
pub fn set_direct_output(on: bool) {
    DIRECT.store(on, core::sync::atomic::Ordering::Relaxed);
}

/// See [`set_direct_output`].
pub fn direct_output() -> bool {
    DIRECT.load(core::sync::atomic::Ordering::Relaxed)
}

/// Send `bytes` on COM1, each newline followed by a carriage return (as
/// the debugger's console does), waiting for the transmitter each time.
pub fn write(bytes: &[u8]) {
    let put = |b: u8| {
        while inb(LSR) & THR_EMPTY == 0 {
            core::hint::spin_loop();
        }
        outb(THR, b);
    };
    for &b in bytes {
        put(b);
        if b == b'\n' {
            put(b'\r');
        }
    }
}
