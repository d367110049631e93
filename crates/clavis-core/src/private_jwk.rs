//! A signing key an admin brings as a private JWK (RFC 7517/7518: `d` and, for RSA, the
//! primes), turned into the PKCS#8 document Clavis stores. Used by Hydra's JWK API
//! (`PUT /admin/keys/{set}/{kid}`), so a tenant can move its keys from Hydra.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::Value;

use crate::jose::{Alg, PublicJwk, SigningKey};

/// The largest RSA modulus accepted (bits): signing with a larger key costs more CPU per
/// token than the token endpoint should spend.
const MAX_RSA_BITS: usize = 4096;

/// The key in `jwk`, with its PKCS#8 encoding, under the JWK's `kid`. The public members
/// must be those of the private key. The error says what is wrong, for the admin.
pub fn from_private_jwk(jwk: &Value) -> Result<(SigningKey, Vec<u8>), &'static str> {
    let s = |name: &str| jwk.get(name).and_then(Value::as_str);
    let b = |name: &'static str| s(name).and_then(|x| B64.decode(x).ok()).ok_or(name);
    let kid = s("kid").filter(|k| !k.is_empty()).ok_or("kid is required")?;
    if s("use").is_some_and(|u| u != "sig") {
        return Err("only signing keys (use: sig) are kept");
    }
    let (alg, pkcs8) = match (s("kty"), s("crv")) {
        (Some("EC"), Some("P-256")) => {
            let (d, x, y) = (b("d").map_err(|_| "d is required")?, b("x").map_err(|_| "x is required")?, b("y").map_err(|_| "y is required")?);
            if d.len() != 32 || x.len() != 32 || y.len() != 32 {
                return Err("d, x and y of a P-256 key are 32 bytes each");
            }
            (Alg::Es256, p256_pkcs8(&d, &x, &y))
        }
        (Some("OKP"), Some("Ed25519")) => {
            let d = b("d").map_err(|_| "d is required")?;
            if d.len() != 32 {
                return Err("d of an Ed25519 key is 32 bytes");
            }
            (Alg::EdDsa, ed25519_pkcs8(&d))
        }
        (Some("RSA"), _) => {
            let alg = match s("alg") {
                None | Some("RS256") => Alg::Rs256,
                Some("PS256") => Alg::Ps256,
                Some(_) => return Err("an RSA key signs RS256 or PS256"),
            };
            (alg, rsa_pkcs8(jwk)?)
        }
        _ => return Err("the key must be RSA, EC P-256 or OKP Ed25519"),
    };
    if s("alg").is_some_and(|a| Alg::parse(a) != Some(alg)) {
        return Err("alg does not fit the key type");
    }
    let key = SigningKey::from_pkcs8(alg, &pkcs8).map_err(|_| "the private key is not valid")?.with_kid(kid);
    let mut public = jwk.clone();
    public["alg"] = Value::String(alg.as_str().into());
    if PublicJwk::from_json(&public).as_ref() != Some(&key.public_jwk()) {
        return Err("the public members do not belong to the private key");
    }
    Ok((key, pkcs8))
}

/// PKCS#8 of a P-256 key, in the form `ring` writes (RFC 5915 inside RFC 5208).
fn p256_pkcs8(d: &[u8], x: &[u8], y: &[u8]) -> Vec<u8> {
    const HEAD: &[u8] = &[
        0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
        0x3d, 0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
    ];
    const MIDDLE: &[u8] = &[0xa1, 0x44, 0x03, 0x42, 0x00, 0x04];
    [HEAD, d, MIDDLE, x, y].concat()
}

