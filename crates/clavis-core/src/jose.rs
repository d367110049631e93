//! JSON Web Signatures that Clavis issues and checks itself, with `ring`: one signing key
//! per algorithm (RS256, PS256, ES256, EdDSA over Ed25519), their public JWKs, compact
//! JWTs. A token verifies only with a key of the algorithm its header names, so no
//! algorithm is negotiable by whoever sends the token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The algorithms Clavis signs with. Each tenant has one active key of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Alg {
    #[serde(rename = "RS256")]
    Rs256,
    #[serde(rename = "PS256")]
    Ps256,
    #[serde(rename = "ES256")]
    Es256,
    /// EdDSA over Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 4] = [Alg::Rs256, Alg::Ps256, Alg::Es256, Alg::EdDsa];
    /// The names, for discovery documents.
    pub const NAMES: [&'static str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// The JOSE name, exactly as [`Self::as_str`] writes it.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RS256" => Alg::Rs256,
            "PS256" => Alg::Ps256,
            "ES256" => Alg::Es256,
            "EdDSA" => Alg::EdDsa,
            _ => return None,
        })
    }
}

/// A name that is none of Clavis's signing algorithms.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownAlg;

impl std::fmt::Display for UnknownAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "must be one of {}", Alg::NAMES.join(", "))
    }
}

impl std::error::Error for UnknownAlg {}

impl std::str::FromStr for Alg {
    type Err = UnknownAlg;

    fn from_str(s: &str) -> Result<Self, UnknownAlg> {
        Alg::parse(s).ok_or(UnknownAlg)
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Pair {
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A key pair of one [`Alg`]. The private half leaves the process only as PKCS#8 for
/// storage.
pub struct SigningKey {
    kid: String,
    alg: Alg,
    pair: Pair,
    public: PublicJwk,
    /// `base64url(header) + "."` for at+jwt tokens and for plain JWTs (ID tokens),
    /// computed once per key.
    at_jwt_prefix: String,
    jwt_prefix: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid signing key material")]
pub struct KeyError;

/// RSA keys Clavis makes: 2048 bits, as OpenID Connect relying parties expect.
const RSA_BITS: usize = 2048;

impl SigningKey {
    /// A new random key; returns it with its PKCS#8 encoding for storage. An RSA key takes
    /// tens of milliseconds or more: call it off the async runtime.
    pub fn generate(alg: Alg) -> (Self, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = match alg {
            Alg::Es256 => EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("P-256 key generation failed")
                .as_ref()
                .to_vec(),
            Alg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key generation failed").as_ref().to_vec(),
            Alg::Rs256 | Alg::Ps256 => {
                use rsa::pkcs8::EncodePrivateKey;
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS).expect("RSA key generation failed");
                key.to_pkcs8_der().expect("an RSA key encodes as PKCS#8").as_bytes().to_vec()
            }
        };
        let key = Self::from_pkcs8(alg, &pkcs8).expect("a freshly generated key parses");
        (key, pkcs8)
    }

    pub fn from_pkcs8(alg: Alg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rng = SystemRandom::new();
        let pair = match alg {
            Alg::Es256 => Pair::Ec(EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng).map_err(|_| KeyError)?),
            Alg::EdDsa => Pair::Ed(Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).map_err(|_| KeyError)?),
            Alg::Rs256 | Alg::Ps256 => Pair::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError)?),
        };
        let material = match &pair {
            Pair::Ec(p) => Material::Ec(p.public_key().as_ref().to_vec()),
            Pair::Ed(p) => Material::Ed(p.public_key().as_ref().to_vec()),
            Pair::Rsa(p) => {
                let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(p.public());
                Material::Rsa { n: c.n, e: c.e }
            }
        };
        let kid = material.thumbprint();
        let prefix = |typ: &str| format!("{}.", B64.encode(json!({"alg": alg.as_str(), "kid": kid, "typ": typ}).to_string()));
        let (at_jwt_prefix, jwt_prefix) = (prefix("at+jwt"), prefix("JWT"));
        let public = PublicJwk { kid: kid.clone(), alg, material };
        Ok(Self { kid, alg, pair, public, at_jwt_prefix, jwt_prefix, rng })
    }

    /// The same key under another `kid` (one an admin chose, e.g. through Hydra's JWK API).
    pub fn with_kid(self, kid: &str) -> Self {
        if kid == self.kid {
            return self;
        }
        let prefix = |typ: &str| format!("{}.", B64.encode(json!({"alg": self.alg.as_str(), "kid": kid, "typ": typ}).to_string()));
        let (at_jwt_prefix, jwt_prefix) = (prefix("at+jwt"), prefix("JWT"));
        let public = PublicJwk { kid: kid.to_owned(), ..self.public };
        Self { kid: kid.to_owned(), at_jwt_prefix, jwt_prefix, public, ..self }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> Alg {
        self.alg
    }

    pub fn public_jwk(&self) -> PublicJwk {
        self.public.clone()
    }

    /// Signs `claims` as a compact JWS with header `{"alg":…,"kid":…,"typ":"at+jwt"}`.
    pub fn sign_access_token<C: Serialize>(&self, claims: &C) -> String {
        self.sign(&self.at_jwt_prefix, claims)
    }

    /// Signs `claims` with header `{"alg":…,"kid":…,"typ":"JWT"}` (ID tokens, userinfo).
    pub fn sign_jwt<C: Serialize>(&self, claims: &C) -> String {
        self.sign(&self.jwt_prefix, claims)
    }

    /// Signs `claims` with another `typ` (e.g. `logout+jwt`).
    pub fn sign_typed<C: Serialize>(&self, typ: &str, claims: &C) -> String {
        let header = json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": typ}).to_string();
        self.sign(&format!("{}.", B64.encode(header)), claims)
    }

    /// Signs `claims` under a JOSE header of the caller's (its `alg` must be this key's):
    /// for proofs a client makes, e.g. in tests.
    pub fn sign_with_header<C: Serialize>(&self, header: &Value, claims: &C) -> String {
        self.sign(&format!("{}.", B64.encode(header.to_string())), claims)
    }

    fn sign<C: Serialize>(&self, prefix: &str, claims: &C) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialize");
        let mut out = String::with_capacity(prefix.len() + payload.len() * 4 / 3 + 350);
        out.push_str(prefix);
        B64.encode_string(&payload, &mut out);
        out.push('.');
        let input = &out.as_bytes()[..out.len() - 1];
        match &self.pair {
            Pair::Ec(p) => {
                let sig = p.sign(&self.rng, input).expect("ECDSA signing failed");
                B64.encode_string(sig.as_ref(), &mut out);
            }
            Pair::Ed(p) => {
                let sig = p.sign(input);
                B64.encode_string(sig.as_ref(), &mut out);
            }
            Pair::Rsa(p) => {
                let padding: &'static dyn signature::RsaEncoding =
                    if self.alg == Alg::Ps256 { &signature::RSA_PSS_SHA256 } else { &signature::RSA_PKCS1_SHA256 };
                let mut sig = vec![0; p.public().modulus_len()];
                p.sign(padding, &self.rng, input, &mut sig).expect("RSA signing failed");
                B64.encode_string(&sig, &mut out);
            }
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    /// Uncompressed SEC1 P-256 point (`0x04 || x || y`), as `ring` verifies it.
    Ec(Vec<u8>),
    /// Big-endian modulus and exponent.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// The 32-byte Ed25519 public key.
    Ed(Vec<u8>),
}

impl Material {
    /// RFC 7638 thumbprint, used as the key's `kid`.
    fn thumbprint(&self) -> String {
        let canonical = match self {
            Material::Ec(p) => format!(r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#, B64.encode(&p[1..33]), B64.encode(&p[33..65])),
            Material::Rsa { n, e } => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, B64.encode(e), B64.encode(n)),
            Material::Ed(x) => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, B64.encode(x)),
        };
        B64.encode(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()))
    }
}

