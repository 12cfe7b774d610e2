//! The isolation modes (`mode=`, see [`test_guest::options::Mode`]): what
//! each sends and checks after the shared-page checks. The requests and
//! their expected answers come from [`test_guest::probe`]; this module only
//! sends them, touches the pages they map and prints the verdicts.
//!
//! Every request waits with a timeout: when no reply is expected a short
//! one, otherwise a long one, so a monitor that does not answer fails a
//! check instead of hanging the guest.

use super::guest::{store, MEASURE_FROM};
use super::transport::{call_timed, exchange, receive_any, send_timed};
use core::fmt::Write;
use l4_sys::ia32::rdtsc;
use test_guest::checks::{thread_no, Own, Report, Snapshot};
use test_guest::fuzz::{
    mark_word, Broken, Case, Counts, Fuzzer, Got, MapCheck, DONE_LABEL, MARKED,
};
use test_guest::ipc::iresourcemon;
use test_guest::options::{Die, Options};
use test_guest::pages::{vm_free_pages, FreePages};
use test_guest::probe::{
    self as probe, above_ram_page, hostile_probes, map_item, req, rm_exception, scratch_page,
    unlisted_page, Env, Expect, Ids, IpcCode, Outcome, Probe, Soak, SoakKind, Wait, CLIENT_SEED,
    CLIENT_WAIT_US, DRIVER_GUID, DRIVER_LABEL, IVMCONTROL_GUID, NONE, SOAK_PAGES, THREAD_SPACE,
    VGA_TEXT, VICTIM_SLOT,
};
use test_guest::{pattern_byte, pattern_mismatch, Hex, PAGE, WEDGE_VADDR};

/// Scratch pages (guest-virtual, above the VM's memory, below the wedge
/// window's alias page) by use.
const WINDOW: u32 = 0;
const VGA_WINDOW: u32 = 1;
const ABOVE_RAM_WINDOW: u32 = 2;
const CLIENT_WINDOW: u32 = 3;
const SCRATCH_PAGES: u32 = 4;
/// Byte offset in VGA text memory the driver writes: row 24, column 0.
const VGA_CELL: u32 = 24 * 80 * 2;
/// What the driver writes there: 'R', white on blue.
const VGA_BYTES: [u8; 2] = [b'R', 0x1F];
/// How long the driver's answer may take to be accepted by its client.
const REPLY_SEND_US: u64 = 1_000_000;
/// How many soak mismatches are printed in full.
const SOAK_PRINTED: u32 = 5;

/// Send `p`, judge the answer and print its check line.
pub(super) fn run<W: Write>(r: &mut Report<'_, W>, p: &Probe) -> Outcome {
    let got = exchange(p);
    let ok = p.expect.judge(&got);
    r.check(p.what, ok, &got, p.expect);
    got
}

/// A probe to the monitor with a reply expected.
fn to_monitor(
    env: &Env,
    what: &'static str,
    msg: idl::Message,
    accept: idl::Acceptor,
    expect: Expect,
) -> Probe {
    Probe {
        what,
        to: env.ids.rm,
        msg,
        accept,
        wait: Wait::Long,
        expect,
    }
}

/// A 4 KB receive window at guest-virtual `gv`.
fn window(gv: u32) -> idl::Acceptor {
    idl::Acceptor {
        window: idl::Fpage::new(gv, 12, idl::Fpage::RWX),
        string: None,
    }
}

/// The thread ids of this VM.
fn ids(snap: &Snapshot, own: &Own, rm: u32) -> Ids {
    Ids {
        rm,
        me: own.global_id,
        space_start: snap.thread_space_start,
        user_base: own.user_base,
    }
}

