//! The resource monitor's ia32 image (see `rt/` for the boot sequence).
//!
//! Built with `cargo build -p roottask --target i586-unknown-linux-gnu`
//! (the workspace's build.rs does this for the tests). On any other target
//! this binary only explains that.
#![cfg_attr(target_arch = "x86", no_std, no_main)]

#[cfg(target_arch = "x86")]
#[macro_use]
mod rt;

#[cfg(not(target_arch = "x86"))]
fn main() {
    eprintln!("roottask runs on ia32 under L4Ka::Pistachio; build it with --target i586-unknown-linux-gnu");
    std::process::exit(2);
}
