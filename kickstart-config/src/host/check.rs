//! `check`: reads a GRUB legacy `menu.lst` or a GRUB 2 `grub.cfg` the way
//! the boot loader reads it, and reports every problem with its position.
//!
//! * `menu.lst` (GRUB 0.97): carriage returns dropped, tabs read as blanks,
//!   a backslash before the line break joins the next line (with a blank),
//!   `#` starts a comment only at the start of a line, the command ends at a
//!   blank or `=`, a title is the rest of its line.
//! * `grub.cfg` (GRUB 2): shell-like words (single quotes literal, double
//!   quotes with `\` before `$ " \` and the line break, a backslash-newline
//!   removed, `#` comments, `;` and line breaks end commands, `{ }` blocks).
//!   GRUB 2.06 hands a module the words after its file name re-joined with
//!   blanks, a word with a blank wrapped in `"`, and `\ ' "` preceded by a
//!   backslash; the command line checked is that one.
//!
//! Unknown commands are errors with a "did you mean" suggestion.

use std::ops::Range;
use std::string::{String, ToString};
use std::vec::Vec;

use super::diag::{suggest, Diagnostic, Severity};
use crate::line::Line;
use crate::num::Size;
use crate::options::OptionErrorKind;
use crate::plan::{plan_with, GroupErrorKind, ModuleInput, PlanConfig, MAX_CMDLINE};

/// Most modules kickstart accepts (`MAX_MBI_MODULES`; anchors §7 item 8).
pub const KICKSTART_MAX_MODULES: usize = 32;
/// Kickstart's buffer for all command lines (`STRING_BUFFER_SIZE`), each
/// counted with its terminating NUL.
pub const KICKSTART_STRING_BUFFER: usize = 4096;
/// Memory below the first VM that is never given to guests (monitor at 4 MB,
/// first VM at 8 MB or above; spec §3.1): a lower bound used by the memory check.
pub const RESERVED_LOW: u64 = 8 << 20;

/// GRUB legacy (0.97) commands, including the common distribution additions
/// (sorted: looked up by binary search).
pub const GRUB_LEGACY_COMMANDS: &[&str] = &[
    "background",
    "blocklist",
    "boot",
    "bootp",
    "cat",
    "chainloader",
    "clear",
    "cmp",
    "color",
    "configfile",
    "debug",
    "default",
    "device",
    "dhcp",
    "displayapm",
    "displaymem",
    "embed",
    "fallback",
    "find",
    "foreground",
    "fstest",
    "geometry",
    "gfxmenu",
    "halt",
    "help",
    "hiddenmenu",
    "hide",
    "ifconfig",
    "impsprobe",
    "initrd",
    "install",
    "ioprobe",
    "kernel",
    "lock",
    "makeactive",
    "map",
    "md5crypt",
    "module",
    "modulenounzip",
    "pager",
    "partnew",
    "parttype",
    "password",
    "pause",
    "quit",
    "rarp",
    "read",
    "reboot",
    "root",
    "rootnoverify",
    "savedefault",
    "serial",
    "setkey",
    "setup",
    "shade",
    "splashimage",
    "terminal",
    "terminfo",
    "testload",
    "testvbe",
    "tftpserver",
    "timeout",
    "title",
    "unhide",
    "uppermem",
    "vbeprobe",
    "viewport",
];

/// GRUB 2 commands and reserved words a boot menu plausibly uses (sorted).
pub const GRUB2_COMMANDS: &[&str] = &[
    "[",
    "acpi",
    "background_color",
    "background_image",
    "badram",
    "blocklist",
    "boot",
    "break",
    "cat",
    "chainloader",
    "clear",
    "cmp",
    "configfile",
    "continue",
    "cpuid",
    "cutmem",
    "date",
    "devicetree",
    "do",
    "done",
    "drivemap",
    "echo",
    "elif",
    "else",
    "eval",
    "exit",
    "export",
    "false",
    "fi",
    "for",
    "function",
    "fwsetup",
    "gettext",
    "gfxmode",
    "halt",
    "hashsum",
    "help",
    "if",
    "in",
    "initrd",
    "initrd16",
    "insmod",
    "keystatus",
    "linux",
    "linux16",
    "load_env",
    "loadfont",
    "loopback",
    "ls",
    "lsmod",
    "md5sum",
    "menuentry",
    "module",
    "module2",
    "multiboot",
    "multiboot2",
    "normal",
    "normal_exit",
    "parttool",
    "password",
    "password_pbkdf2",
    "play",
    "probe",
    "read",
    "reboot",
    "return",
    "rmmod",
    "save_env",
    "search",
    "search.file",
    "search.fs_label",
    "search.fs_uuid",
    "serial",
    "set",
    "setparams",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "shift",
    "sleep",
    "source",
    "submenu",
    "terminal_input",
    "terminal_output",
    "terminfo",
    "test",
    "then",
    "true",
    "unset",
    "until",
    "videoinfo",
    "while",
];

