//! One serial console shared by the monitor and every VM: guest bytes go
//! out as soon as `put_chars` brings them (a shell prompt without a newline
//! shows at once), exactly as they came (`\r`, any byte value), and each
//! console line says whose it is.
//!
//! With labels on (the default, `console=labels`) every line a VM starts is
//! prefixed `vmN: `; when output of another VM (or a monitor line) arrives
//! in the middle of a VM's line, that line is ended first, so no line ever
//! mixes two writers. With labels off (`console=raw`) the guests' bytes are
//! printed as the original prints them: no prefix, no added newline (only
//! NUL becomes a space, as upstream, §7.5).

/// Who wrote the text at the end of the console's current line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineOwner {
    /// The cursor is at the start of a line.
    Nobody,
    /// VM `slot`'s unfinished line.
    Vm(usize),
}

/// The console's line state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleMux {
    labels: bool,
    owner: LineOwner,
}

impl ConsoleMux {
    /// A console at the start of a line.
    pub const fn new(labels: bool) -> ConsoleMux {
        ConsoleMux {
            labels,
            owner: LineOwner::Nobody,
        }
    }

    /// Labels on or off (the monitor's `console=` option).
    pub fn set_labels(&mut self, on: bool) {
        self.labels = on;
    }

    /// Are labels on?
    pub fn labels(&self) -> bool {
        self.labels
    }

    /// The state as one word (for a runtime that keeps it in an atomic):
    /// bit 0 labels, the rest the owning slot + 1 (0: line start).
    pub fn to_word(&self) -> usize {
        let owner = match self.owner {
            LineOwner::Nobody => 0,
            LineOwner::Vm(s) => s + 1,
        };
        (owner << 1) | self.labels as usize
    }

    /// The state [`ConsoleMux::to_word`] saved.
    pub fn from_word(w: usize) -> ConsoleMux {
        ConsoleMux {
            labels: w & 1 != 0,
            owner: match w >> 1 {
                0 => LineOwner::Nobody,
                s => LineOwner::Vm(s - 1),
            },
        }
    }

    /// Output `bytes` of VM `slot` through `out`, which receives the
    /// console's bytes in order (labels included).
    pub fn guest(&mut self, slot: usize, bytes: &[u8], out: &mut dyn FnMut(&[u8])) {
        if !self.labels {
            for chunk in bytes.split_inclusive(|b| *b == 0) {
                match chunk.split_last() {
                    Some((0, head)) => {
                        out(head);
                        out(b" ");
                    }
                    _ => out(chunk),
                }
            }
            return;
        }
        if matches!(self.owner, LineOwner::Vm(s) if s != slot) {
            out(b"\n");
            self.owner = LineOwner::Nobody;
        }
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            if self.owner == LineOwner::Nobody {
                let mut label = [0u8; 8];
                out(label_for(slot, &mut label));
                self.owner = LineOwner::Vm(slot);
            }
            for part in piece.split_inclusive(|b| *b == 0) {
                match part.split_last() {
                    Some((0, head)) => {
                        out(head);
                        out(b" ");
                    }
                    _ => out(part),
                }
            }
            if piece.last() == Some(&b'\n') {
                self.owner = LineOwner::Nobody;
            }
        }
    }

    /// The monitor is about to print a line of its own: end a VM's
    /// unfinished line first (labels on; raw mode leaves the stream alone).
    pub fn monitor_line(&mut self, out: &mut dyn FnMut(&[u8])) {
        if self.labels && self.owner != LineOwner::Nobody {
            out(b"\n");
        }
        self.owner = LineOwner::Nobody;
    }
}

