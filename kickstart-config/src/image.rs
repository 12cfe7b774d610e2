//! Bootable images from a boot description: a GRUB 2 ISO (`grub-mkrescue`)
//! and a GRUB legacy (0.97) disk image, each holding kickstart, the kernel,
//! sigma0, the root task, the VM modules and the menu the renderers of
//! [`crate::host`] write. Booting these in a real boot loader is what proves
//! the renderers; `kickstart-config image` and the `grub2-iso` /
//! `grub-legacy-disk` boot scenarios use this module.
//!
//! Two halves:
//!
//! * [`layout`]: the pure decisions, host-tested without any tool: where
//!   each file goes inside the image (the description's `grub-prefix`, else
//!   [`DEFAULT_PREFIX`], in front of its relative path), and the menu file
//!   (the rendered entry after a header that boots it at once: `timeout 0`).
//! * [`build`]: runs the tools ([`Tools::find`] names the one that is
//!   missing and its Debian package).
//!
//! # Image decisions
//!
//! * GRUB 2 places multiboot modules in the lowest free memory, above 1 MB,
//!   where kickstart must copy the kernel (link base 0x00100000): kickstart
//!   then stops with "Conflict with multiboot module 0". The grub.cfg
//!   renderer therefore writes `multiboot --quirk-modules-after-kernel`,
//!   which makes GRUB 2 put the modules after kickstart (0x00800000 and up).
//! * GRUB legacy: an MBR disk with one ext2 partition (type 0x83, from
//!   sector 2048) made by `mke2fs -d` with 128-byte inodes (GRUB 0.97 reads
//!   those); the `grub` shell in batch mode installs stage1 in the MBR and
//!   embeds `e2fs_stage1_5` after it, on the image file through a device map
//!   (no root, no loop device). The partition table's CHS fields hold the
//!   "use LBA" marker (0xfe 0xff 0xff).
//! * No serial console for the boot loaders themselves: COM1 carries only
//!   kickstart's, the kernel's and the monitor's output, as with `-kernel`.

use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::host::{grub_cfg, menu_lst, BootDesc, DescError};

/// Where the boot files go inside an image when the description gives no
/// `grub-prefix`.
pub const DEFAULT_PREFIX: &str = "/boot/l4ka";

/// The boot loader an image is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// GRUB 2, an El Torito ISO (QEMU `-cdrom`).
    Grub2,
    /// GRUB legacy 0.97, a hard-disk image (QEMU `-hda`).
    GrubLegacy,
}

impl Loader {
    /// The menu file's path inside the image.
    pub fn config_path(self) -> &'static str {
        match self {
            Loader::Grub2 => "/boot/grub/grub.cfg",
            Loader::GrubLegacy => "/boot/grub/menu.lst",
        }
    }

    /// The menu's lines before the rendered entry: boot entry 0 at once.
    pub fn config_header(self) -> &'static str {
        match self {
            Loader::Grub2 => "set default=0\nset timeout=0\n\n",
            Loader::GrubLegacy => "default 0\ntimeout 0\n\n",
        }
    }
}

impl std::fmt::Display for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Loader::Grub2 => "GRUB 2",
            Loader::GrubLegacy => "GRUB legacy",
        })
    }
}

/// One file in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// The file on the host (the description's path joined to its folder).
    pub source: PathBuf,
    /// Its absolute path inside the image, as the menu names it.
    pub dest: String,
}

/// Everything an image holds, decided before any tool runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The boot loader.
    pub loader: Loader,
    /// The boot files, each once, in boot order.
    pub files: Vec<ImageFile>,
    /// The menu file's text (header and the rendered entry).
    pub config: String,
}

