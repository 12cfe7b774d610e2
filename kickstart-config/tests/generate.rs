//! Snapshot tests of the three output formats and round trips
//! (description → menu → check gives the same plan).

use std::path::Path;

use kickstart_config::host::{
    check_entry, grub_cfg, menu_lst, parse_menu, BootDesc, Format, QemuBoot, QemuModule,
};
use kickstart_config::plan::{plan, ModuleInput};

const EXAMPLES: [&str; 4] = ["one-vm", "two-vms", "clones", "ddos-driver"];

fn example(name: &str) -> BootDesc {
    BootDesc::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(format!("{name}.toml")),
    )
    .unwrap()
}

#[test]
fn snapshots_of_all_formats() {
    for name in EXAMPLES {
        let d = example(name);
        insta::assert_snapshot!(format!("{name}.menu.lst"), menu_lst(&d).unwrap());
        insta::assert_snapshot!(format!("{name}.grub.cfg"), grub_cfg(&d).unwrap());
        let q = QemuBoot::from_desc(&d, Path::new("/images")).unwrap();
        insta::assert_snapshot!(format!("{name}.qemu"), q.to_qemu_args().join("\n"));
    }
}

/// The plan straight from the description's lines, as the root task would
/// see the command lines (module 0 = the first module after the root task).
fn direct_plan(d: &BootDesc) -> Vec<String> {
    let lines = d.lines().unwrap();
    let cmdlines: Vec<String> = lines[4..]
        .iter()
        .map(|l| l.cmdline_with(&format!("{}/{}", d.grub_prefix, l.path)))
        .collect();
    let inputs: Vec<ModuleInput<'_>> = cmdlines
        .iter()
        .map(|c| ModuleInput {
            cmdline: c,
            head: &[],
            size: 0,
        })
        .collect();
    let p = plan(&inputs);
    let out: Vec<String> = p
        .iter()
        .map(|g| match g {
            Ok(p) => p.to_string(),
            Err(e) => format!("error: {e}"),
        })
        .collect();
    out
}

#[test]
fn round_trip_menu_lst_and_grub_cfg() {
    for name in EXAMPLES {
        let d = example(name);
        let want = direct_plan(&d);
        assert!(!want.is_empty());
        for (text, fmt) in [
            (menu_lst(&d).unwrap(), Format::MenuLst),
            (grub_cfg(&d).unwrap(), Format::GrubCfg),
        ] {
            assert_eq!(Format::detect(&text), fmt);
            let menu = parse_menu(&text, fmt);
            assert!(
                menu.diagnostics.is_empty(),
                "{name}: {:?}",
                menu.diagnostics
            );
            let entries = menu.entries;
            assert_eq!(entries.len(), 1);
            assert_eq!(&entries[0].title, d.title.get_ref(), "{name} {fmt:?} title");
            let r = check_entry(&entries[0], &d.machine().unwrap());
            assert_eq!(r.plan, want, "{name} {fmt:?}");
            assert!(
                r.diagnostics
                    .iter()
                    .all(|x| x.severity != kickstart_config::host::Severity::Error),
                "{name}: {:?}",
                r.diagnostics
            );
        }
    }
}

#[test]
fn qemu_boot_resolves_paths_and_escapes_commas() {
    let d = BootDesc::parse(
        r#"
title = "t"
[kickstart]
path = "kickstart"
args = "kmem=64M"
[kernel]
path = "pistachio"
[sigma0]
path = "sigma0"
[roottask]
path = "rm"
args = "ip=1.2.3.4,mask=255.0.0.0,server=1.2.3.1,gateway=1.2.3.9"
[[vm]]
name = "a"
wedge = { path = "/abs/w,x" }
kernel = { path = "k", args = "a=b,c" }
"#,
    )
    .unwrap();
    let q = QemuBoot::from_desc(&d, Path::new("/base")).unwrap();
    assert_eq!(q.loader, Path::new("/base/kickstart"));
    assert_eq!(q.loader_cmdline, "kmem=64M");
    assert_eq!(
        q.modules[3],
        QemuModule {
            path: "/abs/w,x".into(),
            cmdline: "vmstart".into()
        }
    );
    assert_eq!(
        q.initrd_arg(),
        "/base/pistachio,/base/sigma0,/base/rm ip=1.2.3.4,,mask=255.0.0.0,,server=1.2.3.1,,gateway=1.2.3.9,/abs/w,,x vmstart,/base/k a=b,,c"
    );
    assert_eq!(
        q.to_qemu_args()[..4],
        ["-kernel", "/base/kickstart", "-append", "kmem=64M"]
    );
}

#[test]
fn description_errors() {
    let base = "title = \"t\"\n[kickstart]\npath = \"k\"\n[kernel]\npath = \"p\"\n[sigma0]\npath = \"s\"\n[roottask]\npath = \"r\"\n";
    let e = BootDesc::parse(&format!(
        "{base}[[vm]]\nname = \"a\"\nvmsize = \"64MB\"\nkernel = {{ path = \"k\" }}\n"
    ))
    .unwrap_err();
    assert!(e.to_string().contains("vmsize"), "{e}");
    let e = BootDesc::parse(&format!("{base}[[vm]]\nname = \"a\"\n")).unwrap_err();
    assert!(e.to_string().contains("neither"), "{e}");
    let e = BootDesc::parse(&format!("{base}[[vm]]\nname = \"a\"\nkernel = {{ path = \"k\" }}\n[[vm]]\nname = \"a\"\nkernel = {{ path = \"k\" }}\n")).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    assert!(
        BootDesc::parse(&format!("{base}bogus = 1\n")).is_err(),
        "unknown fields are refused"
    );
}

#[test]
fn descriptions_can_be_changed_in_code() {
    // Fields deref to their values: a caller (the image writer) adjusts a
    // description like a plain struct; values set in code have no span.
    let mut d = example("one-vm");
    d.kernel.path = "/opt/pistachio/bin/ia32-kernel".into();
    d.kernel.args = "x=1".into();
    d.grub_prefix = "/l4".into();
    let lst = menu_lst(&d).unwrap();
    assert!(
        lst.contains("module /opt/pistachio/bin/ia32-kernel x=1\n"),
        "{lst}"
    );
    assert_eq!(d.kernel.path.span(), 0..0);
}
