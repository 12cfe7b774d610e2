//! The IPC loop on the main thread, and the [`Platform`] the server uses.
//!
//! Receive with an untyped-only acceptor (guests can never map anything into
//! the monitor), decode and dispatch with the generated code, reply and wait
//! in one system call (IDL4's reply-and-wait, §7.1).
//!
//! The same loop reads the serial console: the receive timeout is
//! [`POLL_US`], so an idle monitor looks at COM1 every 50 ms, and a busy
//! one every [`POLL_EVERY_REQUESTS`] requests (a UART read costs about a
//! microsecond on real hardware, as much as an IPC). One thread keeps the
//! input, the focus and the VM table consistent without locks; the
//! original polls from a helper thread every 100 ms, one byte per poll.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
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

    fn load_word(&mut self, haddr: u64) -> u32 {
        // SAFETY: as for `store_word`; the word is aligned (console_rx.len)
        // and any value the guest left there is a valid u32.
        unsafe { (haddr as usize as *const u32).read_volatile() }
    }

    fn store_byte(&mut self, haddr: u64, value: u8) {
        // SAFETY: as for `store_word` (a byte of console_rx.raw).
        unsafe { (haddr as usize as *mut u8).write_volatile(value) }
    }

    fn console_notice(&mut self, args: core::fmt::Arguments<'_>) {
        super::console::notice(args);
    }

    fn set_silent(&mut self, silent: bool) {
        super::console::set_silent(silent);
    }

    fn enter_debugger(&mut self) {
        super::console::notice(format_args!(
            "---- Kernel debugger (ESC ESC; `g` continues) ---"
        ));
        l4_sys::ia32::kdb::enter();
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

    fn zero_frame(&mut self, haddr: u64) {
        // SAFETY: a fresh frame is VM memory the monitor holds 1:1 from
        // sigma0 (`roottask::fresh` covers only memory received for VMs),
        // and no guest has it mapped yet.
        unsafe { super::arch::phys_bytes_mut(haddr as usize, 4096) }.fill(0);
    }
    fn now_us(&mut self) -> u64 {
        CLOCK_US.load(Relaxed)
    }

    fn poke(&mut self, thread: idl::ThreadId) -> bool {
        let timeouts = Timeouts {
            send: Time::ZERO,
            receive: Time::ZERO,
        };
        // SAFETY: a send-only IPC of an empty message (no receive phase,
        // no items): nothing reaches the monitor's memory or state.
        let r = unsafe { ia32::ipc(ThreadId(thread.0), ThreadId::NIL, timeouts, MsgTag(0)) };
        r.error().is_none()
    }
}

/// The supervision clock (µs): [`POLL_US`] per receive timeout (the
/// kernel's timeout clock, the one guests' timeouts run on), plus the
/// kernel's SystemClock between busy polls (a guest looping on requests
/// keeps the monitor from ever timing out). Under QEMU the SystemClock
/// runs fast (its TSC rate is mis-calibrated), so busy time counts more.
static CLOCK_US: AtomicU64 = AtomicU64::new(0);
/// SystemClock at the last poll.
static LAST_SYSTEM_US: AtomicU64 = AtomicU64::new(0);

/// SystemClock, or where the kernel's calibration failed (it published a
/// frequency below 1 MHz, `ia32::system_clock`) the TSC at an assumed
/// 1 GHz, which is its rate under `-icount shift=0`.
fn system_us() -> u64 {
    ia32::system_clock().unwrap_or_else(|| ia32::rdtsc() / 1000)
}

/// Advance [`CLOCK_US`] at a poll; `idle`: after a receive timeout.
fn advance_clock(idle: bool) {
    let now = system_us();
    let last = LAST_SYSTEM_US.swap(now, Relaxed);
    let step = if idle {
        POLL_US
    } else {
        now.saturating_sub(last)
    };
    CLOCK_US.fetch_add(step, Relaxed);
}

/// When the serve loop calls its hook.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// A request was dispatched.
    Request,
    /// A console poll after a receive timeout (a whole poll without a
    /// request): the supervision clock advanced by [`POLL_US`].
    IdleTick,
    /// A console poll of a busy monitor (every [`POLL_EVERY_REQUESTS`]
    /// requests).
    BusyTick,
}

/// Reply without blocking; wait for the next request for at most `receive`.
const fn wait(receive: Time) -> Timeouts {
    Timeouts {
        send: Time::ZERO,
        receive,
    }
}

/// How often an idle monitor reads the serial console (virtual µs): twice
/// the original's rate, fast enough for typing (20 times a second). Each
/// poll empties the 16-byte receive FIFO, so up to 320 bytes/s get in; a
/// person types far less, and QEMU holds a faster paste back (flow
/// control); on real hardware a faster paste overruns the FIFO. Not more
/// often: every wake-up is time taken from the guests, and at 10 ms it
/// showed in the guests' own per-request measurements.
pub const POLL_US: u64 = 50_000;
/// A busy monitor also reads the console after this many requests.
pub const POLL_EVERY_REQUESTS: u32 = 64;
/// Bytes taken from the UART per poll at most, so a flood on the serial
/// line cannot keep the monitor from serving.
const POLL_MAX_BYTES: usize = 64;

/// How long to wait for a request: until the next console poll.
fn receive_timeout() -> Time {
    Time::period_us(POLL_US)
}

/// Read what the serial console has, act on it, feed the VMs' `console_rx`;
/// when the line was quiet, report the input dropped since the last report.
fn poll_console(monitor: &mut Monitor<Ia32>) {
    let mut n = 0;
    while n < POLL_MAX_BYTES {
        let Some(b) = super::uart::try_read() else {
            break;
        };
        monitor.console_byte(b);
        n += 1;
    }
    monitor.console_pump();
    if n == 0 {
        monitor.console_report_drops();
    }
}

