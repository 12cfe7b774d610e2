//! Cross-builds the ia32 images (the root task; later the test guests) so
//! that `cargo test` and `cargo run -p qemu` always boot what is in the tree.
//!
//! A nested `cargo build --target i586-unknown-linux-gnu` runs with its own
//! target directory (`target/ia32`), so it never waits on the outer build's
//! lock. The image paths reach the `resourcemon` library as compile-time
//! environment variables. Set `RESOURCEMON_SKIP_IMAGES=1` to skip this (for
//! `cargo doc` or quick host-only checks); the paths then name files that
//! may not exist, and the boot scenarios say so.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The built-in target used as a freestanding ia32 target (README "Target").
const TARGET: &str = "i586-unknown-linux-gnu";
/// The packages built for it, and their binaries.
const IMAGES: &[(&str, &str)] = &[
    ("roottask", "ROOTTASK"),
    ("test-guest", "TEST_GUEST"),
    ("wedge-guest", "WEDGE_GUEST"),
];

fn main() {
    let root =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let target_dir = env::var_os("RESOURCEMON_IMAGE_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("ia32"));
    let profile = "release";
    for dir in [
        "l4-sys",
        "roottask",
        "idl",
        "kickstart-config",
        "tests/guest",
        "tests/wedge-guest",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(dir).display());
    }
    println!(
        "cargo::rerun-if-changed={}",
        root.join(".cargo/config.toml").display()
    );
    println!("cargo::rerun-if-env-changed=RESOURCEMON_SKIP_IMAGES");
    println!("cargo::rerun-if-env-changed=RESOURCEMON_IMAGE_TARGET_DIR");

    let out = target_dir.join(TARGET).join(profile);
    for (package, var) in IMAGES {
        println!(
            "cargo::rustc-env=RESOURCEMON_{var}_ELF={}",
            out.join(package).display()
        );
    }
    if env::var_os("RESOURCEMON_SKIP_IMAGES").is_some_and(|v| v == "1") {
        println!("cargo::warning=RESOURCEMON_SKIP_IMAGES=1: ia32 images not rebuilt");
        return;
    }
    build_images(&root, &target_dir, profile);
}

fn build_images(root: &Path, target_dir: &Path, profile: &str) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--target", TARGET, "--profile", profile])
        .arg("--target-dir")
        .arg(target_dir);
    for (package, _) in IMAGES {
        cmd.args(["-p", package, "--bin", package]);
    }
    // The outer build's settings describe the host build, not this one.
    for (key, _) in env::vars_os() {
        let k = key.to_string_lossy();
        let inherited = k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_NET_OFFLINE";
        // Tool wrappers (clippy, coverage) belong to the outer run; the
        // images are linted by their own `cargo clippy --target` call.
        let tooling = matches!(
            &*k,
            "RUSTC_WRAPPER" | "RUSTC_WORKSPACE_WRAPPER" | "CLIPPY_ARGS" | "RUSTDOCFLAGS" | "TARGET"
        );
        if inherited || tooling || k.starts_with("RUSTFLAGS") || k.starts_with("__CARGO") {
            cmd.env_remove(&key);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for the ia32 images: {e}"));
    if !status.success() {
        panic!(
            "building the ia32 images failed (cargo build --target {TARGET} -p roottask); \
             is the target installed? `rustup target add {TARGET}`"
        );
    }
}