/// Where the bytes of a command line came from: from byte `at` of the
/// command line on, the source bytes `src`; `exact` when byte `at + k` is
/// source byte `src.start + k` (otherwise any part maps to all of `src`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seg {
    /// First command-line byte of the segment.
    pub at: usize,
    /// The source bytes.
    pub src: Range<usize>,
    /// Byte-for-byte correspondence.
    pub exact: bool,
}

/// One command line of a menu entry and where each byte came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrcLine {
    /// The command line the kernel/module receives.
    pub cmdline: String,
    /// Source of the command line's bytes, ordered by `at`, the first at 0.
    pub segs: Vec<Seg>,
    /// The whole command (or TOML table) this line comes from.
    pub whole: Range<usize>,
}

impl SrcLine {
    fn seg(&self, i: usize) -> Option<&Seg> {
        let k = self.segs.partition_point(|s| s.at <= i);
        self.segs.get(k.checked_sub(1)?)
    }

    fn start_of(&self, i: usize) -> Option<usize> {
        let s = self.seg(i)?;
        Some(if s.exact {
            (s.src.start + (i - s.at)).min(s.src.end)
        } else {
            s.src.start
        })
    }

    fn end_of(&self, i: usize) -> Option<usize> {
        let s = self.seg(i)?;
        Some(if s.exact {
            (s.src.start + (i - s.at) + 1).min(s.src.end)
        } else {
            s.src.end
        })
    }

    /// The source span of command-line bytes `at..at+len` (at least one byte).
    pub fn span(&self, at: usize, len: usize) -> Range<usize> {
        let n = self.cmdline.len();
        if n == 0 || self.segs.is_empty() {
            return self.whole.clone();
        }
        let a = at.min(n - 1);
        let b = (at + len.max(1)).min(n).max(a + 1);
        match (self.start_of(a), self.end_of(b - 1)) {
            (Some(s), Some(e)) if e > s => s..e,
            (Some(s), _) => s..s + 1,
            _ => self.whole.clone(),
        }
    }

    /// The span of the whole command line.
    pub fn all(&self) -> Range<usize> {
        if self.cmdline.is_empty() {
            self.whole.clone()
        } else {
            self.span(0, self.cmdline.len())
        }
    }
}

/// Text being assembled together with the source offset of every byte,
/// kept as runs of consecutive source bytes (one run for a plain line).
#[derive(Default)]
struct Mapped {
    text: Vec<u8>,
    /// `(at, src)`: from text byte `at` on, source byte `src` onwards.
    runs: Vec<(usize, usize)>,
}

impl Mapped {
    fn push(&mut self, b: u8, off: usize) {
        let n = self.text.len();
        match self.runs.last() {
            Some(&(at, src)) if src + (n - at) == off => {}
            _ => self.runs.push((n, off)),
        }
        self.text.push(b);
    }

    fn pop(&mut self) {
        self.text.pop();
        if self
            .runs
            .last()
            .is_some_and(|&(at, _)| at == self.text.len())
        {
            self.runs.pop();
        }
    }

    fn len(&self) -> usize {
        self.text.len()
    }

    /// Source offset of text byte `i`.
    fn off(&self, i: usize) -> usize {
        let k = self.runs.partition_point(|&(at, _)| at <= i) - 1;
        let (at, src) = self.runs[k];
        src + (i - at)
    }

    /// Segments of `range`, placed from command-line byte `base` on.
    fn segs(&self, range: Range<usize>, base: usize) -> Vec<Seg> {
        let mut segs = Vec::new();
        for (k, &(at, src)) in self.runs.iter().enumerate() {
            let end = self.runs.get(k + 1).map_or(self.text.len(), |r| r.0);
            let (a, b) = (at.max(range.start), end.min(range.end));
            if a < b {
                segs.push(Seg {
                    at: base + a - range.start,
                    src: src + (a - at)..src + (b - at),
                    exact: true,
                });
            }
        }
        segs
    }

