//! Device memory (§9): `request_device`, `unmap_device`, the device remap
//! window, and `request_client_pages` for driver VMs.
//!
//! What a VM gets for device memory (`request_device` of a 4 KB page that
//! is below 1 MB or in the VM's `devices[]`), so that no request leaves a
//! guest re-faulting forever and no VM reaches hardware or memory it does
//! not own (issue 10; `DIFFERENCES.md`, "Devices"):
//!
//! | VM | range | answer |
//! | --- | --- | --- |
//! | `ddos` | any device range | the host frame, through the remap window (as the original) |
//! | `ddos` | sigma0 refuses the frame, or the window is full | the VM's own RAM page at that address, else its stand-in page (the original's "MEMFAKE") |
//! | other | below 1 MB (VGA text and graphics memory, BIOS and option ROM areas) | the VM's own RAM page at that guest-physical address: a private frame buffer it can write and read back |
//! | other | above 1 MB (`devices[]`: PCI BARs, APIC and the like beyond `max_phys`) | one zeroed stand-in page of the monitor's, per VM, for every such address |
//! | any | not device memory | the VM's own RAM page ("fake device", §9.1 step 5) |

use idl::{Fpage, MapItem, ThreadId, Word};
use l4_sys::kip::{MemoryDesc, MemoryType};

use super::memory::ram_item;
use super::{Monitor, Platform, RemapSlot, RmResult, RmX, REMAP_WINDOW_BYTES};
use crate::vm::threads::MAX_VM;

/// Where the device remap window sits in the monitor's space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowPlacement {
    /// First byte (32 MB aligned).
    pub base: u64,
    /// The window lies in RAM the monitor had to give up (the second pass):
    /// the caller took it out of its free memory and must unmap it.
    pub from_ram: bool,
}

/// Place the 32 MB device remap window (§9.3), so that it never collides
/// with the monitor's 1:1 mapping of RAM or with `avoid` (the monitor's
/// UTCB and KIP areas).
///
/// Candidates are 32 MB aligned, scanned downward from the end of the
/// user-accessible virtual space (highest virtual Conventional descriptor,
/// default 0xBFFFFFFF), never the window at 0. First pass: a window that
/// overlaps no physical descriptor other than Shared and Reserved ones (a
/// hole in RAM). Second pass: a window that `take_ram(base, size)` can take
/// out of the monitor's free memory (so no VM or heap uses it). None if
/// neither pass finds one.
pub fn place_remap_window(
    descs: &[MemoryDesc],
    avoid: &[(u64, u64)],
    take_ram: &mut dyn FnMut(u64, u64) -> bool,
) -> Option<WindowPlacement> {
    let size = REMAP_WINDOW_BYTES;
    let last_virtual = descs
        .iter()
        .filter(|d| d.is_virtual && d.kind == MemoryType::Conventional)
        .map(|d| d.high)
        .max()
        .unwrap_or(0xBFFF_FFFF)
        .min(0xFFFF_FFFF);
    let top = (last_virtual + 1) & !(size - 1);
    let overlaps = |base: u64, lo: u64, hi: u64| lo < base + size && hi >= base;
    let clear_of_avoid = |base: u64| {
        !avoid
            .iter()
            .any(|&(lo, len)| len > 0 && overlaps(base, lo, lo + len - 1))
    };
    let candidates = || (1..top / size).rev().map(|k| k * size);
    let hole = candidates().find(|&base| {
        clear_of_avoid(base)
            && !descs.iter().any(|d| {
                !d.is_virtual
                    && !matches!(d.kind, MemoryType::Shared | MemoryType::Reserved)
                    && overlaps(base, d.low, d.high)
            })
    });
    if let Some(base) = hole {
        return Some(WindowPlacement {
            base,
            from_ram: false,
        });
    }
    candidates()
        .filter(|&base| clear_of_avoid(base))
        .find(|&base| take_ram(base, size))
        .map(|base| WindowPlacement {
            base,
            from_ram: true,
        })
}

/// Is guest-physical `addr` below the first megabyte (legacy device and
/// ROM areas)?
fn below_1mb(addr: Word) -> bool {
    addr < 0x10_0000
}

impl<P: Platform> Monitor<P> {
    fn remap_slot_addr(&self, index: usize) -> Word {
        self.remap.base + (index as Word) * 4096
    }

    /// The slot holding device frame `frame`, mapping it first if needed.
    fn remap_frame(&mut self, frame: Word, owner: usize) -> Option<usize> {
        let slots = &mut *self.remap.slots;
        if let Some(i) = slots.iter().position(|s| s.refs > 0 && s.frame == frame) {
            slots[i].refs = slots[i].refs.saturating_add(1);
            slots[i].owners |= 1 << (owner % MAX_VM);
            return Some(i);
        }
        let i = slots.iter().position(|s| s.refs == 0)?;
        let at = self.remap_slot_addr(i);
        if !self.platform.map_device_frame(frame, at) {
            return None;
        }
        self.remap.slots[i] = RemapSlot {
            frame,
            refs: 1,
            owners: 1 << (owner % MAX_VM),
        };
        Some(i)
    }

