//! `check` does work linear in the size of the menu (issue 12: it rescanned
//! the file for every finding, 10,000 entries took 9 s). Counted, not
//! timed: the allocations a check makes for 2N entries are at most a bit
//! more than twice those for N (a rescan of the text per finding, or a copy
//! of it per entry, would grow with N²). `benches/check.rs` measures the time.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use kickstart_config::host::{check_source, CheckOptions, Format, Input, SourceFile, Style};

struct Counting;
static CALLS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn menu(n: usize, format: Format) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&match format {
            Format::MenuLst => format!("title e{i}\nkernel /k\nmodule /p\nmodule /sigma0\nmodule /r\nmodule /w vmstart vmsize=64MB\nmodule /k console=ttyS0\n"),
            Format::GrubCfg => format!("menuentry \"e {i}\" {{\n\tmultiboot /k /k\n\tmodule /p /p\n\tmodule /sigma0 /sigma0\n\tmodule /r /r\n\tmodule /w /w vmstart vmsize=64MB\n\tmodule /k /k console=ttyS0\n}}\n"),
        });
    }
    s
}

/// (allocations, bytes) of checking and rendering `text`.
fn work(text: String, format: Format) -> (usize, usize, usize) {
    let (c0, b0) = (CALLS.load(Ordering::Relaxed), BYTES.load(Ordering::Relaxed));
    let r = check_source(
        SourceFile::new("m", text),
        Input::Menu(format),
        &CheckOptions::default(),
    );
    let out = r.render(Style::Plain);
    let findings = r.all().count();
    drop((r, out));
    (
        CALLS.load(Ordering::Relaxed) - c0,
        BYTES.load(Ordering::Relaxed) - b0,
        findings,
    )
}

#[test]
fn check_is_linear_in_the_entries() {
    for format in [Format::MenuLst, Format::GrubCfg] {
        let n = 2000;
        let (t1, t2) = (menu(n, format), menu(2 * n, format));
        let (c1, b1, f1) = work(t1, format);
        let (c2, b2, f2) = work(t2, format);
        // Every entry has one finding (vmsize=64MB), rendered.
        assert_eq!((f1, f2), (n, 2 * n), "{format:?}");
        let ratio = |a: usize, b: usize| b as f64 / a as f64;
        assert!(ratio(c1, c2) < 2.2, "{format:?}: allocations {c1} -> {c2}");
        assert!(ratio(b1, b2) < 2.3, "{format:?}: bytes {b1} -> {b2}");
    }
}
