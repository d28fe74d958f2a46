//! The bodies of the cargo-fuzz targets in `fuzz/` (`vtl_parse`, `vtl_render`), kept here so
//! that `tests/fuzz_corpus.rs` replays every seed corpus file through exactly the same code on
//! each `cargo test`. Not a stable API.
//!
//! A crash is a panic (or an abort: stack overflow, out of memory, a libFuzzer timeout). Errors
//! returned by [`parse`] and [`Template::render`](crate::Template::render) are fine: bad
//! templates must be refused, never crash.

// A fuzz harness reports a broken invariant by panicking: that is what libFuzzer catches.
#![allow(clippy::panic)]

use crate::{Context, Limits, RenderErrorKind, Value, parse, parse_with_limits};

/// The tight limits the render target runs under.
pub fn limits() -> Limits {
    Limits {
        max_template_bytes: 64 * 1024,
        max_loop_iterations: 200,
        max_output_bytes: 64 * 1024,
        max_depth: 16,
        max_steps: 50_000,
        max_duration: Some(std::time::Duration::from_secs(1)),
    }
}

/// The context the render target runs with: a map, a list, strings and numbers.
pub fn context() -> Context {
    let mut ctx = Context::new();
    ctx.insert("name", Value::from("World"));
    ctx.insert("empty", Value::from(""));
    ctx.insert("num", Value::Int(42));
    ctx.insert("neg", Value::Int(-7));
    ctx.insert("big", Value::Int(i64::MAX));
    ctx.insert("pi", Value::Float(3.25));
    ctx.insert("yes", Value::Bool(true));
    ctx.insert(
        "list",
        Value::from(serde_json::json!(["a", "b", "c", 1, 2.5, null, true])),
    );
    ctx.insert(
        "map",
        Value::from(serde_json::json!({
            "k1": "v1",
            "k2": 2,
            "nested": {"deep": [1, {"x": "y"}]},
            "items": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]
        })),
    );
    ctx
}

/// `vtl_parse`: any UTF-8 string either parses or is refused with an error.
pub fn parse_one(data: &[u8]) {
    if let Ok(src) = std::str::from_utf8(data) {
        let _ = parse(src);
    }
}

/// `vtl_render`: parse, then render with [`context`] under [`limits`]. Rendering may fail, but
/// never beyond the limits: the output fits `max_output_bytes`, and a failure is one of the
/// limit kinds or a method error.
pub fn render_one(data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let limits = limits();
    let Ok(template) = parse_with_limits(src, &limits) else {
        return;
    };
    let mut ctx = context();
    match template.render(&mut ctx, &limits) {
        Ok(out) => {
            if out.len() > limits.max_output_bytes {
                panic!(
                    "output of {} bytes exceeds the limit of {}",
                    out.len(),
                    limits.max_output_bytes
                );
            }
        }
        Err(e) => {
            if e.kind == RenderErrorKind::TemplateTooLarge {
                panic!("a template that parsed under the limits was refused as too large");
            }
        }
    }
}
