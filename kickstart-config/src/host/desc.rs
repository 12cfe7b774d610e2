//! The declarative TOML boot description and the boot lines it stands for.
//!
//! Every field keeps the span the TOML parser gives it, so a problem found
//! in the boot lines (by the planner, by kickstart's limits) is reported at
//! the TOML line and column it came from, not in a generated menu.

use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use serde::{Deserialize, Deserializer};

use super::check::{Entry, Machine, Seg, SrcLine};
use super::diag::Diagnostic;
use crate::num::{parse_size_up_to, NumberErrorKind, Size, MAX_MACHINE_MEMORY};
use crate::options::is_monitor_word;

/// A value of the description and where it is written in the TOML (byte
/// span; empty for a value built in code). It derefs to the value, so a
/// description can be read and changed like a plain struct
/// (`d.kernel.path = "pistachio".into()`).
#[derive(Debug, Clone, Default)]
pub struct Located<T> {
    value: T,
    span: Range<usize>,
}

impl<T> Located<T> {
    /// A value with a span.
    pub fn new(value: T, span: Range<usize>) -> Self {
        Located { value, span }
    }

    /// The byte span in the TOML text.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The value.
    pub fn get_ref(&self) -> &T {
        &self.value
    }

    /// The value, to change it.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.value
    }

    /// The value without its span.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> core::ops::Deref for Located<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> core::ops::DerefMut for Located<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// Equal when the values are (the span is where, not what).
impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Located<T> {}

impl From<&str> for Located<String> {
    fn from(s: &str) -> Self {
        Located::new(s.into(), 0..0)
    }
}

impl From<String> for Located<String> {
    fn from(s: String) -> Self {
        Located::new(s, 0..0)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The TOML parser fills in the span of a `toml::Spanned`.
        let s = toml::Spanned::<T>::deserialize(d)?;
        let span = s.span();
        Ok(Located::new(s.into_inner(), span))
    }
}

/// Errors reading a boot description; each (but I/O) carries the byte span
/// of the TOML text it is about.
#[derive(Debug, thiserror::Error)]
pub enum DescError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or does not match the schema.
    #[error("{message}")]
    Toml {
        /// The parser's message (without its own location).
        message: String,
        /// Where, if the parser knows.
        span: Option<Range<usize>>,
    },
    /// A size field is not a valid number of the command-line language.
    #[error("vm `{vm}`: `{field}` = {value}: {reason}")]
    Size {
        /// The VM name.
        vm: String,
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
        /// Why it was refused.
        reason: String,
        /// The offending part of the value.
        span: Range<usize>,
    },
    /// `[machine] memory` is not a usable memory size.
    #[error("[machine] `memory` = {value}: {reason}")]
    MachineMemory {
        /// The value as written.
        value: String,
        /// Why it was refused.
        reason: String,
        /// The offending part of the value.
        span: Range<usize>,
    },
    /// Two VMs with the same name.
    #[error("vm name `{name}` is used twice; expected unique names")]
    DuplicateVm {
        /// The name.
        name: String,
        /// The second use.
        span: Range<usize>,
    },
    /// A VM without any module.
    #[error("vm `{name}` has neither `wedge` nor `kernel`; expected at least one")]
    EmptyVm {
        /// The VM name.
        name: String,
        /// The `[[vm]]` table.
        span: Range<usize>,
    },
    /// A path, argument or title the boot loaders cannot carry.
    #[error("{what}: {text:?} {reason}")]
    BadText {
        /// Which field.
        what: String,
        /// The text.
        text: String,
        /// Why, and what is expected.
        reason: &'static str,
        /// The field's value.
        span: Range<usize>,
    },
    /// Text GRUB 2 cannot pass unchanged (only for `grub.cfg`).
    #[error("{what}: {text:?} contains `{ch}`: GRUB 2 (2.06) hands module arguments over with a backslash added before every `\\`, `'` and `\"`, so the monitor would read other bytes than with GRUB legacy or QEMU; expected none of these three characters for a grub.cfg")]
    NotForGrub2 {
        /// Which field.
        what: String,
        /// The text.
        text: String,
        /// The character.
        ch: char,
        /// The field's value.
        span: Range<usize>,
    },
}

