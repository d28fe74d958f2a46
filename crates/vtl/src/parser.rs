//! Recursive-descent parser for templates and expressions.
//!
//! Whitespace follows Velocity 1.7's lexer (see the crate docs): a directive's closing `)`,
//! `#else` and `#end` swallow the rest of their line when it is blank, and `#set` swallows the
//! spaces and tabs in front of it unless they follow literal text.

use crate::ParseError;
use crate::ast::{BinOp, Expr, Macro, Node, RefPart, Reference};
use crate::lexer::{Cursor, is_ident_start};
use crate::value::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Maximum nesting (blocks + expressions) accepted by the parser.
pub(crate) const MAX_PARSE_DEPTH: usize = 100;

pub(crate) struct Parser {
    c: Cursor,
    depth: usize,
    /// Where, in the text being collected, a run of spaces/tabs starts that directly follows
    /// something other than literal text (a reference, a directive, a comment, an escape, the
    /// start of the template): a `#set` removes it, as Velocity 1.7's `SET_DIRECTIVE` token
    /// does. `None` after literal text.
    set_trim: Option<usize>,
    pub macros: HashMap<String, Arc<Macro>>,
}

/// Velocity 1.7's directive names (`#include`, `#parse`, `#evaluate` and `#literal` are not
/// implemented, but `\#include` still escapes like one).
const DIRECTIVES: &[&str] = &[
    "if", "elseif", "else", "end", "set", "foreach", "break", "stop", "define", "macro", "include",
    "parse", "evaluate", "literal",
];

/// How a block ended.
enum BlockEnd {
    Eof,
    End,
    Else,
    ElseIf(Expr),
}

fn is_hws(c: char) -> bool {
    c == ' ' || c == '\t'
}

impl Parser {
    pub fn new(src: &str) -> Self {
        Parser {
            c: Cursor::new(src),
            depth: 0,
            set_trim: Some(0),
            macros: HashMap::new(),
        }
    }

    fn err_at(&self, offset: usize, msg: impl Into<String>) -> ParseError {
        let p = self.c.pos_of(offset);
        ParseError {
            line: p.line,
            column: p.column,
            message: msg.into(),
        }
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        self.err_at(self.c.pos, msg)
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_PARSE_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    pub fn parse_template(&mut self) -> Result<Vec<Node>, ParseError> {
        let start = self.c.pos;
        let (nodes, end) = self.parse_nodes()?;
        match end {
            BlockEnd::Eof => Ok(nodes),
            _ => Err(self.err_at(
                self.c.pos.saturating_sub(1).max(start),
                "unexpected #end/#else/#elseif without an open block",
            )),
        }
    }

    /// Velocity 1.7: after a directive's closing `)`, `#else` or `#end`, the rest of the line
    /// is swallowed when it holds only spaces/tabs and a newline (`\n`, `\r\n` or `\r`).
    fn eat_blank_line(&mut self) {
        let mut i = self.c.pos;
        while matches!(self.c.chars.get(i), Some(c) if is_hws(*c)) {
            i += 1;
        }
        self.c.pos = match self.c.chars.get(i) {
            Some('\n') => i + 1,
            Some('\r') if self.c.chars.get(i + 1) == Some(&'\n') => i + 2,
            Some('\r') => i + 1,
            _ => return,
        };
    }

    /// Something other than literal text was just consumed.
    fn after_token(&mut self, text: &str) {
        self.set_trim = Some(text.len());
    }

    fn flush(text: &mut String, nodes: &mut Vec<Node>) {
        if !text.is_empty() {
            nodes.push(Node::Text(std::mem::take(text)));
        }
    }

    /// Parses nodes until EOF or a block terminator.
    fn parse_nodes(&mut self) -> Result<(Vec<Node>, BlockEnd), ParseError> {
        self.enter()?;
        let r = self.parse_nodes_inner();
        self.leave();
        r
    }

    fn parse_nodes_inner(&mut self) -> Result<(Vec<Node>, BlockEnd), ParseError> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        self.after_token(&text);
        while let Some(ch) = self.c.peek() {
            match ch {
                '\\' => self.escape(&mut text, &mut nodes)?,
                '$' => {
                    let s = self.c.pos;
                    match self.parse_reference()? {
                        Some(r) => {
                            Self::flush(&mut text, &mut nodes);
                            nodes.push(Node::Ref(r));
                        }
                        None => self.not_a_reference(s, &mut text),
                    }
                    self.after_token(&text);
                }
                '#' => {
                    if let Some(end) = self.hash(&mut text, &mut nodes)? {
                        Self::flush(&mut text, &mut nodes);
                        return Ok((nodes, end));
                    }
                    self.after_token(&text);
                }
                _ => {
                    self.c.pos += 1;
                    text.push(ch);
                    if !is_hws(ch) {
                        self.set_trim = None;
                    }
                }
            }
        }
        Self::flush(&mut text, &mut nodes);
        Ok((nodes, BlockEnd::Eof))
    }

