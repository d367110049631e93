//! Token request bodies and the Basic authorization header.
#![no_main]
use clavis_http::oauth::token::Form;
use clavis_service::parse_basic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(form) = Form::parse_body(data) {
        let _ = form.get("grant_type");
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_basic(s);
    }
});
