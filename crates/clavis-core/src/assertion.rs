//! Client assertions (RFC 7523 §2.2, OpenID Connect Core §9): a JWT the client signs
//! with its private key (`private_key_jwt`) or an HMAC of its secret (`client_secret_jwt`).
//! This module parses and verifies the signature; the service checks the claims' meaning
//! (issuer, audience, lifetime, single use).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::signature::{self, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;

/// The assertion's claims.
#[derive(Debug, Clone, Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    /// A string or an array of strings.
    pub aud: Value,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nbf: Option<i64>,
    pub jti: String,
}

impl AssertionClaims {
    pub fn audiences(&self) -> Vec<&str> {
        match &self.aud {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        }
    }
}

/// Which family of algorithms an assertion uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssertionKind {
    /// RS*, PS*, ES256, ES384, EdDSA: `private_key_jwt`.
    PrivateKey,
    /// HS256/384/512: `client_secret_jwt`.
    SharedSecret,
}

/// A compact JWS a client signed with its keys (or an HMAC of its secret) — a client
/// assertion, a request object — before its signature is checked.
pub struct ClientJws<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    pub alg: String,
    pub kid: Option<String>,
    header: Value,
    payload: Vec<u8>,
}

/// A client assertion: its JWS and its claims.
pub struct ClientAssertion<'a> {
    pub jws: ClientJws<'a>,
    pub alg: String,
    pub kid: Option<String>,
    pub claims: AssertionClaims,
}

/// `Ed25519` is RFC 9864's fully-specified name for EdDSA over Ed25519, what current
/// JOSE libraries put in the header for an Ed25519 key; it is verified as `EdDSA` with an
/// `OKP`/`Ed25519` key.
pub const PRIVATE_KEY_ALGS: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "Ed25519"];

/// Whether a key's `alg` allows the assertion's: the same name, or the two names of
/// EdDSA over Ed25519.
pub fn alg_allows(key_alg: &str, alg: &str) -> bool {
    key_alg == alg || matches!((key_alg, alg), ("EdDSA", "Ed25519") | ("Ed25519", "EdDSA"))
}
/// Algorithms of an HMAC with the client's secret (`client_secret_jwt`).
pub const HMAC_ALGS: &[&str] = &["HS256", "HS384", "HS512"];