/// Why an image could not be laid out or built.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The description itself is bad.
    #[error(transparent)]
    Desc(#[from] DescError),
    /// A path the image cannot hold.
    #[error("{path:?}: {reason}")]
    BadPath {
        /// The path as written in the description.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// Two different files would land on one path in the image.
    #[error("{dest}: both {first} and {second} would be written there; give them different paths")]
    Clash {
        /// The path inside the image.
        dest: String,
        /// One source.
        first: PathBuf,
        /// The other source.
        second: PathBuf,
    },
    /// A boot file does not exist.
    #[error("{dest}: source file {source_path} does not exist")]
    MissingFile {
        /// The path inside the image.
        dest: String,
        /// The missing file.
        source_path: PathBuf,
    },
    /// A tool the image needs is not installed.
    #[error(
        "{loader} image: {tool} not found (Debian package {package}; scripts/setup.sh installs it)"
    )]
    MissingTool {
        /// For which image.
        loader: Loader,
        /// The program or file.
        tool: String,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// [`build`] was given the tools of the other boot loader.
    #[error("{0} image: the tools given are those of the other boot loader")]
    WrongTools(Loader),
    /// A tool ran and failed.
    #[error("{tool} failed ({status}): {output}")]
    ToolFailed {
        /// The program.
        tool: String,
        /// Its exit status.
        status: String,
        /// The end of what it printed.
        output: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The image path of a description path under `prefix`: relative paths go
/// under the prefix, absolute ones stay; GRUB device names (`(hd0,0)/…`)
/// and `..` cannot be laid out.
pub fn image_path(prefix: &str, path: &str) -> Result<String, ImageError> {
    let bad = |reason| ImageError::BadPath {
        path: path.to_string(),
        reason,
    };
    if path.starts_with('(') {
        return Err(bad(
            "a GRUB device name; an image holds its files on its own device, give a plain path",
        ));
    }
    if Path::new(path)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(bad(
            "contains `..`; an image path must stay inside the image",
        ));
    }
    if path.starts_with('/') {
        Ok(path.to_string())
    } else {
        Ok(std::format!("{}/{}", prefix.trim_end_matches('/'), path))
    }
}

/// Lays out the image for `desc` (relative source paths are joined to
/// `base`, the description's folder). Checks only what needs no file: paths
/// and clashes; [`build`] checks that the files exist.
pub fn layout(desc: &BootDesc, base: &Path, loader: Loader) -> Result<Layout, ImageError> {
    let mut desc = desc.clone();
    if desc.grub_prefix.is_empty() {
        desc.grub_prefix = DEFAULT_PREFIX.to_string();
    }
    let mut files: Vec<ImageFile> = Vec::new();
    for line in desc.lines()? {
        let dest = image_path(&desc.grub_prefix, &line.path)?;
        let source = base.join(&line.path);
        match files.iter().find(|f| f.dest == dest) {
            Some(f) if f.source != source => {
                return Err(ImageError::Clash {
                    dest,
                    first: f.source.clone(),
                    second: source,
                })
            }
            Some(_) => {}
            None => files.push(ImageFile { source, dest }),
        }
    }
    if let Some(f) = files.iter().find(|f| f.dest == loader.config_path()) {
        return Err(ImageError::BadPath {
            path: f.dest.clone(),
            reason: "is where the image's own menu goes",
        });
    }
    let entry = match loader {
        Loader::Grub2 => grub_cfg(&desc)?,
        Loader::GrubLegacy => menu_lst(&desc)?,
    };
    Ok(Layout {
        loader,
        files,
        config: std::format!("{}{entry}", loader.config_header()),
    })
}

/// The programs and files an image needs, found on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tools {
    /// GRUB 2: `grub-mkrescue` (which runs `xorriso`).
    Grub2 {
        /// `grub-mkrescue`.
        mkrescue: PathBuf,
    },
    /// GRUB legacy: the `grub` shell, its stage files and `mke2fs`.
    GrubLegacy {
        /// The GRUB 0.97 shell.
        grub: PathBuf,
        /// The folder with `stage1`, `stage2` and `e2fs_stage1_5`.
        stages: PathBuf,
        /// `mke2fs` (e2fsprogs, 1.43 or later for `-d`).
        mke2fs: PathBuf,
    },
}

/// Overrides where GRUB legacy is installed: a root folder with
/// `usr/sbin/grub` and `usr/lib/grub/<arch>-pc/` (`/`, or a folder made by
/// `dpkg -x grub-legacy_*.deb DIR` where grub-legacy cannot be installed).
pub const GRUB_LEGACY_ROOT_ENV: &str = "GRUB_LEGACY_ROOT";

