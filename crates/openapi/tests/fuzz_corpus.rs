//! Replays the cargo-fuzz seed corpus `fuzz/corpus/openapi_import` through the very function the fuzz
//! target calls, so every input that once crashed stays a regression test of the ordinary
//! `cargo test` run. See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

#[test]
fn openapi_import_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/openapi_import");
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
        let r = std::panic::catch_unwind(|| portico_openapi::fuzz::import_one(&data));
        assert!(r.is_ok(), "openapi_import: {} panicked", f.display());
    }
    println!("openapi_import: replayed {} corpus files", files.len());
}
