//! Located findings and how they are shown: a [`SourceFile`] (text plus a
//! line index, so locating is a binary search and `check` stays linear), a
//! [`Diagnostic`] (severity, byte span, message, optional help), rendered by
//! `annotate-snippets` (the crate rustc uses) with colour on a terminal and
//! plain text otherwise.

use std::ops::Range;
use std::string::String;
use std::vec::Vec;

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Will not boot as intended: rendering refuses it (unless forced).
    Error,
    /// Boots, but differently from the original or fragile.
    Warning,
}

/// One finding, positioned by a byte span in the checked file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Byte range in the source text (may be empty at the end of the text).
    pub span: Range<usize>,
    /// What is wrong and what would be accepted.
    pub message: String,
    /// A suggestion (e.g. the command a typo probably meant).
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
            help: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    /// Adds a suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The same finding demoted to a warning (what `--force` prints).
    pub fn forced(mut self) -> Self {
        if self.severity == Severity::Error {
            self.severity = Severity::Warning;
            self.message = std::format!("{} (written anyway: --force)", self.message);
        }
        self
    }
}

/// Colour or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Plain text (files, pipes, snapshot tests).
    Plain,
    /// ANSI colours (a terminal).
    Color,
}

impl Style {
    /// Colour when standard error is a terminal and `NO_COLOR` is unset.
    pub fn for_stderr() -> Style {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
            Style::Color
        } else {
            Style::Plain
        }
    }
}

/// A checked file: its name for messages, its text, and where each line starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The name shown in messages (usually the path).
    pub name: String,
    /// The whole text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Indexes `text` (one pass).
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// 0-based index of the line holding byte `offset`.
    fn line_index(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// 1-based line and column (in characters) of byte `offset`.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor(offset.min(self.text.len()));
        let l = self.line_index(offset);
        let col = self.text[self.line_starts[l]..offset].chars().count() + 1;
        (l + 1, col)
    }

    fn floor(&self, mut at: usize) -> usize {
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        at
    }

    /// `name:line:col` of byte `offset`.
    pub fn locate(&self, offset: usize) -> String {
        let (l, c) = self.line_col(offset);
        std::format!("{}:{l}:{c}", self.name)
    }

    /// Renders one finding: the header, `--> file:line:col`, the lines of
    /// the span with the span underlined, and the help if any. Only the
    /// lines of the span are handed to the renderer, so the cost does not
    /// grow with the file.
    pub fn render(&self, d: &Diagnostic, style: Style) -> String {
        let start = self.floor(d.span.start.min(self.text.len()));
        let end = self.floor(d.span.end.clamp(start, self.text.len()));
        let first = self.line_index(start);
        let last = self.line_index(end.saturating_sub(1).max(start));
        let from = self.line_starts[first];
        let to = self
            .line_starts
            .get(last + 1)
            .map_or(self.text.len(), |&s| s - 1);
        let to = to.max(end).min(self.text.len());
        // Tabs as one blank each: same byte offsets, and the column shown
        // is the character column (the renderer would widen a tab).
        let excerpt = self.text[from..to].replace('\t', " ");
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let snippet = Snippet::source(excerpt.as_str())
            .line_start(first + 1)
            .path(self.name.as_str())
            .fold(false)
            .annotation(AnnotationKind::Primary.span(start - from..end - from));
        let mut group = level.primary_title(d.message.as_str()).element(snippet);
        if let Some(h) = &d.help {
            group = group.element(Level::HELP.message(h.as_str()));
        }
        let renderer = match style {
            Style::Plain => Renderer::plain(),
            Style::Color => Renderer::styled(),
        };
        let mut out = renderer.render(&[group]);
        out.push('\n');
        out
    }
}

/// The closest of `known` to `word`, if it is a plausible typo (at most two
/// edits, and fewer than the word's length).
pub fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(word, k), *k))
        .filter(|&(d, _)| d <= 2 && d < word.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_and_plain_render() {
        let f = SourceFile::new("f.lst", "title a\nmodule /x vmsize=64MB\n");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(8), (2, 1));
        assert_eq!(f.line_col(18), (2, 11));
        let out = f.render(
            &Diagnostic::error(25..27, "bad suffix").with_help("write 64M"),
            Style::Plain,
        );
        assert!(out.contains("error: bad suffix"), "{out}");
        assert!(out.contains("--> f.lst:2:18"), "{out}");
        assert!(out.contains("module /x vmsize=64MB"), "{out}");
        assert!(out.contains("help: write 64M"), "{out}");
        assert!(!out.contains('\x1b'), "plain text has no escapes");
        assert!(f
            .render(&Diagnostic::warning(0..5, "w"), Style::Color)
            .contains('\x1b'));
    }

    #[test]
    fn suggestions() {
        let known = ["module", "modulenounzip", "kernel"];
        assert_eq!(suggest("modul", &known), Some("module"));
        assert_eq!(suggest("kernal", &known), Some("kernel"));
        assert_eq!(suggest("zzz", &known), None);
    }
}