/// What every isolation mode needs: the environment of its requests and
/// the free pages of VM memory that are left. `None` (after a failed
/// check) if the VM is laid out so that the modes cannot run.
fn setup<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, W>,
) -> Option<(Env, FreePages)> {
    let (link, phys) = (snap.link_vaddr, snap.phys_size);
    if scratch_page(SCRATCH_PAGES - 1, link, phys).is_none() {
        r.check(
            "scratch pages",
            false,
            format_args!("VM memory reaches {}", Hex(link.wrapping_add(phys))),
            format_args!("below {}", Hex(WEDGE_VADDR - (SCRATCH_PAGES + 1) * PAGE)),
        );
        return None;
    }
    let window_page = |k| scratch_page(k, link, phys).unwrap_or(0);
    // Free VM pages stay below the scratch pages guest-virtually.
    let limit = phys
        .min(opts.phys_size())
        .min(window_page(SCRATCH_PAGES - 1).saturating_sub(link));
    let (mut free, reserved) =
        vm_free_pages(snap, opts, own.image_end - WEDGE_VADDR, MEASURE_FROM, limit);
    if !reserved {
        r.check(
            "free pages",
            false,
            "reserve table full",
            "room for every range",
        );
    }
    let Some(buffer) = free.next_page() else {
        r.check(
            "free pages",
            false,
            format_args!("none below {}", Hex(limit)),
            "one",
        );
        return None;
    };
    let string_buffer = buffer + link;
    // Touch it, so a string copy into it never faults.
    store(string_buffer, 0);
    let ids = ids(snap, own, rm);
    // IVMControl's server; the hostile mode checks the answer itself.
    let locate = Probe {
        what: "",
        to: rm,
        msg: req::query_interface(IVMCONTROL_GUID),
        accept: NONE,
        wait: Wait::Long,
        expect: Expect::Success,
    };
    let vmctl = match exchange(&locate) {
        Outcome::Reply(m) if m.tag().is_success_reply() && m.mr[1] != 0 => m.mr[1],
        _ => rm,
    };
    let env = Env {
        ids,
        vmctl,
        phys_size: phys,
        link_vaddr: link,
        kip_fpage: snap.kip_fpage,
        utcb_fpage: snap.utcb_fpage,
        window: window_page(WINDOW),
        string_buffer,
        code_page: WEDGE_VADDR,
        ip: own.start,
        victim_irq: opts.victim_irq,
    };
    r.line(format_args!(
        "mode {}: slot {}, first thread {}, monitor {}, IVMControl {}",
        opts.mode.name(),
        ids.own_slot(),
        Hex(ids.own_first()),
        Hex(rm),
        Hex(vmctl)
    ));
    Some((env, free))
}

/// `mode=irq-owner` (after the normal measurements): claim `irq=N` for the
/// own first thread; the monitor must answer 1.
pub fn irq_owner<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, W>,
) {
    let Some(irq) = opts.irq else {
        r.check("irq option", false, "none", "irq=N");
        return;
    };
    let ids = ids(snap, own, rm);
    r.line(format_args!(
        "claiming IRQ {irq} for {}",
        Hex(ids.own_first())
    ));
    let p = Probe {
        what: "AssociateInterrupt own IRQ",
        to: rm,
        msg: req::associate_interrupt(irq, ids.own_first()),
        accept: NONE,
        wait: Wait::Long,
        expect: Expect::RESULT_1,
    };
    run(r, &p);
}

/// `mode=hostile`: every refusal a VM without `ddos` must get, against the
/// VM in slot 1 and the monitor, plus the legitimate own-range calls.
pub fn hostile<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, W>,
) {
    let Some((env, _)) = setup(snap, opts, own, rm, r) else {
        return;
    };
    let slot = env.ids.own_slot();
    r.check(
        "victim in slot 1",
        slot > VICTIM_SLOT,
        format_args!("own slot {slot}"),
        "own slot > 1",
    );
    r.line(format_args!(
        "victim: slot 1, first thread {}, IRQ {:?}",
        Hex(env.ids.first(VICTIM_SLOT)),
        opts.victim_irq
    ));
    hostile_probes(&env, &mut |p| {
        run(r, &p);
    });
    handler_deletion_regression(&env, r);
}

/// The interrupt the handler-deletion regression borrows: the PIT's, which
/// fires without any set-up, so its interrupt thread is soon blocked
/// sending to a handler that never receives.
const REGRESSION_IRQ: u32 = 0;
/// How long the regression lets that interrupt fire (µs).
const REGRESSION_FIRE_US: u64 = 200_000;

