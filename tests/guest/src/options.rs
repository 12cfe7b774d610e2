//! The VM's command line as the monitor writes it into `shared.cmdline`:
//! the VM module's options string (path stripped, resourcemon.md §2.1).
//!
//! It carries the monitor's own options (`vmsize=`, `wedgeinstall=`, …),
//! which tell the guest what the monitor should have done, and the guest's
//! (`touch=`, `request=`, …), which the monitor passes through untouched.
//! Tokens are separated by spaces and TABs; keys match whole tokens (the
//! monitor itself does substring searches, which agree for the command
//! lines the scenarios use).

/// Default guest memory when neither `vmsize=` nor `mem=` gives one (§2.3).
pub const DEFAULT_VMSIZE: u32 = 168 << 20;
/// VM memory is rounded up to this (§3.1).
pub const VMSIZE_ALIGN: u32 = 4 << 20;
/// Priority of a VM's threads (§6.3); `ddos` adds [`DDOS_PRIO_BONUS`].
pub const VM_PRIO: u32 = 102;
/// Priority added for device-driver VMs.
pub const DDOS_PRIO_BONUS: u32 = 10;

/// Parse a number as the monitor does (§2.2): C `strtoul` with base 0
/// (`0x` hex, leading `0` octal, else decimal; optional sign; saturating at
/// `u32::MAX`), then one optional `K`/`M`/`G` suffix (multiplying modulo
/// 2^32). Anything after that makes the value malformed: `None`.
pub fn parse_number(text: &str) -> Option<u32> {
    let s = text.trim_start_matches([' ', '\t']).as_bytes();
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) =
        if s.len() > 2 && (s[..2] == *b"0x" || s[..2] == *b"0X") && s[2].is_ascii_hexdigit() {
            (16, &s[2..])
        } else if s.first() == Some(&b'0') {
            (8, s)
        } else {
            (10, s)
        };
    let mut value: u64 = 0;
    let mut used = 0;
    for &c in digits {
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        value = (value * radix as u64 + d as u64).min(u32::MAX as u64 + 1);
        used += 1;
    }
    let mut value = if value > u32::MAX as u64 {
        u32::MAX
    } else {
        value as u32
    };
    if neg {
        value = value.wrapping_neg();
    }
    let rest = &digits[used..];
    let (factor, rest) = match rest.first() {
        Some(b'K') => (1 << 10, &rest[1..]),
        Some(b'M') => (1 << 20, &rest[1..]),
        Some(b'G') => (1 << 30, &rest[1..]),
        _ => (1, rest),
    };
    match rest.first() {
        None | Some(b' ') | Some(b'\t') => Some(value.wrapping_mul(factor)),
        Some(_) => None,
    }
}

/// Default request count of `mode=soak` (`soak=N`).
pub const DEFAULT_SOAK: u32 = 100_000;

/// What the guest does after the shared-page checks (`mode=`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// `normal` (the default): page-fault and request_pages measurements.
    Normal,
    /// `irq-owner`: as normal, then claim IRQ `irq=N` for the own first thread.
    IrqOwner,
    /// `hostile`: requests the monitor must refuse (against slot 1 and the
    /// monitor itself), and the legitimate own-range thread calls.
    Hostile,
    /// `driver` (with `ddos`): device requests, register IVMblock, then serve
    /// one client's `0x7E00` request with request_client_pages.
    Driver,
    /// `client`: find the driver through the locator and have it verify one
    /// page of this VM's memory.
    Client,
    /// `soak`: `soak=N` mixed requests, counting wrong answers.
    Soak,
    /// `echo`: after its checks and `client_init_complete`, print what
    /// arrives as console input: `echo-rx=N` bytes from `console_rx`, then
    /// (with `echo-line=1`) one line through `get_chars`; `hold=MS` first
    /// waits for a byte in `console_rx` and then MS ms without reading.
    Echo,
    /// `fuzz`: after `client_init_complete`, `fuzz=N` generated requests
    /// seeded with `seed=S` ([`crate::fuzz`]), then a "storm over"
    /// message to the slot-1 victim.
    Fuzz,
    /// `victim`: the normal checks, `client_init_complete`, then soak
    /// rounds until `fuzzers=K` fuzzers said the storm is over, then a
    /// last round; its own pages and answers must not change.
    Victim,
    /// `smp` (with `vcpus=2 pcpus=2` or more): the normal measurements on
    /// the first thread, then a second thread created through the
    /// ThreadControl proxy on processor `cpu=N` (default 1), which checks
    /// the processor it runs on, measures page faults and request_pages
    /// there, and (with `irq=N`) claims an interrupt for itself with
    /// `irq_cpu` = that processor. With `smp-soak=N` both threads then
    /// fault and request N times each at once (`soak-wait=1` first waits
    /// for a go from another VM, `soak-go=S` sends one to slot S).
    Smp,
}

