//! The system-call proxies (§6.5, §7.6): ThreadControl, SpaceControl and
//! the interrupt association calls, confined to the caller's own threads
//! and interrupts.

use idl::{Fpage, ServerError, ThreadId, Word};
use l4_sys::KernelError;

use super::{Monitor, Platform, RmResult, RmX, MAX_IRQS};
use crate::ipc::iresourcemon;

impl<P: Platform> Monitor<P> {
    /// §7.6 ThreadControl step 4: set `dest`'s priority and processor. If
    /// the kernel refuses (the monitor is not its scheduler) and `pager`
    /// is not nil, make the monitor its scheduler and pager for a moment,
    /// retry, and give scheduler and pager back to `sched` and `pager`.
    /// The error is the last refused call's.
    fn schedule_with_fallback(
        &mut self,
        dest: ThreadId,
        sched: ThreadId,
        pager: ThreadId,
        prio: Word,
        cpu: Word,
    ) -> Result<(), KernelError> {
        let first = match self.platform.schedule(dest, cpu, prio) {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if pager.0 == 0 {
            return Err(first);
        }
        let me = self.monitor_tid();
        self.platform.thread_control(dest, dest, me, me, !0)?;
        let retried = self.platform.schedule(dest, cpu, prio);
        let restored = self.platform.thread_control(dest, dest, sched, pager, !0);
        retried.and(restored)
    }

    // The arguments are the IDL operation's, word for word.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn handle_thread_control(
        &mut self,
        caller: ThreadId,
        dest: ThreadId,
        space: ThreadId,
        sched: ThreadId,
        pager: ThreadId,
        utcb_location: Word,
        prio: Word,
        cpu: Word,
    ) -> RmResult<i32> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "ThreadControl", RmX::ErrNoPrivilege.into())?;
        let me = self.monitor_tid();
        let allowed = dest.0 != 0
            && self.caller_vm(dest) == Some(slot)
            && self.own_or_nil(slot, space)
            && (self.own_or_nil(slot, sched) || sched == me)
            && (self.own_or_nil(slot, pager) || pager == me);
        if !allowed {
            return Err(self.refuse(
                slot,
                RmX::ErrNoPrivilege.into(),
                format_args!(
                    "ThreadControl(dest {:#x}, space {:#x}, sched {:#x}, pager {:#x}) names a thread outside the VM",
                    dest.0, space.0, sched.0, pager.0
                ),
            ));
        }
        if space.0 == 0 {
            self.release_handled_interrupts(slot, dest);
        }
        if let Err(e) = self
            .platform
            .thread_control(dest, space, sched, pager, utcb_location)
        {
            return Err(kernel_exception(e));
        }
        self.note_thread(slot, dest, space);
        if space.0 != 0 && (prio != !0 || cpu != 0) {
            // The requested processor goes to the kernel as given (a
            // processor the machine lacks is the kernel's to refuse).
            if self
                .schedule_with_fallback(dest, sched, pager, prio, cpu)
                .is_err()
            {
                self.platform.log(format_args!(
                    "vm {slot}: ThreadControl: Schedule({:#x}, prio {prio}, cpu {cpu}) failed",
                    dest.0
                ));
                return Ok(0);
            }
            if cpu != 0 {
                // Rare (a VCPU placed on another processor), so logged:
                // the SMP scenarios check it.
                self.platform.log(format_args!(
                    "vm {slot}: ThreadControl: Schedule({:#x}, prio {prio}, cpu {cpu})",
                    dest.0
                ));
            }
        }
        Ok(1)
    }

    /// Before `handler` is deleted: give every interrupt it handles back to
    /// its interrupt thread (the VM keeps owning it and may associate it
    /// again, or deassociate it). Pistachio does not undo an interrupt
    /// thread's pending send when the handler is deleted, and a later
    /// ThreadControl on the interrupt thread then trips a kernel assertion
    /// (found by the fuzzing guest; `DIFFERENCES.md`, "Isolation").
    fn release_handled_interrupts(&mut self, slot: usize, handler: ThreadId) {
        for irq in 0..MAX_IRQS {
            if self.irq_handler[irq] != handler || self.irq_owner[irq] as usize != slot {
                continue;
            }
            let irq_thread = ThreadId(((irq as Word) << l4_sys::ThreadId::VERSION_BITS) | 1);
            match self
                .platform
                .thread_control(irq_thread, irq_thread, ThreadId::NIL, irq_thread, !0)
            {
                Ok(()) => self.platform.log(format_args!(
                    "vm {slot}: interrupt {irq} released from its handler {:#x}, which is being deleted",
                    handler.0
                )),
                Err(e) => self.platform.log(format_args!(
                    "vm {slot}: interrupt {irq}: releasing it from handler {:#x} failed: {e}",
                    handler.0
                )),
            }
            self.irq_handler[irq] = ThreadId::NIL;
        }
    }

    pub(super) fn handle_space_control(
        &mut self,
        caller: ThreadId,
        space: ThreadId,
        control: Word,
        kip: Fpage,
        utcb: Fpage,
        redir: ThreadId,
    ) -> RmResult<i32> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "SpaceControl", RmX::ErrNoPrivilege.into())?;
        if self.caller_vm(space) != Some(slot) || !self.own_or_nil(slot, redir) {
            return Err(self.refuse(
                slot,
                RmX::ErrNoPrivilege.into(),
                format_args!("SpaceControl on space {:#x} outside the VM", space.0),
            ));
        }
        match self
            .platform
            .space_control(space, control, kip, utcb, redir)
        {
            Ok(()) => Ok(1),
            Err(e) => Err(kernel_exception(e)),
        }
    }

    pub(super) fn handle_associate_interrupt(
        &mut self,
        caller: ThreadId,
        irq_tid: ThreadId,
        handler: ThreadId,
        irq_prio: Word,
        irq_cpu: Word,
    ) -> RmResult<i32> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "AssociateInterrupt", RmX::ErrNoPrivilege.into())?;
        let irq = (irq_tid.0 >> l4_sys::ThreadId::VERSION_BITS) as usize;
        if irq >= MAX_IRQS || irq >= self.irq_lines as usize {
            return Err(self.refuse(
                slot,
                RmX::ErrInvalidThread.into(),
                format_args!("AssociateInterrupt: no interrupt {irq}"),
            ));
        }
        let owner = self.irq_owner[irq] as usize;
        if (owner != 0 && owner != slot) || self.caller_vm(handler) != Some(slot) {
            return Err(self.refuse(
                slot,
                RmX::ErrNoPrivilege.into(),
                format_args!(
                    "AssociateInterrupt {irq}: owned by vm {owner} or handler {:#x} outside the VM",
                    handler.0
                ),
            ));
        }
        let irq_thread = ThreadId(((irq as Word) << l4_sys::ThreadId::VERSION_BITS) | 1);
        if let Err(e) =
            self.platform
                .thread_control(irq_thread, irq_thread, ThreadId::NIL, handler, !0)
        {
            return Err(kernel_exception(e));
        }
        // The interrupt thread gets the requested priority and processor
        // (§7.6 step 3); a fallback gives scheduler and pager (= the
        // association) back to the handler.
        if irq_prio != 0xff || irq_cpu != 0 {
            if let Err(e) =
                self.schedule_with_fallback(irq_thread, handler, handler, irq_prio, irq_cpu)
            {
                self.platform.log(format_args!(
                    "vm {slot}: AssociateInterrupt {irq}: Schedule(prio {irq_prio:#x}, cpu {irq_cpu}) failed: {e}; association undone"
                ));
                // Not left half done: an association nobody owns could be
                // taken over by another VM.
                let _ = self.platform.thread_control(
                    irq_thread,
                    irq_thread,
                    ThreadId::NIL,
                    irq_thread,
                    !0,
                );
                return Err(kernel_exception(e));
            }
        }
        self.irq_owner[irq] = slot as u8;
        self.irq_handler[irq] = handler;
        if irq_prio != 0xff || irq_cpu != 0 {
            self.platform.log(format_args!(
                "vm {slot}: interrupt {irq} associated with {:#x}; Schedule(interrupt thread {:#x}, cpu {irq_cpu}, prio {irq_prio:#x})",
                handler.0, irq_thread.0
            ));
        } else {
            self.platform.log(format_args!(
                "vm {slot}: interrupt {irq} associated with {:#x}",
                handler.0
            ));
        }
        Ok(1)
    }

    pub(super) fn handle_deassociate_interrupt(
        &mut self,
        caller: ThreadId,
        irq_tid: ThreadId,
    ) -> RmResult<i32> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "DeassociateInterrupt", RmX::ErrNoPrivilege.into())?;
        let irq = (irq_tid.0 >> l4_sys::ThreadId::VERSION_BITS) as usize;
        if irq >= MAX_IRQS || self.irq_owner[irq] as usize != slot {
            return Err(self.refuse(
                slot,
                RmX::ErrNoPrivilege.into(),
                format_args!("DeassociateInterrupt {irq}: not owned by this VM"),
            ));
        }
        let irq_thread = ThreadId(((irq as Word) << l4_sys::ThreadId::VERSION_BITS) | 1);
        if let Err(e) =
            self.platform
                .thread_control(irq_thread, irq_thread, ThreadId::NIL, irq_thread, !0)
        {
            return Err(kernel_exception(e));
        }
        self.irq_owner[irq] = 0;
        self.irq_handler[irq] = ThreadId::NIL;
        Ok(1)
    }
}

/// A kernel error code as the proxies report it (error + 5, §7.6).
pub(super) fn kernel_exception(e: KernelError) -> ServerError<iresourcemon::Exception> {
    ServerError::Exception(match e {
        KernelError::NoPrivilege => RmX::ErrNoPrivilege,
        KernelError::InvalidThread => RmX::ErrInvalidThread,
        KernelError::InvalidSpace => RmX::ErrInvalidSpace,
        KernelError::InvalidScheduler => RmX::ErrInvalidScheduler,
        KernelError::InvalidParam => RmX::ErrInvalidParam,
        KernelError::UtcbArea => RmX::ErrUtcbArea,
        KernelError::KipArea => RmX::ErrKipArea,
        KernelError::NoMemory | KernelError::Other(_) => RmX::ErrNoMem,
    })
}
