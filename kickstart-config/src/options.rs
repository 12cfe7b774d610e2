//! The VM options on a group's first module line (spec §2.3) and the few
//! things read from later lines of a group (spec §2.4).
//!
//! [`VmOptions::parse`] is the strict, word-based reader. [`OriginalReading`]
//! is the original's substring-based reading of the same line. A line is
//! accepted only when both agree; where they differ, the error points at the
//! word that made the original read something else (see the crate docs).

use core::fmt;

use crate::line::{find, find_all, word_at, Line};
use crate::num::{compat_size, parse_size, NumberErrorKind, Size, MIB};

/// VM size used when neither `vmsize=` nor `mem=` gives a non-zero value
/// (`TASK_LEN`, resourcemon.h; spec §2.3).
pub const DEFAULT_VM_SIZE: u32 = 168 * MIB;

/// The words that put a VM into ramdisk mode when they appear anywhere in a
/// word (spec §2.3). `initrd` is handled separately, see [`is_ramdisk_word`].
pub const RAMDISK_DEVICE_TRIGGERS: [&str; 2] = ["/dev/ram", "/dev/rd/"];

/// The valued VM options, in the order [`VmOptions`] stores them.
const VALUED: [&str; 7] = [
    "vmsize=",
    "offset=",
    "wedgeinstall=",
    "wedgesize=",
    "vcpus=",
    "pcpus=",
    "clones=",
];
const VMSIZE: usize = 0;
const OFFSET: usize = 1;
const WEDGEINSTALL: usize = 2;
const WEDGESIZE: usize = 3;
const VCPUS: usize = 4;
const PCPUS: usize = 5;
const CLONES: usize = 6;

/// This monitor's supervision options (not the original's, which enters the
/// kernel debugger when a guest dies): `restart=N` restarts, the first one
/// after `backoff=MS` ms (doubling each time), and `watchdog=MS`: a VM
/// that has not reported init complete this long after its start is dead.
/// Kept apart from the original's valued options: it has no reading of them to
/// cross-check against.
pub const SUPERVISION: [&str; 3] = ["restart=", "backoff=", "watchdog="];

/// Supervision policy of a VM group ([`SUPERVISION`]); all absent by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Supervision {
    /// `restart=N`: restarts after the VM dies (0 = stays stopped).
    pub restart: u32,
    /// `backoff=MS`: wait before the first restart (None: the monitor's default).
    pub backoff_ms: Option<u32>,
    /// `watchdog=MS`: time allowed from start to init complete (None: no watchdog).
    pub watchdog_ms: Option<u32>,
}

impl Supervision {
    /// Is any supervision option given?
    pub fn is_set(&self) -> bool {
        *self != Supervision::default()
    }
}

impl fmt::Display for Supervision {
    /// ` restart=N backoff=MSms watchdog=MSms` (only the options given).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.restart != 0 {
            write!(f, " restart={}", self.restart)?;
        }
        if let Some(b) = self.backoff_ms {
            write!(f, " backoff={b}ms")?;
        }
        if let Some(w) = self.watchdog_ms {
            write!(f, " watchdog={w}ms")?;
        }
        Ok(())
    }
}

/// Is `word` a ramdisk trigger in the strict reading? Any word containing
/// `/dev/ram` or `/dev/rd/` (a root device on a ramdisk), or exactly `initrd`,
/// or a word starting with `initrd=`. Words such as `noinitrd` are not.
pub fn is_ramdisk_word(word: &str) -> bool {
    RAMDISK_DEVICE_TRIGGERS
        .iter()
        .any(|t| find(word, t).is_some())
        || word == "initrd"
        || word.starts_with("initrd=")
}

/// What the original would have read where the strict reading disagrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// The flag would have been set.
    Flag,
    /// The option would have had this value (0 = absent, default applies).
    Value(u32),
    /// The VM would have been put into ramdisk mode.
    RamdiskMode,
}

/// What is wrong with one option of one command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionErrorKind {
    /// The value text is not a number the strict reader accepts.
    Number(NumberErrorKind),
    /// The option appears twice as a word; the original silently used the first.
    Duplicate {
        /// Byte offset of the first occurrence.
        first: usize,
    },
    /// A substring match inside another word makes the original read this
    /// line differently from its words (e.g. `noddos` means `ddos`).
    Substring {
        /// What the original would have read.
        original: Reading,
    },
    /// A value that is not one of the accepted words.
    Value {
        /// The accepted values, as the message lists them.
        expected: &'static str,
    },
}

