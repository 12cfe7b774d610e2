//! The image's special sections, the entry point and the guest stack.
//!
//! The monitor finds the sections by name (resourcemon.md §4) and starts the
//! first thread with IP/SP from `.resourcemon.startup` (§6.2 step 7), so
//! `_start` already has a stack and only calls Rust.

use crate::rt::guest::guest_main;
use core::arch::global_asm;
use test_guest::ipc::iresourcemon::{Shared, StartupConfig};

/// Size of the guest stack (in .bss, faulted in through the monitor).
pub const STACK_BYTES: usize = 32 * 1024;

/// The guest stack; `.resourcemon.startup` points start_sp at its top.
#[repr(C, align(16))]
pub struct Stack([u8; STACK_BYTES]);

#[no_mangle]
static mut GUEST_STACK: Stack = Stack([0; STACK_BYTES]);

/// One 4 KB page, aligned to its size (an fpage of 2^12).
#[repr(C, align(4096))]
pub struct Page([u8; 4096]);

/// The VM's KIP area: the kernel maps the KIP here (contents irrelevant).
#[used]
#[link_section = ".l4kip"]
static L4KIP_AREA: Page = Page([0; 4096]);

/// The VM's UTCB area: the first thread's UTCB is at its start.
#[used]
#[link_section = ".l4utcb"]
static L4UTCB_AREA: Page = Page([0; 4096]);

/// The shared configuration page. The image holds version = 1 and
/// cpu_cnt = 1 (the monitor checks both) and zeros elsewhere; the monitor
/// fills in the rest before it starts us. Read it only with [`shared_word`]
/// and [`shared_byte`]; the one field the guest writes (`console_rx.len`,
/// as the consumer of console input) only with [`set_shared_word`].
#[used]
#[no_mangle]
#[link_section = ".resourcemon"]
static mut RESOURCEMON_SHARED: Shared = Shared {
    version: 1,
    cpu_cnt: 1,
    ..Shared::zeroed()
};

// `.resourcemon.startup` is {version, start_ip, start_sp}; written in
// assembly because the addresses are link-time values.
const _: () = assert!(StartupConfig::SIZE == 12);

global_asm!(
    ".pushsection .text._start, \"ax\", @progbits",
    ".global _start",
    "_start:",
    "    cld",
    "    xor ebp, ebp",
    "    call {main}",
    "2:  jmp 2b",
    ".popsection",
    ".pushsection .resourcemon.startup, \"aw\", @progbits",
    ".balign 4",
    "    .long 1",
    "    .long _start",
    "    .long {stack} + {size}",
    ".popsection",
    main = sym guest_main,
    stack = sym GUEST_STACK,
    size = const STACK_BYTES,
);

extern "C" {
    fn _start();
    static __l4kip: u8;
    static __l4utcb: u8;
    static __image_end: u8;
}

/// Addresses from the image: `_start`, `.l4kip`, `.l4utcb`, end of image.
pub struct Symbols {
    /// The entry point.
    pub start: u32,
    /// The KIP area section.
    pub l4kip: u32,
    /// The UTCB area section.
    pub l4utcb: u32,
    /// First byte after the image (page-aligned).
    pub image_end: u32,
}

/// The image's addresses (only addresses are taken, never contents).
pub fn symbols() -> Symbols {
    Symbols {
        start: _start as *const () as u32,
        l4kip: core::ptr::addr_of!(__l4kip) as u32,
        l4utcb: core::ptr::addr_of!(__l4utcb) as u32,
        image_end: core::ptr::addr_of!(__image_end) as u32,
    }
}

/// Address of the shared page.
pub fn shared_address() -> u32 {
    core::ptr::addr_of!(RESOURCEMON_SHARED) as u32
}

/// The word at byte `offset` of the shared page.
pub fn shared_word(offset: usize) -> u32 {
    assert!(offset.is_multiple_of(4) && offset + 4 <= Shared::SIZE);
    let words = core::ptr::addr_of!(RESOURCEMON_SHARED).cast::<u32>();
    // SAFETY: the word lies inside the static (asserted) and is aligned (the
    // static is 4-aligned, the offset a multiple of 4). The read is volatile
    // because the monitor wrote the page before starting us, which the
    // compiler cannot know: it would otherwise fold the loads to the image's
    // initial values. No reference to the `static mut` is formed, and this
    // program never writes it.
    unsafe { words.add(offset / 4).read_volatile() }
}

/// The byte at `offset` of the shared page.
pub fn shared_byte(offset: usize) -> u8 {
    assert!(offset < Shared::SIZE);
    let bytes = core::ptr::addr_of!(RESOURCEMON_SHARED).cast::<u8>();
    // SAFETY: inside the static (asserted); volatile because the monitor
    // writes console input there while we run. No reference is formed.
    unsafe { bytes.add(offset).read_volatile() }
}

/// Store `value` at byte `offset` of the shared page (`console_rx.len`).
pub fn set_shared_word(offset: usize, value: u32) {
    assert!(offset.is_multiple_of(4) && offset + 4 <= Shared::SIZE);
    let words = core::ptr::addr_of_mut!(RESOURCEMON_SHARED).cast::<u32>();
    // SAFETY: inside the static and aligned (asserted, as in
    // `shared_word`); a volatile store through a raw pointer, no reference
    // to the `static mut`. The monitor reads the word (the consumer's side
    // of console_rx) and writes it only while it is 0, a single aligned
    // word store on one CPU, so no torn value is seen.
    unsafe { words.add(offset / 4).write_volatile(value) }
}
