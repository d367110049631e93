//! Request objects (RFC 9101, OpenID Connect Core §6): an authorization request as a JWT
//! the client signed, passed by value in `request` at `/oauth2/auth` and `/oauth2/par`, or
//! by reference in `request_uri` at `/oauth2/auth`.
//!
//! A `request_uri` must be one of the client's registered `request_uris` (fragments
//! aside), so Clavis fetches only URLs an administrator or registration accepted, through
//! the outbound client, cached and single-flight (see `fetched`).
//!
//! Decisions: as RFC 9101 §5 says, only the object's parameters count (with the client_id),
//! and a `response_type` or `client_id` also given outside must equal the object's (OpenID
//! Connect Core §6.1). Signed objects verify with the client's keys (`jwks` or `jwks_uri`)
//! in its `request_object_signing_alg` if it registered one; an unsigned object
//! (`alg: none`) is accepted only from a client that registered `request_object_signing_alg:
//! "none"`, since it proves nothing about who wrote it.

use clavis_core::assertion::{alg_allows, AssertionKind, ClientJws};
use clavis_core::Client;
use serde_json::{Map, Value};

use crate::fetched::REQUEST_OBJECT_MAX_BYTES;
use crate::{OAuthError, Services};
/// Clock skew allowed on `exp` and `nbf`.
const SKEW_SECS: i64 = 60;
/// Claims about the JWT itself, not request parameters.
const JWT_CLAIMS: &[&str] = &["iss", "aud", "exp", "iat", "nbf", "jti"];

fn invalid(why: &str) -> OAuthError {
    OAuthError::Custom("invalid_request_object".into(), format!("the request object is invalid: {why}"))
}

fn invalid_uri(why: &str) -> OAuthError {
    OAuthError::Custom("invalid_request_uri".into(), why.into())
}

impl Services {
    /// The request object at `uri`, one of the client's `request_uris`. Why a fetch failed
    /// was logged; the caller learns only that it did (it must not map the network).
    pub(crate) async fn fetch_request_uri(&self, t: &clavis_core::TenantId, client: &Client, uri: &str) -> Result<String, OAuthError> {
        if !clavis_core::client::request_uri_registered(&client.extras.hydra.request_uris, uri) {
            return Err(invalid_uri("request_uri is not one of the client's registered request_uris"));
        }
        let doc = self
            .request_uri_fetcher
            .get(t, &client.client_id, uri, false)
            .await
            .map_err(|_| invalid_uri("the request object could not be fetched from request_uri"))?;
        Ok(doc.as_str().unwrap_or_default().to_owned())
    }

    /// The parameters of an authorization request made with the request object `request`:
    /// the object's, checked and verified, plus the client_id.
    pub(crate) async fn request_object_params(
        &self,
        t: &clavis_core::TenantId,
        issuer: &str,
        client: &Client,
        request: &str,
        params: &[(String, String)],
    ) -> Result<Vec<(String, String)>, OAuthError> {
        let registered = client.extras.hydra.request_object_signing_alg.as_str();
        let jws = ClientJws::parse(request, REQUEST_OBJECT_MAX_BYTES, registered == "none").map_err(invalid)?;
        if !jws.is_unsigned() {
            if !registered.is_empty() && !alg_allows(registered, &jws.alg) {
                return Err(invalid("its alg is not the client's request_object_signing_alg"));
            }
            if !client.fapi_profile.allows_alg(&jws.alg) {
                return Err(invalid("its alg is not allowed by the client's FAPI profile"));
            }
            if jws.kind() != AssertionKind::PrivateKey {
                return Err(invalid("HMAC-signed request objects are not supported; sign with the client's key"));
            }
            let verified =
                self.verify_with_client_keys(t, client, &jws).await.map_err(|_| invalid("the client's keys (jwks_uri) could not be had"))?;
            if !verified {
                return Err(invalid("the signature does not verify with the client's keys"));
            }
        }
        let claims: Map<String, Value> = jws.claims().ok_or_else(|| invalid("its payload is not a JSON object"))?;
        if claims.len() > clavis_core::form::MAX_PARAMS {
            return Err(invalid("it has too many claims"));
        }
        self.check_request_object_claims(issuer, client, &claims, params)?;
        let mut out: Vec<(String, String)> = claims
            .into_iter()
            .filter(|(k, _)| !JWT_CLAIMS.contains(&k.as_str()) && k != "client_id")
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        out.push(("client_id".into(), client.client_id.clone()));
        Ok(out)
    }

    fn check_request_object_claims(
        &self,
        issuer: &str,
        client: &Client,
        claims: &Map<String, Value>,
        outer: &[(String, String)],
    ) -> Result<(), OAuthError> {
        let now = self.now();
        let str_claim = |k: &str| claims.get(k).map(|v| v.as_str().ok_or_else(|| invalid(&format!("{k} must be a string"))));
        if let Some(id) = str_claim("client_id").transpose()? {
            if id != client.client_id {
                return Err(invalid("its client_id is not the request's"));
            }
        }
        if let Some(iss) = str_claim("iss").transpose()? {
            if iss != client.client_id {
                return Err(invalid("its iss must be the client_id"));
            }
        }
        if let Some(aud) = claims.get("aud") {
            let ok = match aud {
                Value::String(a) => a == issuer,
                Value::Array(a) => a.iter().any(|v| v.as_str() == Some(issuer)),
                _ => false,
            };
            if !ok {
                return Err(invalid("its aud must be the issuer"));
            }
        }
        let int_claim = |k: &str| claims.get(k).map(|v| v.as_i64().ok_or_else(|| invalid(&format!("{k} must be a number"))));
        if int_claim("exp").transpose()?.is_some_and(|exp| exp + SKEW_SECS < now) {
            return Err(invalid("it has expired"));
        }
        if int_claim("nbf").transpose()?.is_some_and(|nbf| nbf - SKEW_SECS > now) {
            return Err(invalid("it is not valid yet (nbf)"));
        }
        for nested in ["request", "request_uri"] {
            if claims.contains_key(nested) {
                return Err(invalid(&format!("it cannot contain {nested}")));
            }
        }
        // OpenID Connect Core §6.1: what is also sent outside must match.
        if let (Some(outside), Some(inside)) = (clavis_core::form::param(outer, "response_type"), str_claim("response_type").transpose()?) {
            if outside != inside {
                return Err(invalid("its response_type differs from the request's"));
            }
        }
        Ok(())
    }
}
