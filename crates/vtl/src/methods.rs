//! Java-like methods on built-in values (`String`, `List`, `Map`, numbers).

use crate::value::Object;
use crate::value::Value;
use fancy_regex::{Regex, RegexBuilder};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::sync::Arc;

/// Backtracking budget for fancy-regex (per match).
const BACKTRACK_LIMIT: usize = 100_000;
/// Compiled-size limit for regexes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Why a method call produced no value.
#[derive(Debug)]
pub(crate) enum CallError {
    /// No such method: the reference renders literally, like Velocity.
    NoMethod,
    /// The method "threw".
    Failed(String),
    /// The result would exceed the size cap (`Limits::max_output_bytes`).
    TooLarge,
    /// The render compiled [`MAX_REGEXES`] distinct regexes already.
    TooManyRegexes,
}

impl From<String> for CallError {
    fn from(s: String) -> Self {
        CallError::Failed(s)
    }
}

type R = Result<Value, CallError>;

/// Steps charged for compiling a regex (about as long as 250 plain steps).
const REGEX_COMPILE_STEPS: u64 = 256;
/// Distinct regexes a render may compile (compiling a pathological one takes milliseconds).
pub(crate) const MAX_REGEXES: usize = 64;

/// Regexes compiled during a render (failures included), by pattern.
pub(crate) type Regexes = HashMap<String, Result<Regex, String>>;

/// What a method call may build, what it cost, and the render's compiled regexes.
pub(crate) struct Meter<'r> {
    /// Largest string, or list as `Value::measure` counts it, a call may build.
    pub cap: usize,
    /// Steps the call cost: scanning its receiver (one per 64 bytes or 4 elements) and
    /// compiling regexes.
    pub work: u64,
    /// Compiled regexes, by pattern, so a loop does not compile the same one again.
    pub regexes: &'r mut Regexes,
}

impl Meter<'_> {
    /// The compiled `pat`, from the cache or compiled (and charged) now.
    fn regex(&mut self, pat: &str) -> Result<&Regex, CallError> {
        if !self.regexes.contains_key(pat) {
            if self.regexes.len() >= MAX_REGEXES {
                return Err(CallError::TooManyRegexes);
            }
            self.work += REGEX_COMPILE_STEPS + pat.len() as u64 / 4;
            self.regexes.insert(pat.to_string(), compile(pat));
        }
        match self.regexes.get(pat) {
            Some(Ok(re)) => Ok(re),
            Some(Err(e)) => Err(CallError::Failed(e.clone())),
            None => Err(CallError::Failed(format!("regex cache lost {pat:?}"))),
        }
    }
}

/// Steps charged for a method call on `recv`: most methods scan or copy it.
fn scan_cost(recv: &Value) -> u64 {
    match recv {
        Value::String(s) => s.len() as u64 / 64,
        Value::List(l) | Value::JsonList(l) => l.len() as u64 / 4,
        Value::Map(m) | Value::QuietMap(m) => m.len() as u64 / 4,
        _ => 0,
    }
}

fn compile(pat: &str) -> Result<Regex, String> {
    RegexBuilder::new(pat)
        .backtrack_limit(BACKTRACK_LIMIT)
        .delegate_size_limit(REGEX_SIZE_LIMIT)
        .delegate_dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("invalid regex {pat:?}: {e}"))
}

fn str_arg(args: &[Value], i: usize, method: &str) -> Result<String, String> {
    match args.get(i) {
        Some(Value::Null) | None => Err(format!("{method}: missing argument {}", i + 1)),
        Some(v) => Ok(v.render()),
    }
}

fn int_arg(args: &[Value], i: usize, method: &str) -> Result<i64, String> {
    args.get(i)
        .and_then(Value::as_int)
        .ok_or_else(|| format!("{method}: argument {} must be a number", i + 1))
}

fn arity(args: &[Value], n: usize, method: &str) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "{method}: expected {n} argument(s), got {}",
            args.len()
        ))
    }
}

