//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` for freestanding
//! images (feature `freestanding`).
//!
//! The built-in Linux targets expect libc to provide these; our images have
//! no libc. They are written with string instructions so the compiler cannot
//! turn them back into calls to themselves.

use core::arch::asm;

/// Copy `n` bytes; the regions must not overlap.
///
/// # Safety
/// As C's `memcpy`.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: rep movsb copies ECX bytes from ESI to EDI with DF clear (the
    // ABI guarantees DF = 0 at calls); ESI is reserved, so it is swapped in.
    unsafe {
        asm!(
            "xchg esi, {src}",
            "rep movsb",
            "mov esi, {src}",
            src = inout(reg) src => _,
            inout("edi") dest => _,
            inout("ecx") n => _,
            options(nostack, preserves_flags)
        );
    }
    dest
}

/// Copy `n` bytes; the regions may overlap.
///
/// # Safety
/// As C's `memmove`.
#[no_mangle]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize).wrapping_sub(src as usize) >= n {
        // Forward copy is safe: dest is below src or beyond its end.
        return unsafe { memcpy(dest, src, n) };
    }
    // SAFETY: backwards copy with DF set, restored before returning.
    unsafe {
        asm!(
            "std",
            "xchg esi, {src}",
            "rep movsb",
            "mov esi, {src}",
            "cld",
            src = inout(reg) src.wrapping_add(n).wrapping_sub(1) => _,
            inout("edi") dest.wrapping_add(n).wrapping_sub(1) => _,
            inout("ecx") n => _,
            options(nostack)
        );
    }
    dest
}

/// Fill `n` bytes with `c`.
///
/// # Safety
/// As C's `memset`.
#[no_mangle]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: rep stosb stores AL into ECX bytes from EDI.
    unsafe {
        asm!(
            "rep stosb",
            inout("edi") dest => _,
            inout("ecx") n => _,
            in("eax") c,
            options(nostack, preserves_flags)
        );
    }
    dest
}

/// Compare `n` bytes.
///
/// # Safety
/// As C's `memcmp`.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: the caller guarantees both ranges are readable.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return x as i32 - y as i32;
        }
        i += 1;
    }
    0
}

/// Compare `n` bytes for equality only.
///
/// # Safety
/// As C's `bcmp`.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    unsafe { memcmp(a, b, n) }
}
