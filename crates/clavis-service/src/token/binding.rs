//! Token binding: how an access token is tied to whoever presents it. Every grant's
//! tokens go through here, so a binding is decided once per request and carried by what
//! is signed (`cnf`, RFC 7800) and what is answered (`token_type`).
//!
//! - Bearer (RFC 6750): no proof of possession, no `cnf`.
//! - DPoP (RFC 9449): the request's `DPoP` proof names a key; the access token carries
//!   its thumbprint (`cnf.jkt`) and is of type `DPoP`. A client registered with
//!   `dpop_bound_access_tokens` gets no other.
//! - mTLS (RFC 8705 §3): for a client registered with
//!   `tls_client_certificate_bound_access_tokens`, the access token carries the SHA-256
//!   thumbprint of the client's TLS certificate (`cnf.x5t#S256`).
//!
//! The resource side checks both where access tokens are accepted ([`crate::tokens`]).

use clavis_core::{Client, FapiProfile};
use serde_json::{json, Value};

use super::TokenRequest;
use crate::{OAuthError, Services};

/// The binding of the tokens a request is issued: to a DPoP key, to the client's TLS
/// certificate, to both, or none (bearer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Binding {
    /// RFC 9449: the RFC 7638 thumbprint of the request's DPoP key.
    pub dpop: Option<String>,
    /// RFC 8705 §3: `x5t#S256` of the client certificate.
    pub certificate: Option<String>,
}

impl Binding {
    /// `token_type` of the token response (RFC 6749 §7.1): `DPoP` for a DPoP-bound token
    /// (RFC 9449 §5), else `Bearer` (a certificate-bound token is used as one, RFC 8705 §3).
    pub fn token_type(&self) -> &'static str {
        if self.dpop.is_some() {
            "DPoP"
        } else {
            "Bearer"
        }
    }

    /// The confirmation claim (`cnf`) the access token carries; none for a bearer token.
    pub fn confirmation(&self) -> Option<Value> {
        let mut cnf = serde_json::Map::new();
        if let Some(jkt) = &self.dpop {
            cnf.insert("jkt".into(), json!(jkt));
        }
        if let Some(x5t) = &self.certificate {
            cnf.insert("x5t#S256".into(), json!(x5t));
        }
        (!cnf.is_empty()).then_some(Value::Object(cnf))
    }

    /// The DPoP key's thumbprint, if the binding has one.
    pub fn jkt(&self) -> Option<&str> {
        self.dpop.as_deref()
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
    /// (the client has authenticated, so its `jti` may be spent), and the client's
    /// certificate for a client registered with `tls_client_certificate_bound_access_tokens`.
    pub(crate) async fn binding_for(&self, req: &TokenRequest<'_>, client: &Client) -> Result<Binding, OAuthError> {
        let profile = client.fapi_profile;
        let dpop = match &req.dpop {
            Some(input) => {
                let proof = self.prove_dpop(req.tenant, input, None).await?;
                if !profile.allows_alg(&proof.alg) {
                    return Err(OAuthError::InvalidDpopProof(format!("{} is not allowed by the client's FAPI profile", proof.alg)));
                }
                Some(proof.jkt)
            }
            None if client.extras.hydra.dpop_bound_access_tokens => {
                return Err(OAuthError::InvalidDpopProof("this client's access tokens are DPoP-bound: send a DPoP proof".into()))
            }
            None => None,
        };
        // FAPI 1.0 Advanced §5.2.2-5: certificate-bound tokens; FAPI 2.0 §5.3.2.1-1: DPoP- or
        // certificate-bound. Either profile binds to a certificate it is given.
        let bind_certificate = client.extras.mtls.tls_client_certificate_bound_access_tokens
            || profile == FapiProfile::Fapi1
            || (profile == FapiProfile::Fapi2 && dpop.is_none());
        let certificate = match (&req.certificate, bind_certificate) {
            (_, false) => None,
            (Some(c), true) => Some(c.thumbprint()),
            (None, true) if profile == FapiProfile::Fapi2 => {
                return Err(OAuthError::InvalidRequest(
                    "this client (fapi2) needs sender-constrained tokens: send a DPoP proof or use mutual TLS".into(),
                ))
            }
            (None, true) => {
                return Err(OAuthError::InvalidRequest("this client's access tokens are bound to its certificate: connect with mutual TLS".into()))
            }
        };
        Ok(Binding { dpop, certificate })
    }
}
