//! The test guest's ia32 image (see `rt/` for what it does).
//!
//! Built with `cargo build -p test-guest --target i586-unknown-linux-gnu
//! --release` (the workspace's build.rs does this for the boot scenarios).
//! On any other target this binary only explains that.
#![cfg_attr(target_arch = "x86", no_std, no_main)]

#[cfg(target_arch = "x86")]
mod rt;

#[cfg(not(target_arch = "x86"))]
fn main() {
    eprintln!(
        "test-guest is a VM module for the resource monitor on ia32; build it with \
         cargo build -p test-guest --target i586-unknown-linux-gnu --release"
    );
    std::process::exit(2);
}
