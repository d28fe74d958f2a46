//! Syntax tree produced by the parser.

use crate::value::Value;

/// A template node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Ref(Reference),
    /// `\$ref`: renders `$ref` when the reference has a value, else `\$ref`.
    EscapedRef(Reference),
    Set {
        target: Reference,
        value: Expr,
    },
    If {
        branches: Vec<(Expr, Vec<Node>)>,
        otherwise: Option<Vec<Node>>,
    },
    Foreach {
        var: String,
        iter: Expr,
        body: Vec<Node>,
        pos: Pos,
    },
    Break,
    Stop,
    Define {
        name: String,
        body: std::sync::Arc<Vec<Node>>,
    },
    MacroCall {
        name: String,
        args: Vec<Expr>,
        source: String,
        pos: Pos,
    },
}

/// Line/column (1-based).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

/// `$a.b(c)[d]`.
#[derive(Debug, Clone)]
pub(crate) struct Reference {
    pub root: String,
    pub parts: Vec<RefPart>,
    pub quiet: bool,
    pub source: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) enum RefPart {
    Prop(String),
    Method(String, Vec<Expr>),
    Index(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Lit(Value),
    /// Double-quoted string with interpolation.
    Interp(Vec<Node>),
    Ref(Reference),
    List(Vec<Expr>),
    Range(Box<Expr>, Box<Expr>),
    Map(Vec<(Expr, Expr)>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
}

/// A `#macro` definition.
#[derive(Debug, Clone)]
pub(crate) struct Macro {
    pub params: Vec<String>,
    pub body: Vec<Node>,
}
