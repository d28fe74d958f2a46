//! Compile any path and query a fixed document under a node budget; must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_jsonpath::fuzz::query_one(data));
