//! The checks of the shared configuration page against the command line and
//! the guest's own facts (resourcemon.md §3–§6), and the report format.
//!
//! Every check prints exactly one line, `check <what>: ok` or
//! `check <what>: FAIL got <X> want <Y>`, after the line prefix
//! `guest <name>: `.

use crate::ipc::iresourcemon::{Shared, SharedDevice, SharedModule, MAX_DEVICES, MAX_MODULES};
use crate::options::{c_str, Options};
use crate::{pattern_mismatch, Hex, PAGE};
use core::fmt::{self, Display, Write};
use core::mem::offset_of;

/// A module as the monitor describes it (the command line is not checked).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Module {
    /// Guest-physical address.
    pub vm_offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// A device range of `shared.devices`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Device {
    /// First byte.
    pub low: u32,
    /// Last byte (inclusive).
    pub high: u32,
    /// Memory type.
    pub kind: u32,
}

/// The fields of the shared page the guest checks, read once at start.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Snapshot {
    /// `version`.
    pub version: u32,
    /// `prio`.
    pub prio: u32,
    /// `thread_space_start`.
    pub thread_space_start: u32,
    /// `thread_space_len`.
    pub thread_space_len: u32,
    /// `utcb_fpage` (raw).
    pub utcb_fpage: u32,
    /// `kip_fpage` (raw).
    pub kip_fpage: u32,
    /// `link_vaddr`.
    pub link_vaddr: u32,
    /// `entry_ip`.
    pub entry_ip: u32,
    /// `entry_sp`.
    pub entry_sp: u32,
    /// `phys_offset`.
    pub phys_offset: u32,
    /// `phys_size`.
    pub phys_size: u32,
    /// `phys_end`.
    pub phys_end: u32,
    /// `ramdisk_start` (guest-virtual).
    pub ramdisk_start: u32,
    /// `ramdisk_size`.
    pub ramdisk_size: u32,
    /// `wedge_virt_offset`.
    pub wedge_virt_offset: u32,
    /// `wedge_phys_offset`.
    pub wedge_phys_offset: u32,
    /// `resourcemon_tid` (raw).
    pub resourcemon_tid: u32,
    /// `locator_tid` (raw).
    pub locator_tid: u32,
    /// `thread_server_tid` (raw).
    pub thread_server_tid: u32,
    /// `mem_balloon`.
    pub mem_balloon: u32,
    /// `cmdline` (NUL-terminated).
    pub cmdline: [u8; 512],
    /// `module_count`.
    pub module_count: u32,
    /// `modules[i].vm_offset`, `modules[i].size`.
    pub modules: [Module; MAX_MODULES as usize],
    /// `devices`.
    pub devices: [Device; MAX_DEVICES as usize],
    /// `vcpu_count`.
    pub vcpu_count: u32,
    /// `pcpu_count`.
    pub pcpu_count: u32,
}