impl Mode {
    /// Every mode, in the order of [`Mode::name`].
    pub const ALL: [Mode; 10] = [
        Mode::Normal,
        Mode::IrqOwner,
        Mode::Hostile,
        Mode::Driver,
        Mode::Client,
        Mode::Soak,
        Mode::Echo,
        Mode::Fuzz,
        Mode::Victim,
        Mode::Smp,
    ];

    /// The `mode=` value.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::IrqOwner => "irq-owner",
            Mode::Hostile => "hostile",
            Mode::Driver => "driver",
            Mode::Client => "client",
            Mode::Soak => "soak",
            Mode::Echo => "echo",
            Mode::Fuzz => "fuzz",
            Mode::Victim => "victim",
            Mode::Smp => "smp",
        }
    }

    /// The mode called `name`.
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// How a `die=` guest dies (VM supervision scenarios).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Die {
    /// `die=fault`: read a word just past its memory (a page fault the
    /// monitor cannot answer).
    Fault,
    /// `die=loop`: an endless loop of requests, never init complete (for
    /// `watchdog=`).
    Loop,
    /// `die=exception`: make the monitor its exception handler, then
    /// execute a privileged instruction (#GP).
    Exception,
}

impl Die {
    /// The `die=` value.
    pub const fn name(self) -> &'static str {
        match self {
            Die::Fault => "fault",
            Die::Loop => "loop",
            Die::Exception => "exception",
        }
    }
}

/// Default `die-until=`: only the first instance (thread version 2) dies.
pub const DEFAULT_DIE_UNTIL: u32 = 3;

