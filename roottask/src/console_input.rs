//! Console input: what a byte typed on the serial console means, which VM
//! gets it, and how it reaches the guest.
//!
//! The runtime reads bytes from the serial line (COM1) and hands each to
//! [`ConsoleInput::key`]; escape sequences steer the console (§5.5, with
//! additions), every other byte goes into the focused VM's input queue.
//! From there a byte reaches the guest in one of two ways:
//!
//! * through the shared page's `console_rx` ([`rx_slot`], §5.5), which the
//!   afterburn wedge reads. The monitor pushes a byte only while `len` is
//!   0 ([`ConsoleInput::next_for_rx`]): the wedge takes the newest byte
//!   (`raw[len]`, a LIFO), so one byte at a time is the only way its guest
//!   sees the bytes in order;
//! * through `IConsole::get_chars` ([`ConsoleInput::take`]). A VM that asks
//!   by IPC gets no more pushes into `console_rx`, so the two paths never
//!   hand out bytes out of order.
//!
//! A queue holds [`QUEUE_BYTES`] bytes (one `get_chars` reply); input for a
//! full queue is dropped and counted, never waited for: the monitor serves
//! every VM from one thread and must not block on one guest.

use crate::vm::threads::MAX_VM;

/// The escape byte that starts a console command.
pub const ESC: u8 = 0x1b;
/// Bytes queued per VM: one `get_chars` reply (`IConsole::max_len`).
pub const QUEUE_BYTES: usize = 128;
/// Bytes of `console_rx.raw` (§5.2; `len` follows at this offset).
pub const RX_RAW_BYTES: usize = 128;
/// The largest `console_rx.len` the producer leaves behind. The original
/// accepts up to 128, and its raw index 128 is the low byte of `len`
/// itself (§5.5, an upstream bug); stopping at 127 never writes it, and the
/// wedge's consumer (`raw[len]`, then `len - 1`) reads only indexes
/// 1..=127 then, which it always did.
pub const RX_MAX_LEN: u32 = 127;

/// Where one byte goes in `console_rx` under the producer rule of §5.5
/// (`len := len + 1; raw[len] := byte`): `(raw index, new len)`, or None
/// if the stream is full (or the guest wrote a `len` out of range). The
/// caller writes the byte first and `len` second, so a consumer that sees
/// the new `len` also sees the byte (the original writes `len` first).
pub fn rx_slot(len: u32) -> Option<(usize, u32)> {
    (len < RX_MAX_LEN).then(|| (len as usize + 1, len + 1))
}

/// What a console byte (or escape pair) asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// Input for the focused VM; `esc`: an ESC that began no command comes
    /// first (§5.5).
    Input {
        /// Forward an ESC before `byte`.
        esc: bool,
        /// The byte.
        byte: u8,
    },
    /// An ESC: the next byte decides.
    Pending,
    /// ESC `n`: focus on the next VM (wrapping).
    NextVm,
    /// ESC `1`..`9`: focus on that VM.
    FocusVm(usize),
    /// ESC `s`: monitor log lines off / on.
    ToggleSilent,
    /// ESC ESC: enter the kernel debugger.
    Debugger,
}

/// The escape-sequence state machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyDecoder {
    esc: bool,
}

impl KeyDecoder {
    /// What `byte` means after the bytes fed before it.
    pub fn feed(&mut self, byte: u8) -> Key {
        if !self.esc {
            if byte == ESC {
                self.esc = true;
                return Key::Pending;
            }
            return Key::Input { esc: false, byte };
        }
        self.esc = false;
        match byte {
            ESC => Key::Debugger,
            b'n' => Key::NextVm,
            b's' => Key::ToggleSilent,
            b'1'..=b'9' => Key::FocusVm(usize::from(byte - b'0')),
            _ => Key::Input { esc: true, byte },
        }
    }
}

/// What the monitor must do after a console byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing visible (queued, or half a command).
    None,
    /// Focus moved to this slot: print the focus line and the VM's
    /// unfinished last line.
    Focus(usize),
    /// ESC + a number of no VM: focus stays on `stays` (0: none).
    NoSuchVm {
        /// The number typed.
        asked: usize,
        /// The slot that keeps the focus (0 if no VM runs).
        stays: usize,
    },
    /// Monitor log lines off (`true`) or on.
    Silent(bool),
    /// Enter the kernel debugger.
    Debugger,
    /// ESC `n`, but no VM runs.
    NoVmToFocus,
    /// The input was dropped (counted in `no_vm_dropped`): no VM runs.
    NoVm,
}