impl Snapshot {
    /// Read the fields through `word(byte_offset)`, which returns the 32-bit
    /// word at that offset of `shared_t` (always 4-byte aligned and below
    /// [`Shared::SIZE`]).
    pub fn read(mut word: impl FnMut(usize) -> u32) -> Snapshot {
        macro_rules! w {
            ($field:ident) => {
                word(offset_of!(Shared, $field))
            };
        }
        let mut cmdline = [0u8; 512];
        for (i, chunk) in cmdline.chunks_exact_mut(4).enumerate() {
            chunk.copy_from_slice(&word(offset_of!(Shared, cmdline) + 4 * i).to_le_bytes());
        }
        let mut modules = [Module::default(); MAX_MODULES as usize];
        for (i, m) in modules.iter_mut().enumerate() {
            let base = offset_of!(Shared, modules) + i * SharedModule::SIZE;
            m.vm_offset = word(base + offset_of!(SharedModule, vm_offset));
            m.size = word(base + offset_of!(SharedModule, size));
        }
        let mut devices = [Device::default(); MAX_DEVICES as usize];
        for (i, d) in devices.iter_mut().enumerate() {
            let base = offset_of!(Shared, devices) + i * SharedDevice::SIZE;
            d.low = word(base + offset_of!(SharedDevice, low));
            d.high = word(base + offset_of!(SharedDevice, high));
            d.kind = word(base + offset_of!(SharedDevice, r#type));
        }
        Snapshot {
            version: w!(version),
            prio: w!(prio),
            thread_space_start: w!(thread_space_start),
            thread_space_len: w!(thread_space_len),
            utcb_fpage: w!(utcb_fpage),
            kip_fpage: w!(kip_fpage),
            link_vaddr: w!(link_vaddr),
            entry_ip: w!(entry_ip),
            entry_sp: w!(entry_sp),
            phys_offset: w!(phys_offset),
            phys_size: w!(phys_size),
            phys_end: w!(phys_end),
            ramdisk_start: w!(ramdisk_start),
            ramdisk_size: w!(ramdisk_size),
            wedge_virt_offset: w!(wedge_virt_offset),
            wedge_phys_offset: w!(wedge_phys_offset),
            resourcemon_tid: w!(resourcemon_tid),
            locator_tid: w!(locator_tid),
            thread_server_tid: w!(thread_server_tid),
            mem_balloon: w!(mem_balloon),
            cmdline,
            module_count: w!(module_count),
            modules,
            devices,
            vcpu_count: w!(vcpu_count),
            pcpu_count: w!(pcpu_count),
        }
    }

    /// The command line as text.
    pub fn cmdline(&self) -> &str {
        c_str(&self.cmdline)
    }
}

/// What the guest knows about itself, independent of the shared page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Own {
    /// MyGlobalId (UTCB).
    pub global_id: u32,
    /// The Pager TCR (UTCB).
    pub pager: u32,
    /// KIP ThreadInfo UserBase.
    pub user_base: u32,
    /// Address of `_start`.
    pub start: u32,
    /// Address of the `.l4kip` section.
    pub l4kip: u32,
    /// Address of the `.l4utcb` section.
    pub l4utcb: u32,
    /// End of the image (page-aligned): the wedge's footprint is
    /// `[WEDGE_VADDR, image_end)`.
    pub image_end: u32,
}

/// Guest-virtual memory the checks read (module and ramdisk data).
pub trait GuestMemory {
    /// `len` bytes at guest-virtual `addr`. The caller has checked that the
    /// range lies inside the VM's guest-physical window.
    fn read(&mut self, addr: u32, len: u32) -> &[u8];
}

/// Counts checks and prints every line with the guest's prefix.
pub struct Report<'n, W: Write> {
    /// Where lines go.
    pub out: W,
    /// The guest's name (`name=`).
    pub name: &'n str,
    /// Checks that passed.
    pub passed: u32,
    /// Checks that failed.
    pub failed: u32,
}

impl<'n, W: Write> Report<'n, W> {
    /// A report printing to `out` as guest `name`.
    pub fn new(out: W, name: &'n str) -> Self {
        Report {
            out,
            name,
            passed: 0,
            failed: 0,
        }
    }

    /// Print one line: `guest <name>: <text>`.
    pub fn line(&mut self, text: fmt::Arguments<'_>) {
        let _ = writeln!(self.out, "guest {}: {}", self.name, text);
    }

    /// Record a check and print its line.
    pub fn check(&mut self, what: impl Display, ok: bool, got: impl Display, want: impl Display) {
        if ok {
            self.passed += 1;
            self.line(format_args!("check {what}: ok"));
        } else {
            self.failed += 1;
            self.line(format_args!("check {what}: FAIL got {got} want {want}"));
        }
    }

    /// `got == want`.
    pub fn eq<T: PartialEq + Display>(&mut self, what: impl Display, got: T, want: T) {
        let ok = got == want;
        self.check(what, ok, got, want);
    }

    /// True when no check failed.
    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

/// Thread number of a raw global id (ia32: bits 14-31).
pub fn thread_no(tid: u32) -> u32 {
    tid >> 14
}

/// Thread version of a raw global id (ia32: bits 0-13).
pub fn thread_version(tid: u32) -> u32 {
    tid & 0x3fff
}

/// A raw thread id for messages: `0x…` plus number and version.
struct Tid(u32);

impl Display for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:#x} ({}.{})",
            self.0,
            thread_no(self.0),
            thread_version(self.0)
        )
    }
}

