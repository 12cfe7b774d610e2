//! The IPC server: the traits generated from `resourcemon.idl`, implemented
//! over the table of running VMs.
//!
//! Everything here decides; nothing here touches the kernel or raw memory.
//! What the server needs from the machine goes through [`Platform`], which
//! the ia32 runtime implements with system calls and the host tests fake.
//! Every request is first mapped to the caller's VM (§6.1 `tid_to_vm`);
//! callers that belong to no VM are refused.

use core::fmt;

use idl::{Fpage, MapItem, ServerError, ThreadId, Word};
use l4_sys::KernelError;

use crate::ipc::{iconsole, ilocator, ilogging, iresourcemon};
use crate::vm::layout::Layout;
use crate::vm::threads::{ThreadSpaces, MAX_VM};

/// Byte offset of `link_vaddr` in the shared page (§5.3).
const SHARED_LINK_VADDR: u64 = 28;
/// Locator table size (`UUID_Max_IF`, §7.4).
pub const LOCATOR_SLOTS: usize = 13;
/// Longest guest console line kept before it is printed anyway.
pub const GUEST_LINE_MAX: usize = 200;

/// What the server needs from the machine.
pub trait Platform {
    /// Print a monitor log line (the platform adds the monitor's prefix).
    fn log(&mut self, args: fmt::Arguments<'_>);
    /// Print one complete line of VM `slot`'s console output.
    fn guest_line(&mut self, slot: usize, line: &[u8]);
    /// Store a word into memory the monitor owns (a VM's shared page).
    fn store_word(&mut self, haddr: u64, value: u32);
    /// The ThreadControl system call (for the proxies of §6.5).
    fn thread_control(
        &mut self,
        dest: ThreadId,
        space: ThreadId,
        scheduler: ThreadId,
        pager: ThreadId,
        utcb_location: Word,
    ) -> Result<(), KernelError>;
    /// The SpaceControl system call (for the proxies of §6.5).
    fn space_control(
        &mut self,
        space: ThreadId,
        control: Word,
        kip: Fpage,
        utcb: Fpage,
        redirector: ThreadId,
    ) -> Result<(), KernelError>;
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
    /// Console output not yet ended by a newline.
    pub line: heapless::Vec<u8, GUEST_LINE_MAX>,
    /// Guest-virtual KIP and UTCB areas (for the request_pages check).
    pub kip_area: Fpage,
    /// See `kip_area`.
    pub utcb_area: Fpage,
}

impl VmEntry {
    /// A VM entry with an empty console line.
    pub fn new(
        layout: Layout,
        shared_haddr: u64,
        device_access: bool,
        kip_area: Fpage,
        utcb_area: Fpage,
    ) -> VmEntry {
        VmEntry {
            layout,
            shared_haddr,
            device_access,
            line: heapless::Vec::new(),
            kip_area,
            utcb_area,
        }
    }
}

/// Counters for the boot report and the soak scenario.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Page faults answered with a mapping.
    pub faults_served: u64,
    /// request_pages answered with a mapping.
    pub pages_requested: u64,
    /// Requests refused (no reply or an exception).
    pub refused: u64,
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
    /// Set by `client_init_complete` from the VM the start sequence waits
    /// for; the runtime starts the next VM and clears it.
    pub init_complete: Option<usize>,
    /// The slot whose `client_init_complete` the start sequence waits for.
    pub waiting_for: Option<usize>,
    /// Counters.
    pub stats: Stats,
}

impl<P: Platform> Monitor<P> {
    /// A monitor with no VMs.
    pub fn new(platform: P, spaces: ThreadSpaces) -> Monitor<P> {
        Monitor {
            platform,
            vms: core::array::from_fn(|_| None),
            spaces,
            locator: [ThreadId::NIL; LOCATOR_SLOTS],
            init_complete: None,
            waiting_for: None,
            stats: Stats::default(),
        }
    }

    /// The VM slot of `caller`, if it belongs to a running VM.
    pub fn caller_vm(&self, caller: ThreadId) -> Option<usize> {
        let tid = l4_sys::ThreadId(caller.0);
        self.spaces.tid_to_vm(tid, |slot| {
            slot != 0 && self.vms.get(slot).is_some_and(Option::is_some)
        })
    }

