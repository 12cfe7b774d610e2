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
//! only interrupts no other VM owns, and only `ddos` VMs reach another VM's
//! memory. Every refusal is an exception reply the client stubs understand,
//! except where the protocol has no error reply: page faults (no reply: the
//! faulting thread stays blocked, as upstream) and the sigma0-protocol
//! `request_pages` (a nil map item, as sigma0 answers).
//! `roottask/DIFFERENCES.md` lists every difference from the original.
//!
//! One file per interface, each with the rules and refusals it owns:
//! [`console`] (IConsole, ILogging), [`locator`] (ILocator), [`memory`]
//! (page faults, `request_pages`, address queries), [`devices`] (device
//! memory, the remap window, client pages), [`proxies`] (the system-call
//! proxies and interrupts) and [`vmcontrol`] (IVMControl, the start
//! sequence, the migration family). This file holds the state they share
//! and the IResourcemon trait impl, which only forwards to them.

use core::fmt;

use idl::{Fpage, MapItem, ServerError, ThreadId, Word};
use l4_sys::KernelError;

use crate::ipc::{iresourcemon, ivmcontrol};
use crate::vm::layout::Layout;
use crate::vm::threads::{ThreadSpaces, MAX_VM};

pub mod console;
pub mod devices;
pub mod locator;
pub mod memory;
pub mod proxies;
pub mod teardown;
#[cfg(test)]
mod tests;
pub mod vmcontrol;

/// Byte offset of `link_vaddr` in the shared page (§5.3).
const SHARED_LINK_VADDR: u64 = 28;
/// Byte offset of `mem_balloon` in the shared page (§5.3).
const SHARED_MEM_BALLOON: u64 = 96;
/// Locator table size (`UUID_Max_IF`, §7.4).
pub const LOCATOR_SLOTS: usize = 13;
/// The locator id of IVMControl, which the monitor serves itself.
pub const IVMCONTROL_GUID: usize = 8;
/// Bytes of a VM's unfinished last console line kept (for re-printing
/// it, e.g. a prompt, when the VM gets the console's focus).
pub const GUEST_LINE_MAX: usize = 200;
/// Interrupt numbers the proxies accept (§9.4).
pub const MAX_IRQS: usize = 256;
/// Device frames the remap window holds at once: 32 MB of 4 KB frames, as
/// the original (§9.3).
pub const REMAP_SLOTS: usize = 8192;
/// Bytes of the device remap window.
pub const REMAP_WINDOW_BYTES: u64 = (REMAP_SLOTS as u64) * 4096;
/// Longest block `get_space_block` hands out (§7.7).
pub const MAX_BLOCK: u32 = 4 << 20;
/// Devices listed per VM (the shared page's `devices[]`).
pub const MAX_DEVICES: usize = 16;

