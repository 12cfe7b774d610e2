//! Device memory (§9): `request_device`, `unmap_device`, the device remap
//! window, and `request_client_pages` for driver VMs.

use idl::{Fpage, MapItem, ThreadId, Word};

use super::memory::ram_item;
use super::{Monitor, Platform, RemapSlot, RmResult, RmX};

impl<P: Platform> Monitor<P> {
    fn remap_slot_addr(&self, index: usize) -> Word {
        self.remap_base + (index as Word) * 4096
    }

    /// The slot holding device frame `frame`, mapping it first if needed.
    fn remap_frame(&mut self, frame: Word) -> Option<usize> {
        if let Some(i) = self
            .remap
            .iter()
            .position(|s| s.refs > 0 && s.frame == frame)
        {
            self.remap[i].refs = self.remap[i].refs.saturating_add(1);
            return Some(i);
        }
        let i = self.remap.iter().position(|s| s.refs == 0)?;
        let at = self.remap_slot_addr(i);
        if !self.platform.map_device_frame(frame, at) {
            return None;
        }
        self.remap[i] = RemapSlot { frame, refs: 1 };
        Some(i)
    }

    pub(super) fn handle_request_device(
        &mut self,
        caller: ThreadId,
        req_fp: Fpage,
        _attr: Word,
    ) -> RmResult<MapItem> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "request_device", RmX::UnknownClient.into())?;
        if !self.vm(slot).device_access {
            return Err(self.refuse(
                slot,
                RmX::NoPermission.into(),
                format_args!("request_device {:#x} without ddos", req_fp.base()),
            ));
        }
        if req_fp.is_nil() {
            return Ok(MapItem::map(0, Fpage::NIL));
        }
        let (addr, log2) = (req_fp.base(), req_fp.size_log2());
        if log2 != 12 {
            // The original enters the debugger for other sizes (§9.1 step 4).
            return Err(self.refuse(
                slot,
                RmX::InvalidMemRegion.into(),
                format_args!("request_device {addr:#x}/2^{log2}: only 4 KB device pages"),
            ));
        }
        let vm = self.vm(slot);
        if !vm.is_device(u64::from(addr), 4096) {
            // Not device memory: the VM's own RAM ("fake device", §9.1 step 5).
            return match vm.layout.gpaddr_to_haddr(addr) {
                Some(h) if vm.layout.contains_gp_range(addr, 4096) => Ok(MapItem::map(
                    addr,
                    Fpage::new((h & !0xfff) as Word, 12, Fpage::RWX),
                )),
                _ => Err(self.refuse(
                    slot,
                    RmX::InvalidMemRegion.into(),
                    format_args!(
                        "request_device {addr:#x}: neither device memory nor inside the VM"
                    ),
                )),
            };
        }
        match self.remap_frame(addr & !0xfff) {
            Some(i) => Ok(MapItem::map(addr, Fpage::new(self.remap_slot_addr(i), 12, Fpage::RWX))),
            None => Err(self.refuse(
                slot,
                RmX::InvalidMemRegion.into(),
                format_args!("request_device {addr:#x}: sigma0 refused the frame or the remap window is full"),
            )),
        }
    }

    pub(super) fn handle_unmap_device(
        &mut self,
        caller: ThreadId,
        req_fp: Fpage,
        attr: Word,
    ) -> RmResult<Word> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "unmap_device", RmX::UnknownClient.into())?;
        if !self.vm(slot).device_access {
            return Err(self.refuse(
                slot,
                RmX::NoPermission.into(),
                format_args!("unmap_device without ddos"),
            ));
        }
        let addr = req_fp.base();
        if req_fp.is_nil() || req_fp.size_log2() != 12 {
            return Err(RmX::DeviceNotMapped.into());
        }
        let vm = self.vm(slot);
        if !vm.is_device(u64::from(addr), 4096) {
            // The VM's own RAM: take it back from every space (§9.2 step 4).
            let Some(h) = vm.layout.gpaddr_to_haddr(addr) else {
                return Err(RmX::DeviceNotMapped.into());
            };
            self.platform
                .unmap(Fpage::new((h & !0xfff) as Word, 12, Fpage::RWX), false);
            return Ok(0);
        }
        let frame = addr & !0xfff;
        let Some(i) = self
            .remap
            .iter()
            .position(|s| s.refs > 0 && s.frame == frame)
        else {
            return Err(RmX::DeviceNotMapped.into());
        };
        let page = Fpage::new(self.remap_slot_addr(i), 12, attr & Fpage::RWX);
        if attr & Fpage::RWX != Fpage::RWX {
            return Ok(self.platform.unmap(page, false).rights());
        }
        self.remap[i].refs -= 1;
        let flush = self.remap[i].refs == 0;
        if flush {
            self.remap[i] = RemapSlot::default();
        }
        Ok(self.platform.unmap(page, flush).rights())
    }

    pub(super) fn handle_request_client_pages(
        &mut self,
        caller: ThreadId,
        client: ThreadId,
        req_fp: Fpage,
    ) -> RmResult<MapItem> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "request_client_pages", RmX::UnknownClient.into())?;
        if !self.vm(slot).device_access {
            return Err(self.refuse(
                slot,
                RmX::NoPermission.into(),
                format_args!("request_client_pages without ddos"),
            ));
        }
        if req_fp.is_nil() {
            return Ok(MapItem::map(0, Fpage::NIL));
        }
        let Some(client_slot) = self.caller_vm(client) else {
            return Err(RmX::UnknownClient.into());
        };
        // Difference: the original allows one byte past the client's end.
        let item = ram_item(&self.vm(client_slot).layout, req_fp).ok_or(RmX::InvalidMemRegion)?;
        self.platform.log(format_args!(
            "vm {slot}: maps vm {client_slot} memory {:#x}/2^{}",
            req_fp.base(),
            req_fp.size_log2()
        ));
        Ok(item)
    }
}
