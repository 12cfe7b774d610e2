//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` for freestanding
//! images (feature `freestanding`).
//!
//! The built-in Linux targets expect libc to provide these; our images have
//! no libc. They are written with string instructions so the compiler cannot
//! turn them back into calls to themselves.

use core::arch::asm;

/// Copy `n` bytes; the regions must not overlap.
///
/// Four bytes per iteration (`rep movsd`), then the rest byte by byte:
/// loading a VM copies megabytes, and under `-icount` every iteration of a
/// string instruction counts.
///
/// # Safety
/// As C's `memcpy`.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: rep movsd copies ECX dwords and rep movsb then ECX bytes from
    // ESI to EDI with DF clear (the ABI guarantees DF = 0 at calls); x86
    // allows unaligned dwords. ESI is reserved, so it is swapped in.
    unsafe {
        asm!(
            "xchg esi, {src}",
            "rep movsd",
            "mov ecx, edx",
            "rep movsb",
            "mov esi, {src}",
            src = inout(reg) src => _,
            // An explicit register: a `reg` operand may be given ESI, which
            // the swap above overwrites.
            in("edx") n % 4,
            inout("edi") dest => _,
            inout("ecx") n / 4 => _,
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
/// Four bytes per iteration (`rep stosd`), then the rest: a new VM's block
/// is zeroed whole, and under `-icount` every iteration counts.
///
/// # Safety
/// As C's `memset`.
#[no_mangle]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    let pattern = u32::from(c as u8) * 0x0101_0101;
    // SAFETY: rep stosd stores EAX into ECX dwords from EDI, then rep stosb
    // stores AL (the same byte) into the remaining ECX bytes; DF is clear.
    unsafe {
        asm!(
            "rep stosd",
            "mov ecx, {rest}",
            "rep stosb",
            rest = in(reg) n % 4,
            inout("edi") dest => _,
            inout("ecx") n / 4 => _,
            in("eax") pattern,
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
