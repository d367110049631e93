//! Rich authorization requests (RFC 9396): `authorization_details` at the authorization
//! endpoint and PAR — a JSON array of objects, each of a `type` the client registered
//! (`authorization_details_types`, §10). The consent app sees what was asked and grants
//! what it approves (possibly narrowed: only objects of requested types); what it grants
//! is in the token response, the access token and introspection (§7, §9).

use clavis_core::{Client, ValidationError};
use serde_json::Value;

use crate::OAuthError;

/// The largest `authorization_details` read, and the most objects in it.
const MAX_BYTES: usize = 16 * 1024;
const MAX_OBJECTS: usize = 20;

fn invalid(m: impl Into<String>) -> OAuthError {
    OAuthError::Custom("invalid_authorization_details".into(), m.into())
}

/// The `type`s of an array of authorization details; `None` if it is not one.
fn types(details: &Value) -> Option<Vec<&str>> {
    let list = details.as_array()?;
    if list.is_empty() || list.len() > MAX_OBJECTS {
        return None;
    }
    list.iter().map(|d| d.as_object()?.get("type")?.as_str().filter(|t| !t.is_empty())).collect()
}

/// The request's `authorization_details`, checked against the client's registration
/// (RFC 9396 §5: `invalid_authorization_details` otherwise).
pub(crate) fn parse_request(client: &Client, raw: &str) -> Result<Value, OAuthError> {
    if raw.len() > MAX_BYTES {
        return Err(invalid("authorization_details is too large"));
    }
    let details: Value = serde_json::from_str(raw).map_err(|_| invalid("authorization_details must be a JSON array"))?;
    let kinds = types(&details).ok_or_else(|| invalid(format!("authorization_details must be 1 to {MAX_OBJECTS} objects, each with a type")))?;
    let registered = &client.extras.hydra.authorization_details_types;
    if let Some(t) = kinds.iter().find(|t| !registered.iter().any(|r| r == *t)) {
        return Err(invalid(format!("authorization details type {t:?} is not registered for this client")));
    }
    Ok(details)
}

/// What a consent app grants: authorization details of types that were requested.
pub(crate) fn check_grant(requested: Option<&Value>, granted: &Value) -> Result<(), ValidationError> {
    let field = "grant_authorization_details";
    let asked = requested.and_then(types).unwrap_or_default();
    let kinds = types(granted).ok_or_else(|| ValidationError::new(field, format!("must be 1 to {MAX_OBJECTS} objects, each with a type")))?;
    if serde_json::to_string(granted).map_or(true, |s| s.len() > MAX_BYTES) {
        return Err(ValidationError::new(field, "is too large"));
    }
    match kinds.iter().find(|t| !asked.contains(t)) {
        Some(t) => Err(ValidationError::new(field, format!("type {t:?} was not requested"))),
        None => Ok(()),
    }
}
