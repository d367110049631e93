//! CORS for the public endpoints: a browser origin is allowed when it is the origin of a
//! redirect URI of one of the tenant's active clients (`cors_origins`). Preflights from
//! other origins get no CORS headers, so the browser refuses the call.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clavis_core::TenantId;

use crate::AppState;

/// The tenant a public path belongs to: `/t/{tenant}/…`, or `default` at the root.
fn tenant_of_path(path: &str) -> Option<TenantId> {
    match path.strip_prefix("/t/") {
        Some(rest) => TenantId::parse(rest.split('/').next().unwrap_or("")),
        None => Some(TenantId::default_tenant()),
    }
}

pub async fn cors(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(origin) = origin else { return next.run(req).await };
    let allowed = match tenant_of_path(req.uri().path()) {
        Some(t) => st.services.cors_allowed(&t, &origin).await,
        None => false,
    };
    let preflight = req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if preflight { StatusCode::NO_CONTENT.into_response() } else { next.run(req).await };
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if allowed {
        if let Ok(v) = HeaderValue::from_str(&origin) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
        if preflight {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type, DPoP"));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    resp
}
