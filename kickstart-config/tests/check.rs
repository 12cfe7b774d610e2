//! `check` on broken menus: every problem, positioned and underlined
//! (plain-text rendering, as on a pipe).

use kickstart_config::host::{
    check_source, parse_menu, CheckOptions, FileReport, Format, Input, Severity, SourceFile, Style,
};

fn run_report(file: &str, text: &str, memory: Option<u64>) -> FileReport {
    check_source(
        SourceFile::new(file, text),
        Input::Menu(Format::detect(text)),
        &CheckOptions {
            memory,
            ..CheckOptions::default()
        },
    )
}

fn run(file: &str, memory: Option<u64>) -> String {
    let path = format!("{}/tests/menus/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let r = run_report(file, &text, memory);
    let mut out = r.render(Style::Plain);
    for e in &r.entries {
        for p in &e.report.plan {
            out.push_str(p);
            out.push('\n');
        }
    }
    out
}

#[test]
fn bad_menu_lst() {
    let out = run("bad.menu.lst", Some(256 << 20));
    insta::assert_snapshot!(out);
    // The malformed size is underlined from the offending byte.
    assert!(
        out.contains("error: vm 0: option `vmsize=`") && out.contains("--> bad.menu.lst:7:48"),
        "{out}"
    );
}

#[test]
fn grub_cfg_module_order_and_memory() {
    let out = run("order.grub.cfg", Some(512 << 20));
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
    let r = run_report("k.lst", &text, None);
    let msgs: Vec<_> = r
        .all()
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
    let r = run_report("p.cfg", text, None);
    assert!(
        r.all()
            .any(|d| d.message.contains("path position") && r.source.line_col(d.span.start).0 == 6),
        "{}",
        r.render(Style::Plain)
    );
    assert_eq!(parse_menu(text, Format::GrubCfg).entries.len(), 1);
}
