//! One definition of the boot-configuration language of the L4Ka resource
//! monitor, shared by the root task at boot (`no_std`, no allocator) and by
//! the host tool that writes and checks boot configurations.
//!
//! # Layers
//!
//! * [`num`], [`line`](mod@line), [`options`], [`monitor`]: the command-line language of
//!   spec §2 (resourcemon.md): module path stripping (§2.1), numbers (§2.2),
//!   VM options (§2.3), later modules (§2.4) and the monitor's own line (§2.5).
//! * [`plan`](mod@plan): the pure planner from the boot modules to VM groups (§1.5,
//!   §2.4, §3.4, limits of §10.1). No allocation; bounded by `heapless`.
//! * `host` (feature `host`, default): TOML boot descriptions, the GRUB legacy,
//!   GRUB 2 and QEMU writers, and the menu checker behind the
//!   `kickstart-config` binary (`menu-lst`, `grub-cfg`, `qemu-args`, `check`).
//! * `image` (feature `host`): bootable GRUB 2 ISO and GRUB legacy disk
//!   images holding a description's files and rendered menu
//!   (`kickstart-config image`).
//!
//! The root task depends on this crate with `default-features = false` and
//! calls [`plan::plan`] (or [`plan::plan_with`] with the CPU count and the
//! DHCP replacement length) and [`monitor::parse_monitor`]; it prints each
//! [`plan::VmPlan`] as one boot-log line.
//!
//! # Strict where the original is a trap
//!
//! The original tests options with plain substring searches and reads numbers
//! with `strtoul` (spec §2.1–2.2). This crate reads words instead and also
//! computes the original's reading ([`options::OriginalReading`],
//! [`num::compat_size`]). A line is accepted only when both readings agree;
//! then its meaning is exactly the original's. Every difference is therefore a
//! *refusal*, never a different meaning:
//!
//! 1. Flags inside other words: `noddos`, `xvmstart`, `xnoclientdma`, `notrace`
//!    (monitor line) are refused; the original reads them as the flag. A line
//!    that also has the flag as a word (`noddos ddos`) is accepted.
//! 2. Valued options inside other words whose value the original would use
//!    (`xvmsize=5` before or without `vmsize=`; `highmem=512M` when no
//!    `vmsize=` is given, since the original takes the first non-zero `mem=`
//!    substring) are refused. Harmless ones (after the real option) are kept.
//! 3. Ramdisk trigger `initrd` inside another word (`noinitrd`, `keepinitrd`) is
//!    refused unless another trigger already selects ramdisk mode. Accepted
//!    triggers: any word containing `/dev/ram` or `/dev/rd/`, the word
//!    `initrd`, words starting with `initrd=`.
//! 4. Malformed numbers the original silently read as 0 (default) are refused:
//!    `64MB`, lower-case suffixes (`64m`), a lone `M`, `0x`, `08`, an empty value
//!    (`vmsize= 64M`, where the original would read the next word).
//! 5. Numbers the original wrapped or saturated are refused: `-1`, `4G`,
//!    more than 32 bits.
//! 6. A monitor option given twice as a word (`vmsize=64M vmsize=32M`) is refused;
//!    the original silently used the first.
//! 7. `mem=` values that do not start like a number (`mem=exactmap`) belong to
//!    the guest and are skipped, as in the original; numeric ones are read
//!    strictly when `vmsize=` is absent, and ignored (left to the guest) otherwise.
//! 8. Monitor line: DHCP keys must start the line or follow a blank or `,`
//!    (`netmask=` is refused where the original read it as `mask=`); values
//!    must be dotted quads; all four keys or none; the `dhcpovr=` character
//!    overlay is reproduced but must yield a dotted quad.
//!
//! 9. This monitor's own supervision options `restart=N`, `backoff=MS`,
//!    `watchdog=MS` ([`options::SUPERVISION`]) are read with the same number
//!    rules (once each); the original has none, so there is nothing to
//!    cross-check; they stay in the guest's command line.
//!
//! Accepted as in the original: `+` signs, octal and hex, `0` meaning "absent"
//! (defaults apply: 168 MB, 1 VCPU, 1 PCPU, 1 instance), `/dev/ram0` etc. anywhere
//! in a word, unknown words (passed to the guest untouched: the original copies
//! the whole options string, monitor options included, see
//! [`options::VmOptions::guest_cmdline`]).
//!
//! # Planner decisions (where the spec is silent or the original cannot work)
//!
//! * Group boundaries follow the original exactly (substring `vmstart`; the
//!   first VM is module 0; without `vmstart` the next ELF module starts the next
//!   VM). A module that is both installed into a VM and, through that ELF
//!   fallback, started as the next VM is an error for the second group.
//! * `clones=N` gives N instances per group. The original's counter is never
//!   reset (§1.5, §12 item 10); [`plan::VmPlan::original_instances`] reports what
//!   it would do and `check` warns when they differ.
//! * Errors decided before loading, each for its group only: options; VM
//!   module not ELF `ET_EXEC` (when its head is given); a command line of 512
//!   bytes or more (plus the DHCP text if known); 4 MB rounding beyond 32 bits;
//!   `wedgeinstall + wedgesize > vmsize` (the original's check); `vcpus` > 32
//!   (unchecked upstream); `pcpus` > 16 after clamping to the known CPU count;
//!   more than 3 modules; a wedge (`wedgeinstall=`) with no module to boot;
//!   ramdisk mode on a wedge line or without a following module; modules or
//!   ramdisk that do not fit (when sizes are given); modules stacked from the
//!   top of memory reaching the wedge (not checked upstream; the wedge extent
//!   is `wedgesize=` or else the VM module's file size); more than 15 VM
//!   instances in total. At most 32 inputs are considered
//!   ([`plan::BootPlan::ignored_modules`]).
//! * The guest kernel is the VM module itself without a wedge; with a wedge it
//!   is the first installed module with the ELF magic, else the first installed
//!   module (the wedge uses `modules[0]` in practice, §2.4).
//!
//! # Host outputs
//!
//! One description, three outputs built from the same [`host::BootLine`]s:
//! GRUB legacy lines are `keyword path args`; GRUB 2 writes the path twice
//! (`module FILE FILE args`) because GRUB 2 passes only the words after the
//! file name, so every module still gets `path args` as the monitor expects;
//! QEMU gets `-kernel kickstart -append args -initrd "path args,…"` with `,`
//! doubled ([`host::QemuBoot`]). `check` enforces kickstart's limits (module
//! order kernel, sigma0, root task; at most 32 modules; all command lines with
//! their NULs within 4096 bytes; anchors §7 item 8, §8).
//!
//! One rule for what can boot: every writer of the CLI gets its description
//! through [`host::CheckedBoot`], which runs the same check as `check` and
//! refuses on any error unless forced ([`host::CheckOptions::force`]). Findings
//! are [`host::Diagnostic`]s with byte spans into the checked file (the TOML
//! for a description: every byte of a generated command line is mapped back
//! to the TOML value it came from), rendered by `annotate-snippets`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(feature = "std", test))]
#[macro_use]
extern crate std;

pub mod line;
pub mod monitor;
pub mod num;
pub mod options;
pub mod plan;

#[cfg(feature = "host")]
pub mod host;

#[cfg(feature = "host")]
pub mod image;

#[cfg(feature = "host")]
pub use host::{QemuBoot, QemuModule};

pub use monitor::{parse_monitor, Dhcp, MonitorOptions};
pub use options::{OptionError, OptionErrorKind, VmOptions};
pub use plan::{
    plan, plan_with, BootPlan, GroupError, GroupErrorKind, ModuleInput, PlanConfig, VmPlan,
};
