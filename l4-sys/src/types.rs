//! Word-level X.2 types (spec §1), safe and `Copy`, for the ia32 word size.

use crate::Word;
use core::fmt;

/// A thread id (§1.2): global (number and version) or local (UTCB address).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct ThreadId(pub Word);

impl ThreadId {
    /// No thread.
    pub const NIL: ThreadId = ThreadId(0);
    /// Any sender (open receive).
    pub const ANY: ThreadId = ThreadId(!0);
    /// Any sender in the caller's own address space.
    pub const ANY_LOCAL: ThreadId = ThreadId(!0 << 6);
    /// Bits of the version field on ia32.
    pub const VERSION_BITS: u32 = 14;

    /// The global id of thread `number` with `version`.
    ///
    /// Versions whose low 6 bits are zero would read as local ids, so callers
    /// pick versions such as 1 (the kernel's choice for its own threads).
    pub const fn global(number: Word, version: Word) -> ThreadId {
        ThreadId((number << Self::VERSION_BITS) | (version & ((1 << Self::VERSION_BITS) - 1)))
    }

    /// The thread number of a global id.
    pub const fn number(self) -> Word {
        self.0 >> Self::VERSION_BITS
    }

    /// The version of a global id.
    pub const fn version(self) -> Word {
        self.0 & ((1 << Self::VERSION_BITS) - 1)
    }

    /// Global ids have non-zero low 6 bits; local ids (UTCB addresses) do not.
    pub const fn is_global(self) -> bool {
        self.0 & 0x3f != 0
    }

    /// The nil thread id.
    pub const fn is_nil(self) -> bool {
        self.0 == 0
    }

    /// The interrupt thread of line `irq` (thread number = irq, version 1; §5).
    pub const fn interrupt(irq: Word) -> ThreadId {
        ThreadId::global(irq, 1)
    }
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ThreadId::NIL => f.write_str("nilthread"),
            ThreadId::ANY => f.write_str("anythread"),
            t if t.is_global() => write!(f, "{:#x}.{}", t.number(), t.version()),
            t => write!(f, "local:{:#x}", t.0),
        }
    }
}

/// Access rights of a memory fpage (§1.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Rights(pub Word);

impl Rights {
    /// No access.
    pub const NONE: Rights = Rights(0);
    /// Execute.
    pub const X: Rights = Rights(1);
    /// Write.
    pub const W: Rights = Rights(2);
    /// Read.
    pub const R: Rights = Rights(4);
    /// Read and write.
    pub const RW: Rights = Rights(6);
    /// Read, write and execute.
    pub const RWX: Rights = Rights(7);
}

/// A flexpage (§1.3): a naturally aligned power-of-two region plus rights.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Fpage(pub Word);

/// Why a region cannot be expressed as one fpage.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FpageError {
    /// log2(size) must be 10..=32 for a memory fpage (4 KiB pages are the hardware minimum: 12).
    BadSize(u32),
    /// The base must be aligned to the size.
    Misaligned {
        /// The requested base.
        base: u64,
        /// The requested log2 size.
        log2: u32,
    },
}

impl fmt::Display for FpageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FpageError::BadSize(s) => write!(f, "fpage size 2^{s} is outside 2^10..=2^32"),
            FpageError::Misaligned { base, log2 } => {
                write!(
                    f,
                    "fpage base {base:#x} is not aligned to its size 2^{log2}"
                )
            }
        }
    }
}

impl Fpage {
    /// The empty fpage.
    pub const NIL: Fpage = Fpage(0);
    /// The whole address space (s = 1, base 0).
    pub const COMPLETE: Fpage = Fpage(0x10);

    /// An fpage of `2^log2` bytes at `base`, checked.
    pub fn new(base: Word, log2: u32, rights: Rights) -> Result<Fpage, FpageError> {
        if !(10..=32).contains(&log2) {
            return Err(FpageError::BadSize(log2));
        }
        if log2 < 32 && base & ((1u32 << log2) - 1) != 0 || log2 == 32 && base != 0 {
            return Err(FpageError::Misaligned {
                base: base as u64,
                log2,
            });
        }
        Ok(Fpage::from_parts(base, log2, rights))
    }

