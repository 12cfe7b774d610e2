//! Side by side with the original monitor: what the guests saw under each,
//! field by field, and our figures as ratios to the original's.
//!
//! The test guest prints `seen key=value` lines (the shared page it found),
//! `time: entry tsc=` and `time: init complete tsc=` (virtual ns since reset
//! under `-icount`), and its page-fault and `request_pages` figures. Both
//! monitors boot the same guest with the same command lines, so every field
//! must agree unless `roottask/DIFFERENCES.md` lists it in its "Side by side"
//! table, with the reason.

use std::fmt::Write as _;

/// What one guest (one VM) reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuestRecord {
    /// Its `name=`.
    pub name: String,
    /// `seen` fields in the order printed.
    pub seen: Vec<(String, String)>,
    /// Virtual ns since reset at its entry.
    pub entry_tsc: Option<u64>,
    /// Virtual ns since reset just before `client_init_complete`.
    pub init_tsc: Option<u64>,
    /// Virtual ns per page fault it measured.
    pub fault_ns: Option<u64>,
    /// Virtual ns per `request_pages` it measured.
    pub request_ns: Option<u64>,
    /// It printed its pass sentinel.
    pub passed: bool,
}

/// `(name, text)` of a test-guest line `[vmN: ]guest <name>: <text>`.
fn guest_line(line: &str) -> Option<(&str, &str)> {
    let at = line.find("guest ")?;
    // Only the guest's own prefix: nothing but a `vmN: ` label before it.
    let before = &line[..at];
    if !(before.is_empty() || (before.starts_with("vm") && before.ends_with(": "))) {
        return None;
    }
    let rest = &line[at + 6..];
    let colon = rest.find(": ")?;
    Some((&rest[..colon], &rest[colon + 2..]))
}

fn tsc_of(text: &str, prefix: &str) -> Option<u64> {
    text.strip_prefix(prefix)?.trim().parse().ok()
}

/// The `n` in `<what> N pages, n ns per ...`.
fn per_op_ns(text: &str, what: &str) -> Option<u64> {
    let rest = text.strip_prefix(what)?;
    rest.split(", ").nth(1)?.split(' ').next()?.parse().ok()
}

/// Every guest's record, in the order the guests started.
pub fn guest_records(lines: &[String]) -> Vec<GuestRecord> {
    let mut out: Vec<GuestRecord> = Vec::new();
    for l in lines {
        let Some((name, text)) = guest_line(l) else {
            continue;
        };
        if text.starts_with("started: ") {
            // The command line it found in its shared page, as printed.
            let seen = text
                .split_once(", cmdline ")
                .map(|(_, c)| vec![("cmdline".to_string(), c.to_string())])
                .unwrap_or_default();
            out.push(GuestRecord {
                name: name.to_string(),
                seen,
                ..GuestRecord::default()
            });
            continue;
        }
        let Some(g) = out.iter_mut().rev().find(|g| g.name == name) else {
            continue;
        };
        if let Some(fields) = text.strip_prefix("seen ") {
            for kv in fields.split(' ') {
                if let Some((k, v)) = kv.split_once('=') {
                    g.seen.push((k.to_string(), v.to_string()));
                }
            }
        } else if let Some(t) = tsc_of(text, "time: entry tsc=") {
            g.entry_tsc = Some(t);
        } else if let Some(t) = tsc_of(text, "time: init complete tsc=") {
            g.init_tsc = Some(t);
        } else if let Some(ns) = per_op_ns(text, "touched ") {
            g.fault_ns = Some(ns);
        } else if let Some(ns) = per_op_ns(text, "requested ") {
            g.request_ns = Some(ns);
        } else if text.starts_with("GUEST_PASS ") {
            g.passed = true;
        }
    }
    out
}

/// One field that differs between the two runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDiff {
    /// VM index in start order (1-based, as the monitors number them).
    pub vm: usize,
    /// The field.
    pub field: String,
    /// Our value (`-` when ours did not print it).
    pub ours: String,
    /// The original's value.
    pub original: String,
}

/// Field-by-field differences of the guests' `seen` lines, VM by VM.
pub fn diff(ours: &[GuestRecord], original: &[GuestRecord]) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    for i in 0..ours.len().max(original.len()) {
        let (a, b) = (ours.get(i), original.get(i));
        let empty = Vec::new();
        let sa = a.map_or(&empty, |g| &g.seen);
        let sb = b.map_or(&empty, |g| &g.seen);
        let mut keys: Vec<&String> = sa.iter().map(|(k, _)| k).collect();
        for (k, _) in sb {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let get = |s: &Vec<(String, String)>, k: &str| {
            s.iter()
                .find(|(key, _)| key == k)
                .map_or("-".to_string(), |(_, v)| v.clone())
        };
        for k in keys {
            let (va, vb) = (get(sa, k), get(sb, k));
            if va != vb {
                out.push(FieldDiff {
                    vm: i + 1,
                    field: k.clone(),
                    ours: va,
                    original: vb,
                });
            }
        }
    }
    out
}

