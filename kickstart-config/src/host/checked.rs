//! One rule for what can boot: `check` and every writer (`menu-lst`,
//! `grub-cfg`, `qemu-args`, boot images) go through [`check_source`], and a
//! writer gets a description only as a [`CheckedBoot`], which exists only
//! when the check found no error, or when the caller forces it (the errors
//! then travel along as warnings).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use super::check::{check_entry, parse_menu, Format, Report};
use super::desc::{BootDesc, DescError};
use super::diag::{Diagnostic, SourceFile, Style};
use super::gen::{grub_cfg, menu_lst, QemuBoot};

/// What a check is told besides the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Machine memory in bytes; overrides the description's.
    pub memory: Option<u64>,
    /// CPUs; overrides the description's.
    pub cpus: Option<u32>,
    /// Write even with errors (they become warnings); a description that
    /// does not parse is still refused.
    pub force: bool,
}

/// How to read the checked text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A TOML boot description: findings point into the TOML.
    Toml,
    /// A boot menu.
    Menu(Format),
}

impl Input {
    /// `.toml` is a description; otherwise the menu format is detected.
    pub fn detect(path: &Path, text: &str) -> Input {
        if path.extension().is_some_and(|e| e == "toml") {
            Input::Toml
        } else {
            Input::Menu(Format::detect(text))
        }
    }
}

/// The check of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryReport {
    /// The entry's title.
    pub title: String,
    /// Where the entry starts.
    pub span: Range<usize>,
    /// Its findings and boot plan.
    pub report: Report,
}

/// The check of a whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file (for locating and rendering the findings).
    pub source: SourceFile,
    /// Findings about the file itself (syntax, unknown commands, TOML).
    pub diagnostics: Vec<Diagnostic>,
    /// Every entry's findings and plan.
    pub entries: Vec<EntryReport>,
}

impl FileReport {
    /// All findings, the file's first, then each entry's.
    pub fn all(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .chain(self.entries.iter().flat_map(|e| &e.report.diagnostics))
    }

    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.all().filter(|d| d.is_error()).count()
    }

    /// Every finding rendered, in the order of [`FileReport::all`].
    pub fn render(&self, style: Style) -> String {
        self.all().map(|d| self.source.render(d, style)).collect()
    }

    /// Demotes every error to a warning (`--force`).
    fn force(&mut self) {
        let demote = |v: &mut Vec<Diagnostic>| {
            for d in v.iter_mut() {
                *d = d.clone().forced();
            }
        };
        demote(&mut self.diagnostics);
        for e in &mut self.entries {
            demote(&mut e.report.diagnostics);
        }
    }
}

/// Checks a text as `check` does. For a description: its TOML, its own
/// rules ([`BootDesc::findings`]) and then the boot it stands for, with
/// every finding at the TOML line and column it comes from.
pub fn check_source(source: SourceFile, input: Input, opts: &CheckOptions) -> FileReport {
    check_source_desc(source, input, opts).0
}

fn check_source_desc(
    source: SourceFile,
    input: Input,
    opts: &CheckOptions,
) -> (FileReport, Option<BootDesc>) {
    let mut report = FileReport {
        source,
        diagnostics: Vec::new(),
        entries: Vec::new(),
    };
    let text = &report.source.text;
    let override_machine = |m: &mut super::check::Machine| {
        if opts.memory.is_some() {
            m.memory = opts.memory;
            m.memory_span = None;
        }
        if opts.cpus.is_some() {
            m.cpus = opts.cpus;
        }
    };
    match input {
        Input::Toml => {
            let checked = BootDesc::parse(text).and_then(|d| {
                let findings = d.findings()?;
                let mut machine = d.machine()?;
                override_machine(&mut machine);
                let entry = d.entry()?;
                Ok((d, findings, machine, entry))
            });
            match checked {
                Err(e) => {
                    report.diagnostics.push(e.diagnostic());
                    (report, None)
                }
                Ok((d, findings, machine, entry)) => {
                    report.diagnostics = findings;
                    let mut r = check_entry(&entry, &machine);
                    name_vms(&d, &mut r);
                    report.entries.push(EntryReport {
                        title: entry.title.clone(),
                        span: entry.span.clone(),
                        report: r,
                    });
                    (report, Some(d))
                }
            }
        }
        Input::Menu(format) => {
            let menu = parse_menu(text, format);
            let mut machine = super::check::Machine::default();
            override_machine(&mut machine);
            report.diagnostics = menu.diagnostics;
            if menu.entries.is_empty() {
                report.diagnostics.push(Diagnostic::error(
                    0..0,
                    "no boot entry found; expected a `title` (menu.lst) or `menuentry` (grub.cfg) with a kernel and modules",
                ));
            }
            report.entries = menu
                .entries
                .into_iter()
                .map(|e| EntryReport {
                    report: check_entry(&e, &machine),
                    title: e.title,
                    span: e.span,
                })
                .collect();
            (report, None)
        }
    }
}