/// The command line, decoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Options<'a> {
    /// `name=`: printed in every line (default `test-guest`, or the mode's
    /// name for modes other than `normal`).
    pub name: &'a str,
    /// `mode=` (default [`Mode::Normal`]).
    pub mode: Mode,
    /// `irq=N`: the IRQ `mode=irq-owner` claims.
    pub irq: Option<u32>,
    /// `victim-irq=N`: the IRQ the slot-1 VM owns (`mode=hostile`).
    pub victim_irq: Option<u32>,
    /// `soak=N`: requests of `mode=soak` (default [`DEFAULT_SOAK`]).
    pub soak: u32,
    /// `seed=S` (`mode=fuzz`, default 1).
    pub seed: u32,
    /// `fuzz=N` (`mode=fuzz`): requests (default 100000).
    pub fuzz: u32,
    /// `fuzzers=K` (`mode=victim`): "storm over" messages to wait for.
    pub fuzzers: u32,
    /// `fuzz-trace=1` (`mode=fuzz`): print every thread, space and
    /// interrupt request and every request to a thread other than the
    /// monitor before sending it, so a kernel failure can be traced to the
    /// requests that led to it.
    pub fuzz_trace: bool,
    /// `echo-rx=N` (`mode=echo`): bytes to read from `console_rx` (default 0).
    pub echo_rx: u32,
    /// `echo-line=1` (`mode=echo`): then read one line (up to `\n` or `\r`)
    /// through `get_chars`.
    pub echo_line: bool,
    /// `hold=MS` (`mode=echo`): before the line, wait for a byte in
    /// `console_rx`, then MS ms without reading, then say how many bytes
    /// were waiting (0: no hold).
    pub hold: u32,
    /// `cpu=N` (`mode=smp`): the processor of the second thread (default 1).
    pub cpu: u32,
    /// `smp-soak=N` (`mode=smp`): fault-and-request rounds per thread
    /// after the measurements (default 0: none).
    pub smp_soak: u32,
    /// `soak-wait=1` (`mode=smp`): before the soak, wait for a go message
    /// from another VM.
    pub soak_wait: bool,
    /// `soak-go=S` (`mode=smp`): before the soak, send a go message to
    /// slot S's first thread.
    pub soak_go: Option<u32>,
    /// `soak-on=T` (`mode=smp`): only thread T soaks (0 the first, 1 the
    /// second; default both).
    pub soak_on: Option<u32>,
    /// `soak-cpu=N` (`mode=smp`): the first thread moves itself to
    /// processor N (its own Schedule; it is its own scheduler) before its
    /// soak, so the whole VM runs there.
    pub soak_cpu: Option<u32>,
    /// `soak-flush=0` (`mode=smp`): do not unmap the page before each
    /// round (no page fault then; default 1).
    pub soak_flush: bool,
    /// `touch=N`: pages to touch by page fault (default 16).
    pub touch: u32,
    /// `request=M`: pages to get with request_pages (default 4).
    pub request: u32,
    /// `expect-modules=K`: modules the monitor should have installed (default 0).
    pub expect_modules: u32,
    /// `module-seed=S`: seed of the module/ramdisk data pattern (default 0x5a).
    pub module_seed: u32,
    /// `expect-ramdisk=1`: the monitor should have installed a ramdisk.
    pub expect_ramdisk: bool,
    /// `prompt=1`: after its report, print a shell-prompt-like chunk with
    /// no newline, holding a `\r` and bytes that are not UTF-8
    /// ([`crate::PROMPT_BYTES`]), to show the monitor prints it at once and
    /// unchanged.
    pub prompt: bool,
    /// `expect-pcpus=N`: the `pcpu_count` the monitor should write
    /// (default 1: `pcpus=` clamped to the machine's CPUs, §2.3).
    pub expect_pcpus: u32,
    /// `vmsize=` as the monitor reads it (0 = absent or malformed).
    pub vmsize: u32,
    /// The first non-zero `mem=` (0 = none), the monitor's fallback for `vmsize=`.
    pub mem: u32,
    /// `wedgeinstall=` (0 = absent).
    pub wedgeinstall: u32,
    /// `offset=` (0 = absent).
    pub offset: u32,
    /// `vcpus=` (0 = absent).
    pub vcpus: u32,
    /// The `ddos` flag.
    pub ddos: bool,
    /// The `noclientdma` flag (only meaningful with `ddos`).
    pub noclientdma: bool,
    /// `die=fault|loop|exception`: die on purpose instead of the checks.
    pub die: Option<Die>,
    /// `die-until=V`: die only while the own thread version is below V
    /// (default [`DEFAULT_DIE_UNTIL`]: a restarted instance passes).
    pub die_until: u32,
    /// The first of the guest's own options whose value did not parse.
    pub bad: Option<&'a str>,
}