/// Java's `String.indexOf` in char units.
fn char_index_of(hay: &str, needle: &str, last: bool) -> i64 {
    let found = if last {
        hay.rfind(needle)
    } else {
        hay.find(needle)
    };
    match found {
        Some(b) => hay[..b].chars().count() as i64,
        None => -1,
    }
}

/// Expands a Java replacement string (`$1`, `${name}`, `\$`).
fn expand(caps: &fancy_regex::Captures<'_>, repl: &str, out: &mut String) -> Result<(), String> {
    let chars: Vec<char> = repl.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                i += 1;
                match chars.get(i) {
                    Some(c) => out.push(*c),
                    None => return Err("character to be escaped is missing".into()),
                }
                i += 1;
            }
            '$' => {
                i += 1;
                if chars.get(i) == Some(&'{') {
                    let start = i + 1;
                    let mut j = start;
                    while j < chars.len() && chars[j] != '}' {
                        j += 1;
                    }
                    if j >= chars.len() {
                        return Err("named capturing group is missing trailing '}'".into());
                    }
                    let name: String = chars[start..j].iter().collect();
                    match caps.name(&name) {
                        Some(m) => out.push_str(m.as_str()),
                        None => return Err(format!("no group with name {{{name}}}")),
                    }
                    i = j + 1;
                } else {
                    let Some(first) = chars.get(i).and_then(|c| c.to_digit(10)) else {
                        return Err("illegal group reference".into());
                    };
                    let mut g = first as usize;
                    if g >= caps.len() {
                        return Err(format!("no group {g}"));
                    }
                    i += 1;
                    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                        let ng = g * 10 + d as usize;
                        if ng >= caps.len() {
                            break;
                        }
                        g = ng;
                        i += 1;
                    }
                    if let Some(m) = caps.get(g) {
                        out.push_str(m.as_str());
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(())
}

fn regex_replace(s: &str, re: &Regex, repl: &str, all: bool, cap: usize) -> R {
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(s) {
        let caps = caps.map_err(|e| e.to_string())?;
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&s[last..m.start()]);
        expand(&caps, repl, &mut out)?;
        if out.len() > cap {
            return Err(CallError::TooLarge);
        }
        last = m.end();
        if !all {
            break;
        }
    }
    out.push_str(&s[last..]);
    if out.len() > cap {
        return Err(CallError::TooLarge);
    }
    Ok(Value::String(out))
}

/// Java's `String.split`. Each part is charged like a list element of `Value::measure` (16
/// bytes plus its length) against `cap`.
fn regex_split(s: &str, re: &Regex, limit: i64, cap: usize) -> R {
    if s.is_empty() {
        return Ok(Value::List(vec![Value::String(String::new())]));
    }
    let mut parts: Vec<String> = Vec::new();
    let mut last = 0;
    for m in re.find_iter(s) {
        let m = m.map_err(|e| e.to_string())?;
        if limit > 0 && parts.len() as i64 >= limit - 1 {
            break;
        }
        if m.end() == 0 {
            // Java: a zero-width match at the beginning never yields a leading empty string.
            continue;
        }
        if m.start() == m.end() && m.start() >= s.len() {
            break;
        }
        parts.push(s[last..m.start()].to_string());
        last = m.end();
        if parts.len().saturating_mul(16).saturating_add(last) > cap {
            return Err(CallError::TooLarge);
        }
    }
    parts.push(s[last..].to_string());
    if limit == 0 {
        while parts.last().is_some_and(String::is_empty) {
            parts.pop();
        }
    }
    Ok(Value::List(parts.into_iter().map(Value::String).collect()))
}

fn values_equal(a: &Value, b: &Value) -> bool {
    crate::eval::values_eq(a, b)
}

