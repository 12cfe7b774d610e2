//! The generated types against the spec's tables (x2-abi.md §2.1, §7.1–7.2),
//! and the word indexes the safe KIP reader uses against the generated struct.

use core::mem::{offset_of, size_of};
use l4_sys::kip::field;
use l4_sys::raw::ia32 as r32;

macro_rules! check_offsets {
    ($ty:ty, $scale:expr, { $($field:ident : $off:expr),* $(,)? }) => {
        $( assert_eq!(offset_of!($ty, $field), $off * $scale, concat!(stringify!($ty), ".", stringify!($field))); )*
    };
}

/// ia32 offsets of §2.1 (amd64 doubles them).
fn kip_offsets(scale: usize) -> [(usize, usize); 24] {
    [
        (field::API_VERSION, 0x004),
        (field::API_FLAGS, 0x008),
        (field::KERNEL_VER_PTR, 0x00c),
        (field::SIGMA0, 0x020),
        (field::ROOT_SERVER, 0x040),
        (field::MEMORY_INFO, 0x054),
        (field::UTCB_INFO, 0x0a8),
        (field::KIP_AREA_INFO, 0x0ac),
        (field::BOOT_INFO, 0x0b8),
        (field::PROC_DESC_PTR, 0x0bc),
        (field::CLOCK_INFO, 0x0c0),
        (field::THREAD_INFO, 0x0c4),
        (field::PAGE_INFO, 0x0c8),
        (field::PROCESSOR_INFO, 0x0cc),
        (field::SPACE_CONTROL, 0x0d0),
        (field::THREAD_CONTROL, 0x0d4),
        (field::PROCESSOR_CONTROL, 0x0d8),
        (field::MEMORY_CONTROL, 0x0dc),
        (field::IPC, 0x0e0),
        (field::LIPC, 0x0e4),
        (field::UNMAP, 0x0e8),
        (field::EXCHANGE_REGISTERS, 0x0ec),
        (field::SYSTEM_CLOCK, 0x0f0),
        (field::SCHEDULE, 0x0f8),
    ]
    .map(|(i, off)| (i * 4 * scale, off * scale))
}

#[test]
fn ia32_kip_matches_spec() {
    type K = r32::L4_KernelInterfacePage_t;
    assert_eq!(size_of::<K>(), 0x120);
    check_offsets!(K, 1, {
        magic: 0x000, ApiVersion: 0x004, ApiFlags: 0x008, KernelVerPtr: 0x00c,
        KdebugInit: 0x010, KdebugEntry: 0x014, KdebugLow: 0x018, KdebugHigh: 0x01c,
        Sigma0: 0x020, Sigma1: 0x030, RootServer: 0x040, MemoryInfo: 0x054,
        KdebugConfig: 0x058, MainMem: 0x060, ReservedMem: 0x068, DedicatedMem: 0x078,
        UtcbAreaInfo: 0x0a8, KipAreaInfo: 0x0ac, BootInfo: 0x0b8, ProcDescPtr: 0x0bc,
        ClockInfo: 0x0c0, ThreadInfo: 0x0c4, PageInfo: 0x0c8, ProcessorInfo: 0x0cc,
        SpaceControl: 0x0d0, ThreadControl: 0x0d4, ProcessorControl: 0x0d8, MemoryControl: 0x0dc,
        Ipc: 0x0e0, Lipc: 0x0e4, Unmap: 0x0e8, ExchangeRegisters: 0x0ec,
        SystemClock: 0x0f0, ThreadSwitch: 0x0f4, Schedule: 0x0f8, ArchSyscall: 0x110,
    });
    // The reader's word indexes name the same bytes.
    for (reader, spec) in kip_offsets(1) {
        assert_eq!(reader, spec);
    }
}

#[test]
fn ia32_boot_info_matches_spec() {
    assert_eq!(size_of::<r32::L4_BootInfo_t>(), 0x20);
    assert_eq!(size_of::<r32::L4_Boot_Module_t>(), 0x18);
    check_offsets!(r32::L4_Boot_Module_t, 1, { start: 0x0c, size: 0x10, cmdline_offset: 0x14 });
    assert_eq!(size_of::<r32::L4_Boot_SimpleExec_t>(), 0x40);
    check_offsets!(r32::L4_Boot_SimpleExec_t, 1, {
        text_pstart: 0x0c, text_vstart: 0x10, text_size: 0x14, data_pstart: 0x18, data_vstart: 0x1c,
        data_size: 0x20, bss_pstart: 0x24, bss_vstart: 0x28, bss_size: 0x2c, initial_ip: 0x30,
        flags: 0x34, label: 0x38, cmdline_offset: 0x3c,
    });
    assert_eq!(size_of::<r32::L4_Boot_MBI_t>(), 0x10);
    assert_eq!(l4_sys::bootinfo::MAGIC, r32::L4_BOOTINFO_MAGIC_VALUE as u64);
}

