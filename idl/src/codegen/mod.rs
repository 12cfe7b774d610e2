//! The IDL compiler: parses the CORBA-IDL subset of `resourcemon.idl` and
//! generates Rust for it. Host only (feature `codegen`); meant to be called
//! from a build script:
//!
//! ```no_run
//! # fn main() -> Result<(), idl::codegen::Error> {
//! let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
//! idl::codegen::Generator::new(idl::codegen::RESOURCEMON_IDL)
//!     .server()
//!     .client()
//!     .write(out.join("resourcemon.rs"))?;
//! # Ok(()) }
//! ```
//!
//! Errors point into the source as `file:line:col: message`.

mod emit;
mod lex;
mod model;
mod parse;

use std::path::{Path, PathBuf};

/// Absolute path of the project's `resourcemon.idl` (it ships inside this
/// crate so every build script can find it without guessing relative paths).
pub const RESOURCEMON_IDL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/resourcemon.idl");

/// A position in the IDL source (1-based line and column, columns count
/// characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line number, from 1.
    pub line: u32,
    /// Column number, from 1.
    pub col: u32,
}

/// What is wrong at a source position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// A character that starts no token.
    #[error("unexpected character `{0}`")]
    UnexpectedChar(char),
    /// `/*` without `*/`.
    #[error("unterminated comment")]
    UnterminatedComment,
    /// An integer literal that does not parse or does not fit 64 bits.
    #[error("bad number `{0}`")]
    BadNumber(String),
    /// The parser wanted something else here.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What would have been accepted.
        expected: String,
        /// What was there.
        found: String,
    },
    /// Attribute where none is allowed.
    #[error("attribute `{0}` is not allowed here")]
    MisplacedAttribute(String),
    /// Operations must live in interfaces.
    #[error("operations must be declared inside an interface")]
    OperationOutsideInterface,
    /// Exceptions with members are outside the subset.
    #[error("exceptions with members are not supported (IDL4 replies carry no exception data)")]
    ExceptionMembers,
    /// A CORBA construct outside the accepted subset.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// A name declared twice.
    #[error("duplicate {what} `{name}`")]
    Duplicate {
        /// Kind of declaration.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A name that resolves to nothing.
    #[error("unknown name `{0}`")]
    UnknownName(String),
    /// A name used as a type that is not one.
    #[error("`{0}` is not a type")]
    NotAType(String),
    /// A name used in an expression that is not a constant.
    #[error("`{0}` is not a constant")]
    NotAConstant(String),
    /// A raises entry that is not an exception.
    #[error("`{0}` is not an exception")]
    NotAnException(String),
    /// An exception of another interface (numbering is per interface).
    #[error(
        "`{0}` belongs to another interface; operations raise their own interface's exceptions"
    )]
    ForeignException(String),
    /// A base that is not an interface.
    #[error("`{0}` is not an interface")]
    NotAnInterface(String),
    /// Constant arithmetic overflowed.
    #[error("constant expression overflows")]
    ConstOverflow,
    /// Division by zero in a constant.
    #[error("division by zero")]
    DivisionByZero,
    /// A value outside its allowed range.
    #[error("{what} out of range: {value}")]
    OutOfRange {
        /// What the value is for.
        what: &'static str,
        /// The value.
        value: i128,
    },
    /// Map/string item types used where only data types are allowed.
    #[error("`fpage` and `string` are only allowed as out parameters, not as {0}")]
    ItemType(&'static str),
    /// Every interface needs an id.
    #[error("interface `{0}` has no [uuid(...)]")]
    MissingUuid(String),
    /// An attribute the compiler does not know.
    #[error("unknown attribute `{0}`")]
    UnknownAttribute(String),
    /// A known attribute used wrongly.
    #[error("attribute `{attr}`: {reason}")]
    BadAttribute {
        /// The attribute.
        attr: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `[kernelmsg(x)]` with an unknown x.
    #[error("unknown kernel message `{0}` (known: idl4::startup, interrupt, pagefault, preemption, sysexc, archexc, sigma0rpc, iopagefault)")]
    UnknownKernelMessage(String),
    /// Two operations of one server share a label.
    #[error("operations `{a}` and `{b}` both use label {label:#06x}")]
    LabelClash {
        /// First operation.
        a: String,
        /// Second operation.
        b: String,
        /// The label.
        label: u16,
    },
    /// Two operations of one trait hierarchy map to the same Rust method.
    #[error("operation `{0}` clashes with an inherited operation's Rust method name")]
    MethodClash(String),
    /// Message longer than 63 words.
    #[error("operation `{op}` needs {words} message words (at most 63)")]
    TooManyWords {
        /// The operation.
        op: String,
        /// Words needed.
        words: usize,
    },
    /// Variants A and B would have the same u but different layouts, so
    /// dispatch could not tell them apart.
    #[error("operation `{0}`: variants A and B have the same untyped count but different layouts")]
    VariantAmbiguous(String),
    /// A reply whose values would sit in different MRs for A and B clients.
    #[error("operation `{0}`: reply layout differs between variants A and B")]
    ReplyVariantMismatch(String),
    /// `[oneway]` operation with results.
    #[error("oneway operation `{0}` cannot have results or raise exceptions")]
    OnewayWithResults(String),
    /// A parameter name the generated API uses itself.
    #[error("parameter name `{0}` is reserved by the generated API")]
    Reserved(String),
}

/// Errors of the compiler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The IDL text is wrong at a position.
    #[error("{file}:{}:{}: {kind}", pos.line, pos.col)]
    Source {
        /// File name as given.
        file: String,
        /// Where.
        pos: Pos,
        /// What.
        kind: ErrorKind,
    },
    /// The IDL file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The output could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Builder for one generation run.
#[derive(Clone, Debug)]
pub struct Generator {
    path: PathBuf,
    server: bool,
    client: bool,
}

impl Generator {
    /// Generates from the IDL file at `path`. Types, constants, the `Op` and
    /// `Exception` enums are always emitted; add [`server`](Self::server)
    /// and/or [`client`](Self::client).
    pub fn new(path: impl AsRef<Path>) -> Self {
        Generator {
            path: path.as_ref().to_path_buf(),
            server: false,
            client: false,
        }
    }

    /// Also emit the `Server` traits and `dispatch` functions.
    pub fn server(mut self) -> Self {
        self.server = true;
        self
    }

    /// Also emit the `Client` stubs and `encode_*`/`decode_*_reply` functions.
    pub fn client(mut self) -> Self {
        self.client = true;
        self
    }

    /// Reads the file and returns the generated Rust source.
    pub fn generate(&self) -> Result<String, Error> {
        let text = std::fs::read_to_string(&self.path).map_err(|source| Error::Read {
            path: self.path.clone(),
            source,
        })?;
        let name = self.path.display().to_string();
        generate_str(
            &name,
            &text,
            Options {
                server: self.server,
                client: self.client,
            },
        )
    }

    /// Generates and writes `out` (only if the content changed, so cargo does
    /// not rebuild needlessly). Inside a build script (`OUT_DIR` set) it
    /// also prints `cargo::rerun-if-changed` for the IDL file.
    pub fn write(&self, out: impl AsRef<Path>) -> Result<(), Error> {
        let out = out.as_ref();
        let code = self.generate()?;
        if std::env::var_os("OUT_DIR").is_some() {
            println!("cargo::rerun-if-changed={}", self.path.display());
        }
        if std::fs::read_to_string(out).ok().as_deref() == Some(code.as_str()) {
            return Ok(());
        }
        std::fs::write(out, code).map_err(|source| Error::Write {
            path: out.to_path_buf(),
            source,
        })
    }
}

/// Which optional parts to emit (see [`Generator`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Server traits and dispatch.
    pub server: bool,
    /// Client stubs.
    pub client: bool,
}

