//! The IPC server: the traits generated from `resourcemon.idl`, implemented
//! over the table of running VMs.
//!
//! Everything here decides; nothing here touches the kernel or raw memory.
//! What the server needs from the machine goes through [`Platform`], which
//! the ia32 runtime implements with system calls and the host tests fake.
//!
//! Isolation (a deliberate improvement over the original, which trusts
//! every caller; spec §6.5, §7.6, §9): every request is first mapped to the
//! caller's VM (§6.1); callers of no VM are refused. A VM may name only
//! threads and spaces of its own thread range in the system-call proxies,
//! only interrupts no other VM owns, and only `ddos` VMs reach devices or
//! another VM's memory. Every refusal is an exception reply the client
//! stubs understand, except where the protocol has no error reply: page
//! faults (no reply: the faulting thread stays blocked, as upstream) and the
//! sigma0-protocol `request_pages` (a nil map item, as sigma0 answers).
//! See `roottask/DIFFERENCES.md` for the full list.

use core::fmt;

use idl::{Fpage, MapItem, ServerError, StringItem, ThreadId, Word};
use l4_sys::KernelError;

use crate::ipc::{iconsole, ilocator, ilogging, iresourcemon, ivmcontrol};
use crate::vm::layout::Layout;
use crate::vm::threads::{ThreadSpaces, MAX_VM};

/// Byte offset of `link_vaddr` in the shared page (§5.3).
const SHARED_LINK_VADDR: u64 = 28;
/// Byte offset of `mem_balloon` in the shared page (§5.3).
const SHARED_MEM_BALLOON: u64 = 96;
/// Locator table size (`UUID_Max_IF`, §7.4).
pub const LOCATOR_SLOTS: usize = 13;
/// The locator id of IVMControl, which the monitor serves itself.
pub const IVMCONTROL_GUID: usize = 8;
/// Longest guest console line kept before it is printed anyway.
pub const GUEST_LINE_MAX: usize = 200;
/// Interrupt numbers the proxies accept (§9.4).
pub const MAX_IRQS: usize = 256;
/// Device frames the remap window holds at once (a 1 MB window: §9.3's
/// "documented equivalent", smaller than the original's 32 MB).
pub const REMAP_SLOTS: usize = 256;
/// Longest block `get_space_block` hands out (§7.7).
pub const MAX_BLOCK: u32 = 4 << 20;
/// Devices listed per VM (the shared page's `devices[]`).
pub const MAX_DEVICES: usize = 16;

/// What the server needs from the machine.
pub trait Platform {
    /// Print a monitor log line (the platform adds the monitor's prefix).
    fn log(&mut self, args: fmt::Arguments<'_>);
    /// Print one complete line of VM `slot`'s console output.
    fn guest_line(&mut self, slot: usize, line: &[u8]);
    /// Store a word into memory the monitor owns (a VM's shared page).
    fn store_word(&mut self, haddr: u64, value: u32);
    /// The ThreadControl system call.
    fn thread_control(
        &mut self,
        dest: ThreadId,
        space: ThreadId,
        scheduler: ThreadId,
        pager: ThreadId,
        utcb_location: Word,
    ) -> Result<(), KernelError>;
    /// The SpaceControl system call.
    fn space_control(
        &mut self,
        space: ThreadId,
        control: Word,
        kip: Fpage,
        utcb: Fpage,
        redirector: ThreadId,
    ) -> Result<(), KernelError>;
    /// The Schedule system call (~0 leaves a value unchanged).
    fn schedule(
        &mut self,
        dest: ThreadId,
        processor: Word,
        priority: Word,
    ) -> Result<(), KernelError>;
    /// Unmap `fpage` (rights to revoke in its rwx bits) from every space
    /// that received it from the monitor; with `flush` also from the
    /// monitor. Returns the fpage with the accessed bits.
    fn unmap(&mut self, fpage: Fpage, flush: bool) -> Fpage;
    /// Map the 4 KB host-physical device frame `phys` at the monitor's
    /// address `at` (from sigma0). False if sigma0 refuses.
    fn map_device_frame(&mut self, phys: Word, at: Word) -> bool;
}

/// One entry of a VM's device list (§5.4): `[low, high]`, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Device {
    /// First byte.
    pub low: Word,
    /// Last byte.
    pub high: Word,
    /// KIP memory type (0 for the terminator).
    pub kind: Word,
}

