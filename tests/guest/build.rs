//! Generates the resource monitor's client stubs from `idl/resourcemon.idl`
//! into `OUT_DIR`, and links the ia32 image with `link.ld`.

use std::env;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR unset")?);
    // `write` prints cargo::rerun-if-changed for the IDL file.
    idl::codegen::Generator::new(idl::codegen::RESOURCEMON_IDL)
        .client()
        .write(out.join("resourcemon.rs"))?;

    println!("cargo::rerun-if-changed=link.ld");
    if env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default() == "x86" {
        let dir = env::var("CARGO_MANIFEST_DIR")?;
        println!("cargo::rustc-link-arg-bins=-Wl,-T{dir}/link.ld");
        println!(
            "cargo::rustc-link-arg-bins=-Wl,-Map={}/test-guest.map",
            out.display()
        );
    }
    Ok(())
}
