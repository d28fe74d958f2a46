//! G16 without the network: `cargo audit` needs the RustSec advisory database, which lives on
//! GitHub and cannot be fetched from the machines the tests run on. This test holds the lock file
//! to the fixed versions of the advisories that concern crates Portico uses (or could pull in
//! again): a crate below its floor fails the build with the advisory's id. Add a row when an
//! advisory is published; `cargo audit` on a connected machine remains the complete check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

/// (crate, lowest safe version, advisory). A crate not in the lock file passes.
const FLOORS: &[(&str, &str, &str)] = &[
    (
        "h2",
        "0.4.4",
        "RUSTSEC-2024-0332: CONTINUATION frames without limit",
    ),
    (
        "hyper",
        "1.0.0",
        "RUSTSEC-2021-0078/0079 and the 0.14 smuggling fixes",
    ),
    (
        "regex",
        "1.5.5",
        "RUSTSEC-2022-0013: unbounded regex compile time",
    ),
    (
        "ring",
        "0.17.12",
        "RUSTSEC-2025-0009: AES panics with overflow checks",
    ),
    (
        "idna",
        "1.0.0",
        "RUSTSEC-2024-0421: Punycode labels accepted as ASCII",
    ),
    (
        "tokio",
        "1.44.2",
        "RUSTSEC-2025-0023: broadcast channel clones across threads",
    ),
    (
        "tracing-subscriber",
        "0.3.20",
        "RUSTSEC-2025-0055: ANSI escapes from log values",
    ),
    (
        "sqlx",
        "0.8.1",
        "RUSTSEC-2024-0363: binary protocol length truncation",
    ),
    (
        "slab",
        "0.4.11",
        "RUSTSEC-2025-0047: get_disjoint_mut out of bounds",
    ),
    (
        "tungstenite",
        "0.20.1",
        "RUSTSEC-2023-0065: unbounded headers",
    ),
    (
        "rustls",
        "0.23.5",
        "RUSTSEC-2024-0336: close_notify busy loop",
    ),
    (
        "crossbeam-channel",
        "0.5.15",
        "RUSTSEC-2025-0024: double free on drop",
    ),
    (
        "time",
        "0.2.23",
        "RUSTSEC-2020-0071: segfault in localtime_r",
    ),
    (
        "protobuf",
        "3.7.2",
        "RUSTSEC-2024-0437: unbounded recursion",
    ),
];

fn version(v: &str) -> Vec<u64> {
    v.split(['.', '-', '+'])
        .take(3)
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// Every version of every package in `Cargo.lock`.
fn locked() -> BTreeMap<String, Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name = None;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_owned());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            out.entry(n)
                .or_default()
                .push(v.trim_matches('"').to_owned());
        }
    }
    out
}

#[test]
fn no_locked_crate_is_below_a_known_advisory_fix() {
    let lock = locked();
    assert!(
        lock.len() > 100,
        "Cargo.lock not read: {} packages",
        lock.len()
    );
    assert!(lock.contains_key("hyper") && lock.contains_key("h2"));
    let mut below = Vec::new();
    for (name, floor, advisory) in FLOORS {
        for v in lock.get(*name).into_iter().flatten() {
            if version(v) < version(floor) {
                below.push(format!("{name} {v} < {floor} ({advisory})"));
            }
        }
    }
    assert!(below.is_empty(), "crates below an advisory fix: {below:#?}");
}

#[test]
fn versions_compare_numerically() {
    assert!(version("0.4.20") > version("0.4.4"));
    assert!(version("1.13.2") > version("1.5.5"));
    assert!(version("0.17.9") < version("0.17.12"));
    assert!(version("1.0.0-rc.1") < version("1.0.1"));
}
