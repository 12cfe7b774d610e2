//! Host tests of the server: every rule, through the generated traits.

use super::*;
use crate::ipc::iconsole::Server as _;
use crate::ipc::ilocator::Server as _;
use crate::ipc::iresourcemon::Server as _;
use crate::ipc::ivmcontrol::Server as _;
use crate::ipc::{iconsole, iresourcemon};
use idl::StringItem;
use std::string::String;
use std::vec::Vec;

/// Records every machine operation the server asks for.
#[derive(Default)]
struct Fake {
    log: Vec<String>,
    lines: Vec<(usize, Vec<u8>)>,
    words: Vec<(u64, u32)>,
    thread_controls: Vec<[Word; 4]>,
    unmaps: Vec<(Word, bool)>,
    device_maps: Vec<(Word, Word)>,
    refuse_device: bool,
    scratch_pages: u32,
    /// Frames zeroed for first exposure, in order.
    zeroed: Vec<u64>,
    /// Every Schedule call: (dest, processor, priority).
    schedules: Vec<[Word; 3]>,
    /// How many of the next Schedule calls the "kernel" refuses.
    refuse_schedules: u32,
    /// Words stored (and loadable), by host address.
    memory: std::collections::BTreeMap<u64, u32>,
    /// Bytes stored, in order.
    bytes: Vec<(u64, u8)>,
    notices: Vec<String>,
    silent: bool,
    debugger: u32,
    /// The supervision clock (µs).
    now: u64,
    /// Threads poked, in order.
    pokes: Vec<Word>,
    /// Pokes find their thread waiting.
    pokes_arrive: bool,
}

impl Platform for Fake {
    fn log(&mut self, args: fmt::Arguments<'_>) {
        self.log.push(std::format!("{args}"));
    }
    fn guest_output(&mut self, slot: usize, bytes: &[u8]) {
        self.lines.push((slot, bytes.to_vec()));
    }
    fn store_word(&mut self, haddr: u64, value: u32) {
        self.words.push((haddr, value));
        self.memory.insert(haddr, value);
    }
    fn load_word(&mut self, haddr: u64) -> u32 {
        self.memory.get(&haddr).copied().unwrap_or(0)
    }
    fn store_byte(&mut self, haddr: u64, value: u8) {
        self.bytes.push((haddr, value));
    }
    fn console_notice(&mut self, args: fmt::Arguments<'_>) {
        self.notices.push(std::format!("{args}"));
    }
    fn set_silent(&mut self, silent: bool) {
        self.silent = silent;
    }
    fn enter_debugger(&mut self) {
        self.debugger += 1;
    }
    fn thread_control(
        &mut self,
        d: ThreadId,
        s: ThreadId,
        sc: ThreadId,
        p: ThreadId,
        _u: Word,
    ) -> Result<(), KernelError> {
        self.thread_controls.push([d.0, s.0, sc.0, p.0]);
        Ok(())
    }
    fn space_control(
        &mut self,
        _: ThreadId,
        _: Word,
        _: Fpage,
        _: Fpage,
        _: ThreadId,
    ) -> Result<(), KernelError> {
        Ok(())
    }
    fn schedule(&mut self, dest: ThreadId, cpu: Word, prio: Word) -> Result<(), KernelError> {
        self.schedules.push([dest.0, cpu, prio]);
        if self.refuse_schedules > 0 {
            self.refuse_schedules -= 1;
            return Err(KernelError::NoPrivilege);
        }
        Ok(())
    }
    fn unmap(&mut self, fpage: Fpage, flush: bool) -> Fpage {
        self.unmaps.push((fpage.0, flush));
        Fpage((fpage.0 & !Fpage::RWX) | Fpage::R)
    }
    fn map_device_frame(&mut self, phys: Word, at: Word) -> bool {
        self.device_maps.push((phys, at));
        !self.refuse_device
    }
    fn scratch_page(&mut self) -> Option<u64> {
        self.scratch_pages += 1;
        Some(0x4000_0000 + 4096 * u64::from(self.scratch_pages))
    }
    fn zero_frame(&mut self, haddr: u64) {
        self.zeroed.push(haddr);
    }
    fn now_us(&mut self) -> u64 {
        self.now
    }
    fn poke(&mut self, thread: ThreadId) -> bool {
        self.pokes.push(thread.0);
        self.pokes_arrive
    }
}

/// A remap window at 0xbc00_0000 with a table of `slots` entries.
fn window(slots: usize) -> RemapWindow {
    RemapWindow {
        base: 0xbc00_0000,
        slots: std::vec![RemapSlot::default(); slots].leak(),
    }
}

const UB: u32 = 48;
const BASE: u32 = UB + 2;

fn tid(slot: u32, offset: u32) -> ThreadId {
    ThreadId(((BASE + 4096 * slot + offset) << 14) | 2)
}

/// VM 1: 16 MB at 0x100_0000; VM 2 (ddos): 16 MB at 0x200_0000.
fn monitor() -> Monitor<Fake> {
    let mut m = Monitor::new(
        Fake::default(),
        ThreadSpaces::from_user_base(UB),
        16,
        window(REMAP_SLOTS),
    );
    let terminator = Device {
        low: 0x0fff_ffff,
        high: 0xffff_ffff,
        kind: 0,
    };
    let vga = Device {
        low: 0xa_0000,
        high: 0xb_ffff,
        kind: 4,
    };
    m.vms[1] = Some(VmEntry::new(
        Layout::new(0x100_0000, 16 << 20, 0, 0),
        0x180_0000,
        false,
        &[vga, terminator],
    ));
    m.vms[2] = Some(VmEntry::new(
        Layout::new(0x200_0000, 16 << 20, 0, 0),
        0x280_0000,
        true,
        &[vga, terminator],
    ));
    m
}

fn x<T: fmt::Debug>(r: RmResult<T>) -> RmX {
    match r {
        Err(ServerError::Exception(e)) => e,
        other => panic!("expected an exception, got {other:?}"),
    }
}

#[test]
fn page_faults_translate_or_stay_unanswered() {
    let mut m = monitor();
    let item = m.pagefault(tid(1, 0), 0x3456, 0x1000, 2).unwrap();
    assert_eq!(item, MapItem::map(0x3000, Fpage::new(0x100_3000, 12, 2)));
    assert_eq!(
        m.pagefault(tid(1, 0), 0x200_0000, 0x1000, 4),
        Err(ServerError::NoReply)
    );
    assert_eq!(
        m.pagefault(ThreadId((7 << 14) | 1), 0x1000, 0, 4),
        Err(ServerError::NoReply)
    );
    assert_eq!(m.stats.faults_served, 1);
    assert_eq!(m.stats.refused, 2);
}

