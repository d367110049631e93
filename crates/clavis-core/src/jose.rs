//! ES256 JSON Web Signatures with `ring`: signing keys, their public JWKs, and compact
//! JWTs. Only what Clavis issues and checks itself; no algorithm is negotiable.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// An ES256 key pair. The private half leaves the process only as PKCS#8 for storage.
pub struct SigningKey {
    kid: String,
    pair: EcdsaKeyPair,
    /// `base64url(header) + "."` for at+jwt tokens and for plain JWTs (ID tokens),
    /// computed once per key.
    at_jwt_prefix: String,
    jwt_prefix: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid signing key material")]
pub struct KeyError;

impl SigningKey {
    /// A new random key; returns it with its PKCS#8 encoding for storage.
    pub fn generate() -> (Self, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("P-256 key generation failed");
        let key = Self::from_pkcs8(pkcs8.as_ref()).expect("a freshly generated key parses");
        (key, pkcs8.as_ref().to_vec())
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng).map_err(|_| KeyError)?;
        let kid = thumbprint(pair.public_key().as_ref());
        let header = json!({"alg": "ES256", "kid": kid, "typ": "at+jwt"});
        let at_jwt_prefix = format!("{}.", B64.encode(header.to_string()));
        let header = json!({"alg": "ES256", "kid": kid, "typ": "JWT"});
        let jwt_prefix = format!("{}.", B64.encode(header.to_string()));
        Ok(Self { kid, pair, at_jwt_prefix, jwt_prefix, rng })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_jwk(&self) -> PublicJwk {
        PublicJwk::from_point(&self.kid, self.pair.public_key().as_ref()).expect("own key is a P-256 point")
    }

    /// Signs `claims` as a compact JWS with header `{"alg":"ES256","kid":…,"typ":"at+jwt"}`.
    pub fn sign_access_token<C: Serialize>(&self, claims: &C) -> String {
        self.sign(&self.at_jwt_prefix, claims)
    }

    /// Signs `claims` with header `{"alg":"ES256","kid":…,"typ":"JWT"}` (ID tokens).
    pub fn sign_jwt<C: Serialize>(&self, claims: &C) -> String {
        self.sign(&self.jwt_prefix, claims)
    }

    fn sign<C: Serialize>(&self, prefix: &str, claims: &C) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let mut out = String::with_capacity(prefix.len() + payload.len() * 4 / 3 + 90);
        out.push_str(prefix);
        B64.encode_string(&payload, &mut out);
        let sig = self.pair.sign(&self.rng, out.as_bytes()).expect("ECDSA signing failed");
        out.push('.');
        B64.encode_string(sig.as_ref(), &mut out);
        out
    }
}

/// The public half of a P-256 key as it is published and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    pub kid: String,
    /// Uncompressed SEC1 point (`0x04 || x || y`), as `ring` verifies it.
    point: Vec<u8>,
}

impl PublicJwk {
    fn from_point(kid: &str, point: &[u8]) -> Option<Self> {
        (point.len() == 65 && point[0] == 4).then(|| Self { kid: kid.to_owned(), point: point.to_vec() })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
            "x": B64.encode(&self.point[1..33]), "y": B64.encode(&self.point[33..65]),
        })
    }

    pub fn from_json(v: &Value) -> Option<Self> {
        if v.get("kty")?.as_str()? != "EC" || v.get("crv")?.as_str()? != "P-256" {
            return None;
        }
        let x = B64.decode(v.get("x")?.as_str()?).ok()?;
        let y = B64.decode(v.get("y")?.as_str()?).ok()?;
        if x.len() != 32 || y.len() != 32 {
            return None;
        }
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        Self::from_point(v.get("kid")?.as_str()?, &point)
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point).verify(message, signature).is_ok()
    }
}

/// `at_hash` / `c_hash` of OpenID Connect for ES256: the left half of SHA-256, base64url.
pub fn half_hash(value: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, value.as_bytes());
    B64.encode(&d.as_ref()[..16])
}

/// RFC 7636 S256: `base64url(SHA-256(verifier))`.
pub fn pkce_s256(verifier: &str) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

