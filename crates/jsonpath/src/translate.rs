//! Jayway JSONPath syntax → RFC 9535 query string.
//!
//! The parser walks the input once (every loop advances the cursor or exits) and bounds
//! filter nesting, so compilation is linear in the path length and cannot overflow the stack.

use crate::{ErrorKind, PathError};

/// Maximum nesting of parentheses / filters inside a path.
const MAX_NESTING: usize = 32;

/// Jayway path functions supported at the end of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Length,
    Size,
    Keys,
    Min,
    Max,
    Sum,
    Avg,
    First,
    Last,
}

impl Func {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "length" => Func::Length,
            "size" => Func::Size,
            "keys" => Func::Keys,
            "min" => Func::Min,
            "max" => Func::Max,
            "sum" => Func::Sum,
            "avg" => Func::Avg,
            "first" => Func::First,
            "last" => Func::Last,
            _ => return None,
        })
    }
}

/// Result of translating a top-level path.
#[derive(Debug)]
pub(crate) struct Translated {
    /// RFC 9535 query string.
    pub rfc: String,
    /// `(byte offset in rfc, char offset in the input)` pairs, ascending, for error mapping.
    pub map: Vec<(usize, usize)>,
    pub definite: bool,
    /// Some descendant segment (`..`) occurs anywhere, filters included.
    pub has_descendant: bool,
    /// A filter contains a descendant query (quadratic evaluation).
    pub nested_descendant: bool,
    pub func: Option<Func>,
}

struct Parser {
    c: Vec<char>,
    i: usize,
    nesting: usize,
    has_descendant: bool,
    nested_descendant: bool,
    filter_depth: usize,
}

fn err(message: impl Into<String>, position: usize) -> PathError {
    PathError {
        kind: ErrorKind::Syntax,
        message: message.into(),
        position,
    }
}

fn unsupported(message: impl Into<String>, position: usize) -> PathError {
    PathError {
        kind: ErrorKind::Unsupported,
        message: message.into(),
        position,
    }
}