#[test]
fn request_pages_maps_own_memory_or_answers_nil() {
    let mut m = monitor();
    let item = m
        .request_pages(tid(1, 3), Fpage::new(0x10_0000, 16, 0), 7)
        .unwrap();
    assert_eq!(item, MapItem::map(0x10_0000, Fpage::new(0x110_0000, 16, 7)));
    let nil = MapItem::map(0, Fpage::NIL);
    assert_eq!(
        m.request_pages(tid(1, 3), Fpage::new(0x100_0000, 12, 0), 7)
            .unwrap(),
        nil,
        "beyond 16 MB"
    );
    assert_eq!(
        m.request_pages(tid(1, 3), Fpage::new(0, 24, 0), 7).unwrap(),
        nil,
        "larger than 4 MB"
    );
    assert_eq!(
        m.request_pages(ThreadId((7 << 14) | 1), Fpage::new(0, 12, 0), 7)
            .unwrap(),
        nil,
        "no VM"
    );
}

#[test]
fn thread_control_is_confined_to_the_callers_range() {
    let mut m = monitor();
    let (me, own, other) = (m.monitor_tid(), tid(1, 0), tid(2, 0));
    assert_eq!(
        m.thread_control(own, tid(1, 1), own, own, me, 0x1000, !0, 0),
        Ok(1)
    );
    assert_eq!(m.platform.thread_controls.len(), 1);
    for (dest, space, sched, pager) in [
        (other, other, other, me),
        (tid(1, 1), other, own, me),
        (tid(1, 1), own, other, me),
        (tid(1, 1), own, own, other),
        (me, me, me, me),
        (ThreadId(0), own, own, me),
    ] {
        assert_eq!(
            x(m.thread_control(own, dest, space, sched, pager, !0, !0, 0)),
            RmX::ErrNoPrivilege
        );
    }
    assert_eq!(
        x(m.space_control(own, other, 0, Fpage::NIL, Fpage::NIL, ThreadId(0))),
        RmX::ErrNoPrivilege
    );
    assert_eq!(
        m.space_control(own, tid(1, 9), 0, Fpage::NIL, Fpage::NIL, ThreadId(0)),
        Ok(1)
    );
    assert_eq!(
        m.platform.thread_controls.len(),
        1,
        "refused calls never reach the kernel"
    );
}

#[test]
fn interrupts_belong_to_the_first_vm_that_claims_them() {
    let mut m = monitor();
    let irq10 = ThreadId((10 << 14) | 1);
    assert_eq!(
        m.associate_interrupt(tid(1, 0), irq10, tid(1, 0), 0xff, 0),
        Ok(1)
    );
    assert_eq!(
        m.platform.thread_controls[0],
        [irq10.0, irq10.0, 0, tid(1, 0).0]
    );
    assert_eq!(
        x(m.associate_interrupt(tid(2, 0), irq10, tid(2, 0), 0xff, 0)),
        RmX::ErrNoPrivilege
    );
    assert_eq!(
        x(m.deassociate_interrupt(tid(2, 0), irq10)),
        RmX::ErrNoPrivilege
    );
    assert_eq!(
        x(m.associate_interrupt(tid(1, 0), ThreadId((11 << 14) | 1), tid(2, 0), 0xff, 0)),
        RmX::ErrNoPrivilege,
        "handler in another VM"
    );
    assert_eq!(
        x(m.associate_interrupt(tid(1, 0), ThreadId((16 << 14) | 1), tid(1, 0), 0xff, 0)),
        RmX::ErrInvalidThread,
        "beyond SystemBase"
    );
    assert_eq!(m.deassociate_interrupt(tid(1, 0), irq10), Ok(1));
    assert_eq!(
        m.associate_interrupt(tid(2, 0), irq10, tid(2, 0), 0xff, 0),
        Ok(1)
    );
}

#[test]
fn associate_interrupt_schedules_the_interrupt_thread_and_restores_the_handler() {
    let irq6 = ThreadId((6 << 14) | 1);
    let handler = tid(1, 1);
    let me = ThreadId((BASE << 14) | 1);
    // Priority ≠ 255: Schedule(interrupt thread 6.1, cpu, prio), not the
    // handler (issue 10.3).
    let mut m = monitor();
    assert_eq!(
        m.associate_interrupt(tid(1, 0), irq6, handler, 0x71, 0),
        Ok(1)
    );
    assert_eq!(m.platform.schedules, [[irq6.0, 0, 0x71]]);
    assert_eq!(m.platform.thread_controls, [[irq6.0, irq6.0, 0, handler.0]]);
    // The kernel refuses the first Schedule: the monitor becomes scheduler
    // and pager of the interrupt thread, retries, and gives both back to
    // the handler (re-associating the interrupt with it).
    let mut m = monitor();
    m.platform.refuse_schedules = 1;
    assert_eq!(
        m.associate_interrupt(tid(1, 0), irq6, handler, 0x71, 0),
        Ok(1)
    );
    assert_eq!(m.platform.schedules, [[irq6.0, 0, 0x71], [irq6.0, 0, 0x71]]);
    assert_eq!(
        m.platform.thread_controls,
        [
            [irq6.0, irq6.0, 0, handler.0],
            [irq6.0, irq6.0, me.0, me.0],
            [irq6.0, irq6.0, handler.0, handler.0],
        ]
    );
    // Both refused: error + 5 (ErrNoPrivilege), the association undone and
    // the interrupt left free.
    let mut m = monitor();
    m.platform.refuse_schedules = 2;
    assert_eq!(
        x(m.associate_interrupt(tid(1, 0), irq6, handler, 0x71, 0)),
        RmX::ErrNoPrivilege
    );
    assert_eq!(
        m.platform.thread_controls.last(),
        Some(&[irq6.0, irq6.0, 0, irq6.0])
    );
    m.platform.refuse_schedules = 0;
    assert_eq!(
        m.associate_interrupt(tid(2, 0), irq6, tid(2, 0), 0xff, 0),
        Ok(1),
        "the failed association left no owner behind"
    );
    // Priority 255 on CPU 0: no Schedule at all.
    let mut m = monitor();
    m.associate_interrupt(tid(1, 0), irq6, handler, 0xff, 0)
        .unwrap();
    assert!(m.platform.schedules.is_empty());
}