/// A program in `PATH` or in one of the system folders (`mke2fs` and
/// `grub` live in `/usr/sbin`, often not in a user's `PATH`).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Tools {
    /// Finds the tools for `loader`, or names the first one missing.
    pub fn find(loader: Loader) -> Result<Tools, ImageError> {
        let missing = |tool: &str, package| ImageError::MissingTool {
            loader,
            tool: tool.to_string(),
            package,
        };
        match loader {
            Loader::Grub2 => {
                let mkrescue = find_program("grub-mkrescue")
                    .ok_or_else(|| missing("grub-mkrescue", "grub-common"))?;
                find_program("xorriso").ok_or_else(|| missing("xorriso", "xorriso"))?;
                find_program("mformat").ok_or_else(|| missing("mformat", "mtools"))?;
                let pc = Path::new("/usr/lib/grub/i386-pc");
                if !pc.join("multiboot.mod").is_file() {
                    return Err(missing(
                        "/usr/lib/grub/i386-pc/multiboot.mod",
                        "grub-pc-bin",
                    ));
                }
                Ok(Tools::Grub2 { mkrescue })
            }
            Loader::GrubLegacy => {
                let root = std::env::var_os(GRUB_LEGACY_ROOT_ENV)
                    .filter(|r| !r.is_empty())
                    .map(PathBuf::from);
                let grub = match &root {
                    Some(r) => Some(r.join("usr/sbin/grub")).filter(|p| p.is_file()),
                    None => find_program("grub"),
                }
                .ok_or_else(|| missing("grub (the GRUB 0.97 shell)", "grub-legacy"))?;
                let lib = root
                    .unwrap_or_else(|| PathBuf::from("/"))
                    .join("usr/lib/grub");
                let stages = ["i386-pc", "x86_64-pc"]
                    .iter()
                    .map(|a| lib.join(a))
                    .find(|d| {
                        ["stage1", "stage2", "e2fs_stage1_5"]
                            .iter()
                            .all(|f| d.join(f).is_file())
                    })
                    .ok_or_else(|| {
                        missing(
                            &std::format!(
                                "{}/<arch>-pc/stage1, stage2, e2fs_stage1_5",
                                lib.display()
                            ),
                            "grub-legacy",
                        )
                    })?;
                let mke2fs =
                    find_program("mke2fs").ok_or_else(|| missing("mke2fs", "e2fsprogs"))?;
                Ok(Tools::GrubLegacy {
                    grub,
                    stages,
                    mke2fs,
                })
            }
        }
    }
}