impl<'a> Options<'a> {
    /// Parse `cmdline` (already cut at its NUL).
    pub fn parse(cmdline: &'a str) -> Options<'a> {
        let mut o = Options {
            name: "test-guest",
            mode: Mode::Normal,
            irq: None,
            victim_irq: None,
            soak: DEFAULT_SOAK,
            seed: 1,
            fuzz: 100_000,
            fuzzers: 0,
            fuzz_trace: false,
            echo_rx: 0,
            echo_line: false,
            hold: 0,
            cpu: 1,
            smp_soak: 0,
            soak_wait: false,
            soak_go: None,
            soak_flush: true,
            soak_on: None,
            soak_cpu: None,
            touch: 16,
            request: 4,
            expect_modules: 0,
            module_seed: 0x5a,
            expect_ramdisk: false,
            expect_pcpus: 1,
            prompt: false,
            vmsize: 0,
            mem: 0,
            wedgeinstall: 0,
            offset: 0,
            vcpus: 0,
            ddos: false,
            noclientdma: false,
            die: None,
            die_until: DEFAULT_DIE_UNTIL,
            bad: None,
        };
        let (mut vmsize, mut wedge, mut offset, mut vcpus) = (None, None, None, None);
        let mut named = false;
        for token in cmdline.split([' ', '\t']).filter(|t| !t.is_empty()) {
            let (key, value) = token.split_once('=').unwrap_or((token, ""));
            // The monitor's options: first occurrence wins, malformed = 0.
            let rm = |slot: &mut Option<u32>| {
                slot.get_or_insert(parse_number(value).unwrap_or(0));
            };
            // The guest's own: malformed values are reported.
            let mut own = |slot: &mut u32| match parse_number(value) {
                Some(v) => {
                    *slot = v;
                    true
                }
                None => {
                    o.bad.get_or_insert(token);
                    false
                }
            };
            match key {
                "vmsize" => rm(&mut vmsize),
                "wedgeinstall" => rm(&mut wedge),
                "offset" => rm(&mut offset),
                "vcpus" => rm(&mut vcpus),
                "mem" if o.mem == 0 => o.mem = parse_number(value).unwrap_or(0),
                "ddos" if value.is_empty() => o.ddos = true,
                "noclientdma" if value.is_empty() => o.noclientdma = true,
                "name" => {
                    o.name = value;
                    named = true;
                }
                "mode" => match Mode::from_name(value) {
                    Some(m) => o.mode = m,
                    None => {
                        o.bad.get_or_insert(token);
                    }
                },
                "irq" => {
                    let mut v = 0;
                    if own(&mut v) {
                        o.irq = Some(v);
                    }
                }
                "victim-irq" => {
                    let mut v = 0;
                    if own(&mut v) {
                        o.victim_irq = Some(v);
                    }
                }
                "soak" => {
                    own(&mut o.soak);
                }
                "seed" => {
                    own(&mut o.seed);
                }
                "fuzz" => {
                    own(&mut o.fuzz);
                }
                "fuzzers" => {
                    own(&mut o.fuzzers);
                }
                "fuzz-trace" => {
                    let mut v = 0;
                    if own(&mut v) {
                        o.fuzz_trace = v != 0;
                    }
                }
                "touch" => {
                    own(&mut o.touch);
                }
                "cpu" => {
                    own(&mut o.cpu);
                }
                "smp-soak" => {
                    own(&mut o.smp_soak);
                }
                "soak-wait" => {
                    let mut v = 0;
                    own(&mut v);
                    o.soak_wait = v != 0;
                }
                "soak-cpu" => {
                    let mut v = 0;
                    if own(&mut v) {
                        o.soak_cpu = Some(v);
                    }
                }
                "soak-on" => {
                    let mut v = 0;
                    if own(&mut v) {
                        o.soak_on = Some(v);
                    }
                }
                "soak-flush" => {
                    let mut v = 1;
                    own(&mut v);
                    o.soak_flush = v != 0;
                }
                "soak-go" => {
                    let mut v = 0;
                    if own(&mut v) {
                        o.soak_go = Some(v);
                    }
                }
                "echo-rx" => {
                    own(&mut o.echo_rx);
                }
                "echo-line" => {
                    let mut v = 0;
                    own(&mut v);
                    o.echo_line = v != 0;
                }
                "hold" => {
                    own(&mut o.hold);
                }
                "request" => {
                    own(&mut o.request);
                }
                "expect-modules" => {
                    own(&mut o.expect_modules);
                }
                "module-seed" => {
                    own(&mut o.module_seed);
                }
                "prompt" => {
                    let mut v = 0;
                    own(&mut v);
                    o.prompt = v != 0;
                }
                "die" => match [Die::Fault, Die::Loop, Die::Exception]
                    .into_iter()
                    .find(|d| d.name() == value)
                {
                    Some(d) => o.die = Some(d),
                    None => {
                        o.bad.get_or_insert(token);
                    }
                },
                "die-until" => {
                    own(&mut o.die_until);
                }
                "expect-pcpus" => {
                    own(&mut o.expect_pcpus);
                }
                "expect-ramdisk" => {
                    let mut v = 0;
                    own(&mut v);
                    o.expect_ramdisk = v != 0;
                }
                _ => {}
            }
        }
        if !named && o.mode != Mode::Normal {
            o.name = o.mode.name();
        }
        o.vmsize = vmsize.unwrap_or(0);
        o.wedgeinstall = wedge.unwrap_or(0);
        o.offset = offset.unwrap_or(0);
        o.vcpus = vcpus.unwrap_or(0);
        o
    }

    /// The VM size the monitor should have chosen (§2.3, §3.1): `vmsize=`,
    /// else `mem=`, else 168 MB, rounded up to 4 MB.
    pub fn phys_size(&self) -> u32 {
        let requested = [self.vmsize, self.mem, DEFAULT_VMSIZE]
            .into_iter()
            .find(|&v| v != 0)
            .unwrap_or(DEFAULT_VMSIZE);
        crate::round_up(requested, VMSIZE_ALIGN)
    }

    /// The priority the monitor should have given the VM.
    pub fn prio(&self) -> u32 {
        VM_PRIO + if self.ddos { DDOS_PRIO_BONUS } else { 0 }
    }

    /// Whether the VM gets client DMA (`ddos` without `noclientdma`).
    pub fn client_dma(&self) -> bool {
        self.ddos && !self.noclientdma
    }

    /// The VCPU count the monitor should have written (`vcpus=` or 1).
    pub fn vcpu_count(&self) -> u32 {
        if self.vcpus == 0 {
            1
        } else {
            self.vcpus
        }
    }

    /// The wedge window's base the monitor should have computed: the entry
    /// rounded down to 64 MB when `wedgeinstall=` is given, else 0.
    pub fn wedge_vaddr(&self) -> u32 {
        if self.wedgeinstall != 0 {
            crate::WEDGE_VADDR
        } else {
            0
        }
    }
}

/// The text of a NUL-terminated byte field (the longest valid UTF-8 prefix).
pub fn c_str(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = &bytes[..end];
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_like_the_monitor() {
        assert_eq!(parse_number("64M"), Some(64 << 20));
        assert_eq!(parse_number("16M"), Some(16 << 20));
        assert_eq!(parse_number("131072K"), Some(128 << 20));
        assert_eq!(parse_number("0x1000000"), Some(0x100_0000));
        assert_eq!(parse_number("0X10K"), Some(0x4000));
        assert_eq!(parse_number("010"), Some(8));
        assert_eq!(parse_number("0"), Some(0));
        assert_eq!(parse_number("4G"), Some(0));
        assert_eq!(parse_number("-1"), Some(u32::MAX));
        assert_eq!(parse_number("99999999999"), Some(u32::MAX));
        assert_eq!(parse_number("  12"), Some(12));
        assert_eq!(parse_number("64MB"), None);
        assert_eq!(parse_number("64m"), None);
        assert_eq!(parse_number("M"), Some(0));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("0x"), None);
        assert_eq!(parse_number(""), Some(0));
        assert_eq!(parse_number("09"), None);
    }

