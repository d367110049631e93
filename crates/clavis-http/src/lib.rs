//! Clavis HTTP surfaces. Two routers, one per listener:
//! - [`public_router`]: the OAuth endpoints of every issuer (root = tenant `default`,
//!   and `/t/{tenant}`);
//! - [`admin_router`]: the authms admin API (`/admin/oauth/*`) and the internal API
//!   (`/internal/*`), served only on the admin listener.
//!
//! Handlers are thin: extractors authenticate and parse, the handler calls
//! [`clavis_service::Services`], and each surface maps errors in one place
//! ([`authms::ApiError`], [`oauth::OAuthResponseError`]).

pub mod authms;
mod auth;
pub mod hydra;
pub mod oauth;
pub mod observe;

use std::sync::Arc;

use axum::Router;
use clavis_service::Services;

/// Request bodies larger than this are refused with 413 (a JWKS of 20 RSA keys fits).
pub const ADMIN_BODY_LIMIT: usize = 256 * 1024;
pub const PUBLIC_BODY_LIMIT: usize = 64 * 1024;
/// A request that takes longer is answered 408 (a stuck database, a slow jwks_uri).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The state every handler gets through axum's `State`: one `Arc`, because axum clones
/// it several times per request (each clone of the parts would be a dozen atomic
/// reference-count updates, contended between cores).
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

pub struct AppParts {
    pub services: Services,
    /// Keys accepted in `X-API-Key` on `/internal/*`. Empty: the internal API refuses all.
    pub internal_api_keys: Arc<Vec<String>>,
    pub metrics: Arc<observe::Metrics>,
    pub limits: Arc<oauth::Limits>,
}

pub fn public_router(state: AppState) -> Router {
    oauth::router(state.clone())
        .route("/health/ready", axum::routing::get(observe::ready))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), observe::observe_public))
        .with_state(state)
}

pub fn admin_router(state: AppState) -> Router {
    authms::router()
        .merge(hydra::router())
        .route("/health/alive", axum::routing::get(observe::alive))
        .route("/health/ready", axum::routing::get(observe::ready))
        .route("/metrics", axum::routing::get(observe::metrics))
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), observe::observe_admin))
        .with_state(state)
}
