//! Replays the cargo-fuzz seed corpus `fuzz/corpus/sigv4` through the very function the fuzz
//! target calls, so every input that once crashed stays a regression test of the ordinary
//! `cargo test` run. See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

include!("../../../fuzz/replay.rs");

#[test]
fn sigv4_corpus() {
    replay("sigv4", portico_admin::fuzz::verify_one);
}
