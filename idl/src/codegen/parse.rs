//! Recursive-descent parser producing the syntax tree of an IDL file.
//!
//! Grammar (the accepted subset; see README):
//! ```text
//! file       := definition* EOF
//! definition := const | typedef | struct | exception | interface
//! interface  := attrs? "interface" ID (":" name ("," name)*)? "{" export* "}" ";"
//! export     := const | typedef | struct | exception | operation
//! const      := "const" type ID "=" expr ";"
//! typedef    := "typedef" type declarator ("," declarator)* ";"
//! struct     := "struct" ID "{" (type declarator ("," declarator)* ";")* "}" ";"
//! exception  := "exception" ID "{" "}" ";"
//! operation  := attrs? "oneway"? (type | "void") ID "(" params? ")" ("raises" "(" name,+ ")")? ";"
//! param      := attrs? ("in" | "out" | "inout") type ID
//! declarator := ID ("[" expr "]")*
//! attrs      := "[" ID ("(" expr,* ")")? ("," ...)* "]"
//! name       := "::"? ID ("::" ID)*
//! expr       := C integer expression over | ^ & << >> + - * / % ~ unary-, parentheses, names
//! ```

use super::lex::{Tok, Token};
use super::{ErrorKind, Pos};

/// A possibly scoped name such as `ILogging::log_space_t`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Name {
    pub(crate) parts: Vec<String>,
    pub(crate) pos: Pos,
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.parts.join("::"))
    }
}

/// Integer constant expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expr {
    Int(u64, Pos),
    Name(Name),
    Neg(Box<Expr>, Pos),
    Not(Box<Expr>, Pos),
    Bin(&'static str, Box<Expr>, Box<Expr>, Pos),
}

impl Expr {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Expr::Int(_, p) | Expr::Neg(_, p) | Expr::Not(_, p) | Expr::Bin(_, _, _, p) => *p,
            Expr::Name(n) => n.pos,
        }
    }
}

/// Built-in type keywords of CORBA IDL accepted by the subset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    Char,
    UChar,
    Short,
    UShort,
    Int,
    UInt,
    /// IDL4's `fpage`: an fpage to send (map item).
    FpageItem,
    /// `string`: a string item.
    String,
}

/// A type as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TypeRef {
    Keyword(Keyword, Pos),
    Named(Name),
}

impl TypeRef {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            TypeRef::Keyword(_, p) => *p,
            TypeRef::Named(n) => n.pos,
        }
    }
}

/// `[name(args)]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attr {
    pub(crate) name: String,
    pub(crate) args: Vec<Expr>,
    pub(crate) pos: Pos,
}