    /// An fpage without checks, for callers that already know `base` is aligned.
    pub const fn from_parts(base: Word, log2: u32, rights: Rights) -> Fpage {
        Fpage((base & !0x3ff) | ((log2 & 0x3f) << 4) | (rights.0 & 7))
    }

    /// The sigma0 "any page of this size" request: all base bits set (§6).
    pub const fn any_of_size(log2: u32) -> Fpage {
        Fpage(!0x3ff | ((log2 & 0x3f) << 4))
    }

    /// Base address.
    pub const fn base(self) -> Word {
        self.0 & !0x3ff
    }

    /// log2 of the size.
    pub const fn log2_size(self) -> u32 {
        (self.0 >> 4) & 0x3f
    }

    /// Size in bytes (`u64`: a 4 GiB fpage does not fit a word).
    pub const fn size(self) -> u64 {
        1u64 << self.log2_size()
    }

    /// Rights bits.
    pub const fn rights(self) -> Rights {
        Rights(self.0 & 7)
    }

    /// The same fpage with other rights.
    pub const fn with_rights(self, rights: Rights) -> Fpage {
        Fpage((self.0 & !7) | (rights.0 & 7))
    }

    /// The nil fpage (sigma0's "no").
    pub const fn is_nil(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Debug for Fpage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Fpage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_nil() {
            return f.write_str("nilpage");
        }
        let r = self.rights().0;
        write!(
            f,
            "{:#010x}/2^{} {}{}{}",
            self.base(),
            self.log2_size(),
            if r & 4 != 0 { 'r' } else { '-' },
            if r & 2 != 0 { 'w' } else { '-' },
            if r & 1 != 0 { 'x' } else { '-' }
        )
    }
}

/// The message tag in MR0 (§1.6).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
#[repr(transparent)]
pub struct MsgTag(pub Word);

impl MsgTag {
    /// The error bit the kernel sets on a failed IPC.
    pub const ERROR: Word = 1 << 15;

    /// A tag with `label`, `untyped` and `typed` word counts.
    pub const fn new(label: u16, untyped: u32, typed: u32) -> MsgTag {
        MsgTag(((label as Word) << 16) | ((typed & 0x3f) << 6) | (untyped & 0x3f))
    }

    /// Label (16 bits on ia32).
    pub const fn label(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// Number of untyped words (MR1..MRu).
    pub const fn untyped(self) -> u32 {
        self.0 & 0x3f
    }

    /// Number of typed words after the untyped ones.
    pub const fn typed(self) -> u32 {
        (self.0 >> 6) & 0x3f
    }

    /// The IPC failed; details are in the ErrorCode TCR.
    pub const fn failed(self) -> bool {
        self.0 & Self::ERROR != 0
    }

    /// Set the propagation bit (bit 12).
    pub const fn propagated(self) -> MsgTag {
        MsgTag(self.0 | 1 << 12)
    }
}

impl fmt::Debug for MsgTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MsgTag(label={:#06x} u={} t={}{})",
            self.label(),
            self.untyped(),
            self.typed(),
            if self.failed() { " error" } else { "" }
        )
    }
}

/// A relative time period (§1.4): `m * 2^e` microseconds in 16 bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(transparent)]
pub struct Time(pub u16);

impl Time {
    /// Wait forever.
    pub const NEVER: Time = Time(0);
    /// Do not wait at all.
    pub const ZERO: Time = Time(0x0400);

    /// The shortest period of at least `us` microseconds the encoding can say.
    pub const fn period_us(us: u64) -> Time {
        if us == 0 {
            return Time::ZERO;
        }
        let mut m = us;
        let mut e = 0u16;
        while m >= 1024 {
            // Round up so a timeout never fires early.
            m = m.div_ceil(2);
            e += 1;
        }
        if e > 31 {
            return Time::NEVER;
        }
        Time((e << 10) | m as u16)
    }

