//! The run: read the shared page, check it, measure page faults and
//! request_pages, report, tell the monitor we are done, wait forever.
//!
//! Output goes only through `IConsole::put_chars` to `thread_server_tid`
//! (never the kernel debugger console): every line is
//! `guest <name>: <text>`, see [`test_guest::checks`] for the check lines.

use super::image::{self, symbols};
use super::modes;
use super::transport::L4Transport;
use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};
use l4_sys::ia32::{self, ipc, rdtsc, utcb};
use l4_sys::{MsgTag, ThreadId, Time, Timeouts};
use test_guest::checks::{self, GuestMemory, Own, Report, Snapshot};
use test_guest::console::{LineWriter, CHUNK};
use test_guest::echo::{self, Escaped};
use test_guest::ipc::{iconsole, iresourcemon};
use test_guest::options::{Mode, Options};
use test_guest::pages::vm_free_pages;
use test_guest::{
    page_word, Hex, FAILURE_SENTINEL, PAGE, PASS_SENTINEL, PROMPT_BYTES, WEDGE_VADDR,
};

/// The first guest-physical address the measurements use (above the
/// legacy BIOS/VGA megabyte).
pub(super) const MEASURE_FROM: u32 = 0x10_0000;
/// Salts of the page patterns (see [`page_word`]).
const TOUCH_SALT: u32 = 0x7c00_0000;
const REQUEST_SALT: u32 = 0x5e00_0000;
/// Words per page.
const PAGE_WORDS: u32 = PAGE / 4;
/// request_pages' attribute argument (the wedge passes 7; the monitor ignores it).
const REQUEST_ATTR: u32 = 7;

/// Where console output goes (0 until known; the panic handler uses it).
static CONSOLE_TID: AtomicU32 = AtomicU32::new(0);

/// Send one chunk (≤ 128 bytes) with `IConsole::put_chars`, handle 0.
fn put_chars(chunk: &[u8]) {
    let server = CONSOLE_TID.load(Relaxed);
    if server == 0 {
        return;
    }
    let mut stream = iconsole::Stream::zeroed();
    let n = chunk.len().min(CHUNK);
    stream.raw[..n].copy_from_slice(&chunk[..n]);
    stream.len = n as u32;
    let mut t = L4Transport;
    // Nothing to report a console failure on.
    let _ =
        iconsole::Client::new(&mut t, idl::ThreadId(server), idl::Variant::A).put_chars(0, &stream);
}

/// Console lines through put_chars.
pub(super) type Console = LineWriter<fn(&[u8])>;

/// A fresh line writer (one per thread).
pub(super) fn console() -> Console {
    LineWriter::new(put_chars as fn(&[u8]))
}

/// Guest-virtual memory inside the VM's guest-physical window.
struct VmMemory;

impl GuestMemory for VmMemory {
    fn read(&mut self, addr: u32, len: u32) -> &[u8] {
        if addr == 0 {
            return &[];
        }
        // SAFETY: checks::run asks only for ranges that
        // `checks::gpaddr_to_gvaddr` placed inside the VM's guest-physical
        // window and below the wedge window: every page there is backed by
        // the monitor's pager (§8.2), no Rust object of this program lives
        // there, and nothing writes it while the slice is alive.
        unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) }
    }
}

/// Volatile access to one word of guest memory at a guest-virtual address
/// in the measurement pages (below the wedge window, holding nothing else).
pub(super) fn store(addr: u32, value: u32) {
    // SAFETY: callers pass page addresses from `FreePages`, limited to the
    // VM's guest-physical window below the wedge (`vm_free_pages`), or the
    // alias page just below the wedge window; none of them overlaps this
    // image, its stack or data, and the monitor backs them (by page fault
    // or request_pages).
    unsafe { (addr as *mut u32).write_volatile(value) }
}

pub(super) fn load(addr: u32) -> u32 {
    // SAFETY: as for `store`.
    unsafe { (addr as *const u32).read_volatile() }
}