/// Escape `s` as an RFC 9535 single-quoted string literal.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for ch in s.chars() {
        match ch {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Characters that end a dot-notation member name.
fn ends_name(ch: char) -> bool {
    ch.is_whitespace()
        || matches!(
            ch,
            '.' | '[' | ']' | '(' | ')' | '=' | '<' | '>' | '!' | '&' | '|' | ',' | '\'' | '"'
        )
}

#[derive(Default)]
struct PathOut {
    rfc: String,
    map: Vec<(usize, usize)>,
    definite: bool,
    func: Option<(Func, usize)>,
}

pub(crate) fn translate(path: &str) -> Result<Translated, PathError> {
    let mut p = Parser {
        c: path.chars().collect(),
        i: 0,
        nesting: 0,
        has_descendant: false,
        nested_descendant: false,
        filter_depth: 0,
    };
    if p.c.is_empty() {
        return Err(err("empty path", 0));
    }
    let out = p.path(true)?;
    p.skip_ws();
    if p.i < p.c.len() {
        return Err(err(format!("unexpected character '{}'", p.c[p.i]), p.i));
    }
    Ok(Translated {
        rfc: out.rfc,
        map: out.map,
        definite: out.definite,
        has_descendant: p.has_descendant,
        nested_descendant: p.nested_descendant,
        func: out.func.map(|(f, _)| f),
    })
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.c.len() >= self.i + n && s.chars().zip(&self.c[self.i..]).all(|(a, b)| a == *b) {
            self.i += n;
            true
        } else {
            false
        }
    }

    fn enter(&mut self) -> Result<(), PathError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(err("expression nested too deeply", self.i));
        }
        Ok(())
    }

    /// Parse a path. `top` = the whole input (root `$`, leading `@` means `$`, functions allowed
    /// only at the very end); otherwise a query embedded in a filter.
    fn path(&mut self, top: bool) -> Result<PathOut, PathError> {
        let mut out = PathOut {
            definite: true,
            ..PathOut::default()
        };
        let start = self.i;
        match self.peek() {
            Some('$') => {
                self.i += 1;
                out.rfc.push('$');
            }
            Some('@') => {
                self.i += 1;
                out.rfc.push(if top { '$' } else { '@' });
            }
            Some(ch) if top && (ch == '[' || !ends_name(ch)) => {
                // Jayway tolerates a missing root: `a.b` means `$.a.b`.
                out.rfc.push('$');
                if ch != '[' {
                    self.i = start;
                    self.member_name(&mut out, false)?;
                }
            }
            _ => return Err(err("path must start with '$' or '@'", start)),
        }
        loop {
            if out.func.is_some() {
                // A function must be the last step.
                if let Some(ch) = self.peek()
                    && (ch == '.' || ch == '[')
                {
                    return Err(unsupported("a path function must be the last step", self.i));
                }
                break;
            }
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    let pos = self.i;
                    self.i += 2;
                    self.has_descendant = true;
                    if self.filter_depth > 0 {
                        self.nested_descendant = true;
                    }
                    out.definite = false;
                    out.map.push((out.rfc.len(), pos));
                    out.rfc.push_str("..");
                    match self.peek() {
                        Some('[') => self.bracket(&mut out)?,
                        Some('*') => {
                            self.i += 1;
                            out.rfc.push_str("[*]");
                        }
                        Some(ch) if !ends_name(ch) => {
                            let name = self.raw_name();
                            out.rfc.push('[');
                            out.rfc.push_str(&quote(&name));
                            out.rfc.push(']');
                        }
                        _ => return Err(err("expected a name, '*' or '[' after '..'", self.i)),
                    }
                }
                Some('.') => {
                    self.i += 1;
                    match self.peek() {
                        Some('*') => {
                            out.map.push((out.rfc.len(), self.i - 1));
                            self.i += 1;
                            out.definite = false;
                            out.rfc.push_str("[*]");
                        }
                        Some('[') => self.bracket(&mut out)?, // `$.['a']` (lenient)
                        Some(ch) if !ends_name(ch) => self.member_name(&mut out, true)?,
                        _ => return Err(err("expected a name after '.'", self.i)),
                    }
                }
                Some('[') => self.bracket(&mut out)?,
                _ => break,
            }
        }
        Ok(out)
    }

    fn raw_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if ends_name(ch) {
                break;
            }
            name.push(ch);
            self.i += 1;
        }
        name
    }

    /// A dot-notation member name (cursor on its first char), or a function call `name()`.
    fn member_name(&mut self, out: &mut PathOut, after_dot: bool) -> Result<(), PathError> {
        let pos = if after_dot { self.i - 1 } else { self.i };
        let name = self.raw_name();
        if self.peek() == Some('(') {
            let fpos = self.i;
            if self.peek_at(1) != Some(')') {
                return Err(unsupported(
                    "path functions with arguments are not supported",
                    fpos,
                ));
            }
            let Some(f) = Func::from_name(&name) else {
                return Err(unsupported(
                    format!("unknown path function '{name}()'"),
                    pos,
                ));
            };
            self.i += 2;
            out.func = Some((f, pos));
            return Ok(());
        }
        out.map.push((out.rfc.len(), pos));
        out.rfc.push('[');
        out.rfc.push_str(&quote(&name));
        out.rfc.push(']');
        Ok(())
    }

    fn string_lit(&mut self) -> Result<String, PathError> {
        let start = self.i;
        let Some(q) = self.peek() else {
            return Err(err("expected a string", start));
        };
        self.i += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => return Err(err("unterminated string", start)),
                Some(ch) if ch == q => {
                    self.i += 1;
                    return Ok(s);
                }
                Some('\\') => {
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err(err("unterminated string", start));
                    };
                    self.i += 1;
                    match e {
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'b' => s.push('\u{08}'),
                        'f' => s.push('\u{0c}'),
                        'u' => {
                            let hex: String = self.c.iter().skip(self.i).take(4).collect();
                            let cp = u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == 4)
                                .and_then(char::from_u32)
                                .ok_or_else(|| err("invalid \\u escape", self.i))?;
                            self.i += 4;
                            s.push(cp);
                        }
                        other => s.push(other),
                    }
                }
                Some(ch) => {
                    s.push(ch);
                    self.i += 1;
                }
            }
        }
    }

    fn int(&mut self) -> Result<i64, PathError> {
        let start = self.i;
        let mut text = String::new();
        if self.peek() == Some('-') {
            text.push('-');
            self.i += 1;
        }
        while let Some(ch) = self.peek().filter(char::is_ascii_digit) {
            text.push(ch);
            self.i += 1;
        }
        text.parse::<i64>()
            .ok()
            // RFC 9535 integers are limited to ±(2^53 - 1).
            .filter(|n| n.unsigned_abs() < (1u64 << 53))
            .ok_or_else(|| err("expected an integer", start))
    }

    fn opt_int(&mut self) -> Result<Option<i64>, PathError> {
        self.skip_ws();
        match self.peek() {
            Some(ch) if ch == '-' || ch.is_ascii_digit() => self.int().map(Some),
            _ => Ok(None),
        }
    }

    /// `[...]` selector, cursor on `[`.
    fn bracket(&mut self, out: &mut PathOut) -> Result<(), PathError> {
        let open = self.i;
        self.i += 1;
        self.skip_ws();
        out.map.push((out.rfc.len(), open));
        match self.peek() {
            Some('\'' | '"') => {
                let mut names = vec![self.string_lit()?];
                self.skip_ws();
                while self.peek() == Some(',') {
                    self.i += 1;
                    self.skip_ws();
                    if !matches!(self.peek(), Some('\'' | '"')) {
                        return Err(err("expected a quoted name", self.i));
                    }
                    names.push(self.string_lit()?);
                    self.skip_ws();
                }
                if names.len() > 1 {
                    out.definite = false;
                }
                let parts: Vec<String> = names.iter().map(|n| quote(n)).collect();
                out.rfc.push('[');
                out.rfc.push_str(&parts.join(","));
                out.rfc.push(']');
            }
            Some('*') => {
                self.i += 1;
                self.skip_ws();
                out.definite = false;
                out.rfc.push_str("[*]");
            }
            Some('?') => {
                self.i += 1;
                self.skip_ws();
                out.definite = false;
                self.filter_depth += 1;
                self.enter()?;
                let expr = self.or_expr()?;
                self.nesting -= 1;
                self.filter_depth -= 1;
                self.skip_ws();
                out.rfc.push_str("[?");
                out.rfc.push_str(&expr);
                out.rfc.push(']');
            }
            Some(ch) if ch == '-' || ch == ':' || ch.is_ascii_digit() => {
                let first = self.opt_int()?;
                self.skip_ws();
                if self.peek() == Some(':') {
                    self.i += 1;
                    let end = self.opt_int()?;
                    self.skip_ws();
                    let mut step = None;
                    if self.peek() == Some(':') {
                        self.i += 1;
                        step = self.opt_int()?;
                        self.skip_ws();
                    }
                    out.definite = false;
                    let f = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
                    out.rfc.push_str(&format!(
                        "[{}:{}{}]",
                        f(first),
                        f(end),
                        step.map(|s| format!(":{s}")).unwrap_or_default()
                    ));
                } else {
                    let Some(first) = first else {
                        return Err(err("expected an index", self.i));
                    };
                    let mut idx = vec![first];
                    while self.peek() == Some(',') {
                        self.i += 1;
                        self.skip_ws();
                        idx.push(self.int()?);
                        self.skip_ws();
                    }
                    if idx.len() > 1 {
                        out.definite = false;
                    }
                    let parts: Vec<String> = idx.iter().map(i64::to_string).collect();
                    out.rfc.push('[');
                    out.rfc.push_str(&parts.join(","));
                    out.rfc.push(']');
                }
            }
            Some(ch) => {
                return Err(err(
                    format!("unexpected character '{ch}' in brackets"),
                    self.i,
                ));
            }
            None => return Err(err("unterminated '['", open)),
        }
        if self.peek() != Some(']') {
            return Err(err("expected ']'", self.i));
        }
        self.i += 1;
        Ok(())
    }

    // ---- filter expressions -------------------------------------------------------------

    fn or_expr(&mut self) -> Result<String, PathError> {
        let mut s = self.and_expr()?;
        loop {
            self.skip_ws();
            if self.eat("||") {
                let rhs = self.and_expr()?;
                s = format!("{s} || {rhs}");
            } else {
                return Ok(s);
            }
        }
    }

    fn and_expr(&mut self) -> Result<String, PathError> {
        let mut s = self.unary()?;
        loop {
            self.skip_ws();
            if self.eat("&&") {
                let rhs = self.unary()?;
                s = format!("{s} && {rhs}");
            } else {
                return Ok(s);
            }
        }
    }

    fn unary(&mut self) -> Result<String, PathError> {
        self.skip_ws();
        if self.peek() == Some('!') && self.peek_at(1) != Some('=') {
            self.i += 1;
            self.enter()?;
            let inner = self.unary()?;
            self.nesting -= 1;
            return Ok(format!("!{inner}"));
        }
        if self.peek() == Some('(') {
            self.i += 1;
            self.enter()?;
            let inner = self.or_expr()?;
            self.nesting -= 1;
            self.skip_ws();
            if self.peek() != Some(')') {
                return Err(err("expected ')'", self.i));
            }
            self.i += 1;
            return Ok(format!("({inner})"));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<String, PathError> {
        self.skip_ws();
        let lpos = self.i;
        let (lhs, l_is_path) = self.operand()?;
        self.skip_ws();
        let opos = self.i;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                self.skip_ws();
                let (rhs, _) = self.operand()?;
                return Ok(format!("{lhs} {op} {rhs}"));
            }
        }
        if self.eat("=~") {
            if !l_is_path {
                return Err(unsupported("'=~' needs a path on the left", lpos));
            }
            self.skip_ws();
            let re = self.regex()?;
            return Ok(format!("match({lhs}, {})", quote(&re)));
        }
        let word = self.peek_word();
        match word.as_str() {
            "in" | "nin" => {
                self.i += word.len();
                self.skip_ws();
                let items = self.literal_list()?;
                let (eq, join, empty) = if word == "in" {
                    ("==", " || ", "1 == 2")
                } else {
                    ("!=", " && ", "1 == 1")
                };
                if items.is_empty() {
                    return Ok(format!("({empty})"));
                }
                let parts: Vec<String> = items.iter().map(|v| format!("{lhs} {eq} {v}")).collect();
                Ok(format!("({})", parts.join(join)))
            }
            "size" => {
                self.i += 4;
                self.skip_ws();
                let (rhs, _) = self.operand()?;
                Ok(format!("length({lhs}) == {rhs}"))
            }
            "empty" => {
                self.i += 5;
                self.skip_ws();
                let (rhs, _) = self.operand()?;
                match rhs.as_str() {
                    "true" => Ok(format!("length({lhs}) == 0")),
                    "false" => Ok(format!("length({lhs}) > 0")),
                    _ => Err(err("'empty' expects true or false", self.i)),
                }
            }
            "subsetof" | "anyof" | "noneof" | "contains" => Err(unsupported(
                format!("filter operator '{word}' is not supported"),
                opos,
            )),
            _ => {
                if l_is_path {
                    // Existence test: `[?(@.isbn)]`.
                    Ok(lhs)
                } else {
                    Err(err("expected a comparison operator", opos))
                }
            }
        }
    }

    fn peek_word(&self) -> String {
        self.c[self.i.min(self.c.len())..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect()
    }

    /// An operand: path, string, number, `true`/`false`/`null`. Returns (rfc text, is_path).
    fn operand(&mut self) -> Result<(String, bool), PathError> {
        self.skip_ws();
        let pos = self.i;
        match self.peek() {
            Some('@' | '$') => {
                let p = self.path(false)?;
                match p.func {
                    None => Ok((p.rfc, true)),
                    Some((Func::Length | Func::Size, _)) => {
                        Ok((format!("length({})", p.rfc), false))
                    }
                    Some((_, fpos)) => Err(unsupported(
                        "only length() is supported inside filters",
                        fpos,
                    )),
                }
            }
            Some('\'' | '"') => Ok((quote(&self.string_lit()?), false)),
            Some(ch) if ch == '-' || ch.is_ascii_digit() => Ok((self.number()?, false)),
            Some(_) => {
                let w = self.peek_word();
                match w.as_str() {
                    "true" | "false" | "null" => {
                        self.i += w.len();
                        Ok((w, false))
                    }
                    _ => Err(err(
                        "expected a path, string, number, true, false or null",
                        pos,
                    )),
                }
            }
            None => Err(err("unexpected end of filter", pos)),
        }
    }

    fn number(&mut self) -> Result<String, PathError> {
        let start = self.i;
        let mut s = String::new();
        while let Some(ch) = self.peek() {
            if ch.is_ascii_digit() || matches!(ch, '-' | '+' | '.' | 'e' | 'E') {
                s.push(ch);
                self.i += 1;
            } else {
                break;
            }
        }
        let v: f64 = s
            .parse()
            .map_err(|_| err(format!("invalid number '{s}'"), start))?;
        if !v.is_finite() {
            return Err(err(format!("invalid number '{s}'"), start));
        }
        // Normalize (RFC 9535 forbids leading zeros, `1.`, etc.).
        if s.contains(['.', 'e', 'E']) {
            Ok(format!("{v:?}"))
        } else {
            Ok(s.trim_start_matches('+')
                .parse::<i64>()
                .map_or_else(|_| format!("{v:?}"), |n| n.to_string()))
        }
    }

    fn literal_list(&mut self) -> Result<Vec<String>, PathError> {
        if self.peek() != Some('[') {
            return Err(unsupported("'in'/'nin' need a literal list [..]", self.i));
        }
        let open = self.i;
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some(']') => {
                    self.i += 1;
                    return Ok(items);
                }
                None => return Err(err("unterminated list", open)),
                _ => {}
            }
            let (v, is_path) = self.operand()?;
            if is_path {
                return Err(unsupported(
                    "'in'/'nin' lists must contain literals",
                    self.i,
                ));
            }
            items.push(v);
            self.skip_ws();
            if self.peek() == Some(',') {
                self.i += 1;
            } else if self.peek() != Some(']') {
                return Err(err("expected ',' or ']'", self.i));
            }
        }
    }

    /// `/regex/flags` → regex source with inline flags.
    fn regex(&mut self) -> Result<String, PathError> {
        let start = self.i;
        if self.peek() != Some('/') {
            return Err(err("expected /regex/ after '=~'", start));
        }
        self.i += 1;
        let mut re = String::new();
        loop {
            match self.peek() {
                None => return Err(err("unterminated regex", start)),
                Some('/') => {
                    self.i += 1;
                    break;
                }
                Some('\\') if self.peek_at(1) == Some('/') => {
                    re.push('/');
                    self.i += 2;
                }
                Some('\\') => {
                    re.push('\\');
                    self.i += 1;
                    if let Some(ch) = self.peek() {
                        re.push(ch);
                        self.i += 1;
                    }
                }
                Some(ch) => {
                    re.push(ch);
                    self.i += 1;
                }
            }
        }
        let mut flags = String::new();
        while let Some(ch) = self.peek().filter(char::is_ascii_alphabetic) {
            if !matches!(ch, 'i' | 'm' | 's' | 'x') {
                return Err(unsupported(
                    format!("regex flag '{ch}' is not supported"),
                    self.i,
                ));
            }
            if !flags.contains(ch) {
                flags.push(ch);
            }
            self.i += 1;
        }
        if flags.is_empty() {
            Ok(re)
        } else {
            Ok(format!("(?{flags}){re}"))
        }
    }
}
