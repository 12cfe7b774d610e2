//! Locating the Pistachio build the project boots against.
//!
//! Nothing in a package registry ships Pistachio, so the project points at a
//! build made on the machine: `PISTACHIO_DIR`, or `/opt/pistachio` when that
//! variable is unset. Inside it, each file is looked up in `bin/` first and
//! then in the folder itself.

use std::path::{Path, PathBuf};

/// The environment variable naming the Pistachio build.
pub const ENV: &str = "PISTACHIO_DIR";
/// Where the build is looked for when [`ENV`] is unset.
pub const DEFAULT_DIR: &str = "/opt/pistachio";
/// The files a boot needs: the multiboot loader, the kernel, sigma0.
pub const FILES: [&str; 3] = ["kickstart", "ia32-kernel", "sigma0"];

/// A usable Pistachio build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pistachio {
    /// kickstart, the multiboot loader QEMU boots.
    pub kickstart: PathBuf,
    /// The ia32 kernel (debugger on the serial console).
    pub kernel: PathBuf,
    /// sigma0.
    pub sigma0: PathBuf,
}

/// Why no usable build was found.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PistachioError {
    /// Neither `PISTACHIO_DIR` nor the default folder exists.
    #[error("no Pistachio build: {ENV} is not set and {DEFAULT_DIR} does not exist")]
    NotConfigured,
    /// The folder exists but lacks a file.
    #[error("no Pistachio build: {dir} has no {file} (looked in {dir}/bin and {dir})")]
    Missing {
        /// The folder searched.
        dir: PathBuf,
        /// The missing file's name.
        file: &'static str,
    },
}

impl Pistachio {
    /// Find the build named by the environment (or the default folder).
    pub fn from_env() -> Result<Pistachio, PistachioError> {
        match std::env::var_os(ENV) {
            Some(dir) if !dir.is_empty() => Pistachio::in_dir(Path::new(&dir)),
            _ if Path::new(DEFAULT_DIR).is_dir() => Pistachio::in_dir(Path::new(DEFAULT_DIR)),
            _ => Err(PistachioError::NotConfigured),
        }
    }

    /// Find the three files in `dir/bin` or `dir`.
    pub fn in_dir(dir: &Path) -> Result<Pistachio, PistachioError> {
        let find = |file: &'static str| {
            [dir.join("bin").join(file), dir.join(file)]
                .into_iter()
                .find(|p| p.is_file())
                .ok_or(PistachioError::Missing {
                    dir: dir.to_path_buf(),
                    file,
                })
        };
        Ok(Pistachio {
            kickstart: find(FILES[0])?,
            kernel: find(FILES[1])?,
            sigma0: find(FILES[2])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_files_in_bin_or_top_and_names_what_is_missing() {
        let dir = std::env::temp_dir().join(format!("pistachio-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin/kickstart"), b"k").unwrap();
        std::fs::write(dir.join("ia32-kernel"), b"k").unwrap();
        assert_eq!(
            Pistachio::in_dir(&dir),
            Err(PistachioError::Missing {
                dir: dir.clone(),
                file: "sigma0"
            })
        );
        std::fs::write(dir.join("bin/sigma0"), b"s").unwrap();
        let p = Pistachio::in_dir(&dir).unwrap();
        assert_eq!(p.kickstart, dir.join("bin/kickstart"));
        assert_eq!(p.kernel, dir.join("ia32-kernel"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
