//! Fuzz target: the IPC dispatcher (`roottask::server::dispatch`) must never
//! panic on any message from any caller, and must never hand a VM memory
//! outside its own block or the monitor's window and stand-in pages.
#![no_main]

use idl::{Fpage, ThreadId, Word};
use l4_sys::KernelError;
use libfuzzer_sys::fuzz_target;
use roottask::server::{self, Device, Monitor, Platform, RemapSlot, RemapWindow, VmEntry};
use roottask::vm::layout::Layout;
use roottask::vm::threads::ThreadSpaces;

/// A machine that says yes to everything and remembers nothing.
struct Machine;

impl Platform for Machine {
    fn log(&mut self, _: core::fmt::Arguments<'_>) {}
    fn guest_output(&mut self, _: usize, _: &[u8]) {}
    fn store_word(&mut self, _: u64, _: u32) {}
    fn load_word(&mut self, _: u64) -> u32 {
        0
    }
    fn store_byte(&mut self, _: u64, _: u8) {}
    fn console_notice(&mut self, _: core::fmt::Arguments<'_>) {}
    fn set_silent(&mut self, _: bool) {}
    fn enter_debugger(&mut self) {}
    fn thread_control(
        &mut self,
        _: ThreadId,
        _: ThreadId,
        _: ThreadId,
        _: ThreadId,
        _: Word,
    ) -> Result<(), KernelError> {
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
    fn schedule(&mut self, _: ThreadId, _: Word, _: Word) -> Result<(), KernelError> {
        Err(KernelError::NoPrivilege)
    }
    fn unmap(&mut self, fpage: Fpage, _: bool) -> Fpage {
        fpage
    }
    fn map_device_frame(&mut self, _: Word, _: Word) -> bool {
        true
    }
    fn scratch_page(&mut self) -> Option<u64> {
        Some(0x4000_0000)
    }
    fn zero_frame(&mut self, _: u64) {}
    fn now_us(&mut self) -> u64 {
        0
    }
    fn poke(&mut self, _: ThreadId) -> bool {
        false
    }
}

const UB: u32 = 48;

/// One remap table for every run (leaked once, cleared per run), so the
/// leak checker sees no leak per input.
static TABLE: std::sync::Mutex<Option<&'static mut [RemapSlot]>> = std::sync::Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let mut guard = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let slots = guard
        .take()
        .unwrap_or_else(|| Box::leak(vec![RemapSlot::default(); 64].into_boxed_slice()));
    slots.fill(RemapSlot::default());
    let mut m = Monitor::new(
        Machine,
        ThreadSpaces::from_user_base(UB),
        16,
        RemapWindow {
            base: 0xbc00_0000,
            slots,
        },
    );
    let devices = [
        Device {
            low: 0xa_0000,
            high: 0xb_ffff,
            kind: 4,
        },
        Device {
            low: 0x0fff_ffff,
            high: 0xffff_ffff,
            kind: 0,
        },
    ];
    m.vms[1] = Some(VmEntry::new(
        Layout::new(0x100_0000, 16 << 20, 0, 8 << 20),
        0x180_0000,
        false,
        &devices,
    ));
    m.vms[2] = Some(VmEntry::new(
        Layout::new(0x200_0000, 16 << 20, 0, 8 << 20),
        0x280_0000,
        true,
        &devices,
    ));
    // Messages of 8-byte records: caller selector, then up to 63 words.
    let words: Vec<Word> = data
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    for msg_words in words.chunks(16) {
        let caller = match msg_words[0] % 4 {
            // VM 1, VM 2, the monitor itself, anybody.
            0 => ThreadId(((UB + 2 + 4096) << 14) | 2),
            1 => ThreadId(((UB + 2 + 2 * 4096) << 14) | 2),
            2 => ThreadId(((UB + 2) << 14) | 1),
            _ => ThreadId(msg_words[0]),
        };
        let mut msg = idl::Message::from_words(&msg_words[1..]);
        let slot = m.caller_vm(caller);
        let reply = server::dispatch(&mut m, caller, &mut msg);
        // A map item to a VM names its own block, the remap window or the
        // stand-in page, nothing else (the isolation rule).
        if let (Some(slot), idl::Reply::Normal) = (slot, &reply) {
            let tag = msg.tag();
            let u = tag.untyped() as usize;
            // Word A's bits 1-3: 0b100 map, 0b101 grant (a string item,
            // get_space_block's answer, has bit 3 clear).
            let item_type = (msg.mr[u + 1] >> 1) & 7;
            if tag.label() == 0 && tag.typed() == 2 && slot == 1 && matches!(item_type, 4 | 5) {
                let fp = Fpage(msg.mr[u + 2]);
                if !fp.is_nil() {
                    let base = u64::from(fp.base());
                    let own = (0x100_0000..0x200_0000).contains(&base);
                    let window = (0xbc00_0000..0xbe00_0000).contains(&base);
                    let stand_in = base == 0x4000_0000;
                    assert!(own || window || stand_in, "vm 1 got {fp:?}");
                }
            }
        }
    }
    *guard = Some(m.remap.slots);
});