    fn string(&self, range: Range<usize>) -> String {
        String::from_utf8_lossy(&self.text[range]).into_owned()
    }
}

/// One boot entry: the loader line and the module lines in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The title, as the boot loader shows it.
    pub title: String,
    /// Where the entry starts (its `title`/`menuentry`, or TOML `title`).
    pub span: Range<usize>,
    /// The loader (kickstart) line.
    pub loader: Option<SrcLine>,
    /// The modules in order.
    pub modules: Vec<SrcLine>,
}

impl Entry {
    fn new(title: String, span: Range<usize>) -> Self {
        Entry {
            title,
            span,
            loader: None,
            modules: Vec::new(),
        }
    }
}

/// A menu file read as the boot loader reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Menu {
    /// The multiboot entries in file order.
    pub entries: Vec<Entry>,
    /// Problems of the file itself (syntax, unknown commands), in file order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Menu file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GRUB legacy: `title`, `kernel`, `module`, `modulenounzip`.
    MenuLst,
    /// GRUB 2: `menuentry "…" { multiboot …; module … }`.
    GrubCfg,
}

impl Format {
    /// Guesses the format from the text: any `menuentry` means GRUB 2.
    pub fn detect(text: &str) -> Format {
        if text
            .lines()
            .any(|l| l.trim_start().starts_with("menuentry"))
        {
            Format::GrubCfg
        } else {
            Format::MenuLst
        }
    }
}

/// Reads the multiboot entries of a menu file.
pub fn parse_menu(text: &str, format: Format) -> Menu {
    match format {
        Format::MenuLst => parse_menu_lst(text),
        Format::GrubCfg => parse_grub_cfg(text),
    }
}

fn unknown_command(word: &str, span: Range<usize>, known: &[&str], loader: &str) -> Diagnostic {
    let d = Diagnostic::error(
        span,
        std::format!("unknown command `{word}`: {loader} refuses this line when booting the entry"),
    );
    match suggest(word, known) {
        Some(s) => d.with_help(std::format!("did you mean `{s}`?")),
        None => d,
    }
}

fn current(entries: &mut Vec<Entry>, at: usize) -> &mut Entry {
    if entries.is_empty() {
        entries.push(Entry::new(String::new(), at..at + 1));
    }
    entries.last_mut().expect("just ensured non-empty")
}

/// GRUB 0.97's logical lines (`get_line_from_config`), one at a time to
/// `each` (one buffer, reused).
fn legacy_lines(text: &str, mut each: impl FnMut(&Mapped)) {
    let mut cur = Mapped::default();
    let (mut literal, mut comment) = (false, false);
    for (o, &b) in text.as_bytes().iter().enumerate() {
        let mut c = b;
        if c == b'\r' {
            continue;
        }
        if c == b'\t' {
            c = b' ';
        }
        if literal {
            if c == b'\n' {
                c = b' ';
                if cur.len() > 0 {
                    cur.pop();
                }
            }
            literal = false;
        }
        if c == b'\\' {
            literal = true;
        }
        if comment {
            if c == b'\n' {
                comment = false;
            }
        } else if cur.len() == 0 {
            if c == b'#' {
                comment = true;
            } else if c != b' ' && c != b'\n' {
                cur.push(c, o);
            }
        } else if c == b'\n' {
            each(&cur);
            cur.text.clear();
            cur.runs.clear();
        } else {
            cur.push(c, o);
        }
    }
    if cur.len() > 0 {
        each(&cur);
    }
}