#[test]
fn thread_control_fallback_restores_the_callers_scheduler_and_pager() {
    let mut m = monitor();
    m.platform.refuse_schedules = 1;
    let (dest, sched, pager) = (tid(1, 2), tid(1, 0), tid(1, 1));
    let me = ThreadId((BASE << 14) | 1);
    assert_eq!(
        m.thread_control(tid(1, 0), dest, dest, sched, pager, !0, 100, 0),
        Ok(1)
    );
    assert_eq!(m.platform.schedules, [[dest.0, 0, 100], [dest.0, 0, 100]]);
    assert_eq!(
        &m.platform.thread_controls[1..],
        [
            [dest.0, dest.0, me.0, me.0],
            [dest.0, dest.0, sched.0, pager.0]
        ]
    );
}

#[test]
fn schedule_calls_carry_the_requested_processor() {
    // ThreadControl with cpu 1: Schedule(dest, cpu 1, prio), also on the
    // retry after the fallback.
    let mut m = monitor();
    m.platform.refuse_schedules = 1;
    let (dest, first) = (tid(1, 2), tid(1, 0));
    let me = ThreadId((BASE << 14) | 1);
    assert_eq!(
        m.thread_control(first, dest, first, first, me, !0, 102, 1),
        Ok(1)
    );
    assert_eq!(m.platform.schedules, [[dest.0, 1, 102], [dest.0, 1, 102]]);
    // Priority unchanged but another processor: still a Schedule.
    let mut m = monitor();
    assert_eq!(
        m.thread_control(first, dest, first, first, me, !0, !0, 3),
        Ok(1)
    );
    assert_eq!(m.platform.schedules, [[dest.0, 3, !0]]);
    // AssociateInterrupt with irq_cpu 1 and priority 255: the interrupt
    // thread is scheduled on processor 1.
    let irq6 = ThreadId((6 << 14) | 1);
    let mut m = monitor();
    assert_eq!(
        m.associate_interrupt(first, irq6, tid(1, 1), 0xff, 1),
        Ok(1)
    );
    assert_eq!(m.platform.schedules, [[irq6.0, 1, 0xff]]);
}

#[test]
fn a_ddos_vm_gets_host_device_frames_through_the_remap_window() {
    let mut m = monitor();
    let vga = Fpage::new(0xb_8000, 12, 7);
    let item = m.request_device(tid(2, 0), vga, 7).unwrap();
    assert_eq!(item, MapItem::map(0xb_8000, Fpage::new(0xbc00_0000, 12, 7)));
    assert_eq!(
        m.request_device(tid(2, 0), vga, 7).unwrap(),
        item,
        "same frame, same slot"
    );
    assert_eq!(m.platform.device_maps, [(0xb_8000, 0xbc00_0000)]);
    let high = Fpage::new(0x1000_0000, 12, 7);
    assert_eq!(
        m.request_device(tid(2, 0), high, 7).unwrap().fpage.base(),
        0xbc00_1000
    );
    // Guest RAM is a "fake device": the VM's own frame.
    let ram = m
        .request_device(tid(2, 0), Fpage::new(0x20_0000, 12, 7), 7)
        .unwrap();
    assert_eq!(ram.fpage.base(), 0x220_0000);
    // Neither device nor inside the VM.
    assert_eq!(
        x(m.request_device(tid(2, 0), Fpage::new(0x0800_0000, 12, 7), 7)),
        RmX::InvalidMemRegion
    );
    // Unmapping: the last reference flushes the window page.
    assert_eq!(m.unmap_device(tid(2, 0), vga, 7), Ok(Fpage::R));
    assert_eq!(m.unmap_device(tid(2, 0), vga, 7), Ok(Fpage::R));
    assert_eq!(
        m.platform.unmaps,
        [(0xbc00_00c7, false), (0xbc00_00c7, true)]
    );
    assert_eq!(x(m.unmap_device(tid(2, 0), vga, 7)), RmX::DeviceNotMapped);
}

#[test]
fn a_ddos_vm_whose_frame_is_refused_gets_its_own_memory_not_a_refusal() {
    let mut m = monitor();
    m.platform.refuse_device = true;
    // Below 1 MB: its own RAM page at that address (the original's MEMFAKE).
    let bios = m
        .request_device(tid(2, 0), Fpage::new(0xf_0000, 12, 7), 7)
        .unwrap();
    assert_eq!(bios, MapItem::map(0xf_0000, Fpage::new(0x20f_0000, 12, 7)));
    // Above the VM: its stand-in page.
    let apic = m
        .request_device(tid(2, 0), Fpage::new(0x1000_1000, 12, 7), 7)
        .unwrap();
    assert_eq!(apic.fpage.base(), 0x4000_1000);
    // A full window is answered the same way.
    let mut m = monitor();
    m.remap = window(1);
    m.request_device(tid(2, 0), Fpage::new(0xb_8000, 12, 7), 7)
        .unwrap();
    let second = m
        .request_device(tid(2, 0), Fpage::new(0xb_9000, 12, 7), 7)
        .unwrap();
    assert_eq!(second.fpage.base(), 0x20b_9000);
}

#[test]
fn a_vm_without_ddos_never_reaches_hardware_yet_is_always_answered() {
    let mut m = monitor();
    // VGA text memory: the VM's own RAM page at 0xb8000, a private frame
    // buffer (before issue 10 this was no_permission, and the wedge
    // re-faulted forever).
    let vga = Fpage::new(0xb_8000, 12, 7);
    assert_eq!(
        m.request_device(tid(1, 0), vga, 7).unwrap(),
        MapItem::map(0xb_8000, Fpage::new(0x10b_8000, 12, 7))
    );
    // The BIOS area: its own RAM as well.
    assert_eq!(
        m.request_device(tid(1, 0), Fpage::new(0xf_e000, 12, 7), 7)
            .unwrap()
            .fpage
            .base(),
        0x10f_e000
    );
    // Above max_phys (the terminator entry): one stand-in page for all.
    let a = m
        .request_device(tid(1, 0), Fpage::new(0xfec0_0000, 12, 7), 7)
        .unwrap();
    let b = m
        .request_device(tid(1, 0), Fpage::new(0xfee0_0000, 12, 7), 7)
        .unwrap();
    assert_eq!(a.fpage.base(), 0x4000_1000);
    assert_eq!(b.fpage.base(), 0x4000_1000);
    assert_eq!(m.platform.scratch_pages, 1, "one stand-in page per VM");
    assert!(
        m.platform.device_maps.is_empty(),
        "no host frame was ever mapped for the VM"
    );
    // Another VM without ddos gets its own stand-in page.
    let mut list = m.vms[2].clone().unwrap();
    list.device_access = false;
    m.vms[2] = Some(list);
    let c = m
        .request_device(tid(2, 0), Fpage::new(0xfec0_0000, 12, 7), 7)
        .unwrap();
    assert_eq!(c.fpage.base(), 0x4000_2000);
    // unmap_device takes back what stood in, from the VM's spaces only.
    assert_eq!(m.unmap_device(tid(1, 0), vga, 7), Ok(Fpage::R));
    assert_eq!(
        m.unmap_device(tid(1, 0), Fpage::new(0xfec0_0000, 12, 7), 7),
        Ok(Fpage::R)
    );
    assert_eq!(
        m.platform.unmaps,
        [(0x10b_8000 | 0xc7, false), (0x4000_1000 | 0xc7, false)]
    );
    assert_eq!(m.stats.refused, 0);
}

