//! `check`: reads a GRUB legacy `menu.lst` or a GRUB 2 `grub.cfg` and
//! reports every problem with its position.

use std::fmt::Write as _;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::line::Line;
use crate::num::Size;
use crate::options::OptionErrorKind;
use crate::plan::{plan_with, GroupErrorKind, ModuleInput, PlanConfig, MAX_CMDLINE};

/// Most modules kickstart accepts (`MAX_MBI_MODULES`; anchors §7 item 8).
pub const KICKSTART_MAX_MODULES: usize = 32;
/// Kickstart's buffer for all command lines (`STRING_BUFFER_SIZE`), each
/// counted with its terminating NUL.
pub const KICKSTART_STRING_BUFFER: usize = 4096;
/// Memory below the first VM that is never given to guests (monitor at 4 MB,
/// first VM at 8 MB or above; spec §3.1): a lower bound used by the memory check.
pub const RESERVED_LOW: u64 = 8 << 20;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Will not boot as intended.
    Error,
    /// Boots, but differently from the original or fragile.
    Warning,
}

/// One finding, positioned in the checked file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (bytes).
    pub col: usize,
    /// Length of the underlined text in bytes (at least 1).
    pub len: usize,
    /// The message.
    pub message: String,
}

/// One command line of a menu entry and where each byte came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrcLine {
    /// The command line the kernel/module receives.
    pub cmdline: String,
    /// 1-based file line.
    pub line: usize,
    /// 1-based file column of each byte of `cmdline`, plus one past the end.
    pub cols: Vec<usize>,
}

impl SrcLine {
    fn span(&self, at: usize, len: usize) -> (usize, usize) {
        let at = at.min(self.cols.len() - 1);
        let end = (at + len.max(1)).min(self.cols.len() - 1).max(at);
        let col = self.cols[at];
        (col, (self.cols[end].saturating_sub(col)).max(1))
    }
}

/// One boot entry: the loader line and the module lines in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The title, if any.
    pub title: String,
    /// 1-based line of the title / menuentry.
    pub line: usize,
    /// The loader (kickstart) line.
    pub loader: Option<SrcLine>,
    /// The modules in order.
    pub modules: Vec<SrcLine>,
}

/// Menu file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GRUB legacy: `title`, `kernel`, `module`, `modulenounzip`.
    MenuLst,
    /// GRUB 2: `menuentry "…" { multiboot …; module … }`.
    GrubCfg,
}

impl Format {
    /// Guesses the format from the text: any `menuentry` means GRUB 2.
    pub fn detect(text: &str) -> Format {
        if text
            .lines()
            .any(|l| l.trim_start().starts_with("menuentry"))
        {
            Format::GrubCfg
        } else {
            Format::MenuLst
        }
    }
}

/// Splits a file line into words with their byte offsets (blanks only).
fn words(line: &str) -> Vec<(usize, &str)> {
    crate::line::Words::new(line, 0).collect()
}

/// Reads the multiboot entries of a menu file. Unknown commands are ignored.
pub fn parse_menu(text: &str, format: Format) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let w = words(raw);
        let Some(&(_, cmd)) = w.first() else { continue };
        if cmd.starts_with('#') {
            continue;
        }
        match format {
            Format::MenuLst => match cmd {
                "title" => {
                    let t = w.get(1).map_or("", |&(o, _)| raw[o..].trim_end());
                    entries.push(Entry {
                        title: t.into(),
                        line: lineno,
                        loader: None,
                        modules: Vec::new(),
                    });
                }
                "kernel" | "module" | "modulenounzip" => {
                    let Some(&(o, _)) = w.get(1) else { continue };
                    let cmdline = raw[o..].trim_end();
                    let src = SrcLine {
                        cmdline: cmdline.into(),
                        line: lineno,
                        cols: (0..=cmdline.len()).map(|c| o + c + 1).collect(),
                    };
                    let e = current(&mut entries, lineno);
                    if cmd == "kernel" {
                        e.loader = Some(src);
                    } else {
                        e.modules.push(src);
                    }
                }
                _ => {}
            },
            Format::GrubCfg => match cmd {
                "menuentry" => {
                    let t = w
                        .get(1)
                        .map_or("", |&(_, t)| t)
                        .trim_matches(|c| c == '"' || c == '\'');
                    entries.push(Entry {
                        title: t.into(),
                        line: lineno,
                        loader: None,
                        modules: Vec::new(),
                    });
                }
                "multiboot" | "module" => {
                    // Skip options (--nounzip), then the file; the rest are the arguments.
                    let mut k = 1;
                    while w.get(k).is_some_and(|(_, s)| s.starts_with("--")) {
                        k += 1;
                    }
                    let mut cmdline = String::new();
                    let mut cols = Vec::new();
                    for &(o, word) in w.iter().skip(k + 1) {
                        if word.starts_with('#') {
                            break;
                        }
                        if !cmdline.is_empty() {
                            cmdline.push(' ');
                            cols.push(o);
                        }
                        let (text, shift) = unquote(word);
                        cols.extend((0..text.len()).map(|b| o + shift + b + 1));
                        cmdline.push_str(&text);
                    }
                    cols.push(w.last().map_or(1, |&(o, s)| o + s.len() + 1));
                    let src = SrcLine {
                        cmdline,
                        line: lineno,
                        cols,
                    };
                    let e = current(&mut entries, lineno);
                    if cmd == "multiboot" {
                        e.loader = Some(src);
                    } else {
                        e.modules.push(src);
                    }
                }
                _ => {}
            },
        }
    }
    entries
}

