//! Thread-number spaces and priorities (spec §6.1, §6.3).

use core::ops::Range;

use l4_sys::ThreadId;

/// Thread numbers per VM slot (`THREAD_SPACE_SIZE`, vm.h).
pub const THREAD_SPACE_SIZE: u32 = 4096;
/// VM slots: slot 0 is the monitor, slots 1..=15 are guests (`MAX_VM`).
pub const MAX_VM: usize = 16;
/// Version of a VM's first thread and of the monitor's helper threads (§6.1).
pub const FIRST_THREAD_VERSION: u32 = 2;
/// Version of the monitor's main thread (the root task, created by the kernel).
pub const MAIN_THREAD_VERSION: u32 = 1;
/// Offset of the root task's thread number from ThreadIdUserBase
/// (sigma0 = +0, sigma1 = +1, root task = +2).
pub const ROOT_TASK_OFFSET: u32 = 2;
/// Thread-number bits of a global id on ia32 (32 − 14 version bits).
pub const THREAD_NUMBER_BITS: u32 = 32 - ThreadId::VERSION_BITS;

/// Priority of a guest VM (vm.cc `init`, §6.3).
pub const VM_PRIO: u32 = 102;
/// Extra priority of a `ddos` (device-driver) VM (vm.h `enable_device_access`).
pub const DDOS_PRIO_BONUS: u32 = 10;
/// Priority of the IVMControl / working-set helper thread (hthread 1).
pub const WORKING_SET_PRIO: u32 = 253;
/// Priority of the console reader helper thread (hthread 2).
pub const CONSOLE_PRIO: u32 = 252;

/// A VM's maximum priority: 102, or 112 with `ddos` (§6.3, §5.3 `prio`).
pub const fn vm_priority(ddos: bool) -> u32 {
    if ddos {
        VM_PRIO + DDOS_PRIO_BONUS
    } else {
        VM_PRIO
    }
}

/// Who sent a message, by thread number only (§6.1 `tid_to_vm`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Caller {
    /// A local id (only threads of the monitor's own space can appear as
    /// local senders) or a number in slot 0: the monitor itself.
    Monitor,
    /// A thread of the guest VM in this slot (1..=15, allocated).
    Vm(usize),
    /// Any other thread: below `base_tid`, beyond slot 15, or an unallocated slot.
    Unknown,
}

/// The thread-number spaces: slot k owns `[base + 4096k, base + 4096(k+1))`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ThreadSpaces {
    base: u32,
}

impl ThreadSpaces {
    /// Spaces based at the root task's thread number (`tid_space_t::init`).
    pub const fn new(base_tid: u32) -> ThreadSpaces {
        ThreadSpaces { base: base_tid }
    }

    /// Spaces for a KIP's ThreadIdUserBase: base = UserBase + 2.
    pub const fn from_user_base(user_base: u32) -> ThreadSpaces {
        ThreadSpaces::new(user_base + ROOT_TASK_OFFSET)
    }

    /// The base thread number (the monitor's main thread).
    pub const fn base(&self) -> u32 {
        self.base
    }

    /// The monitor main thread's global id (version 1): the value of
    /// `resourcemon_tid`, `locator_tid` and `thread_server_tid` (§5.3).
    pub const fn monitor_tid(&self) -> ThreadId {
        ThreadId::global(self.base, MAIN_THREAD_VERSION)
    }

    /// Thread numbers of `slot`, or `None` for slot ≥ 16 or numbers that do
    /// not fit in a global id.
    pub const fn range(&self, slot: usize) -> Option<Range<u32>> {
        if slot >= MAX_VM {
            return None;
        }
        let start = self.base as u64 + THREAD_SPACE_SIZE as u64 * slot as u64;
        let end = start + THREAD_SPACE_SIZE as u64;
        if end > 1 << THREAD_NUMBER_BITS {
            return None;
        }
        Some(start as u32..end as u32)
    }

