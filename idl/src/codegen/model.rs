//! Semantic analysis: name resolution, constant evaluation, C layouts, IDL4
//! wire layouts (both thread-id variants), interface and function ids.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::parse::{
    Attr, Declarator, Definition, Dir, Export, Expr, InterfaceDecl, Keyword, Name, OpDecl, TypeRef,
};
use super::{ErrorKind, Pos};
use crate::word::WORD_BYTES;

type MResult<T> = Result<T, (Pos, ErrorKind)>;

const W: usize = WORD_BYTES;
/// Message registers available after MR0.
const MAX_WORDS: usize = 63;

/// Where a declaration lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    File,
    Iface(usize),
}

/// Scalar types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prim {
    U8,
    U16,
    I16,
    U32,
    I32,
    Word,
    ThreadId,
    Fpage,
}

impl Prim {
    pub(crate) fn size(self) -> usize {
        match self {
            Prim::U8 => 1,
            Prim::U16 | Prim::I16 => 2,
            Prim::U32 | Prim::I32 => 4,
            Prim::Word | Prim::ThreadId | Prim::Fpage => W,
        }
    }

    /// Value range for constants of this type.
    fn range(self) -> (i128, i128) {
        let bits = (self.size() * 8) as u32;
        match self {
            Prim::I16 | Prim::I32 => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
            _ => (0, (1i128 << bits) - 1),
        }
    }

    pub(crate) fn rust(self) -> &'static str {
        match self {
            Prim::U8 => "u8",
            Prim::U16 => "u16",
            Prim::I16 => "i16",
            Prim::U32 => "u32",
            Prim::I32 => "i32",
            Prim::Word => "::idl::Word",
            Prim::ThreadId => "::idl::ThreadId",
            Prim::Fpage => "::idl::Fpage",
        }
    }
}

/// A resolved data type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Prim(Prim),
    Struct(usize),
    Alias(usize),
    Array(Box<Ty>, usize),
}

#[derive(Clone, Debug)]
pub(crate) struct ConstDef {
    pub(crate) scope: Scope,
    pub(crate) idl_name: String,
    pub(crate) rust_name: String,
    pub(crate) ty: Prim,
    pub(crate) value: i128,
}

#[derive(Clone, Debug)]
pub(crate) struct FieldDef {
    pub(crate) name: String,
    pub(crate) ty: Ty,
    pub(crate) offset: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct StructDef {
    pub(crate) scope: Scope,
    pub(crate) idl_name: String,
    pub(crate) rust_name: String,
    pub(crate) fields: Vec<FieldDef>,
    pub(crate) size: usize,
    pub(crate) align: usize,
    pub(crate) has_tid: bool,
    /// Appears (possibly nested) in an operation parameter, so it needs a
    /// wire codec.
    pub(crate) on_wire: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct AliasDef {
    pub(crate) scope: Scope,
    pub(crate) idl_name: String,
    pub(crate) rust_name: String,
    pub(crate) ty: Ty,
}

/// How an operation is recognised on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// label = iid << 6 | fid.
    Normal,
    /// A kernel-protocol label; `label_bits` low bits carry a parameter.
    Kernel { label_bits: u8 },
}

#[derive(Clone, Debug)]
pub(crate) struct InParam {
    pub(crate) name: String,
    pub(crate) ty: Ty,
    /// Carried in the low label bits instead of an MR.
    pub(crate) in_label: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutKind {
    Value(Ty),
    Map,
    Str,
}

#[derive(Clone, Debug)]
pub(crate) struct OutVal {
    /// `None` for the return value.
    pub(crate) name: Option<String>,
    pub(crate) kind: OutKind,
}

/// Placement of values in untyped words for one variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WireLayout {
    pub(crate) u: usize,
    /// Byte offset (from MR1) per value, indexed like the value list it was
    /// computed for (`None` for values not in MRs).
    pub(crate) offsets: Vec<Option<usize>>,
}

#[derive(Clone, Debug)]
pub(crate) struct Op {
    pub(crate) idl_name: String,
    pub(crate) method: String,
    pub(crate) variant: String,
    pub(crate) kind: OpKind,
    pub(crate) oneway: bool,
    pub(crate) fid: u16,
    pub(crate) label: u16,
    pub(crate) ins: Vec<InParam>,
    /// Request layouts for variants A and B.
    pub(crate) request: [WireLayout; 2],
    pub(crate) outs: Vec<OutVal>,
    /// Reply untyped layout, valid for both variants.
    pub(crate) reply: WireLayout,
    /// Exception numbers of the raises list.
    pub(crate) raises: Vec<u16>,
}

impl Op {
    /// Number of typed words in the reply.
    pub(crate) fn reply_typed(&self) -> usize {
        2 * self
            .outs
            .iter()
            .filter(|o| !matches!(o.kind, OutKind::Value(_)))
            .count()
    }

