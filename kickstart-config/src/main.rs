//! The `kickstart-config` command: generate GRUB menus and QEMU arguments from
//! a TOML boot description, and check existing menus. See the crate docs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kickstart_config::host::{
    self, check_entry, parse_menu, render, BootDesc, Format, Machine, QemuBoot, Severity,
};
use kickstart_config::num::parse_size;

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

#[derive(Subcommand)]
enum Cmd {
    /// Print a GRUB legacy menu.lst entry for a TOML boot description.
    MenuLst {
        /// The boot description (.toml).
        file: PathBuf,
    },
    /// Print a GRUB 2 grub.cfg multiboot menuentry for a TOML boot description.
    GrubCfg {
        /// The boot description (.toml).
        file: PathBuf,
    },
    /// Print the QEMU arguments (one per line) for a TOML boot description.
    QemuArgs {
        /// The boot description (.toml).
        file: PathBuf,
    },
    /// Check a menu.lst, grub.cfg or TOML description and print the boot plan.
    Check {
        /// The file to check; `.toml` files are checked through their generated menu.lst.
        file: PathBuf,
        /// Machine memory (e.g. 512M); overrides the description's.
        #[arg(long)]
        memory: Option<String>,
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
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kickstart-config: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match cli.cmd {
        Cmd::MenuLst { file } => print!("{}", host::menu_lst(&BootDesc::load(&file)?)?),
        Cmd::GrubCfg { file } => print!("{}", host::grub_cfg(&BootDesc::load(&file)?)?),
        Cmd::QemuArgs { file } => {
            for a in QemuBoot::load(&file)?.to_qemu_args() {
                println!("{a}");
            }
        }
        Cmd::Check {
            file,
            memory,
            cpus,
            format,
        } => return check(file, memory, cpus, format),
        Cmd::Image {
            file,
            grub2,
            grub_legacy,
            layout,
        } => image(&file, grub2, grub_legacy, layout)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `image`: lay out each requested image, then print it or build it.
fn image(
    file: &std::path::Path,
    grub2: Option<PathBuf>,
    grub_legacy: Option<PathBuf>,
    print_layout: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let desc = BootDesc::load(file)?;
    let base = file.parent().unwrap_or(std::path::Path::new(""));
    for (loader, out) in [
        (kickstart_config::image::Loader::Grub2, grub2),
        (kickstart_config::image::Loader::GrubLegacy, grub_legacy),
    ] {
        let Some(out) = out else { continue };
        let layout = kickstart_config::image::layout(&desc, base, loader)?;
        if print_layout {
            println!("{loader} image {}:", out.display());
            for f in &layout.files {
                println!("  {} <- {}", f.dest, f.source.display());
            }
            println!("  {}:", loader.config_path());
            for l in layout.config.lines() {
                println!("    {l}");
            }
            continue;
        }
        let tools = kickstart_config::image::Tools::find(loader)?;
        kickstart_config::image::build(&layout, &tools, &out)?;
        println!("{}: {loader} image written", out.display());
    }
    Ok(())
}

fn check(
    file: PathBuf,
    memory: Option<String>,
    cpus: Option<u32>,
    format: Option<String>,
) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut machine = Machine::default();
    let name;
    let text;
    let fmt;
    if file.extension().is_some_and(|e| e == "toml") {
        let desc = BootDesc::load(&file)?;
        machine.memory = desc.memory()?;
        machine.cpus = desc.machine.cpus;
        text = host::menu_lst(&desc)?;
        name = format!("{} (generated menu.lst)", file.display());
        fmt = Format::MenuLst;
    } else {
        text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        name = file.display().to_string();
        fmt = match format.as_deref() {
            Some("menu-lst") => Format::MenuLst,
            Some("grub-cfg") => Format::GrubCfg,
            _ => Format::detect(&text),
        };
    }
    if let Some(m) = memory {
        machine.memory = Some(u64::from(
            parse_size(&m).map_err(|e| format!("--memory {m}: {}", e.kind))?,
        ));
    }
    if cpus.is_some() {
        machine.cpus = cpus;
    }
    let entries = parse_menu(&text, fmt);
    if entries.is_empty() {
        eprintln!("{name}: error: no boot entry found");
        return Ok(ExitCode::FAILURE);
    }
    let mut errors = 0;
    for e in &entries {
        println!("entry `{}` (line {}):", e.title, e.line);
        let report = check_entry(e, &machine);
        for d in &report.diagnostics {
            eprint!("{}", render(&name, &text, d));
            if d.severity == Severity::Error {
                errors += 1;
            }
        }
        for p in &report.plan {
            println!("  {p}");
        }
    }
    if errors > 0 {
        eprintln!("{name}: {errors} error(s)");
        Ok(ExitCode::FAILURE)
    } else {
        println!("{name}: ok");
        Ok(ExitCode::SUCCESS)
    }
}