/// The JWK members that only private keys have (RFC 7518 §6.2.2, §6.3.2, §6.4.1): a JWK
/// with any of them is refused wherever a public key is expected.
pub const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The public half of a signing key as it is published and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwk {
    pub kid: String,
    pub alg: Alg,
    material: Material,
}

impl PublicJwk {
    pub fn to_json(&self) -> Value {
        let (kid, alg) = (&self.kid, self.alg.as_str());
        match &self.material {
            Material::Ec(p) => json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": alg, "kid": kid,
                "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..65]),
            }),
            Material::Rsa { n, e } => json!({"kty": "RSA", "use": "sig", "alg": alg, "kid": kid, "n": B64.encode(n), "e": B64.encode(e)}),
            Material::Ed(x) => json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": alg, "kid": kid, "x": B64.encode(x)}),
        }
    }

    /// A JWK as [`Self::to_json`] writes it. Keys stored before there were several
    /// algorithms have no doubt about theirs: EC P-256 is ES256.
    pub fn from_json(v: &Value) -> Option<Self> {
        let s = |name: &str| v.get(name).and_then(Value::as_str);
        let b = |name: &str| s(name).and_then(|x| B64.decode(x).ok());
        let kid = s("kid")?.to_owned();
        let (alg, material) = match (s("kty")?, s("crv")) {
            ("EC", Some("P-256")) => {
                let (x, y) = (b("x")?, b("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                (Alg::Es256, Material::Ec(point))
            }
            ("OKP", Some("Ed25519")) => {
                let x = b("x")?;
                (x.len() == 32).then_some(())?;
                (Alg::EdDsa, Material::Ed(x))
            }
            ("RSA", _) => {
                let alg = Alg::parse(s("alg")?).filter(|a| matches!(a, Alg::Rs256 | Alg::Ps256))?;
                (alg, Material::Rsa { n: b("n")?, e: b("e")? })
            }
            _ => return None,
        };
        if s("alg").is_some_and(|a| Alg::parse(a) != Some(alg)) {
            return None;
        }
        Some(Self { kid, alg, material })
    }

    fn verify(&self, alg: Alg, message: &[u8], sig: &[u8]) -> bool {
        if alg != self.alg {
            return false;
        }
        match (&self.material, alg) {
            (Material::Ec(p), _) => UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p).verify(message, sig).is_ok(),
            (Material::Ed(x), _) => UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig).is_ok(),
            (Material::Rsa { n, e }, alg) => {
                let params = if alg == Alg::Ps256 { &signature::RSA_PSS_2048_8192_SHA256 } else { &signature::RSA_PKCS1_2048_8192_SHA256 };
                signature::RsaPublicKeyComponents { n, e }.verify(params, message, sig).is_ok()
            }
        }
    }
}

