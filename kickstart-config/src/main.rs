//! The `kickstart-config` command: generate GRUB menus and QEMU arguments from
//! a TOML boot description, and check existing menus. See the crate docs.
//!
//! Exit status: 0 written / clean (warnings allowed), 1 refused (located
//! errors on standard error), 2 unusable input (a file that cannot be read,
//! a bad option value).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kickstart_config::host::{
    check_source, CheckOptions, CheckedBoot, Format, Input, Refusal, SourceFile, Style,
};
use kickstart_config::num::parse_memory;

#[derive(Parser)]
#[command(
    name = "kickstart-config",
    version,
    about = "Write and check L4Ka resource-monitor boot configurations"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// The arguments every writer takes.
#[derive(clap::Args)]
struct Write {
    /// The boot description (.toml).
    file: PathBuf,
    /// Write even when `check` finds errors (they are printed as warnings).
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print a GRUB legacy menu.lst entry for a TOML boot description
    /// (refused, exit 1, when `check` finds errors).
    MenuLst(Write),
    /// Print a GRUB 2 grub.cfg multiboot menuentry for a TOML boot
    /// description (refused, exit 1, when `check` finds errors).
    GrubCfg(Write),
    /// Print the QEMU arguments (one per line) for a TOML boot description
    /// (refused, exit 1, when `check` finds errors).
    QemuArgs(Write),
    /// Check a menu.lst, grub.cfg or TOML description and print the boot plan.
    Check {
        /// The file to check; findings in a `.toml` point into the TOML.
        file: PathBuf,
        /// Machine memory: MiB as a plain number (`512`) or with a suffix
        /// (`512M`, `1G`); overrides the description's.
        #[arg(long, value_parser = memory_arg)]
        memory: Option<u64>,
        /// Number of CPUs; overrides the description's.
        #[arg(long)]
        cpus: Option<u32>,
        /// Force the menu format instead of detecting it.
        #[arg(long, value_parser = ["menu-lst", "grub-cfg"])]
        format: Option<String>,
    },
    /// Write a bootable image for a TOML boot description: a GRUB 2 ISO
    /// (QEMU `-cdrom`) and/or a GRUB legacy disk image (QEMU `-hda`), with
    /// the boot files and the rendered grub.cfg / menu.lst.
    #[command(group = clap::ArgGroup::new("out").required(true).multiple(true))]
    Image {
        /// The boot description (.toml); relative paths are its folder's files.
        file: PathBuf,
        /// Write a GRUB 2 ISO here (grub-mkrescue).
        #[arg(long, value_name = "OUT.iso", group = "out")]
        grub2: Option<PathBuf>,
        /// Write a GRUB legacy (0.97) disk image here.
        #[arg(long, value_name = "OUT.img", group = "out")]
        grub_legacy: Option<PathBuf>,
        /// Print each image's files and menu instead of writing it (needs no tool).
        #[arg(long)]
        layout: bool,
        /// Write the image even if `check` finds errors (they are printed
        /// as warnings).
        #[arg(long)]
        force: bool,
    },
}

fn memory_arg(s: &str) -> Result<u64, String> {
    parse_memory(s).map_err(|e| e.kind.to_string())
}

fn main() -> ExitCode {
    let style = Style::for_stderr();
    match Cli::parse().cmd {
        Cmd::MenuLst(w) => write(&w, style, |b| b.menu_lst()),
        Cmd::GrubCfg(w) => write(&w, style, |b| b.grub_cfg()),
        Cmd::QemuArgs(w) => write(&w, style, |b| {
            b.qemu_boot()
                .map(|q| q.to_qemu_args().iter().map(|a| format!("{a}\n")).collect())
        }),
        Cmd::Check {
            file,
            memory,
            cpus,
            format,
        } => {
            let opts = CheckOptions {
                memory,
                cpus,
                force: false,
            };
            check(&file, &opts, format.as_deref(), style)
        }
        Cmd::Image {
            file,
            grub2,
            grub_legacy,
            layout,
            force,
        } => image(&file, grub2, grub_legacy, layout, force, style),
    }
}

