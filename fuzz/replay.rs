// Shared by every `crates/*/tests/fuzz_corpus.rs` through `include!`: replays one cargo-fuzz seed
// corpus (`fuzz/corpus/<target>`) through the function the fuzz target calls. Not a module of the
// fuzz crate.

/// Every file of `fuzz/corpus/<target>`, sorted; at least 20 of them.
fn corpus(target: &str) -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
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

/// Runs `run` on every corpus file of `target`; a panic names the file that caused it.
fn replay(target: &str, run: fn(&[u8])) {
    let files = corpus(target);
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let r = std::panic::catch_unwind(|| run(&data));
        assert!(r.is_ok(), "{target}: {} panicked", f.display());
    }
    println!("{target}: replayed {} corpus files", files.len());
}
