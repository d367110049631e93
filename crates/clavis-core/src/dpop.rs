//! DPoP proofs (RFC 9449 §4): the checks that need no clock, no store and no secret —
//! the JOSE header (`typ`, an asymmetric `alg`, a public `jwk`), the signature by that
//! key, the claims' presence and shape, `htm`/`htu` against the request and `ath`
//! against the access token. The service adds the rest (the `iat` window, single use of
//! `jti`, server nonces) and decides what the proof's key binds.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use crate::assertion::ClientJws;

/// The algorithms a proof may be signed with (RFC 9449 §4.3 item 5: asymmetric only;
/// `Ed25519` is RFC 9864's name for EdDSA over Ed25519). Discovery lists them.
pub const DPOP_ALGS: &[&str] = &["ES256", "ES384", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "EdDSA", "Ed25519"];

/// The largest proof read: an RSA-8192 key and its signature fit.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// The most a proof's `jti` may be.
const MAX_JTI_BYTES: usize = 256;

/// A proof whose signature, header and claims are good; not yet checked against the
/// clock, the replay store or a nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    /// The RFC 7638 thumbprint of the proof's key (`cnf.jkt` of what it binds).
    pub jkt: String,
    /// The JWS algorithm, for a profile's allowlist.
    pub alg: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
}

/// The request a proof is presented with.
pub struct ProofTarget<'a> {
    /// The HTTP method (`htm`).
    pub method: &'a str,
    /// The URL the request was sent to (`htu`; a query or fragment is ignored).
    pub url: &'a str,
    /// The access token presented with the proof, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Checks a `DPoP` header value for `target` (RFC 9449 §4.3 items 2–9 and 12). The
/// error says which check failed, for `error_description`.
pub fn check_proof(proof: &str, target: &ProofTarget<'_>) -> Result<DpopProof, &'static str> {
    let jws = ClientJws::parse(proof, MAX_PROOF_BYTES, false).map_err(|e| match e {
        "too large" => "the DPoP proof is too large",
        "the alg is not supported" => "the DPoP proof's alg is not supported",
        _ => "the DPoP proof is not a well-formed JWS",
    })?;
    let header = jws.header();
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err("the DPoP proof's typ must be dpop+jwt");
    }
    if !DPOP_ALGS.contains(&jws.alg.as_str()) {
        return Err("the DPoP proof must be signed with an asymmetric algorithm");
    }
    let jwk = header.get("jwk").filter(|k| k.is_object()).ok_or("the DPoP proof's header must carry its public key (jwk)")?;
    if crate::jose::PRIVATE_MEMBERS.iter().any(|m| jwk.get(*m).is_some()) {
        return Err("the DPoP proof's jwk must not contain a private key");
    }
    let jkt = thumbprint(jwk).ok_or("the DPoP proof's jwk is not a supported public key")?;
    if !jws.verify_with_jwk(jwk) {
        return Err("the DPoP proof's signature does not verify with its jwk");
    }
    let c: ProofClaims = jws.claims().ok_or("the DPoP proof's claims are malformed (jti, htm, htu and iat are required)")?;
    if c.jti.is_empty() || c.jti.len() > MAX_JTI_BYTES {
        return Err("the DPoP proof's jti must be 1 to 256 characters");
    }
    if c.htm != target.method {
        return Err("the DPoP proof's htm does not match the request's method");
    }
    if !htu_matches(&c.htu, target.url) {
        return Err("the DPoP proof's htu does not match the request's URL");
    }
    match (target.access_token, &c.ath) {
        (Some(token), Some(ath)) if *ath == access_token_hash(token) => {}
        (Some(_), Some(_)) => return Err("the DPoP proof's ath does not match the access token"),
        (Some(_), None) => return Err("the DPoP proof must carry ath, the hash of the access token"),
        (None, _) => {}
    }
    Ok(DpopProof { jkt, alg: jws.alg.clone(), jti: c.jti, iat: c.iat, nonce: c.nonce })
}

/// `ath` (RFC 9449 §4.2): `base64url(SHA-256(access token))`.
pub fn access_token_hash(token: &str) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()))
}

/// Whether `htu` names `url`, both without query and fragment, after the normalizations
/// of RFC 3986 §6.2.2–6.2.3 (case of scheme and host, default port, dot segments).
pub fn htu_matches(htu: &str, url: &str) -> bool {
    let (Ok(a), Ok(b)) = (url::Url::parse(htu), url::Url::parse(url)) else { return false };
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
        && a.path() == b.path()
        && !a.cannot_be_a_base()
}

/// A JWK's RFC 7638 thumbprint: SHA-256 over its required members in lexicographic
/// order, base64url. `None` for key types a proof cannot use.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str).map(|v| serde_json::to_string(v).expect("a string serializes"));
    let canonical = match jwk.get("kty").and_then(Value::as_str)? {
        "EC" => format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, s("crv")?, s("x")?, s("y")?),
        "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, s("e")?, s("n")?),
        "OKP" => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, s("crv")?, s("x")?),
        _ => return None,
    };
    Some(B64.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes())))
}