/// A declarator with optional array dimensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Declarator {
    pub(crate) name: String,
    pub(crate) dims: Vec<Expr>,
    pub(crate) pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConstDecl {
    pub(crate) ty: TypeRef,
    pub(crate) name: String,
    pub(crate) value: Expr,
    pub(crate) pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TypedefDecl {
    pub(crate) ty: TypeRef,
    pub(crate) decl: Declarator,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) ty: TypeRef,
    pub(crate) decl: Declarator,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StructDecl {
    pub(crate) name: String,
    pub(crate) members: Vec<Member>,
    pub(crate) pos: Pos,
    pub(crate) doc: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    In,
    Out,
    InOut,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) attrs: Vec<Attr>,
    pub(crate) dir: Dir,
    pub(crate) ty: TypeRef,
    pub(crate) name: String,
    pub(crate) pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OpDecl {
    pub(crate) attrs: Vec<Attr>,
    pub(crate) oneway: bool,
    pub(crate) ret: Option<TypeRef>,
    pub(crate) name: String,
    pub(crate) params: Vec<Param>,
    pub(crate) raises: Vec<Name>,
    pub(crate) pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Export {
    Const(ConstDecl),
    Typedef(TypedefDecl),
    Struct(StructDecl),
    Exception(String, Pos),
    Op(OpDecl),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InterfaceDecl {
    pub(crate) attrs: Vec<Attr>,
    pub(crate) name: String,
    pub(crate) bases: Vec<Name>,
    pub(crate) body: Vec<Export>,
    pub(crate) pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Definition {
    Export(Export),
    Interface(InterfaceDecl),
}

pub(crate) type PResult<T> = Result<T, (Pos, ErrorKind)>;

pub(crate) struct Parser {
    toks: Vec<Token>,
    i: usize,
}

impl Parser {
    pub(crate) fn new(toks: Vec<Token>) -> Self {
        Parser { toks, i: 0 }
    }

    fn peek(&self) -> &Token {
        // The lexer always ends with Eof and we never advance past it.
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn unexpected<T>(&self, expected: &str) -> PResult<T> {
        let t = self.peek();
        Err((
            t.pos,
            ErrorKind::Expected {
                expected: expected.to_string(),
                found: t.kind.describe(),
            },
        ))
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(&self.peek().kind, Tok::Punct(q) if *q == p)
    }

    fn is_ident(&self, s: &str) -> bool {
        matches!(&self.peek().kind, Tok::Ident(q) if q == s)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, p: &str) -> PResult<Pos> {
        if self.is_punct(p) {
            Ok(self.next().pos)
        } else {
            self.unexpected(&format!("`{p}`"))
        }
    }

    fn expect_ident(&mut self, what: &str) -> PResult<(String, Pos)> {
        match &self.peek().kind {
            Tok::Ident(s) if !is_reserved(s) => {
                let s = s.clone();
                Ok((s, self.next().pos))
            }
            _ => self.unexpected(what),
        }
    }

    fn expect_keyword(&mut self, k: &str) -> PResult<Pos> {
        if self.is_ident(k) {
            Ok(self.next().pos)
        } else {
            self.unexpected(&format!("`{k}`"))
        }
    }

    /// Parses the whole file.
    pub(crate) fn file(&mut self) -> PResult<Vec<Definition>> {
        let mut defs = Vec::new();
        while self.peek().kind != Tok::Eof {
            let attrs = self.attrs()?;
            if self.is_ident("interface") {
                defs.push(Definition::Interface(self.interface(attrs)?));
            } else {
                if let Some(a) = attrs.first() {
                    return Err((a.pos, ErrorKind::MisplacedAttribute(a.name.clone())));
                }
                match self.export(Vec::new(), false)? {
                    Export::Op(op) => return Err((op.pos, ErrorKind::OperationOutsideInterface)),
                    e => defs.push(Definition::Export(e)),
                }
            }
        }
        Ok(defs)
    }

    fn attrs(&mut self) -> PResult<Vec<Attr>> {
        let mut out = Vec::new();
        while self.eat_punct("[") {
            loop {
                // Attribute names may be reserved words (`[oneway]`).
                let (name, pos) = match &self.peek().kind {
                    Tok::Ident(s) => {
                        let s = s.clone();
                        (s, self.next().pos)
                    }
                    _ => return self.unexpected("attribute name"),
                };
                let mut args = Vec::new();
                if self.eat_punct("(") {
                    if !self.is_punct(")") {
                        loop {
                            args.push(self.expr()?);
                            if !self.eat_punct(",") {
                                break;
                            }
                        }
                    }
                    self.expect_punct(")")?;
                }
                out.push(Attr { name, args, pos });
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct("]")?;
        }
        Ok(out)
    }

    fn interface(&mut self, attrs: Vec<Attr>) -> PResult<InterfaceDecl> {
        let pos = self.expect_keyword("interface")?;
        let (name, _) = self.expect_ident("interface name")?;
        let mut bases = Vec::new();
        if self.eat_punct(":") {
            loop {
                bases.push(self.name()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct("{")?;
        let mut body = Vec::new();
        while !self.is_punct("}") {
            let attrs = self.attrs()?;
            body.push(self.export(attrs, true)?);
        }
        self.expect_punct("}")?;
        self.expect_punct(";")?;
        Ok(InterfaceDecl {
            attrs,
            name,
            bases,
            body,
            pos,
        })
    }

    fn export(&mut self, attrs: Vec<Attr>, in_interface: bool) -> PResult<Export> {
        let non_op_attrs = |attrs: &[Attr]| -> PResult<()> {
            match attrs.first() {
                Some(a) => Err((a.pos, ErrorKind::MisplacedAttribute(a.name.clone()))),
                None => Ok(()),
            }
        };
        if self.is_ident("const") {
            non_op_attrs(&attrs)?;
            let pos = self.next().pos;
            let ty = self.type_ref()?;
            let (name, _) = self.expect_ident("constant name")?;
            self.expect_punct("=")?;
            let value = self.expr()?;
            self.expect_punct(";")?;
            Ok(Export::Const(ConstDecl {
                ty,
                name,
                value,
                pos,
            }))
        } else if self.is_ident("typedef") {
            non_op_attrs(&attrs)?;
            self.next();
            let ty = self.type_ref()?;
            let decl = self.declarator()?;
            if self.is_punct(",") {
                return self.unexpected("`;` (one declarator per typedef)");
            }
            self.expect_punct(";")?;
            Ok(Export::Typedef(TypedefDecl { ty, decl }))
        } else if self.is_ident("struct") {
            non_op_attrs(&attrs)?;
            let pos = self.next().pos;
            let (name, _) = self.expect_ident("struct name")?;
            self.expect_punct("{")?;
            let mut members = Vec::new();
            while !self.is_punct("}") {
                let ty = self.type_ref()?;
                loop {
                    members.push(Member {
                        ty: ty.clone(),
                        decl: self.declarator()?,
                    });
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                self.expect_punct(";")?;
            }
            self.expect_punct("}")?;
            self.expect_punct(";")?;
            Ok(Export::Struct(StructDecl {
                name,
                members,
                pos,
                doc: Vec::new(),
            }))
        } else if self.is_ident("exception") {
            non_op_attrs(&attrs)?;
            let pos = self.next().pos;
            let (name, _) = self.expect_ident("exception name")?;
            self.expect_punct("{")?;
            if !self.is_punct("}") {
                return Err((self.peek().pos, ErrorKind::ExceptionMembers));
            }
            self.next();
            self.expect_punct(";")?;
            Ok(Export::Exception(name, pos))
        } else if in_interface {
            Ok(Export::Op(self.operation(attrs)?))
        } else {
            self.unexpected("`const`, `typedef`, `struct`, `exception` or `interface`")
        }
    }

    fn operation(&mut self, attrs: Vec<Attr>) -> PResult<OpDecl> {
        let pos = self.peek().pos;
        let oneway = if self.is_ident("oneway") {
            self.next();
            true
        } else {
            false
        };
        let ret = if self.is_ident("void") {
            self.next();
            None
        } else {
            Some(self.type_ref()?)
        };
        let (name, _) = self.expect_ident("operation name")?;
        self.expect_punct("(")?;
        let mut params = Vec::new();
        if !self.is_punct(")") {
            loop {
                let pattrs = self.attrs()?;
                let ppos = self.peek().pos;
                let dir = if self.is_ident("in") {
                    Dir::In
                } else if self.is_ident("out") {
                    Dir::Out
                } else if self.is_ident("inout") {
                    Dir::InOut
                } else {
                    return self.unexpected("`in`, `out` or `inout`");
                };
                self.next();
                let ty = self.type_ref()?;
                let (pname, _) = self.expect_ident("parameter name")?;
                params.push(Param {
                    attrs: pattrs,
                    dir,
                    ty,
                    name: pname,
                    pos: ppos,
                });
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct(")")?;
        let mut raises = Vec::new();
        if self.is_ident("raises") {
            self.next();
            self.expect_punct("(")?;
            loop {
                raises.push(self.name()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")")?;
        }
        self.expect_punct(";")?;
        Ok(OpDecl {
            attrs,
            oneway,
            ret,
            name,
            params,
            raises,
            pos,
        })
    }

    fn declarator(&mut self) -> PResult<Declarator> {
        let (name, pos) = self.expect_ident("declarator name")?;
        let mut dims = Vec::new();
        while self.eat_punct("[") {
            dims.push(self.expr()?);
            self.expect_punct("]")?;
        }
        Ok(Declarator { name, dims, pos })
    }

    fn name(&mut self) -> PResult<Name> {
        let pos = self.peek().pos;
        self.eat_punct("::");
        let mut parts = vec![self.expect_ident("name")?.0];
        while self.is_punct("::") {
            self.next();
            parts.push(self.expect_ident("name after `::`")?.0);
        }
        Ok(Name { parts, pos })
    }

    fn type_ref(&mut self) -> PResult<TypeRef> {
        let pos = self.peek().pos;
        let word = match &self.peek().kind {
            Tok::Ident(s) => s.clone(),
            Tok::Punct("::") => return Ok(TypeRef::Named(self.name()?)),
            _ => return self.unexpected("type"),
        };
        let kw = |k| Ok(TypeRef::Keyword(k, pos));
        match word.as_str() {
            "unsigned" => {
                self.next();
                if self.is_ident("int") {
                    self.next();
                    kw(Keyword::UInt)
                } else if self.is_ident("short") {
                    self.next();
                    kw(Keyword::UShort)
                } else if self.is_ident("char") {
                    self.next();
                    kw(Keyword::UChar)
                } else if self.is_ident("long") {
                    Err((self.peek().pos, ErrorKind::Unsupported("`long` types")))
                } else {
                    kw(Keyword::UInt)
                }
            }
            "int" => {
                self.next();
                kw(Keyword::Int)
            }
            "short" => {
                self.next();
                kw(Keyword::Short)
            }
            "char" => {
                self.next();
                kw(Keyword::Char)
            }
            "fpage" => {
                self.next();
                kw(Keyword::FpageItem)
            }
            "string" => {
                self.next();
                if self.is_punct("<") {
                    return Err((self.peek().pos, ErrorKind::Unsupported("bounded strings")));
                }
                kw(Keyword::String)
            }
            "long" | "float" | "double" | "boolean" | "octet" | "any" | "sequence" | "union"
            | "enum" | "wchar" | "wstring" => {
                Err((pos, ErrorKind::Unsupported("this CORBA type (see README)")))
            }
            _ => Ok(TypeRef::Named(self.name()?)),
        }
    }

    // Expression parsing by precedence climbing (C precedence).
    fn expr(&mut self) -> PResult<Expr> {
        self.binary(0)
    }

    /// The binary operator at the cursor and its C precedence, if any.
    fn binop(&self) -> Option<(&'static str, u8)> {
        match &self.peek().kind {
            Tok::Punct(p) => match *p {
                "|" => Some(("|", 1)),
                "&" => Some(("&", 3)),
                "<<" => Some(("<<", 4)),
                ">>" => Some((">>", 4)),
                "+" => Some(("+", 5)),
                "-" => Some(("-", 5)),
                "*" => Some(("*", 6)),
                "/" => Some(("/", 6)),
                "%" => Some(("%", 6)),
                _ => None,
            },
            _ => None,
        }
    }

    fn binary(&mut self, min_prec: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = self.binop() {
            if prec < min_prec {
                break;
            }
            let pos = self.next().pos;
            let rhs = self.binary(prec + 1)?;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(rhs), pos);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        match t.kind {
            Tok::Punct("-") => {
                self.next();
                Ok(Expr::Neg(Box::new(self.unary()?), t.pos))
            }
            Tok::Punct("~") => {
                self.next();
                Ok(Expr::Not(Box::new(self.unary()?), t.pos))
            }
            Tok::Punct("(") => {
                self.next();
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Int(v) => {
                self.next();
                Ok(Expr::Int(v, t.pos))
            }
            Tok::Ident(_) | Tok::Punct("::") => Ok(Expr::Name(self.name()?)),
            _ => self.unexpected("expression"),
        }
    }

    /// True once every token was consumed (used by tests).
    #[cfg(test)]
    pub(crate) fn at_end(&self) -> bool {
        self.peek().kind == Tok::Eof
    }
}

fn is_reserved(s: &str) -> bool {
    matches!(
        s,
        "interface"
            | "const"
            | "typedef"
            | "struct"
            | "exception"
            | "in"
            | "out"
            | "inout"
            | "raises"
            | "void"
            | "unsigned"
            | "int"
            | "short"
            | "char"
            | "long"
            | "oneway"
    )
}

#[cfg(test)]
mod tests {
    use super::super::lex::lex;
    use super::*;

    fn parse(src: &str) -> PResult<Vec<Definition>> {
        let mut p = Parser::new(lex(src)?);
        let r = p.file();
        if r.is_ok() {
            assert!(p.at_end());
        }
        r
    }

    #[test]
    fn precedence() {
        let d = parse("const int x = 1 + 2 * 3 << 1;").unwrap();
        let Definition::Export(Export::Const(c)) = &d[0] else {
            panic!("not a const: {d:?}")
        };
        // (1 + (2 * 3)) << 1
        let Expr::Bin("<<", l, _, _) = &c.value else {
            panic!("{:?}", c.value)
        };
        assert!(matches!(**l, Expr::Bin("+", _, _, _)));
    }

    #[test]
    fn interface_with_everything() {
        let d = parse(
            "[uuid(3)] interface I : J, ::K { [oneway] void f(); \
             int g(in unsigned a, [labelbits(3)] in W b, out fpage c) raises(e, I::e); };",
        )
        .unwrap();
        let Definition::Interface(i) = &d[0] else {
            panic!()
        };
        assert_eq!(i.bases.len(), 2);
        let Export::Op(g) = &i.body[1] else { panic!() };
        assert_eq!(g.params.len(), 3);
        assert_eq!(g.params[1].attrs[0].name, "labelbits");
        assert_eq!(g.raises[1].parts, vec!["I", "e"]);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let (pos, kind) = parse("interface I {\n  void f(in int);\n};").unwrap_err();
        assert_eq!(pos, Pos { line: 2, col: 16 });
        assert!(matches!(kind, ErrorKind::Expected { .. }), "{kind:?}");
        let (pos, _) = parse("void f();").unwrap_err();
        assert_eq!(pos, Pos { line: 1, col: 1 });
        let (_, kind) = parse("interface I { exception e { int x; }; };").unwrap_err();
        assert_eq!(kind, ErrorKind::ExceptionMembers);
        let (_, kind) = parse("const long x = 1;").unwrap_err();
        assert!(matches!(kind, ErrorKind::Unsupported(_)));
    }
}