/// Send timeout of each further try of a reply that failed on a machine
/// with more than one processor (µs), and how many tries at most.
///
/// On the SMP kernel a zero-timeout reply to a caller on another processor
/// fails when that processor has not yet put the caller into the receive
/// half of its call; under QEMU's single-threaded TCG that processor may
/// not run for a whole time slice. The `smp-soak` scenario lost replies
/// this way, and their callers waited forever. The monitor tries again
/// with a short send timeout, up to [`REPLY_TRIES`] times; a client that
/// really abandoned its call costs it that long once (SMP only; on one
/// processor a failed reply means the caller is not waiting, and it is
/// dropped at once, as before). A reply queue served between requests
/// would avoid the wait, but send-only retries hit the kernel's "unhandled
/// pagefault" debugger stop on this kernel.
const REPLY_RETRY_US: u64 = 2_000;
/// See [`REPLY_RETRY_US`].
const REPLY_TRIES: u32 = 100;

/// Replies that needed more than one try, and replies given up (reported
/// when idle, SMP only).
static REPLY_RETRIES: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
static REPLIES_GIVEN_UP: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

fn open_wait() -> ia32::IpcResult {
    let timeouts = wait(receive_timeout());
    // SAFETY: the acceptor is untyped-only, so nothing can be mapped into
    // the monitor's space by a receive.
    unsafe { ia32::ipc(ThreadId::NIL, ThreadId::ANY, timeouts, MsgTag(0)) }
}

/// Serve forever; `after_each` runs after every dispatched request (the boot
/// sequence uses it to start the next VM on `client_init_complete`) and at
/// every console poll (supervision: watchdogs, pokes, restarts).
pub fn serve(
    monitor: &mut Monitor<Ia32>,
    mut after_each: impl FnMut(&mut Monitor<Ia32>, Event),
) -> ! {
    utcb::set_acceptor(Acceptor::UNTYPED);
    LAST_SYSTEM_US.store(system_us(), Relaxed);
    let mut msg = idl::Message::new();
    // Virtual µs without a request (counted in polls), for the idle report.
    let mut quiet_us = 0u64;
    let mut since_poll = 0u32;
    let smp = ia32::kip().processors() > 1;
    let mut r = open_wait();
    loop {
        if let Some(e) = r.error() {
            // A failed reply (the client vanished) or receive: wait again.
            if !e.receive_phase {
                monitor.stats.refused += 1;
            } else if e.kind == l4_sys::IpcErrorKind::Timeout {
                poll_console(monitor);
                advance_clock(true);
                after_each(monitor, Event::IdleTick);
                since_poll = 0;
                quiet_us += POLL_US;
                if quiet_us >= roottask::served::IDLE_REPORT_US && monitor.served.changed() {
                    // Quiet for a while: say what every VM asked so far.
                    monitor.served.report(|line| println!("{line}"));
                    let (used, size) = super::heap::usage();
                    println!("served: heap used={used} of {size}");
                    if smp {
                        use core::sync::atomic::Ordering::Relaxed;
                        println!(
                            "served: replies sent on a later try={} given up={}",
                            REPLY_RETRIES.load(Relaxed),
                            REPLIES_GIVEN_UP.load(Relaxed)
                        );
                    }
                }
            }
            r = open_wait();
            continue;
        }
        let received_at = ia32::rdtsc();
        quiet_us = 0;
        since_poll += 1;
        if since_poll >= POLL_EVERY_REQUESTS {
            since_poll = 0;
            poll_console(monitor);
            advance_clock(false);
            after_each(monitor, Event::BusyTick);
        }
        let n = ((r.tag.untyped() + r.tag.typed()) as usize).min(63);
        msg.mr[0] = r.tag.0;
        msg.mr[1] = r.mr1;
        msg.mr[2] = r.mr2;
        for i in 3..=n {
            msg.mr[i] = utcb::mr(i);
        }
        let label = r.tag.label();
        let reply = server::dispatch(monitor, idl::ThreadId(r.from.0), &mut msg);
        // Before `after_each`: starting the next VM is not the request's.
        monitor
            .served
            .record_own(u64::from(label), ia32::rdtsc().wrapping_sub(received_at));
        after_each(monitor, Event::Request);
        r = if reply.must_send() {
            let words = msg.words();
            for (i, w) in words.iter().enumerate().skip(1) {
                utcb::set_mr(i, *w);
            }
            let timeouts = wait(receive_timeout());
            // SAFETY: as in `open_wait`.
            let sent = unsafe { ia32::ipc(r.from, ThreadId::ANY, timeouts, MsgTag(words[0])) };
            let timed_out = |r: &ia32::IpcResult| {
                r.error()
                    .is_some_and(|e| !e.receive_phase && e.kind == l4_sys::IpcErrorKind::Timeout)
            };
            let mut sent = sent;
            if smp && timed_out(&sent) {
                use core::sync::atomic::Ordering::Relaxed;
                REPLY_RETRIES.fetch_add(1, Relaxed);
                let mut tries = 0;
                while timed_out(&sent) && tries < REPLY_TRIES {
                    tries += 1;
                    for (i, w) in words.iter().enumerate().skip(1) {
                        utcb::set_mr(i, *w);
                    }
                    let timeouts = Timeouts {
                        send: Time::period_us(REPLY_RETRY_US),
                        receive: receive_timeout(),
                    };
                    // SAFETY: as in `open_wait`.
                    sent = unsafe { ia32::ipc(r.from, ThreadId::ANY, timeouts, MsgTag(words[0])) };
                }
                if timed_out(&sent) {
                    REPLIES_GIVEN_UP.fetch_add(1, Relaxed);
                }
            }
            sent
        } else {
            open_wait()
        };
    }
}
