//! `kickstart-config image`: the layout it reports for an example, and its
//! refusals, without any image tool (the images themselves are booted by
//! the `grub2-iso` and `grub-legacy-disk` boot scenarios).

use std::process::Command;

fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kickstart-config"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run kickstart-config");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn layout_names_every_file_under_the_prefix_and_the_menu() {
    let (ok, out, err) = cli(&[
        "image",
        "examples/one-vm.toml",
        "--grub2",
        "/nonexistent/a.iso",
        "--grub-legacy",
        "/nonexistent/b.img",
        "--layout",
    ]);
    assert!(ok, "{err}");
    for want in [
        "GRUB 2 image /nonexistent/a.iso:",
        "  /boot/l4ka/kickstart <- examples/kickstart",
        "  /boot/l4ka/vmlinuz <- examples/vmlinuz",
        "  /boot/l4ka/rd.gz <- examples/rd.gz",
        "  /boot/grub/grub.cfg:",
        "    set timeout=0",
        "    \tmultiboot --quirk-modules-after-kernel /boot/l4ka/kickstart /boot/l4ka/kickstart",
        "GRUB legacy image /nonexistent/b.img:",
        "  /boot/grub/menu.lst:",
        "    timeout 0",
        "    modulenounzip /boot/l4ka/rd.gz",
    ] {
        assert!(
            out.lines().any(|l| l == want),
            "no line {want:?} in:\n{out}"
        );
    }
}

#[test]
fn needs_an_output_and_names_missing_files() {
    let (ok, _, err) = cli(&["image", "examples/one-vm.toml"]);
    assert!(!ok && err.contains("--grub2"), "{err}");
    // The example's files do not exist: the build stops before any tool
    // runs (or at the missing tool), naming what is missing.
    let (ok, _, err) = cli(&[
        "image",
        "examples/one-vm.toml",
        "--grub-legacy",
        "/nonexistent/b.img",
    ]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("/boot/l4ka/kickstart: source file examples/kickstart does not exist")
            || err.contains("not found (Debian package"),
        "{err}"
    );
}
