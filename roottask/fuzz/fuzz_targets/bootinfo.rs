//! Fuzz target: the boot-info and multiboot-info readers (`l4_sys`) must
//! never panic on any bytes, in either word size.
#![no_main]

use l4_sys::bootinfo::BootInfo;
use l4_sys::multiboot::{self, MultibootInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for word in [4, 8] {
        if let Ok(bi) = BootInfo::parse(data, word) {
            for r in bi.records().take(256) {
                if let Ok(r) = r {
                    let _ = r.cmdline();
                }
            }
        }
    }
    let _ = MultibootInfo::parse(data);
    for m in multiboot::modules(data).take(64) {
        let _ = m.map(|m| m.size());
    }
    let _ = multiboot::c_string(data);
});