impl DescError {
    /// The TOML span the error is about.
    pub fn span(&self) -> Option<Range<usize>> {
        match self {
            DescError::Io { .. } => None,
            DescError::Toml { span, .. } => span.clone(),
            DescError::Size { span, .. }
            | DescError::MachineMemory { span, .. }
            | DescError::DuplicateVm { span, .. }
            | DescError::EmptyVm { span, .. }
            | DescError::BadText { span, .. }
            | DescError::NotForGrub2 { span, .. } => Some(span.clone()),
        }
    }

    /// The error as a located finding (at the start of the file if the
    /// parser gave no span).
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::error(self.span().unwrap_or(0..0), self.to_string())
    }
}

/// A size written either as a TOML integer (bytes) or as a string in the
/// command-line number syntax (`"64M"`, `"0x1000000"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SizeValue {
    /// A plain integer.
    Int(u64),
    /// A number text with optional K/M/G suffix.
    Text(String),
}

impl<'de> Deserialize<'de> for SizeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = SizeValue;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a size: an integer number of bytes or a string such as \"64M\", \"16K\" or \"0x1000000\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<SizeValue, E> {
                Ok(SizeValue::Int(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<SizeValue, E> {
                u64::try_from(v)
                    .map(SizeValue::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SizeValue, E> {
                Ok(SizeValue::Text(v.into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl SizeValue {
    fn shown(&self) -> String {
        match self {
            SizeValue::Int(v) => v.to_string(),
            SizeValue::Text(t) => std::format!("{t:?}"),
        }
    }

    /// Reads the value up to `max`; on error the offset inside the text
    /// (for a string) and the reason.
    fn read(&self, max: u64) -> Result<u64, (Option<usize>, NumberErrorKind)> {
        match self {
            SizeValue::Int(v) if *v <= max => Ok(*v),
            SizeValue::Int(_) => Err((None, NumberErrorKind::Overflow)),
            SizeValue::Text(t) => parse_size_up_to(t, max).map_err(|e| (Some(e.at), e.kind)),
        }
    }
}

/// The span of byte `at` of a TOML string value written without escapes,
/// else the whole value.
fn inner_span(source: &str, span: &Range<usize>, value: &str, at: Option<usize>) -> Range<usize> {
    match (at, string_base(source, span, value)) {
        (Some(at), Some(base)) => {
            let s = base + at.min(value.len());
            s..(s + 1).min(base + value.len()).max(s)
        }
        _ => span.clone(),
    }
}

/// Where the characters of a TOML string value start, when the value is
/// written between its quotes byte for byte (no escapes).
fn string_base(source: &str, span: &Range<usize>, value: &str) -> Option<usize> {
    let inner = source.get(span.start + 1..span.end.checked_sub(1)?)?;
    (inner == value).then_some(span.start + 1)
}

/// One boot module: a file and its arguments.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModuleDesc {
    /// Path of the file, relative to the description's folder (QEMU) or the
    /// GRUB prefix (menus).
    pub path: Located<String>,
    /// Command-line arguments after the path (empty, span 0..0, if absent).
    #[serde(default)]
    pub args: Located<String>,
}

/// Machine facts for the checks.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MachineDesc {
    /// Physical memory of the machine (QEMU `-m`): bytes, or `"512M"`.
    pub memory: Option<Located<SizeValue>>,
    /// Number of CPUs.
    pub cpus: Option<Located<u32>>,
}

/// One VM group.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VmDesc {
    /// Unique name (only for messages; the monitor has no VM names).
    pub name: Located<String>,
    /// `vmsize=`.
    pub vmsize: Option<Located<SizeValue>>,
    /// `offset=`.
    pub offset: Option<Located<SizeValue>>,
    /// `wedgeinstall=`.
    pub wedgeinstall: Option<Located<SizeValue>>,
    /// `wedgesize=`.
    pub wedgesize: Option<Located<SizeValue>>,
    /// `vcpus=`.
    pub vcpus: Option<Located<u32>>,
    /// `pcpus=`.
    pub pcpus: Option<Located<u32>>,
    /// `clones=`.
    pub clones: Option<Located<u32>>,
    /// `ddos`.
    #[serde(default)]
    pub ddos: bool,
    /// `noclientdma`.
    #[serde(default)]
    pub noclientdma: bool,
    /// Lets module arguments carry the monitor's own VM options (`vmstart`,
    /// `vmsize=`, `ddos`, …). Off by default: such a word in a guest
    /// kernel's arguments is an error, since the monitor would read it (a
    /// `vmstart` there starts another VM).
    #[serde(default)]
    pub allow_vm_options: bool,
    /// The wedge: the VM module of an afterburned guest.
    pub wedge: Option<Located<ModuleDesc>>,
    /// The guest kernel: a module after the wedge, or the VM module itself
    /// when there is no wedge.
    pub kernel: Option<Located<ModuleDesc>>,
    /// The ramdisk module (GRUB `modulenounzip`).
    pub ramdisk: Option<Located<ModuleDesc>>,
    /// Further modules, in order.
    #[serde(default)]
    pub modules: Vec<Located<ModuleDesc>>,
}

/// A whole boot: kickstart, kernel, sigma0, root task and the VMs.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BootDesc {
    /// Menu entry title.
    pub title: Located<String>,
    /// Prefix put in front of relative paths in the GRUB menus (e.g. `/boot/l4ka`).
    #[serde(default)]
    pub grub_prefix: String,
    /// Machine facts.
    #[serde(default)]
    pub machine: MachineDesc,
    /// The boot loader's kernel: kickstart and its options (`kmem=`, `maxmem=`…).
    pub kickstart: Located<ModuleDesc>,
    /// The microkernel (first module).
    pub kernel: Located<ModuleDesc>,
    /// sigma0 (second module).
    pub sigma0: Located<ModuleDesc>,
    /// The root task: this resource monitor and its own options (third module).
    pub roottask: Located<ModuleDesc>,
    /// The VM groups in start order (an array: boot order is significant).
    #[serde(default)]
    pub vm: Vec<Located<VmDesc>>,
    /// The TOML text the spans point into.
    #[serde(skip)]
    source: String,
}

/// What a boot line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The boot loader's kernel (kickstart).
    Loader,
    /// A module loaded as is (`module`).
    Module,
    /// A module GRUB must not decompress (`modulenounzip`, ramdisks).
    NoUnzip,
}

/// One line of a boot: path and arguments, as every output format carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootLine {
    /// Kind of line.
    pub role: Role,
    /// The path as written in the description.
    pub path: String,
    /// Arguments after the path.
    pub args: String,
}

impl BootLine {
    /// The command line the monitor sees: `path args` (path alone if no args).
    pub fn cmdline_with(&self, path: &str) -> String {
        if self.args.is_empty() {
            path.to_string()
        } else {
            std::format!("{path} {}", self.args)
        }
    }
}

/// A boot line and where its parts are in the TOML text.
#[derive(Debug, Clone)]
pub(crate) struct MappedLine {
    pub(crate) line: BootLine,
    /// Field name for messages, e.g. "vm `a` kernel".
    pub(crate) what: String,
    /// The module's table.
    pub(crate) whole: Range<usize>,
    /// The path value.
    pub(crate) path_span: Range<usize>,
    /// Sources of the bytes of `line.args`.
    pub(crate) args_segs: Vec<Seg>,
    /// The VM it belongs to (index into `vm`), with whether the line is the
    /// VM module (which carries the options).
    pub(crate) vm: Option<(usize, bool)>,
    /// The module's own arguments: text and its sources (offsets relative
    /// to the text).
    pub(crate) own_args: (String, Vec<Seg>),
}

/// Builds text piece by piece, recording where each piece came from.
#[derive(Default)]
struct Pieces {
    text: String,
    segs: Vec<Seg>,
}

impl Pieces {
    fn push(&mut self, s: &str, src: Range<usize>, exact_from: Option<usize>) {
        if s.is_empty() {
            return;
        }
        self.segs.push(match exact_from {
            Some(b) => Seg {
                at: self.text.len(),
                src: b..b + s.len(),
                exact: true,
            },
            None => Seg {
                at: self.text.len(),
                src,
                exact: false,
            },
        });
        self.text.push_str(s);
    }
}

fn grub_path(prefix: &str, path: &str) -> String {
    if prefix.is_empty() || path.starts_with('/') || path.starts_with('(') {
        path.into()
    } else {
        std::format!("{}/{}", prefix.trim_end_matches('/'), path)
    }
}

impl BootDesc {
    /// Reads and validates a description file.
    pub fn load(path: &Path) -> Result<Self, DescError> {
        let text = std::fs::read_to_string(path).map_err(|source| DescError::Io {
            path: path.into(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and validates description text.
    pub fn parse(text: &str) -> Result<Self, DescError> {
        let mut d: BootDesc = toml::from_str(text).map_err(|e| DescError::Toml {
            message: e.message().trim_end().to_string(),
            span: e.span(),
        })?;
        d.source = text.to_string();
        d.mapped_lines()?;
        d.machine()?;
        Ok(d)
    }

    /// The TOML text (empty for a description built in code).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Machine memory in bytes, if declared.
    pub fn memory(&self) -> Result<Option<u64>, DescError> {
        Ok(self.machine()?.memory)
    }

    /// The machine facts for the checks, with the span of the memory value.
    pub fn machine(&self) -> Result<Machine, DescError> {
        let memory = match &self.machine.memory {
            None => None,
            Some(m) => Some(m.get_ref().read(MAX_MACHINE_MEMORY).map_err(|(at, kind)| {
                let reason = match kind {
                    NumberErrorKind::Overflow => {
                        "more than 4G; expected at most 4G, what ia32 addresses without PAE"
                            .to_string()
                    }
                    k => k.to_string(),
                };
                let span = match m.get_ref() {
                    SizeValue::Text(t) => inner_span(&self.source, &m.span(), t, at),
                    SizeValue::Int(_) => m.span(),
                };
                DescError::MachineMemory {
                    value: m.get_ref().shown(),
                    reason,
                    span,
                }
            })?),
        };
        Ok(Machine {
            memory,
            cpus: self.machine.cpus.as_ref().map(|c| *c.get_ref()),
            memory_span: self.machine.memory.as_ref().map(Located::span),
        })
    }

    /// The boot as lines: kickstart, kernel, sigma0, root task, then every
    /// VM's modules. The single source for all output formats.
    pub fn lines(&self) -> Result<Vec<BootLine>, DescError> {
        Ok(self.mapped_lines()?.into_iter().map(|m| m.line).collect())
    }

    /// The title, checked for what both GRUBs can show.
    pub(crate) fn checked_title(&self) -> Result<&str, DescError> {
        let t = self.title.get_ref();
        let bad = |reason| DescError::BadText {
            what: "title".into(),
            text: t.clone(),
            reason,
            span: self.title.span(),
        };
        if t.contains(['\n', '\r']) {
            return Err(bad("contains a line break; expected one line of text"));
        }
        if t.trim_end().ends_with('\\') {
            return Err(bad("ends with a backslash, which GRUB legacy reads as joining the next line; expected no backslash at the end"));
        }
        if t.starts_with([' ', '\t', '=']) {
            return Err(bad("starts with a blank or `=`, which GRUB legacy drops; expected the title's first character to be shown"));
        }
        Ok(t)
    }

    pub(crate) fn mapped_lines(&self) -> Result<Vec<MappedLine>, DescError> {
        self.checked_title()?;
        let src = &self.source;
        let line = |role,
                    m: &Located<ModuleDesc>,
                    what: &str,
                    vm: Option<(usize, bool)>|
         -> Result<MappedLine, DescError> {
            let md = m.get_ref();
            let path = md.path.get_ref();
            let bad = |text: &String, span: Range<usize>, reason| DescError::BadText {
                what: what.to_string(),
                text: text.clone(),
                reason,
                span,
            };
            if path.is_empty() || path.contains([' ', '\t', '\n', '\r']) {
                return Err(bad(
                    path,
                    md.path.span(),
                    "is empty or holds a blank or line break; expected one word",
                ));
            }
            let mut own = Pieces::default();
            {
                let a = &md.args;
                let t = a.get_ref();
                if t.contains(['\n', '\r']) {
                    return Err(bad(
                        t,
                        a.span(),
                        "contains a line break; expected one line of text",
                    ));
                }
                let trimmed = t.trim();
                let lead = t.len() - t.trim_start().len();
                let base = string_base(src, &a.span(), t).map(|b| b + lead);
                own.push(trimmed, a.span(), base);
            }
            for (t, span) in [(path, md.path.span()), (&own.text, m.span())] {
                if t.ends_with('\\') {
                    return Err(bad(t, span, "ends with a backslash, which GRUB legacy reads as joining the next line; expected no backslash at the end"));
                }
            }
            Ok(MappedLine {
                line: BootLine {
                    role,
                    path: path.clone(),
                    args: own.text.clone(),
                },
                what: what.to_string(),
                whole: m.span(),
                path_span: md.path.span(),
                args_segs: own.segs.clone(),
                vm,
                own_args: (own.text, own.segs),
            })
        };
        let mut out = vec![
            line(Role::Loader, &self.kickstart, "kickstart", None)?,
            line(Role::Module, &self.kernel, "kernel", None)?,
            line(Role::Module, &self.sigma0, "sigma0", None)?,
            line(Role::Module, &self.roottask, "roottask", None)?,
        ];
        let mut names: Vec<&str> = Vec::new();
        for (k, svm) in self.vm.iter().enumerate() {
            let vm = svm.get_ref();
            let name = vm.name.get_ref();
            if names.contains(&name.as_str()) {
                return Err(DescError::DuplicateVm {
                    name: name.clone(),
                    span: vm.name.span(),
                });
            }
            names.push(name);
            let mut opts = vm.option_words(src, svm.span())?;
            let what = |f: &str| std::format!("vm `{name}` {f}");
            let (first, rest_kernel) = match (&vm.wedge, &vm.kernel) {
                (Some(w), kd) => (
                    line(Role::Module, w, &what("wedge"), Some((k, true)))?,
                    kd.as_ref(),
                ),
                (None, Some(kd)) => (
                    line(Role::Module, kd, &what("kernel"), Some((k, true)))?,
                    None,
                ),
                (None, None) => {
                    return Err(DescError::EmptyVm {
                        name: name.clone(),
                        span: svm.span(),
                    })
                }
            };
            if !first.line.args.is_empty() {
                let sep_src = first.args_segs[0].src.clone();
                opts.push(" ", sep_src, None);
                let at = opts.text.len();
                opts.text.push_str(&first.line.args);
                opts.segs.extend(first.args_segs.iter().map(|s| Seg {
                    at: s.at + at,
                    ..s.clone()
                }));
            }
            out.push(MappedLine {
                line: BootLine {
                    args: opts.text,
                    ..first.line.clone()
                },
                args_segs: opts.segs,
                ..first
            });
            if let Some(kd) = rest_kernel {
                out.push(line(Role::Module, kd, &what("kernel"), Some((k, false)))?);
            }
            if let Some(r) = &vm.ramdisk {
                out.push(line(Role::NoUnzip, r, &what("ramdisk"), Some((k, false)))?);
            }
            for m in &vm.modules {
                out.push(line(Role::Module, m, &what("module"), Some((k, false)))?);
            }
        }
        Ok(out)
    }

    /// The description as a menu entry for the checker, every byte of every
    /// command line mapped back to the TOML text. Paths get the GRUB prefix,
    /// as in the menus.
    pub fn entry(&self) -> Result<Entry, DescError> {
        let lines = self.mapped_lines()?;
        let to_src = |m: &MappedLine| {
            let path = grub_path(&self.grub_prefix, &m.line.path);
            let exact = if path == m.line.path {
                string_base(&self.source, &m.path_span, &m.line.path)
            } else {
                None
            };
            let mut p = Pieces::default();
            p.push(&path, m.path_span.clone(), exact);
            if !m.line.args.is_empty() {
                p.push(" ", m.args_segs[0].src.clone(), None);
                let at = p.text.len();
                p.text.push_str(&m.line.args);
                p.segs.extend(m.args_segs.iter().map(|s| Seg {
                    at: s.at + at,
                    ..s.clone()
                }));
            }
            SrcLine {
                cmdline: p.text,
                segs: p.segs,
                whole: m.whole.clone(),
            }
        };
        let mut it = lines.iter();
        let loader = it.next().map(to_src);
        Ok(Entry {
            title: self.title.get_ref().clone(),
            span: self.title.span(),
            loader,
            modules: it.map(to_src).collect(),
        })
    }

    /// Findings about the description itself: the monitor's VM options
    /// inside module arguments (unless the VM has `allow-vm-options`), and
    /// arguments GRUB 2 would change (a warning: `grub-cfg` refuses them).
    pub fn findings(&self) -> Result<Vec<Diagnostic>, DescError> {
        let mut out = Vec::new();
        for m in self.mapped_lines()? {
            let (text, segs) = &m.own_args;
            let probe = SrcLine {
                cmdline: text.clone(),
                segs: segs.clone(),
                whole: m.whole.clone(),
            };
            if let Some((k, is_vm_line)) = m.vm {
                let vm = self.vm[k].get_ref();
                if !vm.allow_vm_options {
                    for (at, w) in crate::line::Words::new(text, 0) {
                        if is_monitor_word(w) || w.contains("vmstart") {
                            let effect = if is_vm_line {
                                "the monitor reads it as an option of this VM, beside the description's own fields"
                            } else if w.contains("vmstart") {
                                "the monitor starts another VM at this module (it looks for `vmstart` anywhere in a module's line)"
                            } else {
                                "it looks like an option of the monitor, which ignores it on this line; only the guest sees it"
                            };
                            out.push(Diagnostic::error(
                                probe.span(at, w.len()),
                                std::format!("{}: `{w}` in the arguments is a VM option of the resource monitor: {effect}", m.what),
                            ).with_help(std::format!("set the VM's fields instead (e.g. `vmsize = \"64M\"`), or `allow-vm-options = true` in vm `{}` if this is meant", vm.name.get_ref())));
                        }
                    }
                }
            }
            for t in [&m.line.path, text] {
                if let Some(ch) = t.chars().find(|c| matches!(c, '\\' | '\'' | '"')) {
                    let span = if t == text {
                        probe.span(t.find(ch).unwrap_or(0), 1)
                    } else {
                        m.path_span.clone()
                    };
                    out.push(Diagnostic::warning(span, std::format!("{}: contains `{ch}`: GRUB 2 (2.06) passes `\\`, `'` and `\"` to modules with a backslash added, so `grub-cfg` refuses this; menu.lst and QEMU pass it unchanged", m.what)));
                }
            }
        }
        Ok(out)
    }
}

impl VmDesc {
    /// The monitor's option words for the VM line, `vmstart` first, each
    /// mapped to its TOML field.
    fn option_words(&self, src: &str, table: Range<usize>) -> Result<Pieces, DescError> {
        let mut p = Pieces::default();
        p.push("vmstart", table.clone(), None);
        let name = self.name.get_ref();
        for (field, v) in [
            ("vmsize", &self.vmsize),
            ("wedgeinstall", &self.wedgeinstall),
            ("wedgesize", &self.wedgesize),
            ("offset", &self.offset),
        ] {
            if let Some(v) = v {
                let n = v
                    .get_ref()
                    .read(u64::from(u32::MAX))
                    .map_err(|(at, kind)| {
                        let span = match v.get_ref() {
                            SizeValue::Text(t) => inner_span(src, &v.span(), t, at),
                            SizeValue::Int(_) => v.span(),
                        };
                        DescError::Size {
                            vm: name.clone(),
                            field,
                            value: v.get_ref().shown(),
                            reason: kind.to_string(),
                            span,
                        }
                    })?;
                let mut w = String::new();
                let _ = write!(w, " {field}={}", Size(n as u32));
                p.push(&w, v.span(), None);
            }
        }
        for (field, v) in [
            ("vcpus", &self.vcpus),
            ("pcpus", &self.pcpus),
            ("clones", &self.clones),
        ] {
            if let Some(v) = v {
                p.push(&std::format!(" {field}={}", v.get_ref()), v.span(), None);
            }
        }
        if self.ddos {
            p.push(" ddos", table.clone(), None);
        }
        if self.noclientdma {
            p.push(" noclientdma", table, None);
        }
        // The blank before each word belongs to that word's field.
        Ok(p)
    }
}
