//! Placement of the extra modules and of the ramdisk in a VM (spec §3.4,
//! vm.cc `install_module`, `install_ramdisk`).
//!
//! Module mode stacks the modules downward from the top of VM memory, page
//! aligned, first module highest; ramdisk mode puts one module below the top
//! page. The checks are the original's (in guest-virtual terms, half-open:
//! the binary's range, the KIP and UTCB fpages, both ends translate) plus one
//! the original lacks: the guest-physical copy must not overlap any
//! [`Protected`] range: the loaded ELF segments, the wedge's physical range
//! and the shared page (§3.4 "NOT checked: overlap of modules with the
//! wedge's physical range — with a small vmsize a module can overwrite the
//! loaded wedge").

use core::fmt;
use core::ops::Range;

use l4_sys::Fpage;

use super::layout::Layout;
use super::shared::MAX_MODULES;

/// Module placement granule.
pub const PAGE: u32 = 4096;

/// What a guest-physical range that modules must not touch holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProtectedKind {
    /// A loaded ELF segment (program header index).
    Segment(u16),
    /// The wedge: `[wedgeinstall, …)`.
    Wedge,
    /// The shared page.
    SharedPage,
}

/// A guest-physical range modules must not overlap (improvement over the original).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Protected {
    /// What it is.
    pub kind: ProtectedKind,
    /// The gpaddr range.
    pub gp: Range<u64>,
}

/// What a module would have collided with.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Conflict {
    /// `[binary_start, binary_end)` of the VM module (guest-virtual).
    Binary(Range<u64>),
    /// The KIP area fpage.
    KipArea(Fpage),
    /// The UTCB area fpage.
    UtcbArea(Fpage),
    /// A protected guest-physical range.
    Protected(Protected),
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::Binary(r) => {
                write!(
                    f,
                    "the VM binary [{:#x}, {:#x}) (guest-virtual)",
                    r.start, r.end
                )
            }
            Conflict::KipArea(fp) => write!(f, "the KIP area {fp}"),
            Conflict::UtcbArea(fp) => write!(f, "the UTCB area {fp}"),
            Conflict::Protected(p) => {
                match p.kind {
                    ProtectedKind::Segment(i) => write!(f, "loaded ELF segment {i}")?,
                    ProtectedKind::Wedge => f.write_str("the wedge")?,
                    ProtectedKind::SharedPage => f.write_str("the shared page")?,
                }
                write!(f, " at guest-physical [{:#x}, {:#x})", p.gp.start, p.gp.end)
            }
        }
    }
}

/// Why a module or the ramdisk cannot be placed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ModuleError {
    /// More than [`MAX_MODULES`] modules in module mode.
    TooMany {
        /// How many were given.
        count: usize,
    },
    /// The module is larger than the room left ("Module too big").
    TooBig {
        /// Module size.
        size: u64,
        /// The largest size that would have fitted.
        room: u64,
    },
    /// The module's range overlaps something.
    Overlaps {
        /// Target gpaddr.
        gpaddr: u32,
        /// Target gvaddr.
        gvaddr: u32,
        /// Size.
        size: u32,
        /// With what.
        with: Conflict,
    },
    /// The first or last byte of the module's guest-virtual range does not translate.
    Untranslatable {
        /// Target gpaddr.
        gpaddr: u32,
        /// Target gvaddr.
        gvaddr: u32,
        /// Size.
        size: u32,
    },
}

impl fmt::Display for ModuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModuleError::TooMany { count } => write!(
                f,
                "too many modules (hard coded limit): {count}, expected at most {MAX_MODULES}"
            ),
            ModuleError::TooBig { size, room } => write!(
                f,
                "module too big: {size} bytes, at most {room} bytes fit"
            ),
            ModuleError::Overlaps {
                gpaddr,
                gvaddr,
                size,
                with,
            } => write!(
                f,
                "module of {size} bytes at gpaddr {gpaddr:#x} (gvaddr {gvaddr:#x}) overlaps {with}"
            ),
            ModuleError::Untranslatable {
                gpaddr,
                gvaddr,
                size,
            } => write!(
                f,
                "module of {size} bytes at gpaddr {gpaddr:#x} (gvaddr {gvaddr:#x}) does not translate into the VM"
            ),
        }
    }
}

