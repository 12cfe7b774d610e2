//! `memcpy` and friends, which the compiler may call: nothing else provides
//! them in this freestanding image.

use core::arch::asm;

/// Copies `n` bytes forward.
///
/// # Safety
/// As for C `memcpy`: both ranges valid, not overlapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: rep movsb copies ECX bytes from ESI to EDI, DF is clear at
    // calls; ESI is reserved by the compiler, so it is swapped in and out.
    unsafe {
        asm!("xchg esi, {s}", "rep movsb", "mov esi, {s}",
             s = inout(reg) src => _, inout("edi") dest => _, inout("ecx") n => _,
             options(nostack, preserves_flags));
    }
    dest
}

/// Copies `n` bytes, ranges may overlap.
///
/// # Safety
/// As for C `memmove`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dest as usize) <= (src as usize) || (dest as usize) >= (src as usize) + n {
        // SAFETY: a forward copy is correct when dest is below src or the
        // ranges do not overlap; the caller guarantees validity.
        return unsafe { memcpy(dest, src, n) };
    }
    let mut i = n;
    while i > 0 {
        i -= 1;
        // SAFETY: i < n, both ranges are valid for n bytes (caller).
        unsafe { dest.add(i).write_volatile(src.add(i).read_volatile()) };
    }
    dest
}

/// Fills `n` bytes with `c`.
///
/// # Safety
/// As for C `memset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: rep stosb stores AL to ECX bytes at EDI; the caller guarantees
    // the range is valid.
    unsafe {
        asm!("rep stosb", inout("edi") dest => _, inout("ecx") n => _, in("al") c as u8,
             options(nostack, preserves_flags));
    }
    dest
}

/// Compares `n` bytes.
///
/// # Safety
/// As for C `memcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n; both ranges are valid for n bytes (caller).
        // Volatile reads keep the compiler from turning this into a call
        // to memcmp itself.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// Compares `n` bytes for equality only.
///
/// # Safety
/// As for C `bcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}
