//! The declarative TOML boot description and the boot lines it stands for.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use serde::Deserialize;

use crate::num::{parse_size, Size};

/// Errors reading a boot description.
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
    #[error("{path}: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The TOML error (with its own line/column).
        source: toml::de::Error,
    },
    /// A size field is not a valid number of the command-line language.
    #[error("vm `{vm}`: `{field}` = {value:?}: {reason}")]
    Size {
        /// The VM name.
        vm: String,
        /// The field.
        field: &'static str,
        /// The text given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// Two VMs with the same name.
    #[error("vm name `{0}` is used twice; expected unique names")]
    DuplicateVm(String),
    /// A VM without any module.
    #[error("vm `{0}` has neither `wedge` nor `kernel`; expected at least one")]
    EmptyVm(String),
    /// A path or argument contains a character the boot loaders cannot carry.
    #[error("{what}: {text:?} contains a line break or is empty; expected one line of text")]
    BadText {
        /// Which field.
        what: String,
        /// The text.
        text: String,
    },
}

/// A size written either as a TOML integer or as a string in the
/// command-line number syntax (`"64M"`, `"0x1000000"`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SizeValue {
    /// A plain integer.
    Int(u64),
    /// A number text with optional K/M/G suffix.
    Text(String),
}

impl SizeValue {
    fn resolve(&self, vm: &str, field: &'static str) -> Result<u32, DescError> {
        let bad = |value: String, reason: String| DescError::Size {
            vm: vm.to_string(),
            field,
            value,
            reason,
        };
        match self {
            SizeValue::Int(v) => {
                u32::try_from(*v).map_err(|_| bad(v.to_string(), "does not fit in 32 bits".into()))
            }
            SizeValue::Text(t) => parse_size(t).map_err(|e| bad(t.clone(), e.kind.to_string())),
        }
    }
}

/// One boot module: a file and its arguments.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModuleDesc {
    /// Path of the file, relative to the description's folder (QEMU) or the
    /// GRUB prefix (menus).
    pub path: String,
    /// Command-line arguments after the path.
    #[serde(default)]
    pub args: String,
}

/// Machine facts for the checks.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MachineDesc {
    /// Physical memory of the machine (QEMU `-m`).
    pub memory: Option<SizeValue>,
    /// Number of CPUs.
    pub cpus: Option<u32>,
}

/// One VM group.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct VmDesc {
    /// Unique name (only for messages; the monitor has no VM names).
    pub name: String,
    /// `vmsize=`.
    pub vmsize: Option<SizeValue>,
    /// `offset=`.
    pub offset: Option<SizeValue>,
    /// `wedgeinstall=`.
    pub wedgeinstall: Option<SizeValue>,
    /// `wedgesize=`.
    pub wedgesize: Option<SizeValue>,
    /// `vcpus=`.
    pub vcpus: Option<u32>,
    /// `pcpus=`.
    pub pcpus: Option<u32>,
    /// `clones=`.
    pub clones: Option<u32>,
    /// `ddos`.
    #[serde(default)]
    pub ddos: bool,
    /// `noclientdma`.
    #[serde(default)]
    pub noclientdma: bool,
    /// The wedge: the VM module of an afterburned guest.
    pub wedge: Option<ModuleDesc>,
    /// The guest kernel: a module after the wedge, or the VM module itself
    /// when there is no wedge.
    pub kernel: Option<ModuleDesc>,
    /// The ramdisk module (GRUB `modulenounzip`).
    pub ramdisk: Option<ModuleDesc>,
    /// Further modules, in order.
    #[serde(default)]
    pub modules: Vec<ModuleDesc>,
}

/// A whole boot: kickstart, kernel, sigma0, root task and the VMs.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BootDesc {
    /// Menu entry title.
    pub title: String,
    /// Prefix put in front of relative paths in the GRUB menus (e.g. `/boot/l4ka`).
    #[serde(default)]
    pub grub_prefix: String,
    /// Machine facts.
    #[serde(default)]
    pub machine: MachineDesc,
    /// The boot loader's kernel: kickstart and its options (`kmem=`, `maxmem=`…).
    pub kickstart: ModuleDesc,
    /// The microkernel (first module).
    pub kernel: ModuleDesc,
    /// sigma0 (second module).
    pub sigma0: ModuleDesc,
    /// The root task: this resource monitor and its own options (third module).
    pub roottask: ModuleDesc,
    /// The VM groups in start order (an array: boot order is significant).
    #[serde(default)]
    pub vm: Vec<VmDesc>,
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