/// One row of `DIFFERENCES.md`'s "Side by side" table: a field pattern
/// (`*` matches any run of characters) and why it differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The field name or pattern.
    pub pattern: String,
    /// The documented reason.
    pub why: String,
}

/// The rows of the table under the heading that starts `## Side by side`:
/// the first cell holds the field in backticks, the last the reason.
pub fn allowed_differences(differences_md: &str) -> Vec<Allowed> {
    let mut inside = false;
    let mut out = Vec::new();
    for l in differences_md.lines() {
        if l.starts_with("## ") {
            inside = l.starts_with("## Side by side");
            continue;
        }
        if !inside || !l.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
        let Some(first) = cells.first() else { continue };
        let Some(pattern) = first.strip_prefix('`').and_then(|f| f.strip_suffix('`')) else {
            continue;
        };
        out.push(Allowed {
            pattern: pattern.to_string(),
            why: cells.last().unwrap_or(&"").to_string(),
        });
    }
    out
}

/// Does `field` match `pattern` (`*` = any run of characters)?
pub fn matches(pattern: &str, field: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == field,
        Some((head, tail)) => {
            field.starts_with(head) && {
                let rest = &field[head.len()..];
                (0..=rest.len()).any(|i| rest.is_char_boundary(i) && matches(tail, &rest[i..]))
            }
        }
    }
}

/// The differences no row of `allowed` explains.
pub fn unexplained<'d>(diffs: &'d [FieldDiff], allowed: &[Allowed]) -> Vec<&'d FieldDiff> {
    diffs
        .iter()
        .filter(|d| !allowed.iter().any(|a| matches(&a.pattern, &d.field)))
        .collect()
}

/// A figure measured under both monitors.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// What it is.
    pub what: String,
    /// Ours.
    pub ours: u64,
    /// The original's.
    pub original: u64,
}

impl Figure {
    /// Ours divided by the original's.
    pub fn ratio(&self) -> f64 {
        self.ours as f64 / (self.original.max(1)) as f64
    }
}

/// The figures both runs' guests reported: per page fault, per
/// `request_pages` (first VM), reset to each VM's entry, reset to the last
/// VM's `client_init_complete`.
pub fn figures(ours: &[GuestRecord], original: &[GuestRecord]) -> Vec<Figure> {
    let mut out = Vec::new();
    let mut push = |what: String, a: Option<u64>, b: Option<u64>| {
        if let (Some(a), Some(b)) = (a, b) {
            out.push(Figure {
                what,
                ours: a,
                original: b,
            });
        }
    };
    let (a0, b0) = (ours.first(), original.first());
    push(
        "ns per page fault (vm 1)".into(),
        a0.and_then(|g| g.fault_ns),
        b0.and_then(|g| g.fault_ns),
    );
    push(
        "ns per request_pages (vm 1)".into(),
        a0.and_then(|g| g.request_ns),
        b0.and_then(|g| g.request_ns),
    );
    for (i, (a, b)) in ours.iter().zip(original).enumerate() {
        push(
            format!("reset to vm {} entry (ns)", i + 1),
            a.entry_tsc,
            b.entry_tsc,
        );
    }
    push(
        format!("reset to last init complete (vm {}, ns)", ours.len()),
        ours.last().and_then(|g| g.init_tsc),
        original.last().and_then(|g| g.init_tsc),
    );
    // The monitors' own share, free of the firmware's and the kernel's
    // boot time (which varies with the host clock unless `-rtc clock=vm`):
    // from the first VM's entry to the last VM's init complete.
    let span = |g: &[GuestRecord]| {
        let first = g.first()?.entry_tsc?;
        g.last()?.init_tsc?.checked_sub(first)
    };
    push(
        format!("vm 1 entry to last init complete (vm {}, ns)", ours.len()),
        span(ours),
        span(original),
    );
    // What one more VM costs: entry to entry, averaged over the VMs after
    // the first (its creation and the previous VM's run to init complete).
    let per_vm = |g: &[GuestRecord]| {
        let n = g.len() as u64;
        let first = g.first()?.entry_tsc?;
        let last = g.last()?.entry_tsc?;
        (n > 1).then(|| last.saturating_sub(first) / (n - 1))
    };
    push(
        format!("ns per further vm (entry to entry, {} vms)", ours.len()),
        per_vm(ours),
        per_vm(original),
    );
    out
}

/// The figures as table rows: `what | ours | original | ratio`.
pub fn figure_table(figures: &[Figure]) -> String {
    let mut s = String::new();
    for f in figures {
        let _ = writeln!(
            s,
            "    | {} | {} | {} | {:.3} |",
            f.what,
            f.ours,
            f.original,
            f.ratio()
        );
    }
    s
}