    /// Length of a relative period in microseconds (None for never).
    pub const fn as_us(self) -> Option<u64> {
        if self.0 == 0 {
            return None;
        }
        let e = (self.0 >> 10) & 0x1f;
        Some(((self.0 & 0x3ff) as u64) << e)
    }
}

/// The IPC timeouts word: send timeout in bits 16–31, receive in 0–15 (§1.4).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Timeouts {
    /// Send phase.
    pub send: Time,
    /// Receive phase.
    pub receive: Time,
}

impl Timeouts {
    /// Block in both phases.
    pub const NEVER: Timeouts = Timeouts {
        send: Time::NEVER,
        receive: Time::NEVER,
    };
    /// Reply without blocking, then wait for the next request: the server loop's choice.
    pub const REPLY_WAIT: Timeouts = Timeouts {
        send: Time::ZERO,
        receive: Time::NEVER,
    };

    /// The raw word passed to Ipc.
    pub const fn raw(self) -> Word {
        ((self.send.0 as Word) << 16) | self.receive.0 as Word
    }
}

/// A map (or grant) item: two words (§1.7).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MapItem {
    /// Where the receiver's window places the fpage (offset selector).
    pub send_base: Word,
    /// What is sent.
    pub fpage: Fpage,
    /// Grant instead of map.
    pub grant: bool,
}

impl MapItem {
    /// Map `fpage`, positioned by `send_base`.
    pub const fn map(send_base: Word, fpage: Fpage) -> MapItem {
        MapItem {
            send_base,
            fpage,
            grant: false,
        }
    }

    /// The two message words.
    pub const fn words(self) -> [Word; 2] {
        [
            (self.send_base & !0x3ff) | if self.grant { 0xa } else { 0x8 },
            self.fpage.0,
        ]
    }

    /// Decode two message words; `None` unless they are a map or grant item.
    pub const fn from_words(w: [Word; 2]) -> Option<MapItem> {
        match w[0] & 0xe {
            0x8 => Some(MapItem {
                send_base: w[0] & !0x3ff,
                fpage: Fpage(w[1]),
                grant: false,
            }),
            0xa => Some(MapItem {
                send_base: w[0] & !0x3ff,
                fpage: Fpage(w[1]),
                grant: true,
            }),
            _ => None,
        }
    }
}

/// A simple string item (one substring): two words (§1.7).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct StringItem {
    /// Length in bytes (22 bits on ia32).
    pub len: Word,
    /// Address in the sender's (or, in a buffer register, receiver's) space.
    pub ptr: Word,
}

impl StringItem {
    /// The two message (or buffer) words; `more` sets the continuation bit.
    pub const fn words(self, more: bool) -> [Word; 2] {
        [(self.len << 10) | more as Word, self.ptr]
    }

    /// Decode a simple string item; `None` for other item types or compound strings.
    pub const fn from_words(w: [Word; 2]) -> Option<StringItem> {
        if w[0] & 0x8 != 0 || (w[0] >> 4) & 0x1f != 0 {
            return None;
        }
        Some(StringItem {
            len: w[0] >> 10,
            ptr: w[1],
        })
    }
}

/// The acceptor in BR0 (§1.7): which typed items a receive accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Acceptor(pub Word);

impl Acceptor {
    /// Untyped words only.
    pub const UNTYPED: Acceptor = Acceptor(0);
    /// Mappings anywhere in the address space (window = complete space).
    pub const MAP_ANYWHERE: Acceptor = Acceptor(Fpage::COMPLETE.0);

