//! Clavis HTTP surfaces. Two routers, one per listener:
//! - [`public_router`]: the OAuth endpoints of every issuer (root = tenant `default`,
//!   and `/t/{tenant}`);
//! - [`admin_router`]: the authms admin API (`/admin/oauth/*`) and the internal API
//!   (`/internal/*`), served only on the admin listener.
//!
//! Handlers are thin: extractors authenticate and parse, the handler calls
//! [`clavis_service::Services`], and each surface maps errors in one place
//! ([`authms::ApiError`], [`oauth::OAuthResponseError`]).

mod auth;
pub mod authms;
pub mod client_cert;
pub mod client_ip;
pub mod hydra;
pub mod oauth;
pub mod observe;
mod params;

use std::sync::Arc;

use axum::Router;
use clavis_service::Services;

pub use client_cert::ListenerUrl;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    /// Whose forwarding headers name the client's address (`CLAVIS_TRUSTED_PROXIES`).
    pub trusted_proxies: client_ip::TrustedProxies,
}

pub fn public_router(state: AppState) -> Router {
    oauth::router(state.clone())
        .route("/health/ready", axum::routing::get(observe::ready))
        .route("/version", axum::routing::get(observe::version))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::observe_public))
        .with_state(state)
}

/// The admin listener's documented routes: the authms, internal and Hydra APIs and the
/// operations endpoints.
fn admin_routes() -> OpenApiRouter<AppState> {
    authms::router()
        .merge(hydra::router())
        .routes(routes!(observe::alive))
        .routes(routes!(observe::ready))
        .routes(routes!(observe::version))
        .routes(routes!(observe::metrics))
}

pub fn admin_router(state: AppState) -> Router {
    let (routes, _) = admin_routes().split_for_parts();
    // Built once; each request shares the bytes.
    let document = axum::body::Bytes::from(openapi_json());
    let serve_document = move || {
        let document = document.clone();
        async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], document) }
    };
    authms::fallbacks(routes)
        .route("/openapi.json", axum::routing::get(serve_document))
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::observe_admin))
        .with_state(state)
}

/// Document-wide parts of the OpenAPI description; the paths come from the routers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Clavis", description = include_str!("openapi-intro.md")),
    modifiers(&SecuritySchemes),
    tags(
        (name = "authms", description = "The tenant administrator's client API (admin listener, `{code,message,data,timestamp}` envelope)"),
        (name = "internal", description = "Service-to-service API (admin listener, `X-API-Key`)"),
        (name = "hydra", description = "Ory Hydra-compatible admin API (admin listener)"),
        (name = "operations", description = "Health and metrics (admin listener; health also on the public one)"),
        (name = "oauth2", description = "OAuth 2.0 / OpenID Connect endpoints (public listener; every tenant under `/t/{tenant}`)"),
        (name = "discovery", description = "Issuer metadata and keys (public listener; every tenant under `/t/{tenant}`)"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(what.to_owned());
            SecurityScheme::Http(http)
        };
        components
            .add_security_scheme("admin_token", bearer("An access token of this server with scope `admin`; its tenant is the tenant of every call"));
        components.add_security_scheme("access_token", bearer("An access token of this server"));
        components.add_security_scheme("registration_token", bearer("The RFC 7592 registration access token of the client"));
        components.add_security_scheme("initial_access_token", bearer("The RFC 7591 initial access token, when the server requires one"));
        components.add_security_scheme(
            "internal_api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description("X-API-Key", "One of CLAVIS_INTERNAL_API_KEYS"))),
        );
        components.add_security_scheme("client_basic", SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)));
    }
}

/// The OpenAPI 3.1 description of both listeners, generated from the routers' lists.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.merge(oauth::issuer_routes().into_openapi());
    doc.merge(admin_routes().into_openapi());
    doc
}

/// [`openapi`] as the pretty JSON that is committed as `openapi.json`.
pub fn openapi_json() -> String {
    let mut text = openapi().to_pretty_json().expect("the OpenAPI document serializes");
    text.push('\n');
    text
}
