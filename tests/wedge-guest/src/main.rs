//! The wedge guest's ia32 image: a guest kernel for the afterburn wedge
//! (see `rt/` for what it does, `lib.rs` for what it decides).
//!
//! Built with `cargo build -p wedge-guest --target i586-unknown-linux-gnu
//! --release` (the workspace's build.rs does this). On any other target this
//! binary only explains that.
#![cfg_attr(target_arch = "x86", no_std, no_main)]

#[cfg(target_arch = "x86")]
mod rt;

#[cfg(not(target_arch = "x86"))]
fn main() {
    eprintln!(
        "wedge-guest is a guest kernel for the afterburn wedge on ia32; build it with \
         cargo build -p wedge-guest --target i586-unknown-linux-gnu --release"
    );
    std::process::exit(2);
}
