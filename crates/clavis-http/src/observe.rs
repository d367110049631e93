//! Operations: request ids, access logs, Prometheus metrics, health checks.
//!
//! Every request gets an id (`X-Request-Id`, taken from the request if it is a sane value),
//! runs in a `request` span (request id, tenant, client) and ends with one log line with
//! method, route template, status and duration — never the query string or body, which may
//! carry codes and secrets. Metrics (`prometheus-client`) are kept in memory per node and
//! served at `/metrics` on the admin listener in Prometheus' text format 0.0.4; every label
//! has a bounded set of values, whatever the requests.

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

use crate::AppState;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The `route` label of a request that matched no route (the router's fallback, e.g. a 404).
pub const UNMATCHED: &str = "unmatched";

/// The `method` label: the standard methods by name, every other method string `other`,
/// so that a caller inventing methods cannot create new series.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The `route` label: the matched route template (`/t/{tenant}/oauth2/token`), never the
/// path, or [`UNMATCHED`]. Templates are a fixed set compiled into the routers.
#[derive(Clone, Debug)]
enum RouteLabel {
    Matched(MatchedPath),
    Unmatched,
}

impl RouteLabel {
    fn as_str(&self) -> &str {
        match self {
            RouteLabel::Matched(p) => p.as_str(),
            RouteLabel::Unmatched => UNMATCHED,
        }
    }
}

impl PartialEq for RouteLabel {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RouteLabel {}

impl std::hash::Hash for RouteLabel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl EncodeLabelValue for RouteLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// Labels of `clavis_http_requests_total`. Every one is bounded: two listeners, eight
/// method values, the routers' templates, and the status code (100–999).
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    listener: &'static str,
    method: &'static str,
    route: RouteLabel,
    status: u16,
}

/// Labels of `clavis_http_request_duration_seconds`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    listener: &'static str,
    route: RouteLabel,
}

/// Labels of `clavis_tokens_issued_total`. The grant type is one the token endpoint
/// implements (counted only once a token was issued), and the tenant one that exists:
/// tenants are created by the operator (admin or internal API), never by a caller of the
/// public listener, so the series grow with the operator's tenants, not with traffic.
#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TokenLabels {
    grant_type: String,
    tenant: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// The node's metrics (`prometheus-client`): each update is a hash lookup under a read
/// lock and an atomic add; a new series takes the write lock once.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    tokens: Family<TokenLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let tokens = Family::<TokenLabels, Counter>::default();
        let pool = Family::<PoolLabels, Gauge>::default();
        let mut registry = Registry::default();
        // Counters get their `_total` suffix from the encoder.
        registry.register("clavis_http_requests", "HTTP requests by listener, method, route and status", requests.clone());
        registry.register("clavis_http_request_duration_seconds", "Request latency by listener and route", latency.clone());
        registry.register("clavis_tokens_issued", "Tokens issued by grant type and tenant", tokens.clone());
        registry.register("clavis_db_pool_connections", "Database pool connections", pool.clone());
        Self { registry, requests, latency, tokens, pool }
    }
}

impl Metrics {
    fn record(&self, listener: &'static str, method: &Method, route: &RouteLabel, status: u16, secs: f64) {
        let method = method_label(method);
        self.requests.get_or_create(&RequestLabels { listener, method, route: route.clone(), status }).inc();
        self.latency.get_or_create(&RouteLabels { listener, route: route.clone() }).observe(secs);
    }

    /// A token was issued.
    pub fn token_issued(&self, grant: &str, tenant: &str) {
        self.tokens.get_or_create(&TokenLabels { grant_type: grant.to_owned(), tenant: tenant.to_owned() }).inc();
    }