/// An fpage for messages: raw word, base and size.
struct Fp(u32);

impl Display for Fp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fp = idl::Fpage(self.0);
        write!(
            f,
            "{:#x} (base {:#x}, 2^{})",
            self.0,
            fp.base(),
            fp.size_log2()
        )
    }
}

/// The terminator of `devices[]` (§5.4): `{max_phys, 0xFFFFFFFF}`, the
/// last entry ending at 0xFFFFFFFF (a `ddos` VM's architecture-specific
/// ranges before it may end there too, e.g. the BIOS ROM).
pub fn terminator(devices: &[Device]) -> Option<Device> {
    devices.iter().rev().find(|d| d.high == u32::MAX).copied()
}

/// The guest-virtual address of `len` bytes at guest-physical `gpaddr`, if
/// the range lies inside the VM (`phys_size`) and its guest-virtual image
/// stays below the wedge window (and off page zero), so that reading it
/// faults in VM memory instead of something else.
pub fn gpaddr_to_gvaddr(
    gpaddr: u32,
    len: u32,
    link_vaddr: u32,
    phys_size: u32,
    wedge_vaddr: u32,
) -> Option<u32> {
    let end = gpaddr.checked_add(len)?;
    if end > phys_size {
        return None;
    }
    let gv = gpaddr.checked_add(link_vaddr)?;
    let gv_end = gv.checked_add(len)?;
    (gv != 0 && (wedge_vaddr == 0 || gv_end <= wedge_vaddr)).then_some(gv)
}

/// Run every check of the shared page (the measurements are separate).
pub fn run<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    own: &Own,
    report: &mut Report<'_, W>,
    mem: &mut impl GuestMemory,
) {
    let r = report;
    if let Some(bad) = opts.bad {
        r.check("options", false, bad, "key=<number>");
    }
    r.eq("version", snap.version, 1);
    r.eq("prio", snap.prio, opts.prio());
    r.eq("thread_space_len", snap.thread_space_len, 4096);
    r.eq(
        "own thread number",
        thread_no(own.global_id),
        snap.thread_space_start,
    );

    for (what, got, addr) in [
        ("utcb_fpage", snap.utcb_fpage, own.l4utcb),
        ("kip_fpage", snap.kip_fpage, own.l4kip),
    ] {
        let fp = idl::Fpage(got);
        let ok = fp.base() == addr && fp.size_log2() == 12;
        r.check(what, ok, Fp(got), Fp(addr | (12 << 4)));
    }
    r.eq("link_vaddr", Hex(snap.link_vaddr), Hex(opts.offset));
    r.eq("entry_ip", Hex(snap.entry_ip), Hex(own.start));
    r.eq("entry_sp", Hex(snap.entry_sp), Hex(0));

    let phys_size = opts.phys_size();
    r.eq("phys_size", Hex(snap.phys_size), Hex(phys_size));
    let terminator = terminator(&snap.devices);
    if opts.client_dma() {
        // Client-DMA VMs see max_phys, the same value the device list's
        // terminator starts at (§5.4).
        let want = terminator.map_or(0, |t| t.low);
        let ok = terminator.is_some() && snap.phys_end == want;
        r.check(
            "phys_end",
            ok,
            Hex(snap.phys_end),
            format_args!("max_phys {}", Hex(want)),
        );
    } else {
        r.eq(
            "phys_end",
            Hex(snap.phys_end),
            Hex(phys_size.wrapping_sub(1)),
        );
    }
    r.eq(
        "wedge_phys_offset",
        Hex(snap.wedge_phys_offset),
        Hex(opts.wedgeinstall),
    );
    r.eq(
        "wedge_virt_offset",
        Hex(snap.wedge_virt_offset),
        Hex(opts.wedge_vaddr()),
    );

    let rm = snap.resourcemon_tid;
    r.check(
        "resourcemon_tid",
        rm == own.pager,
        Tid(rm),
        format_args!("pager {}", Tid(own.pager)),
    );
    r.check(
        "locator_tid",
        snap.locator_tid == rm,
        Tid(snap.locator_tid),
        Tid(rm),
    );
    r.check(
        "thread_server_tid",
        snap.thread_server_tid == rm,
        Tid(snap.thread_server_tid),
        Tid(rm),
    );
    r.eq(
        "resourcemon thread number",
        thread_no(rm),
        own.user_base + 2,
    );
    r.eq("mem_balloon", snap.mem_balloon, 0);

    let first = snap
        .cmdline()
        .split([' ', '\t'])
        .find(|t| !t.is_empty())
        .unwrap_or("");
    r.check(
        "cmdline",
        !first.contains('/'),
        format_args!("first word {first:?}"),
        "no path",
    );

    check_modules(snap, opts, r, mem);

    r.eq("vcpu_count", snap.vcpu_count, opts.vcpu_count());
    r.eq("pcpu_count", snap.pcpu_count, opts.expect_pcpus);

    let vga = Device {
        low: 0xA0000,
        high: 0xBFFFF,
        kind: 4,
    };
    let has_vga = snap.devices.contains(&vga);
    r.check("devices vga", has_vga, "none", "{0xa0000, 0xbffff, 4}");
    match terminator {
        Some(_) => r.check("devices terminator", true, "", ""),
        None => r.check("devices terminator", false, "none", "{low, 0xffffffff}"),
    }

    check_ramdisk(snap, opts, r, mem);
}

