//! Binding a login, consent or logout flow to the browser that started it (what Hydra's
//! `*_csrf` cookies do). The flow stores the hash of a random value that only that
//! browser holds in a cookie; a verifier is redeemed only together with it. Without
//! this, an attacker could start a flow, log in as themself, and hand the verifier to a
//! victim, whose browser would then carry the attacker's session (login CSRF).

use clavis_core::{ids, secret};
use serde::{Deserialize, Serialize};

/// What a flow keeps of its binding: the cookie's name tag and the value's hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Binding {
    tag: String,
    hash: String,
}

/// A cookie for the HTTP layer to set or clear (name `clavis_csrf_{tag}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrfCookie {
    Set { tag: String, value: String },
    Clear { tag: String },
}

/// The prefix of every binding cookie's name.
pub const CSRF_COOKIE_PREFIX: &str = "clavis_csrf_";

impl Binding {
    /// A new binding and the cookie that carries it.
    pub fn new() -> (Self, CsrfCookie) {
        let value = ids::random_token(32);
        let tag = ids::random_token(6);
        (Self { tag: tag.clone(), hash: secret::hash(&value) }, CsrfCookie::Set { tag, value })
    }

    /// Whether one of the browser's binding cookies is this flow's (constant time).
    pub fn held_by(&self, presented: &[String]) -> bool {
        presented.iter().fold(false, |found, v| secret::verify(v, &self.hash) | found)
    }

    pub fn clear(&self) -> CsrfCookie {
        CsrfCookie::Clear { tag: self.tag.clone() }
    }
}

/// The error shown when the binding cookie is missing or wrong.
pub(crate) const NOT_THIS_BROWSER: &str =
    "this request was started in another browser, or its cookie was lost (cookies must be enabled); start again";