    /// The Prometheus text format (0.0.4) of every metric; `pool` is (open, idle).
    fn render(&self, pool: (u32, usize)) -> String {
        self.pool.get_or_create(&PoolLabels { state: "open" }).set(i64::from(pool.0));
        self.pool.get_or_create(&PoolLabels { state: "idle" }).set(i64::try_from(pool.1).unwrap_or(i64::MAX));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

/// Set on a response by handlers that know which client the request was for, so that
/// the access log can name it.
#[derive(Clone)]
pub struct LoggedClient(pub String);

/// A request id from the caller if it is short and printable, else a new one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

/// A process-unique id: a random prefix drawn once, then a counter — no system call and no
/// lock per request.
fn new_request_id() -> String {
    use std::sync::atomic::AtomicU64;
    use std::sync::OnceLock;
    static PREFIX: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| clavis_core::ids::random_token(6));
    format!("{prefix}-{:08x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The span every request runs in: its id from the start, its tenant and client as soon as
/// an extractor or the service knows them (`tracing::Span::current().record("tenant", …)`,
/// `….record("client", …)`), so every log line of the request carries them.
fn request_span(id: &str) -> tracing::Span {
    tracing::info_span!("request", request_id = %id, tenant = tracing::field::Empty, client = tracing::field::Empty)
}

/// Runs on every request of a listener, matched or not (it is a `layer`, not a
/// `route_layer`, so the fallback's 404s are counted and logged too).
async fn observe(listener: &'static str, st: AppState, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = match req.extensions().get::<MatchedPath>() {
        Some(p) => RouteLabel::Matched(p.clone()),
        None => RouteLabel::Unmatched,
    };
    let tenant = req.uri().path().strip_prefix("/t/").and_then(|r| r.split('/').next()).unwrap_or("default").to_owned();
    let span = request_span(&id);
    let mut resp = next.run(req).instrument(span.clone()).await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    st.metrics.record(listener, &method, &route, status, secs);
    let client_id = resp.extensions().get::<LoggedClient>().map(|c| c.0.as_str()).unwrap_or("");
    // The method as sent (an invented one is logged, cut to 32 characters, but not
    // counted as its own series), the route as labelled.
    let method = &method.as_str()[..method.as_str().len().min(32)];
    // In the request span as its parent, without entering it again.
    tracing::info!(target: "clavis::access", parent: &span, request_id = %id, listener, method, route = route.as_str(), tenant,
                   client_id = %client_id, status, duration_ms = secs * 1000.0, "request");
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

pub async fn observe_public(State(st): State<AppState>, req: Request, next: Next) -> Response {
    observe("public", st, req, next).await
}

pub async fn observe_admin(State(st): State<AppState>, req: Request, next: Next) -> Response {
    observe("admin", st, req, next).await
}

/// Prometheus text exposition (admin listener).
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String)))]
pub async fn metrics(State(st): State<AppState>) -> Response {
    let body = st.metrics.render(st.services.pool_stats());
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

/// A health answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// Hydra's `getVersion`.
#[derive(Serialize, ToSchema)]
pub struct Version {
    version: &'static str,
}

/// The server's version (both listeners; Hydra's MetadataApi `getVersion`).
#[utoipa::path(get, path = "/version", operation_id = "getVersion", tag = "operations", responses((status = 200, body = Version)))]
pub async fn version() -> Json<Version> {
    Json(Version { version: env!("CARGO_PKG_VERSION") })
}

/// The process serves requests (both listeners).
#[utoipa::path(get, path = "/health/alive", operation_id = "isAlive", tag = "operations", responses((status = 200, body = Health)))]
pub async fn alive() -> Json<Health> {
    Json(Health { status: "ok", reason: None })
}

/// Ready when the database answers (both listeners).
#[utoipa::path(get, path = "/health/ready", operation_id = "isReady", tag = "operations",
    responses((status = 200, body = Health), (status = 503, description = "The database is unreachable", body = Health)))]
pub async fn ready(State(st): State<AppState>) -> Response {
    match st.services.ping().await {
        Ok(()) => Json(Health { status: "ok", reason: None }).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            let body = Health { status: "unavailable", reason: Some("database unreachable") };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
