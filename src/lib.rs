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

/// The wedge guest ELF for ia32 (`tests/wedge-guest`): a guest kernel shaped
/// like an afterburned Linux (linked at 0x80100000, `.afterburn` sections)
/// for the real afterburn wedge; `mode=memory|vga|bios` on its command line
/// picks what it exercises, and it prints `wedgeguest <mode>: PASS` or
/// `wedgeguest <mode>: FAIL <reason>` on the emulated UART.
pub const WEDGE_GUEST_ELF: &str = env!("RESOURCEMON_WEDGE_GUEST_ELF");
