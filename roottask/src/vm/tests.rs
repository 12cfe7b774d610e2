//! End-to-end tests of [`VmBuild`]: planned groups built from hand-made images.

use super::*;
use crate::vm::placement::tests::{all_ram, qemu_descs, M};
use crate::vm::testelf::ElfBuilder;
use kickstart_config::monitor::Dhcp;
use kickstart_config::{plan, BootPlan, ModuleInput};
use l4_sys::kip::MemoryDesc;
use std::string::ToString;
use std::vec::Vec;

struct Fixture {
    descs: Vec<MemoryDesc>,
    received: Vec<Region>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            descs: qemu_descs(),
            received: all_ram(),
        }
    }

    fn host(&self) -> Host<'_> {
        Host {
            memory: HostMemory {
                descs: &self.descs,
                received: &self.received,
                monitor_image_end: 0x42_3456,
            },
            threads: ThreadSpaces::from_user_base(48),
            monitor_tid: ThreadId(0xC8001),
            iommu: false,
            dhcp: None,
            max_logid_in_use: 1,
        }
    }
}

fn planned<'a>(mods: &[BootModule<'a>], sizes_known: bool) -> BootPlan<'a> {
    let inputs: Vec<ModuleInput<'a>> = mods
        .iter()
        .map(|m| ModuleInput {
            cmdline: m.cmdline,
            head: if sizes_known {
                &m.bytes[..m.bytes.len().min(18)]
            } else {
                &[]
            },
            size: if sizes_known { m.bytes.len() } else { 0 },
        })
        .collect();
    plan(&inputs)
}

