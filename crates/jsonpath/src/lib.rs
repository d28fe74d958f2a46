//! JSONPath with Jayway semantics, as API Gateway's `$input.path(..)` / `$input.json(..)` use
//! it, evaluated by the RFC 9535 engine of [`serde_json_path`]. No IO.
//!
//! Jayway syntax that RFC 9535 rejects (dot names with dashes, `["double"]` quotes,
//! `[?(...)]` filters, `=~ /regex/i`, `in`/`nin`, `.length()` and friends) is translated into an
//! RFC 9535 query at [`compile`] time.
//!
//! * A *definite* path (only `.name`, `['name']` and single `[index]` steps) yields the single
//!   value, or `None` when nothing matches.
//! * An *indefinite* path (wildcards, slices, unions, filters, deep scan) yields a JSON array of
//!   every match, possibly empty.
//!
//! ```
//! use serde_json::json;
//!
//! let doc = json!({"pets": [
//!     {"type": "dog", "price": 249.99},
//!     {"type": "cat", "price": 124.99},
//!     {"type": "fish", "price": 0.99}
//! ]});
//! let p = portico_jsonpath::compile("$.pets[0].type")?;
//! assert_eq!(p.query(&doc), Some(json!("dog")));
//! let p = portico_jsonpath::compile("$.pets[?(@.price < 10)].type")?;
//! assert_eq!(p.query(&doc), Some(json!(["fish"])));
//! let p = portico_jsonpath::compile("$.pets.length()")?;
//! assert_eq!(p.query(&doc), Some(json!(3)));
//! # Ok::<(), portico_jsonpath::PathError>(())
//! ```

#[doc(hidden)]
pub mod fuzz;
mod regex_fn;
mod translate;

pub use regex_fn::{MAX_REGEX_COMPILES, MAX_REGEX_LEN};
use serde_json::Value;
use translate::Func;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The path is not valid (Jayway or RFC 9535) syntax.
    Syntax,
    /// Valid Jayway syntax this implementation does not support.
    Unsupported,
    /// Evaluation would exceed the [`Budget`].
    Budget,
}

/// A compile or evaluation error. `position` is a 0-based character offset into the path
/// (0 for budget errors).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at position {position})")]
pub struct PathError {
    pub kind: ErrorKind,
    pub message: String,
    pub position: usize,
}

/// A compiled path: compile once, evaluate many times.
#[derive(Debug, Clone)]
pub struct JsonPath {
    source: String,
    rfc: String,
    inner: serde_json_path::JsonPath,
    definite: bool,
    has_descendant: bool,
    nested_descendant: bool,
    func: Option<Func>,
}

/// Bounds evaluation work.
///
/// For indefinite paths, `max_nodes` bounds the number of document nodes the query may examine
/// (the whole document is counted, iteratively and stopping early); a filter containing a deep
/// scan (`$..[?(@..x)]`) is quadratic and counts `nodes²`. Deep scans additionally refuse
/// documents nested deeper than [`MAX_DESCENDANT_DEPTH`], so evaluation cannot overflow the
/// stack. The result (cloned out of the document) must also fit in `max_nodes` nodes and
/// [`MAX_DESCENDANT_DEPTH`] levels; for a definite path that is the only check. Filter regexes
/// (`=~ /re/`) are compiled once per thread and pattern; a query may compile at most
/// [`MAX_REGEX_COMPILES`] new ones, each at most [`MAX_REGEX_LEN`] bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_nodes: usize,
}

/// Default [`Budget::max_nodes`], used by [`JsonPath::query`].
pub const DEFAULT_MAX_NODES: usize = 1_000_000;

/// Deepest document nesting a deep-scan (`..`) path will walk.
pub const MAX_DESCENDANT_DEPTH: usize = 512;

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_nodes: DEFAULT_MAX_NODES,
        }
    }
}

/// Compile a Jayway-style (or RFC 9535) JSONPath.
pub fn compile(path: &str) -> Result<JsonPath, PathError> {
    let t = translate::translate(path)?;
    let inner = serde_json_path::JsonPath::parse(&t.rfc).map_err(|e| {
        // serde_json_path positions are 1-based byte offsets into the translated query.
        let out_pos = e.position().saturating_sub(1);
        let position = t
            .map
            .iter()
            .take_while(|(o, _)| *o <= out_pos)
            .last()
            .map_or(0, |(_, i)| *i);
        PathError {
            kind: ErrorKind::Syntax,
            message: e.message().to_string(),
            position,
        }
    })?;
    Ok(JsonPath {
        source: path.to_string(),
        rfc: t.rfc,
        inner,
        definite: t.definite,
        has_descendant: t.has_descendant,
        nested_descendant: t.nested_descendant,
        func: t.func,
    })
}

impl JsonPath {
    /// Evaluate with Jayway semantics under the default [`Budget`]; `None` when a definite path
    /// matches nothing, a path function does not apply, or the budget is exceeded.
    pub fn query(&self, doc: &Value) -> Option<Value> {
        query_with_budget(self, doc, &Budget::default())
            .ok()
            .flatten()
    }

