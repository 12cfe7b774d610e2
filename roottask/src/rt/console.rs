//! `println!` on the kernel debugger console, every line prefixed with
//! [`roottask::LOG_PREFIX`] so monitor output stands apart from guest output.

use core::fmt::{self, Write};
use l4_sys::ia32::kdb;

/// Writes whole lines with the monitor's prefix.
pub struct Log;

impl Write for Log {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        kdb::put_str(s);
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print_line(args: fmt::Arguments<'_>) {
    let mut log = Log;
    let _ = log.write_str(roottask::LOG_PREFIX);
    let _ = log.write_fmt(args);
    let _ = log.write_str("\n");
}

/// Print one prefixed line on the console.
macro_rules! println {
    ($($arg:tt)*) => { $crate::rt::console::_print_line(format_args!($($arg)*)) };
}

/// Print one line of a VM's console output, prefixed with the VM's slot
/// (`vm1: ...`) instead of the monitor's prefix, so the log says who wrote it.
pub fn guest_line(slot: usize, line: &[u8]) {
    let mut log = Log;
    let _ = write!(log, "vm{slot}: ");
    for chunk in line.utf8_chunks() {
        let _ = log.write_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            let _ = log.write_str("?");
        }
    }
    let _ = log.write_str("\n");
}
