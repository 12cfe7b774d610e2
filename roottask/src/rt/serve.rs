//! The IPC loop on the main thread, and the [`Platform`] the server uses.
//!
//! Receive with an untyped-only acceptor (guests can never map anything into
//! the monitor), decode and dispatch with the generated code, reply and wait
//! in one system call (IDL4's reply-and-wait, §7.1).

use l4_sys::ia32::{self, utcb};
use l4_sys::{Acceptor, KernelError, MsgTag, ThreadId, Time, Timeouts};
use roottask::server::{self, Monitor, Platform};

/// The ia32 machine as the server sees it.
pub struct Ia32;

impl Platform for Ia32 {
    fn log(&mut self, args: core::fmt::Arguments<'_>) {
        println!("{args}");
    }

    fn guest_output(&mut self, slot: usize, bytes: &[u8]) {
        super::console::guest_output(slot, bytes);
    }

    fn store_word(&mut self, haddr: u64, value: u32) {
        // SAFETY: the server only passes addresses inside a VM's shared page,
        // which lies in the VM's block: memory the monitor received from
        // sigma0, mapped 1:1 and never handed to the allocator.
        unsafe { (haddr as usize as *mut u32).write_volatile(value) }
    }

    fn thread_control(
        &mut self,
        dest: idl::ThreadId,
        space: idl::ThreadId,
        scheduler: idl::ThreadId,
        pager: idl::ThreadId,
        utcb_location: idl::Word,
    ) -> Result<(), KernelError> {
        // SAFETY: the server only proxies calls whose threads lie in the
        // calling VM's thread range, never the monitor's own threads.
        unsafe {
            ia32::thread_control(
                ThreadId(dest.0),
                ThreadId(space.0),
                ThreadId(scheduler.0),
                ThreadId(pager.0),
                utcb_location,
            )
        }
    }

    fn space_control(
        &mut self,
        space: idl::ThreadId,
        control: idl::Word,
        kip: idl::Fpage,
        utcb_area: idl::Fpage,
        redirector: idl::ThreadId,
    ) -> Result<(), KernelError> {
        // SAFETY: as above; the space belongs to the calling VM.
        unsafe {
            ia32::space_control(
                ThreadId(space.0),
                control,
                l4_sys::Fpage(kip.0),
                l4_sys::Fpage(utcb_area.0),
                ThreadId(redirector.0),
            )
            .map(|_| ())
        }
    }

    fn schedule(
        &mut self,
        dest: idl::ThreadId,
        processor: idl::Word,
        priority: idl::Word,
    ) -> Result<(), KernelError> {
        ia32::schedule(ThreadId(dest.0), !0, processor, priority, !0).map(|_| ())
    }

    fn unmap(&mut self, fpage: idl::Fpage, flush: bool) -> idl::Fpage {
        // SAFETY: the server only unmaps VM memory and device window pages,
        // which the monitor itself never uses (a flush of a window page
        // removes it from the monitor, which keeps no reference to it).
        idl::Fpage(unsafe { ia32::unmap(0, flush, l4_sys::Fpage(fpage.0)) }.0)
    }

    fn map_device_frame(&mut self, phys: idl::Word, at: idl::Word) -> bool {
        super::sigma0::request_at(l4_sys::Fpage::from_parts(phys, 12, l4_sys::Rights::RWX), at)
            .is_ok()
    }

    fn scratch_page(&mut self) -> Option<u64> {
        super::heap::zeroed_page().map(|p| p as u64)
    }
}

/// Reply without blocking; wait for the next request for at most `receive`.
const fn wait(receive: Time) -> Timeouts {
    Timeouts {
        send: Time::ZERO,
        receive,
    }
}

/// How long to wait for a request: until the idle report is due while
/// something is unreported, else forever (an idle monitor never wakes).
fn receive_timeout(monitor: &Monitor<Ia32>) -> Time {
    if monitor.served.changed() {
        Time::period_us(roottask::served::IDLE_REPORT_US)
    } else {
        Time::NEVER
    }
}

fn open_wait(monitor: &Monitor<Ia32>) -> ia32::IpcResult {
    let timeouts = wait(receive_timeout(monitor));
    // SAFETY: the acceptor is untyped-only, so nothing can be mapped into
    // the monitor's space by a receive.
    unsafe { ia32::ipc(ThreadId::NIL, ThreadId::ANY, timeouts, MsgTag(0)) }
}

/// Serve forever; `after_each` runs after every dispatched request (the boot
/// sequence uses it to start the next VM on `client_init_complete`).
pub fn serve(monitor: &mut Monitor<Ia32>, mut after_each: impl FnMut(&mut Monitor<Ia32>)) -> ! {
    utcb::set_acceptor(Acceptor::UNTYPED);
    let mut msg = idl::Message::new();
    let mut r = open_wait(monitor);
    loop {
        if let Some(e) = r.error() {
            // A failed reply (the client vanished) or receive: wait again.
            if !e.receive_phase {
                monitor.stats.refused += 1;
            } else if e.kind == l4_sys::IpcErrorKind::Timeout {
                // Quiet for a while: say what every VM asked so far.
                monitor.served.report(|line| println!("{line}"));
            }
            r = open_wait(monitor);
            continue;
        }
        let n = ((r.tag.untyped() + r.tag.typed()) as usize).min(63);
        msg.mr[0] = r.tag.0;
        msg.mr[1] = r.mr1;
        msg.mr[2] = r.mr2;
        for i in 3..=n {
            msg.mr[i] = utcb::mr(i);
        }
        let reply = server::dispatch(monitor, idl::ThreadId(r.from.0), &mut msg);
        if let idl::Reply::Rejected(e) = &reply {
            monitor.stats.refused += 1;
            println!("request from {}: rejected: {e}", r.from);
        }
        after_each(monitor);
        r = if reply.must_send() {
            let words = msg.words();
            for (i, w) in words.iter().enumerate().skip(1) {
                utcb::set_mr(i, *w);
            }
            let timeouts = wait(receive_timeout(monitor));
            // SAFETY: as in `open_wait`.
            unsafe { ia32::ipc(r.from, ThreadId::ANY, timeouts, MsgTag(words[0])) }
        } else {
            open_wait(monitor)
        };
    }
}
