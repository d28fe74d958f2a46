//! Replays the cargo-fuzz seed corpus `fuzz/corpus/openapi_import` through the very function the fuzz
//! target calls, so every input that once crashed stays a regression test of the ordinary
//! `cargo test` run. See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

include!("../../../fuzz/replay.rs");

#[test]
fn openapi_import_corpus() {
    replay("openapi_import", portico_openapi::fuzz::import_one);
}
