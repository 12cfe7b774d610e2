//! Splitting a module command line into its path and its options (spec §2.1).

/// True for the only two blank characters of the language: space and TAB
/// (the original's `isspace`, l4ka-resourcemon/string.h).
pub const fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// A module command line split the way the original splits it: the first
/// blank-delimited word is the module path, the following blanks are dropped,
/// and the remainder is the options string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The full command line as the boot loader delivered it (path included).
    pub full: &'a str,
    /// The module path (the first word; empty if the line starts with a blank).
    pub path: &'a str,
    /// The options string: everything after the path and the blanks after it.
    pub options: &'a str,
    /// Byte offset of `options` inside `full`.
    pub options_at: usize,
}

impl<'a> Line<'a> {
    /// Splits `full` into path and options exactly like the original.
    pub fn split(full: &'a str) -> Self {
        let b = full.as_bytes();
        let mut i = 0;
        while i < b.len() && !is_blank(b[i]) {
            i += 1;
        }
        let path = &full[..i];
        while i < b.len() && is_blank(b[i]) {
            i += 1;
        }
        Line {
            full,
            path,
            options: &full[i..],
            options_at: i,
        }
    }

    /// The blank-separated words of the options string with their byte offsets
    /// inside the *full* line.
    pub fn words(&self) -> Words<'a> {
        Words {
            text: self.options,
            base: self.options_at,
            pos: 0,
        }
    }
}

/// Iterator over blank-separated words with their offsets; see [`Line::words`].
#[derive(Debug, Clone)]
pub struct Words<'a> {
    text: &'a str,
    base: usize,
    pos: usize,
}

impl<'a> Words<'a> {
    /// Words of an arbitrary text; offsets are relative to `base`.
    pub fn new(text: &'a str, base: usize) -> Self {
        Words { text, base, pos: 0 }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        while self.pos < b.len() && is_blank(b[self.pos]) {
            self.pos += 1;
        }
        if self.pos >= b.len() {
            return None;
        }
        let start = self.pos;
        while self.pos < b.len() && !is_blank(b[self.pos]) {
            self.pos += 1;
        }
        Some((self.base + start, &self.text[start..self.pos]))
    }
}

/// Byte offset of the first occurrence of `needle` in `hay` (the original's `strstr`).
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// All occurrences of `needle` in `hay`, left to right, possibly overlapping.
pub fn find_all<'h>(hay: &'h str, needle: &'h str) -> impl Iterator<Item = usize> + 'h {
    hay.as_bytes()
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle.as_bytes())
        .map(|(i, _)| i)
}

/// The word of `text` that contains byte `at` (for error messages about
/// substring matches that fall inside a longer word).
pub fn word_at(text: &str, at: usize) -> (usize, &str) {
    let b = text.as_bytes();
    let mut s = at.min(b.len());
    while s > 0 && !is_blank(b[s - 1]) {
        s -= 1;
    }
    let mut e = at.min(b.len());
    while e < b.len() && !is_blank(b[e]) {
        e += 1;
    }
    (s, &text[s..e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_path_and_following_blanks() {
        let l = Line::split("/boot/wedge \t vmstart  vmsize=64M");
        assert_eq!(l.path, "/boot/wedge");
        assert_eq!(l.options, "vmstart  vmsize=64M");
        assert_eq!(l.options_at, 14);
        let w: std::vec::Vec<_> = l.words().collect();
        assert_eq!(w, [(14, "vmstart"), (23, "vmsize=64M")]);
    }

    #[test]
    fn only_space_and_tab_are_blanks() {
        let l = Line::split("a\nb c");
        assert_eq!(l.path, "a\nb");
        assert_eq!(l.options, "c");
        assert_eq!(Line::split("").options, "");
        assert_eq!(Line::split("path").options, "");
        assert_eq!(Line::split(" x").path, "");
    }

    #[test]
    fn word_at_finds_the_enclosing_word() {
        assert_eq!(word_at("a noddos b", 4), (2, "noddos"));
    }
}
