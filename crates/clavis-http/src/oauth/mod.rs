//! The public OAuth endpoints of every issuer: the default tenant at the root, every
//! tenant at `/t/{tenant}`. Errors are RFC 6749 §5.2 bodies.

mod authorize;
mod cors;
mod discovery;
mod lifecycle;
mod limits;
mod register;
pub mod token;
mod userinfo;

pub use limits::Limits;

use axum::extract::{DefaultBodyLimit, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clavis_core::TenantId;
use clavis_service::OAuthError;
use serde_json::json;

use crate::{AppState, PUBLIC_BODY_LIMIT};

/// The endpoints of one issuer, mounted at the root and under `/t/{tenant}`.
fn issuer_routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::openid_configuration))
        .route("/.well-known/oauth-authorization-server", get(discovery::authorization_server))
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/oauth2/auth", get(authorize::authorize).post(authorize::authorize))
        .route("/oauth/authorize", get(authorize::authorize).post(authorize::authorize))
        .route("/oauth2/token", post(token::token))
        .route("/oauth/token", post(token::token))
        .route("/oauth2/introspect", post(lifecycle::introspect))
        .route("/oauth/introspect", post(lifecycle::introspect))
        .route("/oauth2/revoke", post(lifecycle::revoke))
        .route("/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/oauth2/sessions/logout", get(authorize::logout).post(authorize::logout))
        .route("/oauth2/register", post(register::register))
        .route("/oauth2/register/{client_id}", get(register::get).put(register::update).delete(register::delete))
        .route("/oauth/revoke", post(lifecycle::revoke))
}

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .merge(issuer_routes())
        .nest("/t/{tenant}", issuer_routes())
        .route("/health/alive", get(crate::observe::alive))
        .fallback(|| async { not_found() })
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(state, cors::cors))
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": "not_found", "error_description": "no such endpoint"}))).into_response()
}

/// The issuer a request is addressed to: its tenant and its issuer URL.
pub struct Issuer {
    pub tenant: TenantId,
    pub url: String,
}

impl FromRequestParts<AppState> for Issuer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        let named = params.iter().find(|(k, _)| *k == "tenant").map(|(_, v)| v);
        let (tenant, at_root) = match named {
            None => (TenantId::default_tenant(), true),
            Some(raw) => (TenantId::parse(raw).ok_or_else(not_found)?, false),
        };
        match state.services.tenant_exists(&tenant).await {
            Ok(true) => Ok(Issuer { url: state.services.issuer(&tenant, at_root), tenant }),
            Ok(false) => Err(not_found()),
            Err(e) => Err(OAuthResponseError::from(OAuthError::from(e)).into_response()),
        }
    }
}

/// An [`OAuthError`] as an HTTP response: 400, or 401 with `WWW-Authenticate` for
/// `invalid_client`; never cached.
pub struct OAuthResponseError(pub OAuthError);

impl From<OAuthError> for OAuthResponseError {
    fn from(e: OAuthError) -> Self {
        Self(e)
    }
}

impl IntoResponse for OAuthResponseError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            OAuthError::ServerError(cause) => {
                tracing::error!(%cause, "token endpoint failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let body = json!({"error": self.0.code(), "error_description": self.0.description()});
        let mut resp = (status, Json(body)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"clavis\""));
        }
        resp
    }
}