fn parse_menu_lst(text: &str) -> Menu {
    let mut menu = Menu::default();
    legacy_lines(text, |l| {
        let t = &l.text;
        let n = t.len();
        let cmd_end = t.iter().position(|&c| c == b' ' || c == b'=').unwrap_or(n);
        let mut rest = cmd_end;
        while rest < n && (t[rest] == b' ' || t[rest] == b'=') {
            rest += 1;
        }
        let mut end = n;
        while end > rest && t[end - 1] == b' ' {
            end -= 1;
        }
        let cmd = l.string(0..cmd_end.max(1));
        let cmd_span = l.off(0)..l.off(cmd_end.max(1) - 1) + 1;
        let line_span = l.off(0)..l.off(n - 1) + 1;
        match cmd.as_str() {
            "title" => menu
                .entries
                .push(Entry::new(l.string(rest..end), line_span)),
            "kernel" | "module" | "modulenounzip" => {
                // kernel takes `--type=…` and `--no-mem-option` before the file.
                let mut from = rest;
                while cmd == "kernel" && t[from..end].starts_with(b"--") {
                    while from < end && t[from] != b' ' {
                        from += 1;
                    }
                    while from < end && t[from] == b' ' {
                        from += 1;
                    }
                }
                if from >= end {
                    menu.diagnostics.push(Diagnostic::error(
                        cmd_span,
                        std::format!("`{cmd}` without a file; expected `{cmd} FILE [ARGS]`"),
                    ));
                    return;
                }
                let src = SrcLine {
                    cmdline: l.string(from..end),
                    segs: l.segs(from..end, 0),
                    whole: line_span.clone(),
                };
                let e = current(&mut menu.entries, line_span.start);
                if cmd == "kernel" {
                    e.loader = Some(src);
                } else {
                    e.modules.push(src);
                }
            }
            c if GRUB_LEGACY_COMMANDS.binary_search(&c).is_ok() => {}
            c => menu.diagnostics.push(unknown_command(
                c,
                cmd_span,
                GRUB_LEGACY_COMMANDS,
                "GRUB legacy",
            )),
        }
    });
    menu
}

/// A GRUB 2 word after quote removal, with its source span.
struct Word {
    text: Mapped,
    span: Range<usize>,
    quoted: bool,
    variable: bool,
}

impl Word {
    fn str(&self) -> String {
        self.text.string(0..self.text.len())
    }
}

enum Token {
    Word(Word),
    /// `;` or a line break.
    End,
    Open(Range<usize>),
    Close(Range<usize>),
}

/// GRUB 2's lexer, enough for menus.
struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
    diagnostics: Vec<Diagnostic>,
    /// Buffers of words already used, for the next words (fewer allocations
    /// on large menus).
    spare: Vec<Mapped>,
}

fn is_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<Token> {
        let b = self.b;
        loop {
            while self.i < b.len() && matches!(b[self.i], b' ' | b'\t' | b'\r') {
                self.i += 1;
            }
            if b.get(self.i) == Some(&b'\\') && b.get(self.i + 1) == Some(&b'\n') {
                self.i += 2;
                continue;
            }
            if b.get(self.i) == Some(&b'#') {
                while self.i < b.len() && b[self.i] != b'\n' {
                    self.i += 1;
                }
            }
            break;
        }
        let start = self.i;
        let c = *b.get(self.i)?;
        match c {
            b'\n' | b';' => {
                self.i += 1;
                return Some(Token::End);
            }
            b'{' => {
                self.i += 1;
                return Some(Token::Open(start..start + 1));
            }
            b'}' => {
                self.i += 1;
                return Some(Token::Close(start..start + 1));
            }
            _ => {}
        }
        let mut w = Word {
            text: self.spare.pop().unwrap_or_default(),
            span: start..start,
            quoted: false,
            variable: false,
        };
        while let Some(&c) = b.get(self.i) {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'{' | b'}' => break,
                b'\\' => {
                    match b.get(self.i + 1) {
                        Some(b'\n') => {}
                        Some(&n) => w.text.push(n, self.i + 1),
                        None => w.text.push(c, self.i),
                    }
                    w.quoted = true;
                    self.i += 2;
                }
                b'\'' => {
                    w.quoted = true;
                    let open = self.i;
                    self.i += 1;
                    while self.i < b.len() && b[self.i] != b'\'' {
                        w.text.push(b[self.i], self.i);
                        self.i += 1;
                    }
                    if self.i >= b.len() {
                        self.diagnostics.push(Diagnostic::error(
                            open..open + 1,
                            "this single quote is never closed; GRUB 2 refuses the whole file",
                        ));
                    }
                    self.i += 1;
                }
                b'"' => {
                    w.quoted = true;
                    let open = self.i;
                    self.i += 1;
                    while self.i < b.len() && b[self.i] != b'"' {
                        let c = b[self.i];
                        if c == b'\\' && matches!(b.get(self.i + 1), Some(b'$' | b'"' | b'\\')) {
                            w.text.push(b[self.i + 1], self.i + 1);
                            self.i += 2;
                        } else if c == b'\\' && b.get(self.i + 1) == Some(&b'\n') {
                            self.i += 2;
                        } else {
                            if c == b'$' {
                                w.variable = true;
                            }
                            w.text.push(c, self.i);
                            self.i += 1;
                        }
                    }
                    if self.i >= b.len() {
                        self.diagnostics.push(Diagnostic::error(
                            open..open + 1,
                            "this double quote is never closed; GRUB 2 refuses the whole file",
                        ));
                    }
                    self.i += 1;
                }
                b'$' => {
                    w.variable = true;
                    w.text.push(c, self.i);
                    self.i += 1;
                    if b.get(self.i) == Some(&b'{') {
                        while self.i < b.len() && b[self.i] != b'}' && b[self.i] != b'\n' {
                            w.text.push(b[self.i], self.i);
                            self.i += 1;
                        }
                        if b.get(self.i) == Some(&b'}') {
                            w.text.push(b'}', self.i);
                            self.i += 1;
                        }
                    } else {
                        while self.i < b.len() && is_name(b[self.i]) {
                            w.text.push(b[self.i], self.i);
                            self.i += 1;
                        }
                    }
                }
                _ => {
                    w.text.push(c, self.i);
                    self.i += 1;
                }
            }
        }
        w.span = start..self.i.min(b.len()).max(start + 1);
        Some(Token::Word(w))
    }
}

