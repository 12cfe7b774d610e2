//! `mode=smp` (see [`test_guest::options::Mode::Smp`]): a second thread
//! of this VM on another processor, created through the monitor's
//! ThreadControl proxy, started with ExchangeRegisters; it measures page
//! faults and request_pages from there, claims an interrupt for its own
//! processor, and (with `smp-soak=N`) faults and requests at the same time
//! as the first thread, and as the threads of other VMs.
//!
//! The two threads never print at the same time: the first waits for the
//! second's report (through memory) before it goes on, so lines do not interleave.

use super::guest::{
    console, init_complete, load, measure_at, sleep_us, store, wait_forever, Console,
};
use super::image::{self, symbols};
use super::modes::run as send_and_judge;
use super::transport::{call_timed, receive_any, send_timed};
use core::arch::global_asm;
use core::fmt::Write;
use core::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use l4_sys::ia32::{self, rdtsc, utcb, ExregsRegs};
use l4_sys::ThreadId;
use test_guest::checks::{Own, Report, Snapshot};
use test_guest::options::Options;
use test_guest::pages::vm_free_pages;
use test_guest::probe::{self, map_item, req, tid, Expect, Ids, IpcCode, Outcome, Probe, Wait};
use test_guest::smp::{
    soak_value, thread_salt, SoakTally, GO_LABEL, SECOND_MEASURE_FROM, SECOND_THREAD, SOAK_FROM,
    SOAK_PAGES, START_CONTROL,
};
use test_guest::{Hex, PAGE, WEDGE_VADDR};

/// The second thread's stack (in .bss; faulted in through the monitor).
const SECOND_STACK_BYTES: usize = 16 * 1024;

#[repr(C, align(16))]
struct Stack([u8; SECOND_STACK_BYTES]);

static mut SECOND_STACK: Stack = Stack([0; SECOND_STACK_BYTES]);

/// The second thread's reports, through memory: the processor it runs on,
/// its checks passed and failed, then `REPORTS` counts up. (The two
/// threads do not talk by IPC: on this SMP kernel cross-processor IPC
/// between them was lost under load, which would fail the run for a
/// reason that is not the monitor's; the requests to the monitor stay
/// IPC, they are what is tested.)
static REPORT_CPU: AtomicU32 = AtomicU32::new(0);
static REPORT_PASSED: AtomicU32 = AtomicU32::new(0);
static REPORT_FAILED: AtomicU32 = AtomicU32::new(0);
static REPORTS: AtomicU32 = AtomicU32::new(0);
/// Set by the first thread: the second may start its soak.
static GO: AtomicU32 = AtomicU32::new(0);
/// How often a waiting thread looks at the flags (µs).
const POLL_US: u64 = 1_000;

/// How long the first thread waits for the second's measurement report
/// (virtual µs).
const REPORT_WAIT_US: u64 = 60_000_000;
/// How long a soak may take before its report is given up (virtual µs).
const SOAK_WAIT_US: u64 = 900_000_000;
/// How long a thread waits for a go message (another VM's start included).
const GO_WAIT_US: u64 = 300_000_000;
/// Send timeout of go messages.
const GO_SEND_US: u64 = 30_000_000;
/// Send and receive timeout of each soak request_pages: an answer that
/// does not come by then counts as lost.
const SOAK_REPLY_US: u64 = 10_000_000;

global_asm!(
    ".pushsection .text.smp_second_start, \"ax\", @progbits",
    ".global smp_second_start",
    "smp_second_start:",
    "    cld",
    "    xor ebp, ebp",
    "    call {main}",
    "2:  jmp 2b",
    ".popsection",
    main = sym second_main,
);

extern "C" {
    fn smp_second_start();
}

/// The processor the calling thread runs on (its UTCB's ProcessorNo).
fn processor() -> u32 {
    utcb::read(utcb::tcr::PROCESSOR_NO)
}

