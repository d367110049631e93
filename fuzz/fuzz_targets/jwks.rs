//! JWK Set validation of client registrations.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = clavis_core::client::check_jwks(text);
    }
});