mod window_placement {
    use super::super::devices::{place_remap_window, WindowPlacement};
    use l4_sys::kip::{MemoryDesc, MemoryType};

    fn d(kind: MemoryType, is_virtual: bool, low: u64, high: u64) -> MemoryDesc {
        MemoryDesc {
            kind,
            is_virtual,
            low,
            high,
        }
    }

    const UTCB: (u64, u64) = (0xbf00_0000, 1 << 17);
    const KIP: (u64, u64) = (0xbff0_0000, 4096);

    /// The memory map of a PC with `ram` bytes, as kickstart and
    /// Pistachio describe it under QEMU (the bogus "shared everything"
    /// entry first, VGA and ROM as Shared, kernel memory Reserved).
    fn pc(ram: u64) -> std::vec::Vec<MemoryDesc> {
        std::vec![
            d(MemoryType::Shared, false, 0, 0xffff_ffff),
            d(MemoryType::Conventional, false, 0, 0x9_fbff),
            d(MemoryType::Arch(2), false, 0x9_fc00, 0x9_ffff),
            d(MemoryType::Conventional, false, 0x10_0000, ram - 0x2_0001),
            d(MemoryType::Arch(2), false, 0xfffc_0000, 0xffff_ffff),
            d(
                MemoryType::Reserved,
                false,
                ram - 0x200_0000,
                ram - 0x100_0001
            ),
            d(MemoryType::Shared, false, 0xa_0000, 0xb_ffff),
            d(MemoryType::Conventional, true, 0, 0xbfff_ffff),
        ]
    }

    fn no_ram(_: u64, _: u64) -> bool {
        false
    }

    #[test]
    fn a_hole_below_the_user_space_end_that_misses_utcb_and_kip() {
        // 512 MB and 256 MB: the window ending at 3 GB holds the monitor's
        // UTCB and KIP areas, so the next one down is chosen.
        for ram in [256u64 << 20, 512 << 20] {
            assert_eq!(
                place_remap_window(&pc(ram), &[UTCB, KIP], &mut no_ram),
                Some(WindowPlacement {
                    base: 0xbc00_0000,
                    from_ram: false
                }),
                "{ram:#x}"
            );
        }
        // Without anything to avoid it is the original's choice (§9.3).
        assert_eq!(
            place_remap_window(&pc(512 << 20), &[], &mut no_ram).map(|w| w.base),
            Some(0xbe00_0000)
        );
    }

    #[test]
    fn ram_up_to_3gb_pushes_the_window_into_the_first_hole_or_into_free_ram() {
        // 3 GB of RAM reaches the user-space end: no hole below it.
        let mut map = pc(0xc000_0000);
        let mut asked = std::vec::Vec::new();
        let mut take = |base: u64, size: u64| {
            asked.push((base, size));
            base == 0xb800_0000
        };
        let w = place_remap_window(&map, &[UTCB, KIP], &mut take).unwrap();
        assert_eq!(
            w,
            WindowPlacement {
                base: 0xb800_0000,
                from_ram: true
            }
        );
        // It asked from the top down, never for the window with the UTCB area.
        assert_eq!(asked[0], (0xbc00_0000, 32 << 20));
        assert!(asked.iter().all(|&(b, _)| b != 0xbe00_0000));
        // A reserved (non-RAM) gap is a hole: chosen without taking RAM.
        map.push(d(MemoryType::Reserved, false, 0x9000_0000, 0x91ff_ffff));
        map[3] = d(MemoryType::Conventional, false, 0x10_0000, 0x8fff_ffff);
        map.push(d(MemoryType::Conventional, false, 0x9200_0000, 0xbfff_ffff));
        assert_eq!(
            place_remap_window(&map, &[UTCB, KIP], &mut no_ram),
            Some(WindowPlacement {
                base: 0x9000_0000,
                from_ram: false
            })
        );
        // Nowhere at all: None (the monitor then never maps host frames).
        let full = std::vec![
            d(MemoryType::Conventional, false, 0, 0xffff_ffff),
            d(MemoryType::Conventional, true, 0, 0xbfff_ffff),
        ];
        assert_eq!(place_remap_window(&full, &[UTCB, KIP], &mut no_ram), None);
    }

    #[test]
    fn the_user_space_end_comes_from_the_kip() {
        // A kernel whose user space ends at 2 GB: candidates start below it.
        let mut map = pc(512 << 20);
        map[7] = d(MemoryType::Conventional, true, 0, 0x7fff_ffff);
        assert_eq!(
            place_remap_window(&map, &[], &mut no_ram).map(|w| w.base),
            Some(0x7e00_0000)
        );
        // No virtual descriptor: 0xBFFFFFFF by default.
        map.remove(7);
        assert_eq!(
            place_remap_window(&map, &[UTCB, KIP], &mut no_ram).map(|w| w.base),
            Some(0xbc00_0000)
        );
    }
}

#[test]
fn client_pages_only_for_ddos_and_inside_the_client() {
    let mut m = monitor();
    let fp = Fpage::new(0x5000, 12, 7);
    assert_eq!(
        x(m.request_client_pages(tid(1, 0), tid(2, 0), fp)),
        RmX::NoPermission
    );
    let item = m.request_client_pages(tid(2, 0), tid(1, 4), fp).unwrap();
    assert_eq!(item, MapItem::map(0x5000, Fpage::new(0x100_5000, 12, 7)));
    assert_eq!(
        x(m.request_client_pages(tid(2, 0), ThreadId((3 << 14) | 1), fp)),
        RmX::UnknownClient
    );
    assert_eq!(
        x(m.request_client_pages(tid(2, 0), tid(1, 0), Fpage::new(0xfff_f000, 13, 7))),
        RmX::InvalidMemRegion
    );
}

