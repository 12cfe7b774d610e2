//! What the guest saw, as `seen key=value ...` lines, so that the boot
//! scenarios can compare field by field what this guest saw under this
//! monitor and under the original (issue 9, side by side).
//!
//! Each line stays short (the monitors' console paths split long lines),
//! keys are the shared page's field names (§5.3), values are hex except
//! counts and sizes in bytes, which are decimal.

use crate::checks::{Report, Snapshot};
use crate::Hex;
use core::fmt::Write;

/// Fields per `seen` line.
const PER_LINE: usize = 4;

/// One `(key, value)` of what the guest saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// An address, id or bit field: printed in hex.
    Hex(u32),
    /// A count or a size in bytes: printed in decimal.
    Dec(u32),
}

impl core::fmt::Display for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Hex(v) => Hex(*v).fmt(f),
            Value::Dec(v) => write!(f, "{v}"),
        }
    }
}

/// Every field the guest can compare, in a fixed order. Module and device
/// entries get their index in the key (`module0.vm_offset`, `device1.low`).
pub fn fields(snap: &Snapshot, mut each: impl FnMut(&dyn core::fmt::Display, Value)) {
    use Value::{Dec, Hex as H};
    let plain: [(&str, Value); 21] = [
        ("version", Dec(snap.version)),
        ("prio", Dec(snap.prio)),
        ("thread_space_start", H(snap.thread_space_start)),
        ("thread_space_len", Dec(snap.thread_space_len)),
        ("utcb_fpage", H(snap.utcb_fpage)),
        ("kip_fpage", H(snap.kip_fpage)),
        ("link_vaddr", H(snap.link_vaddr)),
        ("entry_ip", H(snap.entry_ip)),
        ("entry_sp", H(snap.entry_sp)),
        ("phys_offset", H(snap.phys_offset)),
        ("phys_size", Dec(snap.phys_size)),
        ("phys_end", H(snap.phys_end)),
        ("ramdisk_start", H(snap.ramdisk_start)),
        ("ramdisk_size", Dec(snap.ramdisk_size)),
        ("wedge_virt_offset", H(snap.wedge_virt_offset)),
        ("wedge_phys_offset", H(snap.wedge_phys_offset)),
        ("resourcemon_tid", H(snap.resourcemon_tid)),
        ("locator_tid", H(snap.locator_tid)),
        ("thread_server_tid", H(snap.thread_server_tid)),
        ("mem_balloon", Dec(snap.mem_balloon)),
        ("module_count", Dec(snap.module_count)),
    ];
    for (k, v) in plain {
        each(&k, v);
    }
    each(&"vcpu_count", Dec(snap.vcpu_count));
    each(&"pcpu_count", Dec(snap.pcpu_count));
    let modules = (snap.module_count as usize).min(snap.modules.len());
    for (i, m) in snap.modules[..modules].iter().enumerate() {
        each(&format_args!("module{i}.vm_offset"), H(m.vm_offset));
        each(&format_args!("module{i}.size"), Dec(m.size));
    }
    // Devices up to and including the first empty entry (the list's end).
    for (i, d) in snap.devices.iter().enumerate() {
        each(&format_args!("device{i}.low"), H(d.low));
        each(&format_args!("device{i}.high"), H(d.high));
        each(&format_args!("device{i}.type"), Dec(d.kind));
        if d.low == 0 && d.high == 0 {
            break;
        }
    }
}

/// Print every field as `seen` lines through `report`.
pub fn report<W: Write>(snap: &Snapshot, report: &mut Report<'_, W>) {
    let mut line: heapless::String<160> = heapless::String::new();
    let mut n = 0;
    fields(snap, |k, v| {
        let _ = write!(line, " {k}={v}");
        n += 1;
        if n == PER_LINE {
            report.line(format_args!("seen{}", line.as_str()));
            line.clear();
            n = 0;
        }
    });
    if n > 0 {
        report.line(format_args!("seen{}", line.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Device, Module};

    extern crate std;
    use std::string::String;

    fn snap() -> Snapshot {
        let mut s = Snapshot::read(|_| 0);
        s.version = 1;
        s.phys_offset = 0x100_0000;
        s.phys_size = 32 << 20;
        s.module_count = 1;
        s.modules[0] = Module {
            vm_offset: 0x1ffd000,
            size: 10_000,
        };
        s.devices[0] = Device {
            low: 0xa0000,
            high: 0xbffff,
            kind: 4,
        };
        s
    }

    #[test]
    fn prints_every_field_in_short_lines() {
        let mut r = Report::new(String::new(), "g");
        report(&snap(), &mut r);
        let out = r.out;
        assert!(out.lines().all(|l| l.starts_with("guest g: seen ")));
        assert!(out.lines().all(|l| l.len() < 140), "{out}");
        for want in [
            "version=1",
            "phys_offset=0x1000000",
            "phys_size=33554432",
            "module0.vm_offset=0x1ffd000",
            "module0.size=10000",
            "device0.low=0xa0000",
            "device0.type=4",
            "device1.high=0x0",
        ] {
            assert!(out.contains(want), "{want} missing in {out}");
        }
        // Modules past module_count and devices past the empty entry are not printed.
        assert!(!out.contains("module1."), "{out}");
        assert!(!out.contains("device2."), "{out}");
        // Passing checks are not counted: `seen` lines are facts, not checks.
        assert_eq!((r.passed, r.failed), (0, 0));
    }
}
