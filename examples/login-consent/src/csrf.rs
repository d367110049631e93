//! CSRF protection for the two forms: a random per-browser nonce in an HttpOnly cookie, and
//! in each form a token = HMAC(per-process key, purpose, challenge, nonce). A POST must
//! carry the cookie and the matching token, so another site can neither forge the form nor
//! replay a token it fetched itself (its browser has a different nonce).

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cookie::{Cookie, SameSite};
use ring::hmac;

use crate::users::{fill_random, random_b64};

pub const COOKIE: &str = "login_app_csrf";

pub struct Csrf {
    key: hmac::Key,
}

impl Default for Csrf {
    fn default() -> Self {
        let mut key = [0u8; 32];
        fill_random(&mut key);
        Self { key: hmac::Key::new(hmac::HMAC_SHA256, &key) }
    }
}

fn message(purpose: &str, challenge: &str, nonce: &str) -> Vec<u8> {
    // Neither the purpose nor the nonce contains NUL, so the fields cannot run together.
    [purpose, challenge, nonce].join("\0").into_bytes()
}

impl Csrf {
    pub fn token(&self, purpose: &str, challenge: &str, nonce: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, &message(purpose, challenge, nonce)))
    }

    pub fn verify(&self, purpose: &str, challenge: &str, nonce: &str, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token) {
            Ok(tag) => hmac::verify(&self.key, &message(purpose, challenge, nonce), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

/// The browser's nonce, if it sent a well-formed one.
pub fn nonce_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

pub fn new_nonce() -> String {
    random_b64(32)
}

/// The `Set-Cookie` value for a new nonce.
pub fn set_cookie(nonce: &str, secure: bool) -> String {
    Cookie::build((COOKIE, nonce)).path("/").http_only(true).same_site(SameSite::Lax).secure(secure).build().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_purpose_challenge_and_nonce() {
        let csrf = Csrf::default();
        let t = csrf.token("login", "c1", "n1");
        assert!(csrf.verify("login", "c1", "n1", &t));
        assert!(!csrf.verify("consent", "c1", "n1", &t));
        assert!(!csrf.verify("login", "c2", "n1", &t));
        assert!(!csrf.verify("login", "c1", "n2", &t));
        assert!(!csrf.verify("login", "c1", "n1", "not base64!"));
        assert!(!Csrf::default().verify("login", "c1", "n1", &t), "another process's key");
    }

    #[test]
    fn nonce_cookie_parsing() {
        let n = new_nonce();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, format!("a=b; {COOKIE}={n}; c=d").parse().unwrap());
        assert_eq!(nonce_from(&h), Some(n.clone()));
        h.insert(header::COOKIE, format!("{COOKIE}=short").parse().unwrap());
        assert_eq!(nonce_from(&h), None);
        // Malformed pairs around it are skipped, whitespace is not part of a value.
        h.insert(header::COOKIE, format!("junk; =x;  {COOKIE}={n} ").parse().unwrap());
        assert_eq!(nonce_from(&h), Some(n.clone()));
        let set = set_cookie(&n, true);
        assert!(set.starts_with(&format!("{COOKIE}={n};")), "{set}");
        for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
            assert!(set.contains(attr), "{attr} in {set}");
        }
        assert!(!set_cookie(&n, false).contains("Secure"));
    }
}