/// Fill words `from..` of the page at guest-virtual `gv` (guest-physical
/// `gp`) with the pattern, then compare the whole page; the first bad word.
fn fill_and_verify(gv: u32, gp: u32, salt: u32, from: u32) -> Option<(u32, u32, u32)> {
    for k in from..PAGE_WORDS {
        store(gv + 4 * k, page_word(gp + 4 * k, salt));
    }
    verify(gv, gp, salt)
}

/// Compare the page at `gv` with the pattern of guest-physical `gp`:
/// `(address, got, want)` of the first difference.
fn verify(gv: u32, gp: u32, salt: u32) -> Option<(u32, u32, u32)> {
    (0..PAGE_WORDS).find_map(|k| {
        let (got, want) = (load(gv + 4 * k), page_word(gp + 4 * k, salt));
        (got != want).then_some((gv + 4 * k, got, want))
    })
}

/// Entered from `_start` on the stack from `.resourcemon.startup`.
pub extern "C" fn guest_main() -> ! {
    // Virtual ns since reset under -icount (the scenarios' "first
    // instruction" time; only the image's first pages were faulted in).
    let entry_tsc = rdtsc();
    let snap = Snapshot::read(image::shared_word);
    let pager = utcb::pager().0;
    // thread_server_tid serves put_chars (§5.3); should it be missing, the
    // pager (the monitor's main thread) still gets the lines out.
    let server = if snap.thread_server_tid != 0 {
        snap.thread_server_tid
    } else {
        pager
    };
    CONSOLE_TID.store(server, Relaxed);
    let opts = Options::parse(snap.cmdline());
    let mut report = Report::new(console(), opts.name);
    let me = utcb::my_global_id().0;
    let sym = symbols();
    report.line(format_args!(
        "started: thread {} (number {}), pager {}, shared page at {}, cmdline {:?}",
        Hex(me),
        checks::thread_no(me),
        Hex(pager),
        Hex(image::shared_address()),
        snap.cmdline()
    ));
    report.line(format_args!("time: entry tsc={entry_tsc}"));
    test_guest::seen::report(&snap, &mut report);
    let kip_base = ia32::kernel_interface().kip_base as u32;
    let own = Own {
        global_id: me,
        pager,
        user_base: ia32::kip().thread_info().user_base,
        start: sym.start,
        l4kip: sym.l4kip,
        l4utcb: sym.l4utcb,
        image_end: sym.image_end,
    };
    report.line(format_args!(
        "image [{}, {}), kip at {}, user base {}",
        Hex(WEDGE_VADDR),
        Hex(own.image_end),
        Hex(kip_base),
        own.user_base
    ));

    if let Some(die) = opts.die {
        let version = checks::thread_version(me);
        if version < opts.die_until {
            report.line(format_args!(
                "die: instance with thread version {version}: dying by {} now",
                die.name()
            ));
            report.out.flush();
            super::modes::die(die, &snap, pager);
        }
        // A restarted instance: a new thread version, then the usual checks.
        report.line(format_args!(
            "die: new instance with thread version {version} (die-until={}): not dying; running the checks",
            opts.die_until
        ));
        report.check(
            "restarted instance",
            // The monitor's first VM in a slot gets version 2 (§6.1).
            version > 2,
            version,
            "a thread version above 2",
        );
    }
    checks::run(&snap, &opts, &own, &mut report, &mut VmMemory);
    let rm = if snap.resourcemon_tid != 0 {
        snap.resourcemon_tid
    } else {
        pager
    };
    let r = &mut report;
    // The driver reports init complete before it serves its client, and
    // answers the client after its verdict is printed.
    let mut client = None;
    match opts.mode {
        Mode::Normal => measure(&snap, &opts, &own, rm, r),
        Mode::IrqOwner => {
            measure(&snap, &opts, &own, rm, r);
            modes::irq_owner(&snap, &opts, &own, rm, r);
        }
        Mode::Hostile => modes::hostile(&snap, &opts, &own, rm, r),
        Mode::Client => modes::client(&snap, &opts, &own, rm, r),
        Mode::Soak => modes::soak(&snap, &opts, &own, rm, r),
        // Both report init complete first, so the next VM starts and the
        // fuzzers run beside the victim.
        Mode::Fuzz => {
            init_complete(server, r);
            modes::fuzz(&snap, &opts, &own, rm, r);
        }
        Mode::Victim => {
            measure(&snap, &opts, &own, rm, r);
            if opts.irq.is_some() {
                modes::irq_owner(&snap, &opts, &own, rm, r);
            }
            init_complete(server, r);
            modes::victim(&snap, &opts, &own, rm, r);
        }
        Mode::Smp => {
            measure(&snap, &opts, &own, rm, r);
            super::smp::run(&snap, &opts, &own, rm, server, r);
        }
        Mode::Echo => {}
        Mode::Driver => {
            let driver = modes::driver(&snap, &opts, &own, rm, r);
            init_complete(server, r);
            match driver {
                Some(d) => client = modes::serve_client(&d, r),
                None => r.check("driver ready", false, "setup failed", "ready"),
            }
            if client.is_none() {
                r.check("client served", false, "no client", "one client");
            }
        }
    }

    let (passed, failed) = (report.passed, report.failed);
    report.line(format_args!("checks: {passed} passed, {failed} failed"));
    if report.all_passed() {
        report.line(format_args!("{PASS_SENTINEL} {}\x06", opts.name));
    } else {
        report.line(format_args!("{FAILURE_SENTINEL}"));
    }
    report.out.flush();

    if opts.mode == Mode::Driver {
        if let Some((tid, verified)) = client {
            modes::answer_client(tid, verified, &mut report);
        }
    } else {
        // Fuzzers, the victim and a soaking `mode=smp` told the monitor
        // earlier (so the next VM could start).
        let told = matches!(opts.mode, Mode::Fuzz | Mode::Victim)
            || (opts.mode == Mode::Smp && opts.smp_soak > 0);
        if !told {
            init_complete(server, &mut report);
        }
    }
    if opts.prompt {
        prompt(opts.name);
    }
    if opts.mode == Mode::Echo {
        echo(server, &opts, &mut report);
    }
    wait_forever()
}

