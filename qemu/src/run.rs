//! Running QEMU on a staged boot and feeding the judge.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::judge::{clean_line, Expect, Judge, Verdict};
use crate::Staged;

/// What a finished run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// How it ended.
    pub verdict: Verdict,
    /// Every serial line, colour codes removed.
    pub lines: Vec<String>,
    /// Where the raw serial log was written.
    pub serial_log: PathBuf,
    /// Wall-clock duration.
    pub elapsed: Duration,
    /// Required lines ([`Expect::required`]) that never appeared.
    pub missing: Vec<String>,
}

impl RunOutcome {
    /// Lines printed by the monitor, with its prefix removed.
    pub fn monitor_lines(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix(roottask::LOG_PREFIX))
    }
}

/// Why a run could not happen at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// QEMU could not be started.
    #[error(
        "cannot start {program}: {source} (install it with: apt-get install -y qemu-system-x86)"
    )]
    Spawn {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// The serial log could not be written.
    #[error("cannot write {path}: {source}")]
    Log {
        /// The log file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Run `staged` until the judge gives a verdict, then stop QEMU.
pub fn run(staged: &Staged, expect: Expect) -> Result<RunOutcome, RunError> {
    let serial_log = staged.dir.join("serial.log");
    let mut log = std::fs::File::create(&serial_log).map_err(|source| RunError::Log {
        path: serial_log.clone(),
        source,
    })?;
    let mut child = Command::new(&staged.program)
        .args(&staged.args)
        .current_dir(&staged.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RunError::Spawn {
            program: staged.program.clone(),
            source,
        })?;
    let start = Instant::now();

    let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
    let stdout = child.stdout.take().expect("stdout is piped");
    let out_tx = tx.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut buf = Vec::new();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if out_tx.send(Some(buf)).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = out_tx.send(None);
    });
    // QEMU's own complaints (bad option, missing file) go into the log too.
    let stderr = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).split(b'\n').map_while(Result::ok) {
            let mut l = b"[qemu] ".to_vec();
            l.extend(line);
            l.push(b'\n');
            if tx.send(Some(l)).is_err() {
                break;
            }
        }
    });

    let mut judge = Judge::new(expect);
    let mut lines = Vec::new();
    let verdict = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(raw)) => {
                let _ = log.write_all(&raw);
                let text = String::from_utf8_lossy(&raw);
                let text = text.trim_end_matches('\n');
                lines.push(clean_line(text));
                if let Some(v) = judge.line(text, start.elapsed()) {
                    break v;
                }
            }
            Ok(None) => {
                let code = child.wait().ok().and_then(|s| s.code());
                break judge.exited(code);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(v) = judge.tick(start.elapsed()) {
                    break v;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break judge.exited(None),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = writeln!(
        log,
        "\n[harness] verdict after {:.1}s: {verdict}",
        start.elapsed().as_secs_f64()
    );
    Ok(RunOutcome {
        verdict,
        missing: judge.missing().to_vec(),
        lines,
        serial_log,
        elapsed: start.elapsed(),
    })
}