/// `at_hash` / `c_hash` / `s_hash` of OpenID Connect: the left half of the hash that the
/// ID token's algorithm uses — SHA-256, or SHA-512 for EdDSA over Ed25519.
pub fn half_hash(alg: Alg, value: &str) -> String {
    let hash = if alg == Alg::EdDsa { &ring::digest::SHA512 } else { &ring::digest::SHA256 };
    let d = ring::digest::digest(hash, value.as_bytes());
    B64.encode(&d.as_ref()[..d.as_ref().len() / 2])
}

/// RFC 7636 S256: `base64url(SHA-256(verifier))`.
pub fn pkce_s256(verifier: &str) -> String {
    B64.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
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
    pub alg: Alg,
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
        if header.get("crit").is_some() {
            return Err(JwtError::Unsupported);
        }
        let alg = header.get("alg").and_then(Value::as_str).and_then(Alg::parse).ok_or(JwtError::Unsupported)?;
        let kid = header.get("kid").and_then(Value::as_str).ok_or(JwtError::UnknownKey)?.to_owned();
        let typ = header.get("typ").and_then(Value::as_str).map(str::to_owned);
        let payload = B64.decode(payload_b64).map_err(|_| JwtError::Malformed)?;
        let signature = B64.decode(sig_b64).map_err(|_| JwtError::Malformed)?;
        Ok(Self { signing_input, signature, alg, kid, typ, payload })
    }

    /// The claims, without any guarantee: for routing only (e.g. finding the issuer's keys).
    pub fn unverified_claims<C: DeserializeOwned>(&self) -> Result<C, JwtError> {
        serde_json::from_slice(&self.payload).map_err(|_| JwtError::Malformed)
    }

    /// Checks the signature with `key`, which must be the key the header names and of the
    /// header's algorithm.
    pub fn verify<C: DeserializeOwned>(&self, key: &PublicJwk) -> Result<C, JwtError> {
        if key.kid != self.kid {
            return Err(JwtError::UnknownKey);
        }
        if !key.verify(self.alg, self.signing_input.as_bytes(), &self.signature) {
            return Err(JwtError::BadSignature);
        }
        self.unverified_claims()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::sync::OnceLock;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    /// One key of each algorithm for the whole test binary (RSA generation is slow).
    fn keys() -> &'static [(SigningKey, Vec<u8>)] {
        static KEYS: OnceLock<Vec<(SigningKey, Vec<u8>)>> = OnceLock::new();
        KEYS.get_or_init(|| Alg::ALL.iter().map(|a| SigningKey::generate(*a)).collect())
    }

    fn b64_json(v: &Value) -> String {
        B64.encode(v.to_string())
    }

    #[test]
    fn every_algorithm_signs_verifies_and_rejects_tampering() {
        for (key, pkcs8) in keys() {
            let again = SigningKey::from_pkcs8(key.alg(), pkcs8).unwrap();
            assert_eq!(key.kid(), again.kid(), "{}", key.alg());
            let claims = Claims { sub: "c1".into(), exp: 5 };
            let token = key.sign_access_token(&claims);
            let parsed = UnverifiedJwt::parse(&token).unwrap();
            assert_eq!((parsed.typ.as_deref(), parsed.alg), (Some("at+jwt"), key.alg()));
            let jwk = PublicJwk::from_json(&key.public_jwk().to_json()).unwrap();
            assert_eq!(jwk.alg, key.alg());
            assert_eq!(parsed.verify::<Claims>(&jwk).unwrap(), claims);
            // Payload swapped: signature check fails.
            let parts: Vec<&str> = token.split('.').collect();
            let tampered = format!("{}.{}.{}", parts[0], B64.encode(br#"{"sub":"admin","exp":99}"#), parts[2]);
            assert_eq!(UnverifiedJwt::parse(&tampered).unwrap().verify::<Claims>(&jwk), Err(JwtError::BadSignature), "{}", key.alg());
            let typed = key.sign_typed("logout+jwt", &claims);
            assert_eq!(UnverifiedJwt::parse(&typed).unwrap().typ.as_deref(), Some("logout+jwt"));
            assert_eq!(UnverifiedJwt::parse(&typed).unwrap().verify::<Claims>(&jwk).unwrap(), claims);
        }
    }

    #[test]
    fn a_token_verifies_only_with_a_key_of_its_own_algorithm() {
        let ks = keys();
        let claims = Claims { sub: "c1".into(), exp: 5 };
        for (signer, _) in ks {
            let token = signer.sign_jwt(&claims);
            let (header, rest) = token.split_once('.').unwrap();
            for (other, _) in ks.iter().filter(|(k, _)| k.alg() != signer.alg()) {
                let jwk = PublicJwk::from_json(&other.public_jwk().to_json()).unwrap();
                // The other key's kid and alg in the header, the signature of another key.
                let h = b64_json(&json!({"alg": other.alg().as_str(), "kid": other.kid()}));
                let forged = format!("{h}.{rest}");
                assert!(UnverifiedJwt::parse(&forged).unwrap().verify::<Claims>(&jwk).is_err(), "{} as {}", signer.alg(), other.alg());
                // RS256 and PS256 keys are both RSA: a PS256 token with an RS256 key's kid fails.
                let relabelled = format!("{}.{rest}", b64_json(&json!({"alg": signer.alg().as_str(), "kid": other.kid()})));
                assert!(UnverifiedJwt::parse(&relabelled).unwrap().verify::<Claims>(&jwk).is_err());
            }
            assert!(!header.is_empty());
        }
    }

    #[test]
    fn public_keys_round_trip_and_odd_jwks_are_refused() {
        for (key, _) in keys() {
            let json = key.public_jwk().to_json();
            assert_eq!(json["alg"], key.alg().as_str());
            assert_eq!(json["use"], "sig");
            assert_eq!(PublicJwk::from_json(&json), Some(key.public_jwk()));
            let mut wrong_alg = json.clone();
            wrong_alg["alg"] = json!(if key.alg() == Alg::Es256 { "RS256" } else { "ES256" });
            assert_eq!(PublicJwk::from_json(&wrong_alg), None, "{}", key.alg());
        }
        // ES256 keys stored before there were several algorithms.
        let (ec, _) = &keys()[2];
        let mut old = ec.public_jwk().to_json();
        old.as_object_mut().unwrap().remove("alg");
        assert_eq!(PublicJwk::from_json(&old).map(|k| k.alg), Some(Alg::Es256));
        assert_eq!(PublicJwk::from_json(&json!({"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"})), None, "an RSA key says its alg");
    }

    #[test]
    fn kids_are_rfc7638_thumbprints() {
        // RFC 7638 §3.1's example key.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let m = Material::Rsa { n: B64.decode(n).unwrap(), e: B64.decode("AQAB").unwrap() };
        assert_eq!(m.thumbprint(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn half_hashes_follow_the_algorithm() {
        // OpenID Connect Core §3.1.3.6: left half of SHA-256 for *256; SHA-512 for Ed25519.
        assert_eq!(half_hash(Alg::Rs256, "abc").len(), 22);
        assert_eq!(half_hash(Alg::EdDsa, "abc").len(), 43);
        assert_eq!(half_hash(Alg::Es256, "abc"), half_hash(Alg::Ps256, "abc"));
    }

    #[test]
    fn pkce_matches_rfc7636_example() {
        // RFC 7636 appendix B.
        assert_eq!(pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn rejects_other_algorithms_and_garbage() {
        let none = format!("{}.{}.", B64.encode(br#"{"alg":"none","kid":"k"}"#), B64.encode(b"{}"));
        assert_eq!(UnverifiedJwt::parse(&none).err(), Some(JwtError::Unsupported));
        for alg in ["HS256", "Ed25519", "RS512", "ES384", ""] {
            let t = format!("{}.{}.AA", b64_json(&json!({"alg": alg, "kid": "k"})), B64.encode(b"{}"));
            assert_eq!(UnverifiedJwt::parse(&t).err(), Some(JwtError::Unsupported), "{alg}");
        }
        let crit = format!("{}.{}.AA", b64_json(&json!({"alg": "ES256", "kid": "k", "crit": ["x"]})), B64.encode(b"{}"));
        assert_eq!(UnverifiedJwt::parse(&crit).err(), Some(JwtError::Unsupported));
        for junk in ["", ".", "..", "a.b.c", "a.b", "....."] {
            assert!(UnverifiedJwt::parse(junk).is_err(), "{junk}");
        }
    }
}
