//! Token binding: how an access token is tied to whoever presents it. Every grant's
//! tokens go through here, so a binding is decided once per request and carried by what
//! is signed (`cnf`, RFC 7800) and what is answered (`token_type`).
//!
//! - Bearer (RFC 6750): no proof of possession, no `cnf`.
//! - DPoP (RFC 9449): the request's `DPoP` proof names a key; the access token carries
//!   its thumbprint (`cnf.jkt`) and is of type `DPoP`. A client registered with
//!   `dpop_bound_access_tokens` gets no other. The resource side checks the key where
//!   access tokens are accepted ([`crate::tokens`]).

use clavis_core::Client;
use serde_json::{json, Value};

use super::TokenRequest;
use crate::{OAuthError, Services};

/// The binding of the tokens a request is issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Binding {
    /// RFC 6750: whoever holds the token may use it.
    Bearer,
    /// RFC 9449: only the holder of the key with this RFC 7638 thumbprint may use it.
    Dpop { jkt: String },
}

impl Binding {
    /// `token_type` of the token response (RFC 6749 §7.1).
    pub fn token_type(&self) -> &'static str {
        match self {
            Binding::Bearer => "Bearer",
            Binding::Dpop { .. } => "DPoP",
        }
    }

    /// The confirmation claim (`cnf`) the access token carries; none for a bearer token.
    pub fn confirmation(&self) -> Option<Value> {
        match self {
            Binding::Bearer => None,
            Binding::Dpop { jkt } => Some(json!({ "jkt": jkt })),
        }
    }

    /// The DPoP key's thumbprint, if the binding has one.
    pub fn jkt(&self) -> Option<&str> {
        match self {
            Binding::Dpop { jkt } => Some(jkt),
            Binding::Bearer => None,
        }
    }

    /// Refuses unless the request proves the key `bound` names (a code's `dpop_jkt`, the
    /// key a public client's refresh token is bound to); `what` names the grant.
    pub fn require_key(&self, bound: Option<&str>, what: &str) -> Result<(), OAuthError> {
        match (bound, self.jkt()) {
            (None, _) => Ok(()),
            (Some(b), Some(k)) if b == k => Ok(()),
            (Some(_), Some(_)) => Err(OAuthError::InvalidDpopProof(format!("the {what} is bound to another DPoP key"))),
            (Some(_), None) => Err(OAuthError::InvalidDpopProof(format!("the {what} is bound to a DPoP key: send a DPoP proof"))),
        }
    }
}

impl Services {
    /// The binding a token request asks for and proves: its DPoP proof checked in full
    /// (the client has authenticated, so its `jti` may be spent), or bearer.
    pub(crate) async fn binding_for(&self, req: &TokenRequest<'_>, client: &Client) -> Result<Binding, OAuthError> {
        match &req.dpop {
            Some(input) => Ok(Binding::Dpop { jkt: self.prove_dpop(req.tenant, input, None).await?.jkt }),
            None if client.extras.hydra.dpop_bound_access_tokens => {
                Err(OAuthError::InvalidDpopProof("this client's access tokens are DPoP-bound: send a DPoP proof".into()))
            }
            None => Ok(Binding::Bearer),
        }
    }
}
