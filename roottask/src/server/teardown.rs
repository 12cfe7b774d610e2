//! Dead VMs: the exception check, the verdict and the teardown (see
//! `crate::supervise` for how a VM is found dead).
//!
//! Teardown leaves nothing of the VM reachable: its interrupts are
//! deassociated, its remap-window frames released (flushed once no other
//! VM holds them), every thread it has is deleted (which frees its address
//! spaces with the last thread, x2-abi §9.2), its memory is unmapped from
//! every space that got it from the monitor (a `ddos` VM's client pages
//! included), and its slot is emptied, so its old thread ids belong to no
//! VM. The block goes back to the runtime, which returns it to the free
//! memory; every VM build zeroes its whole block first (§3.1), so the
//! block is "marked for zeroing" by construction.

use idl::{Fpage, ThreadId, Word};

use super::{Monitor, Platform, RemapSlot, MAX_IRQS};
use crate::supervise::{Action, DeathReason, Fate, ThreadSet, EXCEPTION_LABEL, EXCEPTION_WORDS};
use crate::vm::threads::MAX_VM;

/// 4 MB: the unit of VM blocks, unmapped one fpage at a time.
const UNMAP_CHUNK_LOG2: u32 = 22;

/// What was released when a VM was torn down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Teardown {
    /// The VM slot.
    pub slot: usize,
    /// Host base of its block.
    pub block_base: u64,
    /// Its size.
    pub block_size: u64,
    /// Threads deleted.
    pub threads: usize,
    /// Interrupts deassociated.
    pub irqs: usize,
    /// Remap-window slots it held (freed or left to the other holders).
    pub remap_slots: usize,
    /// The start sequence was waiting for this VM's init complete: it
    /// counts as finished, so the next VM starts.
    pub was_awaited: bool,
}

impl<P: Platform> Monitor<P> {
    /// Put VM `slot` into its slot: its first thread is its first member
    /// of the thread set, and it gets the stand-in page a torn-down VM of
    /// the slot left (zeroed).
    pub fn install_vm(&mut self, slot: usize, mut entry: super::VmEntry, first_thread: ThreadId) {
        entry.first_thread = first_thread;
        if let Some(page) = self.spare_scratch.get_mut(slot).and_then(Option::take) {
            for at in (0..4096).step_by(4) {
                self.platform.store_word(page + at, 0);
            }
            entry.scratch = Some(page);
        }
        if let (Some(range), Some(set)) = (self.spaces.range(slot), self.thread_sets.get_mut(slot))
        {
            *set = ThreadSet::new(range.start);
            set.insert(l4_sys::ThreadId(first_thread.0).number());
        }
        if let Some(s) = self.vms.get_mut(slot) {
            *s = Some(entry);
        }
        if let Some(n) = self.logged_refusals.get_mut(slot) {
            *n = 0;
        }
    }

    /// ThreadControl on `dest` succeeded for VM `slot`: remember a created
    /// thread, forget a deleted one.
    pub(super) fn note_thread(&mut self, slot: usize, dest: ThreadId, space: ThreadId) {
        let number = l4_sys::ThreadId(dest.0).number();
        if let Some(set) = self.thread_sets.get_mut(slot) {
            if space.0 == 0 {
                set.remove(number);
            } else {
                set.insert(number);
            }
        }
    }

    /// Is `msg` from VM `slot`'s thread `caller` an ia32 exception message?
    /// Then the VM is dead (no reply).
    pub(super) fn vm_exception(
        &mut self,
        slot: usize,
        caller: ThreadId,
        msg: &idl::Message,
    ) -> bool {
        let tag = msg.tag();
        if tag.label() != EXCEPTION_LABEL
            || tag.untyped() != EXCEPTION_WORDS as usize
            || tag.typed() != 0
        {
            return false;
        }
        let reason = DeathReason::Exception {
            thread: caller.0,
            ip: msg.mr[1],
            vector: msg.mr[3],
            error: msg.mr[4],
        };
        self.declare_dead(slot, reason);
        true
    }

    /// VM `slot` is dead of `reason`: log it, tear it down, and let the
    /// supervisor decide between restart and stop (logged too).
    pub fn declare_dead(&mut self, slot: usize, reason: DeathReason) {
        if self.vms.get(slot).is_none_or(Option::is_none) {
            return;
        }
        self.platform.log(format_args!("vm {slot}: dead: {reason}"));
        let Some(t) = self.tear_down(slot) else {
            return;
        };
        self.platform.log(format_args!(
            "vm {slot}: torn down: {} threads deleted, {} interrupts and {} remap slots released, block [{:#x}, {:#x}) unmapped and free",
            t.threads,
            t.irqs,
            t.remap_slots,
            t.block_base,
            t.block_base + t.block_size
        ));
        let now = self.platform.now_us();
        match self.supervisor.died(slot, reason, now) {
            Fate::Restart { attempt, of, in_ms } => self.platform.log(format_args!(
                "vm {slot}: restart {attempt} of {of} in {in_ms} ms"
            )),
            Fate::Stopped { allowed: 0, .. } => self
                .platform
                .log(format_args!("vm {slot}: stopped (no restart=)")),
            Fate::Stopped { restarts, allowed } => self.platform.log(format_args!(
                "vm {slot}: stopped: died again after {restarts} of {allowed} restarts; no more restarts"
            )),
        }
        if let Some(s) = self.supervisor.status(slot) {
            self.platform.log(format_args!("{s}"));
        }
        let _ = self.torn_down.push(t);
    }