#[test]
fn locator_and_vm_control_respect_ownership() {
    let mut m = monitor();
    use crate::ipc::ilocator::Exception as L;
    use crate::ipc::ivmcontrol::Exception as V;
    assert_eq!(m.query_interface(tid(1, 0), 8), Ok(m.monitor_tid()));
    assert_eq!(
        m.query_interface(tid(1, 0), 3),
        Err(ServerError::Exception(L::UnknownInterface))
    );
    assert_eq!(
        m.register_interface(tid(1, 0), 3, tid(2, 0)),
        Err(ServerError::Exception(L::NoPermission))
    );
    assert_eq!(
        m.register_interface(tid(1, 0), 99, tid(1, 0)),
        Err(ServerError::Exception(L::InvalidGuidFormat))
    );
    assert_eq!(
        m.register_interface(tid(1, 0), 8, tid(1, 0)),
        Err(ServerError::Exception(L::InvalidGuidFormat))
    );
    assert_eq!(m.register_interface(tid(2, 0), 3, tid(2, 5)), Ok(()));
    assert_eq!(m.query_interface(tid(1, 0), 3), Ok(tid(2, 5)));
    assert_eq!(
        m.get_space_block(tid(1, 0), 2, 0, 4096),
        Err(ServerError::Exception(V::NoPermission))
    );
    assert_eq!(
        m.get_space_block(tid(1, 0), 1, 0x1000, 4096),
        Ok(StringItem {
            addr: 0x100_1000,
            len: 4096
        })
    );
    assert_eq!(
        m.get_space_block(tid(2, 0), 1, 0, 64 << 20),
        Ok(StringItem {
            addr: 0x100_0000,
            len: MAX_BLOCK
        })
    );
    assert_eq!(
        ivmcontrol::Server::get_space_phys_range(&mut m, tid(1, 0), 2),
        Err(ServerError::Exception(V::NoPermission))
    );
    ivmcontrol::Server::set_memballoon(&mut m, tid(1, 0), 0x1000, 2);
    ivmcontrol::Server::set_memballoon(&mut m, tid(1, 0), 0x1000, 1);
    assert_eq!(m.platform.words, [(0x180_0000 + 96, 0x1000)]);
}

#[test]
fn space_ranges_include_the_monitors_own_block() {
    let mut m = monitor();
    m.monitor_block = (0, 8 << 20);
    // Slot 0 is the monitor's block, as upstream (it answered (0, 0) before
    // issue 10.7); unused slots (0, 0); beyond the slots unknown_client.
    assert_eq!(
        iresourcemon::Server::get_space_phys_range(&mut m, tid(1, 0), 0),
        Ok((0, 8 << 20))
    );
    assert_eq!(
        iresourcemon::Server::get_space_phys_range(&mut m, tid(1, 0), 2),
        Ok((0x200_0000, 16 << 20))
    );
    assert_eq!(
        iresourcemon::Server::get_space_phys_range(&mut m, tid(1, 0), 5),
        Ok((0, 0))
    );
    assert_eq!(
        iresourcemon::Server::get_space_phys_range(&mut m, tid(1, 0), 16),
        Ok((0, 0)),
        "slot 16 exists (62 VM slots with 18 thread-number bits)"
    );
    assert_eq!(
        x(iresourcemon::Server::get_space_phys_range(
            &mut m,
            tid(1, 0),
            63
        )),
        RmX::UnknownClient
    );
    // IVMControl's version keeps its access rule: a ddos VM may ask.
    assert_eq!(
        ivmcontrol::Server::get_space_phys_range(&mut m, tid(2, 0), 0),
        Ok((0, 8 << 20))
    );
}

#[test]
fn console_output_goes_out_at_once_as_it_came() {
    let mut m = monitor();
    let mut s = iconsole::Stream::zeroed();
    // Before issue 10.6 nothing was printed until a newline, `\r` was
    // dropped and the prompt below never appeared.
    s.raw[..9].copy_from_slice(b"ab\r\ncd\xff$ ");
    s.len = 9;
    m.put_chars(tid(1, 0), 0, &s).unwrap();
    assert_eq!(m.platform.lines, [(1, b"ab\r\ncd\xff$ ".to_vec())]);
    // The unfinished line is kept (for a focus switch).
    assert_eq!(m.vms[1].as_ref().unwrap().line.as_slice(), b"cd\xff$ ");
    s.raw[..3].copy_from_slice(b"ls\n");
    s.len = 3;
    m.put_chars(tid(1, 0), 0, &s).unwrap();
    assert!(m.vms[1].as_ref().unwrap().line.is_empty());
    // A length beyond the 128-byte stream is cut to the stream.
    s.len = 5000;
    m.put_chars(tid(2, 0), 0, &s).unwrap();
    assert_eq!(m.platform.lines[2].1.len(), 128);
    assert_eq!(
        m.put_chars(ThreadId((7 << 14) | 1), 0, &s),
        Err(ServerError::Exception(iconsole::Exception::UnknownClient))
    );
}

#[test]
fn refusal_logging_is_bounded_per_vm() {
    let mut m = monitor();
    let other = tid(2, 0);
    for _ in 0..100 {
        let _ = m.space_control(tid(1, 0), other, 0, Fpage::NIL, Fpage::NIL, ThreadId(0));
    }
    assert_eq!(m.stats.refused, 100);
    let vm1 = m
        .platform
        .log
        .iter()
        .filter(|l| l.starts_with("vm 1: "))
        .count();
    assert_eq!(
        vm1,
        LOGGED_REFUSALS as usize + 1,
        "32 refusals and one note"
    );
    let _ = m.space_control(tid(2, 0), tid(1, 0), 0, Fpage::NIL, Fpage::NIL, ThreadId(0));
    assert!(
        m.platform
            .log
            .last()
            .unwrap()
            .starts_with("vm 2: refused: "),
        "other VMs still log"
    );
}

#[test]
fn only_the_awaited_vm_advances_the_start_sequence() {
    let mut m = monitor();
    m.waiting_for = Some(2);
    m.client_init_complete(tid(1, 0));
    assert_eq!(m.init_complete, None);
    m.client_init_complete(tid(2, 7));
    assert_eq!(m.init_complete, Some(2));
    m.init_complete = None;
    m.client_init_complete(tid(2, 7));
    assert_eq!(m.init_complete, None, "a repeated message is ignored");
}

