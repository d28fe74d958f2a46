//! Runtime values and their Java-like rendering.

use indexmap::IndexMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// A host object (API Gateway's `$input`, `$util`, `$context`, ...).
pub trait Object: Send + Sync + std::fmt::Debug {
    /// Property access `$obj.name`; `None` means "no such property" (null).
    fn get(&self, name: &str) -> Option<Value>;
    /// Method call `$obj.method(args)`; `Ok(None)` is a null result,
    /// `Err` aborts rendering with [`crate::RenderErrorKind::Method`].
    fn call(&self, method: &str, args: &[Value]) -> Result<Option<Value>, String>;
    /// How `$obj` renders.
    fn render(&self) -> String;
}

/// A template value.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// Java `null`.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (Java `Integer`/`Long`).
    Int(i64),
    /// A floating point number (Java `Double`).
    Float(f64),
    /// A string.
    String(String),
    /// A list (Java `ArrayList`): renders as `[a, b]`.
    List(Vec<Value>),
    /// A list parsed from JSON (json-smart `JSONArray`, what API Gateway's `$input.path` and
    /// `$util.parseJson` return): behaves like [`Value::List`] but renders as compact JSON.
    JsonList(Vec<Value>),
    /// An insertion-ordered map (Java `LinkedHashMap`).
    Map(IndexMap<String, Value>),
    /// A map of API Gateway's `$context` (`identity`, `requestOverride`, `requestOverride.header`,
    /// …): behaves like [`Value::Map`] — properties, `get`, `keySet`, `put`, assignment — but
    /// prints as nothing, as recorded on AWS (`"$context.get('identity')"` renders `""`).
    QuietMap(IndexMap<String, Value>),
    /// A host object.
    Object(Arc<dyn Object>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(a) | Value::JsonList(a), Value::List(b) | Value::JsonList(b)) => a == b,
            (Value::Map(a) | Value::QuietMap(a), Value::Map(b) | Value::QuietMap(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x == y,
                _ => false,
            },
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(a) => Value::List(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

impl Value {
    /// From JSON, with every object below the top as a [`Value::QuietMap`] (how API Gateway's
    /// `$context` holds its nested maps); the top object is a [`Value::Map`].
    pub fn from_json_quiet_nested(v: serde_json::Value) -> Self {
        fn quiet(v: serde_json::Value) -> Value {
            match v {
                serde_json::Value::Object(o) => {
                    Value::QuietMap(o.into_iter().map(|(k, v)| (k, quiet(v))).collect())
                }
                other => Value::from(other),
            }
        }
        match v {
            serde_json::Value::Object(o) => {
                Value::Map(o.into_iter().map(|(k, v)| (k, quiet(v))).collect())
            }
            other => Value::from(other),
        }
    }

    /// From JSON the way API Gateway's `$input.path` / `$util.parseJson` hand it to templates:
    /// objects are maps (Java-style printing), arrays are [`Value::JsonList`]s.
    pub fn from_json_smart(v: serde_json::Value) -> Self {
        match v {
            serde_json::Value::Array(a) => {
                Value::JsonList(a.into_iter().map(Value::from_json_smart).collect())
            }
            serde_json::Value::Object(o) => Value::Map(
                o.into_iter()
                    .map(|(k, v)| (k, Value::from_json_smart(v)))
                    .collect(),
            ),
            other => Value::from(other),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl Value {
    /// Velocity 1.7 truthiness: only `null` and `false` are false.
    pub fn is_truthy(&self) -> bool {
        !matches!(self, Value::Null | Value::Bool(false))
    }

    /// `true` for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.is_finite() => Some(*f as i64),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// Renders like Java's `toString()` (null renders as `null`).
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_into(&mut s, usize::MAX);
        s
    }

    /// Renders into `out`; stops early (returns `false`) when `out` exceeds `cap` bytes.
    pub(crate) fn render_into(&self, out: &mut String, cap: usize) -> bool {
        if out.len() > cap {
            return false;
        }
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&java_double(*f)),
            Value::String(s) => out.push_str(s),
            Value::List(l) => {
                out.push('[');
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if !v.render_into(out, cap) {
                        return false;
                    }
                }
                out.push(']');
            }
            Value::Map(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(k);
                    out.push('=');
                    if !v.render_into(out, cap) {
                        return false;
                    }
                }
                out.push('}');
            }
            Value::JsonList(_) => return json_into(self, out, cap),
            Value::QuietMap(_) => {}
            Value::Object(o) => out.push_str(&o.render()),
        }
        out.len() <= cap
    }

    /// Approximate memory size (16 per node + string bytes) and nesting depth,
    /// stopping once `budget` is exceeded.
    pub(crate) fn measure(&self, budget: usize) -> (usize, usize) {
        fn go(v: &Value, budget: usize, acc: &mut usize, depth: usize, max_depth: &mut usize) {
            if *acc > budget {
                return;
            }
            *acc += 16;
            if depth > *max_depth {
                *max_depth = depth;
            }
            match v {
                Value::String(s) => *acc += s.len(),
                Value::List(l) | Value::JsonList(l) => {
                    for x in l {
                        go(x, budget, acc, depth + 1, max_depth);
                    }
                }
                Value::Map(m) | Value::QuietMap(m) => {
                    for (k, x) in m {
                        *acc += k.len();
                        go(x, budget, acc, depth + 1, max_depth);
                    }
                }
                _ => {}
            }
        }
        let mut acc = 0;
        let mut depth = 0;
        go(self, budget, &mut acc, 0, &mut depth);
        (acc, depth)
    }
}

/// Compact JSON, as json-smart's `toJSONString` writes it (what a `JSONArray` prints).
fn json_into(v: &Value, out: &mut String, cap: usize) -> bool {
    if out.len() > cap {
        return false;
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&java_double(*f)),
        Value::String(s) => {
            out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()))
        }
        Value::List(l) | Value::JsonList(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !json_into(x, out, cap) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_else(|_| "\"\"".into()));
                out.push(':');
                if !json_into(x, out, cap) {
                    return false;
                }
            }
            out.push('}');
        }
        Value::QuietMap(_) => out.push_str("\"\""),
        Value::Object(o) => {
            out.push_str(&serde_json::to_string(&o.render()).unwrap_or_else(|_| "\"\"".into()))
        }
    }
    out.len() <= cap
}

/// Java `Double.toString` approximation.
pub(crate) fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = f.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{f}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
        if mant.contains('.') {
            format!("{mant}E{exp}")
        } else {
            format!("{mant}.0E{exp}")
        }
    }
}
