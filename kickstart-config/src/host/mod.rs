//! Host-only parts (feature `host`): the TOML boot description, the GRUB and
//! QEMU writers, the menu checker, located diagnostics, and the one rule
//! ([`CheckedBoot`]) that every writer of the `kickstart-config` CLI obeys.

pub mod check;
pub mod checked;
pub mod desc;
pub mod diag;
pub mod gen;

pub use check::{check_entry, parse_menu, Entry, Format, Machine, Menu, Report, Seg, SrcLine};
pub use checked::{
    check_source, CheckOptions, CheckedBoot, EntryReport, FileReport, Input, Refusal,
};
pub use desc::{BootDesc, BootLine, DescError, Located, ModuleDesc, Role, SizeValue, VmDesc};
pub use diag::{Diagnostic, Severity, SourceFile, Style};
pub use gen::{grub2_title, grub_cfg, menu_lst, QemuBoot, QemuModule};
