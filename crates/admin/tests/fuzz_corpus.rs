//! Replays the cargo-fuzz seed corpus `fuzz/corpus/sigv4` through the very function the fuzz
//! target calls, so every input that once crashed stays a regression test of the ordinary
//! `cargo test` run. See `fuzz/README.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

#[test]
fn sigv4_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/sigv4");
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
        let r = std::panic::catch_unwind(|| portico_admin::fuzz::verify_one(&data));
        assert!(r.is_ok(), "sigv4: {} panicked", f.display());
    }
    println!("sigv4: replayed {} corpus files", files.len());
}
