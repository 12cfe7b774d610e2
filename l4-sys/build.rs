//! Generates the X.2 data types with bindgen.
//!
//! The project's own header (`include/l4-x2.h`, written from the ABI spec) is
//! always translated, for ia32 and amd64, and is what the crate's code uses.
//! When `PISTACHIO_DIR` points at a Pistachio build, its user headers are
//! translated too (ia32) into `upstream_ia32.rs`, and the crate is compiled
//! with `cfg(l4_upstream_headers)` so a test can check that both agree.

use std::env;
use std::path::{Path, PathBuf};

fn main() {
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let own = manifest.join("include/l4-x2.h");
    println!("cargo::rerun-if-changed={}", own.display());
    println!("cargo::rerun-if-env-changed=PISTACHIO_DIR");
    println!("cargo::rustc-check-cfg=cfg(l4_upstream_headers)");

    for (name, clang_target) in [
        ("ia32", "i686-unknown-linux-gnu"),
        ("amd64", "x86_64-unknown-linux-gnu"),
    ] {
        let bindings = base_builder(clang_target)
            .header(own.to_string_lossy())
            .generate()
            .unwrap_or_else(|e| {
                panic!(
                    "bindgen failed on {} for {clang_target}: {e}",
                    own.display()
                )
            });
        bindings
            .write_to_file(out.join(format!("own_{name}.rs")))
            .expect("write generated bindings into OUT_DIR");
    }

    if let Some(include) = upstream_include_dir() {
        let wrapper = out.join("upstream_wrapper.h");
        // kip.h pulls in the arch syscall header, whose GCC-only inline asm
        // clang rejects; pre-defining its include guard skips it (spec §10).
        std::fs::write(
            &wrapper,
            "#define __L4__X86__SYSCALLS_H__\n\
             #include <l4/types.h>\n\
             void *L4_KernelInterface(L4_Word_t *, L4_Word_t *, L4_Word_t *);\n\
             #include <l4/kip.h>\n\
             #include <l4/message.h>\n\
             #include <l4/bootinfo.h>\n",
        )
        .expect("write upstream wrapper header");
        let bindings = base_builder("i686-unknown-linux-gnu")
            .clang_arg(format!("-I{}", include.display()))
            .header(wrapper.to_string_lossy())
            .generate()
            .unwrap_or_else(|e| {
                panic!(
                    "bindgen failed on the Pistachio headers in {} (PISTACHIO_DIR): {e}",
                    include.display()
                )
            });
        bindings
            .write_to_file(out.join("upstream_ia32.rs"))
            .expect("write generated bindings into OUT_DIR");
        println!("cargo::rustc-cfg=l4_upstream_headers");
        println!("cargo::rerun-if-changed={}", include.display());
    }
}

/// Settings shared by every translation: data types and constants only, core types.
///
/// C types come from `raw::ilp32` / `raw::lp64` (by the clang target), not
/// from `core::ffi`, so a translation for ia32 means the same on any host
/// (`unsigned long` is 32 bits on ia32 even when the tests run on x86-64).
fn base_builder(clang_target: &str) -> bindgen::Builder {
    let ctypes = if clang_target.starts_with("x86_64") {
        "crate::raw::lp64"
    } else {
        "crate::raw::ilp32"
    };
    bindgen::Builder::default()
        .use_core()
        .ctypes_prefix(ctypes)
        .detect_include_paths(false)
        .clang_arg(format!("--target={clang_target}"))
        .clang_arg("-std=gnu99")
        .clang_arg("-ffreestanding")
        .allowlist_type("L4_.*")
        .allowlist_var("L4_.*")
        .allowlist_var("__L4_TCR_.*")
        .ignore_functions()
        .constified_enum_module(".*")
        .derive_default(true)
        .derive_debug(true)
        // The generated assertions check the layout rustc computes for the
        // *compile* target; they cannot hold for the other architecture's
        // module, so tests/layout.rs checks both against the spec instead.
        .layout_tests(false)
}

/// The Pistachio user include directory, if `PISTACHIO_DIR` (or, when it is
/// unset, `/opt/pistachio`, as the QEMU tool does) holds a usable one.
///
/// Accepts either an install prefix (`$PISTACHIO_DIR/include/l4`) or a source
/// tree (`$PISTACHIO_DIR/user/include/l4`).
fn upstream_include_dir() -> Option<PathBuf> {
    let dir = match env::var_os("PISTACHIO_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/opt/pistachio"),
    };
    ["include", "user/include", "src/user/include"]
        .iter()
        .map(|sub| dir.join(sub))
        .find(|candidate| has_l4_headers(candidate))
}

fn has_l4_headers(dir: &Path) -> bool {
    dir.join("l4/types.h").is_file() && dir.join("l4/kip.h").is_file()
}
