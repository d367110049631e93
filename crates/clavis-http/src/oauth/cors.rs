//! CORS for the public endpoints (tower-http's `CorsLayer`): a browser origin is allowed
//! when the service says so (`Services::cors_allowed`: the origin of a redirect URI of one
//! of the tenant's active clients). The tenant comes from the path (`/t/{tenant}/…`, or
//! `default` at the root). Other origins get no `Access-Control-Allow-Origin`, so the
//! browser refuses the call.
//!
//! Every response carries `Vary: origin, access-control-request-method,
//! access-control-request-headers` (also without an `Origin`: a cache must not hand a
//! response made for one origin to another), and actual CORS responses expose the headers a
//! browser client reads (`WWW-Authenticate`, `Retry-After`, `X-Request-Id`). Every `OPTIONS`
//! request is answered by the layer itself, as a preflight; one with
//! `Access-Control-Request-Method` gets 204.

use std::time::Duration;

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use clavis_core::TenantId;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;

/// How long a browser may cache a preflight's answer.
const MAX_AGE: Duration = Duration::from_secs(600);

/// The tenant a public path belongs to: `/t/{tenant}/…`, or `default` at the root.
fn tenant_of_path(path: &str) -> Option<TenantId> {
    match path.strip_prefix("/t/") {
        Some(rest) => TenantId::parse(rest.split('/').next().unwrap_or("")),
        None => Some(TenantId::default_tenant()),
    }
}

/// The CORS layer of the public router; the origin decision is the service's.
pub fn layer(st: &AppState) -> CorsLayer {
    let services = st.services.clone();
    let allowed = AllowOrigin::async_predicate(move |origin: HeaderValue, parts: &Parts| {
        let services = services.clone();
        let tenant = tenant_of_path(parts.uri.path());
        async move {
            match (tenant, origin.to_str()) {
                (Some(t), Ok(origin)) => services.cors_allowed(&t, origin).await,
                _ => false,
            }
        }
    });
    CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("dpop")])
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
        .max_age(MAX_AGE)
}

/// Outside [`layer`]: a preflight's answer is 204 No Content (the layer answers 200 with
/// an empty body).
pub async fn preflight_no_content(req: Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = next.run(req).await;
    if preflight && resp.status() == StatusCode::OK {
        *resp.status_mut() = StatusCode::NO_CONTENT;
    }
    resp
}
