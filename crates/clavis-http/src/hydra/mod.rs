//! Ory Hydra-compatible admin endpoints: the login and consent requests of the
//! authorization flow (`/admin/oauth2/auth/requests/*`), clients, and token introspection
//! and deletion. Errors use Hydra's body
//! `{"error","error_description"}`.

pub mod clients;
mod keys;
mod login_consent;
mod tokens;
mod trust;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_service::{ClientMetadataError, Principal, ServiceError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{admin_principal, AdminAuthError};
use crate::AppState;

/// The Hydra routes; the OpenAPI document is built from the same list.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login_consent::get_login))
        .routes(routes!(login_consent::accept_login))
        .routes(routes!(login_consent::reject_login))
        .routes(routes!(login_consent::get_consent))
        .routes(routes!(login_consent::accept_consent))
        .routes(routes!(login_consent::reject_consent))
        .routes(routes!(login_consent::get_logout))
        .routes(routes!(login_consent::accept_logout))
        .routes(routes!(login_consent::reject_logout))
        .routes(routes!(login_consent::revoke_login_sessions))
        .routes(routes!(login_consent::accept_user_code))
        .routes(routes!(login_consent::list_consent_sessions, login_consent::revoke_consent_sessions))
        .routes(routes!(clients::create, clients::list))
        .routes(routes!(clients::get, clients::replace, clients::patch, clients::delete))
        .routes(routes!(clients::lifespans))
        .routes(routes!(tokens::introspect))
        .routes(routes!(tokens::delete_tokens))
        .routes(routes!(keys::create_set, keys::get_set, keys::set_set, keys::delete_set))
        .routes(routes!(keys::get_key, keys::set_key, keys::delete_key))
        .routes(routes!(trust::trust, trust::list))
        .routes(routes!(trust::get, trust::delete))
}

/// Paths of Hydra's admin API, which answer in Hydra's error format even where no route
/// matches (`/admin/oauth/…` without the 2 is the authms API).
pub(crate) fn is_hydra_path(path: &str) -> bool {
    ["/admin/clients", "/admin/oauth2", "/admin/keys", "/admin/trust"].iter().any(|root| path == *root || path.starts_with(&format!("{root}/")))
}

/// Hydra's error body (`genericError`).
#[derive(Serialize, ToSchema)]
pub struct HydraErrorBody {
    error: &'static str,
    error_description: String,
    status_code: u16,
}

/// Hydra's error body, with its status.
pub struct HydraError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl HydraError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into() }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl IntoResponse for HydraError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(cause = %self.description, "internal error");
        }
        let description = if self.status == StatusCode::INTERNAL_SERVER_ERROR { "internal server error".into() } else { self.description };
        let body = HydraErrorBody { error: self.error, error_description: description, status_code: self.status.as_u16() };
        let mut resp = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<ServiceError> for HydraError {
    fn from(e: ServiceError) -> Self {
        let chain = clavis_service::error_chain(&e);
        match e {
            ServiceError::Invalid(v) => Self::bad_request(v.to_string()),
            ServiceError::NotFound(what) => Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found")),
            ServiceError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            ServiceError::Refused(m) => Self::bad_request(m),
            ServiceError::Unavailable(_) => {
                tracing::error!(error = %chain, "database unavailable");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the service is temporarily unavailable; retry later")
            }
            // The cause chain goes to the log only (`into_response`); it may name tables or values.
            ServiceError::Internal { .. } => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", chain),
        }
    }
}

/// Refused client metadata, on the Hydra admin API and in dynamic registration alike.
impl From<ClientMetadataError> for HydraError {
    fn from(e: ClientMetadataError) -> Self {
        let code = match &e {
            ClientMetadataError::Field { field, .. } if field.contains("redirect_uri") => "invalid_redirect_uri",
            ClientMetadataError::Field { .. } | ClientMetadataError::Metadata(_) => "invalid_client_metadata",
            ClientMetadataError::Request(_) => "invalid_request",
        };
        Self::new(StatusCode::BAD_REQUEST, code, e.to_string())
    }
}

