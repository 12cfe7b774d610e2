//! Fuzz target: the VM module's ELF loader decisions (`roottask::vm::elf`)
//! must never panic, and whatever they accept must stay inside the VM.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roottask::vm::elf;
use roottask::vm::layout::Layout;

fuzz_target!(|data: &[u8]| {
    // A 32 MB VM with the wedge window at 16 MB, as the scenarios use.
    let layout = Layout::new(0x100_0000, 32 << 20, 0, 16 << 20);
    if let Ok(load) = elf::load(data, layout) {
        let mut page = [0u8; 64];
        // Reading back what would be loaded never reads outside the file.
        load.read_loaded(data, 0, &mut page);
        let _ = (load.start_ip(), load.start_sp(), load.shared_gp_range());
    }
});