/// Removes one level of simple quotes (the GRUB 2 writer's quoting).
fn unquote(word: &str) -> (String, usize) {
    if word.len() >= 2
        && (word.starts_with('\'') && word.ends_with('\'')
            || word.starts_with('"') && word.ends_with('"'))
    {
        (word[1..word.len() - 1].into(), 1)
    } else {
        (word.into(), 0)
    }
}

fn current(entries: &mut Vec<Entry>, line: usize) -> &mut Entry {
    if entries.is_empty() {
        entries.push(Entry {
            title: String::new(),
            line,
            loader: None,
            modules: Vec::new(),
        });
    }
    entries.last_mut().expect("just ensured non-empty")
}

/// Machine facts for the checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Machine {
    /// Physical memory in bytes.
    pub memory: Option<u64>,
    /// CPUs.
    pub cpus: Option<u32>,
}

/// The result of checking one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Findings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The boot plan, one line per VM group (`VmPlan`'s Display, or the error).
    pub plan: Vec<String>,
}

fn basename(cmdline: &str) -> &str {
    let p = Line::split(cmdline).path;
    p.rsplit(['/', ')']).next().unwrap_or(p)
}

/// Checks one entry: kickstart's limits, every VM group through the
/// planner, and the memory the VMs need.
pub fn check_entry(e: &Entry, machine: &Machine) -> Report {
    let mut d = Vec::new();
    fn push(
        d: &mut Vec<Diagnostic>,
        severity: Severity,
        src: &SrcLine,
        at: usize,
        len: usize,
        message: String,
    ) {
        let (col, len) = src.span(at, len);
        d.push(Diagnostic {
            severity,
            line: src.line,
            col,
            len,
            message,
        });
    }
    let whole = |s: &SrcLine| s.cmdline.len().max(1);
    match &e.loader {
        None => d.push(Diagnostic {
            severity: Severity::Error,
            line: e.line,
            col: 1,
            len: 1,
            message: "no kernel/multiboot line; expected kickstart as the boot loader's kernel"
                .into(),
        }),
        Some(l) => {
            let total: usize = std::iter::once(l)
                .chain(&e.modules)
                .map(|s| s.cmdline.len() + 1)
                .sum();
            if total > KICKSTART_STRING_BUFFER {
                push(&mut d,
                    Severity::Error,
                    l,
                    0,
                    whole(l),
                    std::format!("all command lines together take {total} bytes (with NULs); kickstart's buffer holds {KICKSTART_STRING_BUFFER} (\"String buffer overrun\")"),
                );
            }
        }
    }
    if e.modules.len() > KICKSTART_MAX_MODULES {
        let m = &e.modules[KICKSTART_MAX_MODULES];
        push(&mut d, Severity::Error, m, 0, whole(m), std::format!("module {} of {}: kickstart takes at most {KICKSTART_MAX_MODULES} modules and silently drops the rest", KICKSTART_MAX_MODULES + 1, e.modules.len()));
    }
    if e.modules.len() < 3 {
        d.push(Diagnostic {
            severity: Severity::Error,
            line: e.line,
            col: 1,
            len: 1,
            message: std::format!("{} modules; kickstart expects at least kernel, sigma0 and root task, in this order", e.modules.len()),
        });
    }
    for (i, m) in e.modules.iter().enumerate() {
        let name = basename(&m.cmdline);
        let is_sigma0 = name.contains("sigma0");
        if (i == 1) != is_sigma0 && (i < 3 || is_sigma0) {
            let msg = if i == 1 {
                std::format!("second module `{name}` does not look like sigma0; kickstart's order is kernel, sigma0, root task")
            } else {
                std::format!("`{name}` looks like sigma0 but is module {}; kickstart's order is kernel, sigma0, root task", i + 1)
            };
            push(
                &mut d,
                if i == 1 {
                    Severity::Warning
                } else {
                    Severity::Error
                },
                m,
                0,
                name.len(),
                msg,
            );
        }
        if i < 3
            && !Line::split(&m.cmdline).options.is_empty()
            && crate::line::find(Line::split(&m.cmdline).options, "vmstart").is_some()
        {
            push(&mut d, Severity::Error, m, 0, whole(m), std::format!("module {} carries `vmstart`, but the first three modules are kernel, sigma0 and root task", i + 1));
        }
    }
    // GRUB 2 drops the file name: a command line starting with an option
    // means the monitor will take that option as the path.
    for m in e.modules.iter().skip(3) {
        let p = Line::split(&m.cmdline).path;
        if p.contains('=') || p == "vmstart" || p == "ddos" {
            push(&mut d, Severity::Error, m, 0, p.len(), std::format!("`{p}` is in the path position: the monitor strips the first word as the module path; with GRUB 2 write the path twice (`module FILE FILE args`)"));
        }
    }
    let vms: Vec<&SrcLine> = e
        .modules
        .iter()
        .skip(3)
        .take(KICKSTART_MAX_MODULES.saturating_sub(3))
        .collect();
    let inputs: Vec<ModuleInput<'_>> = vms
        .iter()
        .map(|s| ModuleInput {
            cmdline: &s.cmdline,
            head: &[],
            size: 0,
        })
        .collect();
    if !vms.is_empty()
        && !crate::options::ModuleLine::parse(&vms[0].cmdline).vmstart
        && vms.len() > 1
    {
        push(&mut d, Severity::Warning, vms[0], 0, whole(vms[0]), "the first VM module has no `vmstart`: the next VM is then the next module that starts with the ELF magic, which depends on file contents; expected `vmstart` on every VM's first module".into());
    }
    let cfg = PlanConfig {
        cpus: machine.cpus,
        ..PlanConfig::default()
    };
    let plan = plan_with(&inputs, &cfg);
    let mut lines = Vec::new();
    let mut need: u64 = 0;
    for g in &plan {
        match g {
            Ok(p) => {
                lines.push(p.to_string());
                need += u64::from(p.size) * u64::from(p.instances);
                if p.options.wedgeinstall != 0 && (p.ramdisk.is_some() || p.installed.is_empty()) {
                    let s = vms[p.vm_module];
                    let why = if p.ramdisk.is_some() {
                        "ramdisk mode (/dev/ram, /dev/rd/ or initrd) on a wedge line: an afterburn wedge finds its kernel in modules[], which stays empty in ramdisk mode (spec §2.3); put these words on the kernel's line"
                    } else {
                        "wedgeinstall= is set but the group has no module for the wedge to boot; expected a kernel module after the wedge"
                    };
                    push(&mut d, Severity::Warning, s, 0, whole(s), why.into());
                }
                if p.original_instances != p.instances {
                    let s = vms[p.vm_module];
                    push(&mut d, Severity::Warning, s, 0, whole(s), std::format!("the original starts only {} instance(s) of this group, not {}: its clone counter is never reset between groups (spec §1.5)", p.original_instances, p.instances));
                }
            }
            Err(err) => {
                lines.push(std::format!("error: {err}"));
                let s = vms[err.module];
                let (at, len) = match err.kind {
                    GroupErrorKind::Option(o) => match o.kind {
                        OptionErrorKind::Number(_) => (o.at, o.word.len() - (o.at - o.word_at)),
                        _ => (o.word_at, o.word.len()),
                    },
                    GroupErrorKind::CmdlineTooLong { .. } => (
                        MAX_CMDLINE.min(s.cmdline.len()),
                        s.cmdline.len().saturating_sub(MAX_CMDLINE),
                    ),
                    _ => (0, whole(s)),
                };
                let mut msg = err.to_string();
                if let GroupErrorKind::Option(o) = err.kind {
                    msg = std::format!("vm {}: {o}", err.group);
                }
                push(&mut d, Severity::Error, s, at, len, msg);
            }
        }
    }
    if let (Some(mem), true) = (machine.memory, need > 0) {
        if RESERVED_LOW + need > mem {
            let s = vms.first().copied().or(e.loader.as_ref());
            let msg = std::format!(
                "the VMs need {} (plus at least {} below the first VM) but the machine has {}",
                fmt_bytes(need),
                fmt_bytes(RESERVED_LOW),
                fmt_bytes(mem)
            );
            if let Some(s) = s {
                push(&mut d, Severity::Error, s, 0, whole(s), msg);
            }
        }
    }
    d.sort_by_key(|x| (x.line, x.col));
    Report {
        diagnostics: d,
        plan: lines,
    }
}

fn fmt_bytes(v: u64) -> String {
    match u32::try_from(v) {
        Ok(v) => Size(v).to_string(),
        Err(_) => std::format!("{}M", v >> 20),
    }
}

/// Renders a diagnostic the way compilers do: `file:line:col`, the source
/// line, and the offending text underlined.
pub fn render(file: &str, source: &str, d: &Diagnostic) -> String {
    let kind = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let text = source.lines().nth(d.line.saturating_sub(1)).unwrap_or("");
    let num = d.line.to_string();
    let pad = " ".repeat(num.len());
    let mut out = String::new();
    let _ = writeln!(out, "{file}:{}:{}: {kind}: {}", d.line, d.col, d.message);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{num} | {}", text.replace('\t', " "));
    let _ = writeln!(
        out,
        "{pad} | {}{}",
        " ".repeat(d.col.saturating_sub(1)),
        "^".repeat(d.len.max(1))
    );
    out
}
