//! Access-token parsing and verification: any input is refused or parsed, never a panic.
#![no_main]
use clavis_core::jose::{PublicJwk, UnverifiedJwt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    if let Ok(jwt) = UnverifiedJwt::parse(token) {
        let _ = jwt.unverified_claims::<serde_json::Value>();
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": jwt.kid,
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        if let Some(key) = PublicJwk::from_json(&jwk) {
            let _ = jwt.verify::<serde_json::Value>(&key);
        }
    }
});