/// A running (or started) VM, as the server sees it.
#[derive(Clone, Debug)]
pub struct VmEntry {
    /// Address translations (§3.2).
    pub layout: Layout,
    /// Host address of the VM's shared page.
    pub shared_haddr: u64,
    /// `ddos`: device access and client memory (§8.4).
    pub device_access: bool,
    /// The device list the monitor wrote into the shared page. The monitor
    /// decides from this copy, never from the guest-writable page.
    pub devices: heapless::Vec<Device, MAX_DEVICES>,
    /// Console output not yet ended by a newline.
    pub line: heapless::Vec<u8, GUEST_LINE_MAX>,
}

impl VmEntry {
    /// A VM entry with an empty console line.
    pub fn new(
        layout: Layout,
        shared_haddr: u64,
        device_access: bool,
        devices: &[Device],
    ) -> VmEntry {
        let mut list = heapless::Vec::new();
        for d in devices.iter().take(MAX_DEVICES) {
            let _ = list.push(*d);
        }
        VmEntry {
            layout,
            shared_haddr,
            device_access,
            devices: list,
            line: heapless::Vec::new(),
        }
    }

    /// Is `[start, start + size)` device memory for this VM (§8.2 step 4)?
    /// Below 1 MB, or inside one of the VM's device entries.
    pub fn is_device(&self, start: u64, size: u64) -> bool {
        let last = start.saturating_add(size.max(1) - 1);
        if last < 0x10_0000 {
            return true;
        }
        self.devices
            .iter()
            .any(|d| start >= u64::from(d.low) && last <= u64::from(d.high))
    }
}

/// Counters for the boot report and the soak scenario.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Page faults answered with a mapping.
    pub faults_served: u64,
    /// request_pages answered with a mapping.
    pub pages_requested: u64,
    /// Requests of every kind that reached the dispatcher.
    pub requests: u64,
    /// Requests refused (no reply, a nil item, or an exception).
    pub refused: u64,
}

/// A frame in the device remap window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct RemapSlot {
    frame: Word,
    refs: u16,
}

/// The monitor's IPC state.
pub struct Monitor<P: Platform> {
    /// The machine.
    pub platform: P,
    /// VM slots; slot 0 is the monitor itself and never holds a VM.
    pub vms: [Option<VmEntry>; MAX_VM],
    /// Thread-number ranges (§6.1).
    pub spaces: ThreadSpaces,
    /// ILocator's table.
    pub locator: [ThreadId; LOCATOR_SLOTS],
    /// Owner slot of each interrupt (0 = free).
    irq_owner: [u8; MAX_IRQS],
    /// Interrupt lines the kernel has (KIP SystemBase).
    pub irq_lines: u32,
    /// Base of the device remap window in the monitor's space.
    pub remap_base: Word,
    remap: [RemapSlot; REMAP_SLOTS],
    /// Set by `client_init_complete` from the VM the start sequence waits
    /// for; the runtime starts the next VM and clears it.
    pub init_complete: Option<usize>,
    /// The slot whose `client_init_complete` the start sequence waits for.
    pub waiting_for: Option<usize>,
    /// Counters.
    pub stats: Stats,
}

type RmResult<T> = Result<T, ServerError<iresourcemon::Exception>>;
use iresourcemon::Exception as RmX;

impl<P: Platform> Monitor<P> {
    /// A monitor with no VMs; it registers itself as the IVMControl server.
    pub fn new(platform: P, spaces: ThreadSpaces, irq_lines: u32, remap_base: Word) -> Monitor<P> {
        let mut locator = [ThreadId::NIL; LOCATOR_SLOTS];
        locator[IVMCONTROL_GUID] = ThreadId(spaces.monitor_tid().0);
        Monitor {
            platform,
            vms: core::array::from_fn(|_| None),
            spaces,
            locator,
            irq_owner: [0; MAX_IRQS],
            irq_lines,
            remap_base,
            remap: [RemapSlot::default(); REMAP_SLOTS],
            init_complete: None,
            waiting_for: None,
            stats: Stats::default(),
        }
    }