/// A byte queue per VM.
type Queue = heapless::Deque<u8, QUEUE_BYTES>;

/// The console's input state: focus, queues, counters.
#[derive(Debug)]
pub struct ConsoleInput {
    keys: KeyDecoder,
    focus: usize,
    silent: bool,
    queues: [Queue; MAX_VM],
    dropped: [u64; MAX_VM],
    unreported: [u64; MAX_VM],
    ipc_reader: [bool; MAX_VM],
    /// Bytes typed while no VM ran.
    pub no_vm_dropped: u64,
}

impl Default for ConsoleInput {
    fn default() -> Self {
        ConsoleInput::new()
    }
}

impl ConsoleInput {
    /// Focus on VM 1 (as the original), nothing queued, output verbose.
    pub fn new() -> ConsoleInput {
        ConsoleInput {
            keys: KeyDecoder::default(),
            focus: 1,
            silent: false,
            queues: core::array::from_fn(|_| Queue::new()),
            dropped: [0; MAX_VM],
            unreported: [0; MAX_VM],
            ipc_reader: [false; MAX_VM],
            no_vm_dropped: 0,
        }
    }

    /// The slot that has the focus.
    pub fn focus(&self) -> usize {
        self.focus
    }

    /// Are monitor log lines off?
    pub fn silent(&self) -> bool {
        self.silent
    }

    /// Bytes of `slot`'s input dropped so far (queue full).
    pub fn dropped(&self, slot: usize) -> u64 {
        self.dropped.get(slot).copied().unwrap_or(0)
    }

    /// Bytes queued for `slot`.
    pub fn queued(&self, slot: usize) -> usize {
        self.queues.get(slot).map_or(0, Queue::len)
    }

    /// The next slot after `from` (wrapping, skipping slot 0) for which
    /// `has_vm` holds; `from` itself last.
    fn next_vm(from: usize, has_vm: &dyn Fn(usize) -> bool) -> Option<usize> {
        (1..MAX_VM)
            .map(|k| (from + k - 1) % (MAX_VM - 1) + 1)
            .find(|&s| has_vm(s))
    }

    /// One byte from the console; `has_vm(slot)`: does a VM run there.
    /// Input for a focus slot without a VM moves the focus on to the next
    /// VM first (a VM that stopped, or was never started), and is dropped
    /// only when no VM runs at all.
    pub fn key(&mut self, byte: u8, has_vm: &dyn Fn(usize) -> bool) -> Effect {
        match self.keys.feed(byte) {
            Key::Pending => Effect::None,
            Key::Debugger => Effect::Debugger,
            Key::ToggleSilent => {
                self.silent = !self.silent;
                Effect::Silent(self.silent)
            }
            Key::NextVm => match ConsoleInput::next_vm(self.focus, has_vm) {
                Some(s) => {
                    self.focus = s;
                    Effect::Focus(s)
                }
                None => Effect::NoVmToFocus,
            },
            Key::FocusVm(n) if n < MAX_VM && has_vm(n) => {
                self.focus = n;
                Effect::Focus(n)
            }
            Key::FocusVm(asked) => Effect::NoSuchVm {
                asked,
                stays: if has_vm(self.focus) { self.focus } else { 0 },
            },
            Key::Input { esc, byte } => {
                let mut effect = Effect::None;
                if !has_vm(self.focus) {
                    match ConsoleInput::next_vm(self.focus, has_vm) {
                        Some(s) => {
                            self.focus = s;
                            effect = Effect::Focus(s);
                        }
                        None => {
                            self.no_vm_dropped += 1 + u64::from(esc);
                            return Effect::NoVm;
                        }
                    }
                }
                if esc {
                    self.queue(self.focus, ESC);
                }
                self.queue(self.focus, byte);
                effect
            }
        }
    }

    /// VM `slot` was torn down: its queued input is dropped (counted) and
    /// its next VM starts as a `console_rx` reader, like any new VM.
    pub fn forget(&mut self, slot: usize) {
        if let Some(q) = self.queues.get_mut(slot) {
            let n = q.len() as u64;
            q.clear();
            self.dropped[slot] += n;
            self.unreported[slot] += n;
            self.ipc_reader[slot] = false;
        }
    }

