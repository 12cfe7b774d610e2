//! ia32 system calls and the kernel debugger console.
//!
//! Pistachio's ia32 system calls are entered by `call`ing stubs inside the
//! KIP page; the KIP's link words give each stub's offset from the KIP base
//! (§2.4). [`init`] reads them once; every call then goes through a static
//! entry table. Each `asm!` block saves ESI and EBP (LLVM reserves them, §3.3)
//! and declares every other register the stub or kernel may change as
//! clobbered, so no caller state is assumed to survive a system call.
//!
//! The wrappers are `unsafe` only where the caller must vouch for something
//! the type system cannot see (UTCB addresses, memory mapped by a call).

pub mod kdb;
#[cfg(feature = "freestanding")]
pub mod mem;
mod syscalls;
pub mod utcb;

pub use syscalls::*;
