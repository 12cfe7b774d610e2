//! `check` on large menus: linear in the number of entries (issue 12: it was
//! quadratic, 10,000 entries took 9 s). Run with `cargo bench -p kickstart-config`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kickstart_config::host::{check_source, CheckOptions, Format, Input, SourceFile, Style};

/// A menu.lst with `n` entries of one VM each; with `bad`, each has one
/// error (so every entry also renders a diagnostic, the path that used to
/// rescan the file).
pub fn big_menu(n: usize, bad: bool) -> String {
    let size = if bad { "64MB" } else { "64M" };
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "title e{i}\nkernel /k\nmodule /p\nmodule /sigma0\nmodule /r\nmodule /w vmstart vmsize={size}\nmodule /k console=ttyS0\n"
        ));
    }
    s
}

fn check_and_render(text: &str) -> usize {
    let r = check_source(
        SourceFile::new("big.lst", text),
        Input::Menu(Format::MenuLst),
        &CheckOptions::default(),
    );
    r.render(Style::Plain).len()
}

fn bench(c: &mut Criterion) {
    for (name, bad) in [
        ("check_clean_menu_lst", false),
        ("check_menu_lst_one_error_each", true),
    ] {
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        for n in [10_000, 100_000] {
            let text = big_menu(n, bad);
            g.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, t| {
                b.iter(|| check_and_render(t))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
