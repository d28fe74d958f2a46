//! Replays the cargo-fuzz seed corpus `fuzz/corpus/router` through the very function the fuzz
//! target calls, so every input that once crashed stays a regression test of the ordinary
//! `cargo test` run. See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

#[test]
fn router_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/router");
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
    for f in &files {
        let data = std::fs::read(f).unwrap();
        // A panic names the file that caused it.
        let r = std::panic::catch_unwind(|| portico_router::fuzz::find_one(&data));
        assert!(r.is_ok(), "router: {} panicked", f.display());
    }
    println!("router: replayed {} corpus files", files.len());
}
