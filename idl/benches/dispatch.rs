//! Host benchmark of the generated dispatcher: decode + dispatch + encode for
//! a page fault, a `request_pages` and a `put_chars`, each compared with the
//! floor of merely copying the same message words (request in, reply out),
//! which is what any server has to do.
//!
//! `cargo bench -p idl` prints criterion's numbers and, at the end, the
//! ratio dispatch / floor per operation.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use idl::{Fpage, MapItem, Message, ServerError, ThreadId, Word};

#[allow(dead_code, clippy::all)]
mod gen {
    include!(concat!(env!("OUT_DIR"), "/resourcemon.rs"));
}
use gen::{iconsole, ilocator, ilogging, iresourcemon};

/// A server that does the minimum a real one would: compute the mapping.
struct Bench {
    chars: usize,
}

type R<T, E> = Result<T, ServerError<E>>;

impl ilocator::Server for Bench {
    fn query_interface(&mut self, _: ThreadId, _: Word) -> R<ThreadId, ilocator::Exception> {
        Err(ServerError::NoReply)
    }
    fn register_interface(
        &mut self,
        _: ThreadId,
        _: Word,
        _: ThreadId,
    ) -> R<(), ilocator::Exception> {
        Err(ServerError::NoReply)
    }
}
impl iconsole::Server for Bench {
    fn put_chars(
        &mut self,
        _: ThreadId,
        _: Word,
        s: &iconsole::Stream,
    ) -> R<(), iconsole::Exception> {
        self.chars += (s.len as usize).min(128);
        Ok(())
    }
    fn get_chars(&mut self, _: ThreadId, _: Word) -> R<iconsole::Stream, iconsole::Exception> {
        Err(ServerError::NoReply)
    }
}
impl ilogging::Server for Bench {
    fn request_log_control_regs(
        &mut self,
        _: ThreadId,
        _: Word,
    ) -> R<MapItem, ilogging::Exception> {
        Err(ServerError::NoReply)
    }
    fn request_logfiles(&mut self, _: ThreadId, _: Word) -> R<MapItem, ilogging::Exception> {
        Err(ServerError::NoReply)
    }
}

type Rm<T> = R<T, iresourcemon::Exception>;

impl iresourcemon::Server for Bench {
    fn pagefault(&mut self, _: ThreadId, addr: Word, _ip: Word, rwx: Word) -> Rm<MapItem> {
        Ok(MapItem::map(
            addr,
            Fpage::new(0x0800_0000 + (addr & 0x00ff_f000), 12, rwx),
        ))
    }
    fn register_pdirptr(&mut self, _: ThreadId, _: Word) -> Rm<()> {
        Err(ServerError::NoReply)
    }
    fn client_init_complete(&mut self, _: ThreadId) {}
    fn request_pages(&mut self, _: ThreadId, fp: Fpage, _attr: Word) -> Rm<MapItem> {
        let h = Fpage::new(0x0800_0000u32.wrapping_add(fp.base()), fp.size_log2(), 7);
        Ok(MapItem::map(fp.base(), h))
    }
    fn request_device(&mut self, _: ThreadId, _: Fpage, _: Word) -> Rm<MapItem> {
        Err(ServerError::NoReply)
    }
    fn unmap_device(&mut self, _: ThreadId, _: Fpage, _: Word) -> Rm<Word> {
        Err(ServerError::NoReply)
    }
    fn request_client_pages(&mut self, _: ThreadId, _: ThreadId, _: Fpage) -> Rm<MapItem> {
        Err(ServerError::NoReply)
    }
    fn thread_control(
        &mut self,
        _: ThreadId,
        _: ThreadId,
        _: ThreadId,
        _: ThreadId,
        _: ThreadId,
        _: Word,
        _: Word,
        _: Word,
    ) -> Rm<i32> {
        Err(ServerError::NoReply)
    }
    fn space_control(
        &mut self,
        _: ThreadId,
        _: ThreadId,
        _: Word,
        _: Fpage,
        _: Fpage,
        _: ThreadId,
    ) -> Rm<i32> {
        Err(ServerError::NoReply)
    }
    fn associate_interrupt(
        &mut self,
        _: ThreadId,
        _: ThreadId,
        _: ThreadId,
        _: Word,
        _: Word,
    ) -> Rm<i32> {
        Err(ServerError::NoReply)
    }
    fn deassociate_interrupt(&mut self, _: ThreadId, _: ThreadId) -> Rm<i32> {
        Err(ServerError::NoReply)
    }
    fn get_client_phys_range(&mut self, _: ThreadId, _: ThreadId) -> Rm<(Word, Word)> {
        Err(ServerError::NoReply)
    }
    fn get_space_phys_range(&mut self, _: ThreadId, _: Word) -> Rm<(Word, Word)> {
        Err(ServerError::NoReply)
    }
    fn set_virtual_offset(&mut self, _: ThreadId, _: Word) -> Rm<()> {
        Ok(())
    }
    fn tid_to_space_id(&mut self, _: ThreadId, _: ThreadId) -> Rm<Word> {
        Err(ServerError::NoReply)
    }
    fn clone_vm(&mut self, _: ThreadId, _: ThreadId, _: Word) -> Rm<()> {
        Err(ServerError::NoReply)
    }
    fn get_vm_space(&mut self, _: ThreadId, _: Word) -> Rm<MapItem> {
        Err(ServerError::NoReply)
    }
    fn vm_info(&mut self, _: ThreadId, _: Word) -> Rm<MapItem> {
        Err(ServerError::NoReply)
    }
    fn allocate_vm(&mut self, _: ThreadId) -> Rm<()> {
        Err(ServerError::NoReply)
    }
    fn delete_vm(&mut self, _: ThreadId, _: Word) -> Rm<()> {
        Err(ServerError::NoReply)
    }
    fn set_vm_space(&mut self, _: ThreadId, _: Word, _: Word) -> Rm<()> {
        Err(ServerError::NoReply)
    }
    fn resume_vm(&mut self, _: ThreadId, _: Word) -> Rm<()> {
        Err(ServerError::NoReply)
    }
}