/// A refused option: which option, where (byte offset in the full module
/// command line), the offending word, and why. `Display` says what would
/// have been accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionError<'a> {
    /// The option name as searched, e.g. `vmsize=` or `ddos`.
    pub option: &'static str,
    /// Byte offset in the full command line where the problem starts.
    pub at: usize,
    /// The whole word containing the problem.
    pub word: &'a str,
    /// Byte offset of `word` in the full command line (for underlining).
    pub word_at: usize,
    /// The problem.
    pub kind: OptionErrorKind,
}

impl fmt::Display for OptionError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            OptionErrorKind::Number(k) => {
                write!(f, "option `{}` at byte {} in `{}`: {}", self.option, self.at, self.word, k)
            }
            OptionErrorKind::Duplicate { first } => write!(
                f,
                "option `{}` at byte {} repeats the one at byte {}; the original silently used the first; expected each option once",
                self.option, self.at, first
            ),
            OptionErrorKind::Substring { original } => {
                write!(
                    f,
                    "`{}` at byte {} contains `{}`: the original resource monitor matches options as substrings (spec §2.1) and would read ",
                    self.word, self.word_at, self.option
                )?;
                match original {
                    Reading::Flag => write!(f, "`{}` here", self.option.trim_end_matches('=')),
                    Reading::Value(0) => write!(f, "`{}` as 0 (absent) here", self.option),
                    Reading::Value(v) => write!(f, "`{}{}` here", self.option, Size(v)),
                    Reading::RamdiskMode => f.write_str("ramdisk mode here"),
                }?;
                f.write_str(", which is not what the words say; expected the option as a word of its own (")?;
                match original {
                    Reading::RamdiskMode => f.write_str("`initrd`, `initrd=…`, or a root device `/dev/ram…`/`/dev/rd/…`"),
                    _ => write!(f, "`{}`", self.option),
                }?;
                f.write_str(") and no other word containing it")
            }
            OptionErrorKind::Value { expected } => write!(
                f,
                "option `{}` at byte {} in `{}`: expected {expected}",
                self.option, self.at, self.word
            ),
        }
    }
}

/// The parsed VM options of a group's first module (spec §2.3). Values that
/// are absent or 0 are `None`/0: the original cannot tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmOptions<'a> {
    /// The split command line; `line.options` is what the original copies
    /// verbatim into the shared page's `cmdline` for the guest.
    pub line: Line<'a>,
    /// `vmstart`: this module starts a VM group (spec §1.5).
    pub vmstart: bool,
    /// `vmsize=`, if non-zero.
    pub vmsize: Option<u32>,
    /// The first non-zero numeric `mem=`, read only when `vmsize=` is absent.
    pub mem: Option<u32>,
    /// `offset=`: guest virtual offset of the guest image (0 if absent).
    pub offset: u32,
    /// `wedgeinstall=`: guest-physical address of the wedge (0 = no wedge window).
    pub wedgeinstall: u32,
    /// `wedgesize=`: only used for the "wedge fits" check.
    pub wedgesize: u32,
    /// `vcpus=`, if non-zero.
    pub vcpus: Option<u32>,
    /// `pcpus=`, if non-zero (before clamping to the CPU count).
    pub pcpus: Option<u32>,
    /// `clones=`, if non-zero.
    pub clones: Option<u32>,
    /// `ddos`: device-driver VM.
    pub ddos: bool,
    /// `noclientdma`: only meaningful with `ddos`.
    pub noclientdma: bool,
    /// Ramdisk mode: the next module is installed as a ramdisk.
    pub ramdisk: bool,
    /// Byte offset (in the full line) of `grubdhcp` in an `ip=grubdhcp` word.
    pub grubdhcp: Option<usize>,
    /// `restart=`, `backoff=`, `watchdog=` ([`SUPERVISION`]).
    pub supervision: Supervision,
}

