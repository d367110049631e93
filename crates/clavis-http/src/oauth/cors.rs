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
//! `Access-Control-Request-Method` gets 204 (tower-http answers 200).
//!
//! Only requests that can be CORS requests (with an `Origin`, or `OPTIONS`) go through
//! tower-http's `Cors`. For every request it sees, it builds a header map and joins its
//! header lists, and axum clones the layer's configuration (a `Vec` among it) with the
//! route for every request. Every other request, which is all non-browser traffic, goes
//! straight to the route and gets the same `Vary`, a static value (docs/benchmarks.md,
//! 2026-12-02).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;
use clavis_core::TenantId;
use pin_project_lite::pin_project;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_layer::Layer;
use tower_service::Service;

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

/// What every public response varies on: tower-http's default list, which its `Cors` adds
/// to the responses it handles.
const VARY: HeaderValue = HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers");

/// The CORS layer of the public router; the origin decision is the service's.
pub fn layer(st: &AppState) -> BrowserCorsLayer {
    BrowserCorsLayer(cors_layer(st))
}

fn cors_layer(st: &AppState) -> CorsLayer {
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
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("dpop-nonce"),
        ])
        .max_age(MAX_AGE)
}

/// Sends requests that can be CORS requests through tower-http's [`Cors`](tower_http::cors::Cors), the others
/// past it.
#[derive(Clone)]
pub struct BrowserCorsLayer(CorsLayer);

impl<S> Layer<S> for BrowserCorsLayer {
    type Service = BrowserCors<S>;

    fn layer(&self, inner: S) -> BrowserCors<S> {
        BrowserCors { inner, cors: Arc::new(self.0.clone()) }
    }
}

/// The route and the CORS configuration. axum clones a route's whole middleware stack
/// for every request: the configuration sits behind an `Arc`, and a [`Cors`](tower_http::cors::Cors) is only
/// built for a request that needs one.
#[derive(Clone)]
pub struct BrowserCors<S> {
    inner: S,
    cors: Arc<CorsLayer>,
}

impl<S> Service<Request> for BrowserCors<S>
where
    S: Service<Request, Response = Response> + Clone,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BrowserCorsFuture<tower_http::cors::ResponseFuture<S::Future>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let preflight = req.method() == Method::OPTIONS;
        if !preflight && !req.headers().contains_key(header::ORIGIN) {
            return BrowserCorsFuture::Direct { fut: self.inner.call(req) };
        }
        let preflight = preflight && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        // The service that was polled ready goes into the `Cors`; a clone stays.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        BrowserCorsFuture::Cors { fut: self.cors.layer(ready).call(req), preflight }
    }
}

pin_project! {
    #[project = Projected]
    pub enum BrowserCorsFuture<C, D> {
        Cors { #[pin] fut: C, preflight: bool },
        Direct { #[pin] fut: D },
    }
}

impl<C, D, E> Future for BrowserCorsFuture<C, D>
where
    C: Future<Output = Result<Response, E>>,
    D: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Cors { fut, preflight } => {
                let mut resp = ready!(fut.poll(cx))?;
                if *preflight && resp.status() == StatusCode::OK {
                    *resp.status_mut() = StatusCode::NO_CONTENT;
                }
                Poll::Ready(Ok(resp))
            }
            Projected::Direct { fut } => {
                let mut resp = ready!(fut.poll(cx))?;
                resp.headers_mut().append(header::VARY, VARY);
                Poll::Ready(Ok(resp))
            }
        }
    }
}