#[test]
fn ia32_word_types_and_constants() {
    assert_eq!(size_of::<r32::L4_Word_t>(), 4);
    assert_eq!(size_of::<r32::L4_ThreadId_t>(), 4);
    assert_eq!(size_of::<r32::L4_Fpage_t>(), 4);
    // §1.4: L4_Time_t is word-sized although only 16 bits are used.
    assert_eq!(size_of::<r32::L4_Time_t>(), 4);
    assert_eq!(size_of::<r32::L4_Clock_t>(), 8);
    assert_eq!(size_of::<r32::L4_MapItem_t>(), 8);
    assert_eq!(size_of::<r32::L4_MemoryDesc_t>(), 8);
    assert_eq!(r32::L4_UtcbWords::L4_TCR_ErrorCode, -9);
    assert_eq!(r32::L4_UtcbWords::L4_TCR_MyGlobalId, -15);
    assert_eq!(r32::L4_UtcbWords::L4_TCR_BR0, -16);
    assert_eq!(r32::L4_ErrorCodes::L4_ErrNoMem, 8);
    assert_eq!(r32::L4_NUM_MRS, 64);
}

#[cfg(target_pointer_width = "64")]
#[test]
fn amd64_layout_doubles_ia32() {
    use l4_sys::raw::amd64 as r64;
    type K = r64::L4_KernelInterfacePage_t;
    assert_eq!(size_of::<K>(), 0x240);
    check_offsets!(K, 2, { MemoryInfo: 0x054, UtcbAreaInfo: 0x0a8, BootInfo: 0x0b8, Ipc: 0x0e0, Schedule: 0x0f8 });
    check_offsets!(r64::L4_Boot_SimpleExec_t, 2, { initial_ip: 0x30, cmdline_offset: 0x3c });
    assert_eq!(size_of::<r64::L4_Boot_Module_t>(), 0x30);
}

/// With a Pistachio build present, its own headers and the project's header
/// must describe the same bytes (README: Pistachio).
#[cfg(l4_upstream_headers)]
#[test]
fn own_header_agrees_with_pistachio_headers() {
    use l4_sys::raw::upstream_ia32 as up;
    macro_rules! same {
        ($own:ty, $up:ty, [$($f:ident),* $(,)?]) => {
            assert_eq!(size_of::<$own>(), size_of::<$up>(), stringify!($own));
            $( assert_eq!(offset_of!($own, $f), offset_of!($up, $f), concat!(stringify!($own), ".", stringify!($f))); )*
        };
    }
    same!(
        r32::L4_KernelInterfacePage_t,
        up::L4_KernelInterfacePage_t,
        [
            magic,
            ApiVersion,
            ApiFlags,
            KernelVerPtr,
            MemoryInfo,
            MainMem,
            ReservedMem,
            DedicatedMem,
            UtcbAreaInfo,
            KipAreaInfo,
            BootInfo,
            ProcDescPtr,
            ClockInfo,
            ThreadInfo,
            PageInfo,
            ProcessorInfo,
            SpaceControl,
            ThreadControl,
            ProcessorControl,
            MemoryControl,
            Ipc,
            Lipc,
            Unmap,
            ExchangeRegisters,
            SystemClock,
            ThreadSwitch,
            Schedule,
        ]
    );
    same!(
        r32::L4_BootInfo_t,
        up::L4_BootInfo_t,
        [magic, version, size, first_entry, num_entries]
    );
    same!(
        r32::L4_BootRec_t,
        up::L4_BootRec_t,
        [type_, version, offset_next]
    );
    same!(
        r32::L4_Boot_Module_t,
        up::L4_Boot_Module_t,
        [type_, start, size, cmdline_offset]
    );
    same!(
        r32::L4_Boot_SimpleExec_t,
        up::L4_Boot_SimpleExec_t,
        [
            text_pstart,
            text_vstart,
            text_size,
            data_pstart,
            data_vstart,
            data_size,
            bss_pstart,
            bss_vstart,
            bss_size,
            initial_ip,
            flags,
            label,
            cmdline_offset,
        ]
    );
    same!(r32::L4_Boot_MBI_t, up::L4_Boot_MBI_t, [address]);
    assert_eq!(
        size_of::<r32::L4_ThreadId_t>(),
        size_of::<up::L4_ThreadId_t>()
    );
    assert_eq!(size_of::<r32::L4_Fpage_t>(), size_of::<up::L4_Fpage_t>());
    assert_eq!(size_of::<r32::L4_MsgTag_t>(), size_of::<up::L4_MsgTag_t>());
    assert_eq!(
        size_of::<r32::L4_MapItem_t>(),
        size_of::<up::L4_MapItem_t>()
    );
    assert_eq!(size_of::<r32::L4_Time_t>(), size_of::<up::L4_Time_t>());
    assert_eq!(
        size_of::<r32::L4_MemoryDesc_t>(),
        size_of::<up::L4_MemoryDesc_t>()
    );
}
