//! ia32 start-up and the few raw-memory views the monitor needs.
//!
//! kickstart loads the image at its physical addresses and the kernel starts
//! the root task at the ELF entry with no stack (KIP root-server sp = 0,
//! x2-abi §2.1), so `_start` clears .bss, sets up the stack and calls Rust.

use core::arch::global_asm;

/// Size of the boot stack.
pub const STACK_BYTES: usize = 256 * 1024;

#[repr(C, align(16))]
pub struct Stack([u8; STACK_BYTES]);

#[no_mangle]
static mut BOOT_STACK: Stack = Stack([0; STACK_BYTES]);

global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    "_start:",
    "    cld",
    "    mov edi, offset __bss_start",
    "    mov ecx, offset __bss_end",
    "    sub ecx, edi",
    "    xor eax, eax",
    "    rep stosb",
    "    mov esp, offset {stack} + {size}",
    "    xor ebp, ebp",
    "    call {main}",
    "2:  jmp 2b",
    stack = sym BOOT_STACK,
    size = const STACK_BYTES,
    main = sym super::boot::rust_start,
);

/// A view of `len` bytes of physical memory that sigma0 has mapped 1:1.
///
/// # Safety
/// `[addr, addr + len)` must be mapped readable in this space for `'static`
/// (sigma0 mappings are never revoked) and nothing may write to it while
/// the view is used.
pub unsafe fn phys_bytes(addr: usize, len: usize) -> &'static [u8] {
    unsafe { core::slice::from_raw_parts(addr as *const u8, len) }
}

/// A writable view of `len` bytes of physical memory mapped 1:1.
///
/// # Safety
/// `[addr, addr + len)` must be mapped read-write in this space, and the
/// caller must have exclusive use of it while the view lives (no other
/// view, not part of the heap or the image).
#[allow(clippy::mut_from_ref)]
pub unsafe fn phys_bytes_mut(addr: usize, len: usize) -> &'static mut [u8] {
    unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len) }
}

/// Pages of the image, for the summary line.
pub fn image_range() -> (usize, usize) {
    extern "C" {
        static __image_start: u8;
        static __image_end: u8;
    }
    // Only the addresses of the linker symbols are taken, never their contents.
    (
        core::ptr::addr_of!(__image_start) as usize,
        core::ptr::addr_of!(__image_end) as usize,
    )
}
