//! Where the ia32 images of this workspace are.
//!
//! The workspace's `build.rs` cross-builds them; host tools (the `qemu`
//! runner, the boot scenarios in `tests/`) take the paths from here so they
//! always boot what is in the tree.

/// The root task (resource monitor) ELF for ia32.
pub const ROOTTASK_ELF: &str = env!("RESOURCEMON_ROOTTASK_ELF");

/// The test guest ELF for ia32 (`tests/guest`): a VM module linked like an
/// afterburn wedge at 0xBC000000 that checks the shared page, page faults
/// and request_pages, and reports through IConsole.
pub const TEST_GUEST_ELF: &str = env!("RESOURCEMON_TEST_GUEST_ELF");