/// A guest kernel's console lines (`afterburn:`, `tinyguest:`,
/// `wedgeguest `), without our monitor's `vmN: ` label, in order.
pub fn guest_console(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| {
            let body = match l.split_once(": ") {
                Some((label, rest))
                    if label.starts_with("vm") && label[2..].parse::<u32>().is_ok() =>
                {
                    rest
                }
                _ => l.as_str(),
            };
            let body = body.trim_end();
            (body.starts_with("afterburn:")
                || body.starts_with("tinyguest:")
                || body.starts_with("wedgeguest "))
            .then(|| body.split_whitespace().collect::<Vec<_>>().join(" "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_guest_records_under_both_monitors() {
        let ours = lines(&[
            "resourcemon: vm 1: started",
            "vm1: guest a: started: thread 0x40c8002, cmdline \"x ip=1\"",
            "vm1: guest a: time: entry tsc=1000",
            "vm1: guest a: seen version=1 phys_offset=0x1000000",
            "vm1: guest a: touched 64 pages, 2143 ns per fault",
            "vm1: guest a: requested 16 pages, 2426 ns per request",
            "vm1: guest a: GUEST_PASS a\x06",
            "vm1: guest a: time: init complete tsc=5000",
        ]);
        let orig = lines(&[
            "resourcemon: Creating VM id 1",
            "guest a: started: thread 0x40c8002, cmdline \"x ip=1\"",
            "guest a: time: entry tsc=900",
            "guest a: seen version=1 phys_offset=0x8400000",
            "guest a: touched 64 pages, 2287 ns per fault",
            "guest a: requested 16 pages, 2706 ns per request",
            "guest a: GUEST_PASS a",
            "guest a: time: init complete tsc=4000",
        ]);
        let (a, b) = (guest_records(&ours), guest_records(&orig));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].seen[0], ("cmdline".into(), "\"x ip=1\"".into()));
        assert_eq!(a[0].fault_ns, Some(2143));
        assert_eq!(b[0].request_ns, Some(2706));
        assert!(a[0].passed && b[0].passed);
        let d = diff(&a, &b);
        assert_eq!(
            d,
            [FieldDiff {
                vm: 1,
                field: "phys_offset".into(),
                ours: "0x1000000".into(),
                original: "0x8400000".into()
            }]
        );
        let f = figures(&a, &b);
        assert_eq!(f.len(), 5);
        assert_eq!((f[4].ours, f[4].original), (4000, 3100));
        assert!((f[0].ratio() - 2143.0 / 2287.0).abs() < 1e-9);
        assert_eq!(f[3].ours, 5000);
        assert!(figure_table(&f).contains("| ns per page fault (vm 1) | 2143 | 2287 | 0.937 |"));
    }

    #[test]
    fn clones_with_one_name_are_separate_records() {
        let l = lines(&[
            "vm1: guest c: started: x",
            "vm1: guest c: seen module_count=1",
            "vm2: guest c: started: x",
            "vm2: guest c: seen module_count=2",
        ]);
        let r = guest_records(&l);
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].seen, [("module_count".to_string(), "2".to_string())]);
        // A field only one side printed is a difference too.
        let d = diff(&r[..1], &r);
        assert_eq!(d[0].vm, 2);
        assert_eq!(d[0].ours, "-");
    }

    #[test]
    fn the_differences_table_explains_fields() {
        let md = "# x\n## Side by side\n\n| field | why |\n| --- | --- |\n| `phys_offset` | image size |\n| `module*.vm_offset` | never |\n## Other\n| `entry_ip` | not in the section |\n";
        let a = allowed_differences(md);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].why, "image size");
        assert!(matches("module*.vm_offset", "module2.vm_offset"));
        assert!(!matches("module*.vm_offset", "module2.size"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXcYYb"));
        let diffs = [
            FieldDiff {
                vm: 1,
                field: "phys_offset".into(),
                ours: "1".into(),
                original: "2".into(),
            },
            FieldDiff {
                vm: 1,
                field: "entry_ip".into(),
                ours: "1".into(),
                original: "2".into(),
            },
        ];
        let u = unexplained(&diffs, &a);
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].field, "entry_ip");
    }

    #[test]
    fn guest_console_strips_our_label() {
        let l = lines(&[
            "vm1: afterburn:  VCPU 0 Init done, entering monitor loop",
            "afterburn:  VCPU 0 Init done, entering monitor loop",
            "resourcemon: vm 1: started",
            "vm2: tinyguest: hello",
            "wedgeguest vga: PASS",
        ]);
        assert_eq!(
            guest_console(&l),
            [
                "afterburn: VCPU 0 Init done, entering monitor loop",
                "afterburn: VCPU 0 Init done, entering monitor loop",
                "tinyguest: hello",
                "wedgeguest vga: PASS"
            ]
        );
    }
}