/// Sleep `us` microseconds (a receive nobody answers, with a timeout).
pub(super) fn sleep_us(us: u64) {
    let _ = super::transport::receive_any(us);
}

/// Pop one byte from `console_rx` (the wedge's consumer rule), if any.
fn rx_pop() -> Option<u8> {
    let len = image::shared_word(echo::CONSOLE_RX_LEN);
    let i = echo::rx_index(len)?;
    let b = image::shared_byte(echo::CONSOLE_RX + i);
    image::set_shared_word(echo::CONSOLE_RX_LEN, len - 1);
    Some(b)
}

/// `get_chars` into `buf`: how many bytes came (0 on an IPC failure).
fn get_chars(server: u32, buf: &mut [u8]) -> usize {
    let mut t = L4Transport;
    match iconsole::Client::new(&mut t, idl::ThreadId(server), idl::Variant::A).get_chars(0) {
        Ok(s) => {
            let n = (s.len as usize).min(s.raw.len()).min(buf.len());
            buf[..n].copy_from_slice(&s.raw[..n]);
            n
        }
        Err(_) => 0,
    }
}

/// `mode=echo`: print console input as it arrives (see the options).
fn echo(server: u32, opts: &Options<'_>, r: &mut Report<'_, Console>) {
    let mut buf = [0u8; echo::LINE_MAX];
    if opts.echo_rx > 0 {
        let want = (opts.echo_rx as usize).min(buf.len());
        r.line(format_args!("echo: waiting for {want} bytes on console_rx"));
        r.out.flush();
        let mut n = 0;
        while n < want {
            match rx_pop() {
                Some(b) => {
                    buf[n] = b;
                    n += 1;
                }
                None => sleep_us(1000),
            }
        }
        r.line(format_args!(
            "echo: console_rx got \"{}\"",
            Escaped(&buf[..n])
        ));
    }
    if !opts.echo_line {
        r.out.flush();
        return;
    }
    let mut n = 0;
    if opts.hold > 0 {
        r.line(format_args!(
            "echo: holding: waiting for a byte, then {} ms without reading",
            opts.hold
        ));
        r.out.flush();
        while image::shared_word(echo::CONSOLE_RX_LEN) == 0 {
            sleep_us(1000);
        }
        sleep_us(u64::from(opts.hold) * 1000);
        // What waited: the byte in console_rx (older), then the queue.
        while let Some(b) = rx_pop() {
            buf[n] = b;
            n += 1;
        }
        loop {
            let got = get_chars(server, &mut buf[n..]);
            n += got;
            if got == 0 || n == buf.len() {
                break;
            }
        }
        r.line(format_args!("echo: drained {n} bytes"));
    } else {
        r.line(format_args!("echo: waiting for a line via get_chars"));
    }
    r.out.flush();
    // console_rx first: a byte pushed before our first get_chars is older
    // than everything get_chars answers.
    // A line ends with `\n`, or with `\r`: what Enter sends from a terminal.
    while n < buf.len() && !buf[..n].iter().any(|b| matches!(b, b'\n' | b'\r')) {
        if let Some(b) = rx_pop() {
            buf[n] = b;
            n += 1;
            continue;
        }
        let got = get_chars(server, &mut buf[n..]);
        if got == 0 {
            sleep_us(1000);
        }
        n += got;
    }
    r.line(format_args!(
        "echo: get_chars got \"{}\" ({n} bytes)",
        Escaped(&buf[..n])
    ));
    r.out.flush();
}

