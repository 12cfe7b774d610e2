//! The test fixtures the boot scenarios need, found by path.
//!
//! Four folders, each with an environment variable that overrides it:
//!
//! | variable | default | what |
//! | --- | --- | --- |
//! | `PISTACHIO_DIR` | `../shared/pistachio/ia32`, else `/opt/pistachio` | kernel, sigma0, kickstart |
//! | `PISTACHIO_SMP_DIR` | `../shared/pistachio/ia32-smp` | the same files of an SMP kernel (the `smp-*` scenarios) |
//! | `WEDGE_DIR` | `../shared/wedge` | the upstream afterburn wedge and `tinyguest.elf` |
//! | `ORIGINAL_DIR` | `../shared/original` | the original C++ monitor |
//!
//! (`../shared` is beside the repository root.) They are never copied into
//! the repository. A scenario names the fixtures it needs; when one is
//! missing it is skipped, or, with `REQUIRE_PISTACHIO=1` (CI), it fails
//! with the path of the missing file.

use std::path::{Path, PathBuf};

use qemu::Pistachio;

/// Overrides the wedge folder.
pub const WEDGE_ENV: &str = "WEDGE_DIR";
/// Overrides the original monitor's folder.
pub const ORIGINAL_ENV: &str = "ORIGINAL_DIR";
/// Overrides the SMP Pistachio build's folder.
pub const PISTACHIO_SMP_ENV: &str = "PISTACHIO_SMP_DIR";

/// The `shared/` folder beside the repository root.
pub fn shared_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// The upstream afterburn wedge builds and the tiny guest kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wedge {
    /// Wire variant B, no pass-through (`afterburn-wedge`).
    pub variant_b: PathBuf,
    /// Wire variant A (`afterburn-wedge-varA`).
    pub variant_a: PathBuf,
    /// Device pass-through, variant B (`afterburn-wedge-pt`).
    pub passthrough: PathBuf,
    /// `tinyguest.elf`.
    pub tinyguest: PathBuf,
}

/// The original monitor's builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Original {
    /// `resourcemon-debug`: prints its boot messages.
    pub debug: PathBuf,
    /// `resourcemon-perf`: prints nothing itself.
    pub perf: PathBuf,
}

/// Every fixture, each found or with the reason it is not.
#[derive(Clone, Debug)]
pub struct Fixtures {
    /// The Pistachio build.
    pub pistachio: Result<Pistachio, String>,
    /// The wedge folder's files.
    pub wedge: Result<Wedge, String>,
    /// The original monitor.
    pub original: Result<Original, String>,
    /// The GRUB 2 image tools (grub-mkrescue, xorriso, mtools, grub-pc-bin).
    pub grub2: Result<(), String>,
    /// The GRUB legacy image tools (grub-legacy's shell and stages, mke2fs).
    pub grub_legacy: Result<(), String>,
    /// The SMP Pistachio build (up to 8 CPUs; boot it with
    /// [`qemu::Boot::smp`]).
    pub pistachio_smp: Result<Pistachio, String>,
}

/// What a scenario needs besides Pistachio.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The wedge folder.
    pub wedge: bool,
    /// The original monitor.
    pub original: bool,
    /// The SMP Pistachio build.
    pub smp: bool,
    /// The tools that write a GRUB 2 ISO (`kickstart_config::image`).
    pub grub2: bool,
    /// The tools that write a GRUB legacy disk image.
    pub grub_legacy: bool,
}

impl Needs {
    /// Pistachio only; the base for `Needs { wedge: true, ..Needs::NONE }`.
    pub const NONE: Needs = Needs {
        wedge: false,
        original: false,
        grub2: false,
        grub_legacy: false,
        smp: false,
    };
}

/// The fixtures a scenario gets: all it asked for.
#[derive(Clone, Copy, Debug)]
pub struct Found<'a> {
    /// The Pistachio build.
    pub pistachio: &'a Pistachio,
    /// The wedge, if the scenario asked for it.
    pub wedge: Option<&'a Wedge>,
    /// The original monitor, if the scenario asked for it.
    pub original: Option<&'a Original>,
    /// The SMP Pistachio build, if the scenario asked for it.
    pub pistachio_smp: Option<&'a Pistachio>,
}