struct Case {
    name: &'static str,
    request: Vec<Word>,
}

fn cases() -> Vec<Case> {
    let mut put = vec![0u32; 35];
    put[0] = 0x0080_0022;
    for (i, w) in put[1..33].iter_mut().enumerate() {
        *w = u32::from_le_bytes([b'a' + (i % 26) as u8; 4]);
    }
    put[33] = 128;
    vec![
        Case {
            name: "pagefault",
            request: vec![0xffe2_0002, 0xbc01_2345, 0xbc00_0100],
        },
        Case {
            name: "request_pages",
            request: vec![0xffa0_0002, Fpage::new(0x12000, 12, 7).0, 7],
        },
        Case {
            name: "put_chars",
            request: put,
        },
    ]
}

/// Reply length in words of each case (known from the golden vectors):
/// map item = MR0 + 2, put_chars = MR0.
fn reply_words(c: &Case) -> usize {
    if c.name == "put_chars" {
        1
    } else {
        3
    }
}

fn run_dispatch(server: &mut Bench, msg: &mut Message, req: &[Word], out: &mut [Word; 64]) {
    msg.mr[..req.len()].copy_from_slice(req);
    let r = iresourcemon::dispatch(server, ThreadId(0x000c_8002), black_box(msg));
    debug_assert!(r.must_send());
    let w = msg.words();
    out[..w.len()].copy_from_slice(w);
}

fn run_floor(msg: &mut Message, req: &[Word], n_out: usize, out: &mut [Word; 64]) {
    msg.mr[..req.len()].copy_from_slice(req);
    let m = black_box(msg);
    out[..n_out].copy_from_slice(&m.mr[..n_out]);
}

fn benches(c: &mut Criterion) {
    for case in cases() {
        let mut g = c.benchmark_group(case.name);
        let mut server = Bench { chars: 0 };
        let mut msg = Message::new();
        let mut out = [0; 64];
        let n_out = reply_words(&case);
        g.bench_function("decode+dispatch+encode", |b| {
            b.iter(|| run_dispatch(&mut server, &mut msg, &case.request, &mut out))
        });
        g.bench_function("copy floor", |b| {
            b.iter(|| run_floor(&mut msg, &case.request, n_out, &mut out))
        });
        g.finish();
        black_box(server.chars);
    }
}

/// Best-of-7 nanoseconds per iteration.
fn measure(mut f: impl FnMut()) -> f64 {
    let iters = 2_000_000u32;
    let mut best = Duration::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        best = best.min(t.elapsed());
    }
    best.as_nanos() as f64 / iters as f64
}

fn print_ratios() {
    println!("\nratio against the copy floor (request words in + reply words out):");
    for case in cases() {
        let mut server = Bench { chars: 0 };
        let mut msg = Message::new();
        let mut out = [0; 64];
        let n_out = reply_words(&case);
        // Sanity: the dispatcher really produced the reply we size the floor for.
        run_dispatch(&mut server, &mut msg, &case.request, &mut out);
        assert_eq!(msg.words().len(), n_out, "{}", case.name);
        let d = measure(|| run_dispatch(&mut server, &mut msg, &case.request, &mut out));
        let f = measure(|| run_floor(&mut msg, &case.request, n_out, &mut out));
        println!(
            "  {:<14} {:>2} words in, {} out: dispatch {:6.2} ns, floor {:6.2} ns, ratio {:5.2}",
            case.name,
            case.request.len(),
            n_out,
            d,
            f,
            d / f
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    print_ratios();
}