/// Non-mutating method call. Returns `Value::Null` for a null result; a string or list the call
/// would build beyond `cap` bytes (as `Value::measure` counts them) is refused with
/// [`CallError::TooLarge`] before it is built.
pub(crate) fn call(recv: &Value, name: &str, args: &[Value], m: &mut Meter<'_>) -> R {
    m.work += scan_cost(recv);
    if let Value::Object(o) = recv {
        return match o.call(name, args)? {
            Some(v) => Ok(v),
            None if name == "toString" && args.is_empty() => Ok(Value::String(o.render())),
            None => Ok(Value::Null),
        };
    }
    // Methods every value has.
    match (name, args.len()) {
        ("toString", 0) => return Ok(Value::String(recv.render())),
        ("equals", 1) => return Ok(Value::Bool(values_equal(recv, &args[0]))),
        ("hashCode", 0) => {
            let mut h: i32 = 0;
            for u in recv.render().encode_utf16() {
                h = h.wrapping_mul(31).wrapping_add(i32::from(u));
            }
            return Ok(Value::Int(i64::from(h)));
        }
        _ => {}
    }
    match recv {
        Value::String(s) => string_method(s, name, args, m),
        Value::List(l) | Value::JsonList(l) => list_method(l, name, args),
        Value::Map(m) | Value::QuietMap(m) => map_method(m, name, args),
        Value::Int(_) | Value::Float(_) => number_method(recv, name, args),
        Value::Bool(b) => match name {
            "booleanValue" => Ok(Value::Bool(*b)),
            _ => Err(CallError::NoMethod),
        },
        Value::Object(o) => Ok(o.call(name, args)?.unwrap_or(Value::Null)),
        Value::Null => Ok(Value::Null),
    }
}

fn number_method(recv: &Value, name: &str, args: &[Value]) -> R {
    if !matches!(
        name,
        "intValue" | "longValue" | "doubleValue" | "floatValue"
    ) {
        return Err(CallError::NoMethod);
    }
    arity(args, 0, name)?;
    let f = recv.as_f64().unwrap_or(0.0);
    match name {
        "intValue" | "longValue" => Ok(Value::Int(match recv {
            Value::Int(i) => *i,
            _ => f as i64,
        })),
        "doubleValue" | "floatValue" => Ok(Value::Float(f)),
        _ => Err(CallError::NoMethod),
    }
}

