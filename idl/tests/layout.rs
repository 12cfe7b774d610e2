//! The shared configuration page generated from resourcemon.idl has the
//! layout of resourcemon.md §5 on ia32: every offset of the §5.2/§5.3 tables,
//! checked both against rustc's layout (`offset_of!`) and against the IDL
//! compiler's own computation (`OFFSETS`, used for the wire format).
//!
//! The host is x86_64, but every member is at most 4-byte aligned with
//! `Word = u32`, so the layout is the ia32 one; the generated code also
//! carries compile-time asserts, which `cargo build --target
//! i586-unknown-linux-gnu --features selftest` checks on the real target.

mod common;

use common::gen::{iconsole, ilogging, iresourcemon};
use core::mem::{offset_of, size_of};
use iresourcemon::{PreemptionInfo, Shared, SharedCpu, SharedDevice, SharedModule, SharedVcpu};

fn idl_offset(table: &[(&str, usize)], field: &str) -> usize {
    table
        .iter()
        .find(|(n, _)| *n == field)
        .unwrap_or_else(|| panic!("no field {field}"))
        .1
}

macro_rules! at {
    ($t:ty, $field:ident, $off:expr) => {{
        assert_eq!(
            offset_of!($t, $field),
            $off,
            "rustc: {}.{}",
            stringify!($t),
            stringify!($field)
        );
        assert_eq!(
            idl_offset(&<$t>::OFFSETS, stringify!($field).trim_start_matches("r#")),
            $off,
            "idl: {}.{}",
            stringify!($t),
            stringify!($field)
        );
    }};
}

#[test]
fn shared_t_total_size() {
    assert_eq!(size_of::<Shared>(), 1_064_368);
    assert_eq!(size_of::<Shared>(), 0x103db0);
    assert_eq!(Shared::SIZE, 1_064_368);
}

#[test]
fn shared_t_offsets_from_the_spec_table() {
    let words = [
        "version",
        "cpu_cnt",
        "prio",
        "thread_space_start",
        "thread_space_len",
        "utcb_fpage",
        "kip_fpage",
        "link_vaddr",
        "entry_ip",
        "entry_sp",
        "phys_offset",
        "phys_size",
        "phys_end",
        "ioremap_start",
        "ioremap_end",
        "ramdisk_start",
        "ramdisk_size",
        "wedge_virt_offset",
        "wedge_virt_size",
        "wedge_phys_offset",
        "wedge_phys_size",
        "resourcemon_tid",
        "locator_tid",
        "thread_server_tid",
        "mem_balloon",
        "max_logid_in_use",
    ];
    // 26 scalar words at 0, 4, ..., 100 (0x000 ... 0x064).
    for (i, name) in words.iter().enumerate() {
        assert_eq!(idl_offset(&Shared::OFFSETS, name), 4 * i, "{name}");
    }
    at!(Shared, version, 0x000);
    at!(Shared, cpu_cnt, 0x004);
    at!(Shared, prio, 0x008);
    at!(Shared, thread_space_start, 0x00c);
    at!(Shared, thread_space_len, 0x010);
    at!(Shared, utcb_fpage, 0x014);
    at!(Shared, kip_fpage, 0x018);
    at!(Shared, link_vaddr, 0x01c);
    at!(Shared, entry_ip, 0x020);
    at!(Shared, entry_sp, 0x024);
    at!(Shared, phys_offset, 0x028);
    at!(Shared, phys_size, 0x02c);
    at!(Shared, phys_end, 0x030);
    at!(Shared, ioremap_start, 0x034);
    at!(Shared, ioremap_end, 0x038);
    at!(Shared, ramdisk_start, 0x03c);
    at!(Shared, ramdisk_size, 0x040);
    at!(Shared, wedge_virt_offset, 0x044);
    at!(Shared, wedge_virt_size, 0x048);
    at!(Shared, wedge_phys_offset, 0x04c);
    at!(Shared, wedge_phys_size, 0x050);
    at!(Shared, resourcemon_tid, 0x054);
    at!(Shared, locator_tid, 0x058);
    at!(Shared, thread_server_tid, 0x05c);
    at!(Shared, mem_balloon, 0x060);
    at!(Shared, max_logid_in_use, 0x064);
    at!(Shared, cmdline, 104);
    at!(Shared, module_count, 616);
    at!(Shared, modules, 620);
    at!(Shared, devices, 2180);
    at!(Shared, vcpu_count, 2372);
    at!(Shared, pcpu_count, 2376);
    at!(Shared, vcpus_to_l4cpu, 2380);
    at!(Shared, cpu, 2444);
    at!(Shared, vcpu, 1_055_500);
    at!(Shared, virq_pending, 1_055_756);
    at!(Shared, console_rx, 1_055_788);
    at!(Shared, preemption_info, 1_055_920);
    // Hex column of the table.
    assert_eq!(offset_of!(Shared, cmdline), 0x068);
    assert_eq!(offset_of!(Shared, module_count), 0x268);
    assert_eq!(offset_of!(Shared, modules), 0x26c);
    assert_eq!(offset_of!(Shared, devices), 0x884);
    assert_eq!(offset_of!(Shared, vcpu_count), 0x944);
    assert_eq!(offset_of!(Shared, pcpu_count), 0x948);
    assert_eq!(offset_of!(Shared, vcpus_to_l4cpu), 0x94c);
    assert_eq!(offset_of!(Shared, cpu), 0x98c);
    assert_eq!(offset_of!(Shared, vcpu), 0x101b0c);
    assert_eq!(offset_of!(Shared, virq_pending), 0x101c0c);
    assert_eq!(offset_of!(Shared, console_rx), 0x101c2c);
    assert_eq!(offset_of!(Shared, preemption_info), 0x101cb0);
}