/// What the server needs from the machine.
pub trait Platform {
    /// Print a monitor log line (the platform adds the monitor's prefix).
    fn log(&mut self, args: fmt::Arguments<'_>);
    /// Print VM `slot`'s console output at once, bytes as they came (the
    /// platform labels lines, `console_mux`).
    fn guest_output(&mut self, slot: usize, bytes: &[u8]);
    /// Store a word into memory the monitor owns (a VM's shared page).
    fn store_word(&mut self, haddr: u64, value: u32);
    /// Load a word from a VM's shared page (guest-writable: any value).
    fn load_word(&mut self, haddr: u64) -> u32;
    /// Store a byte into a VM's shared page (`console_rx.raw`).
    fn store_byte(&mut self, haddr: u64, value: u8);
    /// Print a console line of the monitor's own without its log prefix
    /// (`---- VM Focus 2 ---`), shown even while log lines are off.
    fn console_notice(&mut self, args: fmt::Arguments<'_>);
    /// Monitor log lines off (`true`, ESC `s`) or on.
    fn set_silent(&mut self, silent: bool);
    /// Enter the kernel debugger (ESC ESC); returns when the user leaves it.
    fn enter_debugger(&mut self);
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
    /// A zeroed 4 KB page of the monitor's own memory (host address =
    /// monitor address), for a VM's stand-in device page; None when out of
    /// memory. Never freed: one per VM slot at most (a torn-down VM's
    /// page goes to the next VM in its slot).
    fn scratch_page(&mut self) -> Option<u64>;
    /// Zero the 4 KB host frame at `haddr` (a fresh frame of VM memory
    /// about to be exposed, `crate::fresh`).
    fn zero_frame(&mut self, haddr: u64);
    /// Virtual time in µs (the supervision clock: watchdog, back-off).
    fn now_us(&mut self) -> u64;
    /// Send `thread` an empty message without waiting (zero send timeout):
    /// true if it was waiting for the monitor and got it. A thread blocked
    /// in a page fault retries the faulting instruction (see `supervise`).
    fn poke(&mut self, thread: ThreadId) -> bool;
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
    /// The VM's console output since its last newline (its unfinished
    /// line, up to [`GUEST_LINE_MAX`] bytes).
    pub line: heapless::Vec<u8, GUEST_LINE_MAX>,
    /// Host address of the page that stands in for device memory this VM
    /// may not reach (see `devices.rs`), once it asked for one.
    pub scratch: Option<u64>,
    /// The first thread's id (with its version), for teardown.
    pub first_thread: ThreadId,
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
            scratch: None,
            first_thread: ThreadId::NIL,
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
pub struct RemapSlot {
    frame: Word,
    refs: u16,
    /// VM slots that mapped the frame (bit k = slot k, [`MAX_VM`] = 64
    /// bits), for teardown.
    owners: u64,
}

/// The device remap window: where it is in the monitor's space, and its
/// slot table (allocated by the runtime, [`REMAP_SLOTS`] long; empty when
/// no window could be placed, and then device frames are never mapped).
pub struct RemapWindow {
    /// First byte of the window.
    pub base: Word,
    /// One entry per 4 KB slot.
    pub slots: &'static mut [RemapSlot],
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
    /// Each owned interrupt's handler thread (nil when released), so that
    /// deleting the handler can release the interrupt first.
    irq_handler: [ThreadId; MAX_IRQS],
    /// Interrupt lines the kernel has (KIP SystemBase).
    pub irq_lines: u32,
    /// The device remap window.
    pub remap: RemapWindow,
    /// The monitor's own block (VM slot 0: `[0, image end rounded up to
    /// 4 MB)`), which `get_space_phys_range(0)` reports as the original does.
    pub monitor_block: (Word, Word),
    /// Set by `client_init_complete` from the VM the start sequence waits
    /// for; the runtime starts the next VM and clears it.
    pub init_complete: Option<usize>,
    /// The slot whose `client_init_complete` the start sequence waits for.
    pub waiting_for: Option<usize>,
    /// Counters.
    pub stats: Stats,
    /// What each VM asked, by kind (the idle `served:` report).
    pub served: crate::served::Served,
    /// Console input: focus, per-VM queues, drop counters.
    pub input: crate::console_input::ConsoleInput,
    /// Supervision: deaths, restarts, watchdogs (`crate::supervise`).
    pub supervisor: crate::supervise::Supervisor,
    /// The thread numbers of each slot's VM, [`MAX_VM`] sets allocated
    /// by the runtime at boot (empty: teardown deletes only the first
    /// thread); see [`teardown`].
    pub thread_sets: &'static mut [crate::supervise::ThreadSet],
    /// VMs torn down since the runtime last looked: it returns their
    /// blocks and continues the start sequence.
    pub torn_down: heapless::Vec<teardown::Teardown, MAX_VM>,
    /// Stand-in device pages of torn-down VMs, kept for the slot's next VM.
    spare_scratch: [Option<u64>; MAX_VM],
    logged_refusals: [u32; MAX_VM],
    /// VM memory not yet zeroed (`crate::fresh`); empty: everything was
    /// zeroed eagerly.
    pub fresh: crate::fresh::FreshFrames<'static>,
}

/// Refusals logged per VM before the log goes quiet.
pub const LOGGED_REFUSALS: u32 = 32;

type RmResult<T> = Result<T, ServerError<iresourcemon::Exception>>;
use iresourcemon::Exception as RmX;

impl<P: Platform> Monitor<P> {
    /// A monitor with no VMs; it registers itself as the IVMControl server.
    pub fn new(
        platform: P,
        spaces: ThreadSpaces,
        irq_lines: u32,
        remap: RemapWindow,
    ) -> Monitor<P> {
        let mut locator = [ThreadId::NIL; LOCATOR_SLOTS];
        locator[IVMCONTROL_GUID] = ThreadId(spaces.monitor_tid().0);
        Monitor {
            platform,
            vms: core::array::from_fn(|_| None),
            spaces,
            locator,
            irq_owner: [0; MAX_IRQS],
            irq_handler: [ThreadId::NIL; MAX_IRQS],
            irq_lines,
            remap,
            monitor_block: (0, 0),
            init_complete: None,
            waiting_for: None,
            stats: Stats::default(),
            served: crate::served::Served::default(),
            input: crate::console_input::ConsoleInput::new(),
            supervisor: crate::supervise::Supervisor::default(),
            thread_sets: &mut [],
            torn_down: heapless::Vec::new(),
            spare_scratch: [None; MAX_VM],
            logged_refusals: [0; MAX_VM],
            fresh: crate::fresh::FreshFrames::default(),
        }
    }

    /// Zero every fresh frame in `[haddr, haddr + len)` (`crate::fresh`)
    /// before it is exposed.
    pub fn prepare(&mut self, haddr: u64, len: u64) {
        let platform = &mut self.platform;
        self.fresh
            .take(haddr, len, |frame| platform.zero_frame(frame));
    }

    /// The one place every reply's memory passes: the frames of each map
    /// item's fpage and each string item's bytes are zeroed if fresh, so
    /// no reply exposes memory a guest did not write (whatever operation
    /// produced it: page fault, request_pages, device pages of own RAM,
    /// client pages, get_space_block).
    fn prepare_items(&mut self, msg: &idl::Message) {
        let tag = msg.tag();
        let (u, t) = (tag.untyped(), tag.typed());
        if t == 0 || self.fresh.is_empty() {
            return;
        }
        let mut i = u + 1;
        while i < u + t && i + 1 < msg.mr.len() {
            let (a, b) = (msg.mr[i], msg.mr[i + 1]);
            if let Some(item) = MapItem::decode(a, b) {
                if !item.fpage.is_nil() {
                    let size = 1u64 << item.fpage.size_log2().min(32);
                    self.prepare(u64::from(item.fpage.base()), size);
                }
            } else if let Some(s) = idl::StringItem::decode(a, b) {
                self.prepare(u64::from(s.addr), u64::from(s.len));
            }
            i += 2;
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

    /// IVMControl and the inherited-interface checks: the caller's own VM
    /// or a `ddos` VM may look at `space`.
    fn may_inspect(&self, slot: usize, space: usize) -> bool {
        slot == space || self.vm(slot).device_access
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
        self.handle_pagefault(caller, addr, ip, privileges)
    }

    fn register_pdirptr(&mut self, caller: ThreadId, addr: Word) -> RmResult<()> {
        self.handle_register_pdirptr(caller, addr)
    }

    fn client_init_complete(&mut self, caller: ThreadId) {
        self.handle_client_init_complete(caller)
    }

    fn request_pages(&mut self, caller: ThreadId, req_fp: Fpage, attr: Word) -> RmResult<MapItem> {
        self.handle_request_pages(caller, req_fp, attr)
    }

    fn request_device(&mut self, caller: ThreadId, req_fp: Fpage, attr: Word) -> RmResult<MapItem> {
        self.handle_request_device(caller, req_fp, attr)
    }

    fn unmap_device(&mut self, caller: ThreadId, req_fp: Fpage, attr: Word) -> RmResult<Word> {
        self.handle_unmap_device(caller, req_fp, attr)
    }

    fn request_client_pages(
        &mut self,
        caller: ThreadId,
        client: ThreadId,
        req_fp: Fpage,
    ) -> RmResult<MapItem> {
        self.handle_request_client_pages(caller, client, req_fp)
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
        self.handle_thread_control(caller, dest, space, sched, pager, utcb_location, prio, cpu)
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
        self.handle_space_control(caller, space, control, kip, utcb, redir)
    }

    fn associate_interrupt(
        &mut self,
        caller: ThreadId,
        irq_tid: ThreadId,
        handler: ThreadId,
        irq_prio: Word,
        irq_cpu: Word,
    ) -> RmResult<i32> {
        self.handle_associate_interrupt(caller, irq_tid, handler, irq_prio, irq_cpu)
    }

    fn deassociate_interrupt(&mut self, caller: ThreadId, irq_tid: ThreadId) -> RmResult<i32> {
        self.handle_deassociate_interrupt(caller, irq_tid)
    }

    fn get_client_phys_range(
        &mut self,
        caller: ThreadId,
        client: ThreadId,
    ) -> RmResult<(Word, Word)> {
        self.handle_get_client_phys_range(caller, client)
    }

    fn get_space_phys_range(&mut self, caller: ThreadId, space_id: Word) -> RmResult<(Word, Word)> {
        self.handle_get_space_phys_range(caller, space_id)
    }

    fn set_virtual_offset(&mut self, caller: ThreadId, new_offset: Word) -> RmResult<()> {
        self.handle_set_virtual_offset(caller, new_offset)
    }

    fn tid_to_space_id(&mut self, caller: ThreadId, tid: ThreadId) -> RmResult<Word> {
        self.handle_tid_to_space_id(caller, tid)
    }

    fn clone_vm(&mut self, caller: ThreadId, tid: ThreadId, resume: Word) -> RmResult<()> {
        self.handle_clone_vm(caller, tid, resume)
    }

    fn get_vm_space(&mut self, caller: ThreadId, space_id: Word) -> RmResult<MapItem> {
        self.handle_get_vm_space(caller, space_id)
    }

    fn vm_info(&mut self, caller: ThreadId, space_id: Word) -> RmResult<MapItem> {
        self.handle_vm_info(caller, space_id)
    }

    fn allocate_vm(&mut self, caller: ThreadId) -> RmResult<()> {
        self.handle_allocate_vm(caller)
    }

    fn delete_vm(&mut self, caller: ThreadId, space_id: Word) -> RmResult<()> {
        self.handle_delete_vm(caller, space_id)
    }

    fn set_vm_space(&mut self, caller: ThreadId, space_id: Word, fp: Word) -> RmResult<()> {
        self.handle_set_vm_space(caller, space_id, fp)
    }

    fn resume_vm(&mut self, caller: ThreadId, space_id: Word) -> RmResult<()> {
        self.handle_resume_vm(caller, space_id)
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
    if let Some(s) = slot {
        if monitor.vm_exception(s, caller, msg) {
            return idl::Reply::NoReply(idl::NoReply::Declined);
        }
        if label & 0xfff0 != 0xffe0 {
            // Anything but a page fault: the thread is not blocked in one.
            monitor.supervisor.request(s, caller.0);
        }
    }
    let refused_before = monitor.stats.refused;
    let reply = if label >> 6 == ivmcontrol::IID {
        ivmcontrol::dispatch(monitor, caller, msg)
    } else {
        iresourcemon::dispatch(monitor, caller, msg)
    };
    if let idl::Reply::Rejected(e) = &reply {
        // Malformed requests are refusals like any other: logged within the
        // caller's budget, then only counted (a guest sending garbage must
        // not flood the console and slow the monitor for every VM).
        let _: ServerError<()> = monitor.refuse(
            slot.unwrap_or(0),
            ServerError::NoReply,
            format_args!("request from {:#x}: rejected: {e}", caller.0),
        );
    }
    let refused = monitor.stats.refused != refused_before;
    let op = crate::served::Op::from_label(u64::from(label));
    monitor.served.record(slot, op, refused);
    if reply.must_send() {
        monitor.prepare_items(msg);
    }
    reply
}
