//! Replays the cargo-fuzz seed corpora (`fuzz/corpus/vtl_parse`, `fuzz/corpus/vtl_render`)
//! through the very functions the fuzz targets call, so every input that once crashed stays a
//! regression test of the ordinary `cargo test` run. See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

include!("../../../fuzz/replay.rs");

#[test]
fn vtl_parse_corpus() {
    replay("vtl_parse", portico_vtl::fuzz::parse_one);
}

#[test]
fn vtl_render_corpus() {
    replay("vtl_render", portico_vtl::fuzz::render_one);
}
