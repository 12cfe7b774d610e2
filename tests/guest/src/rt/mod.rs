//! The guest proper: image layout and entry ([`image`]), IPC to the monitor
//! through the generated stubs ([`transport`]), and the run ([`guest`]).
//!
//! Unsafe code is confined to [`image`] (the shared-page reader),
//! [`transport`] (the Ipc system call) and [`guest`] (raw guest-physical
//! memory and the final wait), each with its reason.

pub mod guest;
pub mod image;
pub mod transport;
