//! Token binding: how an access token is tied to whoever presents it. Every grant's
//! tokens go through here, so a binding is decided once per request and carried by what
//! is signed (`cnf`, RFC 7800) and what is answered (`token_type`).
//!
//! Today every token is a bearer token (RFC 6750): no proof of possession, no `cnf`.
//! DPoP (RFC 9449: a `DPoP` proof header, `cnf.jkt`, `token_type` `DPoP`) and mTLS
//! (RFC 8705: the client certificate, `cnf.x5t#S256`) are new variants of [`Binding`],
//! read from the request in [`Binding::for_request`]; the resource side checks them where
//! access tokens are accepted.

use serde_json::Value;

use super::TokenRequest;
use crate::OAuthError;

/// The binding of the tokens a request is issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Binding {
    /// RFC 6750: whoever holds the token may use it.
    Bearer,
}

impl Binding {
    /// The binding a token request asks for (and proves).
    pub fn for_request(_req: &TokenRequest<'_>) -> Result<Self, OAuthError> {
        Ok(Binding::Bearer)
    }

    /// `token_type` of the token response (RFC 6749 §7.1).
    pub fn token_type(&self) -> &'static str {
        match self {
            Binding::Bearer => "Bearer",
        }
    }

    /// The confirmation claim (`cnf`) the access token carries; none for a bearer token.
    pub fn confirmation(&self) -> Option<Value> {
        match self {
            Binding::Bearer => None,
        }
    }
}
