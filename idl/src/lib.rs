//! IDL4-wire-compatible IPC for the L4Ka resource monitor.
//!
//! The crate has two halves:
//!
//! * the **runtime** (this module, always `no_std`, no `alloc`): the message
//!   buffer [`Message`], the X.2 message tag [`Tag`], typed items
//!   ([`MapItem`], [`StringItem`]), the dispatch outcome [`Reply`] and the
//!   client-side [`Transport`] abstraction.  Code generated from
//!   `resourcemon.idl` refers only to `core` and to these `idl::` paths, so it
//!   compiles inside the `#![no_std]` root task for `i586-unknown-linux-gnu`;
//! * the **compiler** ([`codegen`], feature `codegen`, host only): a parser for
//!   the CORBA-IDL subset used by `resourcemon.idl` and a generator that writes
//!   Rust into `OUT_DIR` from a build script.
//!
//! Wire facts are from the resourcemon specification (`resourcemon.md` §7.1–7.4)
//! and the X.2 ABI notes (`x2-abi.md` §1.6–1.7, §5); see `idl/README.md`.
#![cfg_attr(not(any(feature = "std", test)), no_std)]
#![warn(missing_docs)]

// Lets code generated for `::idl::` paths compile inside this crate too
// (the `selftest` module below).
extern crate self as idl;

// Also compiled for unit tests so `cargo test -p idl` covers the compiler
// without extra flags.
#[cfg(any(feature = "codegen", test))]
pub mod codegen;
pub mod wire;
mod word;

pub use word::{Word, WORD_BYTES};

use core::fmt;

/// Number of message registers (MR0…MR63, x2-abi §1.6: `u + t + 1 ≤ 64`).
pub const MR_COUNT: usize = 64;

/// An L4 thread id as its raw word (x2-abi §1.2).
///
/// Kept as a transparent newtype so `shared_t` keeps the C layout (spec §5.1:
/// thread ids are one raw word) while the type system still distinguishes ids
/// from plain words. The root task converts to its own richer type.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ThreadId(pub Word);

impl ThreadId {
    /// The nil thread id (all bits zero).
    pub const NIL: ThreadId = ThreadId(0);
}

impl fmt::Debug for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ThreadId({:#x})", self.0)
    }
}

/// An L4 flexpage as its raw word: base | size-log2 << 4 | rights (x2-abi §1.3).
///
/// A newtype for the same reason as [`ThreadId`]: fpages sit in `shared_t` and in
/// message registers as one raw word.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Fpage(pub Word);

impl Fpage {
    /// The nil fpage; in a map item it means "no mapping" (spec §7.1).
    pub const NIL: Fpage = Fpage(0);
    /// Read right (bit 2).
    pub const R: Word = 4;
    /// Write right (bit 1).
    pub const W: Word = 2;
    /// Execute right (bit 0).
    pub const X: Word = 1;
    /// All rights.
    pub const RWX: Word = 7;

    /// Builds an fpage from a base address, the log2 of its size and rights.
    ///
    /// The base is truncated to the fpage's alignment as the kernel would, and
    /// out-of-range arguments are masked instead of rejected: fpage construction
    /// must never panic in the page-fault path.
    pub const fn new(base: Word, size_log2: u32, rights: Word) -> Fpage {
        let s = size_log2 & 0x3f;
        let mask = if s >= Word::BITS { 0 } else { !0 << s };
        Fpage((base & mask & !0x3ff) | (s << 4) | (rights & 7))
    }

    /// The base address (bits 10 and up, aligned down to the size).
    pub const fn base(self) -> Word {
        let s = self.size_log2();
        let mask = if s >= Word::BITS { 0 } else { !0 << s };
        self.0 & mask & !0x3ff
    }

    /// log2 of the size (bits 4–9).
    pub const fn size_log2(self) -> u32 {
        (self.0 >> 4) & 0x3f
    }

    /// Access rights rwx (bits 0–2).
    pub const fn rights(self) -> Word {
        self.0 & 7
    }

    /// True for the nil fpage (size field 0).
    pub const fn is_nil(self) -> bool {
        self.size_log2() == 0
    }
}

impl fmt::Debug for Fpage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Fpage({:#x}: base {:#x}, 2^{}, rwx {:#o})",
            self.0,
            self.base(),
            self.size_log2(),
            self.rights()
        )
    }
}

/// The X.2 message tag in MR0 (x2-abi §1.6).
///
/// bits 0–5 = u (untyped words), 6–11 = t (typed words), 12–15 = flags (15 = E),
/// 16–31 = label.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Tag(pub Word);

