//! Thread-number spaces and priorities (spec §6.1, §6.3).

use core::ops::Range;

use l4_sys::ThreadId;

/// Thread numbers per VM slot (`THREAD_SPACE_SIZE`, vm.h).
pub const THREAD_SPACE_SIZE: u32 = 4096;
/// VM slots the monitor's tables have room for: slot 0 is the monitor,
/// the rest guests. 64 ranges of 4,096 fill an 18-bit thread-number space
/// (the most any ia32 or amd64 Pistachio publishes); how many a kernel
/// really has comes from its KIP ([`ThreadSpaces::with_number_bits`]:
/// 31 on ia32 Pistachio, whose ThreadInfo says 17 bits). The original
/// has 16.
pub const MAX_VM: usize = 64;
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
    /// Valid thread-number bits (KIP ThreadInfo t), at most
    /// [`THREAD_NUMBER_BITS`].
    bits: u32,
}

impl ThreadSpaces {
    /// Spaces based at the root task's thread number (`tid_space_t::init`).
    pub const fn new(base_tid: u32) -> ThreadSpaces {
        ThreadSpaces {
            base: base_tid,
            bits: THREAD_NUMBER_BITS,
        }
    }

    /// The same spaces on a kernel with `bits` valid thread-number bits
    /// (KIP ThreadInfo t): numbers at or above 2^bits alias lower ones in
    /// the kernel's TCB array, so no range may reach them.
    pub const fn with_number_bits(self, bits: u32) -> ThreadSpaces {
        ThreadSpaces {
            bits: if bits < THREAD_NUMBER_BITS {
                bits
            } else {
                THREAD_NUMBER_BITS
            },
            ..self
        }
    }

    /// Guest VM slots this kernel's thread-number space holds (slots
    /// `1..=vm_slots()`), at most `MAX_VM - 1`.
    pub const fn vm_slots(&self) -> usize {
        let mut n = 0;
        while n + 1 < MAX_VM && self.range(n + 1).is_some() {
            n += 1;
        }
        n
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
        if end > 1 << self.bits {
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
        // A base so high that slot 1 does not fit a global id.
        assert_eq!(ThreadSpaces::new((1 << 18) - 4096).range(1), None);
    }

    #[test]
    fn vm_slots_follow_the_kips_thread_number_bits() {
        // 18 bits (the most a global id holds): 62 VM ranges after the
        // monitor's; slot 63 would end past 2^18.
        let t18 = ThreadSpaces::from_user_base(48);
        assert_eq!(t18.vm_slots(), 62);
        assert_eq!(t18.range(62).unwrap().end, 50 + 63 * 4096);
        assert_eq!(t18.range(63), None);
        // ia32 Pistachio's KIP: 17 bits, 30 VM ranges; slot 31 would reach
        // numbers that alias the monitor's in the kernel's TCB array.
        let t17 = t18.with_number_bits(17);
        assert_eq!(t17.vm_slots(), 30);
        assert!(t17.range(30).unwrap().end <= 1 << 17);
        assert_eq!(t17.range(31), None);
        assert_eq!(t17.first_thread(31), None);
        // More bits than a global id has change nothing; the original's 16
        // slots are what 16 bits give with this base.
        assert_eq!(t18.with_number_bits(30), t18);
        assert_eq!(t18.with_number_bits(16).vm_slots(), 14);
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
        // Unallocated slot 3, slot 64, numbers below the base, local ids.
        assert_eq!(t.tid_to_vm(g(50 + 3 * 4096, 2), alloc), None);
        assert_eq!(t.tid_to_vm(g(50 + 64 * 4096, 2), |_| true), None);
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