fn string_method(s: &str, name: &str, args: &[Value], m: &mut Meter<'_>) -> R {
    let cap = m.cap;
    let len = s.chars().count() as i64;
    let v = match name {
        "length" => {
            arity(args, 0, name)?;
            Value::Int(len)
        }
        "isEmpty" => Value::Bool(s.is_empty()),
        "substring" => {
            let a = int_arg(args, 0, name)?;
            let b = if args.len() > 1 {
                int_arg(args, 1, name)?
            } else {
                len
            };
            if a < 0 || b > len || a > b {
                return Err(
                    format!("String index out of range: begin {a}, end {b}, length {len}").into(),
                );
            }
            Value::String(s.chars().skip(a as usize).take((b - a) as usize).collect())
        }
        "charAt" => {
            let i = int_arg(args, 0, name)?;
            match usize::try_from(i).ok().and_then(|i| s.chars().nth(i)) {
                Some(c) => Value::String(c.to_string()),
                None => return Err(format!("String index out of range: {i}").into()),
            }
        }
        "indexOf" => Value::Int(char_index_of(s, &str_arg(args, 0, name)?, false)),
        "lastIndexOf" => Value::Int(char_index_of(s, &str_arg(args, 0, name)?, true)),
        "contains" => Value::Bool(s.contains(str_arg(args, 0, name)?.as_str())),
        "startsWith" => Value::Bool(s.starts_with(str_arg(args, 0, name)?.as_str())),
        "endsWith" => Value::Bool(s.ends_with(str_arg(args, 0, name)?.as_str())),
        "equalsIgnoreCase" => Value::Bool(match args.first() {
            Some(Value::Null) | None => false,
            Some(v) => v.render().to_lowercase() == s.to_lowercase(),
        }),
        "concat" => {
            let t = str_arg(args, 0, name)?;
            if s.len().saturating_add(t.len()) > cap {
                return Err(CallError::TooLarge);
            }
            Value::String(format!("{s}{t}"))
        }
        "replace" => {
            let a = str_arg(args, 0, name)?;
            let b = str_arg(args, 1, name)?;
            // Size the result before building it: `$s.replace("a", $s)` is quadratic.
            let hits = if a.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(a.as_str()).count()
            };
            let len = (s.len().saturating_sub(hits * a.len()))
                .saturating_add(hits.saturating_mul(b.len()));
            if len > cap {
                return Err(CallError::TooLarge);
            }
            Value::String(s.replace(&a, &b))
        }
        "replaceAll" | "replaceFirst" => {
            let p = str_arg(args, 0, name)?;
            let r = str_arg(args, 1, name)?;
            return regex_replace(s, m.regex(&p)?, &r, name == "replaceAll", cap);
        }
        "matches" => {
            let p = str_arg(args, 0, name)?;
            let re = m.regex(&format!(r"\A(?:{p})\z"))?;
            Value::Bool(re.is_match(s).map_err(|e| e.to_string())?)
        }
        "split" => {
            let p = str_arg(args, 0, name)?;
            let limit = if args.len() > 1 {
                int_arg(args, 1, name)?
            } else {
                0
            };
            return regex_split(s, m.regex(&p)?, limit, cap);
        }
        "toLowerCase" => Value::String(s.to_lowercase()),
        "toUpperCase" => Value::String(s.to_uppercase()),
        "trim" => Value::String(s.trim_matches(|c: char| c <= ' ').to_string()),
        "compareTo" => {
            let o = str_arg(args, 0, name)?;
            Value::Int(match s.cmp(o.as_str()) {
                std::cmp::Ordering::Less => -1,
                std::cmp::Ordering::Equal => 0,
                std::cmp::Ordering::Greater => 1,
            })
        }
        "getBytes" => {
            if s.len().saturating_mul(16) > cap {
                return Err(CallError::TooLarge);
            }
            Value::List(s.bytes().map(|b| Value::Int(i64::from(b as i8))).collect())
        }
        _ => return Err(CallError::NoMethod),
    };
    Ok(v)
}

fn list_method(l: &[Value], name: &str, args: &[Value]) -> R {
    let v = match name {
        "size" => Value::Int(l.len() as i64),
        "isEmpty" => Value::Bool(l.is_empty()),
        "get" => {
            let i = int_arg(args, 0, name)?;
            match usize::try_from(i).ok().and_then(|i| l.get(i)) {
                Some(v) => v.clone(),
                None => {
                    return Err(format!("Index {i} out of bounds for length {}", l.len()).into());
                }
            }
        }
        "contains" => {
            let x = args.first().cloned().unwrap_or_default();
            Value::Bool(l.iter().any(|e| values_equal(e, &x)))
        }
        "indexOf" | "lastIndexOf" => {
            let x = args.first().cloned().unwrap_or_default();
            let pos = if name == "indexOf" {
                l.iter().position(|e| values_equal(e, &x))
            } else {
                l.iter().rposition(|e| values_equal(e, &x))
            };
            Value::Int(pos.map_or(-1, |p| p as i64))
        }
        _ => return Err(CallError::NoMethod),
    };
    Ok(v)
}

/// A `Map.Entry` as returned by `entrySet()`; renders as `key=value`.
#[derive(Debug)]
struct Entry {
    key: String,
    value: Value,
}

impl Object for Entry {
    fn get(&self, name: &str) -> Option<Value> {
        match name {
            "key" => Some(Value::String(self.key.clone())),
            "value" => Some(self.value.clone()),
            _ => None,
        }
    }

    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, String> {
        Ok(match (method, args) {
            ("getKey", []) => Some(Value::String(self.key.clone())),
            ("getValue", []) => Some(self.value.clone()),
            _ => None,
        })
    }

