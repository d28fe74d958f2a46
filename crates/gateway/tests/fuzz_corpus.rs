//! Replays the cargo-fuzz seed corpora of the gateway's parsers (`fuzz/corpus/router`,
//! `fuzz/corpus/access_log_format`, `fuzz/corpus/gateway_templates`) through the very functions
//! the fuzz targets call, so every input that once crashed stays a regression test of the
//! ordinary `cargo test` run. See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "{}: only {} seed files",
        dir.display(),
        files.len()
    );
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = corpus(target);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        // A panic names the file that caused it.
        let r = std::panic::catch_unwind(|| run(&data));
        assert!(r.is_ok(), "{target}: {} panicked", f.display());
    }
    println!("{target}: replayed {} corpus files", files.len());
}

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