    fn vm_of<E>(&mut self, caller: ThreadId, op: &str) -> Result<usize, ServerError<E>> {
        match self.caller_vm(caller) {
            Some(slot) => Ok(slot),
            None => {
                self.stats.refused += 1;
                self.platform.log(format_args!(
                    "{op}: refused: caller {:#x} belongs to no VM",
                    caller.0
                ));
                Err(ServerError::NoReply)
            }
        }
    }

    fn refuse<E>(&mut self, slot: usize, why: fmt::Arguments<'_>) -> ServerError<E> {
        self.stats.refused += 1;
        self.platform.log(format_args!("vm {slot}: {why}"));
        ServerError::NoReply
    }
}

impl<P: Platform> ilocator::Server for Monitor<P> {
    fn query_interface(
        &mut self,
        _caller: ThreadId,
        guid: ilocator::Guid,
    ) -> Result<ThreadId, ServerError<ilocator::Exception>> {
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
        let index = guid as usize;
        if index >= LOCATOR_SLOTS {
            return Err(ServerError::Exception(
                ilocator::Exception::InvalidGuidFormat,
            ));
        }
        // Difference from the original: only a VM may register, and only a
        // thread of its own range (a guest cannot redirect another VM's
        // clients to a thread it does not own).
        let Some(vm) = self.caller_vm(caller) else {
            return Err(ServerError::Exception(
                ilocator::Exception::InvalidGuidFormat,
            ));
        };
        if self.caller_vm(tid) != Some(vm) {
            return Err(ServerError::Exception(
                ilocator::Exception::InvalidGuidFormat,
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
        let slot = self.vm_of(caller, "put_chars")?;
        let n = (stream.len as usize).min(stream.raw.len());
        for &b in &stream.raw[..n] {
            let vm = self.vms[slot].as_mut().expect("vm_of checked the slot");
            match b {
                b'\n' => {
                    let line = core::mem::take(&mut vm.line);
                    self.platform.guest_line(slot, &line);
                }
                b'\r' => {}
                b => {
                    let b = if b == 0 { b' ' } else { b };
                    if vm.line.push(b).is_err() {
                        let line = core::mem::take(&mut vm.line);
                        self.platform.guest_line(slot, &line);
                        let vm = self.vms[slot].as_mut().expect("vm_of checked the slot");
                        let _ = vm.line.push(b);
                    }
                }
            }
        }
        Ok(())
    }

    fn get_chars(
        &mut self,
        _caller: ThreadId,
        _handle: iconsole::Handle,
    ) -> Result<iconsole::Stream, ServerError<iconsole::Exception>> {
        // No console input is routed to guests yet: always an empty stream (§7.5).
        Ok(iconsole::Stream::zeroed())
    }
}

impl<P: Platform> ilogging::Server for Monitor<P> {
    fn request_log_control_regs(
        &mut self,
        caller: ThreadId,
        _cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        // Pistachio without the `logging` feature has no log regions: the nil
        // item, which the original sends for out-of-range CPUs (§7.5).
        self.vm_of(caller, "request_log_control_regs")?;
        Ok(MapItem::map(0, Fpage::NIL))
    }

    fn request_logfiles(
        &mut self,
        caller: ThreadId,
        _cpu: Word,
    ) -> Result<MapItem, ServerError<ilogging::Exception>> {
        self.vm_of(caller, "request_logfiles")?;
        Ok(MapItem::map(0, Fpage::NIL))
    }
}

type RmResult<T> = Result<T, ServerError<iresourcemon::Exception>>;

impl<P: Platform> iresourcemon::Server for Monitor<P> {
    fn pagefault(
        &mut self,
        caller: ThreadId,
        addr: Word,
        ip: Word,
        privileges: Word,
    ) -> RmResult<MapItem> {
        let slot = self.vm_of(caller, "page fault")?;
        let layout = self.vms[slot]
            .as_ref()
            .expect("vm_of checked the slot")
            .layout;
        let Some(haddr) = layout.gvaddr_to_haddr(addr) else {
            return Err(self.refuse(
                slot,
                format_args!(
                    "page fault for invalid address {addr:#010x} (ip {ip:#010x}); no mapping"
                ),
            ));
        };
        let page = (haddr & !0xfff) as Word;
        let rights = privileges & Fpage::RWX;
        self.stats.faults_served += 1;
        Ok(MapItem::map(
            addr & !0xfff,
            Fpage::new(page, 12, if rights == 0 { Fpage::R } else { rights }),
        ))
    }

    fn register_pdirptr(&mut self, caller: ThreadId, _addr: Word) -> RmResult<()> {
        let slot = self.vm_of(caller, "register_pdirptr")?;
        Err(self.refuse(
            slot,
            format_args!("register_pdirptr is not supported; no reply"),
        ))
    }

    fn client_init_complete(&mut self, caller: ThreadId) {
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
        let slot = self.vm_of(caller, "request_pages")?;
        let layout = self.vms[slot]
            .as_ref()
            .expect("vm_of checked the slot")
            .layout;
        let (addr, log2) = (req_fp.base(), req_fp.size_log2());
        // The page must lie inside the VM, and its host frame must be
        // aligned to its size (VM blocks are 4 MB aligned, so up to 4 MB).
        let size = 1u64 << log2.min(32);
        let host = layout.gpaddr_to_haddr(addr);
        let fits = (12..=22).contains(&log2) && layout.contains_gp_range(addr, size);
        match host {
            Some(h) if fits && h % size == 0 => {
                self.stats.pages_requested += 1;
                Ok(MapItem::map(addr, Fpage::new(h as Word, log2, Fpage::RWX)))
            }
            _ => Err(self.refuse(
                slot,
                format_args!(
                    "request_pages for {addr:#x}/2^{log2} outside the VM ({} bytes); no reply",
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
        let slot = self.vm_of(caller, "request_device")?;
        Err(self.refuse(
            slot,
            format_args!("request_device {:#x} is not served yet", req_fp.0),
        ))
    }

    fn unmap_device(&mut self, caller: ThreadId, req_fp: Fpage, _attr: Word) -> RmResult<Word> {
        let slot = self.vm_of(caller, "unmap_device")?;
        Err(self.refuse(
            slot,
            format_args!("unmap_device {:#x} is not served yet", req_fp.0),
        ))
    }

    fn request_client_pages(
        &mut self,
        caller: ThreadId,
        _client: ThreadId,
        _req_fp: Fpage,
    ) -> RmResult<MapItem> {
        let slot = self.vm_of(caller, "request_client_pages")?;
        if !self.vms[slot].as_ref().is_some_and(|v| v.device_access) {
            return Err(ServerError::Exception(
                iresourcemon::Exception::NoPermission,
            ));
        }
        Err(self.refuse(slot, format_args!("request_client_pages is not served yet")))
    }

    fn thread_control(
        &mut self,
        caller: ThreadId,
        dest: ThreadId,
        space: ThreadId,
        sched: ThreadId,
        pager: ThreadId,
        utcb_location: Word,
        _prio: Word,
        _cpu: Word,
    ) -> RmResult<i32> {
        let slot = self.vm_of(caller, "ThreadControl")?;
        // Isolation (difference from the original): every thread named must
        // be the caller's own or nil; the monitor may be named as pager.
        let own = |m: &Self, t: ThreadId| t.0 == 0 || m.caller_vm(t) == Some(slot);
        let monitor = ThreadId(self.spaces.monitor_tid().0);
        if !own(self, dest)
            || dest.0 == 0
            || !own(self, space)
            || !own(self, sched)
            || !(own(self, pager) || pager == monitor)
        {
            self.stats.refused += 1;
            self.platform.log(format_args!(
                "vm {slot}: ThreadControl on a thread outside the VM refused"
            ));
            return Err(ServerError::Exception(
                iresourcemon::Exception::ErrNoPrivilege,
            ));
        }
        match self
            .platform
            .thread_control(dest, space, sched, pager, utcb_location)
        {
            Ok(()) => Ok(1),
            Err(e) => Err(kernel_exception(e)),
        }
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
        let slot = self.vm_of(caller, "SpaceControl")?;
        if self.caller_vm(space) != Some(slot) {
            self.stats.refused += 1;
            self.platform.log(format_args!(
                "vm {slot}: SpaceControl on a space outside the VM refused"
            ));
            return Err(ServerError::Exception(
                iresourcemon::Exception::ErrNoPrivilege,
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
        irq: ThreadId,
        _h: ThreadId,
        _p: Word,
        _c: Word,
    ) -> RmResult<i32> {
        let slot = self.vm_of(caller, "AssociateInterrupt")?;
        Err(self.refuse(
            slot,
            format_args!("AssociateInterrupt {:#x} is not served yet", irq.0),
        ))
    }

    fn deassociate_interrupt(&mut self, caller: ThreadId, irq: ThreadId) -> RmResult<i32> {
        let slot = self.vm_of(caller, "DeassociateInterrupt")?;
        Err(self.refuse(
            slot,
            format_args!("DeassociateInterrupt {:#x} is not served yet", irq.0),
        ))
    }

    fn get_client_phys_range(
        &mut self,
        caller: ThreadId,
        client: ThreadId,
    ) -> RmResult<(Word, Word)> {
        self.vm_of(caller, "get_client_phys_range")?;
        match self.caller_vm(client).and_then(|s| self.vms[s].as_ref()) {
            Some(vm) => Ok((vm.layout.haddr_base as Word, vm.layout.size)),
            None => Err(ServerError::Exception(
                iresourcemon::Exception::UnknownClient,
            )),
        }
    }

    fn get_space_phys_range(&mut self, caller: ThreadId, space_id: Word) -> RmResult<(Word, Word)> {
        self.vm_of(caller, "get_space_phys_range")?;
        match self.vms.get(space_id as usize) {
            Some(Some(vm)) => Ok((vm.layout.haddr_base as Word, vm.layout.size)),
            Some(None) => Ok((0, 0)),
            None => Err(ServerError::Exception(
                iresourcemon::Exception::UnknownClient,
            )),
        }
    }

    fn set_virtual_offset(&mut self, caller: ThreadId, new_offset: Word) -> RmResult<()> {
        let slot = self.vm_of(caller, "set_virtual_offset")?;
        let vm = self.vms[slot].as_mut().expect("vm_of checked the slot");
        vm.layout.set_virtual_offset(new_offset);
        let at = vm.shared_haddr + SHARED_LINK_VADDR;
        self.platform.store_word(at, new_offset);
        Ok(())
    }

    fn tid_to_space_id(&mut self, _caller: ThreadId, tid: ThreadId) -> RmResult<Word> {
        match self.caller_vm(tid) {
            Some(slot) => Ok(slot as Word),
            None => Err(ServerError::Exception(
                iresourcemon::Exception::UnknownClient,
            )),
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
    /// deliberate refusal instead of the original's undefined behaviour.
    fn migration_unsupported(&mut self, caller: ThreadId, op: &str) -> RmResult<()> {
        self.vm_of(caller, op)?;
        self.stats.refused += 1;
        self.platform
            .log(format_args!("{op}: the migration family is not supported"));
        Err(ServerError::Exception(
            iresourcemon::Exception::ErrNoPrivilege,
        ))
    }
}

/// A kernel error code as the proxies report it (error + 5, §7.6).
fn kernel_exception(e: KernelError) -> ServerError<iresourcemon::Exception> {
    use iresourcemon::Exception as X;
    ServerError::Exception(match e {
        KernelError::NoPrivilege => X::ErrNoPrivilege,
        KernelError::InvalidThread => X::ErrInvalidThread,
        KernelError::InvalidSpace => X::ErrInvalidSpace,
        KernelError::InvalidScheduler => X::ErrInvalidScheduler,
        KernelError::InvalidParam => X::ErrInvalidParam,
        KernelError::UtcbArea => X::ErrUtcbArea,
        KernelError::KipArea => X::ErrKipArea,
        KernelError::NoMemory | KernelError::Other(_) => X::ErrNoMem,
    })
}