/// An admin caller, as on the authms API, refused in Hydra's error format.
pub struct HydraAdmin(pub Principal);

impl FromRequestParts<AppState> for HydraAdmin {
    type Rejection = HydraError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HydraError> {
        admin_principal(parts, state).await.map(HydraAdmin).map_err(|e| match e {
            AdminAuthError::Unauthorized(m) => HydraError::new(StatusCode::UNAUTHORIZED, "unauthorized", m),
            AdminAuthError::Forbidden(m) => HydraError::new(StatusCode::FORBIDDEN, "forbidden", m),
            AdminAuthError::Failed(e) => HydraError::from(e),
        })
    }
}

/// `page_size` of a Hydra list: 1 to [`clients::MAX_PAGE_SIZE`] (larger is capped),
/// [`clients::DEFAULT_PAGE_SIZE`] when absent; present but not a positive integer is 400.
pub(crate) fn page_size(params: &[(String, String)]) -> Result<i64, HydraError> {
    match params.iter().find(|(n, _)| n == "page_size").map(|(_, v)| v.as_str()) {
        None => Ok(clients::DEFAULT_PAGE_SIZE),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(clients::MAX_PAGE_SIZE))
            .ok_or_else(|| HydraError::bad_request("page_size must be a positive integer")),
    }
}

/// The pairs of a query string (see [`crate::params`] for the limits).
pub(crate) fn query_params(query: Option<&str>) -> Result<Vec<(String, String)>, HydraError> {
    crate::params::parse(query.unwrap_or("").as_bytes(), false).map_err(|e| HydraError::bad_request(e.to_string()))
}

/// A parameter's value from [`query_params`]; an empty value counts as absent.
pub(crate) use clavis_core::form::param;

/// A JSON object body (required).
pub struct HydraJson<T>(pub T);

/// A JSON array body (required): a JSON Patch.
pub struct HydraJsonArray<T>(pub Vec<T>);

impl<T: DeserializeOwned> FromRequest<AppState> for HydraJson<T> {
    type Rejection = HydraError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, HydraError> {
        let value = read_json(req, state).await?;
        if !value.is_object() {
            return Err(HydraError::bad_request("the body must be a JSON object"));
        }
        deserialize(value).map(HydraJson)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for HydraJsonArray<T> {
    type Rejection = HydraError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, HydraError> {
        let value = read_json(req, state).await?;
        if !value.is_array() {
            return Err(HydraError::bad_request("the body must be a JSON array"));
        }
        deserialize(value).map(HydraJsonArray)
    }
}

async fn read_json(req: Request, state: &AppState) -> Result<serde_json::Value, HydraError> {
    let body =
        Bytes::from_request(req, state).await.map_err(|e| HydraError::new(e.status(), "invalid_request", "could not read the request body"))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HydraError::bad_request("a JSON body is required"));
    }
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|_| HydraError::bad_request("malformed JSON"))?;
    if crate::authms::has_nul(&value) {
        return Err(HydraError::bad_request("strings must not contain NUL characters"));
    }
    Ok(value)
}

fn deserialize<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, HydraError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        HydraError::bad_request(format!("{path}: {}", e.into_inner()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_metadata_maps_to_hydras_codes() {
        let map = |e: ClientMetadataError| {
            let h = HydraError::from(e);
            (h.status, h.error, h.description)
        };
        let bad = StatusCode::BAD_REQUEST;
        assert_eq!(map(ClientMetadataError::field("redirect_uris", "bad")), (bad, "invalid_redirect_uri", "redirect_uris: bad".into()));
        assert_eq!(map(ClientMetadataError::field("post_logout_redirect_uris[0]", "bad")).1, "invalid_redirect_uri");
        assert_eq!(map(ClientMetadataError::field("scope", "bad")), (bad, "invalid_client_metadata", "scope: bad".into()));
        assert_eq!(map(ClientMetadataError::Metadata("owner cannot be set".into())), (bad, "invalid_client_metadata", "owner cannot be set".into()));
        assert_eq!(map(ClientMetadataError::Request("/client_id is managed".into())), (bad, "invalid_request", "/client_id is managed".into()));
    }
}
