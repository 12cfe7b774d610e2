//! A tiny ELF32 image builder for the host tests: header, program headers,
//! section headers and a section-name string table.

use std::string::String;
use std::vec::Vec;

use super::shared::SHARED_SIZE;

pub(crate) fn set16(v: &mut [u8], at: usize, x: u16) {
    v[at..at + 2].copy_from_slice(&x.to_le_bytes());
}

pub(crate) fn set32(v: &mut [u8], at: usize, x: u32) {
    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
}

struct Seg {
    vaddr: u32,
    data: Vec<u8>,
    memsz: u32,
}

struct Sec {
    name: String,
    addr: u32,
    size: u32,
}

/// Builds little-endian ELF32 ET_EXEC images.
pub(crate) struct ElfBuilder {
    entry: u32,
    segs: Vec<Seg>,
    secs: Vec<Sec>,
    shared_seg: Option<usize>,
}

/// The shared page's initial header: version 1, cpu_cnt 1, rest 0.
fn shared_head(version: u32, cpu_cnt: u32) -> Vec<u8> {
    let mut h = std::vec![0u8; 84];
    set32(&mut h, 0, version);
    set32(&mut h, 4, cpu_cnt);
    h
}

impl ElfBuilder {
    pub(crate) fn new(entry: u32) -> ElfBuilder {
        ElfBuilder {
            entry,
            segs: Vec::new(),
            secs: Vec::new(),
            shared_seg: None,
        }
    }

    /// An afterburn-wedge-like image linked at 0xBC100000: text with a
    /// startup record at +0x80, `.l4kip`/`.l4utcb` (4 KB each) and the shared
    /// page at 0xBC120000 in a data segment followed by bss.
    pub(crate) fn wedge() -> ElfBuilder {
        let mut b = ElfBuilder::new(0xBC10_0000);
        let mut text = std::vec![0x90u8; 0x100];
        set32(&mut text, 0x80, 1);
        set32(&mut text, 0x84, 0xBC10_0040);
        set32(&mut text, 0x88, 0xBC11_F000);
        b.segment(0xBC10_0000, &text, 0x100);
        b.shared_seg = Some(b.segs.len());
        b.segment(0xBC12_0000, &shared_head(1, 1), SHARED_SIZE as u32 + 0x1000);
        b.set_section(".l4kip", 0xBC10_E000, 0x1000);
        b.set_section(".l4utcb", 0xBC10_F000, 0x1000);
        b.set_section(".resourcemon", 0xBC12_0000, SHARED_SIZE as u32);
        b.set_section(".resourcemon.startup", 0xBC10_0080, 12);
        b
    }

    /// A native guest linked (and entered) at `base`, shared page 64 KB
    /// above, no area or startup sections.
    pub(crate) fn native(base: u32) -> ElfBuilder {
        let mut b = ElfBuilder::new(base);
        b.segment(base, &[0xcc; 0x100], 0x100);
        b.shared_seg = Some(b.segs.len());
        b.segment(base + 0x1_0000, &shared_head(1, 1), SHARED_SIZE as u32);
        b.set_section(".resourcemon", base + 0x1_0000, SHARED_SIZE as u32);
        b
    }

    pub(crate) fn segment(&mut self, vaddr: u32, data: &[u8], memsz: u32) -> &mut Self {
        self.segs.push(Seg {
            vaddr,
            data: data.to_vec(),
            memsz,
        });
        self
    }

    pub(crate) fn set_section(&mut self, name: &str, addr: u32, size: u32) -> &mut Self {
        match self.secs.iter_mut().find(|s| s.name == name) {
            Some(s) => {
                s.addr = addr;
                s.size = size;
            }
            None => self.secs.push(Sec {
                name: name.into(),
                addr,
                size,
            }),
        }
        self
    }

    /// Rewrites the shared page's initial version and cpu_cnt.
    pub(crate) fn shared_header(&mut self, version: u32, cpu_cnt: u32) -> &mut Self {
        let i = self.shared_seg.expect("image has a shared page segment");
        self.segs[i].data = shared_head(version, cpu_cnt);
        self
    }

    /// Section headers in the image: null, ours, `.shstrtab`.
    pub(crate) fn section_count(&self) -> usize {
        self.secs.len() + 2
    }

    pub(crate) fn build(&self) -> Vec<u8> {
        let align4 = |v: &mut Vec<u8>| {
            while !v.len().is_multiple_of(4) {
                v.push(0);
            }
        };
        let mut v = std::vec![0u8; 52 + 32 * self.segs.len()];
        v[..4].copy_from_slice(&[0x7f, b'E', b'L', b'F']);
        v[4] = 1; // ELFCLASS32
        v[5] = 1; // little-endian
        v[6] = 1; // EV_CURRENT
        set16(&mut v, 16, 2); // ET_EXEC
        set16(&mut v, 18, 3); // EM_386
        set32(&mut v, 20, 1);
        set32(&mut v, 24, self.entry);
        set32(&mut v, 28, 52);
        set16(&mut v, 40, 52);
        set16(&mut v, 42, 32);
        set16(&mut v, 44, self.segs.len() as u16);
        for (i, s) in self.segs.iter().enumerate() {
            align4(&mut v);
            let off = v.len() as u32;
            v.extend_from_slice(&s.data);
            let ph = 52 + 32 * i;
            set32(&mut v, ph, 1); // PT_LOAD
            set32(&mut v, ph + 4, off);
            set32(&mut v, ph + 8, s.vaddr);
            set32(&mut v, ph + 12, s.vaddr);
            set32(&mut v, ph + 16, s.data.len() as u32);
            set32(&mut v, ph + 20, s.memsz);
            set32(&mut v, ph + 24, 7);
            set32(&mut v, ph + 28, 0x1000);
        }
        // Section names.
        let mut names = std::vec![0u8];
        let mut name_at = Vec::new();
        for s in &self.secs {
            name_at.push(names.len() as u32);
            names.extend_from_slice(s.name.as_bytes());
            names.push(0);
        }
        let shstr_name = names.len() as u32;
        names.extend_from_slice(b".shstrtab\0");
        align4(&mut v);
        let names_off = v.len() as u32;
        v.extend_from_slice(&names);
        align4(&mut v);
        let shoff = v.len();
        let count = self.section_count();
        v.resize(shoff + 40 * count, 0);
        for (i, s) in self.secs.iter().enumerate() {
            let sh = shoff + 40 * (i + 1);
            set32(&mut v, sh, name_at[i]);
            set32(&mut v, sh + 4, 1); // PROGBITS
            set32(&mut v, sh + 12, s.addr);
            set32(&mut v, sh + 20, s.size);
            set32(&mut v, sh + 32, 4);
        }
        let sh = shoff + 40 * (count - 1);
        set32(&mut v, sh, shstr_name);
        set32(&mut v, sh + 4, 3); // STRTAB
        set32(&mut v, sh + 16, names_off);
        set32(&mut v, sh + 20, names.len() as u32);
        set32(&mut v, sh + 32, 1);
        set32(&mut v, 32, shoff as u32);
        set16(&mut v, 46, 40);
        set16(&mut v, 48, count as u16);
        set16(&mut v, 50, (count - 1) as u16);
        assert_eq!(
            v.as_ptr() as usize % 4,
            0,
            "test images must be 4-byte aligned"
        );
        v
    }
}
