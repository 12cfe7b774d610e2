//! `resourcemon-qemu`: boot the resource monitor on Pistachio in QEMU.
//!
//! Exit codes: 0 pass, 1 failure sentinel, 2 kernel debugger entered,
//! 3 unexpected reboot, 4 boot timeout, 5 idle timeout, 6 hard timeout,
//! 7 QEMU exited early, 8 set-up error, 77 skipped (no Pistachio build).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use qemu::judge::{EXIT_SETUP_ERROR, EXIT_SKIP};
use qemu::{Boot, Expect, Module, Pistachio};

/// Boot kickstart, the kernel, sigma0, the root task and extra modules in QEMU.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// The root task image (default: the one this workspace built).
    #[arg(long)]
    roottask: Option<PathBuf>,
    /// A kickstart-config boot description (TOML): its command lines and VM
    /// modules are used; kickstart, kernel and sigma0 come from the
    /// Pistachio build, the root task from this workspace (or --roottask).
    #[arg(long, conflicts_with_all = ["roottask_args", "modules", "kickstart_args"])]
    config: Option<PathBuf>,
    /// The root task's command line.
    #[arg(long, default_value = "")]
    roottask_args: String,
    /// An extra module: "FILE [ARGS...]" (repeatable, in boot order).
    #[arg(long = "module", value_name = "FILE ARGS")]
    modules: Vec<String>,
    /// kickstart's command line.
    #[arg(long, default_value = "")]
    kickstart_args: String,
    /// Guest RAM: MiB as a plain number (`512`) or with a suffix (`512M`,
    /// `1G`), as `kickstart-config check --memory` takes it.
    #[arg(long, default_value = "256", value_parser = memory_mib)]
    memory: u32,
    /// Run without -icount (faster wall-clock, non-repeatable virtual time).
    #[arg(long)]
    no_icount: bool,
    /// The run directory (kept for repeating the run by hand).
    #[arg(long, default_value = "target/qemu-runs/manual")]
    dir: PathBuf,
    /// Seconds until the kernel banner must appear.
    #[arg(long, default_value_t = 30)]
    boot_timeout: u64,
    /// Seconds of silence allowed.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// Seconds the whole run may take.
    #[arg(long, default_value_t = 300)]
    hard_timeout: u64,
    /// A line the run must also print before it passes (repeatable, in
    /// order; a substring), e.g. a guest kernel's last line, which comes
    /// after the monitor's success sentinel.
    #[arg(long = "expect", value_name = "TEXT")]
    expect: Vec<String>,
    /// Do not wait for the monitor's success sentinel: pass on the
    /// `--expect` lines alone (for a root task that prints none, such as the
    /// original monitor).
    #[arg(long, requires = "expect")]
    no_sentinel: bool,
    /// Processors: `-smp N` with single-threaded TCG (`-accel
    /// tcg,thread=single`), for an SMP Pistachio kernel (point
    /// PISTACHIO_DIR at it, e.g. ../shared/pistachio/ia32-smp).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=8))]
    smp: u32,
    /// Print only the run directory, the command and the verdict (on
    /// standard error), not the serial log; the log is still written to
    /// DIR/serial.log. Without it the serial log is printed after the run.
    #[arg(long, short)]
    quiet: bool,
    /// Connect this terminal to the serial console and type into the
    /// focused VM (ESC n: next VM, ESC 1-9: that VM, ESC s: monitor log
    /// lines off/on, ESC ESC: kernel debugger; Ctrl-A x quits QEMU, Ctrl-A c
    /// its monitor). Runs in real time (no -icount), without timeouts and
    /// without a verdict; the serial output also goes to serial.log.
    #[arg(long, conflicts_with_all = ["expect", "no_sentinel", "quiet"])]
    interactive: bool,
}

/// `--memory` in MiB, from `512` or `512M` (a whole number of MiB).
fn memory_mib(s: &str) -> Result<u32, String> {
    let bytes = kickstart_config::num::parse_memory(s).map_err(|e| e.kind.to_string())?;
    if bytes == 0 || bytes % (1 << 20) != 0 {
        return Err(format!(
            "{s} is not a whole number of MiB; expected e.g. 512 or 512M"
        ));
    }
    Ok((bytes >> 20) as u32)
}

