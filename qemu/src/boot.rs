//! A boot: the multiboot loader (kickstart) and its modules, each with a
//! command line, turned into a run directory and a QEMU command line.
//!
//! QEMU's multiboot loader puts each module's path in front of its command
//! line, so files are staged under their intended names in a per-run
//! directory and QEMU runs there: a module's command line then reads
//! `name args`, as GRUB would give it. The directory is kept, with a
//! `run.sh`, so a failed run can be repeated by hand.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::Pistachio;

/// One boot module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// The file to load.
    pub source: PathBuf,
    /// Its name in the run directory, which is also the first word of its command line.
    pub name: String,
    /// The rest of its command line.
    pub args: String,
}

impl Module {
    /// A module named after its file.
    pub fn new(source: impl Into<PathBuf>, args: impl Into<String>) -> Module {
        let source = source.into();
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Module {
            source,
            name,
            args: args.into(),
        }
    }

    /// The same module under another name.
    pub fn named(mut self, name: impl Into<String>) -> Module {
        self.name = name.into();
        self
    }
}

/// What the machine boots from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Medium {
    /// QEMU's own multiboot loader: `-kernel` kickstart, `-initrd` modules.
    #[default]
    Multiboot,
    /// A bootable CD image (a GRUB 2 ISO), `-cdrom`: the boot loader on the
    /// image loads kickstart and the modules; [`Boot::loader`] and
    /// [`Boot::modules`] are not used.
    Cdrom(PathBuf),
    /// A bootable hard-disk image (a GRUB legacy disk), the first IDE disk
    /// as `-hda` gives it (`-drive index=0`, raw format stated so QEMU does
    /// not probe).
    Disk(PathBuf),
}

impl Medium {
    /// The image's name in the run directory, if the boot uses one.
    fn staged_name(&self) -> Option<(&Path, &'static str)> {
        match self {
            Medium::Multiboot => None,
            Medium::Cdrom(p) => Some((p, "boot.iso")),
            Medium::Disk(p) => Some((p, "disk.img")),
        }
    }
}

/// Everything QEMU needs for one boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    /// What the machine boots from (QEMU's multiboot loader unless an image).
    pub medium: Medium,
    /// The multiboot image QEMU loads (kickstart).
    pub loader: PathBuf,
    /// kickstart's own command line (`maxmem=`, `kmem=`, ...).
    pub loader_args: String,
    /// kernel, sigma0, root task, then the VM modules.
    pub modules: Vec<Module>,
    /// Guest RAM in MiB (explicit per scenario; anchors §8).
    pub memory_mib: u32,
    /// `-icount shift=0`: one virtual nanosecond per instruction, so virtual
    /// times are repeatable.
    pub icount: bool,
    /// The terminal on the serial console (`run_interactive`): QEMU's
    /// stdio multiplexed with its monitor (`Ctrl-A x` quits, `Ctrl-A c`
    /// switches to the monitor), Ctrl-C goes to the guest, and the serial
    /// output is also written to `serial.log`.
    pub interactive: bool,
    /// Processors of the machine (`-smp N` when above 1).
    pub cpus: u32,
    /// `-accel tcg,thread=single`: all virtual CPUs on one host thread,
    /// taking turns. The SMP Pistachio kernel needs it: its cross-processor
    /// IPC hangs under QEMU's default multi-threaded TCG.
    pub tcg_single_thread: bool,
    /// Further QEMU arguments.
    pub extra_args: Vec<String>,
}