impl<'a> Found<'a> {
    /// The wedge; scenarios that use it declared [`Needs::wedge`].
    pub fn wedge(&self) -> Result<&'a Wedge, String> {
        self.wedge
            .ok_or_else(|| "scenario did not declare that it needs the wedge".into())
    }

    /// The SMP Pistachio build; declared by [`Needs::smp`].
    pub fn smp(&self) -> Result<&'a Pistachio, String> {
        self.pistachio_smp
            .ok_or_else(|| "scenario did not declare that it needs the SMP kernel".into())
    }

    /// The original monitor; declared by [`Needs::original`].
    pub fn original(&self) -> Result<&'a Original, String> {
        self.original
            .ok_or_else(|| "scenario did not declare that it needs the original monitor".into())
    }
}

/// Reads an environment variable (the real environment, or a test's).
type Env<'e> = &'e dyn Fn(&str) -> Option<std::ffi::OsString>;

fn dir_from(env: Env<'_>, var: &str, default: PathBuf) -> PathBuf {
    match env(var) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => default,
    }
}

/// `dir/name` if it is a file, else why not (naming the path and the variable).
fn file(dir: &Path, name: &str, var: &str) -> Result<PathBuf, String> {
    let p = dir.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "missing fixture {} (set {var} to the folder that has {name})",
            p.display()
        ))
    }
}

impl Fixtures {
    /// Look every fixture up (environment first, then `../shared`).
    pub fn locate() -> Fixtures {
        Fixtures::locate_in(&shared_dir(), &|v| std::env::var_os(v))
    }

    /// Look every fixture up, with `shared` as the default root and `env`
    /// as the environment.
    pub fn locate_in(shared: &Path, env: Env<'_>) -> Fixtures {
        let pistachio = match env(qemu::pistachio::ENV) {
            Some(d) if !d.is_empty() => Pistachio::in_dir(Path::new(&d)),
            _ if shared.join("pistachio/ia32").is_dir() => {
                Pistachio::in_dir(&shared.join("pistachio/ia32"))
            }
            _ if Path::new(qemu::pistachio::DEFAULT_DIR).is_dir() => {
                Pistachio::in_dir(Path::new(qemu::pistachio::DEFAULT_DIR))
            }
            _ => Err(qemu::pistachio::PistachioError::NotConfigured),
        }
        .map_err(|e| {
            format!(
                "{e}; looked in {} too (set {} to a Pistachio ia32 build)",
                shared.join("pistachio/ia32").display(),
                qemu::pistachio::ENV
            )
        });
        let wdir = dir_from(env, WEDGE_ENV, shared.join("wedge"));
        let wedge = (|| {
            Ok(Wedge {
                variant_b: file(&wdir, "afterburn-wedge", WEDGE_ENV)?,
                variant_a: file(&wdir, "afterburn-wedge-varA", WEDGE_ENV)?,
                passthrough: file(&wdir, "afterburn-wedge-pt", WEDGE_ENV)?,
                tinyguest: file(&wdir, "tinyguest.elf", WEDGE_ENV)?,
            })
        })();
        let odir = dir_from(env, ORIGINAL_ENV, shared.join("original"));
        let original = (|| {
            Ok(Original {
                debug: file(&odir, "resourcemon-debug", ORIGINAL_ENV)?,
                perf: file(&odir, "resourcemon-perf", ORIGINAL_ENV)?,
            })
        })();
        let tools = |loader| {
            kickstart_config::image::Tools::find(loader)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let sdir = dir_from(env, PISTACHIO_SMP_ENV, shared.join("pistachio/ia32-smp"));
        let pistachio_smp = Pistachio::in_dir(&sdir).map_err(|e| {
            format!("missing fixture: {e} (set {PISTACHIO_SMP_ENV} to an SMP Pistachio build)")
        });
        Fixtures {
            pistachio,
            wedge,
            original,
            grub2: tools(kickstart_config::image::Loader::Grub2),
            grub_legacy: tools(kickstart_config::image::Loader::GrubLegacy),
            pistachio_smp,
        }
    }

    /// What a scenario with `needs` gets, or the first missing fixture.
    pub fn for_needs(&self, needs: Needs) -> Result<Found<'_>, String> {
        let pistachio = self.pistachio.as_ref().map_err(Clone::clone)?;
        let wedge = match (&self.wedge, needs.wedge) {
            (Ok(w), true) => Some(w),
            (Err(e), true) => return Err(e.clone()),
            (_, false) => None,
        };
        let original = match (&self.original, needs.original) {
            (Ok(o), true) => Some(o),
            (Err(e), true) => return Err(e.clone()),
            (_, false) => None,
        };
        for (needed, tools) in [
            (needs.grub2, &self.grub2),
            (needs.grub_legacy, &self.grub_legacy),
        ] {
            if let (true, Err(e)) = (needed, tools) {
                return Err(e.clone());
            }
        }
        let pistachio_smp = match (&self.pistachio_smp, needs.smp) {
            (Ok(p), true) => Some(p),
            (Err(e), true) => return Err(e.clone()),
            (_, false) => None,
        };
        Ok(Found {
            pistachio,
            wedge,
            original,
            pistachio_smp,
        })
    }