/// Whether `s` could be a `dpop_jkt` (RFC 9449 §10): a base64url SHA-256 thumbprint.
pub fn is_thumbprint(s: &str) -> bool {
    s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Alg, SigningKey};
    use serde_json::json;

    const URL: &str = "https://server.example.com/token";

    /// A proof signed by `key` with `header` members over the key's public JWK.
    fn proof(key: &SigningKey, header: Value, claims: Value) -> String {
        let mut jwk = key.public_jwk().to_json();
        let obj = jwk.as_object_mut().unwrap();
        obj.remove("kid");
        obj.remove("use");
        obj.remove("alg");
        let mut h = json!({"typ": "dpop+jwt", "alg": key.alg().as_str(), "jwk": jwk});
        for (k, v) in header.as_object().unwrap() {
            h[k] = v.clone();
        }
        key.sign_with_header(&h, &claims)
    }

    fn claims() -> Value {
        json!({"jti": "j1", "htm": "POST", "htu": URL, "iat": 1_700_000_000})
    }

    fn target<'a>(token: Option<&'a str>) -> ProofTarget<'a> {
        ProofTarget { method: "POST", url: URL, access_token: token }
    }

    #[test]
    fn a_good_proof_names_its_key() {
        for alg in [Alg::Es256, Alg::EdDsa] {
            let (key, _) = SigningKey::generate(alg);
            let p = check_proof(&proof(&key, json!({}), claims()), &target(None)).unwrap();
            assert_eq!(p.jkt, key.kid(), "the kid of our keys is their RFC 7638 thumbprint");
            assert_eq!((p.jti.as_str(), p.iat, p.nonce), ("j1", 1_700_000_000, None));
        }
    }

    #[test]
    fn each_header_and_claim_check_refuses() {
        let (key, _) = SigningKey::generate(Alg::Es256);
        let fails = |p: String, t: &ProofTarget<'_>| check_proof(&p, t).unwrap_err();
        assert!(fails(proof(&key, json!({"typ": "JWT"}), claims()), &target(None)).contains("typ"));
        let mut private = key.public_jwk().to_json();
        private["d"] = json!("AAAA");
        assert!(fails(proof(&key, json!({"jwk": private}), claims()), &target(None)).contains("private"));
        let (other, _) = SigningKey::generate(Alg::Es256);
        let mut foreign = other.public_jwk().to_json();
        foreign.as_object_mut().unwrap().remove("kid");
        assert!(fails(proof(&key, json!({"jwk": foreign}), claims()), &target(None)).contains("signature"));
        let mut c = claims();
        c["htm"] = json!("GET");
        assert!(fails(proof(&key, json!({}), c), &target(None)).contains("htm"));
        let mut c = claims();
        c["htu"] = json!("https://server.example.com/other");
        assert!(fails(proof(&key, json!({}), c), &target(None)).contains("htu"));
        let mut c = claims();
        c.as_object_mut().unwrap().remove("jti");
        assert!(fails(proof(&key, json!({}), c), &target(None)).contains("claims"));
        assert!(fails(proof(&key, json!({}), claims()), &target(Some("tok"))).contains("ath"));
        let mut c = claims();
        c["ath"] = json!(access_token_hash("other"));
        assert!(fails(proof(&key, json!({}), c), &target(Some("tok"))).contains("ath"));
        let mut c = claims();
        c["ath"] = json!(access_token_hash("tok"));
        assert!(check_proof(&proof(&key, json!({}), c), &target(Some("tok"))).is_ok());
        for junk in ["not.a.jwt", "", "a.b.c", "....."] {
            assert!(check_proof(junk, &target(None)).is_err(), "{junk}");
        }
        let hmac = format!("{}.{}.AA", B64.encode(br#"{"typ":"dpop+jwt","alg":"HS256","jwk":{"kty":"oct","k":"AA"}}"#), B64.encode(b"{}"));
        assert!(check_proof(&hmac, &target(None)).is_err());
    }

    #[test]
    fn htu_ignores_query_fragment_and_normalizes() {
        assert!(htu_matches("https://Server.Example.com:443/token?x=1#f", URL));
        assert!(htu_matches("https://server.example.com/a/../token", URL));
        assert!(!htu_matches("http://server.example.com/token", URL));
        assert!(!htu_matches("https://server.example.com:8443/token", URL));
        assert!(!htu_matches("https://server.example.com/token/", URL));
        assert!(!htu_matches("token", URL));
    }

    #[test]
    fn thumbprints_follow_rfc7638() {
        // RFC 7638 §3.1.
        let jwk = json!({"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(thumbprint(&jwk).as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert!(is_thumbprint("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert!(!is_thumbprint("short"));
        assert_eq!(thumbprint(&json!({"kty": "oct", "k": "AA"})), None);
    }
}