/// `prompt=1`: one put_chars of `guest <name>: ` + [`PROMPT_BYTES`], no
/// newline (what a shell prompt looks like to the monitor).
fn prompt(name: &str) {
    let mut chunk = [0u8; CHUNK];
    let head = b"guest ";
    let mut n = 0;
    for part in [head.as_slice(), name.as_bytes(), b": ", PROMPT_BYTES] {
        let take = part.len().min(CHUNK - n);
        chunk[n..n + take].copy_from_slice(&part[..take]);
        n += take;
    }
    put_chars(&chunk[..n]);
}

/// Tell the monitor this VM is done booting (`client_init_complete`).
pub(super) fn init_complete(server: u32, report: &mut Report<'_, Console>) {
    report.line(format_args!("time: init complete tsc={}", rdtsc()));
    report.out.flush();
    let mut t = L4Transport;
    let done = iresourcemon::Client::new(&mut t, idl::ThreadId(server), idl::Variant::A)
        .client_init_complete();
    if let Err(e) = done {
        report.line(format_args!("client_init_complete failed: {e}"));
    }
}

/// The page-fault and request_pages measurements.
fn measure(snap: &Snapshot, opts: &Options<'_>, own: &Own, rm: u32, r: &mut Report<'_, Console>) {
    measure_at(snap, opts, own, rm, r, MEASURE_FROM, WEDGE_VADDR - PAGE);
}