    /// One line per fixture: where it is, or what is missing.
    pub fn describe(&self) -> Vec<String> {
        let show = |what: &str, r: Result<String, &String>| match r {
            Ok(p) => format!("fixture {what}: {p}"),
            Err(e) => format!("fixture {what}: {e}"),
        };
        vec![
            show(
                "pistachio",
                self.pistachio
                    .as_ref()
                    .map(|p| p.kernel.display().to_string()),
            ),
            show(
                "wedge",
                self.wedge
                    .as_ref()
                    .map(|w| w.variant_b.display().to_string()),
            ),
            show(
                "original",
                self.original
                    .as_ref()
                    .map(|o| o.debug.display().to_string()),
            ),
            show("grub2", self.grub2.as_ref().map(|()| "tools found".into())),
            show(
                "grub-legacy",
                self.grub_legacy.as_ref().map(|()| "tools found".into()),
            ),
            show(
                "pistachio-smp",
                self.pistachio_smp
                    .as_ref()
                    .map(|p| p.kernel.display().to_string()),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_missing_file_and_its_variable() {
        let root = std::env::temp_dir().join(format!("fixtures-{}", std::process::id()));
        let w = root.join("wedge");
        std::fs::create_dir_all(&w).unwrap();
        for f in [
            "afterburn-wedge",
            "afterburn-wedge-varA",
            "afterburn-wedge-pt",
        ] {
            std::fs::write(w.join(f), b"x").unwrap();
        }
        let no_env = |_: &str| None;
        let f = Fixtures::locate_in(&root, &no_env);
        let e = f.wedge.clone().unwrap_err();
        assert!(e.contains("tinyguest.elf") && e.contains(WEDGE_ENV), "{e}");
        let e = f.original.clone().unwrap_err();
        assert!(
            e.contains("resourcemon-debug") && e.contains(ORIGINAL_ENV),
            "{e}"
        );
        // A variable overrides the default folder.
        std::fs::write(w.join("tinyguest.elf"), b"x").unwrap();
        let elsewhere = root.join("elsewhere");
        let env = |v: &str| (v == WEDGE_ENV).then(|| elsewhere.clone().into_os_string());
        assert!(Fixtures::locate_in(&root, &env).wedge.is_err());
        let f = Fixtures::locate_in(&root, &no_env);
        assert_eq!(f.wedge.unwrap().tinyguest, w.join("tinyguest.elf"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_scenario_gets_only_what_it_declared() {
        let p = Pistachio {
            kickstart: "/k".into(),
            kernel: "/p".into(),
            sigma0: "/s".into(),
        };
        let f = Fixtures {
            pistachio: Ok(p),
            wedge: Err("missing fixture /w/afterburn-wedge".into()),
            original: Ok(Original {
                debug: "/o/d".into(),
                perf: "/o/p".into(),
            }),
            grub2: Ok(()),
            grub_legacy: Err(
                "GRUB legacy image: mke2fs not found (Debian package e2fsprogs)".into(),
            ),
            pistachio_smp: Err("missing fixture: /s/ia32-kernel".into()),
        };
        let found = f
            .for_needs(Needs {
                original: true,
                grub2: true,
                ..Needs::NONE
            })
            .unwrap();
        assert!(found.wedge().is_err());
        assert_eq!(found.original().unwrap().debug, PathBuf::from("/o/d"));
        let e = f
            .for_needs(Needs {
                wedge: true,
                ..Needs::NONE
            })
            .unwrap_err();
        assert!(e.contains("/w/afterburn-wedge"), "{e}");
        // A missing image tool is named like a missing file.
        let e = f
            .for_needs(Needs {
                grub_legacy: true,
                ..Needs::NONE
            })
            .unwrap_err();
        assert!(e.contains("mke2fs") && e.contains("e2fsprogs"), "{e}");
        let e = f
            .for_needs(Needs {
                smp: true,
                ..Needs::NONE
            })
            .unwrap_err();
        assert!(e.contains("/s/ia32-kernel"), "{e}");
    }
}