/// If `word` (at `at`) starts with one of `keys`, parse its size value into
/// the matching slot of `values` (with the word's position); a key given
/// twice is an error naming the first.
fn take_sized<'a>(
    word: &'a str,
    at: usize,
    keys: &[&'static str],
    values: &mut [Option<(usize, u32)>],
) -> Result<(), OptionError<'a>> {
    for (k, key) in keys.iter().enumerate() {
        if let Some(text) = word.strip_prefix(key) {
            if let Some((first, _)) = values[k] {
                return Err(OptionError {
                    option: key,
                    at,
                    word,
                    word_at: at,
                    kind: OptionErrorKind::Duplicate { first },
                });
            }
            let v = parse_size(text).map_err(|e| OptionError {
                option: key,
                at: at + key.len() + e.at,
                word,
                word_at: at,
                kind: OptionErrorKind::Number(e.kind),
            })?;
            values[k] = Some((at, v));
        }
    }
    Ok(())
}

impl<'a> VmOptions<'a> {
    /// Parses a group's first module command line (path included) strictly
    /// and cross-checks it against the original's substring reading.
    pub fn parse(full: &'a str) -> Result<Self, OptionError<'a>> {
        let line = Line::split(full);
        let mut o = VmOptions {
            line,
            vmstart: false,
            vmsize: None,
            mem: None,
            offset: 0,
            wedgeinstall: 0,
            wedgesize: 0,
            vcpus: None,
            pcpus: None,
            clones: None,
            ddos: false,
            noclientdma: false,
            ramdisk: false,
            grubdhcp: None,
            supervision: Supervision::default(),
        };
        let mut values: [Option<(usize, u32)>; 7] = [None; 7];
        let mut supervision: [Option<(usize, u32)>; 3] = [None; 3];
        let mut first_mem: Option<(usize, &'a str)> = None;
        for (at, word) in line.words() {
            match word {
                "vmstart" => o.vmstart = true,
                "ddos" => o.ddos = true,
                "noclientdma" => o.noclientdma = true,
                _ => {}
            }
            if is_ramdisk_word(word) {
                o.ramdisk = true;
            }
            if word.starts_with("ip=grubdhcp") && o.grubdhcp.is_none() {
                o.grubdhcp = Some(at + 3);
            }
            take_sized(word, at, &VALUED, &mut values)?;
            take_sized(word, at, &SUPERVISION, &mut supervision)?;
            if let Some(text) = word.strip_prefix("mem=") {
                // Only numeric-looking values are the monitor's business;
                // `mem=exactmap` and the like belong to the guest.
                if matches!(text.as_bytes().first(), Some(b'0'..=b'9' | b'+' | b'-'))
                    && first_mem.is_none()
                {
                    let v = parse_size(text);
                    match v {
                        Ok(0) => {}
                        Ok(_) => first_mem = Some((at, text)),
                        Err(_) if values[VMSIZE].is_none() => first_mem = Some((at, text)),
                        Err(_) => {}
                    }
                }
            }
        }
        let val = |k: usize| values[k].map(|(_, v)| v).unwrap_or(0);
        let nz = |v: u32| (v != 0).then_some(v);
        o.vmsize = nz(val(VMSIZE));
        o.offset = val(OFFSET);
        o.wedgeinstall = val(WEDGEINSTALL);
        o.wedgesize = val(WEDGESIZE);
        o.vcpus = nz(val(VCPUS));
        o.pcpus = nz(val(PCPUS));
        o.clones = nz(val(CLONES));
        o.supervision = Supervision {
            restart: supervision[0].map(|(_, v)| v).unwrap_or(0),
            backoff_ms: supervision[1].map(|(_, v)| v),
            watchdog_ms: supervision[2].map(|(_, v)| v).filter(|&v| v != 0),
        };
        if o.vmsize.is_none() {
            if let Some((at, text)) = first_mem {
                let v = parse_size(text).map_err(|e| OptionError {
                    option: "mem=",
                    at: at + 4 + e.at,
                    word: word_at(full, at).1,
                    word_at: at,
                    kind: OptionErrorKind::Number(e.kind),
                })?;
                o.mem = nz(v);
            }
        }
        o.cross_check()?;
        Ok(o)
    }

    /// Compares with the original's reading and reports the first difference.
    fn cross_check(&self) -> Result<(), OptionError<'a>> {
        let orig = OriginalReading::of(self.line.options);
        let base = self.line.options_at;
        let full = self.line.full;
        let err = |option: &'static str, rel: usize, original: Reading| {
            let at = base + rel;
            let (word_start, word) = word_at(full, at);
            OptionError {
                option,
                at,
                word,
                word_at: word_start,
                kind: OptionErrorKind::Substring { original },
            }
        };
        for (key, mine, theirs) in [
            ("vmstart", self.vmstart, orig.vmstart),
            ("ddos", self.ddos, orig.ddos),
            ("noclientdma", self.noclientdma, orig.noclientdma),
        ] {
            if mine != theirs {
                return Err(err(
                    key,
                    find(self.line.options, key).unwrap_or(0),
                    Reading::Flag,
                ));
            }
        }
        let mine = [
            self.vmsize.unwrap_or(0),
            self.offset,
            self.wedgeinstall,
            self.wedgesize,
            self.vcpus.unwrap_or(0),
            self.pcpus.unwrap_or(0),
            self.clones.unwrap_or(0),
        ];
        for (k, key) in VALUED.iter().enumerate() {
            if mine[k] != orig.values[k] {
                return Err(err(
                    key,
                    find(self.line.options, key).unwrap_or(0),
                    Reading::Value(orig.values[k]),
                ));
            }
        }
        if self.requested_size() != orig.requested_size() {
            let rel = orig
                .mem_at
                .or_else(|| find(self.line.options, "mem="))
                .unwrap_or(0);
            return Err(err("mem=", rel, Reading::Value(orig.mem)));
        }
        if self.ramdisk != orig.ramdisk {
            return Err(err(
                "initrd",
                find(self.line.options, "initrd").unwrap_or(0),
                Reading::RamdiskMode,
            ));
        }
        if self.grubdhcp.is_some() != orig.grubdhcp {
            return Err(err(
                "ip=grubdhcp",
                find(self.line.options, "ip=grubdhcp").unwrap_or(0),
                Reading::Flag,
            ));
        }
        Ok(())
    }