/// PKCS#8 v1 of an Ed25519 seed (RFC 8410 §7).
fn ed25519_pkcs8(seed: &[u8]) -> Vec<u8> {
    const HEAD: &[u8] = &[0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    [HEAD, seed].concat()
}

fn rsa_pkcs8(jwk: &Value) -> Result<Vec<u8>, &'static str> {
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let int = |name: &'static str| {
        jwk.get(name).and_then(Value::as_str).and_then(|x| B64.decode(x).ok()).map(|b| rsa::BigUint::from_bytes_be(&b)).ok_or(name)
    };
    let (n, e, d) = (int("n").map_err(|_| "n is required")?, int("e").map_err(|_| "e is required")?, int("d").map_err(|_| "d is required")?);
    let (p, q) = (int("p").map_err(|_| "p is required")?, int("q").map_err(|_| "q is required")?);
    if n.bits() > MAX_RSA_BITS {
        return Err("RSA keys have at most 4096 bits");
    }
    let key = rsa::RsaPrivateKey::from_components(n, e, d, vec![p, q]).map_err(|_| "the RSA key is not valid")?;
    key.validate().map_err(|_| "the RSA key is not valid")?;
    if key.n().bits() < 2048 {
        return Err("RSA keys have at least 2048 bits");
    }
    Ok(key.to_pkcs8_der().map_err(|_| "the RSA key is not valid")?.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A generated key, written out as a private JWK from its PKCS#8 document.
    fn private_jwk_of(alg: Alg) -> Value {
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::traits::{PrivateKeyParts, PublicKeyParts};
        let (key, pkcs8) = SigningKey::generate(alg);
        let mut jwk = key.public_jwk().to_json();
        match alg {
            Alg::Es256 => jwk["d"] = json!(B64.encode(&pkcs8[36..68])),
            Alg::EdDsa => jwk["d"] = json!(B64.encode(&pkcs8[16..48])),
            Alg::Rs256 | Alg::Ps256 => {
                let k = rsa::RsaPrivateKey::from_pkcs8_der(&pkcs8).unwrap();
                assert_eq!(B64.encode(k.n().to_bytes_be()), jwk["n"]);
                jwk["d"] = json!(B64.encode(k.d().to_bytes_be()));
                jwk["p"] = json!(B64.encode(k.primes()[0].to_bytes_be()));
                jwk["q"] = json!(B64.encode(k.primes()[1].to_bytes_be()));
            }
        }
        jwk
    }

    #[test]
    fn every_algorithm_round_trips_and_signs_verifiably() {
        for alg in Alg::ALL {
            let mut jwk = private_jwk_of(alg);
            jwk["kid"] = json!("chosen");
            let (key, pkcs8) = from_private_jwk(&jwk).unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!((key.kid(), key.alg()), ("chosen", alg));
            let token = key.sign_jwt(&json!({"sub": "s"}));
            let v: Value = crate::jose::UnverifiedJwt::parse(&token).unwrap().verify(&key.public_jwk()).unwrap();
            assert_eq!(v["sub"], "s");
            assert!(SigningKey::from_pkcs8(alg, &pkcs8).is_ok(), "{alg}: the stored form loads");
        }
    }

    #[test]
    fn mismatched_or_incomplete_keys_are_refused() {
        let mut jwk = private_jwk_of(Alg::Es256);
        let other = private_jwk_of(Alg::Es256);
        jwk["x"] = other["x"].clone();
        assert!(from_private_jwk(&jwk).is_err(), "public point of another key");
        let mut public_only = private_jwk_of(Alg::EdDsa);
        public_only.as_object_mut().unwrap().remove("d");
        assert_eq!(from_private_jwk(&public_only).err(), Some("d is required"));
        let mut ed = private_jwk_of(Alg::EdDsa);
        ed["x"] = private_jwk_of(Alg::EdDsa)["x"].clone();
        assert!(from_private_jwk(&ed).is_err(), "Ed25519 public key of another seed");
        let mut enc = private_jwk_of(Alg::Es256);
        enc["use"] = json!("enc");
        assert!(from_private_jwk(&enc).is_err());
        let mut rsa = private_jwk_of(Alg::Rs256);
        rsa["q"] = rsa["p"].clone();
        assert!(from_private_jwk(&rsa).is_err(), "wrong primes");
        assert!(from_private_jwk(&json!({"kty": "oct", "k": "AAAA", "kid": "x"})).is_err());
    }
}