    /// VM `slot`'s own RAM page at guest-physical `addr`, rwx.
    fn own_page(&self, slot: usize, addr: Word) -> Option<MapItem> {
        let layout = &self.vm(slot).layout;
        let h = layout.gpaddr_to_haddr(addr & !0xfff)?;
        layout
            .contains_gp_range(addr & !0xfff, 4096)
            .then(|| MapItem::map(addr, Fpage::new(h as Word, 12, Fpage::RWX)))
    }

    /// VM `slot`'s stand-in device page (allocated on first use), rwx.
    fn stand_in_page(&mut self, slot: usize, addr: Word) -> Option<MapItem> {
        let page = match self.vm(slot).scratch {
            Some(p) => p,
            None => {
                let p = self.platform.scratch_page()?;
                self.vms[slot].as_mut()?.scratch = Some(p);
                self.platform.log(format_args!(
                    "vm {slot}: device memory at {addr:#x} and above 1 MB is served from a stand-in page at {p:#x} (no ddos)"
                ));
                p
            }
        };
        Some(MapItem::map(addr, Fpage::new(page as Word, 12, Fpage::RWX)))
    }

    /// What a VM gets instead of a host device frame: its own RAM page
    /// below 1 MB (or wherever it has RAM), else its stand-in page.
    fn instead_of_device(&mut self, slot: usize, addr: Word) -> Option<MapItem> {
        if below_1mb(addr) {
            if let Some(item) = self.own_page(slot, addr) {
                return Some(item);
            }
        }
        self.stand_in_page(slot, addr)
    }

    pub(super) fn handle_request_device(
        &mut self,
        caller: ThreadId,
        req_fp: Fpage,
        _attr: Word,
    ) -> RmResult<MapItem> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "request_device", RmX::UnknownClient.into())?;
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
            return match self.own_page(slot, addr) {
                Some(item) => Ok(item),
                None => Err(self.refuse(
                    slot,
                    RmX::InvalidMemRegion.into(),
                    format_args!(
                        "request_device {addr:#x}: neither device memory nor inside the VM"
                    ),
                )),
            };
        }
        if !vm.device_access {
            // No host device for a VM without ddos, but never a refusal the
            // wedge would answer by faulting again.
            return match self.instead_of_device(slot, addr) {
                Some(item) => Ok(item),
                None => Err(self.refuse(
                    slot,
                    RmX::InvalidMemRegion.into(),
                    format_args!("request_device {addr:#x}: no memory for a stand-in page"),
                )),
            };
        }
        if let Some(i) = self.remap_frame(addr & !0xfff, slot) {
            return Ok(MapItem::map(
                addr,
                Fpage::new(self.remap_slot_addr(i), 12, Fpage::RWX),
            ));
        }
        // sigma0 refused the frame or the window is full: the original's
        // MEMFAKE, the VM's own page, so the guest goes on.
        self.platform.log(format_args!(
            "vm {slot}: request_device {addr:#x}: no host frame (sigma0 refused it or the remap window is full); the VM's own memory instead"
        ));
        match self.instead_of_device(slot, addr) {
            Some(item) => Ok(item),
            None => Err(self.refuse(
                slot,
                RmX::InvalidMemRegion.into(),
                format_args!("request_device {addr:#x}: no memory for a stand-in page"),
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
        let addr = req_fp.base();
        if req_fp.is_nil() || req_fp.size_log2() != 12 {
            return Err(RmX::DeviceNotMapped.into());
        }
        let vm = self.vm(slot);
        let device = vm.is_device(u64::from(addr), 4096);
        if !device || !vm.device_access {
            // The VM's own RAM (or, without ddos, what stood in for the
            // device): take it back from the VM's spaces (§9.2 step 4).
            let page = if device && !below_1mb(addr) {
                vm.scratch
            } else {
                vm.layout.gpaddr_to_haddr(addr & !0xfff)
            };
            let Some(h) = page else {
                return Err(RmX::DeviceNotMapped.into());
            };
            let fp = Fpage::new((h & !0xfff) as Word, 12, Fpage::RWX);
            return Ok(self.platform.unmap(fp, false).rights());
        }
        let frame = addr & !0xfff;
        let Some(i) = self
            .remap
            .slots
            .iter()
            .position(|s| s.refs > 0 && s.frame == frame)
        else {
            return Err(RmX::DeviceNotMapped.into());
        };
        let page = Fpage::new(self.remap_slot_addr(i), 12, attr & Fpage::RWX);
        if attr & Fpage::RWX != Fpage::RWX {
            return Ok(self.platform.unmap(page, false).rights());
        }
        self.remap.slots[i].refs -= 1;
        let flush = self.remap.slots[i].refs == 0;
        if flush {
            self.remap.slots[i] = RemapSlot::default();
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