    /// The requested VM size before rounding: `vmsize=`, else `mem=`, else 168 MB.
    pub fn requested_size(&self) -> u32 {
        self.vmsize.or(self.mem).unwrap_or(DEFAULT_VM_SIZE)
    }

    /// The VM size rounded up to 4 MB (spec §3.1), or `None` if that exceeds 32 bits.
    pub fn vm_size(&self) -> Option<u32> {
        round_up_4m(self.requested_size())
    }

    /// Number of VCPUs (default 1).
    pub fn vcpu_count(&self) -> u32 {
        self.vcpus.unwrap_or(1)
    }

    /// Number of physical CPUs requested (default 1), before clamping.
    pub fn pcpu_count(&self) -> u32 {
        self.pcpus.unwrap_or(1)
    }

    /// Total number of instances of this group (default 1).
    pub fn clone_count(&self) -> u32 {
        self.clones.unwrap_or(1)
    }

    /// Client DMA is enabled only by `ddos` without `noclientdma` (spec §8.4).
    pub fn client_dma(&self) -> bool {
        self.ddos && !self.noclientdma
    }

    /// The options string copied verbatim to the guest (the original copies
    /// the whole string, monitor options included).
    pub fn guest_cmdline(&self) -> &'a str {
        self.line.options
    }

    /// The words of the options string that are not the monitor's own
    /// options: what only the guest interprets.
    pub fn guest_words(&self) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        self.line.words().filter(|(_, w)| !is_monitor_word(w))
    }
}

/// Is `word` one of the resource monitor's own VM options (not `mem=`, ramdisk
/// triggers or `ip=`, which the guest reads as well)?
pub fn is_monitor_word(word: &str) -> bool {
    matches!(word, "vmstart" | "ddos" | "noclientdma")
        || VALUED
            .iter()
            .chain(SUPERVISION.iter())
            .any(|k| word.starts_with(k))
}

/// Rounds up to a multiple of 4 MB, `None` on 32-bit overflow.
pub fn round_up_4m(v: u32) -> Option<u32> {
    const M4: u32 = 4 * MIB;
    v.checked_add(M4 - 1).map(|x| x & !(M4 - 1))
}

