//! Console lines on the emulated UART: the wedge collects the bytes written
//! to COM1 and hands each line to the resource monitor (put_chars).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, Ordering};

use super::cpu::{outb, COM1};
use wedge_guest::{Mode, PREFIX};

/// The mode being run (index into `Mode::ALL`, 0xff = none yet), for the
/// panic handler's line.
static MODE: AtomicU8 = AtomicU8::new(0xff);

/// Remembers the mode for later lines.
pub fn set_mode(mode: Mode) {
    let i = Mode::ALL.iter().position(|&m| m == mode).unwrap_or(0xff);
    MODE.store(i as u8, Ordering::Relaxed);
}

/// The current mode's name, or "none".
pub fn mode_name() -> &'static str {
    Mode::ALL
        .get(usize::from(MODE.load(Ordering::Relaxed)))
        .map_or("none", |m| m.name())
}

/// Writes bytes to COM1.
pub struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            outb(COM1, b);
        }
        Ok(())
    }
}

/// Prints one line `wedgeguest <mode>: <args>`.
pub fn line(args: fmt::Arguments<'_>) {
    // Writing to the UART cannot fail.
    let _ = writeln!(Uart, "{PREFIX} {}: {args}", mode_name());
}

/// `say!("fmt", args…)`: one console line with the guest's prefix.
macro_rules! say {
    ($($t:tt)*) => { $crate::rt::console::line(format_args!($($t)*)) };
}