/// Compiles IDL text; `file` is only used in error messages and the header.
pub fn generate_str(file: &str, text: &str, opts: Options) -> Result<String, Error> {
    let err = |(pos, kind)| Error::Source {
        file: file.to_string(),
        pos,
        kind,
    };
    let toks = lex::lex(text).map_err(err)?;
    let defs = parse::Parser::new(toks).file().map_err(err)?;
    let model = model::build(&defs).map_err(err)?;
    let short = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    Ok(emit::emit(
        &model,
        &short,
        emit::Options {
            server: opts.server,
            client: opts.client,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        generate_str("t.idl", text, Options::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn resourcemon_idl_compiles() {
        let code = Generator::new(RESOURCEMON_IDL)
            .server()
            .client()
            .generate()
            .unwrap();
        assert!(code.contains("pub mod iresourcemon {"));
        assert!(code.contains("pub trait Server: super::ilocator::Server"));
    }

    #[test]
    fn errors_are_file_line_col() {
        assert_eq!(
            err("[uuid(1)] interface I {\n  void f(in Nope x);\n};"),
            "t.idl:2:13: unknown name `Nope`"
        );
        assert_eq!(
            err("interface I { };"),
            "t.idl:1:1: interface `I` has no [uuid(...)]"
        );
        assert_eq!(
            err("[uuid(1)] interface I { void f(); void f(); };"),
            "t.idl:1:35: duplicate operation `f`"
        );
    }

    #[test]
    fn semantic_errors() {
        let e = err("[uuid(1)] interface I { void f(); [uuid(0)] void g(); };");
        assert!(e.contains("both use label 0x0040"), "{e}");
        let e = err("[uuid(1)] interface I { [oneway] void f(out int x); };");
        assert!(e.contains("oneway operation `f`"), "{e}");
        let e = err("[uuid(1)] interface I { void f(in fpage x); };");
        assert!(e.starts_with("t.idl:1:35: `fpage` and `string`"), "{e}");
        let e = err("[uuid(1024)] interface I { };");
        assert!(e.contains("attribute value out of range: 1024"), "{e}");
        let e = err("[uuid(1)] interface I { exception x {}; };\n[uuid(2)] interface J : I { void f() raises(x); };");
        assert!(e.contains("belongs to another interface"), "{e}");
        let e = err("const L4_Word16_t x = 70000;");
        assert!(e.contains("out of range"), "{e}");
        let e = err("[uuid(1)] interface I { struct s { L4_Word_t a[64]; }; void f(in s x); };");
        assert!(e.contains("needs 64 message words"), "{e}");
        let e = err("[uuid(1)] interface I { [kernelmsg(idl4::nothing)] void f(); };");
        assert!(e.contains("unknown kernel message"), "{e}");
    }

    #[test]
    fn variant_b_reorders_thread_ids() {
        // register_interface(guid, tid): B puts the thread id first (§7.2).
        let code = generate_str(
            "t.idl",
            "[uuid(0)] interface L { void r(in L4_Word_t g, in L4_ThreadId_t t); };",
            Options {
                server: true,
                client: false,
            },
        )
        .unwrap();
        assert!(code.contains("2 => (<::idl::Word as ::idl::wire::Wire>::read(w, 0), <::idl::ThreadId as ::idl::wire::Wire>::read(w, 4)),"), "{code}");
        assert!(code.contains("3 => (<::idl::Word as ::idl::wire::Wire>::read(w, 4), <::idl::ThreadId as ::idl::wire::Wire>::read(w, 0)),"), "{code}");
    }
}
