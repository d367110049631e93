//! A DPoP client's key and its proofs (RFC 9449 §4), made here with our own signing code:
//! the interop tests check the same flows with outside libraries.

use std::time::{SystemTime, UNIX_EPOCH};

use clavis_core::jose::{Alg, SigningKey};
use serde_json::{json, Value};

pub struct DpopKey {
    key: SigningKey,
    /// The key's RFC 7638 thumbprint (what `cnf.jkt` must be).
    pub jkt: String,
}

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

impl DpopKey {
    pub fn new() -> Self {
        Self::of(Alg::Es256)
    }

    pub fn of(alg: Alg) -> Self {
        let (key, _) = SigningKey::generate(alg);
        // Our keys' kid is their thumbprint.
        Self { jkt: key.kid().to_owned(), key }
    }

    /// The public JWK as a proof carries it.
    pub fn jwk(&self) -> Value {
        let mut jwk = self.key.public_jwk().to_json();
        for member in ["kid", "use", "alg"] {
            jwk.as_object_mut().unwrap().remove(member);
        }
        jwk
    }

    /// A fresh proof for `method` `url` (with `ath` for `token`, and `nonce`).
    pub fn proof(&self, method: &str, url: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        let mut claims = json!({"jti": clavis_core::ids::random_token(12), "htm": method, "htu": url, "iat": now()});
        if let Some(t) = token {
            claims["ath"] = json!(clavis_core::dpop::access_token_hash(t));
        }
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        self.signed(json!({}), claims)
    }

    /// A proof with header members and claims of the caller's.
    pub fn signed(&self, header: Value, claims: Value) -> String {
        let mut h = json!({"typ": "dpop+jwt", "alg": self.key.alg().as_str(), "jwk": self.jwk()});
        for (k, v) in header.as_object().unwrap() {
            h[k] = v.clone();
        }
        self.key.sign_with_header(&h, &claims)
    }
}
