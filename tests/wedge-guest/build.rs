//! Links the ia32 guest kernel with `link.ld`.

use std::env;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rerun-if-changed=link.ld");
    println!("cargo::rerun-if-changed=src/rt/head.S");
    if env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default() == "x86" {
        let dir = env::var("CARGO_MANIFEST_DIR")?;
        let out = env::var("OUT_DIR")?;
        println!("cargo::rustc-link-arg-bins=-Wl,-T{dir}/link.ld");
        println!("cargo::rustc-link-arg-bins=-Wl,-Map={out}/wedge-guest.map");
    }
    Ok(())
}
