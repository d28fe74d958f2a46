//! Verify any request's SigV4 `Authorization` (never panics), and a request signed like the AWS
//! SDK signs it (must verify, and fail once the body changes).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portico_admin::fuzz::verify_one(data));