/// Found by `mode=fuzz` (seed 0x1234, request 30,880): a VM associates an
/// interrupt with its own thread, the interrupt fires while that thread
/// does not receive, the VM deletes the thread and then deassociates the
/// interrupt. Forwarded as they come, the last call trips a Pistachio
/// assertion in ThreadControl (`queue_state.is_set(send)`, tcb.h 727):
/// the deletion unwound the interrupt thread's send without the kernel
/// noticing. The monitor releases a handler's interrupts before it deletes
/// the handler, so every call here succeeds and the kernel stays up.
fn handler_deletion_regression<W: Write>(env: &Env, r: &mut Report<'_, W>) {
    let ids = env.ids;
    let utcb = idl::Fpage(env.utcb_fpage).base() + probe::UTCB_SIZE;
    let (first, handler) = (ids.own_first(), ids.own(1));
    let step = |what, msg| to_monitor(env, what, msg, NONE, Expect::RESULT_1);
    let create = req::thread_control(handler, first, first, ids.rm, utcb);
    if !Expect::RESULT_1.judge(&run(
        r,
        &step("regression: create a handler thread", create),
    )) {
        return;
    }
    let associate = req::associate_interrupt(REGRESSION_IRQ, handler);
    run(
        r,
        &step("regression: associate the PIT's interrupt", associate),
    );
    let _ = receive_any(REGRESSION_FIRE_US);
    let delete = req::delete_thread(handler);
    run(r, &step("regression: delete the handler", delete));
    let deassociate = req::deassociate_interrupt(REGRESSION_IRQ);
    run(
        r,
        &step("regression: deassociate after the deletion", deassociate),
    );
}

/// The driver between its device checks and its client.
pub struct Driver {
    env: Env,
    window: u32,
}

/// `mode=driver` up to its init complete: device requests (VGA text
/// memory, a page above RAM, a range outside every device range), the
/// ddos-only refusal for a client in no VM, and the IVMblock registration.
pub fn driver<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, W>,
) -> Option<Driver> {
    r.check("ddos", opts.ddos, "absent", "ddos on the command line");
    let (env, _) = setup(snap, opts, own, rm, r)?;
    let page = |k| scratch_page(k, env.link_vaddr, env.phys_size).unwrap_or(0);

    // VGA text memory: map it, write two bytes, read them back.
    let vga_window = page(VGA_WINDOW);
    let vga = to_monitor(
        &env,
        "request_device VGA text",
        req::request_device(VGA_TEXT),
        window(vga_window),
        Expect::Map {
            send_base: VGA_TEXT,
            log2: 12,
        },
    );
    if env_ok(run(r, &vga), &vga) {
        let cell = vga_window + VGA_CELL;
        for (i, &b) in VGA_BYTES.iter().enumerate() {
            write_mapped_byte(cell + i as u32, b);
        }
        let back = [read_mapped_byte(cell), read_mapped_byte(cell + 1)];
        r.check(
            "VGA write and read back",
            back == VGA_BYTES,
            format_args!("{back:02x?}"),
            format_args!("{VGA_BYTES:02x?}"),
        );
    }

    // The first page above RAM (devices[]' terminator).
    match above_ram_page(&snap.devices) {
        None => r.check(
            "request_device above RAM",
            false,
            "no devices[] terminator",
            "{low, 0xffffffff}",
        ),
        Some(addr) => {
            let w = page(ABOVE_RAM_WINDOW);
            let p = to_monitor(
                &env,
                "request_device above RAM",
                req::request_device(addr),
                window(w),
                Expect::Map {
                    send_base: addr,
                    log2: 12,
                },
            );
            r.line(format_args!("page above RAM: {}", Hex(addr)));
            if env_ok(run(r, &p), &p) {
                let word = read_mapped_word(w);
                r.line(format_args!("read {} at {}", Hex(word), Hex(addr)));
            }
        }
    }

    // A range outside every device range and outside the VM.
    match unlisted_page(&snap.devices, env.phys_size) {
        None => r.check(
            "request_device outside every device range",
            false,
            "no such page",
            "a page above the VM in no devices[] range",
        ),
        Some(addr) => {
            r.line(format_args!("page in no device range: {}", Hex(addr)));
            let p = to_monitor(
                &env,
                "request_device outside every device range",
                req::request_device(addr),
                env.window_acceptor(),
                rm_exception(iresourcemon::Exception::InvalidMemRegion),
            );
            run(r, &p);
        }
    }

    let p = to_monitor(
        &env,
        "request_client_pages thread in no VM",
        req::request_client_pages(env.ids.sigma0(), MEASURE_FROM),
        env.window_acceptor(),
        rm_exception(iresourcemon::Exception::UnknownClient),
    );
    run(r, &p);
    let p = to_monitor(
        &env,
        "register_interface IVMblock own thread",
        req::register_interface(DRIVER_GUID, env.ids.own_first()),
        NONE,
        Expect::Success,
    );
    run(r, &p);
    Some(Driver {
        env,
        window: page(CLIENT_WINDOW),
    })
}