    /// The monitor's own thread id.
    pub fn monitor_tid(&self) -> ThreadId {
        ThreadId(self.spaces.monitor_tid().0)
    }

    /// The VM slot of `tid`, if it belongs to a running VM.
    pub fn caller_vm(&self, tid: ThreadId) -> Option<usize> {
        let tid = l4_sys::ThreadId(tid.0);
        self.spaces.tid_to_vm(tid, |slot| {
            slot != 0 && self.vms.get(slot).is_some_and(Option::is_some)
        })
    }

    fn vm(&self, slot: usize) -> &VmEntry {
        self.vms[slot]
            .as_ref()
            .expect("callers pass slots from caller_vm")
    }

    /// The caller's slot, or `err` (counted and logged) if it has none.
    fn vm_of<E>(
        &mut self,
        caller: ThreadId,
        op: &str,
        err: ServerError<E>,
    ) -> Result<usize, ServerError<E>> {
        match self.caller_vm(caller) {
            Some(slot) => Ok(slot),
            None => {
                self.stats.refused += 1;
                self.platform.log(format_args!(
                    "{op}: refused: caller {:#x} belongs to no VM",
                    caller.0
                ));
                Err(err)
            }
        }
    }

    /// Count and log a refusal, returning `err`.
    fn refuse<E>(
        &mut self,
        slot: usize,
        err: ServerError<E>,
        why: fmt::Arguments<'_>,
    ) -> ServerError<E> {
        self.stats.refused += 1;
        self.platform.log(format_args!("vm {slot}: refused: {why}"));
        err
    }

    /// Is `t` nil or a thread of VM `slot`?
    fn own_or_nil(&self, slot: usize, t: ThreadId) -> bool {
        t.0 == 0 || self.caller_vm(t) == Some(slot)
    }

    /// A nil map item: the sigma0 protocol's "no" (`request_pages`).
    fn nil_item(&mut self, slot: usize, why: fmt::Arguments<'_>) -> MapItem {
        self.stats.refused += 1;
        self.platform
            .log(format_args!("vm {slot}: refused: {why}; nil fpage"));
        MapItem::map(0, Fpage::NIL)
    }

    /// §7.6 ThreadControl step 4: set priority and processor, making the
    /// monitor the thread's scheduler for a moment if it is not.
    fn schedule_with_fallback(
        &mut self,
        dest: ThreadId,
        sched: ThreadId,
        pager: ThreadId,
        prio: Word,
        cpu: Word,
    ) -> bool {
        if self.platform.schedule(dest, cpu, prio).is_ok() {
            return true;
        }
        if pager.0 == 0 {
            return false;
        }
        let me = self.monitor_tid();
        if self
            .platform
            .thread_control(dest, dest, me, me, !0)
            .is_err()
        {
            return false;
        }
        let ok = self.platform.schedule(dest, cpu, prio).is_ok();
        let _ = self.platform.thread_control(dest, dest, sched, pager, !0);
        ok
    }

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

    /// IVMControl and the inherited-interface checks: the caller's own VM
    /// or a `ddos` VM may look at `space`.
    fn may_inspect(&self, slot: usize, space: usize) -> bool {
        slot == space || self.vm(slot).device_access
    }
}

impl<P: Platform> ilocator::Server for Monitor<P> {
    fn query_interface(
        &mut self,
        _caller: ThreadId,
        guid: ilocator::Guid,
    ) -> Result<ThreadId, ServerError<ilocator::Exception>> {
        self.stats.requests += 1;
        match self.locator.get(guid as usize) {
            Some(tid) if tid.0 != 0 => Ok(*tid),
            _ => Err(ServerError::Exception(
                ilocator::Exception::UnknownInterface,
            )),
        }
    }