    /// Queue `byte` for `slot`, or drop and count it if the queue is full.
    pub fn queue(&mut self, slot: usize, byte: u8) {
        let Some(q) = self.queues.get_mut(slot) else {
            return;
        };
        if q.push_back(byte).is_err() {
            self.dropped[slot] += 1;
            self.unreported[slot] += 1;
        }
    }

    /// The byte to push into `slot`'s `console_rx` now that its `len` reads
    /// `len`: the oldest queued byte, only while `len` is 0 (so the wedge,
    /// which takes the newest byte, sees them in order) and only for a VM
    /// that never asked by `get_chars`. Removed from the queue; the caller
    /// stores it at [`rx_slot`]`(len)`.
    pub fn next_for_rx(&mut self, slot: usize, len: u32) -> Option<u8> {
        if len != 0 || *self.ipc_reader.get(slot)? {
            return None;
        }
        self.queues[slot].pop_front()
    }

    /// `get_chars` from `slot`: up to `out.len()` queued bytes, oldest
    /// first; how many. From now on `slot` gets no `console_rx` pushes.
    pub fn take(&mut self, slot: usize, out: &mut [u8]) -> usize {
        let Some(q) = self.queues.get_mut(slot) else {
            return 0;
        };
        self.ipc_reader[slot] = true;
        let mut n = 0;
        while n < out.len() {
            match q.pop_front() {
                Some(b) => {
                    out[n] = b;
                    n += 1;
                }
                None => break,
            }
        }
        n
    }

