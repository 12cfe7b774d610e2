//! `check` on broken menus: every problem, positioned and underlined.

use kickstart_config::host::{check_entry, parse_menu, render, Format, Machine, Severity};

fn run(file: &str, machine: Machine) -> String {
    let path = format!("{}/tests/menus/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    for e in parse_menu(&text, Format::detect(&text)) {
        let r = check_entry(&e, &machine);
        for d in &r.diagnostics {
            out.push_str(&render(file, &text, d));
        }
        for p in &r.plan {
            out.push_str(p);
            out.push('\n');
        }
    }
    out
}

#[test]
fn bad_menu_lst() {
    let out = run(
        "bad.menu.lst",
        Machine {
            memory: Some(256 << 20),
            cpus: None,
        },
    );
    insta::assert_snapshot!(out);
    // The malformed size is underlined from the offending byte.
    assert!(
        out.contains("bad.menu.lst:7:48: error: vm 0: option `vmsize=`"),
        "{out}"
    );
}

#[test]
fn grub_cfg_module_order_and_memory() {
    let out = run(
        "order.grub.cfg",
        Machine {
            memory: Some(512 << 20),
            cpus: None,
        },
    );
    insta::assert_snapshot!(out);
    assert!(out.contains("does not look like sigma0"));
    assert!(out.contains("machine has 512M"));
}

#[test]
fn kickstart_limits() {
    let mut text = String::from("title t\nkernel /k\nmodule /p\nmodule /sigma0\nmodule /r\n");
    for i in 0..30 {
        text.push_str(&format!("module /m{i} vmstart {}\n", "x".repeat(130)));
    }
    let e = &parse_menu(&text, Format::MenuLst)[0];
    let r = check_entry(e, &Machine::default());
    let msgs: Vec<_> = r
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.message.as_str())
        .collect();
    assert!(
        msgs.iter().any(|m| m.contains("at most 32 modules")),
        "{msgs:?}"
    );
    assert!(
        msgs.iter()
            .any(|m| m.contains("kickstart's buffer holds 4096")),
        "{msgs:?}"
    );
}

#[test]
fn grub2_path_position() {
    let text = "menuentry \"x\" {\n multiboot /k\n module /p\n module /sigma0\n module /r\n module /w vmstart vmsize=64M\n}\n";
    let e = &parse_menu(text, Format::GrubCfg)[0];
    let r = check_entry(e, &Machine::default());
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.message.contains("path position") && d.line == 6),
        "{:?}",
        r.diagnostics
    );
}