#[test]
fn refusals_travel_as_exception_replies_on_the_wire() {
    let mut m = monitor();
    // ThreadControl (label 0x0047, variant A: u = 7) on VM 2's thread.
    let other = tid(2, 0).0;
    let mut msg = idl::Message::from_words(&[
        0x0047_0007,
        other,
        other,
        other,
        m.monitor_tid().0,
        !0,
        !0,
        0,
    ]);
    let reply = dispatch(&mut m, tid(1, 0), &mut msg);
    assert!(reply.must_send());
    assert_eq!(msg.words(), &[(2 + (6 << 8)) << 16], "ErrNoPrivilege");
    // The migration family answers not_supported (14).
    let mut msg = idl::Message::from_words(&[0x0052_0000]);
    dispatch(&mut m, tid(1, 0), &mut msg);
    assert_eq!(msg.words(), &[(2 + (14 << 8)) << 16]);
    // IVMControl labels reach the IVMControl server.
    let mut msg = idl::Message::from_words(&[0x0203_0001, 1]);
    dispatch(&mut m, tid(1, 0), &mut msg);
    assert_eq!(msg.words()[..3], [2, 0x100_0000, 16 << 20]);
    // Unknown labels are rejected without a reply.
    let mut msg = idl::Message::from_words(&[0x0abc_0000]);
    assert!(!dispatch(&mut m, tid(1, 0), &mut msg).must_send());
}

#[test]
fn console_input_reaches_the_focused_vm_through_console_rx_and_get_chars() {
    use crate::vm::shared::offset::CONSOLE_RX;
    let mut m = monitor();
    let rx1 = 0x180_0000 + CONSOLE_RX as u64;
    let rx2 = 0x280_0000 + CONSOLE_RX as u64;
    m.vms[2]
        .as_mut()
        .unwrap()
        .line
        .extend_from_slice(b"$ ")
        .unwrap();
    for &b in b"ab\x1bnxy" {
        m.console_byte(b);
    }
    assert_eq!(m.platform.notices, ["---- VM Focus 2 ---"]);
    assert_eq!(m.platform.lines, [(2, b"$ ".to_vec())]);
    // One byte per pump while len == 0, written before len.
    m.console_pump();
    assert_eq!(m.platform.bytes, [(rx1 + 1, b'a'), (rx2 + 1, b'x')]);
    assert_eq!(m.platform.memory[&(rx1 + 128)], 1);
    m.console_pump();
    assert_eq!(m.platform.bytes.len(), 2, "nothing while len != 0");
    m.platform.memory.insert(rx1 + 128, 0);
    m.console_pump();
    assert_eq!(m.platform.bytes[2], (rx1 + 1, b'b'));
    // get_chars answers from the same queue, oldest first.
    let s = m.get_chars(tid(2, 0), 0).unwrap();
    assert_eq!(&s.raw[..s.len as usize], b"y");
    let s = m.get_chars(tid(2, 0), 0).unwrap();
    assert_eq!(s.len, 0);
    assert!(m.get_chars(ThreadId(0x1234_0002), 0).is_err());
}

#[test]
fn console_keys_focus_silence_and_the_debugger() {
    let mut m = monitor();
    for &b in b"\x1b2\x1b7\x1bs\x1bs\x1b\x1b" {
        m.console_byte(b);
    }
    assert_eq!(
        m.platform.notices,
        [
            "---- VM Focus 2 ---",
            "---- No VM 7, focus stays on VM 2 ---",
            "---- Silent Console ---",
            "---- Verbose Console ---",
        ]
    );
    assert!(!m.platform.silent);
    assert_eq!(m.platform.debugger, 1);
    assert_eq!(m.input.focus(), 2);
    // A burst: the queue keeps the first bytes, drops and counts the rest.
    for i in 0..200u32 {
        m.console_byte(b'a' + (i % 26) as u8);
    }
    m.console_report_drops();
    let n = 200 - crate::console_input::QUEUE_BYTES;
    assert_eq!(
        m.platform.log.last().unwrap(),
        &std::format!("console: vm 2: {n} bytes of input dropped (buffer full; {n} in all)")
    );
}

#[test]
fn malformed_requests_are_logged_within_the_budget_then_counted() {
    // Found by the fuzzing guest: every rejected request used to print a
    // line, so a guest sending garbage flooded the console and slowed the
    // monitor for every VM.
    let mut m = monitor();
    for i in 0..100u32 {
        let mut msg = idl::Message::from_words(&[(0x7b00 + i) << 16]);
        assert!(!dispatch(&mut m, tid(1, 0), &mut msg).must_send());
    }
    let logged = m
        .platform
        .log
        .iter()
        .filter(|l| l.contains("rejected"))
        .count();
    assert_eq!(logged, LOGGED_REFUSALS as usize);
    assert_eq!(m.stats.refused, 100);
    // The other VM's budget is its own.
    let mut msg = idl::Message::from_words(&[0x7bff_0000]);
    dispatch(&mut m, tid(2, 0), &mut msg);
    assert!(m
        .platform
        .log
        .last()
        .unwrap()
        .starts_with("vm 2: refused: request from"));
}

/// Regression (fuzzing guest, seed 0x1234): deleting an interrupt's
/// handler first gives the interrupt back to its interrupt thread, then
/// deletes; the VM still owns the interrupt, so its later deassociation
/// succeeds, and another VM still cannot take it.
#[test]
fn deleting_a_handler_releases_its_interrupts_first() {
    let mut m = monitor();
    let irq0 = ThreadId(1);
    let handler = tid(1, 1);
    assert_eq!(
        m.associate_interrupt(tid(1, 0), irq0, handler, 0xff, 0),
        Ok(1)
    );
    m.platform.thread_controls.clear();
    assert_eq!(
        m.thread_control(
            tid(1, 0),
            handler,
            ThreadId::NIL,
            ThreadId::NIL,
            ThreadId::NIL,
            !0,
            !0,
            0
        ),
        Ok(1)
    );
    assert_eq!(
        m.platform.thread_controls,
        [[1, 1, 0, 1], [handler.0, 0, 0, 0]],
        "release (pager = the interrupt thread itself) before the deletion"
    );
    assert_eq!(
        x(m.associate_interrupt(tid(2, 0), irq0, tid(2, 0), 0xff, 0)),
        RmX::ErrNoPrivilege
    );
    // Deleting another own thread touches no interrupt.
    m.platform.thread_controls.clear();
    let other = tid(1, 2);
    assert_eq!(
        m.thread_control(
            tid(1, 0),
            other,
            ThreadId::NIL,
            ThreadId::NIL,
            ThreadId::NIL,
            !0,
            !0,
            0
        ),
        Ok(1)
    );
    assert_eq!(m.platform.thread_controls, [[other.0, 0, 0, 0]]);
    assert_eq!(m.deassociate_interrupt(tid(1, 0), irq0), Ok(1));
}

