//! Property tests on stable Rust: the parser and planner never panic, and
//! every line the strict parser accepts means what the original reads.

use kickstart_config::num::{compat_size, parse_size, Size};
use kickstart_config::options::{OriginalReading, VmOptions};
use kickstart_config::plan::{plan, ModuleInput};
use kickstart_config::{host, parse_monitor};
use proptest::prelude::*;

/// Words close to the language, to hit interesting cases often.
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("vmstart".to_string()),
        Just("ddos".to_string()),
        Just("noddos".to_string()),
        Just("noclientdma".to_string()),
        Just("root=/dev/ram0".to_string()),
        Just("noinitrd".to_string()),
        Just("initrd".to_string()),
        Just("ip=grubdhcp".to_string()),
        Just("mem=exactmap".to_string()),
        (
            prop::sample::select(vec![
                "vmsize=",
                "mem=",
                "highmem=",
                "offset=",
                "wedgeinstall=",
                "wedgesize=",
                "vcpus=",
                "pcpus=",
                "clones=",
                "xvmsize="
            ]),
            "[+-]?(0[xX])?[0-9a-fA-F]{0,9}[KMGkmgB]?[A-Z]?"
        )
            .prop_map(|(k, v)| format!("{k}{v}")),
        "[a-z=/0-9]{1,12}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(word(), 0..8),
        prop::sample::select(vec![" ", "\t", "  "]),
    )
        .prop_map(|(w, sep)| format!("/path{sep}{}", w.join(sep)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics_on_any_text(s in "\\PC*") {
        let _ = VmOptions::parse(&s);
        let _ = parse_monitor(&s);
        let _ = parse_size(&s);
        let _ = compat_size(&s);
    }

    #[test]
    fn parser_never_panics_on_any_bytes(b in prop::collection::vec(any::<u8>(), 0..600)) {
        let s = String::from_utf8_lossy(&b);
        let _ = VmOptions::parse(&s);
        let m = [ModuleInput { cmdline: &s, head: &b, size: b.len() }, ModuleInput { cmdline: &s, head: &b, size: 0 }];
        let _ = plan(&m);
    }

    #[test]
    fn accepted_lines_mean_what_the_original_reads(l in line()) {
        if let Ok(o) = VmOptions::parse(&l) {
            let r = OriginalReading::of(o.line.options);
            prop_assert_eq!(o.vmstart, r.vmstart);
            prop_assert_eq!(o.ddos, r.ddos);
            prop_assert_eq!(o.noclientdma, r.noclientdma);
            prop_assert_eq!(o.requested_size(), r.requested_size());
            prop_assert_eq!([o.vmsize.unwrap_or(0), o.offset, o.wedgeinstall, o.wedgesize, o.vcpus.unwrap_or(0), o.pcpus.unwrap_or(0), o.clones.unwrap_or(0)], r.values);
            prop_assert_eq!(o.ramdisk, r.ramdisk);
            prop_assert_eq!(o.grubdhcp.is_some(), r.grubdhcp);
        }
    }

    #[test]
    fn strict_numbers_agree_with_strtoul(s in "[+-]?(0[xX])?[0-9a-fA-F]{0,11}[KMG]?") {
        if let Ok(v) = parse_size(&s) {
            prop_assert_eq!(compat_size(&s), v);
        }
    }

    #[test]
    fn size_display_reads_back(v in any::<u32>()) {
        prop_assert_eq!(parse_size(&Size(v).to_string()), Ok(v));
    }

    #[test]
    fn planner_never_panics(lines in prop::collection::vec(line(), 0..40), elf in prop::collection::vec(any::<bool>(), 40), sizes in prop::collection::vec(0usize..(1 << 30), 40)) {
        const ELF: &[u8] = &[0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0];
        let m: Vec<_> = lines.iter().enumerate().map(|(i, l)| ModuleInput { cmdline: l, head: if elf[i] { ELF } else { &[] }, size: sizes[i] }).collect();
        let p = plan(&m);
        prop_assert!(p.len() <= m.len());
        for g in &p {
            // Display never panics either.
            let _ = match g { Ok(v) => v.to_string(), Err(e) => e.to_string() };
        }
    }

}

proptest! {
    // Fewer cases: each renders every finding through annotate-snippets.
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn checker_never_panics(text in "(title|kernel|module|modulenounzip|menuentry|multiboot|[a-z/ =\"'{}$;#\\\\-]){0,20}(\n(module|kernel|multiboot|\\}|menuentry) [ -~]{0,40}){0,12}") {
        for f in [host::Format::MenuLst, host::Format::GrubCfg] {
            let opts = host::CheckOptions { memory: Some(64 << 20), cpus: Some(2), force: false };
            let r = host::check_source(host::SourceFile::new("x", text.clone()), host::Input::Menu(f), &opts);
            let _ = r.render(host::Style::Plain);
        }
    }

    #[test]
    fn description_checker_never_panics(text in "(title = \"[ -~]{0,8}\"\n)?(\\[[a-z]{1,8}\\]\n)?([a-z]{1,6} = (\"[ -~]{0,10}\"|[0-9]{1,4}|true)\n){0,6}") {
        let r = host::check_source(host::SourceFile::new("x.toml", text.clone()), host::Input::Toml, &host::CheckOptions::default());
        let _ = r.render(host::Style::Plain);
    }
}
