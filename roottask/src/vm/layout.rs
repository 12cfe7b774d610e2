//! Per-VM address translation (spec §3.2).
//!
//! Guest addresses are ia32 words (`u32`) and every guest-side sum is taken
//! modulo 2^32 exactly as the original does with `L4_Word_t`; host addresses
//! (haddr) are `u64`, so `haddr_base + gpaddr` never wraps.

/// Alignment the wedge window's virtual base is rounded down to (64 MB, §3.2).
pub const WEDGE_VADDR_ALIGN: u32 = 64 << 20;

/// The translations kept per VM (vm.h: haddr_base, paddr_len, vaddr_offset,
/// wedge_paddr, wedge_vaddr).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Layout {
    /// Host address of guest-physical 0 (the VM block's base, §3.1).
    pub haddr_base: u64,
    /// VM size in bytes (4 MB multiple): gpaddr is valid iff `< size`.
    pub size: u32,
    /// `offset=`, later changed by `set_virtual_offset`: gvaddr = gpaddr + offset.
    pub vaddr_offset: u32,
    /// `wedgeinstall=`: gpaddr of the wedge; 0 = no wedge window.
    pub wedge_paddr: u32,
    /// Start of the wedge window in guest-virtual space (0 without a wedge).
    pub wedge_vaddr: u32,
}

impl Layout {
    /// A layout without wedge window position yet (see [`Layout::with_entry`]).
    pub const fn new(haddr_base: u64, size: u32, vaddr_offset: u32, wedge_paddr: u32) -> Layout {
        Layout {
            haddr_base,
            size,
            vaddr_offset,
            wedge_paddr,
            wedge_vaddr: 0,
        }
    }

    /// The layout once the VM module's ELF entry is known: with a wedge
    /// (`wedge_paddr != 0`) the window starts at the entry rounded down to
    /// 64 MB (`elf_load`, §3.2); without one `wedge_vaddr` stays 0.
    pub const fn with_entry(self, entry: u32) -> Layout {
        let wedge_vaddr = if self.wedge_paddr != 0 {
            entry - entry % WEDGE_VADDR_ALIGN
        } else {
            0
        };
        Layout {
            wedge_vaddr,
            ..self
        }
    }

    /// Does a wedge window exist?
    pub const fn has_wedge(&self) -> bool {
        self.wedge_paddr != 0
    }

    /// Is `gvaddr` inside the (upward open-ended) wedge window?
    pub const fn in_wedge_window(&self, gvaddr: u32) -> bool {
        self.wedge_paddr != 0 && gvaddr >= self.wedge_vaddr
    }

    /// gvaddr → gpaddr (`client_vaddr_to_haddr` without the base, §3.2):
    /// through the wedge window if it applies, else minus `vaddr_offset`,
    /// modulo 2^32; `None` unless the result is below `size`.
    pub const fn gvaddr_to_gpaddr(&self, gvaddr: u32) -> Option<u32> {
        let gp = if self.in_wedge_window(gvaddr) {
            gvaddr
                .wrapping_sub(self.wedge_vaddr)
                .wrapping_add(self.wedge_paddr)
        } else {
            gvaddr.wrapping_sub(self.vaddr_offset)
        };
        if gp < self.size {
            Some(gp)
        } else {
            None
        }
    }

    /// gpaddr → haddr (`client_paddr_to_haddr`): valid iff `gpaddr < size`.
    pub const fn gpaddr_to_haddr(&self, gpaddr: u32) -> Option<u64> {
        if gpaddr < self.size {
            Some(self.haddr_base + gpaddr as u64)
        } else {
            None
        }
    }

    /// gvaddr → haddr (`client_vaddr_to_haddr`), used for ELF loading,
    /// section lookup and page faults.
    pub const fn gvaddr_to_haddr(&self, gvaddr: u32) -> Option<u64> {
        match self.gvaddr_to_gpaddr(gvaddr) {
            Some(gp) => self.gpaddr_to_haddr(gp),
            None => None,
        }
    }

    /// gpaddr → gvaddr (`client_paddr_to_vaddr`, used only for the module and
    /// ramdisk conflict checks), reproduced as the original computes it
    /// (§3.2, §12 item 8): inside `[wedge_paddr, wedge_paddr + wedge_phys_size)`
    /// the result is `gpaddr + wedge_vaddr` (not relative to `wedge_paddr`),
    /// else `gpaddr + vaddr_offset`; all modulo 2^32. `wedge_phys_size` is
    /// the shared page's value at load time (the guest image's initial value).
    pub const fn gpaddr_to_gvaddr(&self, gpaddr: u32, wedge_phys_size: u32) -> u32 {
        if gpaddr >= self.wedge_paddr && gpaddr < self.wedge_paddr.wrapping_add(wedge_phys_size) {
            gpaddr.wrapping_add(self.wedge_vaddr)
        } else {
            gpaddr.wrapping_add(self.vaddr_offset)
        }
    }

    /// Does `[gpaddr, gpaddr + len)` lie inside the VM? (`len == 0`: `gpaddr <= size`.)
    pub const fn contains_gp_range(&self, gpaddr: u32, len: u64) -> bool {
        gpaddr as u64 + len <= self.size as u64
    }

