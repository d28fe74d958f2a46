//! A Velocity Template Language (VTL) engine with Apache Velocity 1.7
//! semantics, for Amazon API Gateway style mapping templates. No IO.
//!
//! Templates are parsed once ([`parse`]) and rendered many times
//! ([`Template::render`]) against a [`Context`] of [`Value`]s, under
//! [`Limits`] that bound loops, output size, evaluation steps and recursion.
//!
//! ```
//! use portico_vtl::{parse, Context, Limits, Value};
//!
//! let t = parse(r##"[#foreach($e in $list)"$e"#if($foreach.hasNext),#end#end]"##).unwrap();
//! let mut ctx = Context::new();
//! ctx.insert("list", Value::from(serde_json::json!(["a", "b"])));
//! assert_eq!(t.render(&mut ctx, &Limits::default()).unwrap(), r#"["a","b"]"#);
//! ```
//!
//! # Whitespace (Velocity 1.7's lexer)
//!
//! Whitespace is handled as Apache Velocity 1.7 does it (the differential test
//! `tests/differential.rs` checks this against the real engine; two oddities are listed under
//! "Known differences"):
//!
//! * A directive's closing `)` (`#set(..)`, `#if(..)`, `#elseif(..)`, `#foreach(..)`,
//!   `#define(..)`, `#macro(..)`, a macro call `#m(..)`), `#else` and `#end` swallow the rest of
//!   their line when it holds only spaces/tabs and a newline (`\n`, `\r\n` or `\r`) —
//!   wherever the directive sits on the line. Text before the directive, indentation included,
//!   is kept: `  #if(true)\n  x\n  #end\n` renders `    x\n  `, and
//!   `"$e"#if($foreach.hasNext),#end\n` joins the next line.
//! * `#set` also swallows the spaces and tabs right before it, unless they follow literal text:
//!   `x #set(..)` and `x\n  #set(..)` keep them; `$a #set(..)`, `#end #set(..)`, a `#set`
//!   indented on the line after a directive or comment, or at the start of the template, lose
//!   them.
//! * A `## line comment` swallows its newline but not its indentation; a `#* block comment *#`
//!   swallows nothing. Bare `#m` (no parentheses) calls a macro defined earlier.
//! * The same rules apply inside interpolated string literals.
//! * `\#name` is an escape (renders `#name`) only when `name` is a directive or a macro defined
//!   earlier; otherwise the backslash stays (`\#hashtag`).
//!
//! # Other semantics
//!
//! * Null/undefined references render as nothing, as API Gateway does ([`Dialect::ApiGateway`],
//!   the default); with [`Dialect::Velocity17`] they render as their source text (`$missing`)
//!   and quiet references (`$!x`) render nothing. API Gateway also holds `null == ""` true.
//! * `#set($x = <null>)` leaves `$x` unchanged (Velocity 1.7).
//! * Only `null` and `false` are falsy.
//! * `#foreach` exposes `$foreach.index` (0-based), `.count`, `.hasNext`,
//!   `.first`, `.last`, `.parent` and `$velocityCount`; the loop variable
//!   and these are restored after the loop.
//! * Calling a method that does not exist yields null (the reference renders
//!   literally); a method that "throws" (index out of range, bad regex, a
//!   host [`Object`] returning `Err`) aborts with [`RenderErrorKind::Method`].
//! * Regex methods (`matches`, `replaceAll`, `replaceFirst`, `split`) use
//!   `fancy-regex` (lookaround, backreferences) with a backtracking limit;
//!   `matches` is anchored at both ends like Java's `String.matches`, and
//!   replacements understand `$1`, `${name}` and `\$`.
//!
//! # Resource limits
//!
//! Every node and expression evaluation costs one step; ranges and values
//! built by list/map literals or `add`/`put` are additionally charged by
//! size. Each `#foreach` may run at most `max_loop_iterations` times.
//! Output, and any string or built value, is bounded by `max_output_bytes`;
//! methods that build strings or lists (`replace`, `replaceAll`, `concat`,
//! `split`, `getBytes`) refuse before building past it, as does
//! `#set($a.b = ..)` for the value it stores. A method call is also charged
//! for what it scans (a step per 64 bytes of a string receiver, per 4
//! elements of a list or map; `#foreach` likewise for its iterable), and
//! compiling a regex costs 256 steps (compiled regexes are reused within a
//! render; a render may compile 64 distinct ones, more is a `StepLimit`).
//! Macro calls and `#define` evaluation count against `max_depth` (hard cap
//! 256), block nesting at render time is capped at 256 and parser nesting
//! at 100, so neither parsing nor rendering can overflow the stack.
//!
//! # Known differences from Velocity 1.7
//!
//! * Whitespace: a `$`, `$!` or `#` that stands alone right before the whitespace in front of
//!   a `#set` is swallowed too by 1.7 (`a$  #set(..)` renders `a`); portico-vtl keeps it. A
//!   reference with an unclosed method call (`$a.b(`) is literal text in 1.7.
//! * Macro arguments are passed by value, not by name.
//! * String indices are in Unicode scalar values (Java uses UTF-16 units).
//! * Identifiers may contain `-` only when followed by a letter, digit or
//!   `_` (`$a-` is `$a` followed by `-`).
//! * No `#include`/`#parse`/`#evaluate` (no IO), no `$velocityHasNext`.

mod ast;
mod eval;
mod lexer;
mod literals;
mod methods;
mod parser;
mod value;

#[doc(hidden)]
pub mod fuzz;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

pub use value::{Object, Value};

/// A parse error with a 1-based position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse error at line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What went wrong.
    pub message: String,
}

