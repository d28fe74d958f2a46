//! Replays the cargo-fuzz seed corpora of the gateway's parsers (`fuzz/corpus/router`,
//! `fuzz/corpus/access_log_format`, `fuzz/corpus/gateway_templates`) through the very functions
//! the fuzz targets call, so every input that once crashed stays a regression test of the
//! ordinary `cargo test` run. See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

include!("../../../fuzz/replay.rs");

/// The addressing and URI-template half of the `router` target.
#[test]
fn router_corpus() {
    replay("router", portico_gateway::fuzz::route_one);
}

#[test]
fn access_log_format_corpus() {
    replay("access_log_format", portico_gateway::fuzz::access_log_one);
}

#[test]
fn gateway_templates_corpus() {
    replay("gateway_templates", portico_gateway::fuzz::templates_one);
}
