//! Tokenizer for the IDL subset: identifiers, integers (decimal, `0x` hex,
//! octal with leading 0), punctuation, `//` and `/* */` comments.

use super::{ErrorKind, Pos};

/// One token with the position of its first character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: Tok,
    pub(crate) pos: Pos,
}

/// Token kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Ident(String),
    Int(u64),
    /// Single punctuation character, or `::`, `<<`, `>>` as two-char strings.
    Punct(&'static str),
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(v) => format!("number {v}"),
            Tok::Punct(p) => format!("`{p}`"),
            Tok::Eof => "end of file".into(),
        }
    }
}

const PUNCT2: [&str; 3] = ["::", "<<", ">>"];
const PUNCT1: [&str; 20] = [
    "{", "}", "(", ")", "[", "]", ";", ",", ":", "=", "<", ">", "+", "-", "*", "/", "%", "|", "&",
    "~",
];

/// Splits `src` into tokens; the last token is always [`Tok::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, (Pos, ErrorKind)> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    // Advance over n bytes that are known not to contain newlines.
    macro_rules! bump {
        ($n:expr) => {{
            i += $n;
            col += $n as u32;
        }};
    }
    while i < b.len() {
        let c = b[i];
        let pos = Pos { line, col };
        if c == b'\n' {
            i += 1;
            line += 1;
            col = 1;
        } else if c.is_ascii_whitespace() {
            bump!(1);
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                bump!(1);
            }
        } else if b[i..].starts_with(b"/*") {
            bump!(2);
            loop {
                if i >= b.len() {
                    return Err((pos, ErrorKind::UnterminatedComment));
                }
                if b[i..].starts_with(b"*/") {
                    bump!(2);
                    break;
                }
                if b[i] == b'\n' {
                    i += 1;
                    line += 1;
                    col = 1;
                } else {
                    // Count characters, not bytes, so columns stay right after
                    // non-ASCII text in comments.
                    let w = utf8_len(b[i]);
                    i += w;
                    col += 1;
                }
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                bump!(1);
            }
            out.push(Token {
                kind: Tok::Ident(src[start..i].to_string()),
                pos,
            });
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                bump!(1);
            }
            let text = &src[start..i];
            let t = text.trim_end_matches(['u', 'U', 'l', 'L']);
            let parsed = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                u64::from_str_radix(h, 16)
            } else if t.len() > 1 && t.starts_with('0') {
                u64::from_str_radix(&t[1..], 8)
            } else {
                t.parse::<u64>()
            };
            match parsed {
                Ok(v) => out.push(Token {
                    kind: Tok::Int(v),
                    pos,
                }),
                Err(_) => return Err((pos, ErrorKind::BadNumber(text.to_string()))),
            }
        } else if let Some(p) = PUNCT2.iter().find(|p| b[i..].starts_with(p.as_bytes())) {
            bump!(2);
            out.push(Token {
                kind: Tok::Punct(p),
                pos,
            });
        } else if let Some(p) = PUNCT1.iter().find(|p| p.as_bytes()[0] == c) {
            bump!(1);
            out.push(Token {
                kind: Tok::Punct(p),
                pos,
            });
        } else {
            let ch = src[i..].chars().next().unwrap_or('?');
            return Err((pos, ErrorKind::UnexpectedChar(ch)));
        }
    }
    out.push(Token {
        kind: Tok::Eof,
        pos: Pos { line, col },
    });
    Ok(out)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_kinds() {
        let t = lex("a::b 0x1F\n  /* x\n y */ <<;").unwrap();
        let kinds: Vec<_> = t.iter().map(|t| t.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Ident("a".into()),
                Tok::Punct("::"),
                Tok::Ident("b".into()),
                Tok::Int(31),
                Tok::Punct("<<"),
                Tok::Punct(";"),
                Tok::Eof
            ]
        );
        assert_eq!(t[4].pos, Pos { line: 3, col: 7 });
    }

    #[test]
    fn errors_carry_positions() {
        assert_eq!(
            lex("x\n  $").unwrap_err(),
            (Pos { line: 2, col: 3 }, ErrorKind::UnexpectedChar('$'))
        );
        assert_eq!(
            lex("/* open").unwrap_err(),
            (Pos { line: 1, col: 1 }, ErrorKind::UnterminatedComment)
        );
        assert!(matches!(lex("09").unwrap_err().1, ErrorKind::BadNumber(_)));
    }
}
