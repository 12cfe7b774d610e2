//! The monitor's heap: a linked-list allocator fed with memory from sigma0.

extern crate alloc;

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hand `[base, base + size)` to the allocator.
///
/// # Safety
/// The range must be mapped read-write, unused, and never touched otherwise.
pub unsafe fn init(base: usize, size: usize) {
    unsafe { HEAP.lock().init(base as *mut u8, size) }
}

/// Bytes in use and total, for the boot report.
pub fn usage() -> (usize, usize) {
    let h = HEAP.lock();
    (h.used(), h.size())
}

/// A zeroed, 4 KB-aligned page from the heap that is never freed (a VM's
/// stand-in device page). The heap is mapped 1:1, so its address is also
/// its host-physical address. None when the heap is exhausted.
pub fn zeroed_page() -> Option<usize> {
    let layout = core::alloc::Layout::from_size_align(4096, 4096).ok()?;
    // SAFETY: the layout has a non-zero size; the page is never freed, so
    // handing it to a guest cannot alias a later allocation.
    let p = unsafe { alloc::alloc::alloc_zeroed(layout) };
    (!p.is_null()).then_some(p as usize)
}