/// RFC 7638 thumbprint of a P-256 public key, used as its `kid`.
fn thumbprint(point: &[u8]) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, B64.encode(&point[1..33]), B64.encode(&point[33..65]));
    B64.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()))
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported token type or algorithm")]
    Unsupported,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
}

/// The parts of a compact JWS before its signature is checked.
pub struct UnverifiedJwt<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    pub kid: String,
    pub typ: Option<String>,
    payload: Vec<u8>,
}

impl<'a> UnverifiedJwt<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JwtError> {
        if token.len() > 8192 {
            return Err(JwtError::Malformed);
        }
        let (signing_input, sig_b64) = token.rsplit_once('.').ok_or(JwtError::Malformed)?;
        let (header_b64, payload_b64) = signing_input.split_once('.').ok_or(JwtError::Malformed)?;
        let header: Value = B64.decode(header_b64).ok().and_then(|h| serde_json::from_slice(&h).ok()).ok_or(JwtError::Malformed)?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256") || header.get("crit").is_some() {
            return Err(JwtError::Unsupported);
        }
        let kid = header.get("kid").and_then(Value::as_str).ok_or(JwtError::UnknownKey)?.to_owned();
        let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
        let payload = B64.decode(payload_b64).map_err(|_| JwtError::Malformed)?;
        let signature = B64.decode(sig_b64).map_err(|_| JwtError::Malformed)?;
        Ok(Self { signing_input, signature, kid, typ, payload })
    }

    /// The claims, without any guarantee: for routing only (e.g. finding the issuer's keys).
    pub fn unverified_claims<C: DeserializeOwned>(&self) -> Result<C, JwtError> {
        serde_json::from_slice(&self.payload).map_err(|_| JwtError::Malformed)
    }

    pub fn verify<C: DeserializeOwned>(&self, key: &PublicJwk) -> Result<C, JwtError> {
        if key.kid != self.kid {
            return Err(JwtError::UnknownKey);
        }
        if !key.verify(self.signing_input.as_bytes(), &self.signature) {
            return Err(JwtError::BadSignature);
        }
        self.unverified_claims()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    #[test]
    fn sign_then_verify_and_reject_tampering() {
        let (key, pkcs8) = SigningKey::generate();
        let again = SigningKey::from_pkcs8(&pkcs8).unwrap();
        assert_eq!(key.kid(), again.kid());
        let claims = Claims { sub: "c1".into(), exp: 5 };
        let token = key.sign_access_token(&claims);
        let parsed = UnverifiedJwt::parse(&token).unwrap();
        assert_eq!(parsed.typ.as_deref(), Some("at+jwt"));
        let jwk = PublicJwk::from_json(&key.public_jwk().to_json()).unwrap();
        assert_eq!(parsed.verify::<Claims>(&jwk).unwrap(), claims);

        // Another key, same kid claimed: signature check fails.
        let (other, _) = SigningKey::generate();
        let forged = other.sign_access_token(&claims);
        let forged = forged.replacen(other.kid(), key.kid(), 1);
        assert!(UnverifiedJwt::parse(&forged).map(|p| p.verify::<Claims>(&jwk).is_err()).unwrap_or(true));

        // Payload swapped: signature check fails.
        let parts: Vec<&str> = token.split('.').collect();
        let evil = B64.encode(br#"{"sub":"admin","exp":99}"#);
        let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
        assert_eq!(UnverifiedJwt::parse(&tampered).unwrap().verify::<Claims>(&jwk), Err(JwtError::BadSignature));
    }

    #[test]
    fn pkce_matches_rfc7636_example() {
        // RFC 7636 appendix B.
        assert_eq!(pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(half_hash("abc").len(), 22);
    }

    #[test]
    fn rejects_other_algorithms_and_garbage() {
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none","kid":"k"}"#), B64.encode(b"{}"));
        assert_eq!(UnverifiedJwt::parse(&none).err(), Some(JwtError::Unsupported));
        let hs = format!("{}.{}.AA", B64.encode(br#"{"alg":"HS256","kid":"k"}"#), B64.encode(b"{}"));
        assert_eq!(UnverifiedJwt::parse(&hs).err(), Some(JwtError::Unsupported));
        for junk in ["", ".", "..", "a.b.c", "a.b", "....."] {
            assert!(UnverifiedJwt::parse(junk).is_err(), "{junk}");
        }
    }
}
