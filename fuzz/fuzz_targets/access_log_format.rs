//! Compile an access-log format and render it; it must agree with a reference renderer, and
//! the default JSON format must stay valid JSON whatever the record holds.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_gateway::fuzz::access_log_one(data));
