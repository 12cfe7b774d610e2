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
//! `roottask/DIFFERENCES.md` lists every difference from the original.

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
    /// What each VM asked, by kind (the idle `served:` report).
    pub served: crate::served::Served,
    logged_refusals: [u32; MAX_VM],
}

/// Refusals logged per VM before the log goes quiet.
pub const LOGGED_REFUSALS: u32 = 32;

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
            served: crate::served::Served::default(),
            logged_refusals: [0; MAX_VM],
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

    /// Count and log a refusal, returning `err`. Each VM's first
    /// [`LOGGED_REFUSALS`] refusals are logged; after that only counted, so
    /// a hostile guest cannot flood the console.
    fn refuse<E>(
        &mut self,
        slot: usize,
        err: ServerError<E>,
        why: fmt::Arguments<'_>,
    ) -> ServerError<E> {
        self.stats.refused += 1;
        let logged = &mut self.logged_refusals[slot % MAX_VM];
        if *logged < LOGGED_REFUSALS {
            *logged += 1;
            let last = *logged == LOGGED_REFUSALS;
            self.platform.log(format_args!("vm {slot}: refused: {why}"));
            if last {
                self.platform.log(format_args!(
                    "vm {slot}: further refusals are counted, not logged"
                ));
            }
        }
        err
    }

    /// Is `t` nil or a thread of VM `slot`?
    fn own_or_nil(&self, slot: usize, t: ThreadId) -> bool {
        t.0 == 0 || self.caller_vm(t) == Some(slot)
    }

    /// A nil map item: the sigma0 protocol's "no" (`request_pages`).
    fn nil_item(&mut self, slot: usize, why: fmt::Arguments<'_>) -> MapItem {
        let _: ServerError<()> =
            self.refuse(slot, ServerError::NoReply, format_args!("{why}; nil fpage"));
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

/// Pistachio without its `logging` feature has no log regions: both calls
/// answer the nil item, which the original sends for out-of-range CPUs
/// (§7.5), to callers of a VM.
impl<P: Platform> ilogging::Server for Monitor<P> {
    fn request_log_control_regs(
        &mut self,
        caller: ThreadId,
        _cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.no_log_region(caller, "request_log_control_regs")
    }

    fn request_logfiles(
        &mut self,
        caller: ThreadId,
        _cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.no_log_region(caller, "request_logfiles")
    }
}

impl<P: Platform> Monitor<P> {
    fn no_log_region(
        &mut self,
        caller: ThreadId,
        op: &str,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.stats.requests += 1;
        self.vm_of(caller, op, ServerError::NoReply)?;
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
        // Difference: the original allows one byte past the client's end.
        let item = ram_item(&self.vm(client_slot).layout, req_fp).ok_or(RmX::InvalidMemRegion)?;
        self.platform.log(format_args!(
            "vm {slot}: maps vm {client_slot} memory {:#x}/2^{}",
            req_fp.base(),
            req_fp.size_log2()
        ));
        Ok(item)
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
        let space = self.inspectable(caller, space_id, "IVMControl.get_space_phys_range")?;
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
        if space >= MAX_VM || !self.may_inspect(slot, space) {
            return Err(self.refuse(
                slot,
                ivmcontrol::Exception::NoPermission.into(),
                format_args!("{op} of vm {space_id}"),
            ));
        }
        Ok(space)
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
    let slot = monitor.caller_vm(caller);
    let refused_before = monitor.stats.refused;
    let reply = if label >> 6 == ivmcontrol::IID {
        ivmcontrol::dispatch(monitor, caller, msg)
    } else {
        iresourcemon::dispatch(monitor, caller, msg)
    };
    let refused =
        monitor.stats.refused != refused_before || matches!(reply, idl::Reply::Rejected(_));
    let op = crate::served::Op::from_label(u64::from(label));
    monitor.served.record(slot, op, refused);
    reply
}

/// The map item for guest-physical `req_fp` of a VM with `layout`: the
/// fpage must lie inside the VM, be 4 KB to 4 MB, and its host frame be
/// aligned to its size (VM blocks are 4 MB aligned). Always rwx, send base
/// the guest-physical address (§7.6 request_pages, request_client_pages).
fn ram_item(layout: &Layout, req_fp: Fpage) -> Option<MapItem> {
    let (addr, log2) = (req_fp.base(), req_fp.size_log2());
    let size = 1u64 << log2.min(32);
    let h = layout.gpaddr_to_haddr(addr)?;
    let ok = (12..=22).contains(&log2) && layout.contains_gp_range(addr, size) && h % size == 0;
    ok.then(|| MapItem::map(addr, Fpage::new(h as Word, log2, Fpage::RWX)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::iconsole::Server as _;
    use crate::ipc::ilocator::Server as _;
    use crate::ipc::iresourcemon::Server as _;
    use crate::ipc::ivmcontrol::Server as _;
    use std::string::String;
    use std::vec::Vec;

    /// Records every machine operation the server asks for.
    #[derive(Default)]
    struct Fake {
        log: Vec<String>,
        lines: Vec<(usize, Vec<u8>)>,
        words: Vec<(u64, u32)>,
        thread_controls: Vec<[Word; 4]>,
        unmaps: Vec<(Word, bool)>,
        device_maps: Vec<(Word, Word)>,
        refuse_device: bool,
    }

    impl Platform for Fake {
        fn log(&mut self, args: fmt::Arguments<'_>) {
            self.log.push(std::format!("{args}"));
        }
        fn guest_line(&mut self, slot: usize, line: &[u8]) {
            self.lines.push((slot, line.to_vec()));
        }
        fn store_word(&mut self, haddr: u64, value: u32) {
            self.words.push((haddr, value));
        }
        fn thread_control(
            &mut self,
            d: ThreadId,
            s: ThreadId,
            sc: ThreadId,
            p: ThreadId,
            _u: Word,
        ) -> Result<(), KernelError> {
            self.thread_controls.push([d.0, s.0, sc.0, p.0]);
            Ok(())
        }
        fn space_control(
            &mut self,
            _: ThreadId,
            _: Word,
            _: Fpage,
            _: Fpage,
            _: ThreadId,
        ) -> Result<(), KernelError> {
            Ok(())
        }
        fn schedule(&mut self, _: ThreadId, _: Word, _: Word) -> Result<(), KernelError> {
            Ok(())
        }
        fn unmap(&mut self, fpage: Fpage, flush: bool) -> Fpage {
            self.unmaps.push((fpage.0, flush));
            Fpage((fpage.0 & !Fpage::RWX) | Fpage::R)
        }
        fn map_device_frame(&mut self, phys: Word, at: Word) -> bool {
            self.device_maps.push((phys, at));
            !self.refuse_device
        }
    }

    const UB: u32 = 48;
    const BASE: u32 = UB + 2;

    fn tid(slot: u32, offset: u32) -> ThreadId {
        ThreadId(((BASE + 4096 * slot + offset) << 14) | 2)
    }

    /// VM 1: 16 MB at 0x100_0000; VM 2 (ddos): 16 MB at 0x200_0000.
    fn monitor() -> Monitor<Fake> {
        let mut m = Monitor::new(
            Fake::default(),
            ThreadSpaces::from_user_base(UB),
            16,
            0xbe00_0000,
        );
        let terminator = Device {
            low: 0x0fff_ffff,
            high: 0xffff_ffff,
            kind: 0,
        };
        let vga = Device {
            low: 0xa_0000,
            high: 0xb_ffff,
            kind: 4,
        };
        m.vms[1] = Some(VmEntry::new(
            Layout::new(0x100_0000, 16 << 20, 0, 0),
            0x180_0000,
            false,
            &[vga, terminator],
        ));
        m.vms[2] = Some(VmEntry::new(
            Layout::new(0x200_0000, 16 << 20, 0, 0),
            0x280_0000,
            true,
            &[vga, terminator],
        ));
        m
    }

    fn x<T: fmt::Debug>(r: RmResult<T>) -> RmX {
        match r {
            Err(ServerError::Exception(e)) => e,
            other => panic!("expected an exception, got {other:?}"),
        }
    }

    #[test]
    fn page_faults_translate_or_stay_unanswered() {
        let mut m = monitor();
        let item = m.pagefault(tid(1, 0), 0x3456, 0x1000, 2).unwrap();
        assert_eq!(item, MapItem::map(0x3000, Fpage::new(0x100_3000, 12, 2)));
        assert_eq!(
            m.pagefault(tid(1, 0), 0x200_0000, 0x1000, 4),
            Err(ServerError::NoReply)
        );
        assert_eq!(
            m.pagefault(ThreadId((7 << 14) | 1), 0x1000, 0, 4),
            Err(ServerError::NoReply)
        );
        assert_eq!(m.stats.faults_served, 1);
        assert_eq!(m.stats.refused, 2);
    }

    #[test]
    fn request_pages_maps_own_memory_or_answers_nil() {
        let mut m = monitor();
        let item = m
            .request_pages(tid(1, 3), Fpage::new(0x10_0000, 16, 0), 7)
            .unwrap();
        assert_eq!(item, MapItem::map(0x10_0000, Fpage::new(0x110_0000, 16, 7)));
        let nil = MapItem::map(0, Fpage::NIL);
        assert_eq!(
            m.request_pages(tid(1, 3), Fpage::new(0x100_0000, 12, 0), 7)
                .unwrap(),
            nil,
            "beyond 16 MB"
        );
        assert_eq!(
            m.request_pages(tid(1, 3), Fpage::new(0, 24, 0), 7).unwrap(),
            nil,
            "larger than 4 MB"
        );
        assert_eq!(
            m.request_pages(ThreadId((7 << 14) | 1), Fpage::new(0, 12, 0), 7)
                .unwrap(),
            nil,
            "no VM"
        );
    }

    #[test]
    fn thread_control_is_confined_to_the_callers_range() {
        let mut m = monitor();
        let (me, own, other) = (m.monitor_tid(), tid(1, 0), tid(2, 0));
        assert_eq!(
            m.thread_control(own, tid(1, 1), own, own, me, 0x1000, !0, 0),
            Ok(1)
        );
        assert_eq!(m.platform.thread_controls.len(), 1);
        for (dest, space, sched, pager) in [
            (other, other, other, me),
            (tid(1, 1), other, own, me),
            (tid(1, 1), own, other, me),
            (tid(1, 1), own, own, other),
            (me, me, me, me),
            (ThreadId(0), own, own, me),
        ] {
            assert_eq!(
                x(m.thread_control(own, dest, space, sched, pager, !0, !0, 0)),
                RmX::ErrNoPrivilege
            );
        }
        assert_eq!(
            x(m.space_control(own, other, 0, Fpage::NIL, Fpage::NIL, ThreadId(0))),
            RmX::ErrNoPrivilege
        );
        assert_eq!(
            m.space_control(own, tid(1, 9), 0, Fpage::NIL, Fpage::NIL, ThreadId(0)),
            Ok(1)
        );
        assert_eq!(
            m.platform.thread_controls.len(),
            1,
            "refused calls never reach the kernel"
        );
    }

    #[test]
    fn interrupts_belong_to_the_first_vm_that_claims_them() {
        let mut m = monitor();
        let irq10 = ThreadId((10 << 14) | 1);
        assert_eq!(
            m.associate_interrupt(tid(1, 0), irq10, tid(1, 0), 0xff, 0),
            Ok(1)
        );
        assert_eq!(
            m.platform.thread_controls[0],
            [irq10.0, irq10.0, 0, tid(1, 0).0]
        );
        assert_eq!(
            x(m.associate_interrupt(tid(2, 0), irq10, tid(2, 0), 0xff, 0)),
            RmX::ErrNoPrivilege
        );
        assert_eq!(
            x(m.deassociate_interrupt(tid(2, 0), irq10)),
            RmX::ErrNoPrivilege
        );
        assert_eq!(
            x(m.associate_interrupt(tid(1, 0), ThreadId((11 << 14) | 1), tid(2, 0), 0xff, 0)),
            RmX::ErrNoPrivilege,
            "handler in another VM"
        );
        assert_eq!(
            x(m.associate_interrupt(tid(1, 0), ThreadId((16 << 14) | 1), tid(1, 0), 0xff, 0)),
            RmX::ErrInvalidThread,
            "beyond SystemBase"
        );
        assert_eq!(m.deassociate_interrupt(tid(1, 0), irq10), Ok(1));
        assert_eq!(
            m.associate_interrupt(tid(2, 0), irq10, tid(2, 0), 0xff, 0),
            Ok(1)
        );
    }

    #[test]
    fn devices_only_for_ddos_through_the_remap_window() {
        let mut m = monitor();
        let vga = Fpage::new(0xb_8000, 12, 7);
        assert_eq!(x(m.request_device(tid(1, 0), vga, 7)), RmX::NoPermission);
        assert_eq!(x(m.unmap_device(tid(1, 0), vga, 7)), RmX::NoPermission);
        let item = m.request_device(tid(2, 0), vga, 7).unwrap();
        assert_eq!(item, MapItem::map(0xb_8000, Fpage::new(0xbe00_0000, 12, 7)));
        assert_eq!(
            m.request_device(tid(2, 0), vga, 7).unwrap(),
            item,
            "same frame, same slot"
        );
        assert_eq!(m.platform.device_maps, [(0xb_8000, 0xbe00_0000)]);
        let high = Fpage::new(0x1000_0000, 12, 7);
        assert_eq!(
            m.request_device(tid(2, 0), high, 7).unwrap().fpage.base(),
            0xbe00_1000
        );
        // Guest RAM is a "fake device": the VM's own frame.
        let ram = m
            .request_device(tid(2, 0), Fpage::new(0x20_0000, 12, 7), 7)
            .unwrap();
        assert_eq!(ram.fpage.base(), 0x220_0000);
        // Neither device nor inside the VM.
        assert_eq!(
            x(m.request_device(tid(2, 0), Fpage::new(0x0800_0000, 12, 7), 7)),
            RmX::InvalidMemRegion
        );
        m.platform.refuse_device = true;
        assert_eq!(
            x(m.request_device(tid(2, 0), Fpage::new(0x1000_1000, 12, 7), 7)),
            RmX::InvalidMemRegion
        );
        // Unmapping: the last reference flushes the window page.
        assert_eq!(m.unmap_device(tid(2, 0), vga, 7), Ok(Fpage::R));
        assert_eq!(m.unmap_device(tid(2, 0), vga, 7), Ok(Fpage::R));
        assert_eq!(
            m.platform.unmaps,
            [(0xbe00_00c7, false), (0xbe00_00c7, true)]
        );
        assert_eq!(x(m.unmap_device(tid(2, 0), vga, 7)), RmX::DeviceNotMapped);
    }

    #[test]
    fn client_pages_only_for_ddos_and_inside_the_client() {
        let mut m = monitor();
        let fp = Fpage::new(0x5000, 12, 7);
        assert_eq!(
            x(m.request_client_pages(tid(1, 0), tid(2, 0), fp)),
            RmX::NoPermission
        );
        let item = m.request_client_pages(tid(2, 0), tid(1, 4), fp).unwrap();
        assert_eq!(item, MapItem::map(0x5000, Fpage::new(0x100_5000, 12, 7)));
        assert_eq!(
            x(m.request_client_pages(tid(2, 0), ThreadId((3 << 14) | 1), fp)),
            RmX::UnknownClient
        );
        assert_eq!(
            x(m.request_client_pages(tid(2, 0), tid(1, 0), Fpage::new(0xfff_f000, 13, 7))),
            RmX::InvalidMemRegion
        );
    }

    #[test]
    fn locator_and_vm_control_respect_ownership() {
        let mut m = monitor();
        use crate::ipc::ilocator::Exception as L;
        use crate::ipc::ivmcontrol::Exception as V;
        assert_eq!(m.query_interface(tid(1, 0), 8), Ok(m.monitor_tid()));
        assert_eq!(
            m.query_interface(tid(1, 0), 3),
            Err(ServerError::Exception(L::UnknownInterface))
        );
        assert_eq!(
            m.register_interface(tid(1, 0), 3, tid(2, 0)),
            Err(ServerError::Exception(L::NoPermission))
        );
        assert_eq!(
            m.register_interface(tid(1, 0), 99, tid(1, 0)),
            Err(ServerError::Exception(L::InvalidGuidFormat))
        );
        assert_eq!(
            m.register_interface(tid(1, 0), 8, tid(1, 0)),
            Err(ServerError::Exception(L::InvalidGuidFormat))
        );
        assert_eq!(m.register_interface(tid(2, 0), 3, tid(2, 5)), Ok(()));
        assert_eq!(m.query_interface(tid(1, 0), 3), Ok(tid(2, 5)));
        assert_eq!(
            m.get_space_block(tid(1, 0), 2, 0, 4096),
            Err(ServerError::Exception(V::NoPermission))
        );
        assert_eq!(
            m.get_space_block(tid(1, 0), 1, 0x1000, 4096),
            Ok(StringItem {
                addr: 0x100_1000,
                len: 4096
            })
        );
        assert_eq!(
            m.get_space_block(tid(2, 0), 1, 0, 64 << 20),
            Ok(StringItem {
                addr: 0x100_0000,
                len: MAX_BLOCK
            })
        );
        assert_eq!(
            ivmcontrol::Server::get_space_phys_range(&mut m, tid(1, 0), 2),
            Err(ServerError::Exception(V::NoPermission))
        );
        ivmcontrol::Server::set_memballoon(&mut m, tid(1, 0), 0x1000, 2);
        ivmcontrol::Server::set_memballoon(&mut m, tid(1, 0), 0x1000, 1);
        assert_eq!(m.platform.words, [(0x180_0000 + 96, 0x1000)]);
    }

    #[test]
    fn console_lines_are_assembled_per_vm() {
        let mut m = monitor();
        let mut s = iconsole::Stream::zeroed();
        s.raw[..6].copy_from_slice(b"ab\ncd\0");
        s.len = 6;
        m.put_chars(tid(1, 0), 0, &s).unwrap();
        s.raw[..2].copy_from_slice(b"e\n");
        s.len = 2;
        m.put_chars(tid(1, 0), 0, &s).unwrap();
        assert_eq!(
            m.platform.lines,
            [(1, b"ab".to_vec()), (1, b"cd e".to_vec())]
        );
        assert_eq!(
            m.put_chars(ThreadId((7 << 14) | 1), 0, &s),
            Err(ServerError::Exception(iconsole::Exception::UnknownClient))
        );
    }

    #[test]
    fn refusal_logging_is_bounded_per_vm() {
        let mut m = monitor();
        let other = tid(2, 0);
        for _ in 0..100 {
            let _ = m.space_control(tid(1, 0), other, 0, Fpage::NIL, Fpage::NIL, ThreadId(0));
        }
        assert_eq!(m.stats.refused, 100);
        let vm1 = m
            .platform
            .log
            .iter()
            .filter(|l| l.starts_with("vm 1: "))
            .count();
        assert_eq!(
            vm1,
            LOGGED_REFUSALS as usize + 1,
            "32 refusals and one note"
        );
        let _ = m.space_control(tid(2, 0), tid(1, 0), 0, Fpage::NIL, Fpage::NIL, ThreadId(0));
        assert!(
            m.platform
                .log
                .last()
                .unwrap()
                .starts_with("vm 2: refused: "),
            "other VMs still log"
        );
    }

    #[test]
    fn only_the_awaited_vm_advances_the_start_sequence() {
        let mut m = monitor();
        m.waiting_for = Some(2);
        m.client_init_complete(tid(1, 0));
        assert_eq!(m.init_complete, None);
        m.client_init_complete(tid(2, 7));
        assert_eq!(m.init_complete, Some(2));
        m.init_complete = None;
        m.client_init_complete(tid(2, 7));
        assert_eq!(m.init_complete, None, "a repeated message is ignored");
    }

    #[test]
    fn refusals_travel_as_exception_replies_on_the_wire() {
        let mut m = monitor();
        // ThreadControl (label 0x0047, variant A: u = 7) on VM 2's thread.
        let other = tid(2, 0).0;
        let mut msg = idl::Message::from_words(&[
            0x0047_0007,
            other,
            other,
            other,
            m.monitor_tid().0,
            !0,
            !0,
            0,
        ]);
        let reply = dispatch(&mut m, tid(1, 0), &mut msg);
        assert!(reply.must_send());
        assert_eq!(msg.words(), &[(2 + (6 << 8)) << 16], "ErrNoPrivilege");
        // The migration family answers not_supported (14).
        let mut msg = idl::Message::from_words(&[0x0052_0000]);
        dispatch(&mut m, tid(1, 0), &mut msg);
        assert_eq!(msg.words(), &[(2 + (14 << 8)) << 16]);
        // IVMControl labels reach the IVMControl server.
        let mut msg = idl::Message::from_words(&[0x0203_0001, 1]);
        dispatch(&mut m, tid(1, 0), &mut msg);
        assert_eq!(msg.words()[..3], [2, 0x100_0000, 16 << 20]);
        // Unknown labels are rejected without a reply.
        let mut msg = idl::Message::from_words(&[0x0abc_0000]);
        assert!(!dispatch(&mut m, tid(1, 0), &mut msg).must_send());
    }
}
