//! Import any bytes as an OpenAPI document; an API that imports must export, render, parse back
//! and import again with the same resources and methods. Nothing may panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_openapi::fuzz::import_one(data));
