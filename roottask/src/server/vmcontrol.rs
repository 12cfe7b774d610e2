//! IVMControl (§7.7), the start sequence's `client_init_complete`, and the
//! unsupported migration family.

use idl::{Fpage, MapItem, ServerError, StringItem, ThreadId, Word};

use super::{Monitor, Platform, RmResult, RmX, MAX_BLOCK, SHARED_MEM_BALLOON};
use crate::ipc::ivmcontrol;
use crate::vm::threads::MAX_VM;

impl<P: Platform> Monitor<P> {
    pub(super) fn handle_client_init_complete(&mut self, caller: ThreadId) {
        self.stats.requests += 1;
        // Difference from the original: only the VM the start sequence waits
        // for advances it, once; stray or repeated messages are logged.
        match self.caller_vm(caller) {
            Some(slot) if self.waiting_for == Some(slot) => {
                self.supervisor.init_complete(slot);
                self.waiting_for = None;
                self.init_complete = Some(slot);
            }
            Some(slot) => {
                // A restarted VM reports too: it is alive (the watchdog is
                // off), but the start sequence moved on when it died.
                self.supervisor.init_complete(slot);
                self.platform.log(format_args!(
                    "vm {slot}: client_init_complete ignored (not awaited)"
                ))
            }
            None => self.platform.log(format_args!(
                "client_init_complete from {:#x} ignored: no VM",
                caller.0
            )),
        }
    }

    pub(super) fn handle_clone_vm(
        &mut self,
        caller: ThreadId,
        _tid: ThreadId,
        _resume: Word,
    ) -> RmResult<()> {
        self.migration_unsupported(caller, "clone_vm")
    }

    pub(super) fn handle_get_vm_space(
        &mut self,
        caller: ThreadId,
        _space_id: Word,
    ) -> RmResult<MapItem> {
        self.migration_unsupported(caller, "get_vm_space")
            .map(|()| MapItem::map(0, Fpage::NIL))
    }

    pub(super) fn handle_vm_info(
        &mut self,
        caller: ThreadId,
        _space_id: Word,
    ) -> RmResult<MapItem> {
        self.migration_unsupported(caller, "vm_info")
            .map(|()| MapItem::map(0, Fpage::NIL))
    }

    pub(super) fn handle_allocate_vm(&mut self, caller: ThreadId) -> RmResult<()> {
        self.migration_unsupported(caller, "allocate_vm")
    }

    pub(super) fn handle_delete_vm(&mut self, caller: ThreadId, _space_id: Word) -> RmResult<()> {
        self.migration_unsupported(caller, "delete_vm")
    }

    pub(super) fn handle_set_vm_space(
        &mut self,
        caller: ThreadId,
        _space_id: Word,
        _fp: Word,
    ) -> RmResult<()> {
        self.migration_unsupported(caller, "set_vm_space")
    }

    pub(super) fn handle_resume_vm(&mut self, caller: ThreadId, _space_id: Word) -> RmResult<()> {
        self.migration_unsupported(caller, "resume_vm")
    }
}

impl<P: Platform> Monitor<P> {
    /// The experimental migration family (§7.6) is not supported: a
    /// documented exception instead of the original's undefined behaviour.
    fn migration_unsupported(&mut self, caller: ThreadId, op: &str) -> RmResult<()> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, op, RmX::NotSupported.into())?;
        Err(self.refuse(
            slot,
            RmX::NotSupported.into(),
            format_args!("{op}: the migration family is not supported"),
        ))
    }
}

type VmcResult<T> = Result<T, ServerError<ivmcontrol::Exception>>;

/// IVMControl (§7.7), served by the main thread (the original uses a helper
/// thread; the locator hands out the main thread's id for guid 8).
impl<P: Platform> ivmcontrol::Server for Monitor<P> {
    fn start_working_set_scan(&mut self, caller: ThreadId, _ms: Word, _n: Word, _target: Word) {
        self.stats.requests += 1;
        self.platform.log(format_args!(
            "IVMControl scan from {:#x}: not built (as upstream without cfg_working_set_scan)",
            caller.0
        ));
    }

    fn start_active_page_scan(&mut self, caller: ThreadId, _ms: Word, _target: Word) {
        self.stats.requests += 1;
        self.platform.log(format_args!(
            "IVMControl scan from {:#x}: not built",
            caller.0
        ));
    }

    fn set_memballoon(&mut self, caller: ThreadId, size: Word, target: Word) {
        self.stats.requests += 1;
        let Some(slot) = self.caller_vm(caller) else {
            self.stats.refused += 1;
            return;
        };
        match self.vms.get(target as usize) {
            Some(Some(vm)) if self.may_inspect(slot, target as usize) && size < vm.layout.size => {
                let at = vm.shared_haddr + SHARED_MEM_BALLOON;
                self.platform.store_word(at, size);
            }
            _ => {
                self.stats.refused += 1;
                self.platform.log(format_args!(
                    "vm {slot}: refused: set_memballoon({size:#x}) for vm {target}"
                ));
            }
        }
    }

    fn get_space_phys_range(
        &mut self,
        caller: ThreadId,
        space_id: Word,
    ) -> VmcResult<(Word, Word)> {
        let space = self.inspectable(caller, space_id, "IVMControl.get_space_phys_range")?;
        Ok(self.space_phys_range(space as Word).unwrap_or((0, 0)))
    }

    fn get_space_block(
        &mut self,
        caller: ThreadId,
        space_id: Word,
        offset: Word,
        request_size: Word,
    ) -> VmcResult<StringItem> {
        let space = self.inspectable(caller, space_id, "get_space_block")?;
        let Some(vm) = self.vms[space].as_ref() else {
            return Ok(StringItem { addr: 0, len: 0 });
        };
        if offset > vm.layout.size {
            return Ok(StringItem { addr: 0, len: 0 });
        }
        let len = request_size.min(vm.layout.size - offset).min(MAX_BLOCK);
        Ok(StringItem {
            addr: (vm.layout.haddr_base + u64::from(offset)) as Word,
            len,
        })
    }

    fn start_perfmon_scan(&mut self, caller: ThreadId, _ms: Word, _n: Word) {
        self.stats.requests += 1;
        self.platform.log(format_args!(
            "IVMControl perfmon scan from {:#x}: not built",
            caller.0
        ));
    }
}

impl<P: Platform> Monitor<P> {
    /// The VM slot `space_id` if the caller may look at it (its own, or
    /// any for a `ddos` caller): IVMControl's access rule.
    fn inspectable(&mut self, caller: ThreadId, space_id: Word, op: &str) -> VmcResult<usize> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, op, ivmcontrol::Exception::UnknownClient.into())?;
        let space = space_id as usize;
        if space >= MAX_VM || space > self.spaces.vm_slots() || !self.may_inspect(slot, space) {
            return Err(self.refuse(
                slot,
                ivmcontrol::Exception::NoPermission.into(),
                format_args!("{op} of vm {space_id}"),
            ));
        }
        Ok(space)
    }
}