/// True when `got` is what `p` expects (for deciding whether to touch
/// what it mapped).
fn env_ok(got: Outcome, p: &Probe) -> bool {
    p.expect.judge(&got)
}

/// `mode=driver` after its init complete: wait for one client request
/// (label 0x7E00, u = 2: client thread, guest-physical address), map that
/// page of the client with request_client_pages and check its pattern.
/// The client and whether its page verified; `None` if no usable request
/// came.
pub fn serve_client<W: Write>(d: &Driver, r: &mut Report<'_, W>) -> Option<(u32, bool)> {
    let env = &d.env;
    r.line(format_args!(
        "waiting for a client request (label {:#06x})",
        DRIVER_LABEL
    ));
    let want = "label 0x7e00 u 2 t 0";
    let (from, msg) = match receive_any(CLIENT_WAIT_US) {
        Ok(got) => got,
        Err(code) => {
            r.check("client request", false, IpcCode(code), want);
            return None;
        }
    };
    let tag = msg.tag();
    let ok = tag.label() == DRIVER_LABEL && tag.untyped() == 2 && tag.typed() == 0;
    let (client, gp) = (msg.mr[1], msg.mr[2]);
    r.check("client request", ok, Outcome::Reply(msg), want);
    if !ok {
        return None;
    }
    r.check("client sender", from == client, Hex(from), Hex(client));
    r.line(format_args!(
        "client {} asks to verify gpaddr {}",
        Hex(client),
        Hex(gp)
    ));

    // The client's range, and a request beyond it.
    let p = to_monitor(
        env,
        "get_client_phys_range client",
        req::client_phys_range(client),
        NONE,
        Expect::Success,
    );
    if let Outcome::Reply(m) = run(r, &p) {
        if m.tag().is_success_reply() {
            let size = m.mr[2];
            r.line(format_args!(
                "client memory: host {} size {}",
                Hex(m.mr[1]),
                Hex(size)
            ));
            let p = to_monitor(
                env,
                "request_client_pages beyond the client's VM",
                req::request_client_pages(client, test_guest::round_up(size, PAGE)),
                env.window_acceptor(),
                rm_exception(iresourcemon::Exception::InvalidMemRegion),
            );
            run(r, &p);
        }
    }
    // For information only: IVMControl on another slot with ddos.
    let slot = thread_no(client).wrapping_sub(env.ids.base()) / THREAD_SPACE;
    let p = Probe {
        what: "",
        to: env.vmctl,
        msg: req::vmctl_phys_range(slot),
        accept: NONE,
        wait: Wait::Long,
        expect: Expect::Success,
    };
    let got = exchange(&p);
    r.line(format_args!(
        "IVMControl get_space_phys_range({slot}) with ddos: {got}"
    ));

    // The page itself.
    let p = to_monitor(
        env,
        "request_client_pages client page",
        req::request_client_pages(client, gp),
        window(d.window),
        Expect::Map {
            send_base: gp,
            log2: 12,
        },
    );
    let verified = env_ok(run(r, &p), &p) && {
        let data = mapped_page(d.window);
        match pattern_mismatch(data, CLIENT_SEED, 0) {
            None => {
                r.check("client page data", true, "", "");
                true
            }
            Some((j, got, want)) => {
                r.check(
                    "client page data",
                    false,
                    format_args!("byte[{j}] = {got}"),
                    want,
                );
                false
            }
        }
    };
    Some((client, verified))
}