/// Issue 13: VM memory is zeroed when first exposed. A page fault, a
/// request_pages of 64 KB, a device page of the VM's own RAM and
/// get_space_block each zero exactly the fresh frames they expose, once;
/// memory outside the fresh map (the stand-in page) is never zeroed here.
#[test]
fn replies_zero_the_fresh_frames_they_expose_once() {
    let mut m = monitor();
    let bits: &'static mut [u64] = std::boxed::Box::leak(std::vec![0u64; 128].into_boxed_slice());
    // VM 1's and VM 2's blocks: 0x100_0000 and 0x200_0000, 16 MB each.
    m.fresh = crate::fresh::FreshFrames::new(0x100_0000, bits);
    m.fresh.mark(0x100_0000, 32 << 20);
    let vm1 = tid(1, 0);
    let mut msg = idl::Message::from_words(&[0xffe6_0002, 0x3456, 0x1000]);
    dispatch(&mut m, vm1, &mut msg);
    assert_eq!(m.platform.zeroed, [0x100_3000]);
    // The same page again: nothing to zero.
    let mut msg = idl::Message::from_words(&[0xffe6_0002, 0x3000, 0x1000]);
    dispatch(&mut m, vm1, &mut msg);
    assert_eq!(m.platform.zeroed, [0x100_3000]);
    m.platform.zeroed.clear();
    let fp = Fpage::new(0x1_0000, 16, 7).0;
    let mut msg = idl::Message::from_words(&[0xffa0_0002, fp, 7]);
    dispatch(&mut m, vm1, &mut msg);
    let want: Vec<u64> = (0..16).map(|k| 0x101_0000 + k * 4096).collect();
    assert_eq!(m.platform.zeroed, want);
    m.platform.zeroed.clear();
    // VGA memory of a VM without ddos is its own RAM page: zeroed.
    let fp = Fpage::new(0xb_8000, 12, 7).0;
    let mut msg = idl::Message::from_words(&[0x0044_0002, fp, 7]);
    dispatch(&mut m, vm1, &mut msg);
    assert_eq!(m.platform.zeroed, [0x10b_8000]);
    m.platform.zeroed.clear();
    // Above the VM's memory: the stand-in page, not VM memory.
    let fp = Fpage::new(0xfe00_0000, 12, 7).0;
    let mut msg = idl::Message::from_words(&[0x0044_0002, fp, 7]);
    dispatch(&mut m, vm1, &mut msg);
    assert_eq!(m.platform.zeroed, Vec::<u64>::new());
    // A ddos VM (2) reading VM 1's memory through get_space_block.
    let mut msg = idl::Message::from_words(&[0x0204_0003, 1, 0x20_0000, 8192]);
    let reply = dispatch(&mut m, tid(2, 0), &mut msg);
    assert!(reply.must_send(), "{reply:?}");
    assert_eq!(m.platform.zeroed, [0x120_0000, 0x120_1000]);
    assert_eq!(m.fresh.count(), 8192 - 1 - 16 - 1 - 2);
}

/// A monitor whose VMs are installed as the runtime does (thread sets,
/// first threads), with supervision records.
fn supervised(restarts: u32) -> Monitor<Fake> {
    let mut m = monitor();
    m.thread_sets = std::vec![crate::supervise::ThreadSet::new(0); MAX_VM].leak();
    let policy = crate::supervise::Policy {
        restarts,
        backoff_ms: 100,
        watchdog_ms: Some(1000),
    };
    for slot in [1, 2] {
        let entry = m.vms[slot].take().unwrap();
        m.install_vm(slot, entry, tid(slot as u32, 0));
        m.supervisor.started(slot, slot - 1, 0, policy, 0);
    }
    m
}

/// The thread-control calls that delete a thread: (number, as a word).
fn deletions(m: &Monitor<Fake>) -> Vec<u32> {
    m.platform
        .thread_controls
        .iter()
        .filter(|c| c[1] == 0 && c[3] == 0)
        .map(|c| c[0] >> 14)
        .collect()
}

/// As many idle console polls as the supervisor waits before a poke.
fn idle_polls(m: &mut Monitor<Fake>) {
    for _ in 0..crate::supervise::CONFIRM_POLLS {
        m.supervise(true);
    }
}

#[test]
fn a_genuine_fault_outside_kills_after_the_poke_a_sent_one_does_not() {
    let mut m = supervised(0);
    m.platform.pokes_arrive = true;
    let t = tid(1, 0);
    // A fault outside: no reply, one suspicion, nothing else yet.
    assert_eq!(
        m.pagefault(t, 0x200_0000, 0x1234, 4),
        Err(ServerError::NoReply)
    );
    assert!(m.supervise(false).is_empty());
    assert!(m.platform.pokes.is_empty());
    idle_polls(&mut m);
    assert_eq!(m.platform.pokes, [t.0]);
    // The poke made the thread retry: the same fault again is death.
    assert_eq!(
        m.pagefault(t, 0x200_0000, 0x1234, 4),
        Err(ServerError::NoReply)
    );
    assert!(m.vms[1].is_none(), "torn down");
    assert!(m
        .platform
        .log
        .iter()
        .any(|l| l == "vm 1: dead: page fault at 0x02000000 (ip 0x00001234) outside the VM by thread 0x40c8002"));
    assert_eq!(m.torn_down.len(), 1);
    // VM 2 sent a fault message and went on with other requests.
    let u = tid(2, 0);
    assert_eq!(
        m.pagefault(u, 0x300_0000, 0x99, 4),
        Err(ServerError::NoReply)
    );
    let mut msg = idl::Message::from_words(&[0x7b00_0000]);
    dispatch(&mut m, u, &mut msg);
    idle_polls(&mut m);
    assert_eq!(m.platform.pokes.len(), 1, "no suspicion left to poke");
    // Or it is waiting elsewhere: the poke fails and nothing happens.
    assert_eq!(
        m.pagefault(u, 0x300_0000, 0x99, 4),
        Err(ServerError::NoReply)
    );
    m.platform.pokes_arrive = false;
    idle_polls(&mut m);
    assert_eq!(m.platform.pokes.len(), 2);
    assert_eq!(
        m.pagefault(u, 0x300_0000, 0x99, 4),
        Err(ServerError::NoReply)
    );
    assert!(m.vms[2].is_some(), "a new suspicion, not a death");
}

