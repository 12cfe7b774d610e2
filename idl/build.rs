//! Generates the self-test copy of `resourcemon.idl` into `OUT_DIR` for this
//! crate's own tests, benchmark and `selftest` feature.
//!
//! The compiler sources are included by path (the crate cannot be a build
//! dependency of itself), so what is tested here is exactly the code a
//! dependent build script runs through `idl::codegen`.

#[allow(dead_code)]
#[path = "src/codegen/mod.rs"]
mod codegen;
#[allow(dead_code)]
#[path = "src/word.rs"]
mod word;

fn main() {
    println!("cargo::rerun-if-changed=src/codegen");
    println!("cargo::rerun-if-changed=src/word.rs");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(e) = codegen::Generator::new(codegen::RESOURCEMON_IDL)
        .server()
        .client()
        .write(out.join("resourcemon.rs"))
    {
        // A broken IDL file must not break builds of dependents that never
        // use the self-test copy; the tests will fail loudly instead.
        println!("cargo::warning=resourcemon.idl: {e}");
        std::fs::write(
            out.join("resourcemon.rs"),
            format!("compile_error!({:?});\n", e.to_string()),
        )
        .expect("OUT_DIR is writable");
    }
}
