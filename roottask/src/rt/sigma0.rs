//! The sigma0 protocol (x2-abi §6), as the monitor uses it: ask for pages,
//! receive them mapped 1:1.

use l4_sys::ia32::{ipc, utcb};
use l4_sys::{Acceptor, Fpage, IpcError, MsgTag, ThreadId, Timeouts};

/// The sigma0 RPC label (−6 << 4).
const GET_PAGE: u16 = 0xffa0;

/// Why sigma0 did not give a page.
#[derive(Clone, Copy, Debug)]
pub enum Sigma0Error {
    /// The IPC itself failed.
    Ipc(IpcError),
    /// sigma0 answered, but with the nil fpage (no such memory, or not ours).
    Refused,
    /// The reply was not a map item.
    BadReply(MsgTag),
}

impl core::fmt::Display for Sigma0Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Sigma0Error::Ipc(e) => write!(f, "sigma0 IPC failed: {e}"),
            Sigma0Error::Refused => f.write_str("sigma0 refused the request"),
            Sigma0Error::BadReply(t) => write!(f, "sigma0 replied without a map item: {t:?}"),
        }
    }
}

/// sigma0's thread id (UserBase, version 1).
pub fn sigma0_id() -> ThreadId {
    ThreadId::global(l4_sys::ia32::kip().thread_info().user_base, 1)
}

/// Ask sigma0 for the physical page `fpage` and receive it at `at` (a
/// 4 KB receive window) instead of its physical address.
pub fn request_at(fpage: Fpage, at: u32) -> Result<Fpage, Sigma0Error> {
    let window = Fpage::from_parts(at, 12, l4_sys::Rights::NONE);
    request_with(sigma0_id(), fpage, Acceptor::new(window, false))
}

/// Ask sigma0 for `fpage` (a specific physical page, or [`Fpage::any_of_size`]).
///
/// The page arrives mapped at its physical address.
pub fn request(sigma0: ThreadId, fpage: Fpage) -> Result<Fpage, Sigma0Error> {
    request_with(sigma0, fpage, Acceptor::MAP_ANYWHERE)
}

fn request_with(sigma0: ThreadId, fpage: Fpage, acceptor: Acceptor) -> Result<Fpage, Sigma0Error> {
    utcb::set_mr(1, fpage.0);
    utcb::set_mr(2, 0);
    utcb::set_acceptor(acceptor);
    // SAFETY: with the whole-space acceptor sigma0 maps 1:1 (physical =
    // virtual). The pages it hands out are free conventional memory,
    // boot-loader regions or pages already ours; none of them is at a
    // virtual address where this space has anything else (our image is
    // ours already, the KIP and UTCB areas lie above physical RAM at
    // 0xBF000000+), so no live memory of ours can be replaced. With a 4 KB
    // window the page lands in that window (the device remap window, which
    // holds nothing else).
    let r = unsafe { ipc(sigma0, sigma0, Timeouts::NEVER, MsgTag::new(GET_PAGE, 2, 0)) };
    utcb::set_acceptor(Acceptor::UNTYPED);
    if let Some(e) = r.error() {
        return Err(Sigma0Error::Ipc(e));
    }
    if r.tag.typed() != 2 {
        return Err(Sigma0Error::BadReply(r.tag));
    }
    match Fpage(r.mr2) {
        fp if fp.is_nil() => Err(Sigma0Error::Refused),
        fp => Ok(fp),
    }
}
