//! The resource monitor's policy code: what it decides and prints at boot.
//!
//! Everything here is safe, `no_std` Rust that the host tests run; the ia32
//! binary (`main.rs`) only adds the parts that need the kernel (system calls,
//! raw memory). Keeping that split (Tock's trusted/untrusted line) means a
//! parsing or policy bug shows up in `cargo test`, not in a QEMU log.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod bootlog;
pub mod console_input;
pub mod console_mux;
pub mod fresh;
#[allow(missing_docs, clippy::all)]
/// The IPC interface generated from `idl/resourcemon.idl` (server side).
pub mod ipc {
    include!(concat!(env!("OUT_DIR"), "/resourcemon.rs"));
}
pub mod memory;
pub mod served;
pub mod server;
pub mod supervise;
pub mod vm;

/// Printed on the console when the monitor has finished its work without error.
///
/// Control characters at the end keep an echoed log line from matching by
/// accident (rust-sel4's convention, anchors §7 item 10).
pub const SUCCESS_SENTINEL: &str = "INDICATE_SUCCESS\x06";
/// Printed when the monitor stops on an error or a panic.
pub const FAILURE_SENTINEL: &str = "INDICATE_FAILURE\x15";
/// Prefix of every line the monitor prints (guest output carries its own prefix).
pub const LOG_PREFIX: &str = "resourcemon: ";