/// `vmN: ` for slot `slot` (at most 3 digits) in `buf`.
fn label_for(slot: usize, buf: &mut [u8; 8]) -> &[u8] {
    let mut n = 0;
    buf[n..n + 2].copy_from_slice(b"vm");
    n += 2;
    let s = slot.min(999);
    let digits = if s >= 100 {
        3
    } else if s >= 10 {
        2
    } else {
        1
    };
    for i in 0..digits {
        buf[n + digits - 1 - i] = b'0' + ((s / 10usize.pow(i as u32)) % 10) as u8;
    }
    n += digits;
    buf[n..n + 2].copy_from_slice(b": ");
    n += 2;
    &buf[..n]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn run(mux: &mut ConsoleMux, steps: &[(Option<usize>, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (who, bytes) in steps {
            match who {
                Some(slot) => mux.guest(*slot, bytes, &mut |b| out.extend_from_slice(b)),
                None => {
                    mux.monitor_line(&mut |b| out.extend_from_slice(b));
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    #[test]
    fn a_prompt_without_newline_shows_at_once_and_bytes_pass_unchanged() {
        let mut m = ConsoleMux::new(true);
        let out = run(&mut m, &[(Some(1), b"login: ")]);
        assert_eq!(out, b"vm1: login: ");
        // The rest of the same line continues without a second label; \r
        // and bytes that are not UTF-8 go out as they came.
        let out = run(&mut m, &[(Some(1), b"root\r\n\xff\xfe ok\n")]);
        assert_eq!(out, b"root\r\nvm1: \xff\xfe ok\n");
    }

    #[test]
    fn interleaved_vms_get_a_new_labelled_line() {
        let mut m = ConsoleMux::new(true);
        let out = run(
            &mut m,
            &[
                (Some(1), b"abc"),
                (Some(12), b"xyz\nnext"),
                (Some(12), b" more\n"),
                (Some(1), b"def\n"),
            ],
        );
        assert_eq!(
            out,
            b"vm1: abc\nvm12: xyz\nvm12: next more\nvm1: def\n".as_slice()
        );
    }

    #[test]
    fn monitor_lines_end_an_unfinished_guest_line() {
        let mut m = ConsoleMux::new(true);
        let out = run(
            &mut m,
            &[
                (Some(2), b"half"),
                (None, b"resourcemon: x\n"),
                (Some(2), b"rest\n"),
            ],
        );
        assert_eq!(out, b"vm2: half\nresourcemon: x\nvm2: rest\n".as_slice());
        // At a line start nothing is added.
        let out = run(&mut m, &[(None, b"resourcemon: y\n")]);
        assert_eq!(out, b"resourcemon: y\n");
    }

    #[test]
    fn raw_mode_is_the_original_stream() {
        let mut m = ConsoleMux::new(false);
        let out = run(
            &mut m,
            &[
                (Some(1), b"a\0b"),
                (Some(2), b"c"),
                (None, b"resourcemon: z\n"),
            ],
        );
        assert_eq!(out, b"a bcresourcemon: z\n".as_slice());
        // Labelled mode turns NUL into a space as well.
        let mut m = ConsoleMux::new(true);
        assert_eq!(run(&mut m, &[(Some(3), b"\0x\n")]), b"vm3:  x\n");
    }

    #[test]
    fn state_survives_a_word() {
        for m in [
            ConsoleMux::new(true),
            ConsoleMux::new(false),
            ConsoleMux {
                labels: true,
                owner: LineOwner::Vm(0),
            },
            ConsoleMux {
                labels: false,
                owner: LineOwner::Vm(15),
            },
        ] {
            assert_eq!(ConsoleMux::from_word(m.to_word()), m);
        }
    }

    #[test]
    fn labels_for_every_slot_width() {
        let mut b = [0u8; 8];
        assert_eq!(label_for(0, &mut b), b"vm0: ");
        assert_eq!(label_for(7, &mut b), b"vm7: ");
        assert_eq!(label_for(15, &mut b), b"vm15: ");
        assert_eq!(label_for(105, &mut b), b"vm105: ");
        assert_eq!(label_for(5000, &mut b), b"vm999: ");
    }
}
