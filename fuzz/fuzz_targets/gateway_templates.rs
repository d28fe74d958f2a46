//! The gateway's deploy-time parsers (mapping expressions, model schemas and validation, MOCK
//! status codes, gateway response templates, mapping templates, binary media types); the first
//! byte picks one. Nothing may panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_gateway::fuzz::templates_one(data));
