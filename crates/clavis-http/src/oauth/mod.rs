//! The public OAuth endpoints of every issuer: the default tenant at the root, every
//! tenant at `/t/{tenant}`. Errors are RFC 6749 §5.2 bodies.

mod authms_oauth;
mod authorize;
mod cors;
mod credentials;
mod device;
mod discovery;
pub(crate) mod dpop;
mod lifecycle;
mod limits;
mod pages;
mod par;
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
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{AppState, PUBLIC_BODY_LIMIT};
pub(crate) use pages::error_page;

/// The endpoints of one issuer, mounted at the root and under `/t/{tenant}`; the
/// OpenAPI document is built from the same list. The `/oauth/*` aliases (the authms
/// paths) are the same handlers, documented once under their `/oauth2/*` names.
pub fn issuer_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery::openid_configuration))
        .routes(routes!(discovery::authorization_server))
        .routes(routes!(discovery::jwks))
        .routes(routes!(authorize::authorize, authorize::authorize_form))
        .routes(routes!(token::token))
        .routes(routes!(par::push))
        .routes(routes!(lifecycle::introspect))
        .routes(routes!(lifecycle::revoke))
        .routes(routes!(userinfo::userinfo, userinfo::userinfo_post))
        .routes(routes!(credentials::create))
        .routes(routes!(device::authorize_device))
        .routes(routes!(authorize::device_verify))
        .routes(routes!(device::done))
        .routes(routes!(device::verify))
        .routes(routes!(authms_oauth::push))
        .routes(routes!(authms_oauth::userinfo))
        .routes(routes!(authms_oauth::list_consents))
        .routes(routes!(authms_oauth::revoke_consent))
        .routes(routes!(authorize::logout, authorize::logout_form))
        .routes(routes!(register::register))
        .routes(routes!(register::get, register::update, register::delete))
        .route("/oauth/authorize", get(authorize::authorize).post(authorize::authorize))
        .route("/oauth/token", post(token::token))
        .route("/oauth/introspect", post(lifecycle::introspect))
        .route("/oauth/revoke", post(lifecycle::revoke))
}

/// The public listener's routes: every issuer, plus what lies outside them.
pub fn router(state: AppState) -> Router<AppState> {
    let (root, _) = issuer_routes().split_for_parts();
    let (tenant, _) = issuer_routes().split_for_parts();
    root.nest("/t/{tenant}", tenant)
        // RFC 8414 §3.1: for an issuer with a path, the well-known segment comes first
        // (`/.well-known/oauth-authorization-server/t/acme`); the suffix form under
        // `/t/{tenant}` above is the one OIDC Discovery §4 builds.
        .route("/.well-known/oauth-authorization-server/t/{tenant}", get(discovery::authorization_server))
        .route("/health/alive", get(crate::observe::alive))
        .fallback(|| async { not_found() })
        .layer(DefaultBodyLimit::max(PUBLIC_BODY_LIMIT))
        .layer(cors::layer(&state))
}

/// An RFC 6749 §5.2 error body.
#[derive(Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, `invalid_token`, `temporarily_unavailable`, …
    pub error: String,
    pub error_description: String,
}

impl OAuthErrorBody {
    pub fn json(error: &str, description: impl Into<String>) -> Json<Self> {
        Json(Self { error: error.to_owned(), error_description: description.into() })
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, OAuthErrorBody::json("not_found", "no such endpoint")).into_response()
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
            Ok(true) => {
                tracing::Span::current().record("tenant", tenant.as_str());
                Ok(Issuer { url: state.services.issuer(&tenant, at_root), tenant })
            }
            Ok(false) => Err(not_found()),
            Err(e) => Err(OAuthResponseError::from(OAuthError::from(e)).into_response()),
        }
    }
}

/// RFC 9449 §8: the header that carries a server's DPoP nonce.
pub(crate) const DPOP_NONCE: header::HeaderName = header::HeaderName::from_static("dpop-nonce");

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
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            // The detail and its causes go to the log only.
            tracing::error!(error = %clavis_service::error_chain(&self.0), "request failed");
        }
        let mut resp = (status, OAuthErrorBody::json(self.0.code(), self.0.description())).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"clavis\""));
        }
        match &self.0 {
            OAuthError::RateLimited(secs) => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            OAuthError::UseDpopNonce { nonce } => dpop::set_nonce(h, nonce),
            _ => {}
        }
        resp
    }
}