fn build(
    mods: &[BootModule<'_>],
    fx: &Fixture,
    slot: usize,
    blocks: &[Region],
) -> Result<VmBuild, BuildError> {
    let p = planned(mods, false);
    let vp = p.groups()[0].as_ref().expect("plan ok");
    VmBuild::new(
        &VmRequest {
            plan: vp,
            modules: mods,
            slot,
            vm_blocks: blocks,
        },
        &fx.host(),
    )
}

/// Executes the operations and the shared-page write on a VM-sized buffer
/// (filled with a marker first, so missing zeroing would show).
fn execute(b: &VmBuild, mods: &[BootModule<'_>]) -> Vec<u8> {
    let mut mem = std::vec![0xa5u8; b.layout.size as usize];
    b.load_into(&mut mem, mods).unwrap();
    mem
}

/// A wedge image and a 100-byte "kernel" with the ELF magic.
fn wedge_and_kernel() -> (std::vec::Vec<u8>, std::vec::Vec<u8>) {
    let mut kernel = std::vec![7u8; 100];
    kernel[..4].copy_from_slice(&[0x7f, b'E', b'L', b'F']);
    (ElfBuilder::wedge().build(), kernel)
}

/// One 32 MB wedge VM with the kernel as its module.
fn wedge_vm<'a>(wedge: &'a [u8], kernel: &'a [u8]) -> [BootModule<'a>; 2] {
    [
        BootModule {
            cmdline: "/wedge vmstart vmsize=32M wedgeinstall=16M",
            bytes: wedge,
        },
        BootModule {
            cmdline: "/vmlinuz console",
            bytes: kernel,
        },
    ]
}

#[test]
fn load_into_refuses_a_block_that_is_too_small() {
    let (wedge, kernel) = wedge_and_kernel();
    let mods = wedge_vm(&wedge, &kernel);
    let fx = Fixture::new();
    let b = build(&mods, &fx, 1, &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut small = std::vec![0u8; 1 << 20];
    assert!(matches!(
        b.load_into(&mut small, &mods),
        Err(LoadError::Outside(_))
    ));
    let mut full = std::vec![0u8; b.layout.size as usize];
    assert_eq!(b.load_into(&mut full, &mods), Ok(()));
}

fn word(mem: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(mem[at..at + 4].try_into().unwrap())
}

#[test]
fn wedge_vm_with_two_modules() {
    let wedge = ElfBuilder::wedge().build();
    let mut kernel = std::vec![7u8; 10000];
    kernel[..4].copy_from_slice(&[0x7f, b'E', b'L', b'F']);
    let rd = std::vec![9u8; 5000];
    let mods = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=32M wedgeinstall=16M",
            bytes: &wedge,
        },
        BootModule {
            cmdline: "/vmlinuz console=ttyS0",
            bytes: &kernel,
        },
        BootModule {
            cmdline: "/rd.gz",
            bytes: &rd,
        },
    ];
    let fx = Fixture::new();
    let b = build(&mods, &fx, 1, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        b.block,
        Region {
            base: 0x100_0000,
            size: 32 * M
        }
    );
    assert_eq!(b.layout.wedge_vaddr, 0xBC00_0000);
    assert_eq!(b.first_thread.0, 0x40C_8002);
    assert_eq!(
        (b.priority, b.start_ip, b.start_sp),
        (102, 0xBC10_0040, 0xBC11_F000)
    );
    assert_eq!(
        (b.kip_area.0, b.utcb_area.0, b.utcb_location),
        (0xBC10_E0C0, 0xBC10_F0C0, 0xBC10_F000)
    );
    let s = &b.shared;
    assert_eq!((s.thread_space_start, s.thread_space_len), (4146, 4096));
    assert_eq!(
        (s.phys_offset, s.phys_size, s.phys_end),
        (0x100_0000, 32 << 20, (32 << 20) - 1)
    );
    assert_eq!((s.entry_ip, s.entry_sp), (0xBC10_0000, 0));
    assert_eq!(
        (s.wedge_virt_offset, s.wedge_phys_offset),
        (0xBC00_0000, 0x100_0000)
    );
    assert_eq!(s.cmdline.as_str(), "vmstart vmsize=32M wedgeinstall=16M");
    assert_eq!(s.modules.len(), 2);
    assert_eq!(
        (s.modules[0].vm_offset, s.modules[0].size),
        (0x1ffd000, 10000)
    );
    assert_eq!(
        (s.modules[1].vm_offset, s.modules[1].size),
        (0x1ffb000, 5000)
    );
    assert_eq!(s.modules[0].cmdline.as_str(), "/vmlinuz console=ttyS0");
    assert_eq!(s.devices.entries.len(), 2);
    assert_eq!(s.ramdisk, None);
    let ops = b.operations();
    assert_eq!(
        ops[0],
        Op::Zero {
            dst_gpaddr: 0,
            len: 32 << 20
        }
    );
    assert!(matches!(
        ops[1],
        Op::Copy {
            module: 0,
            dst_gpaddr: 0x110_0000,
            len: 0x100,
            ..
        }
    ));
    assert_eq!(
        ops[ops.len() - 2],
        Op::Copy {
            module: 1,
            src_offset: 0,
            dst_gpaddr: 0x1ffd000,
            len: 10000
        }
    );
    assert_eq!(
        ops[ops.len() - 1],
        Op::Copy {
            module: 2,
            src_offset: 0,
            dst_gpaddr: 0x1ffb000,
            len: 5000
        }
    );

    let mem = execute(&b, &mods);
    let sp = b.shared_gpaddr as usize;
    assert_eq!(b.shared_haddr(), 0x100_0000 + 0x112_0000);
    assert_eq!(word(&mem, sp), 1, "guest's version kept");
    assert_eq!(word(&mem, sp + 8), 102);
    assert_eq!(word(&mem, sp + 12), 4146);
    assert_eq!(word(&mem, sp + 84), 0xC8001);
    assert_eq!(word(&mem, sp + 616), 2);
    assert_eq!(word(&mem, sp + 2180), 0xA0000);
    assert_eq!(word(&mem, sp + 2192), 0x1ffd_ffff);
    assert_eq!(&mem[0x1ffd000..0x1ffd004], &[0x7f, b'E', b'L', b'F']);
    assert_eq!(mem[0x1ffb000 + 4999], 9);
    assert_eq!(mem[0x1ffb000 + 5000], 0, "block zeroed");
    assert_eq!(mem[0x110_0000], 0x90);
}

#[test]
fn four_vms_take_successive_blocks() {
    let wedge = ElfBuilder::wedge().build();
    let kernel = std::vec![7u8; 100];
    let mods = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=32M wedgeinstall=16M clones=4",
            bytes: &wedge,
        },
        BootModule {
            cmdline: "/vmlinuz",
            bytes: &kernel,
        },
    ];
    let fx = Fixture::new();
    let mut blocks = Vec::new();
    for (slot, want) in [
        (1, 0x100_0000u64),
        (2, 0x300_0000),
        (3, 0x500_0000),
        (4, 0x700_0000),
    ] {
        let b = build(&mods, &fx, slot, &blocks).unwrap();
        assert_eq!(b.block.base, want);
        assert_eq!(b.shared.phys_offset as u64, want);
        assert_eq!(b.shared.thread_space_start, 50 + 4096 * slot as u32);
        blocks.push(b.block);
    }
    assert!(matches!(
        build(&mods, &fx, 0, &[]).unwrap_err().kind,
        BuildErrorKind::Slot
    ));
    assert!(matches!(
        build(&mods, &fx, 63, &[]).unwrap_err().kind,
        BuildErrorKind::Slot
    ));
}