    /// Accept mappings into `window`, and string items when `strings` is set.
    pub const fn new(window: Fpage, strings: bool) -> Acceptor {
        Acceptor((window.0 & !0xf) | strings as Word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_id_matches_spec_example() {
        // §1.2: thread 0x123 version 1 is 0x0048C001 on ia32.
        let t = ThreadId::global(0x123, 1);
        assert_eq!(t.0, 0x0048_C001);
        assert_eq!((t.number(), t.version()), (0x123, 1));
        assert!(t.is_global());
        assert!(!ThreadId(0xbf00_0100).is_global());
    }

    #[test]
    fn map_item_matches_spec_example() {
        // §1.7: a 4 MiB fpage at 0x400000 gives words 0x00400008, 0x00400160.
        let fp = Fpage::new(0x40_0000, 22, Rights::RW).unwrap();
        assert_eq!(
            MapItem::map(0x40_0000, fp).words(),
            [0x0040_0008, 0x0040_0166]
        );
        let fp = Fpage::new(0x40_0000, 22, Rights::NONE).unwrap();
        assert_eq!(
            MapItem::map(0x40_0000, fp).words(),
            [0x0040_0008, 0x0040_0160]
        );
        assert!(MapItem::from_words([0x0040_000a, 0x160]).unwrap().grant);
        assert_eq!(MapItem::from_words([0x0040_0000, 0x160]), None);
    }

    #[test]
    fn fpage_checks_alignment_and_size() {
        assert_eq!(
            Fpage::new(0x1000, 13, Rights::RW),
            Err(FpageError::Misaligned {
                base: 0x1000,
                log2: 13
            })
        );
        assert_eq!(Fpage::new(0, 9, Rights::RW), Err(FpageError::BadSize(9)));
        let fp = Fpage::new(0x2000, 13, Rights::RWX).unwrap();
        assert_eq!(
            (fp.base(), fp.size(), fp.rights()),
            (0x2000, 0x2000, Rights::RWX)
        );
        assert_eq!(Fpage::any_of_size(22).base(), 0xffff_fc00);
        assert_eq!(Fpage::COMPLETE.log2_size(), 1);
    }

    #[test]
    fn tag_fields_round_trip() {
        let tag = MsgTag::new(0xffe2, 2, 0);
        assert_eq!(tag.0, 0xffe2_0002);
        assert_eq!((tag.label(), tag.untyped(), tag.typed()), (0xffe2, 2, 0));
        assert!(!tag.failed());
        assert!(MsgTag(0x8000).failed());
        assert_eq!(MsgTag::new(0, 0, 2).0, 0x80);
    }

    #[test]
    fn time_encoding_never_rounds_down() {
        assert_eq!(Time::ZERO.0, 0x400);
        assert_eq!(Time::period_us(1000).as_us(), Some(1000));
        for us in [1u64, 1023, 1024, 1025, 999_999, 10_000_000] {
            let got = Time::period_us(us).as_us().unwrap();
            assert!(got >= us && got <= us + us / 512 + 2, "{us} -> {got}");
        }
        assert_eq!(Timeouts::REPLY_WAIT.raw(), 0x0400_0000);
    }

    #[test]
    fn string_item_words() {
        let s = StringItem {
            len: 100,
            ptr: 0x1234,
        };
        assert_eq!(s.words(false), [100 << 10, 0x1234]);
        assert_eq!(StringItem::from_words(s.words(false)), Some(s));
        assert_eq!(StringItem::from_words([0x8, 0]), None);
    }
}

/// ErrorCode of a failed non-IPC system call (§1.8).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KernelError {
    /// 1: the caller's space may not make this call.
    NoPrivilege,
    /// 2: a thread id is invalid.
    InvalidThread,
    /// 3: a space specifier is invalid.
    InvalidSpace,
    /// 4: the scheduler is invalid.
    InvalidScheduler,
    /// 5: a parameter is invalid.
    InvalidParam,
    /// 6: the UTCB area or location is invalid.
    UtcbArea,
    /// 7: the KIP area is invalid.
    KipArea,
    /// 8: the kernel is out of memory.
    NoMemory,
    /// Any other value.
    Other(Word),
}

impl KernelError {
    /// Decode an ErrorCode TCR value.
    pub const fn from_code(code: Word) -> KernelError {
        match code {
            1 => KernelError::NoPrivilege,
            2 => KernelError::InvalidThread,
            3 => KernelError::InvalidSpace,
            4 => KernelError::InvalidScheduler,
            5 => KernelError::InvalidParam,
            6 => KernelError::UtcbArea,
            7 => KernelError::KipArea,
            8 => KernelError::NoMemory,
            c => KernelError::Other(c),
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::NoPrivilege => f.write_str("no privilege (1)"),
            KernelError::InvalidThread => f.write_str("invalid thread (2)"),
            KernelError::InvalidSpace => f.write_str("invalid space (3)"),
            KernelError::InvalidScheduler => f.write_str("invalid scheduler (4)"),
            KernelError::InvalidParam => f.write_str("invalid parameter (5)"),
            KernelError::UtcbArea => f.write_str("invalid UTCB area (6)"),
            KernelError::KipArea => f.write_str("invalid KIP area (7)"),
            KernelError::NoMemory => f.write_str("kernel out of memory (8)"),
            KernelError::Other(c) => write!(f, "error code {c}"),
        }
    }
}

/// Why an IPC failed (§1.8), decoded from the ErrorCode TCR.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IpcError {
    /// The receive phase failed (otherwise the send phase).
    pub receive_phase: bool,
    /// What went wrong.
    pub kind: IpcErrorKind,
    /// Bytes transferred before the error (kinds 4–7).
    pub offset: Word,
}

