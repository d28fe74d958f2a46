//! The body of the cargo-fuzz target `jsonpath` in `fuzz/`, kept here so that
//! `tests/fuzz_corpus.rs` replays every seed corpus file through exactly the same code on each
//! `cargo test`. Not a stable API.
//!
//! A crash is a panic (or an abort: stack overflow, out of memory, a libFuzzer timeout).
//! Compile errors and budget errors are fine.

// A fuzz harness reports a broken invariant by panicking: that is what libFuzzer catches.
#![allow(clippy::panic)]

use crate::{Budget, ErrorKind, compile, query_with_budget};
use serde_json::{Value, json};

/// The node budget the target queries under.
pub const MAX_NODES: usize = 2_000;

/// The fixed document every path is evaluated against.
pub fn document() -> Value {
    json!({
        "pets": [
            {"id": 1, "type": "dog", "price": 249.99, "name": "Rex", "tags": ["good", "big"]},
            {"id": 2, "type": "cat", "price": 124.99, "name": "Tom"},
            {"id": 3, "type": "fish", "price": 0.99, "name": "Nemo", "nul": null}
        ],
        "my-key": {"sub-key": 42},
        "with space": "s",
        "it's": "quote",
        "str": "héllo",
        "obj": {"a": 1, "b": 2, "c": {"a": [1, 2, {"a": 3}]}},
        "nul": null,
        "t": true,
        "nums": [3, 1, 2, -0.5, 1e300],
        "empty": [],
        "eo": {},
        "owner": {"name": "Ann", "tags": ["x", "y"]},
        "deep": [[[[[[[[{"name": "leaf"}]]]]]]]]
    })
}

/// `jsonpath`: compile any UTF-8 string as a path; if it compiles, query [`document`] under a
/// [`Budget`] of [`MAX_NODES`]. The result must fit the budget.
pub fn query_one(data: &[u8]) {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = compile(path) else {
        return;
    };
    let _ = p.is_definite();
    let _ = p.rfc9535();
    let doc = document();
    let budget = Budget {
        max_nodes: MAX_NODES,
    };
    match query_with_budget(&p, &doc, &budget) {
        Ok(Some(v)) => {
            if count(&v) > MAX_NODES + 1 {
                panic!("result of {} nodes exceeds the budget", count(&v));
            }
        }
        Ok(None) => {}
        Err(e) => {
            if e.kind != ErrorKind::Budget {
                panic!("evaluation failed with a non-budget error: {e}");
            }
        }
    }
}

fn count(v: &Value) -> usize {
    let mut n = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::Array(a) => stack.extend(a),
            Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    n
}