    /// Release everything of VM `slot` (see the module docs); None if the
    /// slot holds no VM.
    pub fn tear_down(&mut self, slot: usize) -> Option<Teardown> {
        let vm = self.vms.get_mut(slot)?.take()?;
        self.input.forget(slot);
        let was_awaited = self.waiting_for == Some(slot);
        if was_awaited {
            self.waiting_for = None;
        }
        let nil = ThreadId::NIL;
        // Interrupts first, while their handler threads still exist.
        let mut irqs = 0;
        for irq in 0..MAX_IRQS {
            if self.irq_owner[irq] as usize == slot {
                let t = ThreadId(((irq as Word) << l4_sys::ThreadId::VERSION_BITS) | 1);
                let _ = self.platform.thread_control(t, t, nil, t, !0);
                self.irq_owner[irq] = 0;
                self.irq_handler[irq] = ThreadId::NIL;
                irqs += 1;
            }
        }
        // Remap-window frames: flushed when no other VM holds them.
        let bit = 1u64 << (slot % MAX_VM);
        let mut remap_slots = 0;
        for i in 0..self.remap.slots.len() {
            let s = self.remap.slots[i];
            if s.refs == 0 || s.owners & bit == 0 {
                continue;
            }
            remap_slots += 1;
            let owners = s.owners & !bit;
            if owners == 0 {
                self.remap.slots[i] = RemapSlot::default();
                let page = Fpage::new(self.remap.base + (i as Word) * 4096, 12, Fpage::RWX);
                self.platform.unmap(page, true);
            } else {
                // One reference left for each remaining holder.
                self.remap.slots[i].owners = owners;
                self.remap.slots[i].refs = owners.count_ones() as u16;
            }
        }
        // Threads (the kernel deletes by number; the version does not matter).
        let mut threads = 0;
        let first = l4_sys::ThreadId(vm.first_thread.0).number();
        let delete = |p: &mut P, number: u32| {
            let t = ThreadId(l4_sys::ThreadId::global(number, 1).0);
            let _ = p.thread_control(t, nil, nil, nil, !0);
        };
        let start = self.spaces.range(slot).map_or(0, |r| r.start);
        if let Some(set) = self.thread_sets.get_mut(slot) {
            for number in set.iter().filter(|&n| n != first) {
                delete(&mut self.platform, number);
                threads += 1;
            }
            *set = ThreadSet::new(start);
        }
        if vm.first_thread.0 != 0 {
            delete(&mut self.platform, first);
            threads += 1;
        }
        // Memory: from every space that got it (client pages of a ddos VM
        // too); the monitor keeps its own 1:1 mapping (no flush).
        let base = vm.layout.haddr_base;
        let size = u64::from(vm.layout.size);
        let mut at = base;
        while at < base + size {
            self.platform
                .unmap(Fpage::new(at as Word, UNMAP_CHUNK_LOG2, Fpage::RWX), false);
            at += 1 << UNMAP_CHUNK_LOG2;
        }
        if let Some(page) = vm.scratch {
            self.platform
                .unmap(Fpage::new(page as Word, 12, Fpage::RWX), false);
            if let Some(s) = self.spare_scratch.get_mut(slot) {
                *s = Some(page);
            }
        }
        Some(Teardown {
            slot,
            block_base: base,
            block_size: size,
            threads,
            irqs,
            remap_slots,
            was_awaited,
        })
    }

    /// Run the supervisor's clock: poke suspects, declare watchdog deaths.
    /// `idle`: called after a receive timeout (no request for a whole
    /// console poll). Returns the slots due for a restart (the runtime
    /// rebuilds them).
    pub fn supervise(&mut self, idle: bool) -> heapless::Vec<usize, MAX_VM> {
        let now = self.platform.now_us();
        let mut restarts = heapless::Vec::new();
        for action in self.supervisor.tick(now, idle) {
            match action {
                Action::Poke { slot, thread } => {
                    if !self.platform.poke(ThreadId(thread)) {
                        self.supervisor.poke_failed(slot);
                    }
                }
                Action::Dead { slot, reason } => self.declare_dead(slot, reason),
                Action::Restart { slot } => {
                    let _ = restarts.push(slot);
                }
            }
        }
        restarts
    }
}