impl Tag {
    /// Builds a tag with zero flags. `u` and `t` are masked to 6 bits.
    pub const fn new(label: u16, u: usize, t: usize) -> Tag {
        Tag(((label as Word) << 16) | (((t as Word) & 0x3f) << 6) | ((u as Word) & 0x3f))
    }
    /// The 16-bit label.
    pub const fn label(self) -> u16 {
        (self.0 >> 16) as u16
    }
    /// Number of untyped words.
    pub const fn untyped(self) -> usize {
        (self.0 & 0x3f) as usize
    }
    /// Number of typed words.
    pub const fn typed(self) -> usize {
        ((self.0 >> 6) & 0x3f) as usize
    }
    /// Flag nibble (bits 12–15).
    pub const fn flags(self) -> Word {
        (self.0 >> 12) & 0xf
    }
    /// IDL4's client success test (spec §7.1): label 0 and E clear.
    pub const fn is_success_reply(self) -> bool {
        self.0 & 0xffff_8000 == 0
    }
}

impl fmt::Debug for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tag(label {:#06x}, u {}, t {}, flags {:#x})",
            self.label(),
            self.untyped(),
            self.typed(),
            self.flags()
        )
    }
}

/// A message as it sits in the message registers: `mr[0]` is MR0 (the tag),
/// `mr[i]` is MRi.
///
/// Mirroring the UTCB exactly (index = MR number) lets the root task move a
/// message with one copy of `u + t + 1` words and avoids off-by-one errors
/// between "tag" and "first parameter". Dispatch decodes in place and writes
/// the reply into the same buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// MR0…MR63.
    pub mr: [Word; MR_COUNT],
}

impl Default for Message {
    fn default() -> Self {
        Message::new()
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("tag", &self.tag())
            .field("words", &self.words())
            .finish()
    }
}

impl Message {
    /// An all-zero message (niltag).
    pub const fn new() -> Message {
        Message { mr: [0; MR_COUNT] }
    }

    /// Builds a message from MR0… given as a slice; excess words are ignored.
    pub fn from_words(words: &[Word]) -> Message {
        let mut m = Message::new();
        let n = words.len().min(MR_COUNT);
        m.mr[..n].copy_from_slice(&words[..n]);
        m
    }

    /// The tag in MR0.
    pub const fn tag(&self) -> Tag {
        Tag(self.mr[0])
    }

    /// Replaces MR0.
    pub fn set_tag(&mut self, tag: Tag) {
        self.mr[0] = tag.0;
    }

    /// The words the tag says are valid: MR0…MR(u+t), clamped to the buffer.
    ///
    /// This is what a sender copies into its UTCB; the clamp keeps a corrupt
    /// tag (u + t > 63) from indexing out of bounds.
    pub fn words(&self) -> &[Word] {
        let t = self.tag();
        let n = (1 + t.untyped() + t.typed()).min(MR_COUNT);
        &self.mr[..n]
    }
}

/// A map or grant item (x2-abi §1.7): word A = send base (bits 10–31) | 0x8
/// (map) or 0xA (grant), word B = the fpage.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct MapItem {
    /// Send base; only bits 10–31 travel (`idl4_fpage_set_base`, spec §7.1).
    pub send_base: Word,
    /// The fpage to map; nil means "no mapping".
    pub fpage: Fpage,
    /// Grant instead of map.
    pub grant: bool,
}

impl MapItem {
    /// A map item of `fpage` at `send_base`.
    pub const fn map(send_base: Word, fpage: Fpage) -> MapItem {
        MapItem {
            send_base,
            fpage,
            grant: false,
        }
    }

    /// Word A of the item.
    pub const fn word_a(&self) -> Word {
        (self.send_base & !0x3ff) | if self.grant { 0xa } else { 0x8 }
    }

    /// Decodes two words; `None` if word A is not a map/grant item.
    pub const fn decode(a: Word, b: Word) -> Option<MapItem> {
        match a & 0xe {
            0x8 => Some(MapItem {
                send_base: a & !0x3ff,
                fpage: Fpage(b),
                grant: false,
            }),
            0xa => Some(MapItem {
                send_base: a & !0x3ff,
                fpage: Fpage(b),
                grant: true,
            }),
            _ => None,
        }
    }
}

/// A simple string item (x2-abi §1.7, spec §7.1): word A = length << 10,
/// word B = address.
///
/// The address is a plain word, never dereferenced by this crate: on the root
/// task it is a host address the kernel copies from; on the host it is
/// whatever the fake transport uses to find its buffer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StringItem {
    /// Address of the first byte.
    pub addr: Word,
    /// Length in bytes (at most 2^22 − 1 on ia32).
    pub len: Word,
}

