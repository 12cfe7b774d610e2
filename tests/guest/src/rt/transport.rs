//! [`idl::Transport`] over the Ipc system call: the generated client stubs'
//! only way to the monitor.

use l4_sys::ia32::{ipc, utcb};
use l4_sys::{MsgTag, ThreadId, Time, Timeouts};

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
        // nothing but its own test pattern (rt::guest).
        let r = unsafe { ipc(to, to, Timeouts::NEVER, MsgTag(msg.mr[0])) };
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

    fn send(&mut self, to: idl::ThreadId, msg: &idl::Message) -> Result<(), idl::IpcError> {
        load(msg);
        let timeouts = Timeouts {
            send: Time::NEVER,
            receive: Time::NEVER,
        };
        // SAFETY: send-only (receive specifier nil): nothing can be mapped.
        let r = unsafe { ipc(ThreadId(to.0), ThreadId::NIL, timeouts, MsgTag(msg.mr[0])) };
        if r.tag.failed() {
            return Err(idl::IpcError(utcb::error_code()));
        }
        Ok(())
    }
}