/// Where one module (or the ramdisk) goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Placement {
    /// Destination gpaddr (`modules[i].vm_offset`).
    pub gpaddr: u32,
    /// The same place in guest-virtual terms (`ramdisk_start` in ramdisk mode).
    pub gvaddr: u32,
    /// Size in bytes.
    pub size: u32,
}

/// What the conflict checks need to know about the VM.
#[derive(Clone, Debug)]
pub struct Guards<'a> {
    /// The VM's translations (after the ELF load set `wedge_vaddr`).
    pub layout: &'a Layout,
    /// The guest image's initial `wedge_phys_size` (for gpaddr → gvaddr).
    pub wedge_phys_size: u32,
    /// `[binary_start, binary_end)`, guest-virtual.
    pub binary: Range<u64>,
    /// KIP area.
    pub kip: Fpage,
    /// UTCB area.
    pub utcb: Fpage,
    /// Guest-physical ranges no module may overlap.
    pub protected: &'a [Protected],
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

fn fpage_range(fp: Fpage) -> Range<u64> {
    fp.base() as u64..fp.base() as u64 + fp.size()
}

impl Guards<'_> {
    /// The checks of §3.4 for a module of `size` bytes at `gpaddr`.
    pub fn check(&self, gpaddr: u32, size: u32) -> Result<Placement, ModuleError> {
        let gvaddr = self.layout.gpaddr_to_gvaddr(gpaddr, self.wedge_phys_size);
        let gv = gvaddr as u64..gvaddr as u64 + size as u64;
        let overlap = |with: Conflict| ModuleError::Overlaps {
            gpaddr,
            gvaddr,
            size,
            with,
        };
        if overlaps(&gv, &self.binary) {
            return Err(overlap(Conflict::Binary(self.binary.clone())));
        }
        if overlaps(&gv, &fpage_range(self.kip)) {
            return Err(overlap(Conflict::KipArea(self.kip)));
        }
        if overlaps(&gv, &fpage_range(self.utcb)) {
            return Err(overlap(Conflict::UtcbArea(self.utcb)));
        }
        let last = gvaddr.wrapping_add(size).wrapping_sub(1);
        if self.layout.gvaddr_to_haddr(gvaddr).is_none()
            || self.layout.gvaddr_to_haddr(last).is_none()
        {
            return Err(ModuleError::Untranslatable {
                gpaddr,
                gvaddr,
                size,
            });
        }
        let gp = gpaddr as u64..gpaddr as u64 + size as u64;
        if let Some(p) = self.protected.iter().find(|p| overlaps(&gp, &p.gp)) {
            return Err(overlap(Conflict::Protected(p.clone())));
        }
        Ok(Placement {
            gpaddr,
            gvaddr,
            size,
        })
    }

    /// Module mode: each module at `(ceiling − size)` rounded down to 4 KB,
    /// the ceiling starting at the VM size and moving down to each target.
    /// On error, the index (into `sizes`) of the module that failed.
    pub fn place_modules(
        &self,
        sizes: &[u64],
    ) -> Result<heapless::Vec<Placement, MAX_MODULES>, (usize, ModuleError)> {
        let mut out = heapless::Vec::new();
        if sizes.len() > MAX_MODULES {
            let e = ModuleError::TooMany { count: sizes.len() };
            return Err((MAX_MODULES, e));
        }
        let mut ceiling = self.layout.size;
        for (i, &size) in sizes.iter().enumerate() {
            if size > ceiling as u64 {
                let room = ceiling as u64;
                return Err((i, ModuleError::TooBig { size, room }));
            }
            let size = size as u32;
            let target = (ceiling - size) & !(PAGE - 1);
            let p = self.check(target, size).map_err(|e| (i, e))?;
            // Cannot fail: at most MAX_MODULES sizes.
            let _ = out.push(p);
            ceiling = target;
        }
        Ok(out)
    }

    /// Ramdisk mode: one module at `((size − S) − 4096)` rounded down to 4 KB.
    pub fn place_ramdisk(&self, size: u64) -> Result<Placement, ModuleError> {
        let vm = self.layout.size as u64;
        if size > vm || vm - size < PAGE as u64 {
            return Err(ModuleError::TooBig {
                size,
                room: vm.saturating_sub(PAGE as u64),
            });
        }
        let target = ((vm - size - PAGE as u64) as u32) & !(PAGE - 1);
        self.check(target, size as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use l4_sys::Rights;

    const M: u32 = 1 << 20;

    fn fp(base: u32, log2: u32) -> Fpage {
        Fpage::from_parts(base, log2, Rights::NONE)
    }

    /// A native 32 MB VM: binary at 8 MB.., default KIP/UTCB areas.
    fn native(layout: &Layout) -> Guards<'_> {
        Guards {
            layout,
            wedge_phys_size: 0,
            binary: 0x80_0000..0x90_0000,
            kip: fp(0x30_0000, 14),
            utcb: fp(0x30_4000, 14),
            protected: &[],
        }
    }

    #[test]
    fn verified_stacking_from_the_top() {
        // §3.4: modules of 10000 and 5000 bytes in a 32 MB VM land at
        // gpaddr 0x1ffd000 and 0x1ffb000.
        let l = Layout::new(0x100_0000, 32 * M, 0, 0);
        let p = native(&l).place_modules(&[10000, 5000]).unwrap();
        assert_eq!((p[0].gpaddr, p[0].size), (0x1ffd000, 10000));
        assert_eq!((p[1].gpaddr, p[1].size), (0x1ffb000, 5000));
        assert_eq!(p[0].gvaddr, 0x1ffd000);
        // With offset= the gvaddr moves, the gpaddr does not.
        let l = Layout::new(0, 32 * M, 0xC000_0000, 0);
        let g = Guards {
            binary: 0xC080_0000..0xC090_0000,
            ..native(&l)
        };
        let p = g.place_modules(&[10000]).unwrap();
        assert_eq!((p[0].gpaddr, p[0].gvaddr), (0x1ffd000, 0xC1FF_D000));
    }

    #[test]
    fn module_errors() {
        let l = Layout::new(0, 32 * M, 0, 0);
        let g = native(&l);
        assert_eq!(
            g.place_modules(&[1, 2, 3, 4]),
            Err((3, ModuleError::TooMany { count: 4 }))
        );
        // After a 20 MB module the ceiling is 12 MB.
        assert_eq!(
            g.place_modules(&[20 * M as u64, 13 * M as u64]),
            Err((
                1,
                ModuleError::TooBig {
                    size: 13 * M as u64,
                    room: 12 * M as u64
                }
            ))
        );
        // Reaching down into the binary at 8..9 MB.
        let e = g
            .place_modules(&[20 * M as u64, 3 * M as u64 + 1])
            .unwrap_err();
        assert!(matches!(
            e,
            (
                1,
                ModuleError::Overlaps {
                    with: Conflict::Binary(_),
                    gpaddr: 0x8f_f000,
                    ..
                }
            )
        ));
        assert!(g.place_modules(&[20 * M as u64, 3 * M as u64]).is_ok());
        // The UTCB / KIP areas.
        let g2 = Guards { binary: 0..0, ..g };
        let e = g2.place_modules(&[32 * M as u64 - 0x30_6000]).unwrap_err();
        assert!(
            matches!(
                e.1,
                ModuleError::Overlaps {
                    with: Conflict::UtcbArea(_),
                    ..
                }
            ),
            "{e:?}"
        );
        let e = g2.place_modules(&[32 * M as u64 - 0x30_2000]).unwrap_err();
        assert!(matches!(
            e.1,
            ModuleError::Overlaps {
                with: Conflict::KipArea(_),
                ..
            }
        ));
        let text = std::format!("{}", e.1);
        assert!(text.contains("KIP area 0x00300000/2^14"), "{text}");
        // A module that fills the VM exactly: start 0 translates.
        let g3 = Guards {
            kip: fp(0xE000_0000, 14),
            utcb: fp(0xE000_4000, 14),
            ..g2
        };
        assert_eq!(g3.place_modules(&[32 * M as u64]).unwrap()[0].gpaddr, 0);
        // A zero-size first module sits at gpaddr = size, which does not translate.
        assert!(matches!(
            g3.place_modules(&[0]),
            Err((0, ModuleError::Untranslatable { .. }))
        ));
    }

    #[test]
    fn wedge_physical_range_is_protected() {
        // Wedge at 16 MB in a 20 MB VM (the wedge's binary is at 0xBC..., so
        // the original's guest-virtual checks never see it).
        let l = Layout::new(0, 20 * M, 0, 16 * M).with_entry(0xBC10_0000);
        let protected = [Protected {
            kind: ProtectedKind::Wedge,
            gp: 16 * M as u64..17 * M as u64 + 0x8000,
        }];
        let g = Guards {
            layout: &l,
            wedge_phys_size: 0,
            binary: 0xBC10_0000..0xBC20_0000,
            kip: fp(0xBC1F_0000, 12),
            utcb: fp(0xBC1F_1000, 12),
            protected: &protected,
        };
        let e = g.place_modules(&[3 * M as u64]).unwrap_err();
        assert_eq!(
            e,
            (
                0,
                ModuleError::Overlaps {
                    gpaddr: 17 * M,
                    gvaddr: 17 * M,
                    size: 3 * M,
                    with: Conflict::Protected(protected[0].clone())
                }
            )
        );
        assert!(
            std::format!("{}", e.1).contains("the wedge at guest-physical [0x1000000, 0x1108000)")
        );
        assert!(g.place_modules(&[3 * M as u64 - 0x8000]).is_ok());
    }

    #[test]
    fn ramdisk_placement() {
        let l = Layout::new(0, 32 * M, 0, 0);
        let g = native(&l);
        // ((32M − 5000) − 4096) rounded down to 4 KB.
        let p = g.place_ramdisk(5000).unwrap();
        assert_eq!((p.gpaddr, p.gvaddr, p.size), (0x1ffd000, 0x1ffd000, 5000));
        let l2 = Layout::new(0, 32 * M, 0xC000_0000, 0);
        let g2 = Guards {
            binary: 0xC080_0000..0xC090_0000,
            ..native(&l2)
        };
        assert_eq!(g2.place_ramdisk(5000).unwrap().gvaddr, 0xC1FF_D000);
        let room = 32 * M as u64 - 4096;
        assert_eq!(
            g.place_ramdisk(32 * M as u64),
            Err(ModuleError::TooBig {
                size: 32 * M as u64,
                room
            })
        );
        assert_eq!(
            g.place_ramdisk(room + 1),
            Err(ModuleError::TooBig {
                size: room + 1,
                room
            })
        );
        assert!(matches!(
            g.place_ramdisk(room),
            Err(ModuleError::Overlaps { .. })
        ));
        assert_eq!(
            g.place_ramdisk(1 << 40),
            Err(ModuleError::TooBig {
                size: 1 << 40,
                room
            })
        );
    }

    #[test]
    fn paddr_to_vaddr_quirk_is_used() {
        // With a non-zero initial wedge_phys_size, the original's gvaddr of a
        // module inside the wedge range is gpaddr + wedge_vaddr (§12 item 8).
        let l = Layout::new(0, 32 * M, 0, 16 * M).with_entry(0xBC00_0000);
        let g = Guards {
            layout: &l,
            wedge_phys_size: 32 * M,
            binary: 0..0,
            kip: fp(0x30_0000, 14),
            utcb: fp(0x30_4000, 14),
            protected: &[],
        };
        // gvaddr 0x1ffd000 + 0xBC000000 is far above the VM through the window.
        assert!(matches!(
            g.place_modules(&[10000]),
            Err((
                0,
                ModuleError::Untranslatable {
                    gvaddr: 0xBDFF_D000,
                    ..
                }
            ))
        ));
    }
}