    #[test]
    fn defaults() {
        let o = Options::parse("");
        assert_eq!(o.name, "test-guest");
        assert_eq!(
            (o.touch, o.request, o.expect_modules, o.module_seed),
            (16, 4, 0, 0x5a)
        );
        assert!(!o.expect_ramdisk && !o.ddos);
        assert_eq!(o.phys_size(), 168 << 20);
        assert_eq!((o.prio(), o.vcpu_count(), o.wedge_vaddr()), (102, 1, 0));
        assert_eq!(o.bad, None);
    }

    #[test]
    fn a_scenario_line() {
        let o = Options::parse(
            "vmstart vmsize=30M wedgeinstall=16M\tname=vm1 touch=8 request=2 expect-modules=2 module-seed=0x11 expect-ramdisk=1 ddos vcpus=2 offset=0x10000000 unknown=5",
        );
        assert_eq!(o.name, "vm1");
        assert_eq!(
            (o.touch, o.request, o.expect_modules, o.module_seed),
            (8, 2, 2, 0x11)
        );
        assert!(o.expect_ramdisk && o.ddos && o.client_dma());
        assert_eq!(o.phys_size(), 32 << 20);
        assert_eq!(o.wedgeinstall, 16 << 20);
        assert_eq!(o.wedge_vaddr(), 0xBC00_0000);
        assert_eq!(o.offset, 0x1000_0000);
        assert_eq!((o.prio(), o.vcpu_count()), (112, 2));
        assert_eq!(o.bad, None);
    }