impl StringItem {
    /// Word A (length << 10; type bits 0 = simple string, no continuation).
    pub const fn word_a(&self) -> Word {
        self.len << 10
    }
    /// Decodes two words; `None` if word A is not a simple one-part string item.
    pub const fn decode(a: Word, b: Word) -> Option<StringItem> {
        // Bit 3 clear = string item; bits 4-8 (substrings - 1) and 9
        // (compound) must be zero for a simple string.
        if a & 0x8 != 0 || a & 0x3f0 != 0 {
            return None;
        }
        Some(StringItem {
            addr: b,
            len: a >> 10,
        })
    }
}

/// Which IDL4 thread-id size the peer's stubs were generated with (spec §7.2).
///
/// Variant A sizes `L4_ThreadId_t` as one word (i386 build host), variant B as
/// two (x86_64 build host). Requests carrying thread ids differ in `u` and
/// sometimes in parameter order.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Variant {
    /// One-word thread ids (the checked-in 2007 stubs).
    A,
    /// Two-word thread ids as IDL4 computes them on an x86_64 host.
    B,
}

/// What the generated dispatch function did with a request.
///
/// For [`Reply::Normal`] and [`Reply::Exception`] the message buffer now holds
/// the reply ([`Message::words`] is what to send); in every other case the
/// buffer content is unspecified and **nothing may be sent**, the server goes
/// back to an open wait (spec §7.1 "no reply").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reply {
    /// A normal reply (label 0) is in the buffer.
    Normal,
    /// An exception reply (label `2 + (number << 8)`, u = t = 0) is in the buffer.
    Exception(u16),
    /// Deliberately no reply.
    NoReply(NoReply),
    /// The request was malformed; no reply (never a successful-looking one).
    Rejected(DispatchError),
}

impl Reply {
    /// True if the buffer holds something to send back to the caller.
    pub const fn must_send(&self) -> bool {
        matches!(self, Reply::Normal | Reply::Exception(_))
    }
}

/// Why a well-formed request gets no reply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NoReply {
    /// The operation is `[oneway]`.
    Oneway,
    /// The server implementation asked for no reply ([`ServerError::NoReply`]).
    Declined,
    /// The implementation raised an exception that is not in the operation's
    /// `raises(...)` list; IDL4 stubs send nothing in that case (spec §7.1).
    UndeclaredException(u16),
}

/// A request that does not match the interface.
///
/// Each variant is logged by the root task and answered with silence, the
/// "treat unknown labels as no reply" recommendation of spec §7.3 extended to
/// every malformed request (spec §11 item 15 forbids successful-looking
/// replies where the original sent none).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DispatchError {
    /// No operation of this interface (or its bases) has this label.
    UnknownLabel {
        /// The received label.
        label: u16,
    },
    /// The label is known but `u` matches neither wire variant.
    BadUntypedCount {
        /// The received label.
        label: u16,
        /// The received untyped count.
        untyped: usize,
    },
    /// Typed items arrived although no operation takes any (the server
    /// receives with BR0 = 0, spec §7.1).
    UnexpectedTypedItems {
        /// The received label.
        label: u16,
        /// The received typed count.
        typed: usize,
    },
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DispatchError::UnknownLabel { label } => write!(f, "unknown label {label:#06x}"),
            DispatchError::BadUntypedCount { label, untyped } => write!(
                f,
                "label {label:#06x}: untyped count {untyped} matches neither wire variant"
            ),
            DispatchError::UnexpectedTypedItems { label, typed } => {
                write!(f, "label {label:#06x}: {typed} unexpected typed words")
            }
        }
    }
}

impl core::error::Error for DispatchError {}

/// Error half of a server method's result.
///
/// `E` is the interface's generated exception enum. Raising an exception that
/// is not in the operation's `raises` list is allowed and yields no reply,
/// exactly as IDL4 stubs behave, so implementations can follow the upstream
/// semantics literally.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ServerError<E> {
    /// Reply with this exception (if declared).
    Exception(E),
    /// Send no reply at all; the caller stays blocked.
    NoReply,
}

impl<E> From<E> for ServerError<E> {
    fn from(e: E) -> Self {
        ServerError::Exception(e)
    }
}

impl<E: fmt::Debug> fmt::Display for ServerError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Exception(e) => write!(f, "exception {e:?}"),
            ServerError::NoReply => f.write_str("no reply"),
        }
    }
}

impl<E> ServerError<E> {
    /// Converts the exception (used by generated code to get its number).
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> ServerError<F> {
        match self {
            ServerError::Exception(e) => ServerError::Exception(f(e)),
            ServerError::NoReply => ServerError::NoReply,
        }
    }
}

/// Encodes the outcome of a server method that failed: an exception reply if
/// `number` is in the operation's `raises` list, otherwise no reply (IDL4).
pub fn finish_error(msg: &mut Message, err: ServerError<u16>, raises: &[u16]) -> Reply {
    match err {
        ServerError::Exception(n) if raises.contains(&n) => {
            encode_exception(msg, n);
            Reply::Exception(n)
        }
        ServerError::Exception(n) => Reply::NoReply(NoReply::UndeclaredException(n)),
        ServerError::NoReply => Reply::NoReply(NoReply::Declined),
    }
}

