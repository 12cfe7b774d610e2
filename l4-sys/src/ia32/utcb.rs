//! The current thread's UTCB (§4): message, buffer and thread control registers.
//!
//! `%gs:0` holds the address of MR0 (the local id); every other register is
//! a word at a fixed offset from it. The UTCB is private to the thread, so
//! the accessors below are sound as long as the caller is that thread, which
//! holds by construction (`%gs` is per thread).

use crate::msg::{Message, NUM_MRS};
use crate::types::{Acceptor, MsgTag, ThreadId};
use crate::Word;
use core::arch::asm;

/// Word offsets of the thread control registers from MR0.
pub mod tcr {
    #![allow(missing_docs)]
    pub const THREAD_WORD0: isize = -4;
    pub const THREAD_WORD1: isize = -5;
    pub const VIRTUAL_SENDER: isize = -6;
    pub const INTENDED_RECEIVER: isize = -7;
    pub const XFER_TIMEOUTS: isize = -8;
    pub const ERROR_CODE: isize = -9;
    pub const PREEMPT_FLAGS: isize = -10;
    pub const EXCEPTION_HANDLER: isize = -11;
    pub const PAGER: isize = -12;
    pub const USER_DEFINED_HANDLE: isize = -13;
    pub const PROCESSOR_NO: isize = -14;
    pub const MY_GLOBAL_ID: isize = -15;
    pub const BR0: isize = -16;
}

/// Address of the current thread's MR0 (its local id).
#[inline(always)]
pub fn mr0_address() -> *mut Word {
    let p: *mut Word;
    // SAFETY: reads one word through %gs, which the kernel points at the
    // current thread's local id; no other state is touched.
    unsafe { asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) }
    p
}

#[inline(always)]
fn word(offset: isize) -> *mut Word {
    mr0_address().wrapping_offset(offset)
}

/// Read a UTCB word at `offset` words from MR0.
#[inline(always)]
pub fn read(offset: isize) -> Word {
    // SAFETY: the UTCB is mapped for its thread for the thread's lifetime;
    // offsets used by this module lie inside the 512-byte structure.
    unsafe { word(offset).read_volatile() }
}

/// Write a UTCB word at `offset` words from MR0.
#[inline(always)]
pub fn write(offset: isize, value: Word) {
    // SAFETY: as for `read`.
    unsafe { word(offset).write_volatile(value) }
}

/// MRi.
pub fn mr(i: usize) -> Word {
    read((i % NUM_MRS) as isize)
}

/// Set MRi.
pub fn set_mr(i: usize, v: Word) {
    write((i % NUM_MRS) as isize, v)
}

/// BRi (0..=32).
pub fn set_br(i: usize, v: Word) {
    write(tcr::BR0 - (i % 33) as isize, v)
}

/// Set the acceptor (BR0).
pub fn set_acceptor(a: Acceptor) {
    set_br(0, a.0)
}

/// The ErrorCode TCR of the last system call.
pub fn error_code() -> Word {
    read(tcr::ERROR_CODE)
}

/// The caller's own global id.
pub fn my_global_id() -> ThreadId {
    ThreadId(read(tcr::MY_GLOBAL_ID))
}

/// The pager TCR.
pub fn pager() -> ThreadId {
    ThreadId(read(tcr::PAGER))
}

/// Copy a message into MR1.. (MR0 travels in a register).
pub fn load_message(m: &Message) {
    let n = (m.tag.untyped() + m.tag.typed()) as usize;
    for (i, w) in m.mr.iter().take(n.min(NUM_MRS - 1)).enumerate() {
        set_mr(i + 1, *w);
    }
}

/// Copy the received message out of the UTCB (MR1, MR2 come from registers).
pub fn store_message(tag: MsgTag, mr1: Word, mr2: Word, m: &mut Message) {
    m.tag = tag;
    let n = ((tag.untyped() + tag.typed()) as usize).min(NUM_MRS - 1);
    m.mr[0] = mr1;
    m.mr[1] = mr2;
    for i in 2..n {
        m.mr[i] = mr(i + 1);
    }
}
