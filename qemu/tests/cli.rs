//! `resourcemon-qemu`'s command line, without booting anything.

use std::process::Command;

fn tool() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_resourcemon-qemu"));
    // No Pistachio build: what comes first must still be reported first.
    c.env("PISTACHIO_DIR", "/nonexistent-pistachio");
    c
}

#[test]
fn a_missing_or_broken_config_is_a_set_up_error_not_a_skip() {
    let out = tool()
        .args(["--config", "/nonexistent/boot.toml"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::env::temp_dir().join(format!("rq-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "title = \"t\"\nvm = true\n").unwrap();
    let out = tool().arg("--config").arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{err}");
    assert!(err.contains("bad.toml:2:"), "located in the TOML: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
    // Without a config and without Pistachio: skipped (77).
    let out = tool().output().unwrap();
    assert_eq!(out.status.code(), Some(77));
}

#[test]
fn memory_takes_mib_or_a_suffix() {
    for bad in ["512MB", "100K", "lots"] {
        let out = tool().args(["--memory", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "--memory {bad}");
    }
    // Accepted values get as far as the Pistachio check (77 here).
    for good in ["512", "512M", "1G"] {
        let out = tool().args(["--memory", good]).output().unwrap();
        assert_eq!(out.status.code(), Some(77), "--memory {good}");
    }
}
