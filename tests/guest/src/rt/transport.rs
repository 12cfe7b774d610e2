//! [`idl::Transport`] over the Ipc system call: the generated client stubs'
//! only way to the monitor.

use l4_sys::ia32::{ipc, utcb};
use l4_sys::{MsgTag, ThreadId, Time, Timeouts};
use test_guest::probe::{Outcome, Probe};

/// The highest message register.
const LAST_MR: usize = idl::MR_COUNT - 1;

/// Calls and sends through the current thread's UTCB.
pub struct L4Transport;

/// Copy MR1..=MR(u+t) of `msg` into the UTCB (MR0 travels in a register).
fn load(msg: &idl::Message) {
    for (i, &w) in msg.words().iter().enumerate().skip(1) {
        utcb::set_mr(i, w);
    }
}

impl idl::Transport for L4Transport {
    fn call(
        &mut self,
        to: idl::ThreadId,
        msg: &mut idl::Message,
        accept: idl::Acceptor,
    ) -> Result<(), idl::IpcError> {
        call_with(to, msg, accept, Timeouts::NEVER)
    }

    fn send(&mut self, to: idl::ThreadId, msg: &idl::Message) -> Result<(), idl::IpcError> {
        send_with(to, msg, Time::NEVER)
    }
}

/// Call `to` with `msg` (replaced by the reply) and the given timeouts.
fn call_with(
    to: idl::ThreadId,
    msg: &mut idl::Message,
    accept: idl::Acceptor,
    timeouts: Timeouts,
) -> Result<(), idl::IpcError> {
    load(msg);
    utcb::set_br(0, accept.br0());
    if let Some(s) = accept.string {
        utcb::set_br(1, s.word_a());
        utcb::set_br(2, s.addr);
    }
    let to = ThreadId(to.0);
    // SAFETY: the receive phase may map pages only into the window the
    // stub was given (BR0). Stubs without a map item pass the nil window;
    // the guest passes request_pages a 4 KB window on a page that holds
    // nothing but its own test pattern (rt::guest), the isolation modes
    // (rt::modes) 4 KB windows on scratch pages outside the VM's memory
    // that nothing else uses (or, in the soak, an own page's natural
    // guest-virtual address, where the monitor maps the frame the page-fault
    // path maps there), and a string buffer on a page of VM memory that
    // holds nothing.
    let r = unsafe { ipc(to, to, timeouts, MsgTag(msg.mr[0])) };
    // IDL4 resets the window after the call.
    utcb::set_br(0, 0);
    if r.tag.failed() {
        return Err(idl::IpcError(utcb::error_code()));
    }
    let n = (r.tag.untyped() + r.tag.typed()) as usize;
    msg.mr[0] = r.tag.0;
    msg.mr[1] = r.mr1;
    msg.mr[2] = r.mr2;
    for i in 3..=n.min(LAST_MR) {
        msg.mr[i] = utcb::mr(i);
    }
    msg.mr[(n + 1).clamp(3, idl::MR_COUNT)..].fill(0);
    Ok(())
}

/// Send `msg` to `to` (no receive phase) with send timeout `send`.
fn send_with(to: idl::ThreadId, msg: &idl::Message, send: Time) -> Result<(), idl::IpcError> {
    load(msg);
    let timeouts = Timeouts {
        send,
        receive: Time::NEVER,
    };
    // SAFETY: send-only (receive specifier nil): nothing can be mapped.
    let r = unsafe { ipc(ThreadId(to.0), ThreadId::NIL, timeouts, MsgTag(msg.mr[0])) };
    if r.tag.failed() {
        return Err(idl::IpcError(utcb::error_code()));
    }
    Ok(())
}

/// Send a probe and collect what came back.
pub fn exchange(p: &Probe) -> Outcome {
    let (send, receive) = p.wait.micros();
    let timeouts = Timeouts {
        send: Time::period_us(send),
        receive: Time::period_us(receive),
    };
    let mut msg = p.msg.clone();
    match call_with(idl::ThreadId(p.to), &mut msg, p.accept, timeouts) {
        Ok(()) => Outcome::Reply(msg),
        Err(e) => Outcome::Failed(e.0),
    }
}

/// Open wait (BR0 = 0: nothing can be mapped) for up to `us` microseconds:
/// the sender and its message, or the IPC error code.
pub fn receive_any(us: u64) -> Result<(u32, idl::Message), u32> {
    utcb::set_br(0, 0);
    let timeouts = Timeouts {
        send: Time::ZERO,
        receive: Time::period_us(us),
    };
    // SAFETY: receive-only with BR0 = 0: the kernel maps nothing and copies
    // no strings; only message registers change.
    let r = unsafe { ipc(ThreadId::NIL, ThreadId::ANY, timeouts, MsgTag(0)) };
    if r.tag.failed() {
        return Err(utcb::error_code());
    }
    let mut msg = idl::Message::new();
    let n = (r.tag.untyped() + r.tag.typed()) as usize;
    msg.mr[0] = r.tag.0;
    msg.mr[1] = r.mr1;
    msg.mr[2] = r.mr2;
    for i in 3..=n.min(LAST_MR) {
        msg.mr[i] = utcb::mr(i);
    }
    Ok((r.from.0, msg))
}

/// Send-only `msg` to `to` with send timeout `us` (a reply to a waiting
/// caller).
pub fn send_timed(to: u32, msg: &idl::Message, us: u64) -> Result<(), u32> {
    send_with(idl::ThreadId(to), msg, Time::period_us(us)).map_err(|e| e.0)
}

/// A call to `to` with the given send and receive timeouts (µs; a receive
/// timeout of 0 abandons the call after its send phase).
pub fn call_timed(
    to: u32,
    msg: &idl::Message,
    accept: idl::Acceptor,
    send_us: u64,
    receive_us: u64,
) -> Outcome {
    let time = |us| {
        if us == 0 {
            Time::ZERO
        } else {
            Time::period_us(us)
        }
    };
    let timeouts = Timeouts {
        send: time(send_us),
        receive: time(receive_us),
    };
    let mut msg = msg.clone();
    match call_with(idl::ThreadId(to), &mut msg, accept, timeouts) {
        Ok(()) => Outcome::Reply(msg),
        Err(e) => Outcome::Failed(e.0),
    }
}
