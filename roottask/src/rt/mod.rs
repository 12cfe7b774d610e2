//! The root task proper: start-up, console, sigma0, the boot sequence.
//!
//! Unsafe code lives only in [`arch`] (entry, raw memory views) and
//! [`sigma0`] (IPC that maps pages into our space); everything it decides is
//! in the safe `roottask` library.

#[macro_use]
pub mod console;
pub mod arch;
pub mod boot;
pub mod heap;
pub mod serve;
pub mod sigma0;
pub mod uart;
pub mod vms;
