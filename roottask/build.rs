//! Links the ia32 image with `link.ld` (freestanding, loaded by kickstart at
//! its physical addresses). Host builds of the crate are unaffected.

fn main() {
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