    /// The first thread of the VM in `slot`: number `base + 4096·slot`,
    /// version 2 (§6.1; VM 1 with base 50 is thread 4146 = 0x40C8002).
    pub const fn first_thread(&self, slot: usize) -> Option<ThreadId> {
        match self.range(slot) {
            Some(r) => Some(ThreadId::global(r.start, FIRST_THREAD_VERSION)),
            None => None,
        }
    }

    /// Maps a sender to its space (§6.1): local ids → the monitor; global ids
    /// by `(number − base) / 4096` (numbers below the base wrap to huge
    /// values → unknown); the version is ignored; a guest slot must be
    /// below 16 and `allocated`.
    pub fn classify(&self, tid: ThreadId, allocated: impl Fn(usize) -> bool) -> Caller {
        if !tid.is_global() {
            return Caller::Monitor;
        }
        let slot = (tid.number().wrapping_sub(self.base) / THREAD_SPACE_SIZE) as usize;
        match slot {
            0 => Caller::Monitor,
            s if s < MAX_VM && allocated(s) => Caller::Vm(s),
            _ => Caller::Unknown,
        }
    }

    /// The guest VM slot of a sender, if any (`tid_to_vm` for guests):
    /// local ids, slot 0 (the monitor), numbers below the base, slots ≥ 16
    /// and unallocated slots give `None`.
    pub fn tid_to_vm(&self, tid: ThreadId, allocated: impl Fn(usize) -> bool) -> Option<usize> {
        match self.classify(tid, allocated) {
            Caller::Vm(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_numbers() {
        // §6.1 / §5.3: UserBase 48, root task thread 50, VM 1's first thread
        // is 4146 version 2 = 0x40C8002; the monitor's TID is 0xC8001.
        let t = ThreadSpaces::from_user_base(48);
        assert_eq!(t.base(), 50);
        assert_eq!(t.monitor_tid().0, 0xC8001);
        let first = t.first_thread(1).unwrap();
        assert_eq!((first.number(), first.version()), (4146, 2));
        assert_eq!(first.0, 0x40C_8002);
        assert_eq!(t.range(1), Some(4146..8242));
        assert_eq!(t.range(15).unwrap().end, 50 + 16 * 4096);
        assert_eq!(t.range(16), None);
        assert_eq!(t.first_thread(16), None);
        // A base so high that slot 15 does not fit a global id.
        assert_eq!(ThreadSpaces::new((1 << 18) - 4096).range(1), None);
    }

    #[test]
    fn tid_to_vm_rules() {
        let t = ThreadSpaces::new(50);
        let alloc = |s: usize| s <= 2;
        let g = |n: u32, v: u32| ThreadId::global(n, v);
        assert_eq!(t.tid_to_vm(g(4146, 2), alloc), Some(1));
        // The version is ignored; the last number of slot 2 still maps.
        assert_eq!(t.tid_to_vm(g(4146, 77), alloc), Some(1));
        assert_eq!(t.tid_to_vm(g(50 + 3 * 4096 - 1, 1), alloc), Some(2));
        // Unallocated slot 3, slot 16, numbers below the base, local ids.
        assert_eq!(t.tid_to_vm(g(50 + 3 * 4096, 2), alloc), None);
        assert_eq!(t.tid_to_vm(g(50 + 16 * 4096, 2), |_| true), None);
        assert_eq!(t.tid_to_vm(g(49, 1), |_| true), None);
        assert_eq!(t.tid_to_vm(ThreadId(0xbf00_0100), |_| true), None);
        assert_eq!(t.classify(ThreadId(0xbf00_0100), alloc), Caller::Monitor);
        assert_eq!(t.classify(g(52, 2), alloc), Caller::Monitor);
        assert_eq!(t.classify(g(17, 1), alloc), Caller::Unknown);
        assert_eq!(t.tid_to_vm(g(52, 2), alloc), None);
    }

    #[test]
    fn priorities() {
        assert_eq!(vm_priority(false), 102);
        assert_eq!(vm_priority(true), 112);
    }
}