/// Runs `f` on a thread with a stack big enough for a by-value `Shared`
/// (1 MB; debug builds keep several temporaries).
fn with_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("test thread panicked");
}

#[test]
fn array_strides_and_counts() {
    with_big_stack(array_counts);
}

fn array_counts() {
    let s = Box::new(Shared::zeroed());
    assert_eq!(s.cmdline.len(), 512);
    assert_eq!(s.modules.len(), 3);
    assert_eq!(s.devices.len(), 16);
    assert_eq!(s.vcpus_to_l4cpu.len(), 16);
    assert_eq!(s.cpu.len(), 16);
    assert_eq!(s.vcpu.len(), 32);
    assert_eq!(s.virq_pending.len(), 8);
    assert_eq!(s.preemption_info.len(), 32);
    drop(s);
    // module i at 620 + 520 i, device i at 2180 + 12 i, cpu i at 2444 + 65816 i,
    // preemption element i at 1055920 + 264 i.
    assert_eq!(size_of::<SharedModule>(), 520);
    assert_eq!(size_of::<SharedDevice>(), 12);
    assert_eq!(size_of::<SharedCpu>(), 65_816);
    assert_eq!(size_of::<SharedVcpu>(), 8);
    assert_eq!(size_of::<PreemptionInfo>(), 264);
    assert_eq!(size_of::<iconsole::Stream>(), 132);
    assert_eq!(size_of::<ilogging::LogSpace>(), 65_800);
    assert_eq!(size_of::<ilogging::LogEventControl>(), 8);
    assert_eq!(size_of::<iresourcemon::StartupConfig>(), 12);
}

#[test]
fn nested_type_offsets() {
    at!(SharedModule, vm_offset, 0);
    at!(SharedModule, size, 4);
    at!(SharedModule, cmdline, 8);
    at!(SharedDevice, low, 0);
    at!(SharedDevice, high, 4);
    at!(SharedDevice, r#type, 8);
    at!(ilogging::LogEventControl, threshold, 0);
    at!(ilogging::LogEventControl, logfile_selector, 2);
    at!(ilogging::LogEventControl, initial_threshold, 4);
    at!(ilogging::LogEventControl, padding, 6);
    at!(ilogging::LogSpace, log_buffer, 0);
    at!(ilogging::LogSpace, load_parms, 65_536);
    at!(ilogging::LogSpace, resources, 65_544);
    at!(SharedCpu, time_balloon, 0);
    at!(SharedCpu, virq_tid, 4);
    at!(SharedCpu, dyninst_resourcemon_tid, 8);
    at!(SharedCpu, dyninst_thread_tid, 12);
    at!(SharedCpu, log_space, 16);
    at!(SharedVcpu, monitor_tid, 0);
    at!(SharedVcpu, pcpu, 4);
    at!(iconsole::Stream, raw, 0);
    at!(iconsole::Stream, len, 128);
    at!(PreemptionInfo, activatee, 0);
    at!(PreemptionInfo, tid, 4);
    at!(PreemptionInfo, msg, 8);
    at!(iresourcemon::StartupConfig, version, 0);
    at!(iresourcemon::StartupConfig, start_ip, 4);
    at!(iresourcemon::StartupConfig, start_sp, 8);
}

#[test]
fn constants() {
    assert_eq!(iresourcemon::VERSION, 1);
    assert_eq!(iresourcemon::MAX_CPUS, 16);
    assert_eq!(iresourcemon::MAX_VCPUS, 32);
    assert_eq!(iresourcemon::MAX_MODULES, 3);
    assert_eq!(iresourcemon::MAX_DEVICES, 16);
    assert_eq!(iresourcemon::MAX_RAMDISKS, 2);
    assert_eq!(iconsole::MAX_LEN, 128);
    assert_eq!(ilogging::MAX_LOGIDS, 32);
    assert_eq!(ilogging::LOG_BUFFER_SIZE, 65_536);
    assert_eq!(common::gen::UUID_IVMCONTROL, 8);
    assert_eq!(common::gen::UUID_MAX_IF, 13);
    assert_eq!(iresourcemon::IID, 1);
    assert_eq!(common::gen::ilocator::IID, 0);
    assert_eq!(iconsole::IID, 2);
    assert_eq!(common::gen::ivmcontrol::IID, 8);
    assert_eq!(ilogging::IID, 9);
}

/// `zeroed()` really is all zeroes (what an unwritten `.resourcemon` section
/// holds) and fields are plain data the root task can patch.
#[test]
fn zeroed_page() {
    with_big_stack(|| {
        let mut page = Box::new(Shared::zeroed());
        assert_eq!(page.devices[15], SharedDevice::default());
        assert!(page.cmdline.iter().all(|b| *b == 0));
        assert!(page.cpu[15].log_space.log_buffer.iter().all(|b| *b == 0));
        page.version = iresourcemon::VERSION;
        page.console_rx.len = 1;
        assert_eq!((page.version, page.console_rx.len), (1, 1));
    });
}