    fn render(&self) -> String {
        format!("{}={}", self.key, self.value.render())
    }
}

fn entry(k: &str, v: &Value) -> Value {
    Value::Object(Arc::new(Entry {
        key: k.to_string(),
        value: v.clone(),
    }))
}

fn map_method(m: &IndexMap<String, Value>, name: &str, args: &[Value]) -> R {
    let v = match name {
        "size" => Value::Int(m.len() as i64),
        "isEmpty" => Value::Bool(m.is_empty()),
        "get" => m.get(&str_arg(args, 0, name)?).cloned().unwrap_or_default(),
        "containsKey" => Value::Bool(m.contains_key(&str_arg(args, 0, name)?)),
        "containsValue" => {
            let x = args.first().cloned().unwrap_or_default();
            Value::Bool(m.values().any(|e| values_equal(e, &x)))
        }
        "keySet" => Value::List(m.keys().cloned().map(Value::String).collect()),
        "values" => Value::List(m.values().cloned().collect()),
        "entrySet" => Value::List(m.iter().map(|(k, v)| entry(k, v)).collect()),
        _ => return Err(CallError::NoMethod),
    };
    Ok(v)
}

/// Names of methods that mutate a list or map in place.
pub(crate) fn is_mutator(name: &str) -> bool {
    matches!(
        name,
        "add" | "addAll" | "put" | "putAll" | "remove" | "clear" | "set"
    )
}

/// Mutating method call; `None` when `recv` has no such mutator.
pub(crate) fn call_mut(
    recv: &mut Value,
    name: &str,
    args: &[Value],
) -> Option<Result<Value, String>> {
    match recv {
        Value::List(l) | Value::JsonList(l) => Some(match (name, args) {
            ("add", [x]) => {
                l.push(x.clone());
                Ok(Value::Bool(true))
            }
            ("add", [i, x]) => match i.as_int().and_then(|i| usize::try_from(i).ok()) {
                Some(i) if i <= l.len() => {
                    l.insert(i, x.clone());
                    Ok(Value::Null)
                }
                _ => Err("add: index out of bounds".into()),
            },
            ("addAll", [Value::List(xs) | Value::JsonList(xs)]) => {
                l.extend(xs.iter().cloned());
                Ok(Value::Bool(!xs.is_empty()))
            }
            ("set", [i, x]) => match i.as_int().and_then(|i| usize::try_from(i).ok()) {
                Some(i) if i < l.len() => Ok(std::mem::replace(&mut l[i], x.clone())),
                _ => Err("set: index out of bounds".into()),
            },
            ("remove", [Value::Int(i)]) => match usize::try_from(*i).ok() {
                Some(i) if i < l.len() => Ok(l.remove(i)),
                _ => Err("remove: index out of bounds".into()),
            },
            ("remove", [x]) => match l.iter().position(|e| values_equal(e, x)) {
                Some(p) => {
                    l.remove(p);
                    Ok(Value::Bool(true))
                }
                None => Ok(Value::Bool(false)),
            },
            ("clear", []) => {
                l.clear();
                Ok(Value::Null)
            }
            _ => return None,
        }),
        Value::Map(m) | Value::QuietMap(m) => Some(match (name, args) {
            ("put", [k, v]) => Ok(m.insert(k.render(), v.clone()).unwrap_or_default()),
            ("putAll", [Value::Map(o) | Value::QuietMap(o)]) => {
                for (k, v) in o {
                    m.insert(k.clone(), v.clone());
                }
                Ok(Value::Null)
            }
            ("remove", [k]) => Ok(m.shift_remove(&k.render()).unwrap_or_default()),
            ("clear", []) => {
                m.clear();
                Ok(Value::Null)
            }
            _ => return None,
        }),
        _ => None,
    }
}