    fn register_interface(
        &mut self,
        caller: ThreadId,
        guid: ilocator::Guid,
        tid: ThreadId,
    ) -> Result<(), ServerError<ilocator::Exception>> {
        self.stats.requests += 1;
        let slot = self.vm_of(
            caller,
            "register_interface",
            ilocator::Exception::NoPermission.into(),
        )?;
        let index = guid as usize;
        if index >= LOCATOR_SLOTS || index == IVMCONTROL_GUID {
            return Err(self.refuse(
                slot,
                ilocator::Exception::InvalidGuidFormat.into(),
                format_args!("register_interface: guid {guid} is not a guest interface id"),
            ));
        }
        if self.caller_vm(tid) != Some(slot) {
            return Err(self.refuse(
                slot,
                ilocator::Exception::NoPermission.into(),
                format_args!(
                    "register_interface: {:#x} is not a thread of this VM",
                    tid.0
                ),
            ));
        }
        self.locator[index] = tid;
        Ok(())
    }
}

impl<P: Platform> iconsole::Server for Monitor<P> {
    fn put_chars(
        &mut self,
        caller: ThreadId,
        _handle: iconsole::Handle,
        stream: &iconsole::Stream,
    ) -> Result<(), ServerError<iconsole::Exception>> {
        self.stats.requests += 1;
        let slot = self.vm_of(
            caller,
            "put_chars",
            iconsole::Exception::UnknownClient.into(),
        )?;
        let n = (stream.len as usize).min(stream.raw.len());
        for &b in &stream.raw[..n] {
            let vm = self.vms[slot].as_mut().expect("vm_of checked the slot");
            let full = match b {
                b'\n' => true,
                b'\r' => false,
                b => vm.line.push(if b == 0 { b' ' } else { b }).is_err(),
            };
            if full {
                let line = core::mem::take(&mut vm.line);
                self.platform.guest_line(slot, &line);
                if b != b'\n' {
                    let vm = self.vms[slot].as_mut().expect("vm_of checked the slot");
                    let _ = vm.line.push(b);
                }
            }
        }
        Ok(())
    }

    fn get_chars(
        &mut self,
        caller: ThreadId,
        _handle: iconsole::Handle,
    ) -> Result<iconsole::Stream, ServerError<iconsole::Exception>> {
        self.stats.requests += 1;
        self.vm_of(
            caller,
            "get_chars",
            iconsole::Exception::UnknownClient.into(),
        )?;
        // No console input is routed to guests: always an empty stream (§7.5).
        Ok(iconsole::Stream::zeroed())
    }
}

impl<P: Platform> ilogging::Server for Monitor<P> {
    fn request_log_control_regs(
        &mut self,
        caller: ThreadId,
        _cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        // Pistachio without its `logging` feature has no log regions: the
        // nil item, which the original sends for out-of-range CPUs (§7.5).
        self.stats.requests += 1;
        self.vm_of(caller, "request_log_control_regs", ServerError::NoReply)?;
        Ok(MapItem::map(0, Fpage::NIL))
    }

    fn request_logfiles(
        &mut self,
        caller: ThreadId,
        _cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.stats.requests += 1;
        self.vm_of(caller, "request_logfiles", ServerError::NoReply)?;
        Ok(MapItem::map(0, Fpage::NIL))
    }
}

impl<P: Platform> iresourcemon::Server for Monitor<P> {
    fn pagefault(
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
            return Err(self.refuse(
                slot,
                ServerError::NoReply,
                format_args!(
                    "page fault for invalid address {addr:#010x} (ip {ip:#010x}); no mapping"
                ),
            ));
        };
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

