//! Redirect URI rules, scopes, durations, tenant ids.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = clavis_core::client::check_redirect_uri(s, false);
    let _ = clavis_core::client::check_redirect_uri(s, true);
    let _ = clavis_core::client::cors_origins(&[s.to_owned()]);
    let _ = clavis_core::scope::parse_scope_param(s);
    let _ = clavis_core::duration::parse_seconds(s);
    let _ = clavis_core::TenantId::parse(s);
});