    /// A `$` at `s` that does not start a reference: `$`, `$!`, `${` and `$!{` are literal text.
    fn not_a_reference(&mut self, s: usize, text: &mut String) {
        self.c.pos = s + 1;
        text.push('$');
        if self.c.eat('!') {
            text.push('!');
        }
        if self.c.eat('{') {
            text.push('{');
        }
    }

    /// Whether the text at cursor offset `off` (just after a `#`) names a directive or a macro
    /// defined so far, optionally in braces: `\#name` is an escape only for those, as in
    /// Velocity 1.7 (`\#if` renders `#if`, `\#hashtag` renders as is).
    fn names_directive(&self, off: usize) -> bool {
        let brace = self.c.at(off) == Some('{');
        let mut i = off + usize::from(brace);
        if !is_ident_start(self.c.at(i)) {
            return false;
        }
        let mut name = String::new();
        while let Some(c) = self
            .c
            .at(i)
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            name.push(c);
            i += 1;
        }
        if brace && self.c.at(i) != Some('}') {
            return false;
        }
        DIRECTIVES.contains(&name.as_str()) || self.macros.contains_key(&name)
    }

    #[inline(never)]
    fn escape(&mut self, text: &mut String, nodes: &mut Vec<Node>) -> Result<(), ParseError> {
        let start = self.c.pos;
        let mut n = 0;
        while self.c.at(n) == Some('\\') {
            n += 1;
        }
        let next = self.c.at(n);
        let escapable = match next {
            Some('$') => {
                let after = if matches!(self.c.at(n + 1), Some('!')) {
                    n + 2
                } else {
                    n + 1
                };
                let after = if self.c.at(after) == Some('{') {
                    after + 1
                } else {
                    after
                };
                is_ident_start(self.c.at(after))
            }
            Some('#') => self.names_directive(n + 1),
            _ => false,
        };
        if !escapable {
            self.c.pos += n;
            text.push_str(&self.c.slice(start, start + n));
            self.after_token(text);
            return Ok(());
        }
        for _ in 0..n / 2 {
            text.push('\\');
        }
        self.c.pos += n;
        if n % 2 == 1 {
            if next == Some('$') {
                let s = self.c.pos;
                match self.parse_reference()? {
                    Some(r) => {
                        Self::flush(text, nodes);
                        nodes.push(Node::EscapedRef(r));
                    }
                    None => {
                        self.c.pos = s + 1;
                        text.push('$');
                    }
                }
            } else {
                self.c.pos += 1;
                text.push('#');
                // `\#if` and `\#{if}` are one (escaped) token.
                let s = self.c.pos;
                let brace = self.c.eat('{');
                if self.c.ident(false).is_some() && (!brace || self.c.eat('}')) {
                    text.push_str(&self.c.slice(s, self.c.pos));
                } else {
                    self.c.pos = s;
                }
            }
        }
        self.after_token(text);
        Ok(())
    }

    #[inline(never)]
    fn hash(
        &mut self,
        text: &mut String,
        nodes: &mut Vec<Node>,
    ) -> Result<Option<BlockEnd>, ParseError> {
        let start = self.c.pos;
        if self.c.starts_with("##") {
            // A line comment ends with (and swallows) its newline; its indentation stays.
            while let Some(c) = self.c.bump() {
                if c == '\n' {
                    break;
                }
                if c == '\r' {
                    self.c.eat('\n');
                    break;
                }
            }
            return Ok(None);
        }
        if self.c.starts_with("#*") {
            self.c.pos += 2;
            loop {
                if self.c.eof() {
                    return Err(self.err_at(start, "unterminated #* comment"));
                }
                if self.c.starts_with("*#") {
                    self.c.pos += 2;
                    break;
                }
                self.c.pos += 1;
            }
            return Ok(None);
        }
        if self.c.starts_with("#[[") {
            self.c.pos += 3;
            loop {
                if self.c.eof() {
                    return Err(self.err_at(start, "unterminated #[[ block"));
                }
                if self.c.starts_with("]]#") {
                    self.c.pos += 3;
                    break;
                }
                if let Some(c) = self.c.bump() {
                    text.push(c);
                }
            }
            return Ok(None);
        }
        self.c.pos += 1;
        let brace = self.c.eat('{');
        let Some(name) = self.c.ident(false) else {
            self.c.pos = start + 1;
            text.push('#');
            if !brace {
                // `#1x` is one (literal) token, as in Velocity.
                while let Some(c) = self.c.peek().filter(|c| c.is_ascii_alphanumeric()) {
                    self.c.pos += 1;
                    text.push(c);
                }
            }
            return Ok(None);
        };
        if brace && !self.c.eat('}') {
            self.c.pos = start + 1;
            text.push('#');
            return Ok(None);
        }
        match name.as_str() {
            "end" | "else" => {
                self.eat_blank_line();
                Self::flush(text, nodes);
                let end = if name == "end" {
                    BlockEnd::End
                } else {
                    BlockEnd::Else
                };
                return Ok(Some(end));
            }
            "elseif" => {
                let cond = self.paren_expr()?;
                self.eat_blank_line();
                Self::flush(text, nodes);
                return Ok(Some(BlockEnd::ElseIf(cond)));
            }
            "set" => self.d_set(text, nodes)?,
            "if" => self.d_if(text, nodes, start)?,
            "foreach" => self.d_foreach(text, nodes, start)?,
            "break" | "stop" => self.d_break_stop(text, nodes, &name)?,
            "define" => self.d_define(text, nodes, start)?,
            "macro" => self.d_macro(start)?,
            _ => self.d_other(text, nodes, start, &name)?,
        }
        Ok(None)
    }

    #[inline(never)]
    fn d_set(&mut self, text: &mut String, nodes: &mut Vec<Node>) -> Result<(), ParseError> {
        if let Some(at) = self.set_trim {
            text.truncate(at);
        }
        self.expect_open()?;
        self.c.skip_ws();
        let at = self.c.pos;
        let target = match self.parse_reference()? {
            Some(r) => r,
            None => return Err(self.err_at(at, "#set expects a reference")),
        };
        self.c.skip_ws();
        if !self.c.eat('=') {
            return Err(self.err("expected '=' in #set"));
        }
        let value = self.expr()?;
        self.expect_close()?;
        self.eat_blank_line();
        Self::flush(text, nodes);
        nodes.push(Node::Set { target, value });
        Ok(())
    }

    #[inline(never)]
    fn d_if(
        &mut self,
        text: &mut String,
        nodes: &mut Vec<Node>,
        start: usize,
    ) -> Result<(), ParseError> {
        let cond = self.paren_expr()?;
        self.eat_blank_line();
        Self::flush(text, nodes);
        let mut branches = Vec::new();
        let mut cur = cond;
        let otherwise;
        loop {
            let (body, end) = self.parse_nodes()?;
            branches.push((cur, body));
            match end {
                BlockEnd::End => {
                    otherwise = None;
                    break;
                }
                BlockEnd::ElseIf(c) => cur = c,
                BlockEnd::Else => {
                    let (body, end) = self.parse_nodes()?;
                    if !matches!(end, BlockEnd::End) {
                        return Err(self.err_at(start, "#if without #end"));
                    }
                    otherwise = Some(body);
                    break;
                }
                BlockEnd::Eof => {
                    return Err(self.err_at(start, "#if without #end"));
                }
            }
        }
        nodes.push(Node::If {
            branches,
            otherwise,
        });
        Ok(())
    }

    #[inline(never)]
    fn d_foreach(
        &mut self,
        text: &mut String,
        nodes: &mut Vec<Node>,
        start: usize,
    ) -> Result<(), ParseError> {
        self.expect_open()?;
        self.c.skip_ws();
        if !self.c.eat('$') {
            return Err(self.err("#foreach expects $variable"));
        }
        let brace = self.c.eat('{');
        let var = self
            .c
            .ident(true)
            .ok_or_else(|| self.err("#foreach expects $variable"))?;
        if brace && !self.c.eat('}') {
            return Err(self.err("expected '}'"));
        }
        self.c.skip_ws();
        if self.c.ident(false).as_deref() != Some("in") {
            return Err(self.err("expected 'in' in #foreach"));
        }
        let iter = self.expr()?;
        self.expect_close()?;
        self.eat_blank_line();
        Self::flush(text, nodes);
        let (body, end) = self.parse_nodes()?;
        if !matches!(end, BlockEnd::End) {
            return Err(self.err_at(start, "#foreach without #end"));
        }
        nodes.push(Node::Foreach {
            var,
            iter,
            body,
            pos: self.c.pos_of(start),
        });
        Ok(())
    }

    #[inline(never)]
    fn d_break_stop(
        &mut self,
        text: &mut String,
        nodes: &mut Vec<Node>,
        name: &str,
    ) -> Result<(), ParseError> {
        if self.c.peek() == Some('(') {
            self.c.pos += 1;
            self.c.skip_ws();
            if self.c.peek() == Some('$') {
                let _ = self.parse_reference()?;
            }
            self.expect_close()?;
            self.eat_blank_line();
        }
        Self::flush(text, nodes);
        nodes.push(if name == "break" {
            Node::Break
        } else {
            Node::Stop
        });
        Ok(())
    }

    #[inline(never)]
    fn d_define(
        &mut self,
        text: &mut String,
        nodes: &mut Vec<Node>,
        start: usize,
    ) -> Result<(), ParseError> {
        self.expect_open()?;
        self.c.skip_ws();
        if !self.c.eat('$') {
            return Err(self.err("#define expects $name"));
        }
        let brace = self.c.eat('{');
        let dname = self
            .c
            .ident(true)
            .ok_or_else(|| self.err("#define expects $name"))?;
        if brace && !self.c.eat('}') {
            return Err(self.err("expected '}'"));
        }
        self.expect_close()?;
        self.eat_blank_line();
        Self::flush(text, nodes);
        let (body, end) = self.parse_nodes()?;
        if !matches!(end, BlockEnd::End) {
            return Err(self.err_at(start, "#define without #end"));
        }
        nodes.push(Node::Define {
            name: dname,
            body: Arc::new(body),
        });
        Ok(())
    }

    #[inline(never)]
    fn d_macro(&mut self, start: usize) -> Result<(), ParseError> {
        self.expect_open()?;
        self.c.skip_ws();
        let mname = self
            .c
            .ident(true)
            .ok_or_else(|| self.err("#macro expects a name"))?;
        let mut params = Vec::new();
        loop {
            self.c.skip_ws();
            self.c.eat(',');
            self.c.skip_ws();
            if self.c.eat(')') {
                break;
            }
            if !self.c.eat('$') {
                return Err(self.err("#macro parameters must be $names"));
            }
            let brace = self.c.eat('{');
            let p = self
                .c
                .ident(true)
                .ok_or_else(|| self.err("bad macro parameter"))?;
            if brace && !self.c.eat('}') {
                return Err(self.err("expected '}'"));
            }
            params.push(p);
        }
        self.eat_blank_line();
        let (body, end) = self.parse_nodes()?;
        if !matches!(end, BlockEnd::End) {
            return Err(self.err_at(start, "#macro without #end"));
        }
        self.macros.insert(mname, Arc::new(Macro { params, body }));
        Ok(())
    }

    /// `#name(args)` is a macro call (resolved when rendering, so it may precede the
    /// `#macro`); bare `#name` calls a macro defined earlier and is literal text otherwise.
    #[inline(never)]
    fn d_other(
        &mut self,
        text: &mut String,
        nodes: &mut Vec<Node>,
        start: usize,
        name: &str,
    ) -> Result<(), ParseError> {
        let mut args = Vec::new();
        if self.c.peek() == Some('(') {
            self.c.pos += 1;
            loop {
                self.c.skip_ws();
                if self.c.eat(')') {
                    break;
                }
                if self.c.eof() {
                    return Err(self.err_at(start, "unclosed macro call"));
                }
                args.push(self.expr()?);
                self.c.skip_ws();
                self.c.eat(',');
            }
            // An undefined macro renders as its source, swallowed line end included.
            self.eat_blank_line();
        } else if !self.macros.contains_key(name) {
            text.push_str(&self.c.slice(start, self.c.pos));
            return Ok(());
        }
        Self::flush(text, nodes);
        nodes.push(Node::MacroCall {
            name: name.to_string(),
            args,
            source: self.c.slice(start, self.c.pos),
            pos: self.c.pos_of(start),
        });
        Ok(())
    }

    fn expect_open(&mut self) -> Result<(), ParseError> {
        self.c.skip_ws();
        if self.c.eat('(') {
            Ok(())
        } else {
            Err(self.err("expected '('"))
        }
    }

    fn expect_close(&mut self) -> Result<(), ParseError> {
        self.c.skip_ws();
        if self.c.eat(')') {
            Ok(())
        } else {
            Err(self.err("expected ')'"))
        }
    }

    fn paren_expr(&mut self) -> Result<Expr, ParseError> {
        self.expect_open()?;
        let e = self.expr()?;
        self.expect_close()?;
        Ok(e)
    }

    /// Parses a reference at `$`. Returns `None` (position unspecified) if
    /// the text is not a reference.
    fn parse_reference(&mut self) -> Result<Option<Reference>, ParseError> {
        let start = self.c.pos;
        if !self.c.eat('$') {
            return Ok(None);
        }
        let quiet = self.c.eat('!');
        let brace = self.c.eat('{');
        let Some(root) = self.c.ident(true) else {
            return Ok(None);
        };
        self.enter()?;
        let mut parts = Vec::new();
        loop {
            let save = self.c.pos;
            if self.c.peek() == Some('.') && is_ident_start(self.c.at(1)) {
                self.c.pos += 1;
                let name = self.c.ident(true).unwrap_or_default();
                if self.c.peek() == Some('(') {
                    self.c.pos += 1;
                    match self.args(')') {
                        Ok(args) => parts.push(RefPart::Method(name, args)),
                        Err(_) => {
                            self.c.pos = save;
                            break;
                        }
                    }
                } else {
                    parts.push(RefPart::Prop(name));
                }
            } else if self.c.peek() == Some('[') {
                self.c.pos += 1;
                let r = self.expr().and_then(|e| {
                    self.c.skip_ws();
                    if self.c.eat(']') {
                        Ok(e)
                    } else {
                        Err(self.err("expected ']'"))
                    }
                });
                match r {
                    Ok(e) => parts.push(RefPart::Index(e)),
                    Err(_) => {
                        self.c.pos = save;
                        break;
                    }
                }
            } else {
                break;
            }
        }
        self.leave();
        if brace && !self.c.eat('}') {
            return Ok(None);
        }
        Ok(Some(Reference {
            root,
            parts,
            quiet,
            source: self.c.slice(start, self.c.pos),
            pos: self.c.pos_of(start),
        }))
    }

    fn args(&mut self, close: char) -> Result<Vec<Expr>, ParseError> {
        let mut args = Vec::new();
        self.c.skip_ws();
        if self.c.eat(close) {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            self.c.skip_ws();
            if self.c.eat(close) {
                return Ok(args);
            }
            if !self.c.eat(',') {
                return Err(self.err(format!("expected ',' or '{close}'")));
            }
        }
    }

    pub(crate) fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let r = self.or_expr();
        self.leave();
        r
    }

    /// Matches a symbolic or word operator.
    fn op(&mut self, sym: &str, word: &str) -> bool {
        self.c.skip_ws();
        if !sym.is_empty() && self.c.starts_with(sym) {
            // don't confuse `=` / `==`, `<` / `<=`, `!` / `!=`
            let n = sym.chars().count();
            if (sym == "<" || sym == ">" || sym == "!") && self.c.at(n) == Some('=') {
                return false;
            }
            self.c.pos += n;
            return true;
        }
        if !word.is_empty() && self.c.starts_with(word) {
            let n = word.len();
            if !matches!(self.c.at(n), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
                self.c.pos += n;
                return true;
            }
        }
        false
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.and_expr()?;
        while self.op("||", "or") {
            let r = self.and_expr()?;
            l = Expr::Bin(BinOp::Or, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.eq_expr()?;
        while self.op("&&", "and") {
            let r = self.eq_expr()?;
            l = Expr::Bin(BinOp::And, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn eq_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.rel_expr()?;
        loop {
            let op = if self.op("==", "eq") {
                BinOp::Eq
            } else if self.op("!=", "ne") {
                BinOp::Ne
            } else {
                break;
            };
            let r = self.rel_expr()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn rel_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.add_expr()?;
        loop {
            let op = if self.op("<=", "le") {
                BinOp::Le
            } else if self.op(">=", "ge") {
                BinOp::Ge
            } else if self.op("<", "lt") {
                BinOp::Lt
            } else if self.op(">", "gt") {
                BinOp::Gt
            } else {
                break;
            };
            let r = self.add_expr()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn add_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.mul_expr()?;
        loop {
            let op = if self.op("+", "") {
                BinOp::Add
            } else if self.op("-", "") {
                BinOp::Sub
            } else {
                break;
            };
            let r = self.mul_expr()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn mul_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.unary()?;
        loop {
            let op = if self.op("*", "") {
                BinOp::Mul
            } else if self.op("/", "") {
                BinOp::Div
            } else if self.op("%", "") {
                BinOp::Mod
            } else {
                break;
            };
            let r = self.unary()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let r = if self.op("!", "not") {
            self.unary().map(|e| Expr::Not(Box::new(e)))
        } else {
            self.c.skip_ws();
            if self.c.peek() == Some('-') && !matches!(self.c.at(1), Some(c) if c.is_ascii_digit())
            {
                self.c.pos += 1;
                self.unary().map(|e| Expr::Neg(Box::new(e)))
            } else {
                self.primary()
            }
        };
        self.leave();
        r
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        self.c.skip_ws();
        let start = self.c.pos;
        match self.c.peek() {
            None => Err(self.err("unexpected end of input in expression")),
            Some('$') => match self.parse_reference()? {
                Some(r) => Ok(Expr::Ref(r)),
                None => Err(self.err_at(start, "invalid reference")),
            },
            Some('(') => {
                self.c.pos += 1;
                let e = self.expr()?;
                self.expect_close()?;
                Ok(e)
            }
            Some('"') => {
                self.c.pos += 1;
                let s = self.c.pos;
                while let Some(c) = self.c.peek() {
                    if c == '"' {
                        if self.c.at(1) == Some('"') {
                            self.c.pos += 2;
                            continue;
                        }
                        break;
                    }
                    self.c.pos += 1;
                }
                if self.c.eof() {
                    return Err(self.err_at(start, "unterminated string literal"));
                }
                let raw = self.c.slice(s, self.c.pos).replace("\"\"", "\"");
                self.c.pos += 1;
                if !raw.contains('$') && !raw.contains('#') {
                    return Ok(Expr::Lit(Value::String(raw)));
                }
                let mut sub = Parser::new(&raw);
                sub.depth = self.depth;
                sub.macros = std::mem::take(&mut self.macros);
                let r = sub.parse_nodes();
                self.macros = std::mem::take(&mut sub.macros);
                match r {
                    Ok((nodes, BlockEnd::Eof)) => Ok(Expr::Interp(nodes)),
                    Ok(_) => Err(self.err_at(start, "unbalanced directive in string")),
                    Err(e) => Err(self.err_at(start, format!("in string literal: {}", e.message))),
                }
            }
            Some('\'') => {
                self.c.pos += 1;
                let s = self.c.pos;
                while let Some(c) = self.c.peek() {
                    if c == '\'' {
                        if self.c.at(1) == Some('\'') {
                            self.c.pos += 2;
                            continue;
                        }
                        break;
                    }
                    self.c.pos += 1;
                }
                if self.c.eof() {
                    return Err(self.err_at(start, "unterminated string literal"));
                }
                let raw = self.c.slice(s, self.c.pos).replace("''", "'");
                self.c.pos += 1;
                Ok(Expr::Lit(Value::String(raw)))
            }
            Some('[') => {
                self.c.pos += 1;
                self.c.skip_ws();
                if self.c.eat(']') {
                    return Ok(Expr::List(Vec::new()));
                }
                let first = self.expr()?;
                self.c.skip_ws();
                if self.c.starts_with("..") {
                    self.c.pos += 2;
                    let second = self.expr()?;
                    self.c.skip_ws();
                    if !self.c.eat(']') {
                        return Err(self.err("expected ']'"));
                    }
                    return Ok(Expr::Range(Box::new(first), Box::new(second)));
                }
                let mut items = vec![first];
                loop {
                    self.c.skip_ws();
                    if self.c.eat(']') {
                        return Ok(Expr::List(items));
                    }
                    if !self.c.eat(',') {
                        return Err(self.err("expected ',' or ']'"));
                    }
                    items.push(self.expr()?);
                }
            }
            Some('{') => {
                self.c.pos += 1;
                let mut entries = Vec::new();
                self.c.skip_ws();
                if self.c.eat('}') {
                    return Ok(Expr::Map(entries));
                }
                loop {
                    let k = self.expr()?;
                    self.c.skip_ws();
                    if !self.c.eat(':') {
                        return Err(self.err("expected ':' in map literal"));
                    }
                    let v = self.expr()?;
                    entries.push((k, v));
                    self.c.skip_ws();
                    if self.c.eat('}') {
                        return Ok(Expr::Map(entries));
                    }
                    if !self.c.eat(',') {
                        return Err(self.err("expected ',' or '}'"));
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' => {
                self.c.pos += 1;
                while matches!(self.c.peek(), Some(d) if d.is_ascii_digit()) {
                    self.c.pos += 1;
                }
                let mut float = false;
                if self.c.peek() == Some('.')
                    && matches!(self.c.at(1), Some(d) if d.is_ascii_digit())
                {
                    float = true;
                    self.c.pos += 1;
                    while matches!(self.c.peek(), Some(d) if d.is_ascii_digit()) {
                        self.c.pos += 1;
                    }
                }
                if matches!(self.c.peek(), Some('e' | 'E'))
                    && (matches!(self.c.at(1), Some(d) if d.is_ascii_digit())
                        || (matches!(self.c.at(1), Some('-' | '+'))
                            && matches!(self.c.at(2), Some(d) if d.is_ascii_digit())))
                {
                    float = true;
                    self.c.pos += 2;
                    while matches!(self.c.peek(), Some(d) if d.is_ascii_digit()) {
                        self.c.pos += 1;
                    }
                }
                let s = self.c.slice(start, self.c.pos);
                if float {
                    s.parse::<f64>()
                        .map(|f| Expr::Lit(Value::Float(f)))
                        .map_err(|_| self.err_at(start, "invalid number"))
                } else {
                    match s.parse::<i64>() {
                        Ok(i) => Ok(Expr::Lit(Value::Int(i))),
                        Err(_) => s
                            .parse::<f64>()
                            .map(|f| Expr::Lit(Value::Float(f)))
                            .map_err(|_| self.err_at(start, "invalid number")),
                    }
                }
            }
            Some(_) => {
                let word = self.c.ident(false);
                match word.as_deref() {
                    Some("true") => Ok(Expr::Lit(Value::Bool(true))),
                    Some("false") => Ok(Expr::Lit(Value::Bool(false))),
                    Some("null") => Ok(Expr::Lit(Value::Null)),
                    _ => Err(self.err_at(start, "expected an expression")),
                }
            }
        }
    }
}