impl BootDesc {
    /// Reads and validates a description file.
    pub fn load(path: &Path) -> Result<Self, DescError> {
        let text = std::fs::read_to_string(path).map_err(|source| DescError::Io {
            path: path.into(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            DescError::Toml { source, .. } => DescError::Toml {
                path: path.into(),
                source,
            },
            e => e,
        })
    }

    /// Parses and validates description text.
    pub fn parse(text: &str) -> Result<Self, DescError> {
        let d: BootDesc = toml::from_str(text).map_err(|source| DescError::Toml {
            path: PathBuf::new(),
            source,
        })?;
        d.lines()?;
        Ok(d)
    }

    /// Machine memory in bytes, if declared.
    pub fn memory(&self) -> Result<Option<u64>, DescError> {
        match &self.machine.memory {
            None => Ok(None),
            Some(SizeValue::Int(v)) => Ok(Some(*v)),
            Some(s @ SizeValue::Text(_)) => {
                s.resolve("machine", "memory").map(|v| Some(u64::from(v)))
            }
        }
    }

    /// The boot as lines: kickstart, kernel, sigma0, root task, then every
    /// VM's modules. The single source for all output formats.
    pub fn lines(&self) -> Result<Vec<BootLine>, DescError> {
        let line = |role, m: &ModuleDesc, what: &str| -> Result<BootLine, DescError> {
            for t in [&m.path, &m.args] {
                if t.contains(['\n', '\r'])
                    || (t == &m.path && (t.is_empty() || t.contains([' ', '\t'])))
                {
                    return Err(DescError::BadText {
                        what: what.to_string(),
                        text: t.clone(),
                    });
                }
            }
            Ok(BootLine {
                role,
                path: m.path.clone(),
                args: m.args.trim().to_string(),
            })
        };
        let mut out = vec![
            line(Role::Loader, &self.kickstart, "kickstart")?,
            line(Role::Module, &self.kernel, "kernel")?,
            line(Role::Module, &self.sigma0, "sigma0")?,
            line(Role::Module, &self.roottask, "roottask")?,
        ];
        let mut names: Vec<&str> = Vec::new();
        for vm in &self.vm {
            if names.contains(&vm.name.as_str()) {
                return Err(DescError::DuplicateVm(vm.name.clone()));
            }
            names.push(&vm.name);
            let opts = vm.option_words()?;
            let what = |f: &str| std::format!("vm `{}` {f}", vm.name);
            let (first, rest_kernel) = match (&vm.wedge, &vm.kernel) {
                (Some(w), k) => (line(Role::Module, w, &what("wedge"))?, k.as_ref()),
                (None, Some(k)) => (line(Role::Module, k, &what("kernel"))?, None),
                (None, None) => return Err(DescError::EmptyVm(vm.name.clone())),
            };
            let mut args = opts;
            if !first.args.is_empty() {
                args.push(' ');
                args.push_str(&first.args);
            }
            out.push(BootLine { args, ..first });
            if let Some(k) = rest_kernel {
                out.push(line(Role::Module, k, &what("kernel"))?);
            }
            if let Some(r) = &vm.ramdisk {
                out.push(line(Role::NoUnzip, r, &what("ramdisk"))?);
            }
            for m in &vm.modules {
                out.push(line(Role::Module, m, &what("module"))?);
            }
        }
        Ok(out)
    }
}

impl VmDesc {
    /// The monitor's option words for the VM line, `vmstart` first.
    fn option_words(&self) -> Result<String, DescError> {
        let mut s = String::from("vmstart");
        for (field, v) in [
            ("vmsize", &self.vmsize),
            ("wedgeinstall", &self.wedgeinstall),
            ("wedgesize", &self.wedgesize),
            ("offset", &self.offset),
        ] {
            if let Some(v) = v {
                let n = v.resolve(&self.name, field)?;
                let _ = write!(s, " {field}={}", Size(n));
            }
        }
        for (field, v) in [
            ("vcpus", self.vcpus),
            ("pcpus", self.pcpus),
            ("clones", self.clones),
        ] {
            if let Some(v) = v {
                let _ = write!(s, " {field}={v}");
            }
        }
        if self.ddos {
            s.push_str(" ddos");
        }
        if self.noclientdma {
            s.push_str(" noclientdma");
        }
        Ok(s)
    }
}