/// Names the description's VM in front of a finding located inside its
/// `[[vm]]` table (the planner counts groups, the description names VMs).
fn name_vms(d: &BootDesc, r: &mut Report) {
    for diag in &mut r.diagnostics {
        let vm = d.vm.iter().find(|v| {
            let s = v.span();
            s.start <= diag.span.start && diag.span.start < s.end
        });
        if let Some(v) = vm {
            if !diag.message.starts_with("vm `") {
                diag.message =
                    std::format!("vm `{}`: {}", v.get_ref().name.get_ref(), diag.message);
            }
        }
    }
}

/// Why a writer refused a description.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The check found errors (or the description does not parse, or the
    /// format cannot carry it); the report holds them, located.
    #[error("{}: {} error(s); nothing written", .0.source.name, .0.errors())]
    Invalid(FileReport),
}

impl Refusal {
    /// The located findings (I/O errors as one line).
    pub fn render(&self, style: Style) -> String {
        match self {
            Refusal::Io { .. } => std::format!("error: {self}\n"),
            Refusal::Invalid(r) => r.render(style),
        }
    }
}

/// A description that may be written: it passed [`check_source`], or the
/// caller forced it and [`CheckedBoot::report`] carries the errors as
/// warnings.
#[derive(Debug, Clone)]
pub struct CheckedBoot {
    /// The description.
    pub desc: BootDesc,
    /// Its check: only warnings.
    pub report: FileReport,
    /// The folder relative paths are resolved against (QEMU, images).
    pub base: PathBuf,
}

impl CheckedBoot {
    /// Reads and checks a description file.
    pub fn load(path: &Path, opts: &CheckOptions) -> Result<CheckedBoot, Refusal> {
        let text = std::fs::read_to_string(path).map_err(|source| Refusal::Io {
            path: path.into(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        Self::from_text(&path.display().to_string(), &text, base, opts)
    }

    /// Checks description text named `name` (for messages).
    pub fn from_text(
        name: &str,
        text: &str,
        base: PathBuf,
        opts: &CheckOptions,
    ) -> Result<CheckedBoot, Refusal> {
        let (mut report, desc) = check_source_desc(SourceFile::new(name, text), Input::Toml, opts);
        let Some(desc) = desc else {
            return Err(Refusal::Invalid(report));
        };
        if report.errors() > 0 {
            if !opts.force {
                return Err(Refusal::Invalid(report));
            }
            report.force();
        }
        Ok(CheckedBoot { desc, report, base })
    }

    fn refuse(&self, e: DescError) -> Refusal {
        Refusal::Invalid(FileReport {
            source: self.report.source.clone(),
            diagnostics: vec![e.diagnostic()],
            entries: Vec::new(),
        })
    }

    /// The GRUB legacy `menu.lst` entry.
    pub fn menu_lst(&self) -> Result<String, Refusal> {
        menu_lst(&self.desc).map_err(|e| self.refuse(e))
    }

    /// The GRUB 2 `grub.cfg` entry (refuses arguments GRUB 2 would change).
    pub fn grub_cfg(&self) -> Result<String, Refusal> {
        grub_cfg(&self.desc).map_err(|e| self.refuse(e))
    }

    /// The QEMU multiboot boot, paths relative to the description's folder.
    pub fn qemu_boot(&self) -> Result<QemuBoot, Refusal> {
        QemuBoot::from_desc(&self.desc, &self.base).map_err(|e| self.refuse(e))
    }

    /// The warnings (forced errors included), rendered.
    pub fn render_warnings(&self, style: Style) -> String {
        self.report.render(style)
    }
}
