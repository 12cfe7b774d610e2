//! Console lines for `IConsole::put_chars`: text is collected into one
//! stream chunk (at most [`CHUNK`] bytes, the stream's `raw` size) and
//! handed to a sink when a line ends or the chunk is full.

use core::fmt;

/// Bytes per put_chars call (`IConsole::max_len`).
pub const CHUNK: usize = 128;

/// A `fmt::Write` that buffers up to [`CHUNK`] bytes and calls `sink` with
/// each full chunk and with every line (newline included).
pub struct LineWriter<F: FnMut(&[u8])> {
    buf: [u8; CHUNK],
    len: usize,
    sink: F,
}

impl<F: FnMut(&[u8])> LineWriter<F> {
    /// A writer that sends its chunks to `sink`.
    pub const fn new(sink: F) -> Self {
        LineWriter {
            buf: [0; CHUNK],
            len: 0,
            sink,
        }
    }

    /// Send what is buffered (nothing if empty).
    pub fn flush(&mut self) {
        if self.len > 0 {
            (self.sink)(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl<F: FnMut(&[u8])> fmt::Write for LineWriter<F> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' || self.len == CHUNK {
                self.flush();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write;
    use std::vec::Vec;

    #[test]
    fn flushes_lines_and_full_chunks() {
        let mut out: Vec<Vec<u8>> = Vec::new();
        {
            let mut w = LineWriter::new(|c: &[u8]| out.push(c.to_vec()));
            write!(w, "check version: ").unwrap();
            writeln!(w, "ok").unwrap();
            let long = "x".repeat(300);
            writeln!(w, "{long}").unwrap();
            write!(w, "tail").unwrap();
            w.flush();
            w.flush();
        }
        assert_eq!(out[0], b"check version: ok\n");
        assert_eq!(out[1].len(), 128);
        assert_eq!(out[2].len(), 128);
        assert_eq!(out[3], [b"x".repeat(44), b"\n".to_vec()].concat());
        assert_eq!(out[4], b"tail");
        assert_eq!(out.len(), 5);
    }
}