/// `image`: check the description (the one rule: refused, exit 1, when
/// `check` finds errors, unless `--force`), lay out each requested image,
/// then print it or build it (exit 2 when a tool or a file fails).
fn image(
    file: &Path,
    grub2: Option<PathBuf>,
    grub_legacy: Option<PathBuf>,
    print_layout: bool,
    force: bool,
    style: Style,
) -> ExitCode {
    let opts = CheckOptions {
        force,
        ..CheckOptions::default()
    };
    let boot = match CheckedBoot::load(file, &opts) {
        Ok(b) => b,
        Err(r) => {
            eprint!("{}", r.render(style));
            eprintln!("kickstart-config: {r}");
            return ExitCode::from(match r {
                Refusal::Io { .. } => 2,
                Refusal::Invalid(_) => 1,
            });
        }
    };
    eprint!("{}", boot.render_warnings(style));
    for (loader, out) in [
        (kickstart_config::image::Loader::Grub2, grub2),
        (kickstart_config::image::Loader::GrubLegacy, grub_legacy),
    ] {
        let Some(out) = out else { continue };
        let built =
            kickstart_config::image::layout(&boot.desc, &boot.base, loader).and_then(|layout| {
                if print_layout {
                    println!("{loader} image {}:", out.display());
                    for f in &layout.files {
                        println!("  {} <- {}", f.dest, f.source.display());
                    }
                    println!("  {}:", loader.config_path());
                    for l in layout.config.lines() {
                        println!("    {l}");
                    }
                    return Ok(());
                }
                let tools = kickstart_config::image::Tools::find(loader)?;
                kickstart_config::image::build(&layout, &tools, &out)?;
                println!("{}: {loader} image written", out.display());
                Ok(())
            });
        if let Err(e) = built {
            eprintln!("kickstart-config: {}: {e}", out.display());
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Checks the description (the one rule), then prints what `render` makes of it.
fn write(
    w: &Write,
    style: Style,
    render: impl Fn(&CheckedBoot) -> Result<String, Refusal>,
) -> ExitCode {
    let opts = CheckOptions {
        force: w.force,
        ..CheckOptions::default()
    };
    let refused = |r: Refusal| {
        eprint!("{}", r.render(style));
        eprintln!("kickstart-config: {r}");
        ExitCode::from(match r {
            Refusal::Io { .. } => 2,
            Refusal::Invalid(_) => 1,
        })
    };
    let boot = match CheckedBoot::load(&w.file, &opts) {
        Ok(b) => b,
        Err(r) => return refused(r),
    };
    eprint!("{}", boot.render_warnings(style));
    match render(&boot) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(r) => refused(r),
    }
}

fn check(file: &Path, opts: &CheckOptions, format: Option<&str>, style: Style) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kickstart-config: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let input = match format {
        Some("menu-lst") => Input::Menu(Format::MenuLst),
        Some("grub-cfg") => Input::Menu(Format::GrubCfg),
        _ => Input::detect(file, &text),
    };
    let report = check_source(
        SourceFile::new(file.display().to_string(), text),
        input,
        opts,
    );
    let name = &report.source.name;
    // Buffered: a large menu prints one plan line per VM.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut err = std::io::BufWriter::new(std::io::stderr().lock());
    let mut print = || -> std::io::Result<()> {
        for d in &report.diagnostics {
            write!(err, "{}", report.source.render(d, style))?;
        }
        for e in &report.entries {
            let (line, _) = report.source.line_col(e.span.start);
            writeln!(out, "entry `{}` (line {line}):", e.title)?;
            for d in &e.report.diagnostics {
                // Keep the two streams in step for a reader of both.
                out.flush()?;
                write!(err, "{}", report.source.render(d, style))?;
                err.flush()?;
            }
            for p in &e.report.plan {
                writeln!(out, "  {p}")?;
            }
        }
        Ok(())
    };
    // A closed pipe (`| head`) ends the listing, not the program.
    let _ = print();
    let errors = report.errors();
    let _ = out.flush();
    drop(out);
    if errors > 0 {
        let _ = writeln!(err, "{name}: {errors} error(s)");
        ExitCode::FAILURE
    } else {
        drop(err);
        println!("{name}: ok");
        ExitCode::SUCCESS
    }
}