/// A 4 KB receive window at guest-virtual `gv`.
fn window(gv: u32) -> idl::Acceptor {
    idl::Acceptor {
        window: idl::Fpage::new(gv, 12, idl::Fpage::RWX),
        string: None,
    }
}

/// Remove the own mapping of the page at `gv`, so the next access faults.
fn flush_page(gv: u32) {
    // SAFETY: `gv` is one of this thread's soak pages (free VM memory from
    // `vm_free_pages`, holding nothing but the soak pattern): unmapping it
    // from the own space only makes the next access fault, and the monitor
    // maps the same frame again.
    let _ = unsafe { ia32::unmap(0, true, l4_sys::Fpage(gv | (12 << 4) | 7)) };
}

fn ids(snap: &Snapshot, own: &Own, rm: u32) -> Ids {
    Ids {
        rm,
        me: own.global_id,
        space_start: snap.thread_space_start,
        user_base: own.user_base,
    }
}

/// The first thread's part (after its own measurements on processor 0).
pub fn run(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    server: u32,
    r: &mut Report<'_, Console>,
) {
    let p0 = processor();
    r.line(format_args!(
        "smp: first thread {} on processor {p0}; vcpu_count {} pcpu_count {}",
        Hex(own.global_id),
        snap.vcpu_count,
        snap.pcpu_count
    ));
    r.eq("first thread processor", p0, 0);
    let ids = ids(snap, own, rm);
    let second = tid(snap.thread_space_start + SECOND_THREAD, 2);
    // Created in the own space, the first thread its scheduler, the
    // monitor its pager (its faults go there), on processor `cpu=` at the
    // VM's priority: the monitor calls Schedule with both.
    let create = Probe {
        what: "ThreadControl second thread with prio and cpu",
        to: rm,
        msg: req::thread_control_on(
            second,
            own.global_id,
            own.global_id,
            rm,
            own.l4utcb + probe::UTCB_SIZE,
            opts.prio(),
            opts.cpu,
        ),
        accept: probe::NONE,
        wait: Wait::Long,
        expect: Expect::RESULT_1,
    };
    r.line(format_args!(
        "smp: creating thread {} on cpu {} with prio {}",
        Hex(second),
        opts.cpu,
        opts.prio()
    ));
    let got = send_and_judge(r, &create);
    if !create.expect.judge(&got) {
        return;
    }
    let top = core::ptr::addr_of!(SECOND_STACK) as u32 + SECOND_STACK_BYTES as u32;
    let mut regs = ExregsRegs {
        dest: ThreadId(second),
        control: START_CONTROL,
        sp: top,
        ip: smp_second_start as *const () as u32,
        ..ExregsRegs::default()
    };
    // SAFETY: the target is the thread just created in this space, which
    // has not run yet; it starts on its own stack (SECOND_STACK, used by
    // nothing else) at `smp_second_start`.
    unsafe { ia32::exchange_registers(&mut regs) };
    r.check(
        "ExchangeRegisters starts the second thread",
        regs.dest.0 != 0,
        format_args!("error code {}", utcb::error_code()),
        "its local id",
    );
    if regs.dest.0 == 0 {
        return;
    }
    r.out.flush();
    if !second_report(r, 1, REPORT_WAIT_US, Some(opts.cpu)) {
        return;
    }
    if opts.smp_soak == 0 {
        return;
    }
    // The next VM starts now, so the VMs soak at the same time.
    init_complete(server, r);
    if opts.soak_wait {
        r.line(format_args!("smp: waiting for a go from another VM"));
        r.out.flush();
        let t0 = rdtsc();
        let mut went = false;
        while rdtsc() - t0 < GO_WAIT_US * 1000 {
            match receive_any(GO_WAIT_US) {
                Ok((_, m)) if m.tag().label() == GO_LABEL => {
                    went = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        r.check("go from another VM", went, "none", "a go message");
    }
    if let Some(slot) = opts.soak_go {
        let to = ids.first(slot);
        let sent = send_timed(to, &probe::raw(GO_LABEL, 0, 0, &[]), GO_SEND_US);
        r.check(
            format_args!("go to slot {slot}"),
            sent.is_ok(),
            format_args!("{:?}", sent.err().map(IpcCode)),
            "sent",
        );
    }
    GO.store(1, Release);
    if let Some(cpu) = opts.soak_cpu {
        let moved = ia32::schedule(ThreadId(own.global_id), !0, cpu, !0, !0);
        let now = processor();
        r.line(format_args!(
            "smp: first thread moved itself to processor {now} ({})",
            if moved.is_ok() {
                "Schedule ok"
            } else {
                "Schedule failed"
            }
        ));
        r.eq("first thread moved to soak-cpu", now, cpu);
    }
    let t = if opts.soak_on.is_none_or(|t| t == 0) {
        soak(snap, opts, own, rm, 0, r)
    } else {
        None
    };
    r.out.flush();
    second_report(r, 2, SOAK_WAIT_US, None);
    if let Some(t) = t {
        r.line(format_args!("{t}"));
        r.check("smp soak", t.clean(), t, "no wrong, refused or lost answer");
    }
}

/// Wait (up to `us`) for the second thread's report number `n`; add its
/// counts to `r`. With `cpu`, check the processor it reported.
fn second_report(r: &mut Report<'_, Console>, n: u32, us: u64, cpu: Option<u32>) -> bool {
    let mut waited = 0;
    while REPORTS.load(Acquire) < n {
        if waited >= us {
            r.check(
                "second thread report",
                false,
                format_args!("none after {} s", us / 1_000_000),
                format_args!("report {n}"),
            );
            return false;
        }
        sleep_us(POLL_US);
        waited += POLL_US;
    }
    let (p, passed, failed) = (
        REPORT_CPU.load(Relaxed),
        REPORT_PASSED.load(Relaxed),
        REPORT_FAILED.load(Relaxed),
    );
    r.passed += passed;
    r.failed += failed;
    if let Some(cpu) = cpu {
        r.line(format_args!(
            "smp: second thread reports processor {p} ({passed} checks passed, {failed} failed)"
        ));
        r.eq("second thread processor", p, cpu);
    }
    true
}

/// `smp-soak=N` rounds on this thread's own pages: flush a page, read it
/// back by page fault (must be what was last written), write the next
/// value, request the page with request_pages at its own place (must be a
/// map item of that page, and read the new value). `None` (after a failed
/// check) without enough free pages.
fn soak<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    thread: u32,
    r: &mut Report<'_, W>,
) -> Option<SoakTally> {
    let link = snap.link_vaddr;
    let phys = snap.phys_size.min(opts.phys_size());
    let limit = phys.min((WEDGE_VADDR - 2 * PAGE).saturating_sub(link));
    let image_len = own.image_end - WEDGE_VADDR;
    let (mut free, _) = vm_free_pages(snap, opts, image_len, SOAK_FROM[thread as usize], limit);
    let mut pages = [0u32; SOAK_PAGES];
    for p in pages.iter_mut() {
        match free.next_page() {
            Some(gp) => *p = gp,
            None => {
                r.check("soak pages", false, "too few", SOAK_PAGES);
                return None;
            }
        }
    }
    let slot = ids(snap, own, rm).own_slot();
    let salt = thread_salt(slot, thread);
    let mut expect = [0u32; SOAK_PAGES];
    for (k, &gp) in pages.iter().enumerate() {
        expect[k] = soak_value(gp, salt, 0);
        store(gp + link, expect[k]);
    }
    let mut t = SoakTally {
        start_tsc: rdtsc(),
        ..SoakTally::default()
    };
    for i in 0..opts.smp_soak {
        let k = i as usize % SOAK_PAGES;
        let (gp, gv) = (pages[k], pages[k] + link);
        if opts.soak_flush {
            flush_page(gv);
        }
        if load(gv) != expect[k] {
            t.wrong += 1;
        }
        let v = soak_value(gp, salt, i + 1);
        store(gv, v);
        expect[k] = v;
        let msg = req::request_pages(gp, 12);
        match call_timed(rm, &msg, window(gv), SOAK_REPLY_US, SOAK_REPLY_US) {
            Outcome::Reply(m) => match map_item(&m) {
                Some(item)
                    if !item.fpage.is_nil()
                        && item.fpage.size_log2() == 12
                        && item.send_base == gp =>
                {
                    if load(gv) != v {
                        t.wrong += 1;
                    }
                }
                _ => t.refused += 1,
            },
            Outcome::Failed(_) => t.lost += 1,
        }
        t.rounds += 1;
    }
    t.end_tsc = rdtsc();
    Some(t)
}

/// Hand the counts of `r` to the first thread and start counting afresh.
fn report_to_first(r: &mut Report<'_, Console>, cpu: u32) {
    r.out.flush();
    REPORT_CPU.store(cpu, Relaxed);
    REPORT_PASSED.store(r.passed, Relaxed);
    REPORT_FAILED.store(r.failed, Relaxed);
    REPORTS.fetch_add(1, Release);
    r.passed = 0;
    r.failed = 0;
}

/// The second thread: entered from `smp_second_start` on its own stack.
extern "C" fn second_main() -> ! {
    let snap = Snapshot::read(image::shared_word);
    let opts = Options::parse(snap.cmdline());
    let cpu = processor();
    let mut name: heapless::String<48> = heapless::String::new();
    let _ = write!(name, "{}@cpu{}", opts.name, opts.cpu);
    let mut r = Report::new(console(), name.as_str());
    let me = utcb::my_global_id().0;
    let pager = utcb::pager().0;
    let rm = if snap.resourcemon_tid != 0 {
        snap.resourcemon_tid
    } else {
        pager
    };
    let sym = symbols();
    let own = Own {
        global_id: me,
        pager,
        user_base: ia32::kip().thread_info().user_base,
        start: sym.start,
        l4kip: sym.l4kip,
        l4utcb: sym.l4utcb,
        image_end: sym.image_end,
    };
    r.line(format_args!(
        "second thread {} on processor {cpu}, pager {}",
        Hex(me),
        Hex(pager)
    ));
    r.eq("processor", cpu, opts.cpu);
    r.eq("pager", Hex(pager), Hex(rm));
    // Page faults and request_pages from this processor, on pages of
    // its own (and its own alias page).
    measure_at(
        &snap,
        &opts,
        &own,
        rm,
        &mut r,
        SECOND_MEASURE_FROM,
        WEDGE_VADDR - 2 * PAGE,
    );
    if let Some(irq) = opts.irq {
        // The interrupt for this thread, delivered on its processor: the
        // monitor schedules the interrupt thread with irq_cpu.
        let p = Probe {
            what: "AssociateInterrupt with irq_cpu = own processor",
            to: rm,
            msg: req::associate_interrupt_on(irq, me, opts.prio() + 1, cpu),
            accept: probe::NONE,
            wait: Wait::Long,
            expect: Expect::RESULT_1,
        };
        r.line(format_args!(
            "claiming IRQ {irq} for {} on cpu {cpu} at prio {}",
            Hex(me),
            opts.prio() + 1
        ));
        send_and_judge(&mut r, &p);
    }
    report_to_first(&mut r, cpu);
    if opts.smp_soak > 0 {
        let mut waited = 0;
        while GO.load(Acquire) == 0 && waited < 2 * GO_WAIT_US {
            sleep_us(POLL_US);
            waited += POLL_US;
        }
        if GO.load(Acquire) == 0 {
            r.check("go", false, "none", "the first thread's go");
        } else if opts.soak_on.is_some_and(|t| t != 1) {
            r.line(format_args!("smp soak: not on this thread (soak-on=0)"));
        } else {
            let t = soak(&snap, &opts, &own, rm, 1, &mut r);
            if let Some(t) = t {
                r.line(format_args!("{t}"));
                r.check("smp soak", t.clean(), t, "no wrong, refused or lost answer");
            }
        }
        report_to_first(&mut r, cpu);
    }
    wait_forever()
}