#[test]
fn native_vm_in_ramdisk_mode_with_dhcp() {
    let img = ElfBuilder::native(0x80_0000).build();
    let rd = std::vec![3u8; 5000];
    let mods = [
        BootModule {
            cmdline: "/linux vmstart vmsize=32M root=/dev/ram0 ip=grubdhcp",
            bytes: &img,
        },
        BootModule {
            cmdline: "/initrd.gz",
            bytes: &rd,
        },
    ];
    let fx = Fixture::new();
    let dhcp = Dhcp {
        ip: "10.0.0.2".try_into().unwrap(),
        mask: "255.0.0.0".try_into().unwrap(),
        server: "10.0.0.1".try_into().unwrap(),
        gateway: "10.0.0.254".try_into().unwrap(),
    };
    let host = Host {
        dhcp: Some(&dhcp),
        ..fx.host()
    };
    let p = planned(&mods, true);
    let vp = p.groups()[0].as_ref().unwrap();
    assert_eq!(vp.ramdisk, Some(1));
    let b = VmBuild::new(
        &VmRequest {
            plan: vp,
            modules: &mods,
            slot: 1,
            vm_blocks: &[],
        },
        &host,
    )
    .unwrap();
    assert_eq!(
        b.shared.ramdisk,
        Some(SharedRamdisk {
            start: 0x1ffd000,
            size: 5000
        })
    );
    assert!(b.shared.modules.is_empty());
    assert_eq!(
        b.shared.cmdline.as_str(),
        "vmstart vmsize=32M root=/dev/ram0 ip=10.0.0.2:10.0.0.1:10.0.0.254:255.0.0.0"
    );
    assert_eq!((b.start_ip, b.start_sp), (0x80_0000, 0));
    assert_eq!(
        (b.shared.kip_fpage, b.shared.utcb_fpage),
        (0x30_00E0, 0x30_40E0)
    );
    let mem = execute(&b, &mods);
    let sp = b.shared_gpaddr as usize;
    assert_eq!(
        (word(&mem, sp + 60), word(&mem, sp + 64)),
        (0x1ffd000, 5000)
    );
}

#[test]
fn ddos_vm_tells_the_guest_about_host_memory() {
    let wedge = ElfBuilder::wedge().build();
    let kernel = std::vec![7u8; 100];
    let mods = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=32M wedgeinstall=16M ddos pcpus=2",
            bytes: &wedge,
        },
        BootModule {
            cmdline: "/vmlinuz",
            bytes: &kernel,
        },
    ];
    let fx = Fixture::new();
    let b = build(&mods, &fx, 1, &[]).unwrap();
    assert_eq!(b.priority, 112);
    assert_eq!(b.shared.phys_end, 0x1ffd_ffff);
    let d = &b.shared.devices.entries;
    assert_eq!(
        (d[0].low, d[0].high, d[0].kind),
        (0x300_0000, 0x1ffd_ffff, Some(2))
    );
    assert_eq!(d[1].kind, Some(0x2f));
    assert_eq!(b.shared.pcpu_count, 2);
    // noclientdma: phys_end = size − 1, no DMA range, still device access.
    let mods2 = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=32M wedgeinstall=16M ddos noclientdma",
            bytes: &wedge,
        },
        mods[1],
    ];
    let b = build(&mods2, &fx, 1, &[]).unwrap();
    assert_eq!(b.shared.phys_end, (32 << 20) - 1);
    assert_eq!(b.shared.devices.entries[0].kind, Some(0x2f));
}

