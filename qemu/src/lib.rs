//! Boot the resource monitor on Pistachio in QEMU and judge what it prints.
//!
//! * [`pistachio`]: where the Pistachio build is (`PISTACHIO_DIR`).
//! * [`boot`]: a boot description (loader, modules with command lines) and
//!   how it becomes a run directory plus a QEMU command line.
//! * [`judge`]: the verdict, from serial lines and elapsed time only; pure,
//!   so every way a run can fail is unit-tested without QEMU.
//! * [`run`]: starts QEMU, feeds the judge, stops QEMU on a verdict.

pub mod boot;
pub mod judge;
pub mod pistachio;
pub mod run;

pub use boot::{Boot, Medium, Module, StageError, Staged};
pub use judge::{Expect, Judge, TimeoutKind, Verdict};
pub use pistachio::{Pistachio, PistachioError};
pub use run::{run, run_interactive, InputScript, InputStep, RunError, RunOutcome};