/// The measurements on free pages from guest-physical `from` up, with
/// `alias` (a guest-virtual page above the VM's window, below the wedge)
/// for the second mapping of a touched frame. `mode=smp`'s second thread
/// measures with its own range and alias page.
pub(super) fn measure_at(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, Console>,
    from: u32,
    alias: u32,
) {
    let link = snap.link_vaddr;
    let phys = snap.phys_size.min(opts.phys_size());
    // Pages must stay inside the VM and, guest-virtually, below the alias
    // page under the wedge window.
    let limit = phys.min((WEDGE_VADDR - 2 * PAGE).saturating_sub(link));
    // Skips this image, where the monitor says it is and where
    // `wedgeinstall=` says it should be (the same place unless a check
    // above failed), the modules and the ramdisk.
    let image_len = own.image_end - WEDGE_VADDR;
    let (mut free, reserved) = vm_free_pages(snap, opts, image_len, from, limit);
    if !reserved {
        r.check(
            "free pages",
            false,
            "reserve table full",
            "room for every range",
        );
    }
    let wanted = opts.touch.saturating_add(opts.request);
    let available = core::iter::from_fn({
        let mut f = free.clone();
        move || f.next_page()
    })
    .take(wanted as usize)
    .count() as u32;
    r.check(
        "free pages",
        available == wanted,
        format_args!("{available} below {}", Hex(limit)),
        wanted,
    );

    // Touch: one word per page inside the timed loop (the fault), the rest
    // of the page outside it.
    r.line(format_args!(
        "touching {} pages from gpaddr {} (gvaddr = gpaddr + {})",
        opts.touch,
        Hex(from),
        Hex(link)
    ));
    let first = free.clone();
    let mut touched = 0u32;
    let t0 = rdtsc();
    while touched < opts.touch {
        let Some(gp) = free.next_page() else { break };
        store(gp + link, page_word(gp, TOUCH_SALT));
        touched += 1;
    }
    let fault_ns = (rdtsc() - t0) / touched.max(1) as u64;
    // Memory nobody wrote reads zero: the rest of each touched page (only
    // word 0 was written), whether the monitor zeroed the block at
    // creation or zeroes each frame on first exposure.
    let mut fresh = first.clone();
    let dirty = (0..touched).find_map(|_| {
        let gp = fresh.next_page()?;
        (1..PAGE / 4).find_map(|k| {
            let w = load(gp + link + 4 * k);
            (w != 0).then_some((gp + 4 * k, w))
        })
    });
    match dirty {
        None => r.check("fresh pages read zero", true, "", ""),
        Some((gp, w)) => r.check(
            "fresh pages read zero",
            false,
            format_args!("{} at gpaddr {}", Hex(w), Hex(gp)),
            "0",
        ),
    }
    let mut pages = first.clone();
    let bad = (0..touched).find_map(|_| {
        let gp = pages.next_page()?;
        fill_and_verify(gp + link, gp, TOUCH_SALT, 1)
    });
    match bad {
        None => r.check("touched pages", true, "", ""),
        Some((a, got, want)) => r.check(
            "touched pages",
            false,
            format_args!("{} at {}", Hex(got), Hex(a)),
            Hex(want),
        ),
    }
    r.line(format_args!(
        "touched {touched} pages, {fault_ns} ns per fault"
    ));

    let mut t = L4Transport;
    let mut client = iresourcemon::Client::new(&mut t, idl::ThreadId(rm), idl::Variant::A);
    // The same frame as the page-fault path: map the first touched page a
    // second time, at a guest-virtual address outside the guest-physical
    // window, and read the touch pattern through it. (Done first, so the
    // timed loop below does not pay for faulting in the stub's code.)
    if touched > 0 {
        let gp = first.clone().next_page().unwrap_or(0);
        let reply = client.request_pages(page_fpage(gp, 7), REQUEST_ATTR, page_fpage(alias, 0));
        match check_item(reply, gp) {
            Ok(()) => match verify(alias, gp, TOUCH_SALT) {
                None => r.check("request_pages frame", true, "", ""),
                Some((a, got, want)) => r.check(
                    "request_pages frame",
                    false,
                    format_args!("{} at {}", Hex(got), Hex(a)),
                    format_args!("{} as written at gpaddr {}", Hex(want), Hex(gp)),
                ),
            },
            Err(e) => r.check(
                "request_pages frame",
                false,
                format_args!("{e} for gpaddr {}", Hex(gp)),
                "a map item",
            ),
        }
    }
    // Timed request_pages: req_fp is the guest-physical page (rwx), the receive
    // window the page's guest-virtual address; the reply maps the VM's frame
    // with send base = the guest-physical address (§7.6).
    let mut requested = 0u32;
    let mut cycles = 0u64;
    let mut reply_fail: Option<(u32, MapFailure)> = None;
    let mut map_fail: Option<(u32, u32, u32)> = None;
    while requested < opts.request {
        let Some(gp) = free.next_page() else { break };
        let gv = gp + link;
        let t0 = rdtsc();
        let reply = client.request_pages(page_fpage(gp, 7), REQUEST_ATTR, page_fpage(gv, 0));
        cycles += rdtsc() - t0;
        requested += 1;
        match check_item(reply, gp) {
            Ok(()) => {
                if let Some(bad) = fill_and_verify(gv, gp, REQUEST_SALT, 0) {
                    map_fail.get_or_insert(bad);
                }
            }
            Err(e) => {
                reply_fail.get_or_insert((gp, e));
            }
        }
    }
    match reply_fail {
        None => r.check("request_pages replies", true, "", ""),
        Some((gp, e)) => r.check(
            "request_pages replies",
            false,
            format_args!("{e} for gpaddr {}", Hex(gp)),
            format_args!("map item {{send base {}, 4 KB, rwx}}", Hex(gp)),
        ),
    }
    match map_fail {
        None => r.check("request_pages mappings", true, "", ""),
        Some((a, got, want)) => r.check(
            "request_pages mappings",
            false,
            format_args!("{} at {}", Hex(got), Hex(a)),
            Hex(want),
        ),
    }
    let request_ns = cycles / requested.max(1) as u64;
    r.line(format_args!(
        "requested {requested} pages, {request_ns} ns per request"
    ));

    // The baseline for both figures, measured in the same run: a null RPC
    // through the same stubs and the same monitor loop (tid_to_space_id of
    // the guest's own thread: decode, one table lookup, a one-word reply).
    let me = idl::ThreadId(utcb::my_global_id().0);
    let calls = opts.request.max(16);
    let t0 = rdtsc();
    let mut ok = 0u32;
    for _ in 0..calls {
        ok += u32::from(client.tid_to_space_id(me).is_ok());
    }
    let null_ns = (rdtsc() - t0) / u64::from(calls);
    r.check("baseline calls", ok == calls, ok, calls);
    r.line(format_args!(
        "baseline: {calls} null calls, {null_ns} ns per call"
    ));
}

