//! Page faults and guest memory: the pager (§8), `request_pages`, the
//! virtual offset, and the address queries.

use idl::{Fpage, MapItem, ServerError, ThreadId, Word};

use super::{Monitor, Platform, RmResult, RmX, SHARED_LINK_VADDR};
use crate::vm::layout::Layout;

impl<P: Platform> Monitor<P> {
    pub(super) fn handle_pagefault(
        &mut self,
        caller: ThreadId,
        addr: Word,
        ip: Word,
        privileges: Word,
    ) -> RmResult<MapItem> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "page fault", ServerError::NoReply)?;
        let vm = self.vm(slot);
        let Some(haddr) = vm.layout.gvaddr_to_haddr(addr) else {
            // Nothing can be mapped: a dead thread if it faults again after
            // the supervisor's poke (`crate::supervise`).
            if let Some(reason) = self.supervisor.fault_outside(slot, caller.0, addr, ip) {
                self.declare_dead(slot, reason);
                return Err(ServerError::NoReply);
            }
            return Err(self.refuse(
                slot,
                ServerError::NoReply,
                format_args!(
                    "page fault for invalid address {addr:#010x} (ip {ip:#010x}); no mapping"
                ),
            ));
        };
        self.supervisor.request(slot, caller.0);
        let rights = privileges & Fpage::RWX;
        self.stats.faults_served += 1;
        Ok(MapItem::map(
            addr & !0xfff,
            Fpage::new(
                (haddr & !0xfff) as Word,
                12,
                if rights == 0 { Fpage::R } else { rights },
            ),
        ))
    }

    pub(super) fn handle_register_pdirptr(
        &mut self,
        caller: ThreadId,
        _addr: Word,
    ) -> RmResult<()> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "register_pdirptr", RmX::UnknownClient.into())?;
        Err(self.refuse(
            slot,
            RmX::NotSupported.into(),
            format_args!("register_pdirptr is not supported"),
        ))
    }

    pub(super) fn handle_request_pages(
        &mut self,
        caller: ThreadId,
        req_fp: Fpage,
        _attr: Word,
    ) -> RmResult<MapItem> {
        self.stats.requests += 1;
        let Some(slot) = self.caller_vm(caller) else {
            self.stats.refused += 1;
            self.platform.log(format_args!(
                "request_pages: refused: caller {:#x} belongs to no VM; nil fpage",
                caller.0
            ));
            return Ok(MapItem::map(0, Fpage::NIL));
        };
        let layout = self.vm(slot).layout;
        match ram_item(&layout, req_fp) {
            Some(item) => {
                self.stats.pages_requested += 1;
                Ok(item)
            }
            None => Ok(self.nil_item(
                slot,
                format_args!(
                    "request_pages for {:#x}/2^{} outside the VM ({} bytes)",
                    req_fp.base(),
                    req_fp.size_log2(),
                    layout.size
                ),
            )),
        }
    }

    pub(super) fn handle_set_virtual_offset(
        &mut self,
        caller: ThreadId,
        new_offset: Word,
    ) -> RmResult<()> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "set_virtual_offset", RmX::UnknownClient.into())?;
        let vm = self.vms[slot].as_mut().expect("vm_of checked the slot");
        vm.layout.set_virtual_offset(new_offset);
        let at = vm.shared_haddr + SHARED_LINK_VADDR;
        self.platform.store_word(at, new_offset);
        Ok(())
    }

    pub(super) fn handle_get_client_phys_range(
        &mut self,
        caller: ThreadId,
        client: ThreadId,
    ) -> RmResult<(Word, Word)> {
        self.stats.requests += 1;
        self.vm_of(caller, "get_client_phys_range", RmX::UnknownClient.into())?;
        match self.caller_vm(client) {
            Some(s) => Ok((self.vm(s).layout.haddr_base as Word, self.vm(s).layout.size)),
            None => Err(RmX::UnknownClient.into()),
        }
    }

    pub(super) fn handle_get_space_phys_range(
        &mut self,
        caller: ThreadId,
        space_id: Word,
    ) -> RmResult<(Word, Word)> {
        // Host ranges are information, not memory: any VM may ask (as upstream).
        self.stats.requests += 1;
        self.vm_of(caller, "get_space_phys_range", RmX::UnknownClient.into())?;
        self.space_phys_range(space_id)
            .ok_or(RmX::UnknownClient.into())
    }

    /// Slot `space_id`'s host range (§7.6): a VM's block, the monitor's own
    /// block for slot 0, (0, 0) for an unused slot; None beyond the slots.
    pub(super) fn space_phys_range(&self, space_id: Word) -> Option<(Word, Word)> {
        if space_id as usize > self.spaces.vm_slots() {
            return None;
        }
        match self.vms.get(space_id as usize)? {
            _ if space_id == 0 => Some(self.monitor_block),
            Some(vm) => Some((vm.layout.haddr_base as Word, vm.layout.size)),
            None => Some((0, 0)),
        }
    }

    pub(super) fn handle_tid_to_space_id(
        &mut self,
        _caller: ThreadId,
        tid: ThreadId,
    ) -> RmResult<Word> {
        self.stats.requests += 1;
        match self.caller_vm(tid) {
            Some(slot) => Ok(slot as Word),
            None => Err(RmX::UnknownClient.into()),
        }
    }
}

/// The map item for guest-physical `req_fp` of a VM with `layout`: the
/// fpage must lie inside the VM, be 4 KB to 4 MB, and its host frame be
/// aligned to its size (VM blocks are 4 MB aligned). Always rwx, send base
/// the guest-physical address (§7.6 request_pages, request_client_pages).
pub(super) fn ram_item(layout: &Layout, req_fp: Fpage) -> Option<MapItem> {
    let (addr, log2) = (req_fp.base(), req_fp.size_log2());
    let size = 1u64 << log2.min(32);
    let h = layout.gpaddr_to_haddr(addr)?;
    let ok = (12..=22).contains(&log2) && layout.contains_gp_range(addr, size) && h % size == 0;
    ok.then(|| MapItem::map(addr, Fpage::new(h as Word, log2, Fpage::RWX)))
}