/// Why a boot could not be staged.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// A module file is missing.
    #[error("module {name}: file {path} does not exist")]
    MissingFile {
        /// Module name.
        name: String,
        /// The path given.
        path: PathBuf,
    },
    /// Two modules would get the same name in the run directory.
    #[error("two modules are named {0}; give one another name")]
    DuplicateName(String),
    /// A name QEMU's `-initrd` syntax cannot carry.
    #[error("module name {0:?} is empty or contains a space, comma, slash or newline")]
    BadName(String),
    /// A command line QEMU cannot carry.
    #[error("module {name}: command line contains a newline or NUL")]
    BadArgs {
        /// Module name.
        name: String,
    },
    /// Fewer than kernel, sigma0 and root task.
    #[error("a boot needs at least three modules (kernel, sigma0, root task); got {0}")]
    TooFewModules(usize),
    /// Creating the run directory or a link failed.
    #[error("staging in {path}: {source}")]
    Io {
        /// What was being created.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// A staged boot: the run directory and the QEMU arguments that use it.
#[derive(Clone, Debug)]
pub struct Staged {
    /// The run directory (QEMU's working directory).
    pub dir: PathBuf,
    /// The QEMU program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Staged {
    /// The full command line, shell-quoted, for logs and `run.sh`.
    pub fn command_line(&self) -> String {
        let mut s = shell_quote(&self.program);
        for a in &self.args {
            s.push(' ');
            s.push_str(&shell_quote(a));
        }
        s
    }
}

/// The QEMU binary for ia32 guests.
pub const QEMU: &str = "qemu-system-i386";

impl Boot {
    /// kickstart, kernel, sigma0 and the root task with `roottask_args`.
    pub fn standard(p: &Pistachio, roottask: &Path, roottask_args: &str) -> Boot {
        Boot {
            medium: Medium::Multiboot,
            loader: p.kickstart.clone(),
            loader_args: String::new(),
            modules: vec![
                Module::new(&p.kernel, "").named("ia32-kernel"),
                Module::new(&p.sigma0, "").named("sigma0"),
                Module::new(roottask, roottask_args).named("roottask"),
            ],
            memory_mib: 256,
            icount: true,
            interactive: false,
            cpus: 1,
            tcg_single_thread: false,
            extra_args: Vec::new(),
        }
    }

    /// A boot from a kickstart-config description (one source of truth for
    /// command lines and module order): kickstart, the kernel and sigma0
    /// always come from the Pistachio build and the root task from `roottask`;
    /// the VM modules are the description's files, relative to its folder.
    pub fn from_description(
        p: &Pistachio,
        roottask: &Path,
        desc: &kickstart_config::QemuBoot,
    ) -> Result<Boot, StageError> {
        if desc.modules.len() < 3 {
            return Err(StageError::TooFewModules(desc.modules.len()));
        }
        let fixed = [
            (&p.kernel, "ia32-kernel"),
            (&p.sigma0, "sigma0"),
            (&roottask.to_path_buf(), "roottask"),
        ];
        let mut modules: Vec<Module> = fixed
            .iter()
            .zip(&desc.modules)
            .map(|((file, name), m)| Module::new(*file, m.cmdline.clone()).named(*name))
            .collect();
        modules.extend(
            desc.modules[3..]
                .iter()
                .map(|m| Module::new(&m.path, m.cmdline.clone())),
        );
        Ok(Boot {
            medium: Medium::Multiboot,
            loader: p.kickstart.clone(),
            loader_args: desc.loader_cmdline.clone(),
            modules,
            memory_mib: 256,
            icount: true,
            interactive: false,
            cpus: 1,
            tcg_single_thread: false,
            extra_args: Vec::new(),
        })
    }

    /// A boot from a bootable image (`Medium::Cdrom` or `Medium::Disk`) whose
    /// boot loader brings kickstart and the modules; the run's other settings
    /// (memory, `-icount`, serial console) as for any boot.
    pub fn from_image(medium: Medium) -> Boot {
        Boot {
            medium,
            loader: PathBuf::new(),
            loader_args: String::new(),
            modules: Vec::new(),
            memory_mib: 256,
            icount: true,
            interactive: false,
            extra_args: Vec::new(),
            cpus: 1,
            tcg_single_thread: false,
        }
    }

    /// A machine with `cpus` processors for the SMP kernel: `-smp cpus`
    /// and single-threaded TCG (see [`Boot::tcg_single_thread`]).
    pub fn smp(mut self, cpus: u32) -> Boot {
        self.cpus = cpus;
        self.tcg_single_thread = true;
        self
    }

    /// Add a module after the existing ones.
    pub fn module(mut self, m: Module) -> Boot {
        self.modules.push(m);
        self
    }

    /// The `-initrd` value: `name args,name args,...` with commas in args doubled.
    pub fn initrd_arg(&self) -> String {
        let mut s = String::new();
        for (i, m) in self.modules.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&m.name);
            if !m.args.is_empty() {
                s.push(' ');
                s.push_str(&m.args.replace(',', ",,"));
            }
        }
        s
    }

    /// QEMU's arguments for this boot, with files named as staged.
    pub fn qemu_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        match (&self.medium, self.medium.staged_name()) {
            (Medium::Cdrom(_), Some((_, name))) => {
                a.extend(["-cdrom".into(), name.into(), "-boot".into(), "d".into()]);
            }
            (Medium::Disk(_), Some((_, name))) => a.extend([
                "-drive".into(),
                format!("file={name},format=raw,index=0,media=disk"),
                "-boot".into(),
                "c".into(),
            ]),
            _ => {
                a.extend(["-kernel".into(), "kickstart".into()]);
                if !self.loader_args.is_empty() {
                    a.extend(["-append".into(), self.loader_args.replace(',', ",,")]);
                }
                a.extend(["-initrd".into(), self.initrd_arg()]);
            }
        }
        a.extend(["-m".into(), self.memory_mib.to_string()]);
        if self.interactive {
            a.extend(
                [
                    "-display",
                    "none",
                    "-chardev",
                    "stdio,id=console,mux=on,signal=off,logfile=serial.log",
                    "-serial",
                    "chardev:console",
                    "-mon",
                    "chardev=console,mode=readline",
                    "-no-reboot",
                ]
                .map(String::from),
            );
        } else {
            a.extend(
                [
                    "-display",
                    "none",
                    "-monitor",
                    "none",
                    "-serial",
                    "stdio",
                    "-no-reboot",
                ]
                .map(String::from),
            );
        }
        if self.cpus > 1 {
            a.extend(["-smp".into(), self.cpus.to_string()]);
        }
        if self.tcg_single_thread {
            a.extend(["-accel".into(), "tcg,thread=single".into()]);
        }
        if self.icount {
            a.extend(["-icount".into(), "shift=0,sleep=off".into()]);
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }

    /// Check the boot and link its files into `dir` (created if needed).
    pub fn stage(&self, dir: &Path) -> Result<Staged, StageError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StageError::Io { path, source }
        };
        if let Some((image, name)) = self.medium.staged_name() {
            let source = std::fs::canonicalize(image).map_err(|_| StageError::MissingFile {
                name: name.into(),
                path: image.to_path_buf(),
            })?;
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let link = dir.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&source, &link).map_err(io(&link))?;
            return self.write_run_sh(dir);
        }
        if self.modules.len() < 3 {
            return Err(StageError::TooFewModules(self.modules.len()));
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let loader = Module::new(&self.loader, "").named("kickstart");
        let all: Vec<&Module> = std::iter::once(&loader).chain(&self.modules).collect();
        // Names and command lines first, so a bad boot is refused before any
        // file is touched. One file may appear several times (two VMs of the
        // same guest); two different files may not share a name.
        let mut seen: std::collections::HashMap<&str, &Path> = std::collections::HashMap::new();
        for m in &all {
            if m.name.is_empty() || m.name.contains([' ', ',', '/', '\n']) {
                return Err(StageError::BadName(m.name.clone()));
            }
            if m.args.contains(['\n', '\0']) {
                return Err(StageError::BadArgs {
                    name: m.name.clone(),
                });
            }
            match seen.insert(m.name.as_str(), m.source.as_path()) {
                Some(other) if other != m.source => {
                    return Err(StageError::DuplicateName(m.name.clone()))
                }
                _ => {}
            }
        }
        for m in &all {
            let source = std::fs::canonicalize(&m.source).map_err(|_| StageError::MissingFile {
                name: m.name.clone(),
                path: m.source.clone(),
            })?;
            let link = dir.join(&m.name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&source, &link).map_err(io(&link))?;
        }
        self.write_run_sh(dir)
    }

    /// The staged boot for `dir`, with a `run.sh` that repeats it by hand.
    fn write_run_sh(&self, dir: &Path) -> Result<Staged, StageError> {
        let staged = Staged {
            dir: dir.to_path_buf(),
            program: QEMU.into(),
            args: self.qemu_args(),
        };
        let mut script = String::from(
            "#!/bin/sh\n# Repeats this boot by hand.\ncd \"$(dirname \"$0\")\" || exit 1\nexec ",
        );
        let _ = writeln!(script, "{}", staged.command_line());
        let run_sh = dir.join("run.sh");
        std::fs::write(&run_sh, script).map_err(|source| StageError::Io {
            path: run_sh.clone(),
            source,
        })?;
        Ok(staged)
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_=./:,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Boot {
        Boot {
            medium: Medium::Multiboot,
            loader: "/p/kickstart".into(),
            loader_args: "kmem=16M".into(),
            modules: vec![
                Module::new("/p/ia32-kernel", ""),
                Module::new("/p/sigma0", ""),
                Module::new("/x/roottask", "--verbose"),
                Module::new("/x/guest", "vmstart vmsize=64M console=a,b").named("linux"),
            ],
            memory_mib: 512,
            icount: true,
            interactive: false,
            cpus: 1,
            tcg_single_thread: false,
            extra_args: vec![],
        }
    }

    #[test]
    fn initrd_escapes_commas_and_uses_staged_names() {
        let b = sample();
        assert_eq!(
            b.initrd_arg(),
            "ia32-kernel,sigma0,roottask --verbose,linux vmstart vmsize=64M console=a,,b"
        );
        let a = b.qemu_args();
        assert_eq!(
            &a[..6],
            [
                "-kernel",
                "kickstart",
                "-append",
                "kmem=16M",
                "-initrd",
                &b.initrd_arg()
            ]
        );
        assert!(a.windows(2).any(|w| w == ["-icount", "shift=0,sleep=off"]));
        assert!(a.windows(2).any(|w| w == ["-m", "512"]));
        assert!(!a.iter().any(|w| w == "-smp" || w == "-accel"));
    }

    #[test]
    fn smp_boots_ask_for_cpus_and_single_threaded_tcg() {
        let a = sample().smp(4).qemu_args();
        assert!(a.windows(2).any(|w| w == ["-smp", "4"]), "{a:?}");
        assert!(
            a.windows(2).any(|w| w == ["-accel", "tcg,thread=single"]),
            "{a:?}"
        );
        let mut b = sample();
        b.tcg_single_thread = true;
        let a = b.qemu_args();
        assert!(!a.iter().any(|w| w == "-smp"), "{a:?}");
        assert!(a.iter().any(|w| w == "tcg,thread=single"), "{a:?}");
    }

    #[test]
    fn description_keeps_command_lines_and_replaces_boot_files() {
        let desc = kickstart_config::QemuBoot {
            loader: "/ex/kickstart".into(),
            loader_cmdline: "maxmem=512M".into(),
            modules: [
                ("pistachio", ""),
                ("sigma0", ""),
                ("l4ka-resourcemon", "trace"),
                ("wedge", "vmstart vmsize=64M"),
            ]
            .map(|(p, c)| kickstart_config::QemuModule {
                path: format!("/ex/{p}").into(),
                cmdline: c.into(),
            })
            .to_vec(),
        };
        let p = Pistachio {
            kickstart: "/p/kickstart".into(),
            kernel: "/p/k".into(),
            sigma0: "/p/s0".into(),
        };
        let b = Boot::from_description(&p, Path::new("/b/roottask"), &desc).unwrap();
        assert_eq!(b.loader, PathBuf::from("/p/kickstart"));
        assert_eq!(b.loader_args, "maxmem=512M");
        assert_eq!(
            b.initrd_arg(),
            "ia32-kernel,sigma0,roottask trace,wedge vmstart vmsize=64M"
        );
        assert_eq!(b.modules[2].source, PathBuf::from("/b/roottask"));
        assert_eq!(b.modules[3].source, PathBuf::from("/ex/wedge"));
    }

    #[test]
    fn stage_links_files_and_writes_run_sh() {
        let tmp = std::env::temp_dir().join(format!("qemu-stage-{}", std::process::id()));
        let src = tmp.join("src");
        std::fs::create_dir_all(&src).unwrap();
        let mut b = sample();
        b.loader = src.join("kickstart");
        for m in &mut b.modules {
            m.source = src.join(&m.name);
        }
        for f in ["kickstart", "ia32-kernel", "sigma0", "roottask", "linux"] {
            std::fs::write(src.join(f), f).unwrap();
        }
        let staged = b.stage(&tmp.join("run")).unwrap();
        assert_eq!(
            std::fs::read_to_string(staged.dir.join("linux")).unwrap(),
            "linux"
        );
        let script = std::fs::read_to_string(staged.dir.join("run.sh")).unwrap();
        assert!(script.contains("qemu-system-i386 -kernel kickstart -append kmem=16M -initrd 'ia32-kernel,sigma0,roottask --verbose,linux vmstart vmsize=64M console=a,,b'"), "{script}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn images_boot_from_cdrom_or_first_disk_with_the_same_judged_settings() {
        let tmp = std::env::temp_dir().join(format!("qemu-stage-image-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let iso = tmp.join("x.iso");
        std::fs::write(&iso, b"iso").unwrap();
        let b = Boot::from_image(Medium::Cdrom(iso.clone()));
        let a = b.qemu_args();
        assert_eq!(&a[..4], ["-cdrom", "boot.iso", "-boot", "d"]);
        assert!(!a.iter().any(|x| x == "-kernel" || x == "-initrd"), "{a:?}");
        assert!(a.windows(2).any(|w| w == ["-icount", "shift=0,sleep=off"]));
        assert!(a.windows(2).any(|w| w == ["-serial", "stdio"]));
        let staged = b.stage(&tmp.join("run")).unwrap();
        assert_eq!(std::fs::read(staged.dir.join("boot.iso")).unwrap(), b"iso");
        let d = Boot::from_image(Medium::Disk(tmp.join("x.img")));
        assert_eq!(
            &d.qemu_args()[..4],
            [
                "-drive",
                "file=disk.img,format=raw,index=0,media=disk",
                "-boot",
                "c"
            ]
        );
        assert!(
            matches!(d.stage(&tmp.join("run2")), Err(StageError::MissingFile { name, .. }) if name == "disk.img")
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn stage_rejects_what_qemu_cannot_carry() {
        let tmp = std::env::temp_dir().join(format!("qemu-stage-bad-{}", std::process::id()));
        let b = sample().module(Module::new("/x/other", "").named("linux"));
        assert!(matches!(b.stage(&tmp), Err(StageError::DuplicateName(n)) if n == "linux"));
        assert!(
            matches!(sample().stage(&tmp), Err(StageError::MissingFile { name, .. }) if name == "kickstart")
        );
        let mut b = sample();
        b.modules[3].name = "a b".into();
        assert!(matches!(b.stage(&tmp), Err(StageError::BadName(n)) if n == "a b"));
        let mut b = sample();
        b.modules.truncate(2);
        assert!(matches!(b.stage(&tmp), Err(StageError::TooFewModules(2))));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