/// The original's reading of an options string: plain substring searches,
/// first occurrence wins, `mem=` tried left to right (spec §2.1–2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginalReading {
    /// `vmstart` found anywhere.
    pub vmstart: bool,
    /// `ddos` found anywhere.
    pub ddos: bool,
    /// `noclientdma` found anywhere.
    pub noclientdma: bool,
    /// vmsize, offset, wedgeinstall, wedgesize, vcpus, pcpus, clones (0 = absent).
    pub values: [u32; 7],
    /// The first non-zero `mem=` value (0 if none).
    pub mem: u32,
    /// Offset (in the options string) of the `mem=` occurrence that gave `mem`.
    pub mem_at: Option<usize>,
    /// `/dev/ram`, `/dev/rd/` or `initrd` found anywhere.
    pub ramdisk: bool,
    /// `ip=grubdhcp` found anywhere.
    pub grubdhcp: bool,
}

impl OriginalReading {
    /// Reads an options string (path already stripped) like the original.
    pub fn of(opts: &str) -> Self {
        let value = |key: &str| {
            find(opts, key)
                .map(|i| compat_size(&opts[i + key.len()..]))
                .unwrap_or(0)
        };
        let mut values = [0; 7];
        for (k, key) in VALUED.iter().enumerate() {
            values[k] = value(key);
        }
        let mut mem = 0;
        let mut mem_at = None;
        for i in find_all(opts, "mem=") {
            let v = compat_size(&opts[i + 4..]);
            if v != 0 {
                mem = v;
                mem_at = Some(i);
                break;
            }
        }
        OriginalReading {
            vmstart: find(opts, "vmstart").is_some(),
            ddos: find(opts, "ddos").is_some(),
            noclientdma: find(opts, "noclientdma").is_some(),
            values,
            mem,
            mem_at,
            ramdisk: RAMDISK_DEVICE_TRIGGERS
                .iter()
                .chain(["initrd"].iter())
                .any(|t| find(opts, t).is_some()),
            grubdhcp: find(opts, "ip=grubdhcp").is_some(),
        }
    }

    /// The size the original requests: vmsize, else mem, else 168 MB.
    pub fn requested_size(&self) -> u32 {
        if self.values[VMSIZE] != 0 {
            self.values[VMSIZE]
        } else if self.mem != 0 {
            self.mem
        } else {
            DEFAULT_VM_SIZE
        }
    }
}

/// A later module of a group: the original only looks for `vmstart` (a group
/// boundary) and `ip=grubdhcp` there (spec §2.1, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleLine<'a> {
    /// The split command line.
    pub line: Line<'a>,
    /// The original's test: `vmstart` anywhere in the options string.
    pub vmstart: bool,
    /// Byte offset (in the full line) of `grubdhcp` in `ip=grubdhcp`, if any.
    pub grubdhcp: Option<usize>,
}