#[test]
fn teardown_releases_threads_irqs_remap_slots_and_memory() {
    let mut m = supervised(0);
    let (me, own) = (m.monitor_tid(), tid(2, 0));
    // VM 2 creates two threads and deletes one; claims IRQ 10; maps VGA
    // (shared with VM 1? no: VM 1 is not ddos) and a frame above RAM.
    for k in [1, 2] {
        m.thread_control(own, tid(2, k), own, own, me, 0x1000 * k, !0, 0)
            .unwrap();
    }
    m.thread_control(
        own,
        tid(2, 2),
        ThreadId(0),
        ThreadId(0),
        ThreadId(0),
        !0,
        !0,
        0,
    )
    .unwrap();
    let irq10 = ThreadId((10 << 14) | 1);
    m.associate_interrupt(own, irq10, own, 0xff, 0).unwrap();
    m.request_device(own, Fpage::new(0xb_8000, 12, 7), 7)
        .unwrap();
    m.request_device(own, Fpage::new(0x1000_0000, 12, 7), 7)
        .unwrap();
    m.platform.thread_controls.clear();
    m.platform.unmaps.clear();
    m.waiting_for = Some(2);
    let t = m.tear_down(2).unwrap();
    assert_eq!(
        t,
        teardown::Teardown {
            slot: 2,
            block_base: 0x200_0000,
            block_size: 16 << 20,
            threads: 2,
            irqs: 1,
            remap_slots: 2,
            was_awaited: true,
        }
    );
    assert_eq!(m.waiting_for, None);
    // The interrupt went back to itself, then both threads were deleted
    // (the first one last).
    assert_eq!(
        m.platform.thread_controls[0],
        [irq10.0, irq10.0, 0, irq10.0]
    );
    let base = BASE + 2 * 4096;
    assert_eq!(deletions(&m), [base + 1, base]);
    // Both window pages flushed; the 16 MB block unmapped in 4 MB fpages.
    assert_eq!(
        m.platform.unmaps,
        [
            (0xbc00_00c7, true),
            (0xbc00_10c7, true),
            (0x200_0000 | (22 << 4) | 7, false),
            (0x240_0000 | (22 << 4) | 7, false),
            (0x280_0000 | (22 << 4) | 7, false),
            (0x2c0_0000 | (22 << 4) | 7, false),
        ]
    );
    // Nothing of it is reachable: its old ids are from no VM, its IRQ is
    // free for another VM, its window slots for other frames.
    assert_eq!(m.caller_vm(own), None);
    assert_eq!(
        x(m.thread_control(own, own, own, own, me, !0, !0, 0)),
        RmX::ErrNoPrivilege
    );
    assert!(m.platform.log.last().unwrap().contains("belongs to no VM"));
    m.associate_interrupt(tid(1, 0), irq10, tid(1, 0), 0xff, 0)
        .unwrap();
    assert!(m.remap.slots.iter().all(|s| s.refs == 0));
    assert_eq!(m.tear_down(2), None, "only once");
}

#[test]
fn a_remap_slot_shared_with_a_live_vm_stays_mapped_for_it() {
    let mut m = supervised(0);
    m.vms[1].as_mut().unwrap().device_access = true;
    let vga = Fpage::new(0xb_8000, 12, 7);
    m.request_device(tid(1, 0), vga, 7).unwrap();
    m.request_device(tid(2, 0), vga, 7).unwrap();
    m.request_device(tid(2, 0), vga, 7).unwrap();
    m.platform.unmaps.clear();
    assert_eq!(m.tear_down(2).unwrap().remap_slots, 1);
    assert!(m.platform.unmaps.iter().all(|&(_, flush)| !flush));
    // VM 1's one unmap is the last reference: now it is flushed.
    assert_eq!(m.unmap_device(tid(1, 0), vga, 7), Ok(Fpage::R));
    assert_eq!(m.platform.unmaps.last(), Some(&(0xbc00_00c7, true)));
}

#[test]
fn exception_messages_and_the_watchdog_kill_restarts_follow_the_policy() {
    let mut m = supervised(1);
    // An ia32 exception message (label 0xffb0, 12 words) from VM 1.
    let mut words = [0u32; 13];
    words[0] = 0xffb0_000c;
    words[1] = 0x0040_1234;
    words[3] = 13;
    let mut msg = idl::Message::from_words(&words);
    assert!(!dispatch(&mut m, tid(1, 0), &mut msg).must_send());
    assert!(m.vms[1].is_none());
    assert!(m.platform.log.contains(
        &"vm 1: dead: exception 13 (error 0x0) at ip 0x00401234 in thread 0x40c8002".into()
    ));
    assert!(m
        .platform
        .log
        .contains(&"vm 1: restart 1 of 1 in 100 ms".into()));
    assert!(m.supervisor.reserved(1));
    // Another label or word count is an ordinary (rejected) request.
    let mut msg = idl::Message::from_words(&[0xffb0_0003, 1, 2, 3]);
    dispatch(&mut m, tid(2, 0), &mut msg);
    assert!(m.vms[2].is_some());
    // VM 2 never reports init complete: the watchdog (1000 ms) fires.
    m.platform.now = 99_999;
    assert!(m.supervise(true).is_empty(), "VM 1's back-off is 100 ms");
    m.platform.now = 100_000;
    assert_eq!(m.supervise(false).as_slice(), [1]);
    m.platform.now = 1_000_000;
    m.supervise(false);
    assert!(m.vms[2].is_none());
    assert!(m
        .platform
        .log
        .iter()
        .any(|l| l == "vm 2: dead: watchdog: no init complete within 1000 ms of the start"));
    // The runtime restarts VM 1 with a new thread version; it dies again
    // and stays stopped after its one restart.
    m.supervisor.restarting(1);
    assert_eq!(m.supervisor.next_version(1), 3);
    let entry = VmEntry::new(
        Layout::new(0x100_0000, 16 << 20, 0, 0),
        0x180_0000,
        false,
        &[],
    );
    let new_first = ThreadId(((BASE + 4096) << 14) | 3);
    m.install_vm(1, entry, new_first);
    m.supervisor
        .started(1, 0, 0, m.supervisor.watch(1).unwrap().policy, 1_000_000);
    assert_eq!(m.caller_vm(new_first), Some(1));
    let mut msg = idl::Message::from_words(&words);
    dispatch(&mut m, new_first, &mut msg);
    assert!(m
        .platform
        .log
        .contains(&"vm 1: stopped: died again after 1 of 1 restarts; no more restarts".into()));
    assert!(!m.supervisor.reserved(1));
    assert_eq!((m.supervisor.deaths, m.supervisor.restarts), (3, 1));
    let drained: Vec<usize> = m.torn_down.iter().map(|t| t.slot).collect();
    assert_eq!(drained, [1, 2, 1]);
}