    /// Highest label accepted (label bits set).
    pub(crate) fn label_max(&self) -> u16 {
        match self.kind {
            OpKind::Normal => self.label,
            OpKind::Kernel { label_bits } => self.label | ((1u16 << label_bits) - 1),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Iface {
    pub(crate) name: String,
    pub(crate) module: String,
    pub(crate) iid: u16,
    pub(crate) bases: Vec<usize>,
    /// All ancestors, depth first, each once.
    pub(crate) ancestors: Vec<usize>,
    pub(crate) exceptions: Vec<String>,
    pub(crate) ops: Vec<Op>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Model {
    pub(crate) consts: Vec<ConstDef>,
    pub(crate) structs: Vec<StructDef>,
    pub(crate) aliases: Vec<AliasDef>,
    pub(crate) ifaces: Vec<Iface>,
}

/// What a name resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sym {
    Const(usize),
    Struct(usize),
    Alias(usize),
    Exception(usize, u16),
    Iface(usize),
    Builtin(Prim),
}

struct Builder {
    m: Model,
    /// Per scope: name -> symbol.
    scopes: HashMap<Scope, BTreeMap<String, Sym>>,
    iface_names: HashMap<String, usize>,
}

/// Names the IDL may use for L4 types without declaring them.
fn builtin(name: &str) -> Option<Prim> {
    Some(match name {
        "L4_Word_t" => Prim::Word,
        "L4_Word32_t" => Prim::U32,
        "L4_Word16_t" => Prim::U16,
        "L4_Word8_t" => Prim::U8,
        "L4_ThreadId_t" => Prim::ThreadId,
        "L4_Fpage_t" => Prim::Fpage,
        _ => return None,
    })
}

/// Builds the model of a parsed file.
pub(crate) fn build(defs: &[Definition]) -> MResult<Model> {
    let mut b = Builder {
        m: Model::default(),
        scopes: HashMap::new(),
        iface_names: HashMap::new(),
    };
    b.scopes.insert(Scope::File, BTreeMap::new());
    for d in defs {
        match d {
            Definition::Export(e) => b.export(Scope::File, e)?,
            Definition::Interface(i) => b.interface(i)?,
        }
    }
    b.mark_wire_structs();
    Ok(b.m)
}

impl Builder {
    fn declare(&mut self, scope: Scope, name: &str, sym: Sym, pos: Pos) -> MResult<()> {
        let s = self.scopes.entry(scope).or_default();
        if s.contains_key(name) || (scope == Scope::File && self.iface_names.contains_key(name)) {
            return Err((
                pos,
                ErrorKind::Duplicate {
                    what: "declaration",
                    name: name.to_string(),
                },
            ));
        }
        s.insert(name.to_string(), sym);
        Ok(())
    }

    /// Looks `name` up in one interface and its ancestors.
    fn lookup_in_iface(&self, i: usize, name: &str) -> Option<Sym> {
        if let Some(s) = self.scopes.get(&Scope::Iface(i)).and_then(|s| s.get(name)) {
            return Some(*s);
        }
        for &a in &self.m.ifaces[i].ancestors {
            if let Some(s) = self.scopes.get(&Scope::Iface(a)).and_then(|s| s.get(name)) {
                return Some(*s);
            }
        }
        None
    }

    fn resolve(&self, scope: Scope, name: &Name) -> MResult<Sym> {
        let unknown = || (name.pos, ErrorKind::UnknownName(name.to_string()));
        if name.parts.len() == 1 {
            let n = &name.parts[0];
            if let Scope::Iface(i) = scope {
                if let Some(s) = self.lookup_in_iface(i, n) {
                    return Ok(s);
                }
            }
            if let Some(s) = self.scopes[&Scope::File].get(n) {
                return Ok(*s);
            }
            if let Some(&i) = self.iface_names.get(n) {
                return Ok(Sym::Iface(i));
            }
            return builtin(n).map(Sym::Builtin).ok_or_else(unknown);
        }
        if name.parts.len() == 2 {
            if let Some(&i) = self.iface_names.get(&name.parts[0]) {
                return self.lookup_in_iface(i, &name.parts[1]).ok_or_else(unknown);
            }
        }
        Err(unknown())
    }

    fn resolve_type(&self, scope: Scope, t: &TypeRef, what: &'static str) -> MResult<Ty> {
        match t {
            TypeRef::Keyword(k, pos) => Ok(Ty::Prim(match k {
                Keyword::Char | Keyword::UChar => Prim::U8,
                Keyword::Short => Prim::I16,
                Keyword::UShort => Prim::U16,
                Keyword::Int => Prim::I32,
                Keyword::UInt => Prim::U32,
                Keyword::FpageItem | Keyword::String => {
                    return Err((*pos, ErrorKind::ItemType(what)));
                }
            })),
            TypeRef::Named(n) => match self.resolve(scope, n)? {
                Sym::Builtin(p) => Ok(Ty::Prim(p)),
                Sym::Struct(s) => Ok(Ty::Struct(s)),
                Sym::Alias(a) => Ok(Ty::Alias(a)),
                _ => Err((n.pos, ErrorKind::NotAType(n.to_string()))),
            },
        }
    }

    fn eval(&self, scope: Scope, e: &Expr) -> MResult<i128> {
        let ovf = |p| (p, ErrorKind::ConstOverflow);
        match e {
            Expr::Int(v, _) => Ok(*v as i128),
            Expr::Name(n) => match self.resolve(scope, n)? {
                Sym::Const(c) => Ok(self.m.consts[c].value),
                _ => Err((n.pos, ErrorKind::NotAConstant(n.to_string()))),
            },
            Expr::Neg(x, _) => Ok(-self.eval(scope, x)?),
            Expr::Not(x, _) => Ok(!self.eval(scope, x)?),
            Expr::Bin(op, l, r, p) => {
                let (a, b) = (self.eval(scope, l)?, self.eval(scope, r)?);
                let v = match *op {
                    "|" => Some(a | b),
                    "&" => Some(a & b),
                    "+" => a.checked_add(b),
                    "-" => a.checked_sub(b),
                    "*" => a.checked_mul(b),
                    "/" | "%" if b == 0 => return Err((*p, ErrorKind::DivisionByZero)),
                    "/" => a.checked_div(b),
                    "%" => a.checked_rem(b),
                    "<<" if (0..64).contains(&b) => a.checked_mul(1i128 << b),
                    ">>" if (0..128).contains(&b) => Some(a >> b),
                    _ => None,
                };
                let v = v.ok_or_else(|| ovf(*p))?;
                if v.unsigned_abs() > u64::MAX as u128 {
                    return Err(ovf(*p));
                }
                Ok(v)
            }
        }
    }

    fn eval_in(&self, scope: Scope, e: &Expr, max: i128, what: &'static str) -> MResult<i128> {
        let v = self.eval(scope, e)?;
        if v < 0 || v > max {
            return Err((e.pos(), ErrorKind::OutOfRange { what, value: v }));
        }
        Ok(v)
    }

    pub(crate) fn size_align(&self, t: &Ty) -> (usize, usize) {
        match t {
            Ty::Prim(p) => (p.size(), p.size()),
            Ty::Struct(s) => (self.m.structs[*s].size, self.m.structs[*s].align),
            Ty::Alias(a) => self.size_align(&self.m.aliases[*a].ty),
            Ty::Array(e, n) => {
                let (s, a) = self.size_align(e);
                (s * n, a)
            }
        }
    }

    fn has_tid(&self, t: &Ty) -> bool {
        match t {
            Ty::Prim(p) => *p == Prim::ThreadId,
            Ty::Struct(s) => self.m.structs[*s].has_tid,
            Ty::Alias(a) => self.has_tid(&self.m.aliases[*a].ty),
            Ty::Array(e, _) => self.has_tid(e),
        }
    }

    fn is_array(&self, t: &Ty) -> bool {
        match t {
            Ty::Array(..) => true,
            Ty::Alias(a) => self.is_array(&self.m.aliases[*a].ty),
            _ => false,
        }
    }

    fn with_dims(&self, scope: Scope, base: Ty, d: &Declarator) -> MResult<Ty> {
        let mut ty = base;
        for dim in d.dims.iter().rev() {
            let n = self.eval_in(scope, dim, 1 << 24, "array length")?;
            if n == 0 {
                return Err((
                    dim.pos(),
                    ErrorKind::OutOfRange {
                        what: "array length",
                        value: 0,
                    },
                ));
            }
            ty = Ty::Array(Box::new(ty), n as usize);
        }
        Ok(ty)
    }

    fn export(&mut self, scope: Scope, e: &Export) -> MResult<()> {
        match e {
            Export::Const(c) => {
                let ty = match self.resolve_type(scope, &c.ty, "a constant")? {
                    Ty::Prim(p) => p,
                    Ty::Alias(a) => match self.m.aliases[a].ty {
                        Ty::Prim(p) => p,
                        _ => return Err((c.ty.pos(), ErrorKind::NotAType("scalar".into()))),
                    },
                    _ => return Err((c.ty.pos(), ErrorKind::Unsupported("non-scalar constants"))),
                };
                if matches!(ty, Prim::ThreadId | Prim::Fpage) {
                    return Err((
                        c.ty.pos(),
                        ErrorKind::Unsupported("thread-id/fpage constants"),
                    ));
                }
                let value = self.eval(scope, &c.value)?;
                let (lo, hi) = ty.range();
                if value < lo || value > hi {
                    return Err((
                        c.value.pos(),
                        ErrorKind::OutOfRange {
                            what: "constant of this type",
                            value,
                        },
                    ));
                }
                let id = self.m.consts.len();
                self.declare(scope, &c.name, Sym::Const(id), c.pos)?;
                self.m.consts.push(ConstDef {
                    scope,
                    idl_name: c.name.clone(),
                    rust_name: c.name.to_uppercase(),
                    ty,
                    value,
                });
            }
            Export::Typedef(t) => {
                let base = self.resolve_type(scope, &t.ty, "a typedef")?;
                let ty = self.with_dims(scope, base, &t.decl)?;
                let id = self.m.aliases.len();
                let rust_name = type_name(&t.decl.name);
                self.check_rust_type_name(scope, &rust_name, t.decl.pos)?;
                self.declare(scope, &t.decl.name, Sym::Alias(id), t.decl.pos)?;
                self.m.aliases.push(AliasDef {
                    scope,
                    idl_name: t.decl.name.clone(),
                    rust_name,
                    ty,
                });
            }
            Export::Struct(s) => {
                let mut fields = Vec::new();
                let (mut off, mut align, mut has_tid) = (0usize, 1usize, false);
                let mut seen = HashSet::new();
                for m in &s.members {
                    if !seen.insert(m.decl.name.clone()) {
                        return Err((
                            m.decl.pos,
                            ErrorKind::Duplicate {
                                what: "struct member",
                                name: m.decl.name.clone(),
                            },
                        ));
                    }
                    let base = self.resolve_type(scope, &m.ty, "a struct member")?;
                    let ty = self.with_dims(scope, base, &m.decl)?;
                    let (sz, al) = self.size_align(&ty);
                    off = off.next_multiple_of(al);
                    align = align.max(al);
                    has_tid |= self.has_tid(&ty);
                    fields.push(FieldDef {
                        name: m.decl.name.clone(),
                        ty,
                        offset: off,
                    });
                    off += sz;
                }
                if fields.is_empty() {
                    return Err((s.pos, ErrorKind::Unsupported("empty structs")));
                }
                let size = off.next_multiple_of(align);
                let id = self.m.structs.len();
                let rust_name = type_name(&s.name);
                self.check_rust_type_name(scope, &rust_name, s.pos)?;
                self.declare(scope, &s.name, Sym::Struct(id), s.pos)?;
                self.m.structs.push(StructDef {
                    scope,
                    idl_name: s.name.clone(),
                    rust_name,
                    fields,
                    size,
                    align,
                    has_tid,
                    on_wire: false,
                });
            }
            Export::Exception(name, pos) => {
                let Scope::Iface(i) = scope else {
                    return Err((
                        *pos,
                        ErrorKind::Unsupported("exceptions outside interfaces"),
                    ));
                };
                let n = self.m.ifaces[i].exceptions.len() + 1;
                self.declare(scope, name, Sym::Exception(i, n as u16), *pos)?;
                self.m.ifaces[i].exceptions.push(name.clone());
            }
            // Operations are built by `interface` after all declarations;
            // `Parser::file` rejects them at file scope.
            Export::Op(_) => {}
        }
        Ok(())
    }

    /// Two IDL names must not map to the same Rust type name in a scope.
    fn check_rust_type_name(&self, scope: Scope, rust: &str, pos: Pos) -> MResult<()> {
        let clash = self
            .m
            .structs
            .iter()
            .filter(|s| s.scope == scope)
            .map(|s| &s.rust_name)
            .chain(
                self.m
                    .aliases
                    .iter()
                    .filter(|a| a.scope == scope)
                    .map(|a| &a.rust_name),
            )
            .any(|n| n == rust);
        let reserved = matches!(rust, "Op" | "Exception" | "Server" | "Client" | "");
        if clash || reserved {
            return Err((
                pos,
                ErrorKind::Duplicate {
                    what: "Rust type name",
                    name: rust.to_string(),
                },
            ));
        }
        Ok(())
    }

    fn interface(&mut self, d: &InterfaceDecl) -> MResult<()> {
        if self.iface_names.contains_key(&d.name) || self.scopes[&Scope::File].contains_key(&d.name)
        {
            return Err((
                d.pos,
                ErrorKind::Duplicate {
                    what: "interface",
                    name: d.name.clone(),
                },
            ));
        }
        let module = d.name.to_lowercase();
        if self.m.ifaces.iter().any(|i| i.module == module) || is_rust_keyword(&module) {
            return Err((
                d.pos,
                ErrorKind::Duplicate {
                    what: "module name",
                    name: module,
                },
            ));
        }
        let mut bases = Vec::new();
        for b in &d.bases {
            match self.resolve(Scope::File, b)? {
                Sym::Iface(i) if !bases.contains(&i) => bases.push(i),
                Sym::Iface(_) => {
                    return Err((
                        b.pos,
                        ErrorKind::Duplicate {
                            what: "base interface",
                            name: b.to_string(),
                        },
                    ))
                }
                _ => return Err((b.pos, ErrorKind::NotAnInterface(b.to_string()))),
            }
        }
        let mut ancestors = Vec::new();
        for &b in &bases {
            for a in std::iter::once(b).chain(self.m.ifaces[b].ancestors.iter().copied()) {
                if !ancestors.contains(&a) {
                    ancestors.push(a);
                }
            }
        }
        let mut iid = None;
        for a in &d.attrs {
            match a.name.as_str() {
                "uuid" => iid = Some(self.attr_value(Scope::File, a, 0x3ff)? as u16),
                _ => return Err((a.pos, ErrorKind::UnknownAttribute(a.name.clone()))),
            }
        }
        let Some(iid) = iid else {
            return Err((d.pos, ErrorKind::MissingUuid(d.name.clone())));
        };
        let idx = self.m.ifaces.len();
        self.iface_names.insert(d.name.clone(), idx);
        self.m.ifaces.push(Iface {
            name: d.name.clone(),
            module,
            iid,
            bases,
            ancestors,
            exceptions: Vec::new(),
            ops: Vec::new(),
        });
        let scope = Scope::Iface(idx);
        self.scopes.insert(scope, BTreeMap::new());
        // Declarations first in order; operations see every declaration of
        // the interface (IDL4 resolves names interface-wide as well).
        for e in &d.body {
            if !matches!(e, Export::Op(_)) {
                self.export(scope, e)?;
            }
        }
        let mut next_fid = 0u16;
        let mut op_names = HashSet::new();
        for e in &d.body {
            if let Export::Op(o) = e {
                if !op_names.insert(o.name.clone()) {
                    return Err((
                        o.pos,
                        ErrorKind::Duplicate {
                            what: "operation",
                            name: o.name.clone(),
                        },
                    ));
                }
                let op = self.operation(idx, o, &mut next_fid)?;
                self.m.ifaces[idx].ops.push(op);
            }
        }
        self.check_server_set(idx, d.pos)
    }

    fn attr_value(&self, scope: Scope, a: &Attr, max: i128) -> MResult<i128> {
        match a.args.as_slice() {
            [e] => self.eval_in(scope, e, max, "attribute value"),
            _ => Err((
                a.pos,
                ErrorKind::BadAttribute {
                    attr: a.name.clone(),
                    reason: "expects exactly one argument",
                },
            )),
        }
    }

    fn operation(&mut self, iface: usize, o: &OpDecl, next_fid: &mut u16) -> MResult<Op> {
        let scope = Scope::Iface(iface);
        let mut oneway = o.oneway;
        let mut fid = None;
        let mut kernel = None;
        for a in &o.attrs {
            match a.name.as_str() {
                "uuid" => fid = Some(self.attr_value(scope, a, 0x3f)? as u16),
                "oneway" if a.args.is_empty() => oneway = true,
                "kernelmsg" => kernel = Some(kernel_label(a)?),
                _ => return Err((a.pos, ErrorKind::UnknownAttribute(a.name.clone()))),
            }
        }
        let fid = fid.unwrap_or(*next_fid);
        *next_fid = fid + 1;
        let iid = self.m.ifaces[iface].iid;

        let mut ins = Vec::new();
        let mut outs = Vec::new();
        if let Some(r) = &o.ret {
            let ty = self.resolve_type(scope, r, "a return value")?;
            self.check_value_type(&ty, r.pos())?;
            outs.push(OutVal {
                name: None,
                kind: OutKind::Value(ty),
            });
        }
        let mut label_bits = 0u8;
        let mut names = HashSet::new();
        for p in &o.params {
            if !names.insert(p.name.clone()) {
                return Err((
                    p.pos,
                    ErrorKind::Duplicate {
                        what: "parameter",
                        name: p.name.clone(),
                    },
                ));
            }
            if p.name == "caller" || p.name == "rcv_window" || p.name == "rcv_buffer" {
                return Err((p.pos, ErrorKind::Reserved(p.name.clone())));
            }
            let mut in_label = false;
            for a in &p.attrs {
                match a.name.as_str() {
                    "labelbits" => {
                        if kernel.is_none() || p.dir != Dir::In || label_bits != 0 {
                            return Err((
                                a.pos,
                                ErrorKind::BadAttribute {
                                    attr: a.name.clone(),
                                    reason: "only on one `in` parameter of a [kernelmsg] operation",
                                },
                            ));
                        }
                        label_bits = self.attr_value(scope, a, 4)? as u8;
                        if label_bits == 0 {
                            return Err((
                                a.pos,
                                ErrorKind::OutOfRange {
                                    what: "label bits",
                                    value: 0,
                                },
                            ));
                        }
                        in_label = true;
                    }
                    "prealloc" if p.dir == Dir::Out => {}
                    _ => return Err((a.pos, ErrorKind::UnknownAttribute(a.name.clone()))),
                }
            }
            match p.dir {
                Dir::InOut => return Err((p.pos, ErrorKind::Unsupported("inout parameters"))),
                Dir::In => {
                    let ty = self.resolve_type(scope, &p.ty, "an in parameter")?;
                    self.check_value_type(&ty, p.ty.pos())?;
                    if in_label && !matches!(ty, Ty::Prim(_)) {
                        return Err((p.pos, ErrorKind::Unsupported("non-scalar label parameters")));
                    }
                    ins.push(InParam {
                        name: p.name.clone(),
                        ty,
                        in_label,
                    });
                }
                Dir::Out => {
                    let kind = match &p.ty {
                        TypeRef::Keyword(Keyword::FpageItem, _) => OutKind::Map,
                        TypeRef::Keyword(Keyword::String, _) => OutKind::Str,
                        t => {
                            let ty = self.resolve_type(scope, t, "an out parameter")?;
                            self.check_value_type(&ty, t.pos())?;
                            OutKind::Value(ty)
                        }
                    };
                    outs.push(OutVal {
                        name: Some(p.name.clone()),
                        kind,
                    });
                }
            }
        }
        let mut raises = Vec::new();
        for r in &o.raises {
            match self.resolve(scope, r)? {
                Sym::Exception(owner, n) if owner == iface => {
                    if raises.contains(&n) {
                        return Err((
                            r.pos,
                            ErrorKind::Duplicate {
                                what: "raises entry",
                                name: r.to_string(),
                            },
                        ));
                    }
                    raises.push(n)
                }
                // Each interface has its own exception numbering, so an
                // operation can only raise its own interface's exceptions.
                Sym::Exception(..) => {
                    return Err((r.pos, ErrorKind::ForeignException(r.to_string())))
                }
                _ => return Err((r.pos, ErrorKind::NotAnException(r.to_string()))),
            }
        }
        if oneway && (!outs.is_empty() || !raises.is_empty()) {
            return Err((o.pos, ErrorKind::OnewayWithResults(o.name.clone())));
        }
        let (kind, label) = match kernel {
            Some(l) => (OpKind::Kernel { label_bits }, l),
            None => (OpKind::Normal, (iid << 6) | fid),
        };
        if label & ((1u16 << label_bits) - 1) != 0 {
            return Err((
                o.pos,
                ErrorKind::Unsupported("label bits overlapping the kernel label"),
            ));
        }

        // Request layouts for both variants.
        let words: Vec<(Option<usize>, Ty)> = ins
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.in_label)
            .map(|(k, p)| (Some(k), p.ty.clone()))
            .collect();
        let req_a = self.layout(&words, ins.len(), false, o)?;
        let req_b = self.layout(&words, ins.len(), true, o)?;
        if req_a.u == req_b.u && req_a != req_b {
            return Err((o.pos, ErrorKind::VariantAmbiguous(o.name.clone())));
        }
        // Reply layout: values in MRs; must sit at the same place in both
        // variants so one reply serves clients of either.
        let vals: Vec<(Option<usize>, Ty)> = outs
            .iter()
            .enumerate()
            .filter_map(|(k, v)| match &v.kind {
                OutKind::Value(t) => Some((Some(k), t.clone())),
                _ => None,
            })
            .collect();
        let rep_a = self.layout(&vals, outs.len(), false, o)?;
        let rep_b = self.layout(&vals, outs.len(), true, o)?;
        if rep_a.offsets != rep_b.offsets {
            return Err((o.pos, ErrorKind::ReplyVariantMismatch(o.name.clone())));
        }
        let reply = WireLayout {
            u: rep_a.u.max(rep_b.u),
            offsets: rep_a.offsets,
        };
        let typed = 2 * outs
            .iter()
            .filter(|v| !matches!(v.kind, OutKind::Value(_)))
            .count();
        if reply.u + typed > MAX_WORDS {
            return Err((
                o.pos,
                ErrorKind::TooManyWords {
                    op: o.name.clone(),
                    words: reply.u + typed,
                },
            ));
        }
        Ok(Op {
            idl_name: o.name.clone(),
            method: snake_name(&o.name),
            variant: camel_name(&o.name),
            kind,
            oneway,
            fid,
            label,
            ins,
            request: [req_a, req_b],
            outs,
            reply,
            raises,
        })
    }

    /// Parameters must be scalars or structs; C arrays are pointers in C and
    /// have no IDL4 by-value encoding we could verify.
    fn check_value_type(&self, ty: &Ty, pos: Pos) -> MResult<()> {
        if self.is_array(ty) {
            return Err((pos, ErrorKind::Unsupported("array parameters")));
        }
        let is_struct = match ty {
            Ty::Struct(_) => true,
            Ty::Alias(a) => !matches!(self.m.aliases[*a].ty, Ty::Prim(_)),
            _ => false,
        };
        if is_struct && self.has_tid(ty) {
            // In variant B IDL4 would size the embedded thread ids as two
            // words; the resulting layout is not described by the spec.
            return Err((
                pos,
                ErrorKind::Unsupported("struct parameters containing thread ids"),
            ));
        }
        Ok(())
    }

    /// IDL4's placement (spec §7.1/§7.2): order by size class (larger than a
    /// word, word, 2 bytes, 1 byte), declaration order inside a class; place
    /// like a C struct with the real sizes; `u` from the sizes IDL4 believes
    /// (thread ids are two words in variant B).
    fn layout(
        &self,
        vals: &[(Option<usize>, Ty)],
        n: usize,
        variant_b: bool,
        o: &OpDecl,
    ) -> MResult<WireLayout> {
        let idl4_size = |t: &Ty| {
            if variant_b && matches!(self.strip(t), Ty::Prim(Prim::ThreadId)) {
                2 * W
            } else {
                self.size_align(t).0
            }
        };
        let class = |t: &Ty| match idl4_size(t) {
            s if s > W => 0,
            2 => 2,
            1 => 3,
            _ => 1,
        };
        let mut order: Vec<&(Option<usize>, Ty)> = vals.iter().collect();
        order.sort_by_key(|(_, t)| class(t));
        let mut offsets = vec![None; n];
        let (mut c_off, mut idl4_off) = (0usize, 0usize);
        for (k, t) in order {
            let (sz, al) = self.size_align(t);
            c_off = c_off.next_multiple_of(al);
            if let Some(k) = k {
                offsets[*k] = Some(c_off);
            }
            c_off += sz;
            idl4_off = idl4_off.next_multiple_of(al.min(W)) + idl4_size(t);
        }
        let u = c_off.max(idl4_off).div_ceil(W);
        if u > MAX_WORDS {
            return Err((
                o.pos,
                ErrorKind::TooManyWords {
                    op: o.name.clone(),
                    words: u,
                },
            ));
        }
        Ok(WireLayout { u, offsets })
    }

    fn strip<'a>(&'a self, t: &'a Ty) -> &'a Ty {
        match t {
            Ty::Alias(a) => self.strip(&self.m.aliases[*a].ty),
            t => t,
        }
    }

    /// Labels and method names must be unique over an interface and all its
    /// ancestors, because one dispatcher and one trait hierarchy serve them.
    fn check_server_set(&self, idx: usize, pos: Pos) -> MResult<()> {
        let mut labels: Vec<(u16, u16, String)> = Vec::new();
        let mut methods = HashSet::new();
        for &i in std::iter::once(&idx).chain(self.m.ifaces[idx].ancestors.iter()) {
            let f = &self.m.ifaces[i];
            for op in &f.ops {
                let name = format!("{}::{}", f.name, op.idl_name);
                for (lo, hi, other) in &labels {
                    if op.label <= *hi && *lo <= op.label_max() {
                        return Err((
                            pos,
                            ErrorKind::LabelClash {
                                a: other.clone(),
                                b: name,
                                label: op.label.max(*lo),
                            },
                        ));
                    }
                }
                labels.push((op.label, op.label_max(), name.clone()));
                if !methods.insert(op.method.clone()) {
                    return Err((pos, ErrorKind::MethodClash(name)));
                }
            }
        }
        Ok(())
    }

    /// Marks structs reachable from operation parameters.
    fn mark_wire_structs(&mut self) {
        let mut todo: Vec<Ty> = Vec::new();
        for f in &self.m.ifaces {
            for op in &f.ops {
                todo.extend(op.ins.iter().map(|p| p.ty.clone()));
                todo.extend(op.outs.iter().filter_map(|o| match &o.kind {
                    OutKind::Value(t) => Some(t.clone()),
                    _ => None,
                }));
            }
        }
        while let Some(t) = todo.pop() {
            match t {
                Ty::Prim(_) => {}
                Ty::Alias(a) => todo.push(self.m.aliases[a].ty.clone()),
                Ty::Array(e, _) => todo.push(*e),
                Ty::Struct(s) => {
                    if !self.m.structs[s].on_wire {
                        self.m.structs[s].on_wire = true;
                        todo.extend(self.m.structs[s].fields.iter().map(|f| f.ty.clone()));
                    }
                }
            }
        }
    }
}

/// `[kernelmsg(idl4::x)]` → kernel protocol label `(−id << 4)` in 16 bits.
fn kernel_label(a: &Attr) -> MResult<u16> {
    let bad = |reason| {
        Err((
            a.pos,
            ErrorKind::BadAttribute {
                attr: a.name.clone(),
                reason,
            },
        ))
    };
    let [Expr::Name(n)] = a.args.as_slice() else {
        return bad("expects one name such as idl4::pagefault");
    };
    let id: i32 = match n
        .parts
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["idl4", "startup"] => 0,
        ["idl4", "interrupt"] => 1,
        ["idl4", "pagefault"] => 2,
        ["idl4", "preemption"] => 3,
        ["idl4", "sysexc"] => 4,
        ["idl4", "archexc"] => 5,
        ["idl4", "sigma0rpc"] => 6,
        ["idl4", "iopagefault"] => 8,
        _ => return Err((n.pos, ErrorKind::UnknownKernelMessage(n.to_string()))),
    };
    Ok(((-id) << 4) as u16)
}

/// `shared_cpu_t` → `SharedCpu`.
pub(crate) fn type_name(idl: &str) -> String {
    let base = idl.strip_suffix("_t").unwrap_or(idl);
    camel_name(base)
}

/// `put_chars` → `PutChars`, `ThreadControl` → `ThreadControl`.
pub(crate) fn camel_name(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `ThreadControl` → `thread_control`, `get_chars` → `get_chars`.
pub(crate) fn snake_name(s: &str) -> String {
    let cs: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in cs.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = if i > 0 { cs[i - 1] } else { '_' };
            let next_lower = cs.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if i > 0
                && prev != '_'
                && (prev.is_ascii_lowercase()
                    || prev.is_ascii_digit()
                    || (prev.is_ascii_uppercase() && next_lower))
            {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn is_rust_keyword(s: &str) -> bool {
    matches!(
        s,
        "as" | "break"
            | "const"
            | "continue"
            | "crate"
            | "else"
            | "enum"
            | "extern"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "mod"
            | "move"
            | "mut"
            | "pub"
            | "ref"
            | "return"
            | "self"
            | "Self"
            | "static"
            | "struct"
            | "super"
            | "trait"
            | "true"
            | "type"
            | "unsafe"
            | "use"
            | "where"
            | "while"
            | "async"
            | "await"
            | "dyn"
            | "abstract"
            | "become"
            | "box"
            | "do"
            | "final"
            | "macro"
            | "override"
            | "priv"
            | "typeof"
            | "unsized"
            | "virtual"
            | "yield"
            | "try"
            | "gen"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake_name("ThreadControl"), "thread_control");
        assert_eq!(snake_name("put_chars"), "put_chars");
        assert_eq!(snake_name("IVMControl"), "ivm_control");
        assert_eq!(camel_name("request_pages"), "RequestPages");
        assert_eq!(type_name("shared_cpu_t"), "SharedCpu");
        assert_eq!(type_name("stream_t"), "Stream");
    }
}