/// The command line GRUB 2.06 gives a module: the words re-joined with
/// blanks, a word holding a blank wrapped in `"`, `\ ' "` escaped.
fn grub2_cmdline(words: &[Word], whole: Range<usize>) -> SrcLine {
    let mut cmdline = String::new();
    let mut segs: Vec<Seg> = Vec::new();
    for (k, w) in words.iter().enumerate() {
        let inserted = |segs: &mut Vec<Seg>, at: usize| {
            segs.push(Seg {
                at,
                src: w.span.clone(),
                exact: false,
            })
        };
        if k > 0 {
            inserted(&mut segs, cmdline.len());
            cmdline.push(' ');
        }
        let t = &w.text;
        let space = t.text.contains(&b' ');
        if space {
            inserted(&mut segs, cmdline.len());
            cmdline.push('"');
        }
        let mut run = 0;
        for i in 0..t.len() {
            if matches!(t.text[i], b'\\' | b'\'' | b'"') {
                let before = cmdline.len();
                cmdline.push_str(&t.string(run..i));
                segs.extend(t.segs(run..i, before));
                inserted(&mut segs, cmdline.len());
                cmdline.push('\\');
                run = i;
            }
        }
        let before = cmdline.len();
        cmdline.push_str(&t.string(run..t.len()));
        segs.extend(t.segs(run..t.len(), before));
        if space {
            inserted(&mut segs, cmdline.len());
            cmdline.push('"');
        }
    }
    segs.retain(|s| s.at < cmdline.len());
    SrcLine {
        cmdline,
        segs,
        whole,
    }
}

struct Block {
    open: Range<usize>,
    /// Index of the entry this block is (a `menuentry`'s body).
    entry: Option<usize>,
    what: String,
}

fn no_body(at: Range<usize>, what: &str) -> Diagnostic {
    Diagnostic::error(
        at,
        std::format!("{what} has no `{{ … }}` body; GRUB 2 refuses the whole file (syntax error)"),
    )
}

fn parse_grub_cfg(text: &str) -> Menu {
    let mut lx = Lexer {
        b: text.as_bytes(),
        i: 0,
        diagnostics: Vec::new(),
        spare: Vec::new(),
    };
    let mut menu = Menu::default();
    let mut stack: Vec<Block> = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    // A `menuentry …` header waiting for its `{` (line breaks may come between).
    let mut pending: Option<(String, Range<usize>, String)> = None;
    loop {
        let tok = lx.next();
        let ends = !matches!(tok, Some(Token::Word(_)));
        if ends && !words.is_empty() {
            let entry = stack.iter().rev().find_map(|b| b.entry);
            pending = grub2_command(&mut menu, &words, entry);
            for w in words.drain(..) {
                let mut m = w.text;
                m.text.clear();
                m.runs.clear();
                lx.spare.push(m);
            }
        }
        match tok {
            None => break,
            Some(Token::Word(w)) => {
                if words.is_empty() {
                    if let Some((_, at, what)) = pending.take() {
                        menu.diagnostics.push(no_body(at, &what));
                    }
                }
                words.push(w)
            }
            Some(Token::End) => {}
            Some(Token::Open(span)) => {
                let (entry, what) = match pending.take() {
                    Some((title, at, what)) => {
                        menu.entries.push(Entry::new(title, at));
                        (Some(menu.entries.len() - 1), what)
                    }
                    None => (None, "block".to_string()),
                };
                stack.push(Block {
                    open: span,
                    entry,
                    what,
                });
            }
            Some(Token::Close(span)) => {
                pending = None;
                if stack.pop().is_none() {
                    menu.diagnostics.push(Diagnostic::error(
                        span,
                        "`}` without an open `{`; GRUB 2 refuses the whole file (syntax error)",
                    ));
                }
            }
        }
    }
    if let Some((_, at, what)) = pending {
        menu.diagnostics.push(no_body(at, &what));
    }
    for b in stack {
        menu.diagnostics.push(Diagnostic::error(
            b.open,
            std::format!(
                "this `{{` of {} is never closed; GRUB 2 refuses the whole file (syntax error)",
                b.what
            ),
        ));
    }
    menu.diagnostics.extend(lx.diagnostics);
    menu.diagnostics.sort_by_key(|d| d.span.start);
    menu
}

