//! Any bytes: UTF-8 strings are parsed as templates; parsing must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_vtl::fuzz::parse_one(data));
