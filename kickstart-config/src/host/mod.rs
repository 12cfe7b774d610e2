//! Host-only parts (feature `host`): the TOML boot description, the GRUB and
//! QEMU writers, and the menu checker used by the `kickstart-config` CLI.

pub mod check;
pub mod desc;
pub mod gen;

pub use check::{
    check_entry, parse_menu, render, Diagnostic, Entry, Format, Machine, Report, Severity,
};
pub use desc::{BootDesc, BootLine, DescError, Role};
pub use gen::{grub_cfg, menu_lst, QemuBoot, QemuModule};