    /// The guest range `[gvaddr, gvaddr + len)` as one contiguous gpaddr
    /// range: the first byte translates and the last byte translates to
    /// `first + len - 1`. `None` if any part is outside the VM or the range
    /// straddles the wedge window's lower edge (two separate host pieces).
    pub const fn gv_range_to_gpaddr(&self, gvaddr: u32, len: u32) -> Option<u32> {
        let Some(first) = self.gvaddr_to_gpaddr(gvaddr) else {
            return None;
        };
        if len == 0 {
            return Some(first);
        }
        let Some(last) = self.gvaddr_to_gpaddr(gvaddr.wrapping_add(len - 1)) else {
            return None;
        };
        if last as u64 == first as u64 + (len as u64 - 1) {
            Some(first)
        } else {
            None
        }
    }

    /// `set_virtual_offset` (§3.2, §11 item 11): later translations use `offset`.
    pub fn set_virtual_offset(&mut self, offset: u32) {
        self.vaddr_offset = offset;
    }

    /// The host range of the whole VM block.
    pub const fn host_range(&self) -> core::ops::Range<u64> {
        self.haddr_base..self.haddr_base + self.size as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u32 = 1 << 20;

    fn wedge_vm() -> Layout {
        // 64 MB VM at host 16 MB, wedge installed at 16 MB, entry in the
        // afterburn wedge's link area (CONFIG_WEDGE_VIRT = 0xBC000000).
        Layout::new(0x100_0000, 64 * M, 0, 16 * M).with_entry(0xBC10_2345)
    }

    #[test]
    fn wedge_window_is_entry_rounded_to_64m() {
        let l = wedge_vm();
        assert_eq!(l.wedge_vaddr, 0xBC00_0000);
        assert_eq!(l.gvaddr_to_gpaddr(0xBC00_0000), Some(16 * M));
        assert_eq!(l.gvaddr_to_haddr(0xBC00_1000), Some(0x200_1000));
        // Open-ended upward: 0xBC000000 + 48 MB is gpaddr 64 MB = size → invalid.
        assert_eq!(l.gvaddr_to_gpaddr(0xBC00_0000 + 48 * M), None);
        assert_eq!(
            l.gvaddr_to_gpaddr(0xBC00_0000 + 48 * M - 1),
            Some(64 * M - 1)
        );
        // Below the window: 1:1 with offset 0.
        assert_eq!(l.gvaddr_to_gpaddr(0x1234), Some(0x1234));
        assert_eq!(l.gvaddr_to_gpaddr(64 * M), None);
        // No wedge: wedge_vaddr stays 0 and everything goes through the offset.
        let n = Layout::new(0, 32 * M, 0, 0).with_entry(0xBC10_0000);
        assert_eq!(n.wedge_vaddr, 0);
        assert_eq!(n.gvaddr_to_gpaddr(0xBC10_0000), None);
    }

    #[test]
    fn offset_is_modulo_2_32_and_set_virtual_offset_applies() {
        let mut l = wedge_vm();
        l.set_virtual_offset(0xC000_0000);
        // 0xC0001000 is above wedge_vaddr, so it is wedge memory: 0x4001000 + 16M.
        assert_eq!(l.gvaddr_to_gpaddr(0xC000_1000), None);
        let mut n = Layout::new(0x800_0000, 32 * M, 0xC000_0000, 0).with_entry(0xC010_0000);
        assert_eq!(n.gvaddr_to_gpaddr(0xC000_1000), Some(0x1000));
        // Below the offset wraps to a huge gpaddr: invalid, no panic.
        assert_eq!(n.gvaddr_to_gpaddr(0xBFFF_FFFF), None);
        assert_eq!(n.gvaddr_to_gpaddr(0), None);
        n.set_virtual_offset(0);
        assert_eq!(n.gvaddr_to_haddr(0x1000), Some(0x800_1000));
        assert_eq!(n.gpaddr_to_haddr(32 * M), None);
        assert_eq!(
            n.gpaddr_to_haddr(32 * M - 1),
            Some(0x800_0000 + 32 * M as u64 - 1)
        );
    }

    #[test]
    fn paddr_to_vaddr_reproduces_the_original() {
        let l = wedge_vm();
        // wedge_phys_size 0 (initial image value): always + vaddr_offset.
        assert_eq!(l.gpaddr_to_gvaddr(16 * M, 0), 16 * M);
        // With a size, the original adds wedge_vaddr to the absolute gpaddr.
        assert_eq!(l.gpaddr_to_gvaddr(16 * M, M), 16 * M + 0xBC00_0000);
        assert_eq!(l.gpaddr_to_gvaddr(17 * M, M), 17 * M);
        // Wrapping instead of overflow.
        let w = Layout::new(0, 64 * M, 0xFFFF_F000, 0);
        assert_eq!(w.gpaddr_to_gvaddr(0x2000, 0), 0x1000);
    }

    #[test]
    fn ranges_must_be_contiguous() {
        let l = wedge_vm();
        assert_eq!(l.gv_range_to_gpaddr(0xBC00_0000, 0x1000), Some(16 * M));
        // Straddling the wedge window's lower edge: both ends translate, but
        // to unrelated places.
        assert_eq!(l.gvaddr_to_gpaddr(0xBBFF_F000), None);
        let s = Layout::new(0, 0xC000_0000, 0, 16 * M).with_entry(0xBC00_0000);
        assert!(s.gvaddr_to_gpaddr(0xBBFF_FFFF).is_some());
        assert!(s.gvaddr_to_gpaddr(0xBC00_0FFF).is_some());
        assert_eq!(s.gv_range_to_gpaddr(0xBBFF_F000, 0x2000), None);
        assert!(l.contains_gp_range(64 * M - 4, 4));
        assert!(!l.contains_gp_range(64 * M - 4, 5));
        assert!(!l.contains_gp_range(u32::MAX, u32::MAX as u64));
    }
}