/// A description error, located in the TOML when the error has a span.
fn describe_error(path: &Path, e: &kickstart_config::host::DescError) -> String {
    use kickstart_config::host::{SourceFile, Style};
    match (e.span(), std::fs::read_to_string(path)) {
        (Some(_), Ok(text)) => SourceFile::new(path.display().to_string(), text)
            .render(&e.diagnostic(), Style::for_stderr()),
        _ if e.span().is_none() => format!("error: {e}\n"),
        _ => format!("error: {}: {e}\n", path.display()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The description first: a missing or broken file is a set-up error
    // (exit 8), whether or not a Pistachio build is there.
    let desc = match &cli.config {
        None => None,
        Some(path) => match kickstart_config::QemuBoot::load(path) {
            Ok(d) => Some(d),
            Err(e) => {
                eprint!("{}", describe_error(path, &e));
                return ExitCode::from(EXIT_SETUP_ERROR as u8);
            }
        },
    };
    let pistachio = match Pistachio::from_env() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("skipped: {e}");
            return ExitCode::from(EXIT_SKIP as u8);
        }
    };
    let roottask = cli
        .roottask
        .clone()
        .unwrap_or_else(|| PathBuf::from(resourcemon::ROOTTASK_ELF));
    let mut boot = match (&cli.config, &desc) {
        (Some(path), Some(d)) => match Boot::from_description(&pistachio, &roottask, d) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(EXIT_SETUP_ERROR as u8);
            }
        },
        _ => {
            let mut b = Boot::standard(&pistachio, &roottask, &cli.roottask_args);
            b.loader_args = cli.kickstart_args.clone();
            b
        }
    };
    boot.memory_mib = cli.memory;
    // A person's keystrokes and the guests' timers share the wall clock.
    boot.icount = !cli.no_icount && !cli.interactive;
    boot.interactive = cli.interactive;
    if cli.smp > 1 {
        boot = boot.smp(cli.smp);
    }
    for m in &cli.modules {
        let (file, args) = m.split_once(' ').unwrap_or((m, ""));
        boot = boot.module(Module::new(file, args));
    }
    let staged = match boot.stage(&cli.dir) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_SETUP_ERROR as u8);
        }
    };
    eprintln!("run directory: {}", staged.dir.display());
    eprintln!("command: {}", staged.command_line());
    if cli.interactive {
        eprintln!("interactive: Ctrl-A x quits; ESC n / ESC 1-9 move the focus between VMs");
        return match qemu::run_interactive(&staged) {
            Ok(status) => {
                eprintln!(
                    "qemu ended ({status}); log {}",
                    staged.dir.join("serial.log").display()
                );
                ExitCode::from(status.code().unwrap_or(0).clamp(0, 255) as u8)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_SETUP_ERROR as u8)
            }
        };
    }
    let expect = Expect {
        boot_timeout: Duration::from_secs(cli.boot_timeout),
        idle_timeout: Duration::from_secs(cli.idle_timeout),
        hard_timeout: Duration::from_secs(cli.hard_timeout),
        successes: if cli.no_sentinel { 0 } else { 1 },
        required: cli.expect.clone(),
        ..Expect::default()
    };
    match qemu::run(&staged, expect) {
        Ok(outcome) => {
            if !cli.quiet {
                for l in &outcome.lines {
                    println!("{l}");
                }
            }
            eprintln!(
                "verdict: {} ({:.1}s; log {})",
                outcome.verdict,
                outcome.elapsed.as_secs_f64(),
                outcome.serial_log.display()
            );
            if !outcome.missing.is_empty() {
                eprintln!("never printed: {:?}", outcome.missing);
            }
            ExitCode::from(outcome.verdict.exit_code() as u8)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_SETUP_ERROR as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_in_mib_with_or_without_suffix() {
        assert_eq!(memory_mib("512"), Ok(512));
        assert_eq!(memory_mib("512M"), Ok(512));
        assert_eq!(memory_mib("1G"), Ok(1024));
        assert_eq!(memory_mib("2048K"), Ok(2));
        assert!(memory_mib("100K").is_err(), "not whole MiB");
        assert!(memory_mib("512MB").is_err());
    }

    #[test]
    fn quiet_help_says_what_it_does() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Print only the run directory, the command and the verdict"));
    }
}