    /// Whether the path is definite in Jayway's sense (only names and single indexes).
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// The path as given to [`compile`].
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The RFC 9535 query the path was translated to (without any trailing function).
    pub fn rfc9535(&self) -> &str {
        &self.rfc
    }
}

impl std::fmt::Display for JsonPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.source)
    }
}

fn budget_error(message: String) -> PathError {
    PathError {
        kind: ErrorKind::Budget,
        message,
        position: 0,
    }
}

/// Count nodes (up to `limit + 1`) and the maximum depth, iteratively.
fn measure(doc: &Value, limit: usize) -> (usize, usize) {
    let mut count = 0usize;
    let mut max_depth = 0usize;
    let mut stack: Vec<(&Value, usize)> = vec![(doc, 1)];
    while let Some((v, depth)) = stack.pop() {
        count += 1;
        max_depth = max_depth.max(depth);
        if count > limit {
            break;
        }
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|c| (c, depth + 1))),
            Value::Object(o) => stack.extend(o.values().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    (count, max_depth)
}

/// The result is cloned out of the document: its total size must fit the node budget and its
/// depth must stay within [`MAX_DESCENDANT_DEPTH`] (cloning recurses).
fn check_output(values: &[&Value], budget: &Budget) -> Result<(), PathError> {
    let mut left = budget.max_nodes;
    for v in values {
        let (nodes, depth) = measure(v, left);
        if nodes > left {
            return Err(budget_error(format!(
                "result has more than {} nodes (budget)",
                budget.max_nodes
            )));
        }
        if depth > MAX_DESCENDANT_DEPTH {
            return Err(budget_error(format!(
                "result is nested deeper than {MAX_DESCENDANT_DEPTH} levels"
            )));
        }
        left -= nodes;
    }
    Ok(())
}

/// Evaluate `path` against `doc`, refusing work beyond `budget`.
pub fn query_with_budget(
    path: &JsonPath,
    doc: &Value,
    budget: &Budget,
) -> Result<Option<Value>, PathError> {
    regex_fn::begin();
    let base = query_base(path, doc, budget);
    if let Some(why) = regex_fn::end() {
        return Err(budget_error(why));
    }
    Ok(match (path.func, base?) {
        (None, base) => base,
        (Some(_), None) => None,
        (Some(f), Some(v)) => apply(f, &v),
    })
}

fn query_base(path: &JsonPath, doc: &Value, budget: &Budget) -> Result<Option<Value>, PathError> {
    Ok(if path.definite {
        match path.inner.query(doc).first() {
            Some(v) => {
                check_output(std::slice::from_ref(&v), budget)?;
                Some(v.clone())
            }
            None => None,
        }
    } else {
        let (nodes, depth) = measure(doc, budget.max_nodes);
        if nodes > budget.max_nodes {
            return Err(budget_error(format!(
                "document has more than {} nodes (budget) for an indefinite path",
                budget.max_nodes
            )));
        }
        if path.has_descendant && depth > MAX_DESCENDANT_DEPTH {
            return Err(budget_error(format!(
                "document is nested deeper than {MAX_DESCENDANT_DEPTH} levels for a deep scan"
            )));
        }
        if path.nested_descendant && nodes.saturating_mul(nodes) > budget.max_nodes {
            return Err(budget_error(format!(
                "nested deep scan over {nodes} nodes exceeds the budget of {}",
                budget.max_nodes
            )));
        }
        let all = path.inner.query(doc).all();
        check_output(&all, budget)?;
        Some(Value::Array(all.into_iter().cloned().collect()))
    })
}

fn numbers(v: &Value) -> Option<Vec<f64>> {
    let nums: Vec<f64> = v.as_array()?.iter().filter_map(Value::as_f64).collect();
    (!nums.is_empty()).then_some(nums)
}

fn float(x: f64) -> Option<Value> {
    serde_json::Number::from_f64(x).map(Value::Number)
}

fn apply(f: Func, v: &Value) -> Option<Value> {
    match f {
        Func::Length | Func::Size => match v {
            Value::Array(a) => Some(a.len().into()),
            Value::String(s) => Some(s.chars().count().into()),
            Value::Object(o) => Some(o.len().into()),
            _ => None,
        },
        Func::Keys => v
            .as_object()
            .map(|o| Value::Array(o.keys().cloned().map(Value::String).collect())),
        Func::Min => numbers(v).and_then(|n| float(n.into_iter().fold(f64::INFINITY, f64::min))),
        Func::Max => {
            numbers(v).and_then(|n| float(n.into_iter().fold(f64::NEG_INFINITY, f64::max)))
        }
        Func::Sum => numbers(v).and_then(|n| float(n.into_iter().sum())),
        Func::Avg => numbers(v).and_then(|n| {
            let len = n.len() as f64;
            float(n.into_iter().sum::<f64>() / len)
        }),
        Func::First => v.as_array().and_then(|a| a.first().cloned()),
        Func::Last => v.as_array().and_then(|a| a.last().cloned()),
    }
}

#[cfg(test)]
mod tests;
