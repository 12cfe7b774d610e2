//! The guest kernel at run time. `head.S` turns paging on and calls
//! [`wedge_guest_main`] at the link address; it reads the command line from
//! the Linux boot parameters, runs the chosen mode and prints the verdict.

#[macro_use]
mod cpu;
#[macro_use]
mod console;
mod head;
mod mem;
mod modes;

use core::panic::PanicInfo;
use core::ptr::addr_of_mut;

use wedge_guest::{boot_params as bp, parse_mode, ModeError, KBASE, MAPPED_BYTES};

/// The Rust entry, called by the head once paging is on, with the
/// guest-physical address of the boot parameters the wedge built.
#[unsafe(no_mangle)]
extern "C" fn wedge_guest_main(boot_params: u32) -> ! {
    drop_identity_mapping();
    let params = (KBASE + boot_params) as *const u8;
    // SAFETY: the wedge built the zero page at `boot_params`, inside the
    // mapped guest-physical range; the command line pointer in it names
    // a NUL-terminated string there as well, read up to CMD_LINE_MAX bytes.
    let cmdline = unsafe {
        let ptr = params.add(bp::CMD_LINE_PTR).cast::<u32>().read_unaligned();
        if ptr == 0 || ptr >= MAPPED_BYTES - bp::CMD_LINE_MAX as u32 {
            &[][..]
        } else {
            let s = (KBASE + ptr) as *const u8;
            let len = (0..bp::CMD_LINE_MAX)
                .find(|&i| s.add(i).read() == 0)
                .unwrap_or(bp::CMD_LINE_MAX);
            core::slice::from_raw_parts(s, len)
        }
    };
    let text = core::str::from_utf8(cmdline).unwrap_or("(not UTF-8)");
    let verdict = match parse_mode(cmdline) {
        Ok(mode) => {
            console::set_mode(mode);
            say!("boot parameters at {boot_params:#x}, command line \"{text}\"");
            modes::run(mode, params, cmdline)
        }
        Err(ModeError::Missing) => {
            say!("command line \"{text}\"");
            Err(modes::Fail::Static("no mode= word on the command line"))
        }
        Err(ModeError::Unknown(_)) => {
            say!("command line \"{text}\"");
            Err(modes::Fail::Static("unknown mode= value"))
        }
    };
    match verdict {
        Ok(()) => say!("PASS"),
        Err(why) => {
            say!("FAIL {why}");
            // The boot harness's failure sentinel: ends the run at once.
            say!("INDICATE_FAILURE\x15");
        }
    }
    cpu::halt_forever()
}

/// Clears the 1:1 half of the boot page directory and reloads CR3, as Linux
/// does once it runs at its virtual addresses.
fn drop_identity_mapping() {
    // SAFETY: wg_pgdir is the head's page directory, only touched here; the
    // code, stack and data run in the KBASE half, which stays mapped.
    unsafe {
        let pdir = &mut *addr_of_mut!(head::wg_pgdir);
        pdir[..(KBASE >> 22) as usize].fill(0);
        cpu::write_cr3(pdir.as_ptr() as u32 - KBASE);
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    say!("FAIL panic: {}", info.message());
    say!("INDICATE_FAILURE\x15");
    cpu::halt_forever()
}
