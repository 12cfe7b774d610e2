//! `println!` on the kernel debugger console, every line prefixed with
//! [`roottask::LOG_PREFIX`] so monitor output stands apart from guest output.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use l4_sys::ia32::kdb;
use roottask::console_mux::ConsoleMux;

/// The console's line state (`ConsoleMux::to_word`); labels on at boot.
static MUX: AtomicUsize = AtomicUsize::new(1);
/// Monitor log lines off (ESC `s`); guest output, notices and the
/// sentinels are always printed.
static SILENT: AtomicBool = AtomicBool::new(false);

/// Monitor log lines off (`true`) or on.
pub fn set_silent(on: bool) {
    SILENT.store(on, Relaxed);
}

fn with_mux(f: impl FnOnce(&mut ConsoleMux)) {
    let mut m = ConsoleMux::from_word(MUX.load(Relaxed));
    f(&mut m);
    MUX.store(m.to_word(), Relaxed);
}

fn put_bytes(bytes: &[u8]) {
    if super::uart::direct_output() {
        super::uart::write(bytes);
    } else {
        kdb::put_bytes(bytes);
    }
}

/// Guest lines labelled with their VM (`console=labels`) or raw.
pub fn set_labels(on: bool) {
    with_mux(|m| m.set_labels(on));
}

/// Collects a line and prints it in as few kernel entries as it can
/// (PrintString per 128 bytes instead of PrintChar per byte); what does not
/// fit in the buffer goes out as it comes.
struct Log(heapless::Vec<u8, 256>);

impl Log {
    fn new() -> Log {
        Log(heapless::Vec::new())
    }

    fn flush(&mut self) {
        put_bytes(&self.0);
        self.0.clear();
    }
}

impl Write for Log {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.0.extend_from_slice(s.as_bytes()).is_err() {
            self.flush();
            if self.0.extend_from_slice(s.as_bytes()).is_err() {
                put_bytes(s.as_bytes());
            }
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print_line(args: fmt::Arguments<'_>) {
    if !SILENT.load(Relaxed) {
        _print_always(args);
    }
}

#[doc(hidden)]
pub fn _print_always(args: fmt::Arguments<'_>) {
    with_mux(|m| m.monitor_line(&mut put_bytes));
    let mut log = Log::new();
    let _ = log.write_str(roottask::LOG_PREFIX);
    let _ = log.write_fmt(args);
    let _ = log.write_str("\n");
    log.flush();
}

/// Print one prefixed line on the console.
macro_rules! println {
    ($($arg:tt)*) => { $crate::rt::console::_print_line(format_args!($($arg)*)) };
}

/// Print one prefixed line even while log lines are off (sentinels, fatal
/// errors: the harness and the user must always see them).
macro_rules! println_always {
    ($($arg:tt)*) => { $crate::rt::console::_print_always(format_args!($($arg)*)) };
}

/// A console line of the monitor's without its prefix (the focus lines).
pub fn notice(args: fmt::Arguments<'_>) {
    with_mux(|m| m.monitor_line(&mut put_bytes));
    let mut log = Log::new();
    let _ = log.write_fmt(args);
    let _ = log.write_str("\n");
    log.flush();
}

/// A VM's console output, at once and as it came; the mux labels the
/// lines (`vm1: ...`) so the log says who wrote them.
pub fn guest_output(slot: usize, bytes: &[u8]) {
    with_mux(|m| m.guest(slot, bytes, &mut put_bytes));
}
