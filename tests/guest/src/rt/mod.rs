//! The guest proper: image layout and entry ([`image`]), IPC to the monitor
//! through the generated stubs ([`transport`]), and the run ([`guest`]).
//!
//! The isolation modes (`mode=`) are in [`modes`]; `mode=smp` in [`smp`].
//!
//! Unsafe code is confined to [`image`] (the shared-page reader),
//! [`transport`] (the Ipc system call), [`guest`] (raw guest-physical
//! memory and the final wait) and [`modes`] (pages the monitor maps on
//! request), each with its reason.

pub mod guest;
pub mod image;
pub mod modes;
pub mod smp;
pub mod transport;
