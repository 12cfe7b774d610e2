//! The monitor's heap: a linked-list allocator fed with memory from sigma0.

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