fn check_modules<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    r: &mut Report<'_, W>,
    mem: &mut impl GuestMemory,
) {
    r.eq("module_count", snap.module_count, opts.expect_modules);
    let limit = snap.phys_size.min(opts.phys_size());
    let mut ceiling = snap.phys_size;
    let count = (snap.module_count as usize).min(snap.modules.len());
    for (i, m) in snap.modules[..count].iter().enumerate() {
        r.check(format_args!("module {i} size"), m.size > 0, m.size, "> 0");
        let inside = m.vm_offset % PAGE == 0 && m.vm_offset < limit;
        r.check(
            format_args!("module {i} vm_offset"),
            inside,
            Hex(m.vm_offset),
            format_args!("page-aligned, below {}", Hex(limit)),
        );
        // Modules stack downward from the top of VM memory (§3.4).
        let want = ceiling.wrapping_sub(m.size) & !(PAGE - 1);
        r.eq(
            format_args!("module {i} placement"),
            Hex(m.vm_offset),
            Hex(want),
        );
        ceiling = m.vm_offset;
        let gv = gpaddr_to_gvaddr(
            m.vm_offset,
            m.size,
            snap.link_vaddr,
            limit,
            crate::WEDGE_VADDR,
        );
        match gv {
            Some(gv) if m.size > 0 => {
                let data = mem.read(gv, m.size);
                data_check(
                    r,
                    format_args!("module {i} data"),
                    data,
                    opts.module_seed,
                    i as u32,
                );
            }
            _ => r.check(
                format_args!("module {i} data"),
                false,
                format_args!("[{}, +{:#x}) not readable", Hex(m.vm_offset), m.size),
                "inside the VM",
            ),
        }
    }
}

fn check_ramdisk<W: Write>(
    snap: &Snapshot,
    opts: &Options<'_>,
    r: &mut Report<'_, W>,
    mem: &mut impl GuestMemory,
) {
    if !opts.expect_ramdisk {
        r.eq("ramdisk_size", snap.ramdisk_size, 0);
        return;
    }
    let size = snap.ramdisk_size;
    r.check("ramdisk_size", size > 0, size, "> 0");
    // Placed one page below the top, page-aligned, reported guest-virtual.
    let limit = snap.phys_size.min(opts.phys_size());
    let gp = limit.wrapping_sub(size).wrapping_sub(PAGE) & !(PAGE - 1);
    r.eq(
        "ramdisk placement",
        Hex(snap.ramdisk_start),
        Hex(gp.wrapping_add(snap.link_vaddr)),
    );
    let gp = snap.ramdisk_start.wrapping_sub(snap.link_vaddr);
    match gpaddr_to_gvaddr(gp, size, snap.link_vaddr, limit, crate::WEDGE_VADDR) {
        Some(gv) if size > 0 => {
            let data = mem.read(gv, size);
            data_check(r, "ramdisk data", data, opts.module_seed, 0);
        }
        _ => r.check(
            "ramdisk data",
            false,
            format_args!("[{}, +{:#x}) not readable", Hex(snap.ramdisk_start), size),
            "inside the VM",
        ),
    }
}