/// The driver's answer to its client (after its verdict is printed).
pub fn answer_client<W: Write>(client: u32, verified: bool, r: &mut Report<'_, W>) {
    if let Err(code) = send_timed(client, &req::driver_reply(verified), REPLY_SEND_US) {
        r.line(format_args!(
            "answer to client {} failed: {}",
            Hex(client),
            IpcCode(code)
        ));
    }
}

/// `mode=client`: find the driver (query_interface(3)), fill one free page
/// with the pattern, have the driver verify it, check the own range.
pub fn client<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, W>,
) {
    let Some((env, mut free)) = setup(snap, opts, own, rm, r) else {
        return;
    };
    let ids = env.ids;
    let p = to_monitor(
        &env,
        "query_interface IVMblock",
        req::query_interface(DRIVER_GUID),
        NONE,
        Expect::Success,
    );
    let driver = match run(r, &p) {
        Outcome::Reply(m) if m.tag().is_success_reply() => m.mr[1],
        _ => return,
    };
    r.check(
        "driver outside own range",
        driver != 0 && !ids.in_own_range(driver),
        Hex(driver),
        format_args!(
            "a thread outside numbers [{}, {})",
            ids.space_start,
            ids.space_start + THREAD_SPACE
        ),
    );
    let Some(gp) = free.next_page() else {
        r.check("free pages", false, "none", "one page for the driver");
        return;
    };
    let gv = gp + env.link_vaddr;
    for k in 0..PAGE / 4 {
        let b = |i| pattern_byte(CLIENT_SEED, 0, 4 * k + i);
        store(gv + 4 * k, u32::from_le_bytes([b(0), b(1), b(2), b(3)]));
    }
    r.line(format_args!(
        "asking driver {} to verify gpaddr {}",
        Hex(driver),
        Hex(gp)
    ));
    let p = Probe {
        what: "driver verified the page",
        to: driver,
        msg: req::driver_request(ids.me, gp),
        accept: NONE,
        wait: Wait::Driver,
        expect: Expect::RESULT_1,
    };
    run(r, &p);
    let p = to_monitor(
        &env,
        "get_client_phys_range own thread",
        req::client_phys_range(ids.me),
        NONE,
        Expect::Word {
            index: 2,
            value: env.phys_size,
        },
    );
    run(r, &p);
}

/// `mode=soak`: `soak=N` requests cycling through [`SoakKind::ALL`],
/// timed; every wrong answer is a mismatch.
pub fn soak<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, W>,
) {
    let Some((env, mut free)) = setup(snap, opts, own, rm, r) else {
        return;
    };
    let Some(pages) = free_pages::<SOAK_PAGES, W>(&mut free, r) else {
        return;
    };
    let n = opts.soak;
    r.line(format_args!(
        "soaking: {n} requests cycling through {} kinds, own pages from {}",
        SoakKind::ALL.len(),
        Hex(pages[0])
    ));
    let mut soak = Soak::new(env, pages);
    let mut mismatches = 0u32;
    let t0 = rdtsc();
    for i in 0..n {
        let p = soak.probe(i);
        let got = exchange(&p);
        if !soak.judge(i, &p, &got) {
            mismatches += 1;
            if mismatches <= SOAK_PRINTED {
                r.line(format_args!(
                    "soak mismatch: request {i} ({}): got {got} want {}",
                    p.what, p.expect
                ));
            }
        }
    }
    let ns = (rdtsc() - t0) / n.max(1) as u64;
    r.line(format_args!(
        "soak: {n} requests, {ns} ns per request, {mismatches} mismatches"
    ));
    r.eq("soak mismatches", mismatches, 0);
}

