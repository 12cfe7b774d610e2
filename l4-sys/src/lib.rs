//! The L4 X.2 ABI as implemented by L4Ka::Pistachio, for Rust.
//!
//! * [`raw`]: bindgen output (types and constants), for ia32 and amd64.
//! * [`types`]: safe word-level types the rest of the project uses
//!   ([`ThreadId`], [`Fpage`], [`MsgTag`], [`Time`], map and string items).
//! * [`msg`]: a message-register image and a builder for messages.
//! * [`kip`] and [`bootinfo`]: safe readers over the bytes of the kernel
//!   interface page and the boot information, testable on the host.
//! * `ia32` (only when compiled for 32-bit x86): the system calls, written by
//!   hand with `asm!`, and the kernel debugger console.
//!
//! The facts come from `shared/spec/x2-abi.md`; section numbers in the docs
//! refer to it. Word size: the crate's own word-level API is ia32 (32-bit
//! words), the primary target; `raw::amd64` is generated so amd64 can follow.
#![no_std]
#![warn(missing_docs)]

#[cfg(test)]
extern crate std;

pub mod bootinfo;
pub mod kip;
pub mod msg;
pub mod multiboot;
pub mod raw;
pub mod types;

#[cfg(target_arch = "x86")]
pub mod ia32;

pub use msg::Message;
pub use types::{
    Acceptor, Fpage, IpcError, IpcErrorKind, KernelError, MapItem, MsgTag, Rights, StringItem,
    ThreadId, Time, Timeouts,
};

/// One machine word of the primary ABI (ia32).
pub type Word = u32;

/// Bytes per [`Word`].
pub const WORD_BYTES: usize = core::mem::size_of::<Word>();
