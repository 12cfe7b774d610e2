//! Generates the IPC interface from `idl/resourcemon.idl` (server traits and
//! dispatch, into `OUT_DIR`), and links the ia32 image with `link.ld`
//! (freestanding, loaded by kickstart at its physical addresses).

fn main() {
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(e) = idl::codegen::Generator::new(idl::codegen::RESOURCEMON_IDL)
        .server()
        .write(out.join("resourcemon.rs"))
    {
        panic!(
            "generating the IPC interface from {}: {e}",
            idl::codegen::RESOURCEMON_IDL
        );
    }
    println!("cargo::rerun-if-changed=link.ld");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch == "x86" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
        println!("cargo::rustc-link-arg-bins=-Wl,-T{dir}/link.ld");
        println!(
            "cargo::rustc-link-arg-bins=-Wl,-Map={}/roottask.map",
            std::env::var("OUT_DIR").unwrap_or_default()
        );
    }
}