/// Write one byte of a page the monitor just mapped (map item checked).
fn write_mapped_byte(addr: u32, value: u8) {
    // SAFETY: `addr` lies in a scratch page (above the VM's memory, below
    // the wedge window; see `scratch_page`) into which the monitor has
    // just mapped a 4 KB page rwx (the map item was checked). No Rust
    // object lives there.
    unsafe { (addr as *mut u8).write_volatile(value) }
}

/// Read one byte of a page the monitor just mapped.
fn read_mapped_byte(addr: u32) -> u8 {
    // SAFETY: as for `write_mapped_byte`.
    unsafe { (addr as *const u8).read_volatile() }
}

/// Read one word of a page the monitor just mapped.
fn read_mapped_word(addr: u32) -> u32 {
    // SAFETY: as for `write_mapped_byte`; `addr` is page-aligned.
    unsafe { (addr as *const u32).read_volatile() }
}

/// The 4 KB page the monitor just mapped at scratch page `gv`.
fn mapped_page(gv: u32) -> &'static [u8] {
    // SAFETY: as for `write_mapped_byte`: the whole 4 KB page at `gv` is
    // mapped (the map item was checked: 2^12 at this window), and this
    // program never writes it while the slice is alive (the client window
    // is used once).
    unsafe { core::slice::from_raw_parts(gv as *const u8, PAGE as usize) }
}

/// Words of a page compared after a map item arrived (offsets in words).
const COMPARED_WORDS: [u32; 4] = [0, 1, 511, 1023];
/// Requests between two progress lines of `mode=fuzz`.
const FUZZ_PROGRESS: u32 = 100_000;

/// Remove whatever is mapped at the scratch window (a 4 KB page above the
/// VM's memory that holds nothing of this program).
fn flush_window(gv: u32) {
    // SAFETY: unmapping (flush) one scratch page of this space: no Rust
    // object lives there; the next access would fault, and the fuzzer
    // reads it only after a map item arrived in it.
    let _ = unsafe { l4_sys::ia32::unmap(0, true, l4_sys::Fpage(gv | (12 << 4) | 7)) };
}

/// Send one generated request: `None` if a send-only request went out.
/// Index of `c`'s kind in `Kind::ALL`.
fn wedge_kind_index(c: &Case) -> usize {
    test_guest::fuzz::Kind::ALL
        .iter()
        .position(|k| *k == c.kind)
        .unwrap_or(0)
}

fn send_case(c: &Case) -> Option<Outcome> {
    match c.receive_us {
        None => send_timed(c.to, &c.msg, c.send_us)
            .err()
            .map(Outcome::Failed),
        Some(us) => Some(call_timed(c.to, &c.msg, c.accept, c.send_us, us)),
    }
}

/// Whether `fuzz-trace=1` prints `c`: thread, space and interrupt
/// requests (labels 0x0047..=0x004A) and anything not sent to the monitor.
fn traced(c: &Case, rm: u32) -> bool {
    c.to != rm || (0x0047..=0x004A).contains(&c.msg.tag().label())
}

/// Compare the page that arrived in the window with what it must be.
fn compare_window(window: u32, check: MapCheck) -> Result<(), Broken> {
    for k in COMPARED_WORDS {
        let got = read_mapped_word(window + 4 * k);
        let want = match check {
            MapCheck::None => return Ok(()),
            MapCheck::Marked(gp) => mark_word(gp + 4 * k),
            MapCheck::Image(gv) => super::guest::load(gv + 4 * k),
            MapCheck::Zero => 0,
        };
        if got != want {
            return Err(Broken::Content(4 * k, got, want));
        }
    }
    Ok(())
}

/// The next `N` free pages, or None after a failed `free pages` check.
fn free_pages<const N: usize, W: Write>(
    free: &mut FreePages,
    r: &mut Report<'_, W>,
) -> Option<[u32; N]> {
    let mut pages = [0u32; N];
    for p in pages.iter_mut() {
        match free.next_page() {
            Some(gp) => *p = gp,
            None => {
                r.check("free pages", false, "too few", N);
                return None;
            }
        }
    }
    Some(pages)
}