/// The IPC error kinds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IpcErrorKind {
    /// 1.
    Timeout,
    /// 2: no such partner.
    NoPartner,
    /// 3.
    Cancelled,
    /// 4: the message did not fit the receiver's buffers.
    Overflow,
    /// 5.
    XferTimeoutInvoker,
    /// 6.
    XferTimeoutPartner,
    /// 7.
    Aborted,
    /// 0 or an undefined kind.
    Unknown(Word),
}

impl IpcError {
    /// Decode an ErrorCode TCR value after a failed IPC.
    pub const fn from_code(code: Word) -> IpcError {
        let kind = match (code >> 1) & 7 {
            1 => IpcErrorKind::Timeout,
            2 => IpcErrorKind::NoPartner,
            3 => IpcErrorKind::Cancelled,
            4 => IpcErrorKind::Overflow,
            5 => IpcErrorKind::XferTimeoutInvoker,
            6 => IpcErrorKind::XferTimeoutPartner,
            7 => IpcErrorKind::Aborted,
            k => IpcErrorKind::Unknown(k),
        };
        IpcError {
            receive_phase: code & 1 != 0,
            kind,
            offset: code >> 4,
        }
    }
}

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = if self.receive_phase {
            "receive"
        } else {
            "send"
        };
        write!(f, "IPC {phase} phase failed: {:?}", self.kind)?;
        if self.offset != 0 {
            write!(f, " after {} bytes", self.offset)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;

    #[test]
    fn ipc_error_decoding() {
        let e = IpcError::from_code((5 << 1) | 1 | (64 << 4));
        assert_eq!(
            e,
            IpcError {
                receive_phase: true,
                kind: IpcErrorKind::XferTimeoutInvoker,
                offset: 64
            }
        );
        assert_eq!(IpcError::from_code(2 << 1).kind, IpcErrorKind::NoPartner);
        assert!(!IpcError::from_code(2 << 1).receive_phase);
    }

    #[test]
    fn kernel_error_decoding() {
        assert_eq!(KernelError::from_code(6), KernelError::UtcbArea);
        assert_eq!(KernelError::from_code(42), KernelError::Other(42));
        assert_eq!(
            std::format!("{}", KernelError::NoPrivilege),
            "no privilege (1)"
        );
    }
}
