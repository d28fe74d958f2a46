//! Parse and render under tight limits; rendering must never panic, hang or exceed the limits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_vtl::fuzz::render_one(data));