/// Why rendering failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderErrorKind {
    /// A `#foreach` exceeded [`Limits::max_loop_iterations`].
    LoopLimit,
    /// The output (or a built value) exceeded [`Limits::max_output_bytes`].
    OutputLimit,
    /// Evaluation exceeded [`Limits::max_steps`].
    StepLimit,
    /// Macro/define recursion exceeded [`Limits::max_depth`].
    DepthLimit,
    /// Rendering took longer than [`Limits::max_duration`].
    TimeLimit,
    /// The template source exceeds [`Limits::max_template_bytes`].
    TemplateTooLarge,
    /// A method call failed (like a Java exception).
    Method(String),
}

/// A render error; `line`/`column` are 1-based, 0 when unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("render error at line {line}, column {column}: {kind:?}")]
pub struct RenderError {
    /// The kind of failure.
    pub kind: RenderErrorKind,
    /// 1-based line, 0 if unknown.
    pub line: usize,
    /// 1-based column, 0 if unknown.
    pub column: usize,
}

/// Resource limits for parsing and rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum template source size (default 300 KiB).
    pub max_template_bytes: usize,
    /// Maximum iterations of each `#foreach` (default 1000, like AWS).
    pub max_loop_iterations: usize,
    /// Maximum output size (default 10 MiB).
    pub max_output_bytes: usize,
    /// Maximum nesting of macro calls / define evaluation (default 64; hard cap 256).
    pub max_depth: usize,
    /// Total evaluation step budget (default 10,000,000).
    pub max_steps: u64,
    /// Wall-clock budget for one rendering (default 1 s; `None`: unbounded), checked every few
    /// thousand steps.
    pub max_duration: Option<std::time::Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_template_bytes: 300 * 1024,
            max_loop_iterations: 1000,
            max_output_bytes: 10 * 1024 * 1024,
            max_depth: 64,
            max_steps: 10_000_000,
            max_duration: Some(std::time::Duration::from_secs(1)),
        }
    }
}

/// Variables visible to a template.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub(crate) vars: HashMap<String, Value>,
    pub(crate) blocks: HashMap<String, Arc<Vec<ast::Node>>>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable.
    pub fn insert(&mut self, name: &str, v: Value) {
        self.blocks.remove(name);
        self.vars.insert(name.to_string(), v);
    }

    /// Reads a variable (e.g. one set by `#set`).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// Takes a variable out (what a rendering left in it), without copying it.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.vars.remove(name)
    }
}

/// A parsed template. Cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Arc<Vec<ast::Node>>,
    macros: Arc<HashMap<String, Arc<ast::Macro>>>,
    source_len: usize,
}

/// Parses a template with the default [`Limits::max_template_bytes`].
pub fn parse(source: &str) -> Result<Template, ParseError> {
    parse_with_limits(source, &Limits::default())
}

/// Parses a template, rejecting sources over `limits.max_template_bytes`.
pub fn parse_with_limits(source: &str, limits: &Limits) -> Result<Template, ParseError> {
    if source.len() > limits.max_template_bytes {
        return Err(ParseError {
            line: 1,
            column: 1,
            message: format!(
                "template too large: {} bytes (limit {})",
                source.len(),
                limits.max_template_bytes
            ),
        });
    }
    let mut p = parser::Parser::new(source);
    let nodes = p.parse_template()?;
    Ok(Template {
        nodes: Arc::new(nodes),
        macros: Arc::new(std::mem::take(&mut p.macros)),
        source_len: source.len(),
    })
}

/// Whose rules apply where Amazon API Gateway's Velocity differs from Apache Velocity 1.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// API Gateway's (recorded on AWS): a null reference renders as nothing, quiet or not —
    /// never-set variables, JSON nulls and missing paths, properties of strings, methods that
    /// do not exist, undefined stage variables — and `null == ""` is true.
    #[default]
    ApiGateway,
    /// Apache Velocity 1.7's: a null reference prints its own source (`$missing`) unless quiet
    /// (`$!missing`), and null equals only null. The differential test renders with this.
    Velocity17,
}

impl Template {
    /// The string literals passed as first argument to `$root.method(..)` for any of `methods`,
    /// anywhere in the template (macro bodies and string interpolations included), each once:
    /// what a host may prepare before rendering (API Gateway's `$input.json('$.a')` paths).
    /// A double-quoted literal counts when it interpolates nothing.
    pub fn literal_arguments(&self, root: &str, methods: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        let mut walk = literals::Walk {
            root,
            methods,
            found: &mut found,
        };
        walk.nodes(&self.nodes);
        for m in self.macros.values() {
            walk.nodes(&m.body);
        }
        found
    }

    /// Renders the template with API Gateway's rules ([`Dialect::ApiGateway`]). `#stop` ends
    /// rendering successfully.
    pub fn render(&self, ctx: &mut Context, limits: &Limits) -> Result<String, RenderError> {
        self.render_as(ctx, limits, Dialect::ApiGateway)
    }

    /// Renders the template with the rules of `dialect`.
    pub fn render_as(
        &self,
        ctx: &mut Context,
        limits: &Limits,
        dialect: Dialect,
    ) -> Result<String, RenderError> {
        if self.source_len > limits.max_template_bytes {
            return Err(RenderError {
                kind: RenderErrorKind::TemplateTooLarge,
                line: 0,
                column: 0,
            });
        }
        let mut r = eval::Renderer {
            limits,
            macros: &self.macros,
            steps: 0,
            deadline: limits.max_duration.map(|d| std::time::Instant::now() + d),
            ticks: 0,
            depth: 0,
            nest: 0,
            pos: ast::Pos::default(),
            regexes: HashMap::new(),
            dialect,
        };
        let mut out = String::new();
        r.render_nodes(&self.nodes, ctx, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn template_is_send_sync() {
        assert_send_sync::<super::Template>();
        assert_send_sync::<super::Context>();
    }
}