    /// Drops not yet reported: `f(slot, new, total)` for each slot with
    /// some, then they count as reported.
    pub fn report_drops(&mut self, mut f: impl FnMut(usize, u64, u64)) {
        for slot in 0..MAX_VM {
            if self.unreported[slot] > 0 {
                f(slot, self.unreported[slot], self.dropped[slot]);
                self.unreported[slot] = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn feed(bytes: &[u8]) -> Vec<Key> {
        let mut d = KeyDecoder::default();
        bytes.iter().map(|&b| d.feed(b)).collect()
    }

    #[test]
    fn keys() {
        let i = |byte| Key::Input { esc: false, byte };
        assert_eq!(feed(b"ab"), [i(b'a'), i(b'b')]);
        assert_eq!(feed(b"\x1bn"), [Key::Pending, Key::NextVm]);
        assert_eq!(feed(b"\x1bs"), [Key::Pending, Key::ToggleSilent]);
        assert_eq!(feed(b"\x1b\x1b"), [Key::Pending, Key::Debugger]);
        assert_eq!(feed(b"\x1b2"), [Key::Pending, Key::FocusVm(2)]);
        assert_eq!(feed(b"\x1b9"), [Key::Pending, Key::FocusVm(9)]);
        // An arrow key (ESC [ A): both bytes of the pair go to the guest.
        assert_eq!(
            feed(b"\x1b[A"),
            [
                Key::Pending,
                Key::Input {
                    esc: true,
                    byte: b'['
                },
                i(b'A')
            ]
        );
        assert_eq!(
            feed(b"\x1b0"),
            [
                Key::Pending,
                Key::Input {
                    esc: true,
                    byte: b'0'
                }
            ]
        );
        // After a command the decoder is back at the start.
        assert_eq!(feed(b"\x1bnn"), [Key::Pending, Key::NextVm, i(b'n')]);
        assert_eq!(
            feed(b"\x1b\x1b\x1bn"),
            [Key::Pending, Key::Debugger, Key::Pending, Key::NextVm]
        );
    }

    fn drain(c: &mut ConsoleInput, slot: usize) -> Vec<u8> {
        let mut out = [0u8; 256];
        let n = c.take(slot, &mut out);
        out[..n].to_vec()
    }

    #[test]
    fn focus_moves_and_wraps() {
        let vms = |s: usize| s == 1 || s == 2 || s == 5;
        let mut c = ConsoleInput::new();
        assert_eq!(c.focus(), 1);
        assert_eq!(c.key(ESC, &vms), Effect::None);
        assert_eq!(c.key(b'n', &vms), Effect::Focus(2));
        c.key(ESC, &vms);
        assert_eq!(c.key(b'n', &vms), Effect::Focus(5));
        c.key(ESC, &vms);
        assert_eq!(c.key(b'n', &vms), Effect::Focus(1));
        c.key(ESC, &vms);
        assert_eq!(c.key(b'5', &vms), Effect::Focus(5));
        c.key(ESC, &vms);
        assert_eq!(c.key(b'3', &vms), Effect::NoSuchVm { asked: 3, stays: 5 });
        assert_eq!(c.focus(), 5);
        // ESC n with one VM: focus stays (and says so).
        let one = |s: usize| s == 3;
        let mut c = ConsoleInput::new();
        c.key(ESC, &one);
        assert_eq!(c.key(b'n', &one), Effect::Focus(3));
        c.key(ESC, &one);
        assert_eq!(c.key(b'n', &one), Effect::Focus(3));
        let none = |_: usize| false;
        c.key(ESC, &none);
        assert_eq!(c.key(b'n', &none), Effect::NoVmToFocus);
    }

    #[test]
    fn input_goes_to_the_focused_vm_only() {
        let vms = |s: usize| s == 1 || s == 2;
        let mut c = ConsoleInput::new();
        for &b in b"ab\x1bncd\x1b[x" {
            c.key(b, &vms);
        }
        assert_eq!(drain(&mut c, 1), b"ab");
        assert_eq!(drain(&mut c, 2), b"cd\x1b[x");
    }

    #[test]
    fn focus_moves_on_when_its_vm_is_gone() {
        let mut c = ConsoleInput::new();
        // Nothing runs yet: dropped and counted.
        assert_eq!(c.key(b'a', &|_| false), Effect::NoVm);
        assert_eq!(c.key(ESC, &|_| false), Effect::None);
        assert_eq!(c.key(b'x', &|_| false), Effect::NoVm);
        assert_eq!(c.no_vm_dropped, 3);
        // VM 1 is gone, VM 3 runs: the focus moves there, the byte with it.
        let vms = |s: usize| s == 3;
        assert_eq!(c.key(b'b', &vms), Effect::Focus(3));
        assert_eq!(c.key(b'c', &vms), Effect::None);
        assert_eq!(drain(&mut c, 3), b"bc");
    }

    #[test]
    fn silent_toggles() {
        let mut c = ConsoleInput::new();
        let vms = |s: usize| s == 1;
        c.key(ESC, &vms);
        assert_eq!(c.key(b's', &vms), Effect::Silent(true));
        assert!(c.silent());
        c.key(ESC, &vms);
        assert_eq!(c.key(b's', &vms), Effect::Silent(false));
        c.key(ESC, &vms);
        assert_eq!(c.key(ESC, &vms), Effect::Debugger);
        // Commands never reach the guest.
        assert_eq!(c.queued(1), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let vms = |s: usize| s == 1;
        let mut c = ConsoleInput::new();
        for i in 0..300u32 {
            c.key((i % 200) as u8 + 32, &vms);
        }
        assert_eq!(c.queued(1), QUEUE_BYTES);
        assert_eq!(c.dropped(1), 300 - QUEUE_BYTES as u64);
        let mut seen = Vec::new();
        c.report_drops(|s, new, total| seen.push((s, new, total)));
        assert_eq!(seen, [(1, 172, 172)]);
        c.report_drops(|_, _, _| panic!("reported twice"));
        // The first QUEUE_BYTES bytes stay, in order; later ones get in again.
        let got = drain(&mut c, 1);
        let want: Vec<u8> = (0..QUEUE_BYTES as u32)
            .map(|i| (i % 200) as u8 + 32)
            .collect();
        assert_eq!(got, want);
        c.key(b'z', &vms);
        assert_eq!(drain(&mut c, 1), b"z");
        assert_eq!(c.dropped(1), 172);
    }

    #[test]
    fn rx_pushes_one_byte_at_a_time_and_stop_for_ipc_readers() {
        let vms = |s: usize| s == 1 || s == 2;
        let mut c = ConsoleInput::new();
        for &b in b"abc" {
            c.key(b, &vms);
        }
        assert_eq!(c.next_for_rx(1, 1), None, "only while len == 0");
        assert_eq!(c.next_for_rx(1, 0), Some(b'a'));
        assert_eq!(c.next_for_rx(1, 0), Some(b'b'));
        // A get_chars caller gets the rest, and no more pushes.
        assert_eq!(drain(&mut c, 1), b"c");
        c.key(b'd', &vms);
        assert_eq!(c.next_for_rx(1, 0), None);
        assert_eq!(drain(&mut c, 1), b"d");
        assert_eq!(c.next_for_rx(7, 0), None);
        assert_eq!(c.next_for_rx(99, 0), None);
    }

    /// The stream as the guest sees it: `raw` then `len` (§5.2).
    struct Stream([u8; 132]);

    impl Stream {
        fn len(&self) -> u32 {
            u32::from_le_bytes(self.0[128..132].try_into().unwrap())
        }
        fn set_len(&mut self, v: u32) {
            self.0[128..132].copy_from_slice(&v.to_le_bytes());
        }
        /// Ours: the byte first, then len, never past index 127.
        fn push(&mut self, b: u8) -> bool {
            match rx_slot(self.len()) {
                Some((i, len)) => {
                    self.0[i] = b;
                    self.set_len(len);
                    true
                }
                None => false,
            }
        }
        /// The original (vm.h `add_console_rx`): len + 1, raw[len] = b.
        fn push_original(&mut self, b: u8) -> bool {
            let len = self.len();
            if len >= 128 {
                return false;
            }
            self.set_len(len + 1);
            self.0[(len + 1) as usize] = b;
            true
        }
        /// The wedge's consumer: raw[len], then len - 1.
        fn take(&mut self) -> Option<u8> {
            let len = self.len();
            if len == 0 {
                return None;
            }
            let b = self.0[len as usize];
            self.set_len(len - 1);
            Some(b)
        }
    }

    #[test]
    fn the_producer_never_writes_index_128() {
        // The original: the 128th byte lands on len's low byte.
        let mut s = Stream([0; 132]);
        for _ in 0..127 {
            assert!(s.push_original(b'x'));
        }
        assert!(s.push_original(b'!'));
        assert_eq!(s.len(), u32::from(b'!'), "original: len overwritten");
        // Ours: 127 bytes fit, the 128th is refused, len stays sane, and the
        // wedge's consumer gets every byte back (newest first: a LIFO).
        let mut s = Stream([0; 132]);
        for i in 0..127u8 {
            assert!(s.push(i));
        }
        assert!(!s.push(200));
        assert_eq!(s.len(), RX_MAX_LEN);
        let back: Vec<u8> = core::iter::from_fn(|| s.take()).collect();
        let want: Vec<u8> = (0..127u8).rev().collect();
        assert_eq!(back, want);
        assert_eq!(rx_slot(0), Some((1, 1)));
        assert_eq!(rx_slot(126), Some((127, 127)));
        assert_eq!(rx_slot(127), None);
        // A guest that wrote garbage into len gets nothing written anywhere.
        assert_eq!(rx_slot(0xffff_ffff), None);
    }

    #[test]
    fn pushing_only_at_len_0_keeps_the_order_for_the_wedge() {
        let vms = |s: usize| s == 1;
        let mut c = ConsoleInput::new();
        let mut s = Stream([0; 132]);
        for &b in b"hello" {
            c.key(b, &vms);
        }
        // Polls and wedge reads interleave; the wedge sees "hello".
        let mut seen = Vec::new();
        for _ in 0..10 {
            if let Some(b) = c.next_for_rx(1, s.len()) {
                assert!(s.push(b));
            }
            // A second poll before the wedge read pushes nothing.
            assert_eq!(c.next_for_rx(1, s.len()), None);
            seen.extend(s.take());
        }
        assert_eq!(seen, b"hello");
    }

    #[test]
    fn a_torn_down_vm_leaves_no_input_for_its_successor() {
        let vms = |s: usize| s == 1;
        let mut c = ConsoleInput::new();
        for &b in b"abc" {
            c.key(b, &vms);
        }
        let mut buf = [0u8; 1];
        assert_eq!(c.take(1, &mut buf), 1, "a get_chars reader");
        c.forget(1);
        assert_eq!((c.queued(1), c.dropped(1)), (0, 2));
        c.key(b'x', &vms);
        // The next VM in the slot is a console_rx reader again.
        assert_eq!(c.next_for_rx(1, 0), Some(b'x'));
    }
}