/// Fill each page (guest-physical) with its [`mark_word`] pattern, which
/// the fuzzer and the victim later check.
fn mark_pages(env: &Env, pages: &[u32]) {
    for &gp in pages {
        for k in 0..PAGE / 4 {
            store(env.link_vaddr + gp + 4 * k, mark_word(gp + 4 * k));
        }
    }
}

/// `mode=fuzz`: `fuzz=N` requests generated from `seed=S`; every rule the
/// fuzzer can check itself must hold; then tell the victim (slot 1).
pub fn fuzz<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, W>,
) {
    let Some((env, mut free)) = setup(snap, opts, own, rm, r) else {
        return;
    };
    let Some(marked) = free_pages::<MARKED, W>(&mut free, r) else {
        return;
    };
    mark_pages(&env, &marked);
    let (seed, n) = (opts.seed, opts.fuzz);
    let wedge_end = WEDGE_VADDR.wrapping_add(env.phys_size.saturating_sub(opts.wedgeinstall));
    let mut f = Fuzzer::new(env, seed, marked, own.image_end, wedge_end);
    r.line(format_args!(
        "fuzzing: seed={} requests={n} marked pages from {}",
        Hex(seed),
        Hex(marked[0])
    ));
    let mut counts = Counts::default();
    let mut broken = 0u32;
    // Virtual ns spent in each kind's IPC (where a fuzzing run's time goes).
    let mut kind_ns = [0u64; 6];
    let t0 = rdtsc();
    for i in 0..n {
        let c = f.case();
        let windowed = !c.accept.window.is_nil();
        if windowed {
            flush_window(env.window);
        }
        if opts.fuzz_trace && traced(&c, env.ids.rm) {
            let mut words: heapless::String<600> = heapless::String::new();
            for w in c.msg.words() {
                let _ = write!(words, " {w:#x}");
            }
            r.line(format_args!(
                "fuzz: trace {i} to {} receive {:?}:{words}",
                Hex(c.to),
                c.receive_us
            ));
        }
        let t = rdtsc();
        let got = send_case(&c);
        let k = wedge_kind_index(&c);
        kind_ns[k] += rdtsc() - t;
        counts.add(&c, Got::of(got.as_ref()));
        let mut verdict = f.judge(&c, got.as_ref());
        if let (Ok(check), Some(Outcome::Reply(m))) = (verdict, &got) {
            if map_item(m).is_some_and(|item| !item.fpage.is_nil()) {
                counts.maps += 1;
                if check != MapCheck::None && windowed {
                    counts.compared += 1;
                    verdict = compare_window(env.window, check).map(|()| check);
                }
            }
        }
        if let Err(b) = verdict {
            broken += 1;
            r.line(format_args!(
                "fuzz: rule broken: seed={} request={i} to {}: {b}",
                Hex(seed),
                Hex(c.to)
            ));
            let mut words: heapless::String<600> = heapless::String::new();
            for w in c.msg.words() {
                let _ = write!(words, " {w:#x}");
            }
            r.line(format_args!("fuzz: request words:{words}"));
            match &got {
                Some(o) => r.line(format_args!("fuzz: got {o}")),
                None => r.line(format_args!("fuzz: got nothing (send-only)")),
            }
            break;
        }
        if (i + 1) % FUZZ_PROGRESS == 0 {
            r.line(format_args!("fuzz: {} requests: {counts}", i + 1));
        }
    }
    let done = counts.got.iter().sum::<u32>();
    let ns = rdtsc() - t0;
    let per_s = (done as u64 * 1_000_000_000) / ns.max(1);
    r.line(format_args!(
        "fuzz: seed={} requests={done} virtual_ns={ns} requests_per_s={per_s} {counts}",
        Hex(seed)
    ));
    r.line(format_args!(
        "fuzz: virtual ms per kind: probe={} op={} fault={} pages={} kernel={} raw={}",
        kind_ns[0] / 1_000_000,
        kind_ns[1] / 1_000_000,
        kind_ns[2] / 1_000_000,
        kind_ns[3] / 1_000_000,
        kind_ns[4] / 1_000_000,
        kind_ns[5] / 1_000_000
    ));
    r.eq("fuzz rules broken", broken, 0);
    let victim = env.ids.first(VICTIM_SLOT);
    if let Err(e) = send_timed(victim, &probe::raw(DONE_LABEL, 0, 0, &[]), 30_000_000) {
        r.line(format_args!(
            "fuzz: storm-over message to the victim: {}",
            IpcCode(e)
        ));
    }
}