    #[test]
    fn monitor_options_first_wins_and_fall_back() {
        let o = Options::parse("vmsize=64MB vmsize=8M mem=exactmap mem=20M");
        // The first vmsize= is malformed (0 = absent); the monitor does not
        // look for a second one, so mem= decides.
        assert_eq!(o.vmsize, 0);
        assert_eq!(o.mem, 20 << 20);
        assert_eq!(o.phys_size(), 20 << 20);
        let o = Options::parse("ddos noclientdma");
        assert!(o.ddos && !o.client_dma());
    }

    #[test]
    fn bad_own_options_are_reported() {
        let o = Options::parse("touch=lots request=3 touch=5");
        assert_eq!(o.bad, Some("touch=lots"));
        assert_eq!((o.touch, o.request), (5, 3));
    }

    #[test]
    fn modes() {
        let o = Options::parse("vmstart vmsize=16M");
        assert_eq!(
            (o.mode, o.name, o.irq, o.victim_irq),
            (Mode::Normal, "test-guest", None, None)
        );
        assert_eq!(o.soak, DEFAULT_SOAK);
        let o = Options::parse("vmstart vmsize=16M name=v mode=irq-owner irq=10");
        assert_eq!((o.mode, o.name, o.irq), (Mode::IrqOwner, "v", Some(10)));
        let o = Options::parse("mode=hostile victim-irq=0xb");
        assert_eq!(
            (o.mode, o.name, o.victim_irq),
            (Mode::Hostile, "hostile", Some(11))
        );
        let o = Options::parse("ddos mode=driver");
        assert_eq!((o.mode, o.name), (Mode::Driver, "driver"));
        assert!(o.ddos);
        let o = Options::parse("mode=client name=c");
        assert_eq!((o.mode, o.name), (Mode::Client, "c"));
        let o = Options::parse("mode=echo name=e echo-rx=5 echo-line=1 hold=300");
        assert_eq!((o.mode, o.name), (Mode::Echo, "e"));
        assert_eq!((o.echo_rx, o.echo_line, o.hold), (5, true, 300));
        let o = Options::parse("mode=smp vcpus=2 pcpus=2 cpu=3 smp-soak=10 soak-wait=1 soak-go=1");
        assert_eq!(
            (o.mode, o.name, o.cpu, o.smp_soak),
            (Mode::Smp, "smp", 3, 10)
        );
        assert_eq!((o.soak_wait, o.soak_go, o.vcpu_count()), (true, Some(1), 2));
        let o = Options::parse("mode=smp");
        assert_eq!(
            (o.cpu, o.smp_soak, o.soak_wait, o.soak_go),
            (1, 0, false, None)
        );
        let o = Options::parse("mode=soak soak=500");
        assert_eq!((o.mode, o.name, o.soak), (Mode::Soak, "soak", 500));
        assert_eq!(o.bad, None);
        for m in Mode::ALL {
            assert_eq!(Mode::from_name(m.name()), Some(m));
        }
    }

    #[test]
    fn die_options() {
        let o = Options::parse("vmstart restart=2 name=d die=fault");
        assert_eq!((o.die, o.die_until, o.bad), (Some(Die::Fault), 3, None));
        let o = Options::parse("die=loop die-until=1000");
        assert_eq!((o.die, o.die_until), (Some(Die::Loop), 1000));
        let o = Options::parse("die=exception");
        assert_eq!(o.die, Some(Die::Exception));
        let o = Options::parse("die=soon");
        assert_eq!((o.die, o.bad), (None, Some("die=soon")));
        assert_eq!(Options::parse("").die, None);
    }

    #[test]
    fn bad_modes_are_reported() {
        let o = Options::parse("mode=evil irq=ten soak=1");
        assert_eq!(o.mode, Mode::Normal);
        assert_eq!(o.bad, Some("mode=evil"));
        assert_eq!(o.irq, None);
        let o = Options::parse("mode=irq-owner irq=ten");
        assert_eq!((o.bad, o.irq), (Some("irq=ten"), None));
    }

    #[test]
    fn c_strings() {
        assert_eq!(c_str(b"abc\0def"), "abc");
        assert_eq!(c_str(b"abc"), "abc");
        assert_eq!(c_str(b"ab\xffc\0"), "ab");
        assert_eq!(c_str(b"\0"), "");
    }
}
