//! `METHOD PATH` looked up in fixed routers and added as a resource (answers must match a
//! brute-force reference), then `HOST PATH` resolved to an API and stage and rendered through
//! integration URI templates; nothing may panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    portico_router::fuzz::find_one(data);
    portico_gateway::fuzz::route_one(data);
});