#[test]
fn errors_name_module_and_reason() {
    let fx = Fixture::new();
    let mut bad = ElfBuilder::wedge().build();
    bad[16] = 3;
    let kernel = std::vec![7u8; 100];
    let mods = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=32M wedgeinstall=16M",
            bytes: &bad,
        },
        BootModule {
            cmdline: "/vmlinuz",
            bytes: &kernel,
        },
    ];
    let e = build(&mods, &fx, 1, &[]).unwrap_err();
    assert_eq!(
        e.kind,
        BuildErrorKind::Elf {
            module: 0,
            error: ElfError::NotExecutable { e_type: 3 }
        }
    );
    assert_eq!(
        e.to_string(),
        "vm 0 (slot 1): module 0: invalid ELF binary: e_type 3 at offset 16, expected 2 (ET_EXEC)"
    );

    // A module reaching into the declared wedge range (not checked upstream).
    let wedge = ElfBuilder::wedge().build();
    let big = std::vec![1u8; 1 << 20];
    let mods = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=20M wedgeinstall=16M wedgesize=4M",
            bytes: &wedge,
        },
        BootModule {
            cmdline: "/vmlinuz",
            bytes: &big,
        },
    ];
    let e = build(&mods, &fx, 1, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "vm 0 (slot 1): module 1: module of 1048576 bytes at gpaddr 0x1300000 (gvaddr 0x1300000) overlaps the wedge at guest-physical [0x1000000, 0x1400000)"
    );
    // Into the loaded wedge itself, without wedgesize=.
    let big = std::vec![1u8; 3 << 20];
    let mods = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=20M wedgeinstall=16M",
            bytes: &wedge,
        },
        BootModule {
            cmdline: "/vmlinuz",
            bytes: &big,
        },
    ];
    let e = build(&mods, &fx, 1, &[]).unwrap_err();
    assert!(
        matches!(
            e.kind,
            BuildErrorKind::Module {
                module: 1,
                error: ModuleError::Overlaps { .. }
            }
        ),
        "{e}"
    );

    // No room: the placement error names the sizes.
    let mods = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=1024M wedgeinstall=16M",
            bytes: &wedge,
        },
        BootModule {
            cmdline: "/vmlinuz",
            bytes: &kernel,
        },
    ];
    let e = build(&mods, &fx, 1, &[]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("vm 0 (slot 1): vmsize=: no room for a VM of 1048576 KB"),
        "{e}"
    );

    // A module index beyond the slice (plan made from a longer list).
    let p = planned(&mods, false);
    let vp = p.groups()[0].as_ref().unwrap();
    let e = VmBuild::new(
        &VmRequest {
            plan: vp,
            modules: &mods[..1],
            slot: 1,
            vm_blocks: &[],
        },
        &fx.host(),
    )
    .unwrap_err();
    assert_eq!(
        e.kind,
        BuildErrorKind::ModuleMissing {
            module: 1,
            count: 1
        }
    );
}

#[test]
fn a_bad_vm_does_not_disturb_the_next() {
    let fx = Fixture::new();
    let wedge = ElfBuilder::wedge().build();
    let truncated = &wedge[..40];
    let kernel = std::vec![7u8; 100];
    let bad = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=32M wedgeinstall=16M",
            bytes: truncated,
        },
        BootModule {
            cmdline: "/vmlinuz",
            bytes: &kernel,
        },
    ];
    let good = [
        BootModule {
            cmdline: "/wedge vmstart vmsize=32M wedgeinstall=16M",
            bytes: &wedge,
        },
        BootModule {
            cmdline: "/vmlinuz",
            bytes: &kernel,
        },
    ];
    assert!(matches!(
        build(&bad, &fx, 1, &[]).unwrap_err().kind,
        BuildErrorKind::Elf {
            error: ElfError::Truncated { len: 40 },
            ..
        }
    ));
    // Same slot, no block was recorded for the failed VM: same placement.
    assert_eq!(build(&good, &fx, 1, &[]).unwrap().block.base, 0x100_0000);
}

/// Issue 13: loading with the block's frames fresh (zeroed on first
/// exposure) gives a guest exactly what the eager load gives: every frame
/// the load wrote holds the eager result, every frame it left fresh is
/// all zeros in the eager result, and most of the block is never written.
#[test]
fn a_lazy_load_exposes_exactly_what_the_eager_load_writes() {
    use crate::fresh::{FreshFrames, LazyBlock, FRAME};
    let (wedge, kernel) = wedge_and_kernel();
    let mods = wedge_vm(&wedge, &kernel);
    let fx = Fixture::new();
    let b = build(&mods, &fx, 1, &[]).unwrap_or_else(|e| panic!("{e}"));
    let eager = execute(&b, &mods);
    let size = b.layout.size as usize;
    let base = b.block.base;
    let mut lazy = std::vec![0xa5u8; size];
    let mut bits = std::vec![0u64; FreshFrames::words_for(size as u64)];
    let mut fresh = FreshFrames::new(base, &mut bits);
    fresh.mark(base, size as u64);
    b.load_with(
        &mut LazyBlock {
            block: &mut lazy,
            haddr: base,
            fresh: &mut fresh,
        },
        &mods,
    )
    .unwrap();
    let frames = size / FRAME as usize;
    let mut written = 0;
    for k in 0..frames {
        let r = k * FRAME as usize..(k + 1) * FRAME as usize;
        if fresh.is_fresh(base + r.start as u64) {
            assert!(
                eager[r.clone()].iter().all(|&x| x == 0),
                "frame {k} left fresh but not zero"
            );
            assert!(
                lazy[r].iter().all(|&x| x == 0xa5),
                "frame {k} fresh yet written"
            );
        } else {
            assert_eq!(lazy[r.clone()], eager[r], "frame {k}");
            written += 1;
        }
    }
    assert!(
        written > 0 && written < frames / 8,
        "{written} of {frames} frames written"
    );
}
