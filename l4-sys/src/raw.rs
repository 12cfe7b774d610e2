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

/// C types of a data model, whatever the host: `long` is the only type
/// whose width differs between the two.
macro_rules! c_types {
    ($(#[$doc:meta])* $name:ident, $long:ty, $ulong:ty) => {
        $(#[$doc])*
        pub mod $name {
            pub type c_char = i8;
            pub type c_schar = i8;
            pub type c_uchar = u8;
            pub type c_short = i16;
            pub type c_ushort = u16;
            pub type c_int = i32;
            pub type c_uint = u32;
            pub type c_long = $long;
            pub type c_ulong = $ulong;
            pub type c_longlong = i64;
            pub type c_ulonglong = u64;
            pub use core::ffi::c_void;
        }
    };
}

c_types!(
    /// C types of a 32-bit (ILP32) target.
    ilp32, i32, u32
);
c_types!(
    /// C types of a 64-bit (LP64) target.
    lp64, i64, u64
);

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