/// Runs `cmd` with `input` on its stdin (if any). It fails with
/// [`ImageError::ToolFailed`] and the end of its output on a non-zero exit
/// and, for the GRUB legacy shell (`grub_shell`), which exits 0 whatever
/// happened, on an `Error` line or a missing `Done.`.
fn run(cmd: &mut Command, input: Option<&str>, grub_shell: bool) -> Result<String, ImageError> {
    use std::io::Write as _;
    use std::process::Stdio;
    let tool = cmd.get_program().to_string_lossy().into_owned();
    let io_err = |source| ImageError::Io {
        path: tool.clone().into(),
        source,
    };
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_err)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(io_err)?;
    }
    let out = child.wait_with_output().map_err(io_err)?;
    let text = std::format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let shell_failed = grub_shell
        && (text.lines().any(|l| l.trim_start().starts_with("Error")) || !text.contains("Done."));
    if !out.status.success() || shell_failed {
        let tail: Vec<&str> = text.lines().rev().take(12).collect();
        return Err(ImageError::ToolFailed {
            tool,
            status: out.status.to_string(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(text)
}

/// Copies the boot files and the menu into `root` (following symbolic
/// links: the image holds the files themselves).
fn populate(layout: &Layout, root: &Path) -> Result<u64, ImageError> {
    let mut total = 0;
    let put = |dest: &str| root.join(dest.trim_start_matches('/'));
    for f in &layout.files {
        if !f.source.is_file() {
            return Err(ImageError::MissingFile {
                dest: f.dest.clone(),
                source_path: f.source.clone(),
            });
        }
        let to = put(&f.dest);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        total += std::fs::copy(&f.source, &to).map_err(io(&f.source))?;
    }
    let cfg = put(layout.loader.config_path());
    if let Some(dir) = cfg.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::write(&cfg, &layout.config).map_err(io(&cfg))?;
    Ok(total + layout.config.len() as u64)
}

/// First sector of the GRUB legacy image's partition (1 MiB in; the gap
/// after the MBR holds the embedded stage 1.5).
pub const PARTITION_START: u32 = 2048;

/// The MBR partition table of a disk whose only partition (bootable, type
/// 0x83) starts at [`PARTITION_START`] and has `sectors` sectors: the 512
/// bytes of sector 0 before GRUB writes its stage1 code into the first 446.
pub fn mbr(sectors: u32) -> [u8; 512] {
    let mut s = [0u8; 512];
    let e = &mut s[446..462];
    e[0] = 0x80; // bootable
    e[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]); // CHS: use LBA
    e[4] = 0x83; // Linux (ext2)
    e[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    e[8..12].copy_from_slice(&PARTITION_START.to_le_bytes());
    e[12..16].copy_from_slice(&sectors.to_le_bytes());
    s[510] = 0x55;
    s[511] = 0xaa;
    s
}

/// The ext2 partition's size in KiB for `content` bytes of files: room for
/// the metadata and a margin, in whole MiB, at least 4 MiB.
pub fn partition_kib(content: u64) -> u64 {
    let kib = content.div_ceil(1024) * 5 / 4 + 2048;
    kib.div_ceil(1024).max(4) * 1024
}

/// Builds the image `out` from `layout` with `tools`. A work folder
/// `out.staging` beside it is removed afterwards (kept if a tool failed,
/// so the failure can be repeated by hand).
pub fn build(layout: &Layout, tools: &Tools, out: &Path) -> Result<(), ImageError> {
    let mut staging = std::ffi::OsString::from(out.as_os_str());
    staging.push(".staging");
    let staging = PathBuf::from(staging);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    let root = staging.join("root");
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let _ = std::fs::remove_file(out);
    match tools {
        Tools::Grub2 { mkrescue } => {
            if layout.loader != Loader::Grub2 {
                return Err(ImageError::WrongTools(layout.loader));
            }
            populate(layout, &root)?;
            run(
                Command::new(mkrescue).arg("-o").arg(out).arg(&root),
                None,
                false,
            )?;
        }
        Tools::GrubLegacy {
            grub,
            stages,
            mke2fs,
        } => {
            if layout.loader != Loader::GrubLegacy {
                return Err(ImageError::WrongTools(layout.loader));
            }
            let mut size = populate(layout, &root)?;
            let grub_dir = root.join("boot/grub");
            for f in ["stage1", "stage2", "e2fs_stage1_5"] {
                size +=
                    std::fs::copy(stages.join(f), grub_dir.join(f)).map_err(io(&stages.join(f)))?;
            }
            let part = staging.join("partition.img");
            let kib = partition_kib(size);
            run(
                Command::new(mke2fs)
                    .args([
                        "-q", "-F", "-t", "ext2", "-I", "128", "-b", "1024", "-L", "l4ka", "-d",
                    ])
                    .arg(&root)
                    .arg(&part)
                    .arg(std::format!("{kib}k")),
                None,
                false,
            )?;
            let part_bytes = std::fs::read(&part).map_err(io(&part))?;
            let sectors =
                u32::try_from(part_bytes.len() / 512).map_err(|_| ImageError::BadPath {
                    path: part.display().to_string(),
                    reason: "partition larger than an MBR can describe",
                })?;
            let mut disk = Vec::with_capacity(PARTITION_START as usize * 512 + part_bytes.len());
            disk.extend_from_slice(&mbr(sectors));
            disk.resize(PARTITION_START as usize * 512, 0);
            disk.extend_from_slice(&part_bytes);
            std::fs::write(out, &disk).map_err(io(out))?;
            let out_abs = std::fs::canonicalize(out).map_err(io(out))?;
            let map = staging.join("device.map");
            std::fs::write(&map, std::format!("(hd0)\t{}\n", out_abs.display()))
                .map_err(io(&map))?;
            // stage1 into the MBR, e2fs_stage1_5 embedded after it, stage2
            // and menu.lst found on (hd0,0).
            run(
                Command::new(grub)
                    .arg("--batch")
                    .arg("--no-floppy")
                    .arg(std::format!("--device-map={}", map.display())),
                Some("root (hd0,0)\nsetup (hd0)\nquit\n"),
                true,
            )?;
        }
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESC: &str = r#"
title = "images"
[kickstart]
path = "kickstart"
args = "maxmem=256M"
[kernel]
path = "pistachio"
[sigma0]
path = "sigma0"
[roottask]
path = "roottask"
[[vm]]
name = "a"
vmsize = "32M"
kernel = { path = "guests/test-guest", args = "name=a" }
modules = [{ path = "data.bin", args = "first module" }]
[[vm]]
name = "b"
vmsize = "16M"
kernel = { path = "guests/test-guest", args = "name=b" }
"#;

    fn desc() -> BootDesc {
        BootDesc::parse(DESC).unwrap()
    }

    #[test]
    fn files_go_under_the_default_prefix_once_each_in_boot_order() {
        let l = layout(&desc(), Path::new("/d"), Loader::GrubLegacy).unwrap();
        let dests: Vec<&str> = l.files.iter().map(|f| f.dest.as_str()).collect();
        assert_eq!(
            dests,
            [
                "/boot/l4ka/kickstart",
                "/boot/l4ka/pistachio",
                "/boot/l4ka/sigma0",
                "/boot/l4ka/roottask",
                "/boot/l4ka/guests/test-guest",
                "/boot/l4ka/data.bin",
            ]
        );
        assert_eq!(l.files[4].source, PathBuf::from("/d/guests/test-guest"));
    }

    #[test]
    fn the_menu_boots_at_once_and_names_the_image_paths() {
        let l = layout(&desc(), Path::new("/d"), Loader::GrubLegacy).unwrap();
        assert!(
            l.config
                .starts_with("default 0\ntimeout 0\n\ntitle images\n"),
            "{}",
            l.config
        );
        assert!(l
            .config
            .contains("\nkernel /boot/l4ka/kickstart maxmem=256M\n"));
        assert!(l
            .config
            .contains("\nmodule /boot/l4ka/guests/test-guest vmstart vmsize=32M name=a\n"));
        let g = layout(&desc(), Path::new("/d"), Loader::Grub2).unwrap();
        assert!(
            g.config
                .starts_with("set default=0\nset timeout=0\n\nmenuentry "),
            "{}",
            g.config
        );
        assert!(g.config.contains(
            "\tmultiboot --quirk-modules-after-kernel /boot/l4ka/kickstart /boot/l4ka/kickstart maxmem=256M\n"
        ), "{}", g.config);
        assert!(g
            .config
            .contains("\tmodule /boot/l4ka/data.bin /boot/l4ka/data.bin first module\n"));
        assert_eq!(g.loader.config_path(), "/boot/grub/grub.cfg");
        // Every file a menu line names is in the image.
        for l in [&l, &g] {
            for f in &l.files {
                assert!(
                    l.config.contains(&std::format!(" {} ", f.dest))
                        || l.config.contains(&std::format!(" {}\n", f.dest)),
                    "{}",
                    f.dest
                );
            }
        }
    }

    #[test]
    fn a_given_prefix_is_used_and_absolute_paths_stay() {
        let mut d = desc();
        d.grub_prefix = "/l4/".into();
        d.sigma0.path = "/opt/pistachio/bin/sigma0".into();
        let l = layout(&d, Path::new("base"), Loader::Grub2).unwrap();
        assert_eq!(l.files[0].dest, "/l4/kickstart");
        assert_eq!(l.files[2].dest, "/opt/pistachio/bin/sigma0");
        assert_eq!(
            l.files[2].source,
            PathBuf::from("/opt/pistachio/bin/sigma0")
        );
    }

    #[test]
    fn paths_an_image_cannot_hold_are_refused() {
        let mut d = desc();
        d.kernel.path = "(hd0,0)/pistachio".into();
        assert!(matches!(
            layout(&d, Path::new("/d"), Loader::Grub2),
            Err(ImageError::BadPath { path, .. }) if path == "(hd0,0)/pistachio"
        ));
        let mut d = desc();
        d.kernel.path = "../pistachio".into();
        let e = layout(&d, Path::new("/d"), Loader::Grub2).unwrap_err();
        assert!(e.to_string().contains("`..`"), "{e}");
        let mut d = desc();
        d.kernel.path = "/boot/l4ka/sigma0".into();
        let e = layout(&d, Path::new("/d"), Loader::Grub2).unwrap_err();
        assert!(
            matches!(e, ImageError::Clash { ref dest, .. } if dest == "/boot/l4ka/sigma0"),
            "{e}"
        );
        let mut d = desc();
        d.kernel.path = "/boot/grub/menu.lst".into();
        let e = layout(&d, Path::new("/d"), Loader::GrubLegacy).unwrap_err();
        assert!(e.to_string().contains("menu"), "{e}");
    }

    #[test]
    fn mbr_describes_one_bootable_lba_partition() {
        let s = mbr(16384);
        assert_eq!(&s[510..], [0x55, 0xaa]);
        assert_eq!(s[446], 0x80);
        assert_eq!(s[450], 0x83);
        assert_eq!(u32::from_le_bytes(s[454..458].try_into().unwrap()), 2048);
        assert_eq!(u32::from_le_bytes(s[458..462].try_into().unwrap()), 16384);
        assert!(s[..446].iter().all(|b| *b == 0) && s[462..510].iter().all(|b| *b == 0));
    }

    #[test]
    fn partition_has_room_for_files_and_metadata() {
        assert_eq!(partition_kib(0), 4096);
        let p = partition_kib(10 << 20);
        assert!(p >= (10 << 10) * 5 / 4 && p.is_multiple_of(1024), "{p}");
    }

    #[test]
    fn a_missing_source_is_named_before_any_tool_runs() {
        let dir = std::env::temp_dir().join(std::format!("image-missing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let l = layout(&desc(), &dir, Loader::Grub2).unwrap();
        let tools = Tools::Grub2 {
            mkrescue: "/nonexistent/grub-mkrescue".into(),
        };
        let e = build(&l, &tools, &dir.join("out.iso")).unwrap_err();
        assert!(
            matches!(e, ImageError::MissingFile { ref dest, .. } if dest == "/boot/l4ka/kickstart"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
