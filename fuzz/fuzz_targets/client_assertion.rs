//! Client assertions (private_key_jwt / client_secret_jwt), request objects (RFC 9101,
//! unsigned ones allowed) against a fixed key set, and DPoP proofs (RFC 9449, with the key
//! of their own header) — all JWSs a client signs; and the client certificates and
//! distinguished names of mutual TLS.
#![no_main]
use clavis_core::assertion::{ClientAssertion, ClientJws};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Client certificates (mutual TLS) arrive as bytes, from a handshake or a proxy's header.
    let cert = clavis_core::certificate::ClientCertificate { der: data.to_vec(), intermediates: vec![] };
    let _ = cert.names();
    let _ = cert.chains_to(&[data.to_vec()], 1_700_000_000);
    let Ok(token) = std::str::from_utf8(data) else { return };
    let _ = clavis_core::certificate::parse_dn(token);
    if let Ok(a) = ClientAssertion::parse(token) {
        let _ = a.claims.audiences();
        let jwks = serde_json::json!({"keys": [
            {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
        ]});
        let _ = a.verify_with_jwks(&jwks);
        let _ = a.verify_with_secret(b"secret");
    }
    if let Ok(jws) = ClientJws::parse(token, 32 * 1024, true) {
        let _ = jws.claims::<serde_json::Map<String, serde_json::Value>>();
        let _ = jws.verify_with_jwks(&serde_json::json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}));
    }
    let target = clavis_core::dpop::ProofTarget { method: "POST", url: "https://as.example/token", access_token: Some("tok") };
    let _ = clavis_core::dpop::check_proof(token, &target);
});
