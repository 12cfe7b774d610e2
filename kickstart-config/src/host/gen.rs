//! Writers: GRUB legacy `menu.lst`, GRUB 2 `grub.cfg`, and the QEMU
//! multiboot arguments, all from [`BootDesc::lines`].

use std::path::{Path, PathBuf};
use std::string::String;
use std::vec::Vec;

use super::desc::{BootDesc, BootLine, DescError, Role};

fn grub_path(prefix: &str, path: &str) -> String {
    if prefix.is_empty() || path.starts_with('/') || path.starts_with('(') {
        path.into()
    } else {
        std::format!("{}/{}", prefix.trim_end_matches('/'), path)
    }
}

/// A GRUB legacy `menu.lst` entry. GRUB legacy passes each line from the
/// path on as the command line, so each line is `keyword path args`. The
/// title is the rest of its line, shown as written (tabs as blanks); the
/// description refuses what GRUB legacy would change (a line break, a
/// backslash at the end, a leading blank or `=`).
pub fn menu_lst(desc: &BootDesc) -> Result<String, DescError> {
    let mut out = std::format!("title {}\n", desc.checked_title()?.replace('\t', " "));
    for l in desc.lines()? {
        let kw = match l.role {
            Role::Loader => "kernel",
            Role::Module => "module",
            Role::NoUnzip => "modulenounzip",
        };
        out.push_str(kw);
        out.push(' ');
        out.push_str(&l.cmdline_with(&grub_path(&desc.grub_prefix, &l.path)));
        out.push('\n');
    }
    Ok(out)
}

/// A GRUB 2 `menuentry` with `multiboot`/`module`. GRUB 2 passes only the
/// words after the file name (grub-core/loader/multiboot.c `grub_cmd_module`
/// hands `argv + 1` to `add_module`), so the path is written twice to give
/// every module the same `path args` command line as GRUB legacy and QEMU.
/// `--quirk-modules-after-kernel` makes GRUB 2 load the modules above
/// kickstart (0x00800000) instead of in the lowest free memory above 1 MB,
/// where kickstart must copy the kernel and refuses to ("Conflict with
/// multiboot module 0"; found by booting the image, see [`crate::image`]).
///
/// The title is written in double quotes with `\\`, `"` and `$` escaped by a
/// backslash, which GRUB 2 reads back as the title exactly. Arguments with
/// `\\`, `'` or `"` are refused ([`DescError::NotForGrub2`]): GRUB 2.06
/// adds a backslash before each when it hands the arguments to the module.
pub fn grub_cfg(desc: &BootDesc) -> Result<String, DescError> {
    let mut out = std::format!("menuentry {} {{\n", grub2_title(desc.checked_title()?));
    for m in desc.mapped_lines()? {
        let l = &m.line;
        for t in [&l.path, &l.args] {
            if let Some(ch) = t.chars().find(|c| matches!(c, '\\' | '\'' | '"')) {
                return Err(DescError::NotForGrub2 {
                    what: m.what.clone(),
                    text: t.clone(),
                    ch,
                    span: if t == &l.path {
                        m.path_span.clone()
                    } else {
                        m.args_segs
                            .iter()
                            .map(|s| s.src.clone())
                            .next_back()
                            .unwrap_or(m.whole.clone())
                    },
                });
            }
        }
        let kw = match l.role {
            Role::Loader => "multiboot --quirk-modules-after-kernel",
            Role::Module => "module",
            Role::NoUnzip => "module --nounzip",
        };
        let p = grub_path(&desc.grub_prefix, &l.path);
        out.push_str(&std::format!(
            "\t{kw} {} {}\n",
            grub2_quote(&p),
            grub2_quote(&l.cmdline_with(&p))
        ));
    }
    out.push_str("}\n");
    Ok(out)
}

/// A GRUB 2 double-quoted word: `\\`, `"` and `$` escaped.
pub fn grub2_title(title: &str) -> String {
    let mut s = String::from("\"");
    for c in title.chars() {
        if matches!(c, '\\' | '"' | '$') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// Quotes the GRUB 2 metacharacters word by word (single quotes) so GRUB 2
/// hands the words over unchanged; the caller has refused `\\ ' "`.
fn grub2_quote(cmdline: &str) -> String {
    cmdline
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.chars().any(|c| {
                matches!(
                    c,
                    '$' | ';' | '{' | '}' | '|' | '&' | '<' | '>' | '#' | '\t'
                )
            }) {
                std::format!("'{w}'")
            } else {
                w.into()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One module for QEMU's multiboot loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuModule {
    /// The file, resolved relative to the description's folder.
    pub path: PathBuf,
    /// Arguments without the path (QEMU puts the path in front itself).
    pub cmdline: String,
}

/// A boot for QEMU's built-in multiboot loader (`-kernel`, `-append`, `-initrd`).
///
/// This is what the `qemu` tool uses: build it with [`QemuBoot::from_desc`]
/// or [`QemuBoot::load`], then pass [`QemuBoot::to_qemu_args`] to
/// `qemu-system-i386` together with its own `-m`, `-serial` etc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuBoot {
    /// kickstart.
    pub loader: PathBuf,
    /// kickstart's arguments (without its path).
    pub loader_cmdline: String,
    /// kernel, sigma0, root task, then the VM modules, in boot order.
    pub modules: Vec<QemuModule>,
}

impl QemuBoot {
    /// Reads a description file; relative paths are resolved against its folder.
    pub fn load(path: &Path) -> Result<Self, DescError> {
        let desc = BootDesc::load(path)?;
        Self::from_desc(&desc, path.parent().unwrap_or(Path::new("")))
    }

    /// Builds the boot from a description; relative paths are joined to `base`.
    pub fn from_desc(desc: &BootDesc, base: &Path) -> Result<Self, DescError> {
        let lines = desc.lines()?;
        let resolve = |l: &BootLine| base.join(&l.path);
        let (loader, rest) = lines
            .split_first()
            .expect("lines() always yields the loader first");
        Ok(QemuBoot {
            loader: resolve(loader),
            loader_cmdline: loader.args.clone(),
            modules: rest
                .iter()
                .map(|l| QemuModule {
                    path: resolve(l),
                    cmdline: l.args.clone(),
                })
                .collect(),
        })
    }

    /// The `-initrd` value: `path args,path args,…`, with every `,` inside a
    /// path or argument doubled (QEMU's escape).
    pub fn initrd_arg(&self) -> String {
        self.modules
            .iter()
            .map(|m| {
                let p = m.path.to_string_lossy().replace(',', ",,");
                if m.cmdline.is_empty() {
                    p
                } else {
                    std::format!("{p} {}", m.cmdline.replace(',', ",,"))
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `["-kernel", loader, "-append", loader_cmdline, "-initrd", initrd]`,
    /// without `-append` when kickstart has no arguments.
    pub fn to_qemu_args(&self) -> Vec<String> {
        let mut a = vec!["-kernel".into(), self.loader.to_string_lossy().into_owned()];
        if !self.loader_cmdline.is_empty() {
            a.extend(["-append".into(), self.loader_cmdline.clone()]);
        }
        a.extend(["-initrd".into(), self.initrd_arg()]);
        a
    }
}
