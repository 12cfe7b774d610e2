//! Where the ia32 images of this workspace are.
//!
//! The workspace's `build.rs` cross-builds them; host tools (the `qemu`
//! runner, the boot scenarios in `tests/`) take the paths from here so they
//! always boot what is in the tree.

/// The root task (resource monitor) ELF for ia32.
pub const ROOTTASK_ELF: &str = env!("RESOURCEMON_ROOTTASK_ELF");
