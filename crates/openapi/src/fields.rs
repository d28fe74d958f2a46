//! Typed reads of JSON members that report a diagnostic when a member has the wrong type.
//!
//! Absent members and `null` (YAML `key:` with no value) read as "not given".

use crate::diag::{Diags, JsonPath};
use portico_model::Map;
use serde_json::Value;

/// A JSON object.
pub(crate) type Obj = serde_json::Map<String, Value>;

/// "a string", "an object", … for messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `v` as an object, or an error at `path`.
pub(crate) fn object<'a>(
    d: &mut Diags,
    v: &'a Value,
    path: &JsonPath,
    what: &str,
) -> Option<&'a Obj> {
    match v {
        Value::Object(o) => Some(o),
        other => {
            d.error(
                path,
                format!("{what} must be an object, found {}", kind(other)),
            );
            None
        }
    }
}

/// The member `key` of `obj`, unless absent or `null`.
pub(crate) fn member<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// An optional string member.
pub(crate) fn opt_str<'a>(
    d: &mut Diags,
    obj: &'a Obj,
    key: &str,
    path: &JsonPath,
) -> Option<&'a str> {
    match member(obj, key)? {
        Value::String(s) => Some(s),
        other => {
            d.error(
                &path.key(key),
                format!("must be a string, found {}", kind(other)),
            );
            None
        }
    }
}

/// An optional scalar member read as text: strings as they are, numbers and booleans as written
/// (YAML turns `version: 1.0` or `statusCode: 200` into numbers).
pub(crate) fn opt_text(d: &mut Diags, obj: &Obj, key: &str, path: &JsonPath) -> Option<String> {
    match member(obj, key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => {
            d.error(
                &path.key(key),
                format!("must be a string, found {}", kind(other)),
            );
            None
        }
    }
}

/// An optional boolean member.
pub(crate) fn opt_bool(d: &mut Diags, obj: &Obj, key: &str, path: &JsonPath) -> Option<bool> {
    match member(obj, key)? {
        Value::Bool(b) => Some(*b),
        other => {
            d.error(
                &path.key(key),
                format!("must be a boolean, found {}", kind(other)),
            );
            None
        }
    }
}

/// An optional integer member.
pub(crate) fn opt_i64(d: &mut Diags, obj: &Obj, key: &str, path: &JsonPath) -> Option<i64> {
    let v = member(obj, key)?;
    match v.as_i64() {
        Some(n) => Some(n),
        None => {
            let found = match v {
                Value::Number(n) => format!("{n}"),
                other => kind(other).to_owned(),
            };
            d.error(&path.key(key), format!("must be an integer, found {found}"));
            None
        }
    }
}

/// An optional object member whose values are all strings.
pub(crate) fn opt_string_map(d: &mut Diags, obj: &Obj, key: &str, path: &JsonPath) -> Map<String> {
    let mut out = Map::new();
    let Some(v) = member(obj, key) else {
        return out;
    };
    let here = path.key(key);
    let Some(map) = object(d, v, &here, key) else {
        return out;
    };
    for (k, v) in map {
        match v {
            Value::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            other => d.error(
                &here.key(k),
                format!("must be a string, found {}", kind(other)),
            ),
        }
    }
    out
}

/// An optional array member whose items are all strings.
pub(crate) fn opt_string_list(d: &mut Diags, obj: &Obj, key: &str, path: &JsonPath) -> Vec<String> {
    let mut out = Vec::new();
    let Some(v) = member(obj, key) else {
        return out;
    };
    let here = path.key(key);
    let Value::Array(items) = v else {
        d.error(
            &here,
            format!("must be an array of strings, found {}", kind(v)),
        );
        return out;
    };
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => out.push(s.clone()),
            other => d.error(
                &here.index(i),
                format!("must be a string, found {}", kind(other)),
            ),
        }
    }
    out
}