impl<'a> ClientJws<'a> {
    /// Splits and decodes `token` (at most `max_len` bytes; `what` names it in errors).
    /// `alg: none` is accepted here only with `allow_none` and an empty signature; every
    /// other alg must be one of [`PRIVATE_KEY_ALGS`] or [`HMAC_ALGS`].
    pub fn parse(token: &'a str, max_len: usize, allow_none: bool) -> Result<Self, &'static str> {
        if token.len() > max_len {
            return Err("too large");
        }
        let (signing_input, sig) = token.rsplit_once('.').ok_or("not a compact JWS")?;
        let (header, payload) = signing_input.split_once('.').ok_or("not a compact JWS")?;
        let header: Value = B64.decode(header).ok().and_then(|h| serde_json::from_slice(&h).ok()).ok_or("the JOSE header is malformed")?;
        if header.get("crit").is_some() {
            return Err("critical header parameters are not supported");
        }
        if header.get("enc").is_some() {
            return Err("encrypted JWTs are not supported");
        }
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("").to_owned();
        let none = alg == "none" && allow_none && sig.is_empty();
        if !none && !PRIVATE_KEY_ALGS.contains(&alg.as_str()) && !HMAC_ALGS.contains(&alg.as_str()) {
            return Err("the alg is not supported");
        }
        let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
        let payload = B64.decode(payload).map_err(|_| "the payload is not base64url")?;
        let signature = B64.decode(sig).map_err(|_| "the signature is malformed")?;
        Ok(Self { signing_input, signature, alg, kid, header, payload })
    }

    /// The JOSE header, not yet trusted.
    pub fn header(&self) -> &Value {
        &self.header
    }

    /// Whether it is unsigned (`alg: none`, allowed by [`Self::parse`]).
    pub fn is_unsigned(&self) -> bool {
        self.alg == "none"
    }

    /// The payload as JSON, not yet trusted.
    pub fn claims<C: serde::de::DeserializeOwned>(&self) -> Option<C> {
        serde_json::from_slice(&self.payload).ok()
    }

    pub fn kind(&self) -> AssertionKind {
        if HMAC_ALGS.contains(&self.alg.as_str()) {
            AssertionKind::SharedSecret
        } else {
            AssertionKind::PrivateKey
        }
    }
    /// Verifies against the keys of a JWK Set: the key named by `kid`, or else every key
    /// whose type fits the algorithm.
    pub fn verify_with_jwks(&self, jwks: &Value) -> bool {
        let Some(keys) = jwks.get("keys").and_then(Value::as_array) else { return false };
        keys.iter()
            .filter(|k| self.kid.is_none() || k.get("kid").and_then(Value::as_str) == self.kid.as_deref())
            .filter(|k| k.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig"))
            .any(|k| self.verify_with_jwk(k))
    }

    /// Verifies against one JWK (its `alg`, if any, must allow the JWS's).
    pub fn verify_with_jwk(&self, jwk: &Value) -> bool {
        let s = |name: &str| jwk.get(name).and_then(Value::as_str);
        let b = |name: &str| s(name).and_then(|v| B64.decode(v).ok());
        let msg = self.signing_input.as_bytes();
        let sig = &self.signature;
        if let Some(alg) = s("alg") {
            if !alg_allows(alg, &self.alg) {
                return false;
            }
        }
        match (self.alg.as_str(), s("kty")) {
            (alg @ ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512"), Some("RSA")) => {
                let (Some(n), Some(e)) = (b("n"), b("e")) else { return false };
                let params: &signature::RsaParameters = match alg {
                    "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                    "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                    "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                    "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                    "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                    _ => &signature::RSA_PSS_2048_8192_SHA512,
                };
                signature::RsaPublicKeyComponents { n: &n, e: &e }.verify(params, msg, sig).is_ok()
            }
            (alg @ ("ES256" | "ES384"), Some("EC")) => {
                let (crv, algorithm, len): (&str, &'static signature::EcdsaVerificationAlgorithm, usize) = if alg == "ES256" {
                    ("P-256", &signature::ECDSA_P256_SHA256_FIXED, 32)
                } else {
                    ("P-384", &signature::ECDSA_P384_SHA384_FIXED, 48)
                };
                let (Some(x), Some(y)) = (b("x"), b("y")) else { return false };
                if s("crv") != Some(crv) || x.len() != len || y.len() != len {
                    return false;
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                UnparsedPublicKey::new(algorithm, &point).verify(msg, sig).is_ok()
            }
            ("EdDSA" | "Ed25519", Some("OKP")) => {
                let Some(x) = b("x") else { return false };
                s("crv") == Some("Ed25519") && UnparsedPublicKey::new(&signature::ED25519, &x).verify(msg, sig).is_ok()
            }
            _ => false,
        }
    }

    /// Verifies an HS256/384/512 assertion with the client's secret as the key.
    pub fn verify_with_secret(&self, secret: &[u8]) -> bool {
        let algorithm = match self.alg.as_str() {
            "HS256" => ring::hmac::HMAC_SHA256,
            "HS384" => ring::hmac::HMAC_SHA384,
            "HS512" => ring::hmac::HMAC_SHA512,
            _ => return false,
        };
        let key = ring::hmac::Key::new(algorithm, secret);
        ring::hmac::verify(&key, self.signing_input.as_bytes(), &self.signature).is_ok()
    }
}

impl<'a> ClientAssertion<'a> {
    pub fn parse(token: &'a str) -> Result<Self, &'static str> {
        let jws = ClientJws::parse(token, 16 * 1024, false).map_err(|e| match e {
            "too large" => "the client assertion is too large",
            "the alg is not supported" => "the client assertion's alg is not supported",
            "critical header parameters are not supported" => "the client assertion uses critical header parameters",
            _ => "the client assertion is not a well-formed JWS",
        })?;
        let claims: AssertionClaims = jws.claims().ok_or("the client assertion claims are malformed (iss, sub, aud, exp, jti are required)")?;
        Ok(Self { alg: jws.alg.clone(), kid: jws.kid.clone(), jws, claims })
    }

    pub fn kind(&self) -> AssertionKind {
        self.jws.kind()
    }

    pub fn verify_with_jwks(&self, jwks: &Value) -> bool {
        self.jws.verify_with_jwks(jwks)
    }

    pub fn verify_with_secret(&self, secret: &[u8]) -> bool {
        self.jws.verify_with_secret(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SigningKey;
    use serde_json::json;

    fn claims() -> Value {
        json!({"iss": "c1", "sub": "c1", "aud": "https://as/token", "exp": 2_000_000_000, "jti": "j1"})
    }

    #[test]
    fn es256_assertion_verifies_against_its_jwks_only() {
        let (key, _) = SigningKey::generate(crate::jose::Alg::Es256);
        let token = key.sign_jwt(&claims());
        let a = ClientAssertion::parse(&token).unwrap();
        assert_eq!(a.kind(), AssertionKind::PrivateKey);
        assert_eq!(a.claims.audiences(), vec!["https://as/token"]);
        assert!(a.verify_with_jwks(&json!({"keys": [key.public_jwk().to_json()]})));
        let (other, _) = SigningKey::generate(crate::jose::Alg::Es256);
        assert!(!a.verify_with_jwks(&json!({"keys": [other.public_jwk().to_json()]})));
        assert!(!a.verify_with_jwks(&json!({"keys": []})));
        assert!(!a.verify_with_secret(b"whatever"), "an ES256 assertion is no HMAC");
    }

    #[test]
    fn hs256_assertion_verifies_with_the_secret() {
        let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = B64.encode(claims().to_string());
        let input = format!("{header}.{payload}");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        let token = format!("{input}.{}", B64.encode(ring::hmac::sign(&key, input.as_bytes())));
        let a = ClientAssertion::parse(&token).unwrap();
        assert_eq!(a.kind(), AssertionKind::SharedSecret);
        assert!(a.verify_with_secret(b"s3cret"));
        assert!(!a.verify_with_secret(b"other"));
        assert!(!a.verify_with_jwks(&json!({"keys": [{"kty": "oct", "k": B64.encode(b"s3cret")}]})));
    }

    /// RFC 8037 `EdDSA` and RFC 9864 `Ed25519` are the same signature over an Ed25519 key.
    #[test]
    fn ed25519_assertions_verify_under_either_name() {
        use ring::signature::{Ed25519KeyPair, KeyPair};
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let x = B64.encode(pair.public_key().as_ref());
        let sign = |alg: &str| {
            let input = format!("{}.{}", B64.encode(json!({"alg": alg, "typ": "JWT"}).to_string()), B64.encode(claims().to_string()));
            format!("{input}.{}", B64.encode(pair.sign(input.as_bytes())))
        };
        let (ec, _) = SigningKey::generate(crate::jose::Alg::Es256);
        for alg in ["EdDSA", "Ed25519"] {
            let token = sign(alg);
            let a = ClientAssertion::parse(&token).unwrap();
            assert_eq!(a.kind(), AssertionKind::PrivateKey);
            for key_alg in [None, Some("EdDSA"), Some("Ed25519")] {
                let mut jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
                if let Some(k) = key_alg {
                    jwk["alg"] = json!(k);
                }
                assert!(a.verify_with_jwks(&json!({"keys": [jwk]})), "{alg} with key alg {key_alg:?}");
            }
            assert!(!a.verify_with_jwks(&json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "ES256"}]})));
            assert!(!a.verify_with_jwks(&json!({"keys": [{"kty": "OKP", "crv": "X25519", "x": x}]})));
            assert!(!a.verify_with_jwks(&json!({"keys": [ec.public_jwk().to_json()]})), "{alg} with an EC key");
        }
    }

    #[test]
    fn refuses_none_and_malformed() {
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none"}"#), B64.encode(claims().to_string()));
        assert!(ClientAssertion::parse(&none).is_err());
        let no_jti = format!("{}.{}.AA", B64.encode(br#"{"alg":"ES256"}"#), B64.encode(br#"{"iss":"a","sub":"a","aud":"x","exp":1}"#));
        assert!(ClientAssertion::parse(&no_jti).is_err());
        for junk in ["", "a.b", "a.b.c", "...."] {
            assert!(ClientAssertion::parse(junk).is_err());
        }
    }
}