/// Soak requests per victim round.
const VICTIM_ROUND: u32 = 70;
/// How long the victim waits for a "storm over" message between rounds.
const VICTIM_WAIT_US: u64 = 200_000;
/// Rounds after which the victim stops waiting.
const VICTIM_MAX_ROUNDS: u32 = 50_000;

/// `mode=victim` (after the normal checks and init complete): soak rounds
/// and a check of its own pages' pattern until `fuzzers=K` fuzzers said
/// the storm is over, then one more round.
pub fn victim<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    rm: u32,
    r: &mut Report<'_, W>,
) {
    let Some((env, mut free)) = setup(snap, opts, own, rm, r) else {
        return;
    };
    let Some(pages) = free_pages::<SOAK_PAGES, W>(&mut free, r) else {
        return;
    };
    mark_pages(&env, &pages);
    let mut soak = Soak::new(env, pages);
    let (mut i, mut mismatches, mut changed) = (0u32, 0u32, 0u32);
    let mut round = |r: &mut Report<'_, W>| {
        for _ in 0..VICTIM_ROUND {
            let p = soak.probe(i);
            let got = exchange(&p);
            if !soak.judge(i, &p, &got) {
                mismatches += 1;
                if mismatches <= SOAK_PRINTED {
                    r.line(format_args!(
                        "victim mismatch: request {i} ({}): got {got} want {}",
                        p.what, p.expect
                    ));
                }
            }
            i += 1;
        }
        for &gp in &pages {
            for k in 0..PAGE / 4 {
                let at = env.link_vaddr + gp + 4 * k;
                if super::guest::load(at) != mark_word(gp + 4 * k) {
                    changed += 1;
                }
            }
        }
    };
    round(r);
    let (mut done, mut rounds) = (0u32, 1u32);
    while done < opts.fuzzers && rounds < VICTIM_MAX_ROUNDS {
        if let Ok((_, m)) = receive_any(VICTIM_WAIT_US) {
            if m.tag().label() == DONE_LABEL {
                done += 1;
                r.line(format_args!(
                    "victim: storm over for {done} of {}",
                    opts.fuzzers
                ));
            }
        }
        round(r);
        rounds += 1;
    }
    round(r);
    r.line(format_args!(
        "victim: {} rounds, {i} requests, {mismatches} mismatches, {changed} words changed",
        rounds + 1
    ));
    r.eq("storm-over messages", done, opts.fuzzers);
    r.eq("victim mismatches", mismatches, 0);
    r.eq("victim words changed", changed, 0);
}

/// Die on purpose (`die=`, the supervision scenarios); never returns.
pub fn die(how: Die, snap: &Snapshot, pager: u32) -> ! {
    match how {
        Die::Fault => {
            // Just past the VM's memory: nothing the monitor can map.
            let addr = snap.link_vaddr.wrapping_add(snap.phys_size);
            loop {
                // SAFETY: deliberately faults; the monitor never maps this
                // address, so the thread stays blocked in the fault.
                let _ = unsafe { (addr as usize as *const u32).read_volatile() };
            }
        }
        Die::Loop => loop {
            // Busy, not alive: requests forever, never init complete.
            let _ = call_timed(
                snap.resourcemon_tid,
                &req::tid_to_space_id(snap.resourcemon_tid),
                NONE,
                1_000_000,
                1_000_000,
            );
        },
        Die::Exception => {
            l4_sys::ia32::utcb::write(l4_sys::ia32::utcb::tcr::EXCEPTION_HANDLER, pager);
            loop {
                // SAFETY: a privileged instruction in user mode raises #GP
                // on purpose; the kernel sends the exception to the
                // monitor, which gives no reply. (Not `ud2`: the debug
                // kernel stops in its debugger on #UD.)
                unsafe { core::arch::asm!("hlt") };
            }
        }
    }
}