fn data_check<W: Write>(
    r: &mut Report<'_, W>,
    what: impl Display,
    data: &[u8],
    seed: u32,
    index: u32,
) {
    match pattern_mismatch(data, seed, index) {
        None => r.check(what, true, "", ""),
        Some((j, got, want)) => r.check(what, false, format_args!("byte[{j}] = {got}"), want),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern_byte;
    use std::string::String;
    use std::vec::Vec;

    const MB: u32 = 1 << 20;
    /// The monitor's main thread: UserBase 48 + 2, version 1.
    const RM_TID: u32 = (50 << 14) | 1;

    /// A shared page as the monitor fills it (§5.3) for a VM of `size`
    /// bytes with the given modules, as words.
    struct Page(Vec<u32>);

    impl Page {
        fn new(cmdline: &str, size: u32, modules: &[u32]) -> Page {
            let mut p = Page(std::vec![0; Shared::SIZE / 4]);
            let fields: [(usize, u32); 21] = [
                (offset_of!(Shared, version), 1),
                (offset_of!(Shared, cpu_cnt), 1),
                (offset_of!(Shared, prio), 102),
                (offset_of!(Shared, thread_space_start), 50 + 4096),
                (offset_of!(Shared, thread_space_len), 4096),
                (offset_of!(Shared, utcb_fpage), 0xBC00_A0C0),
                (offset_of!(Shared, kip_fpage), 0xBC00_90C0),
                (offset_of!(Shared, entry_ip), 0xBC00_0000),
                (offset_of!(Shared, phys_offset), 16 * MB),
                (offset_of!(Shared, phys_size), size),
                (offset_of!(Shared, phys_end), size - 1),
                (offset_of!(Shared, wedge_virt_offset), 0xBC00_0000),
                (offset_of!(Shared, wedge_phys_offset), 16 * MB),
                (offset_of!(Shared, resourcemon_tid), RM_TID),
                (offset_of!(Shared, locator_tid), RM_TID),
                (offset_of!(Shared, thread_server_tid), RM_TID),
                (offset_of!(Shared, max_logid_in_use), 1),
                (offset_of!(Shared, module_count), modules.len() as u32),
                (offset_of!(Shared, vcpu_count), 1),
                (offset_of!(Shared, pcpu_count), 1),
                (offset_of!(Shared, devices), 0xA0000),
            ];
            for (off, v) in fields {
                p.set(off, v);
            }
            let dev = offset_of!(Shared, devices);
            p.set(dev + 4, 0xBFFFF);
            p.set(dev + 8, 4);
            p.set(dev + 12, 0x1FFD_FFFF);
            p.set(dev + 16, u32::MAX);
            let mut bytes = cmdline.as_bytes().to_vec();
            bytes.resize(512, 0);
            for (i, c) in bytes.chunks(4).enumerate() {
                p.set(
                    offset_of!(Shared, cmdline) + 4 * i,
                    u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                );
            }
            let mut ceiling = size;
            for (i, &s) in modules.iter().enumerate() {
                let at = (ceiling - s) & !0xfff;
                let base = offset_of!(Shared, modules) + i * SharedModule::SIZE;
                p.set(base, at);
                p.set(base + 4, s);
                ceiling = at;
            }
            p
        }

        fn set(&mut self, offset: usize, v: u32) {
            self.0[offset / 4] = v;
        }

        fn snapshot(&self) -> Snapshot {
            Snapshot::read(|off| {
                assert!(off % 4 == 0 && off + 4 <= Shared::SIZE);
                self.0[off / 4]
            })
        }
    }

    /// Guest memory holding the modules' (or ramdisk's) test data.
    struct Mem(Vec<(u32, Vec<u8>)>);

    impl Mem {
        fn with_data(snap: &Snapshot, seed: u32) -> Mem {
            let mut regions = Vec::new();
            for (i, m) in snap.modules[..snap.module_count as usize]
                .iter()
                .enumerate()
            {
                let data = (0..m.size)
                    .map(|j| pattern_byte(seed, i as u32, j))
                    .collect();
                regions.push((m.vm_offset + snap.link_vaddr, data));
            }
            if snap.ramdisk_size > 0 {
                let data = (0..snap.ramdisk_size)
                    .map(|j| pattern_byte(seed, 0, j))
                    .collect();
                regions.push((snap.ramdisk_start, data));
            }
            Mem(regions)
        }
    }

    impl GuestMemory for Mem {
        fn read(&mut self, addr: u32, len: u32) -> &[u8] {
            let (base, data) = self
                .0
                .iter()
                .find(|(b, d)| *b <= addr && addr + len <= b + d.len() as u32)
                .expect("the checks read only module and ramdisk data");
            &data[(addr - base) as usize..(addr - base + len) as usize]
        }
    }

    const OWN: Own = Own {
        global_id: ((50 + 4096) << 14) | 2,
        pager: RM_TID,
        user_base: 48,
        start: 0xBC00_0000,
        l4kip: 0xBC00_9000,
        l4utcb: 0xBC00_A000,
        image_end: 0xBC11_8000,
    };

    fn run_checks(snap: &Snapshot, mem: &mut Mem) -> (String, u32, u32) {
        let cmdline = snap.cmdline();
        let opts = Options::parse(cmdline);
        let mut report = Report::new(String::new(), opts.name);
        run(snap, &opts, &OWN, &mut report, mem);
        (report.out, report.passed, report.failed)
    }

    const LINE: &str = "vmsize=30M wedgeinstall=16M name=vm1 expect-modules=2 module-seed=0x11";

    #[test]
    fn a_correct_page_passes_every_check() {
        let page = Page::new(LINE, 32 * MB, &[10000, 5000]);
        let snap = page.snapshot();
        // The spec's own example placement (§3.4).
        assert_eq!(snap.modules[0].vm_offset, 0x1ffd000);
        assert_eq!(snap.modules[1].vm_offset, 0x1ffb000);
        let mut mem = Mem::with_data(&snap, 0x11);
        let (out, passed, failed) = run_checks(&snap, &mut mem);
        assert_eq!(failed, 0, "{out}");
        assert_eq!(passed as usize, out.lines().count(), "{out}");
        for line in out.lines() {
            assert!(
                line.starts_with("guest vm1: check ") && line.ends_with(": ok"),
                "{line}"
            );
        }
        for what in [
            "version",
            "prio",
            "module 1 data",
            "devices terminator",
            "ramdisk_size",
        ] {
            assert!(
                out.contains(&std::format!("check {what}: ok\n")),
                "{what}: {out}"
            );
        }
    }

    #[test]
    fn failures_say_what_and_by_how_much() {
        let mut page = Page::new(LINE, 32 * MB, &[10000, 5000]);
        page.set(offset_of!(Shared, prio), 112);
        page.set(offset_of!(Shared, kip_fpage), 0x0030_00E0);
        page.set(offset_of!(Shared, thread_server_tid), 0);
        let snap = page.snapshot();
        let mut mem = Mem::with_data(&snap, 0x11);
        mem.0[1].1[5] ^= 0xff;
        let (out, _, failed) = run_checks(&snap, &mut mem);
        assert_eq!(failed, 4, "{out}");
        let want = [
            "guest vm1: check prio: FAIL got 112 want 102",
            "guest vm1: check kip_fpage: FAIL got 0x3000e0 (base 0x300000, 2^14) want 0xbc0090c0 (base 0xbc009000, 2^12)",
            "guest vm1: check thread_server_tid: FAIL got 0x0 (0.0) want 0xc8001 (50.1)",
        ];
        for w in want {
            assert!(out.contains(&std::format!("{w}\n")), "{w}\n{out}");
        }
        let byte = pattern_byte(0x11, 1, 5);
        assert!(
            out.contains(&std::format!(
                "check module 1 data: FAIL got byte[5] = {} want {byte}\n",
                byte ^ 0xff
            )),
            "{out}"
        );
    }

    #[test]
    fn misplaced_modules_are_not_read() {
        let mut page = Page::new(LINE, 32 * MB, &[10000, 5000]);
        let m1 = offset_of!(Shared, modules) + SharedModule::SIZE;
        page.set(m1, 0x3000_0000);
        let snap = page.snapshot();
        let mut mem = Mem::with_data(&snap, 0x11);
        let (out, _, failed) = run_checks(&snap, &mut mem);
        assert_eq!(failed, 3, "{out}");
        assert!(out.contains("check module 1 vm_offset: FAIL got 0x30000000 want page-aligned, below 0x2000000\n"), "{out}");
        assert!(
            out.contains("check module 1 placement: FAIL got 0x30000000 want 0x1ffb000\n"),
            "{out}"
        );
        assert!(out.contains("check module 1 data: FAIL got [0x30000000, +0x1388) not readable want inside the VM\n"), "{out}");
    }

    #[test]
    fn ddos_ramdisk_offset_and_vcpus() {
        let line =
            "vmsize=64M wedgeinstall=16M offset=0x10000000 ddos vcpus=2 initrd expect-ramdisk=1";
        let size = 64 * MB;
        let mut page = Page::new(line, size, &[]);
        page.set(offset_of!(Shared, prio), 112);
        page.set(offset_of!(Shared, link_vaddr), 0x1000_0000);
        page.set(offset_of!(Shared, vcpu_count), 2);
        // Client DMA: phys_end = max_phys, also the terminator's low (§5.4).
        page.set(offset_of!(Shared, phys_end), 0x1FFD_FFFF);
        // An architecture-specific range ending at 0xFFFFFFFF (the BIOS
        // ROM) before the terminator.
        let dev = offset_of!(Shared, devices);
        for (i, w) in [
            0xA0000,
            0xBFFFF,
            4,
            0xFFFC_0000,
            u32::MAX,
            0xF,
            0x1FFD_FFFF,
            u32::MAX,
            0,
        ]
        .into_iter()
        .enumerate()
        {
            page.set(dev + 4 * i, w);
        }
        let rd = 300_000;
        page.set(offset_of!(Shared, ramdisk_size), rd);
        page.set(
            offset_of!(Shared, ramdisk_start),
            ((size - rd - 4096) & !0xfff) + 0x1000_0000,
        );
        let snap = page.snapshot();
        let mut mem = Mem::with_data(&snap, 0x5a);
        let (out, _, failed) = run_checks(&snap, &mut mem);
        assert_eq!(failed, 0, "{out}");
        assert!(
            out.contains("guest test-guest: check ramdisk data: ok\n"),
            "{out}"
        );
        assert!(
            out.contains("guest test-guest: check phys_end: ok\n"),
            "{out}"
        );
    }

    #[test]
    fn path_in_cmdline_fails() {
        let page = Page::new("/boot/guest vmsize=32M wedgeinstall=16M", 32 * MB, &[]);
        let snap = page.snapshot();
        let (out, _, failed) = run_checks(&snap, &mut Mem(Vec::new()));
        assert_eq!(failed, 1, "{out}");
        assert!(
            out.contains("check cmdline: FAIL got first word \"/boot/guest\" want no path\n"),
            "{out}"
        );
    }

    #[test]
    fn gvaddr_translation() {
        let w = crate::WEDGE_VADDR;
        assert_eq!(
            gpaddr_to_gvaddr(0x1000, 0x1000, 0, 32 * MB, w),
            Some(0x1000)
        );
        assert_eq!(
            gpaddr_to_gvaddr(32 * MB - 1, 1, 0, 32 * MB, w),
            Some(32 * MB - 1)
        );
        assert_eq!(gpaddr_to_gvaddr(32 * MB - 1, 2, 0, 32 * MB, w), None);
        assert_eq!(
            gpaddr_to_gvaddr(0x1000, 0x1000, 0xBBFF_F000, 32 * MB, w),
            None
        );
        assert_eq!(gpaddr_to_gvaddr(u32::MAX, 2, 0, u32::MAX, w), None);
    }
}
