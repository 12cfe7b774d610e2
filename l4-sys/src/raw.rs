//! bindgen output, one module per architecture (see `build.rs`).
//!
//! These are the plain C layouts; code should prefer the safe wrappers in
//! [`crate::types`], [`crate::kip`] and [`crate::bootinfo`].
#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    missing_docs,
    dead_code,
    clippy::all
)]

/// Types and constants for 32-bit x86, from the project's own header.
pub mod ia32 {
    include!(concat!(env!("OUT_DIR"), "/own_ia32.rs"));
}

/// Types and constants for x86-64, from the project's own header.
pub mod amd64 {
    include!(concat!(env!("OUT_DIR"), "/own_amd64.rs"));
}

/// The same translated from Pistachio's own user headers (when `PISTACHIO_DIR` was set).
#[cfg(l4_upstream_headers)]
pub mod upstream_ia32 {
    include!(concat!(env!("OUT_DIR"), "/upstream_ia32.rs"));
}