/// One GRUB 2 command; returns a pending `menuentry`/`submenu` header.
fn grub2_command(
    menu: &mut Menu,
    words: &[Word],
    entry: Option<usize>,
) -> Option<(String, Range<usize>, String)> {
    let cmd = words[0].str();
    let whole = words[0].span.start..words.last().map_or(0, |w| w.span.end);
    if words[0].quoted {
        menu.diagnostics.push(unknown_command(
            &cmd,
            words[0].span.clone(),
            GRUB2_COMMANDS,
            "GRUB 2",
        ));
        return None;
    }
    match cmd.as_str() {
        "menuentry" | "submenu" => {
            // Options before the title; these take a value.
            let mut k = 1;
            while k < words.len() && words[k].text.text.starts_with(b"--") && !words[k].quoted {
                let opt = words[k].str();
                k += if matches!(opt.as_str(), "--class" | "--users" | "--hotkey" | "--id") {
                    2
                } else {
                    1
                };
            }
            let title = words.get(k).map(Word::str).unwrap_or_default();
            let what = std::format!("{cmd} \"{title}\"");
            Some((title, whole, what))
        }
        "multiboot" | "module" => {
            let mut k = 1;
            while k < words.len() && words[k].text.text.starts_with(b"--") && !words[k].quoted {
                k += 1;
            }
            if k >= words.len() {
                menu.diagnostics.push(Diagnostic::error(
                    words[0].span.clone(),
                    std::format!("`{cmd}` without a file; expected `{cmd} FILE [ARGS]`"),
                ));
                return None;
            }
            for w in &words[k..] {
                if w.variable {
                    menu.diagnostics.push(Diagnostic::warning(
                        w.span.clone(),
                        "GRUB 2 expands `$…` here (to nothing when unset); checked as written",
                    ));
                }
            }
            let src = grub2_cmdline(&words[k + 1..], whole.clone());
            let idx = match entry {
                Some(i) => i,
                None => {
                    current(&mut menu.entries, whole.start);
                    menu.entries.len() - 1
                }
            };
            let e = &mut menu.entries[idx];
            if cmd == "multiboot" {
                e.loader = Some(src);
            } else {
                e.modules.push(src);
            }
            None
        }
        c if GRUB2_COMMANDS.binary_search(&c).is_ok() => None,
        // `name=value` assigns a variable.
        c if c.contains('=') => None,
        c => {
            menu.diagnostics.push(unknown_command(
                c,
                words[0].span.clone(),
                GRUB2_COMMANDS,
                "GRUB 2",
            ));
            None
        }
    }
}

/// Machine facts for the checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Machine {
    /// Physical memory in bytes.
    pub memory: Option<u64>,
    /// CPUs.
    pub cpus: Option<u32>,
    /// Where the memory was given (a TOML `[machine] memory`), for the
    /// memory message; else it points at the first VM line.
    pub memory_span: Option<Range<usize>>,
}

/// The result of checking one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Findings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// The boot plan, one line per VM group (`VmPlan`'s Display, or the error).
    pub plan: Vec<String>,
}