/// The 4 KB fpage at `addr` with `rights`.
fn page_fpage(addr: u32, rights: u32) -> idl::Fpage {
    idl::Fpage::new(addr, 12, rights)
}

/// What was wrong with a request_pages reply.
enum MapFailure {
    Ipc(idl::ClientError<iresourcemon::Exception>),
    Item(idl::MapItem),
}

impl core::fmt::Display for MapFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapFailure::Ipc(e) => write!(f, "{e}"),
            MapFailure::Item(m) => write!(
                f,
                "item {{send base {}, fpage {}}}",
                Hex(m.send_base),
                Hex(m.fpage.0)
            ),
        }
    }
}

/// A request_pages reply must map one 4 KB page, rwx, with send base = the
/// requested guest-physical address.
fn check_item(
    reply: Result<idl::MapItem, idl::ClientError<iresourcemon::Exception>>,
    gp: u32,
) -> Result<(), MapFailure> {
    let item = reply.map_err(MapFailure::Ipc)?;
    let fp = item.fpage;
    if fp.is_nil() || fp.size_log2() != 12 || fp.rights() != 7 || item.send_base != gp || item.grant
    {
        return Err(MapFailure::Item(item));
    }
    Ok(())
}

/// Block for good: a closed receive from ourselves never completes (nobody
/// can send as us), and the infinite timeout never expires. A receive from
/// nilthread would return at once (no receive phase in X.2).
pub(super) fn wait_forever() -> ! {
    let me = utcb::my_global_id();
    let timeouts = Timeouts {
        send: Time::ZERO,
        receive: Time::NEVER,
    };
    loop {
        utcb::set_br(0, 0);
        // SAFETY: BR0 = 0 accepts no mappings; nothing reaches our memory.
        let _ = unsafe { ipc(ThreadId::NIL, me, timeouts, MsgTag(0)) };
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut out = console();
    let _ = writeln!(out, "guest: panic: {info}");
    let _ = writeln!(out, "{FAILURE_SENTINEL}");
    out.flush();
    wait_forever()
}