impl<'a> ModuleLine<'a> {
    /// Splits a module command line and records its group boundary marker.
    pub fn parse(full: &'a str) -> Self {
        let line = Line::split(full);
        ModuleLine {
            line,
            vmstart: find(line.options, "vmstart").is_some(),
            grubdhcp: find(line.options, "ip=grubdhcp").map(|i| line.options_at + i + 3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::{GIB, KIB};

    fn ok(l: &str) -> VmOptions<'_> {
        VmOptions::parse(l).unwrap_or_else(|e| panic!("{l}: {e}"))
    }
    fn err(l: &str) -> OptionError<'_> {
        VmOptions::parse(l).expect_err(l)
    }

    #[test]
    fn typical_wedge_line() {
        let o = ok(
            "/boot/afterburn-wedge vmstart vmsize=131072K wedgeinstall=16M ddos vcpus=2 pcpus=2",
        );
        assert!(o.vmstart && o.ddos && !o.noclientdma && o.client_dma() && !o.ramdisk);
        assert_eq!(o.vmsize, Some(128 * MIB));
        assert_eq!(o.wedgeinstall, 16 * MIB);
        assert_eq!(o.vcpu_count(), 2);
        assert_eq!(o.pcpu_count(), 2);
        assert_eq!(o.clone_count(), 1);
        assert_eq!(
            o.guest_cmdline(),
            "vmstart vmsize=131072K wedgeinstall=16M ddos vcpus=2 pcpus=2"
        );
        assert_eq!(o.guest_words().count(), 0);
    }

    #[test]
    fn supervision_options() {
        let o = ok("/g vmstart restart=3 backoff=250 watchdog=2000 name=x");
        assert_eq!(
            o.supervision,
            Supervision {
                restart: 3,
                backoff_ms: Some(250),
                watchdog_ms: Some(2000)
            }
        );
        assert_eq!(
            std::format!("{}", o.supervision),
            " restart=3 backoff=250ms watchdog=2000ms"
        );
        let words: std::vec::Vec<_> = o.guest_words().map(|(_, w)| w).collect();
        assert_eq!(words, ["name=x"]);
        // Absent: no restart, no watchdog; watchdog=0 is no watchdog.
        let d = ok("/g vmstart watchdog=0");
        assert!(!d.supervision.is_set());
        assert_eq!(std::format!("{}", d.supervision), "");
        let e = err("/g vmstart restart=2 restart=1");
        assert_eq!(
            (e.option, e.kind),
            ("restart=", OptionErrorKind::Duplicate { first: 11 })
        );
        let e = err("/g vmstart watchdog=soon");
        assert_eq!((e.option, e.at), ("watchdog=", 20));
        assert!(matches!(e.kind, OptionErrorKind::Number(_)), "{e}");
    }

    #[test]
    fn defaults() {
        let o = ok("wedge");
        assert_eq!(o.requested_size(), DEFAULT_VM_SIZE);
        assert_eq!(o.vm_size(), Some(168 * MIB));
        assert_eq!((o.vcpu_count(), o.pcpu_count(), o.clone_count()), (1, 1, 1));
        assert_eq!((o.offset, o.wedgeinstall, o.wedgesize), (0, 0, 0));
        assert!(!o.vmstart && !o.ddos && !o.ramdisk && o.grubdhcp.is_none());
    }

    #[test]
    fn each_valued_option() {
        let o =
            ok("w offset=0xC0000000 wedgeinstall=0x1000000 wedgesize=8M clones=3 vcpus=4 pcpus=0");
        assert_eq!(o.offset, 0xC000_0000);
        assert_eq!(o.wedgeinstall, 16 * MIB);
        assert_eq!(o.wedgesize, 8 * MIB);
        assert_eq!(o.clone_count(), 3);
        assert_eq!(o.vcpu_count(), 4);
        assert_eq!(o.pcpus, None, "0 means absent, like the original");
    }

    #[test]
    fn vmsize_rounds_up_to_4m() {
        assert_eq!(ok("w vmsize=5M").vm_size(), Some(8 * MIB));
        assert_eq!(ok("w vmsize=4095M").vm_size(), None);
        assert_eq!(ok("w vmsize=3G").vm_size(), Some(3 * GIB));
    }

    #[test]
    fn mem_fallback() {
        assert_eq!(ok("linux mem=64M").requested_size(), 64 * MIB);
        assert_eq!(ok("linux mem=exactmap mem=32M").requested_size(), 32 * MIB);
        assert_eq!(ok("linux vmsize=16M mem=64M").requested_size(), 16 * MIB);
        assert_eq!(
            ok("linux vmsize=16M mem=64MB").requested_size(),
            16 * MIB,
            "guest's business when vmsize= is given"
        );
        assert_eq!(ok("linux mem=0 mem=8M").requested_size(), 8 * MIB);
        let e = err("linux mem=64MB");
        assert_eq!((e.option, e.at), ("mem=", 13));
        // highmem= is read by the original as mem=.
        let e = err("linux highmem=512M mem=64M");
        assert_eq!((e.option, e.word), ("mem=", "highmem=512M"));
        assert_eq!(
            e.kind,
            OptionErrorKind::Substring {
                original: Reading::Value(512 * MIB)
            }
        );
        // With vmsize= given, highmem= is irrelevant to the original too.
        assert_eq!(
            ok("linux vmsize=64M highmem=512M").requested_size(),
            64 * MIB
        );
    }

    #[test]
    fn flags_are_words() {
        let e = err("w noddos");
        assert_eq!(
            (e.option, e.word, e.at, e.word_at),
            ("ddos", "noddos", 4, 2)
        );
        assert_eq!(
            e.kind,
            OptionErrorKind::Substring {
                original: Reading::Flag
            }
        );
        // Same meaning as the original when the word is also present.
        assert!(ok("w noddos ddos").ddos);
        assert!(err("w xvmstart").option == "vmstart");
        let o = ok("w ddos noclientdma");
        assert!(o.ddos && o.noclientdma && !o.client_dma());
        assert!(ok("w noclientdma").noclientdma);
    }

    #[test]
    fn valued_options_are_words() {
        let e = err("w xvmsize=5");
        assert_eq!(e.option, "vmsize=");
        assert_eq!(
            e.kind,
            OptionErrorKind::Substring {
                original: Reading::Value(5)
            }
        );
        // The original takes the first occurrence; if that is the word, fine.
        assert_eq!(ok("w vmsize=64M xvmsize=5").vmsize, Some(64 * MIB));
        let e = err("w vmsize=64M vmsize=32M");
        assert_eq!(e.kind, OptionErrorKind::Duplicate { first: 2 });
    }

    #[test]
    fn malformed_numbers_name_the_offset() {
        let e = err("/w vmstart vmsize=64MB");
        assert_eq!(
            (e.option, e.at, e.word, e.word_at),
            ("vmsize=", 21, "vmsize=64MB", 11)
        );
        assert_eq!(e.kind, OptionErrorKind::Number(NumberErrorKind::Trailing));
        let text = std::format!("{e}");
        assert!(
            text.contains("byte 21") && text.contains("K, M or G"),
            "{text}"
        );
        assert_eq!(
            err("w vcpus=").kind,
            OptionErrorKind::Number(NumberErrorKind::Empty)
        );
        assert_eq!(
            err("w clones=-1").kind,
            OptionErrorKind::Number(NumberErrorKind::Negative)
        );
        assert_eq!(
            err("w vmsize=4G").kind,
            OptionErrorKind::Number(NumberErrorKind::Overflow)
        );
        assert_eq!(
            err("w offset=0xZ").kind,
            OptionErrorKind::Number(NumberErrorKind::BadDigit { base: 16 })
        );
    }

    #[test]
    fn ramdisk_triggers() {
        assert!(ok("linux root=/dev/ram0").ramdisk);
        assert!(ok("linux root=/dev/rd/0").ramdisk);
        assert!(ok("linux initrd").ramdisk);
        assert!(ok("linux initrd=/x").ramdisk);
        assert!(!ok("linux root=/dev/hda1").ramdisk);
        let e = err("linux noinitrd");
        assert_eq!((e.option, e.word), ("initrd", "noinitrd"));
        assert_eq!(
            e.kind,
            OptionErrorKind::Substring {
                original: Reading::RamdiskMode
            }
        );
        assert!(ok("linux noinitrd root=/dev/ram0").ramdisk);
    }

    #[test]
    fn grubdhcp_and_passthrough() {
        let o = ok("linux ip=grubdhcp console=ttyS0 vmsize=8M");
        assert_eq!(o.grubdhcp, Some(9));
        let words: std::vec::Vec<_> = o.guest_words().map(|(_, w)| w).collect();
        assert_eq!(words, ["ip=grubdhcp", "console=ttyS0"]);
        assert!(err("linux vip=grubdhcp").option == "ip=grubdhcp");
    }

    #[test]
    fn later_module_lines() {
        let m = ModuleLine::parse("/vmlinuz root=/dev/ram0 ip=grubdhcp:eth0");
        assert!(!m.vmstart);
        assert_eq!(m.grubdhcp, Some(27));
        assert!(
            ModuleLine::parse("/w novmstart").vmstart,
            "original's substring test decides group boundaries"
        );
        assert!(
            !ModuleLine::parse("/vmstart x").vmstart,
            "the path is not searched"
        );
    }

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(ok("w vmsize=0x4000K").vmsize, Some(0x4000 * KIB));
        assert_eq!(ok("w vmsize=+64M").vmsize, Some(64 * MIB));
        assert_eq!(ok("w vmsize=0").vmsize, None);
    }
}