/// Client side: checks the reply tag and maps exception replies through
/// `from_number`; returns the tag of a success reply.
pub fn check_reply<E>(
    msg: &Message,
    from_number: fn(u16) -> Option<E>,
) -> Result<Tag, ClientError<E>> {
    let tag = msg.tag();
    match reply_status(tag) {
        Ok(()) => Ok(tag),
        Err(Ok(n)) => Err(match from_number(n) {
            Some(e) => ClientError::Exception(e),
            None => ClientError::UnknownException(tag.0),
        }),
        Err(Err(raw)) => Err(ClientError::UnknownException(raw)),
    }
}

/// The two words of the typed item starting `typed_off` words after the
/// untyped words, if the buffer holds them.
pub fn typed_pair(msg: &Message, typed_off: usize) -> Option<(Word, Word)> {
    let i = 1 + msg.tag().untyped() + typed_off;
    Some((*msg.mr.get(i)?, *msg.mr.get(i + 1)?))
}

/// Raw IPC error code from the ErrorCode TCR (x2-abi §1.8).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IpcError(pub Word);

impl fmt::Display for IpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = if self.0 & 1 == 0 { "send" } else { "receive" };
        write!(
            f,
            "IPC {phase} error kind {} (offset {})",
            (self.0 >> 1) & 7,
            self.0 >> 4
        )
    }
}

/// Why a generated client stub failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientError<E> {
    /// The IPC itself failed.
    Ipc(IpcError),
    /// The server raised a declared exception.
    Exception(E),
    /// The reply carried an exception label whose number this interface does
    /// not know, or another non-zero label / the error flag.
    UnknownException(Word),
    /// The reply was a success but its shape did not match the operation.
    BadReply(Tag),
}

impl<E: fmt::Debug> fmt::Display for ClientError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Ipc(e) => write!(f, "{e}"),
            ClientError::Exception(e) => write!(f, "server raised {e:?}"),
            ClientError::UnknownException(raw) => write!(f, "unknown error reply tag {raw:#010x}"),
            ClientError::BadReply(tag) => write!(f, "malformed reply {tag:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for ClientError<E> {}

/// What a client is prepared to receive (BR0 and, for out strings, BR1/BR2).
///
/// IDL4 clients put the receive window of the CORBA environment into BR0
/// (spec §7.1); string out-parameters need a receive buffer.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Acceptor {
    /// Receive window for map/grant items (nil = none accepted).
    pub window: Fpage,
    /// Receive buffer for one string item, if any.
    pub string: Option<StringItem>,
}

impl Acceptor {
    /// BR0 as the kernel wants it (x2-abi §1.7): window bits 4 and up, bit 0 = strings.
    pub const fn br0(&self) -> Word {
        (self.window.0 & !0xf) | if self.string.is_some() { 1 } else { 0 }
    }
}

/// How client stubs reach the server: the root task's guests implement it
/// over the real IPC system call, host tests over a fake buffer.
pub trait Transport {
    /// Send `msg` to `to` and wait for its reply into `msg` (closed receive).
    fn call(&mut self, to: ThreadId, msg: &mut Message, accept: Acceptor) -> Result<(), IpcError>;
    /// Send-only IPC for `[oneway]` operations.
    fn send(&mut self, to: ThreadId, msg: &Message) -> Result<(), IpcError>;
}

/// Label of a CORBA user-exception reply: `2 + (number << 8)` (spec §7.1).
pub const fn exception_label(number: u16) -> u16 {
    2 + (number << 8)
}

/// Writes an exception reply (u = t = 0) into `msg`.
pub fn encode_exception(msg: &mut Message, number: u16) {
    msg.set_tag(Tag::new(exception_label(number), 0, 0));
}

/// Classifies a reply tag on the client side: `Ok(())` for success, otherwise
/// the exception number (if the label has the user-exception shape) or the
/// raw tag.
pub fn reply_status(tag: Tag) -> Result<(), Result<u16, Word>> {
    if tag.is_success_reply() {
        return Ok(());
    }
    let label = tag.label();
    if tag.0 & 0x8000 == 0 && label & 0xff == 2 && label >> 8 != 0 {
        Err(Ok(label >> 8))
    } else {
        Err(Err(tag.0))
    }
}

/// Code generated from `resourcemon.idl` by this crate's build script, compiled
/// into the crate itself so `cargo build --target i586-unknown-linux-gnu
/// --features selftest` proves it is `no_std` clean.
#[cfg(feature = "selftest")]
#[allow(missing_docs)]
pub mod selftest {
    include!(concat!(env!("OUT_DIR"), "/resourcemon.rs"));
}