    fn register_pdirptr(&mut self, caller: ThreadId, _addr: Word) -> RmResult<()> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "register_pdirptr", RmX::UnknownClient.into())?;
        Err(self.refuse(
            slot,
            RmX::NotSupported.into(),
            format_args!("register_pdirptr is not supported"),
        ))
    }

    fn client_init_complete(&mut self, caller: ThreadId) {
        self.stats.requests += 1;
        // Difference from the original: only the VM the start sequence waits
        // for advances it, once; stray or repeated messages are logged.
        match self.caller_vm(caller) {
            Some(slot) if self.waiting_for == Some(slot) => {
                self.waiting_for = None;
                self.init_complete = Some(slot);
            }
            Some(slot) => self.platform.log(format_args!(
                "vm {slot}: client_init_complete ignored (not awaited)"
            )),
            None => self.platform.log(format_args!(
                "client_init_complete from {:#x} ignored: no VM",
                caller.0
            )),
        }
    }

    fn request_pages(&mut self, caller: ThreadId, req_fp: Fpage, _attr: Word) -> RmResult<MapItem> {
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
        let (addr, log2) = (req_fp.base(), req_fp.size_log2());
        // Inside the VM, and the host frame aligned to its size (VM blocks
        // are 4 MB aligned, so pages up to 4 MB).
        let size = 1u64 << log2.min(32);
        match layout.gpaddr_to_haddr(addr) {
            Some(h)
                if (12..=22).contains(&log2)
                    && layout.contains_gp_range(addr, size)
                    && h % size == 0 =>
            {
                self.stats.pages_requested += 1;
                Ok(MapItem::map(addr, Fpage::new(h as Word, log2, Fpage::RWX)))
            }
            _ => Ok(self.nil_item(
                slot,
                format_args!(
                    "request_pages for {addr:#x}/2^{log2} outside the VM ({} bytes)",
                    layout.size
                ),
            )),
        }
    }

    fn request_device(
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

    fn unmap_device(&mut self, caller: ThreadId, req_fp: Fpage, attr: Word) -> RmResult<Word> {
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

    fn request_client_pages(
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
        let layout = self.vm(client_slot).layout;
        let (addr, log2) = (req_fp.base(), req_fp.size_log2());
        let size = 1u64 << log2.min(32);
        match layout.gpaddr_to_haddr(addr) {
            // Difference: the original allows one byte past the client's end.
            Some(h)
                if (12..=22).contains(&log2)
                    && layout.contains_gp_range(addr, size)
                    && h % size == 0 =>
            {
                self.platform.log(format_args!(
                    "vm {slot}: maps vm {client_slot} memory {addr:#x}/2^{log2}"
                ));
                Ok(MapItem::map(addr, Fpage::new(h as Word, log2, Fpage::RWX)))
            }
            _ => Err(RmX::InvalidMemRegion.into()),
        }
    }

    fn thread_control(
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
        if let Err(e) = self
            .platform
            .thread_control(dest, space, sched, pager, utcb_location)
        {
            return Err(kernel_exception(e));
        }
        if space.0 != 0
            && (prio != !0 || cpu != 0)
            && !self.schedule_with_fallback(dest, sched, pager, prio, cpu)
        {
            self.platform.log(format_args!(
                "vm {slot}: ThreadControl: Schedule({:#x}, prio {prio}, cpu {cpu}) failed",
                dest.0
            ));
            return Ok(0);
        }
        Ok(1)
    }

    fn space_control(
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

    fn associate_interrupt(
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
        if (irq_prio != 0xff || irq_cpu != 0)
            && !self.schedule_with_fallback(handler, handler, handler, irq_prio, irq_cpu)
        {
            self.platform.log(format_args!(
                "vm {slot}: AssociateInterrupt {irq}: Schedule of the handler failed"
            ));
        }
        self.irq_owner[irq] = slot as u8;
        Ok(1)
    }

    fn deassociate_interrupt(&mut self, caller: ThreadId, irq_tid: ThreadId) -> RmResult<i32> {
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
        Ok(1)
    }

    fn get_client_phys_range(
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

    fn get_space_phys_range(&mut self, caller: ThreadId, space_id: Word) -> RmResult<(Word, Word)> {
        // Host ranges are information, not memory: any VM may ask (as upstream).
        self.stats.requests += 1;
        self.vm_of(caller, "get_space_phys_range", RmX::UnknownClient.into())?;
        match self.vms.get(space_id as usize) {
            Some(Some(vm)) => Ok((vm.layout.haddr_base as Word, vm.layout.size)),
            Some(None) => Ok((0, 0)),
            None => Err(RmX::UnknownClient.into()),
        }
    }

    fn set_virtual_offset(&mut self, caller: ThreadId, new_offset: Word) -> RmResult<()> {
        self.stats.requests += 1;
        let slot = self.vm_of(caller, "set_virtual_offset", RmX::UnknownClient.into())?;
        let vm = self.vms[slot].as_mut().expect("vm_of checked the slot");
        vm.layout.set_virtual_offset(new_offset);
        let at = vm.shared_haddr + SHARED_LINK_VADDR;
        self.platform.store_word(at, new_offset);
        Ok(())
    }

    fn tid_to_space_id(&mut self, _caller: ThreadId, tid: ThreadId) -> RmResult<Word> {
        self.stats.requests += 1;
        match self.caller_vm(tid) {
            Some(slot) => Ok(slot as Word),
            None => Err(RmX::UnknownClient.into()),
        }
    }

    fn clone_vm(&mut self, caller: ThreadId, _tid: ThreadId, _resume: Word) -> RmResult<()> {
        self.migration_unsupported(caller, "clone_vm")
    }

    fn get_vm_space(&mut self, caller: ThreadId, _space_id: Word) -> RmResult<MapItem> {
        self.migration_unsupported(caller, "get_vm_space")
            .map(|()| MapItem::map(0, Fpage::NIL))
    }

    fn vm_info(&mut self, caller: ThreadId, _space_id: Word) -> RmResult<MapItem> {
        self.migration_unsupported(caller, "vm_info")
            .map(|()| MapItem::map(0, Fpage::NIL))
    }

    fn allocate_vm(&mut self, caller: ThreadId) -> RmResult<()> {
        self.migration_unsupported(caller, "allocate_vm")
    }

    fn delete_vm(&mut self, caller: ThreadId, _space_id: Word) -> RmResult<()> {
        self.migration_unsupported(caller, "delete_vm")
    }

    fn set_vm_space(&mut self, caller: ThreadId, _space_id: Word, _fp: Word) -> RmResult<()> {
        self.migration_unsupported(caller, "set_vm_space")
    }

    fn resume_vm(&mut self, caller: ThreadId, _space_id: Word) -> RmResult<()> {
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
        self.stats.requests += 1;
        let slot = self.vm_of(
            caller,
            "IVMControl.get_space_phys_range",
            ivmcontrol::Exception::UnknownClient.into(),
        )?;
        let space = space_id as usize;
        if space >= MAX_VM || !self.may_inspect(slot, space) {
            return Err(self.refuse(
                slot,
                ivmcontrol::Exception::NoPermission.into(),
                format_args!("IVMControl.get_space_phys_range of vm {space_id}"),
            ));
        }
        Ok(self.vms[space]
            .as_ref()
            .map_or((0, 0), |vm| (vm.layout.haddr_base as Word, vm.layout.size)))
    }

    fn get_space_block(
        &mut self,
        caller: ThreadId,
        space_id: Word,
        offset: Word,
        request_size: Word,
    ) -> VmcResult<StringItem> {
        self.stats.requests += 1;
        let slot = self.vm_of(
            caller,
            "get_space_block",
            ivmcontrol::Exception::UnknownClient.into(),
        )?;
        let space = space_id as usize;
        if space >= MAX_VM || !self.may_inspect(slot, space) {
            return Err(self.refuse(
                slot,
                ivmcontrol::Exception::NoPermission.into(),
                format_args!("get_space_block of vm {space_id}"),
            ));
        }
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

/// Dispatch one request to the main thread's interfaces: IResourcemon with
/// its bases, then IVMControl (which the original serves on a helper thread).
pub fn dispatch<P: Platform>(
    monitor: &mut Monitor<P>,
    caller: ThreadId,
    msg: &mut idl::Message,
) -> idl::Reply {
    let label = msg.tag().label();
    if label >> 6 == ivmcontrol::IID {
        return ivmcontrol::dispatch(monitor, caller, msg);
    }
    iresourcemon::dispatch(monitor, caller, msg)
}

/// A kernel error code as the proxies report it (error + 5, §7.6).
fn kernel_exception(e: KernelError) -> ServerError<iresourcemon::Exception> {
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