impl Report {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

fn basename(cmdline: &str) -> &str {
    let p = Line::split(cmdline).path;
    p.rsplit(['/', ')']).next().unwrap_or(p)
}

/// Offset and length of the first option word starting with `key` (e.g.
/// `vmsize=`) in a command line, for errors about that option.
fn option_word(cmdline: &str, key: &str) -> Option<(usize, usize)> {
    Line::split(cmdline)
        .words()
        .find(|(_, w)| w.starts_with(key))
        .map(|(at, w)| (at, w.len()))
}

/// Checks one entry: kickstart's limits, every VM group through the
/// planner, and the memory the VMs need.
pub fn check_entry(e: &Entry, machine: &Machine) -> Report {
    let mut d = Vec::new();
    let push = |d: &mut Vec<Diagnostic>, sev: Severity, span: Range<usize>, msg: String| {
        d.push(Diagnostic {
            severity: sev,
            span,
            message: msg,
            help: None,
        })
    };
    let err = Severity::Error;
    let warn = Severity::Warning;
    match &e.loader {
        None => push(
            &mut d,
            err,
            e.span.clone(),
            "no kernel/multiboot line; expected kickstart as the boot loader's kernel".into(),
        ),
        Some(l) => {
            let total: usize = std::iter::once(l)
                .chain(&e.modules)
                .map(|s| s.cmdline.len() + 1)
                .sum();
            if total > KICKSTART_STRING_BUFFER {
                push(&mut d, err, l.all(), std::format!("all command lines together take {total} bytes (with NULs); kickstart's buffer holds {KICKSTART_STRING_BUFFER} (\"String buffer overrun\")"));
            }
        }
    }
    if e.modules.len() > KICKSTART_MAX_MODULES {
        let m = &e.modules[KICKSTART_MAX_MODULES];
        push(&mut d, err, m.whole.clone(), std::format!("module {} of {}: kickstart takes at most {KICKSTART_MAX_MODULES} modules and silently drops the rest", KICKSTART_MAX_MODULES + 1, e.modules.len()));
    }
    if e.modules.len() < 3 {
        push(&mut d, err, e.span.clone(), std::format!("{} modules; kickstart expects at least kernel, sigma0 and root task, in this order", e.modules.len()));
    }
    for (i, m) in e.modules.iter().enumerate() {
        let name = basename(&m.cmdline);
        let is_sigma0 = name.contains("sigma0");
        if (i == 1) != is_sigma0 && (i < 3 || is_sigma0) {
            let msg = if i == 1 {
                std::format!("second module `{name}` does not look like sigma0; kickstart's order is kernel, sigma0, root task")
            } else {
                std::format!("`{name}` looks like sigma0 but is module {}; kickstart's order is kernel, sigma0, root task", i + 1)
            };
            let path = Line::split(&m.cmdline).path;
            let at = path.len() - name.len();
            push(
                &mut d,
                if i == 1 { warn } else { err },
                m.span(at, name.len()),
                msg,
            );
        }
        if i < 3 && crate::line::find(Line::split(&m.cmdline).options, "vmstart").is_some() {
            push(&mut d, err, m.all(), std::format!("module {} carries `vmstart`, but the first three modules are kernel, sigma0 and root task", i + 1));
        }
    }
    // GRUB 2 drops the file name: a command line starting with an option
    // means the monitor will take that option as the path.
    for m in e.modules.iter().skip(3) {
        let p = Line::split(&m.cmdline).path;
        if p.contains('=') || p == "vmstart" || p == "ddos" {
            push(&mut d, err, m.span(0, p.len()), std::format!("`{p}` is in the path position: the monitor strips the first word as the module path; with GRUB 2 write the path twice (`module FILE FILE args`)"));
        }
    }
    let vms: Vec<&SrcLine> = e
        .modules
        .iter()
        .skip(3)
        .take(KICKSTART_MAX_MODULES.saturating_sub(3))
        .collect();
    let inputs: Vec<ModuleInput<'_>> = vms
        .iter()
        .map(|s| ModuleInput {
            cmdline: &s.cmdline,
            head: &[],
            size: 0,
        })
        .collect();
    if vms.len() > 1 && !crate::options::ModuleLine::parse(&vms[0].cmdline).vmstart {
        push(&mut d, warn, vms[0].all(), "the first VM module has no `vmstart`: the next VM is then the next module that starts with the ELF magic, which depends on file contents; expected `vmstart` on every VM's first module".into());
    }
    let cfg = PlanConfig {
        cpus: machine.cpus,
        ..PlanConfig::default()
    };
    let plan = plan_with(&inputs, &cfg);
    let mut lines = Vec::new();
    let mut need: u64 = 0;
    for g in &plan {
        match g {
            Ok(p) => {
                lines.push(p.to_string());
                need += u64::from(p.size) * u64::from(p.instances);
                let s = vms[p.vm_module];
                if p.options.wedgeinstall != 0 && (p.ramdisk.is_some() || p.installed.is_empty()) {
                    let why = if p.ramdisk.is_some() {
                        "ramdisk mode (/dev/ram, /dev/rd/ or initrd) on a wedge line: an afterburn wedge finds its kernel in modules[], which stays empty in ramdisk mode (spec §2.3); put these words on the kernel's line"
                    } else {
                        "wedgeinstall= is set but the group has no module for the wedge to boot; expected a kernel module after the wedge"
                    };
                    push(&mut d, warn, s.all(), why.into());
                }
                if p.original_instances != p.instances {
                    let at = option_word(&s.cmdline, "clones=")
                        .map_or_else(|| s.all(), |(a, l)| s.span(a, l));
                    push(&mut d, warn, at, std::format!("the original starts only {} instance(s) of this group, not {}: its clone counter is never reset between groups (spec §1.5)", p.original_instances, p.instances));
                }
            }
            Err(er) => {
                lines.push(std::format!("error: {er}"));
                let s = vms[er.module];
                let word = |key: &str| option_word(&s.cmdline, key);
                let at_len = match er.kind {
                    GroupErrorKind::Option(o) => Some(match o.kind {
                        OptionErrorKind::Number(_) => (o.at, o.word.len() - (o.at - o.word_at)),
                        _ => (o.word_at, o.word.len()),
                    }),
                    GroupErrorKind::CmdlineTooLong { .. } => Some((
                        MAX_CMDLINE.min(s.cmdline.len()),
                        s.cmdline.len().saturating_sub(MAX_CMDLINE),
                    )),
                    GroupErrorKind::WedgeDoesNotFit { .. } => word("wedgesize=")
                        .or_else(|| word("wedgeinstall="))
                        .or_else(|| word("vmsize=")),
                    GroupErrorKind::SizeOverflow { .. } => word("vmsize=").or_else(|| word("mem=")),
                    GroupErrorKind::TooManyVcpus { .. } => word("vcpus="),
                    GroupErrorKind::TooManyCpus { .. } => word("pcpus="),
                    GroupErrorKind::TooManyVms { .. } => word("clones="),
                    _ => None,
                };
                let span = match at_len {
                    Some((a, l)) => s.span(a, l),
                    None => s.whole.clone(),
                };
                let mut msg = er.to_string();
                if let GroupErrorKind::Option(o) = er.kind {
                    msg = std::format!("vm {}: {o}", er.group);
                }
                push(&mut d, err, span, msg);
            }
        }
    }
    if let (Some(mem), true) = (machine.memory, need > 0) {
        if RESERVED_LOW + need > mem {
            let span = machine
                .memory_span
                .clone()
                .or_else(|| vms.first().map(|s| s.all()))
                .or_else(|| e.loader.as_ref().map(SrcLine::all));
            let msg = std::format!(
                "the VMs need {} (plus at least {} below the first VM) but the machine has {}",
                fmt_bytes(need),
                fmt_bytes(RESERVED_LOW),
                fmt_bytes(mem)
            );
            if let Some(span) = span {
                push(&mut d, err, span, msg);
            }
        }
    }
    d.sort_by_key(|x| x.span.start);
    Report {
        diagnostics: d,
        plan: lines,
    }
}

fn fmt_bytes(v: u64) -> String {
    match u32::try_from(v) {
        Ok(v) => Size(v).to_string(),
        Err(_) => std::format!("{}M", v >> 20),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lists_are_sorted_for_binary_search() {
        for list in [GRUB_LEGACY_COMMANDS, GRUB2_COMMANDS] {
            assert!(list.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        }
    }

    #[test]
    fn mapped_runs() {
        let mut m = Mapped::default();
        for (b, o) in [(b'a', 10), (b'b', 11), (b' ', 20), (b'c', 21)] {
            m.push(b, o);
        }
        assert_eq!(m.runs, [(0, 10), (2, 20)]);
        assert_eq!(m.off(3), 21);
        assert_eq!(
            m.segs(1..4, 5),
            [
                Seg {
                    at: 5,
                    src: 11..12,
                    exact: true
                },
                Seg {
                    at: 6,
                    src: 20..22,
                    exact: true
                }
            ]
        );
        m.pop();
        m.pop();
        assert_eq!(m.runs, [(0, 10)]);
    }
}
