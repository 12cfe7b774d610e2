//! Running QEMU on a staged boot and feeding the judge.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
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

/// One step of typing on the serial line: once a line containing `after`
/// was printed (after the previous step was sent), send `bytes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputStep {
    /// A substring of the line that triggers the step.
    pub after: String,
    /// What is typed (any bytes: ESC sequences included).
    pub bytes: Vec<u8>,
}

impl InputStep {
    /// Send `bytes` after a line containing `after`.
    pub fn new(after: impl Into<String>, bytes: impl AsRef<[u8]>) -> InputStep {
        InputStep {
            after: after.into(),
            bytes: bytes.as_ref().to_vec(),
        }
    }
}

/// The steps not sent yet, in order.
#[derive(Clone, Debug, Default)]
pub struct InputScript {
    steps: VecDeque<InputStep>,
}

impl InputScript {
    /// A script of `steps`.
    pub fn new(steps: &[InputStep]) -> InputScript {
        InputScript {
            steps: steps.iter().cloned().collect(),
        }
    }

    /// What to send now that `line` was printed: the next step's bytes if
    /// the line contains its trigger (one step per line).
    pub fn line(&mut self, line: &str) -> Option<Vec<u8>> {
        if self.steps.front()?.after.is_empty() || line.contains(&self.steps[0].after) {
            return self.steps.pop_front().map(|s| s.bytes);
        }
        None
    }

    /// Steps never sent (their trigger never appeared).
    pub fn pending(&self) -> impl Iterator<Item = &InputStep> {
        self.steps.iter()
    }
}

/// Run `staged` with the terminal on the serial console (`Boot::interactive`):
/// a person types into the focused VM; nothing is judged. Returns when QEMU
/// ends (`Ctrl-A x` quits).
pub fn run_interactive(staged: &Staged) -> Result<ExitStatus, RunError> {
    Command::new(&staged.program)
        .args(&staged.args)
        .current_dir(&staged.dir)
        .status()
        .map_err(|source| RunError::Spawn {
            program: staged.program.clone(),
            source,
        })
}

/// Run `staged` until the judge gives a verdict, then stop QEMU. The steps
/// of `expect.input` are typed on the serial line (QEMU's stdin) as their
/// trigger lines appear.
pub fn run(staged: &Staged, expect: Expect) -> Result<RunOutcome, RunError> {
    let serial_log = staged.dir.join("serial.log");
    let mut log = std::fs::File::create(&serial_log).map_err(|source| RunError::Log {
        path: serial_log.clone(),
        source,
    })?;
    let mut child = Command::new(&staged.program)
        .args(&staged.args)
        .current_dir(&staged.dir)
        .stdin(if expect.input.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| RunError::Spawn {
            program: staged.program.clone(),
            source,
        })?;
    let start = Instant::now();
    let mut script = InputScript::new(&expect.input);
    let mut stdin = child.stdin.take();

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
                let clean = clean_line(text);
                if let (Some(bytes), Some(pipe)) = (script.line(&clean), stdin.as_mut()) {
                    let _ = log.write_all(
                        format!("[harness] typed {:?}\n", String::from_utf8_lossy(&bytes))
                            .as_bytes(),
                    );
                    // QEMU gone: the verdict comes from its exit.
                    let _ = pipe.write_all(&bytes).and_then(|()| pipe.flush());
                }
                lines.push(clean);
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
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    for step in script.pending() {
        let _ = writeln!(
            log,
            "[harness] never typed {:?}: no line containing {:?}",
            String::from_utf8_lossy(&step.bytes),
            step.after
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_fire_in_order_one_per_line() {
        let mut s = InputScript::new(&[
            InputStep::new("ready", b"ab"),
            InputStep::new("ready", b"\x1bn"),
            InputStep::new("", b"c"),
        ]);
        assert_eq!(s.line("not yet"), None);
        assert_eq!(s.line("guest: ready").as_deref(), Some(&b"ab"[..]));
        assert_eq!(s.line("other"), None);
        assert_eq!(s.line("ready again").as_deref(), Some(&b"\x1bn"[..]));
        // An empty trigger fires on the next line.
        assert_eq!(s.line("x").as_deref(), Some(&b"c"[..]));
        assert_eq!(s.line("ready"), None);
        assert_eq!(s.pending().count(), 0);
    }
}
