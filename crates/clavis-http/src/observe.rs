//! Operations: request ids, access logs, Prometheus metrics, health checks.
//!
//! Every request gets an id (`X-Request-Id`, taken from the request if it is a sane value)
//! and one log line with method, route template, status and duration — never the query
//! string or body, which may carry codes and secrets. Metrics are kept in memory per node
//! and served at `/metrics` on the admin listener in Prometheus' text format.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    /// Sum of the durations in microseconds.
    sum_us: AtomicU64,
    total: AtomicU64,
}

/// Per route: requests by (method, status), and the latency histogram. Counters are
/// atomics under a read lock, so concurrent requests do not wait on each other.
#[derive(Default)]
struct RouteStats {
    by_status: RwLock<HashMap<(String, u16), AtomicU64>>,
    latency: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    /// listener → route → stats. A known route costs a read lock and no allocation.
    routes: RwLock<HashMap<&'static str, HashMap<String, RouteStats>>>,
    /// (grant type, tenant) → tokens issued
    tokens: RwLock<HashMap<(String, String), AtomicU64>>,
}

/// Adds one to `key`'s counter, taking the write lock only for a new key.
fn bump<K: std::hash::Hash + Eq>(map: &RwLock<HashMap<K, AtomicU64>>, key: impl FnOnce() -> K, find: impl Fn(&K) -> bool) {
    if let Some((_, n)) = map.read().expect("metrics").iter().find(|(k, _)| find(k)) {
        n.fetch_add(1, Ordering::Relaxed);
        return;
    }
    map.write().expect("metrics").entry(key()).or_default().fetch_add(1, Ordering::Relaxed);
}

impl Metrics {
    fn record(&self, listener: &'static str, method: &str, route: &str, status: u16, secs: f64) {
        let known = self.routes.read().expect("metrics").get(listener).is_some_and(|r| r.contains_key(route));
        if !known {
            self.routes.write().expect("metrics").entry(listener).or_default().entry(route.to_owned()).or_default();
        }
        let routes = self.routes.read().expect("metrics");
        let Some(stats) = routes.get(listener).and_then(|r| r.get(route)) else { return };
        bump(&stats.by_status, || (method.to_owned(), status), |(m, s)| m == method && *s == status);
        let h = &stats.latency;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        h.sum_us.fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
        h.total.fetch_add(1, Ordering::Relaxed);
    }

    /// A token was issued.
    pub fn token_issued(&self, grant: &str, tenant: &str) {
        bump(&self.tokens, || (grant.to_owned(), tenant.to_owned()), |(g, t)| g == grant && t == tenant);
    }

    fn render(&self, pool: (u32, usize)) -> String {
        let mut out = String::new();
        let routes = self.routes.read().expect("metrics");
        let _ = writeln!(out, "# HELP clavis_http_requests_total HTTP requests by listener, method, route and status.");
        let _ = writeln!(out, "# TYPE clavis_http_requests_total counter");
        for (listener, route, stats) in routes.iter().flat_map(|(l, rs)| rs.iter().map(move |(r, s)| (l, r, s))) {
            for ((method, status), n) in stats.by_status.read().expect("metrics").iter() {
                let n = n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "clavis_http_requests_total{{listener=\"{listener}\",method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# HELP clavis_http_request_duration_seconds Request latency by listener and route.");
        let _ = writeln!(out, "# TYPE clavis_http_request_duration_seconds histogram");
        for (listener, route, stats) in routes.iter().flat_map(|(l, rs)| rs.iter().map(move |(r, s)| (l, r, s))) {
            let h = &stats.latency;
            let labels = format!("listener=\"{listener}\",route=\"{route}\"");
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ =
                    writeln!(out, "clavis_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}", h.counts[i].load(Ordering::Relaxed));
            }
            let total = h.total.load(Ordering::Relaxed);
            let _ = writeln!(out, "clavis_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}");
            let _ = writeln!(out, "clavis_http_request_duration_seconds_sum{{{labels}}} {}", h.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
            let _ = writeln!(out, "clavis_http_request_duration_seconds_count{{{labels}}} {total}");
        }
        drop(routes);
        let _ = writeln!(out, "# HELP clavis_tokens_issued_total Tokens issued by grant type and tenant.");
        let _ = writeln!(out, "# TYPE clavis_tokens_issued_total counter");
        for ((grant, tenant), n) in self.tokens.read().expect("metrics").iter() {
            let n = n.load(Ordering::Relaxed);
            let _ = writeln!(out, "clavis_tokens_issued_total{{grant_type=\"{grant}\",tenant=\"{tenant}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP clavis_db_pool_connections Database pool connections.");
        let _ = writeln!(out, "# TYPE clavis_db_pool_connections gauge");
        let _ = writeln!(out, "clavis_db_pool_connections{{state=\"open\"}} {}", pool.0);
        let _ = writeln!(out, "clavis_db_pool_connections{{state=\"idle\"}} {}", pool.1);
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

async fn observe(listener: &'static str, st: AppState, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    // The route template (`/t/{tenant}/oauth2/token`), not the path: bounded label values.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map(MatchedPath::as_str).unwrap_or("unmatched");
    let tenant = req.uri().path().strip_prefix("/t/").and_then(|r| r.split('/').next()).unwrap_or("default").to_owned();
    let mut resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    st.metrics.record(listener, method.as_str(), route, status, secs);
    let client_id = resp.extensions().get::<LoggedClient>().map(|c| c.0.as_str()).unwrap_or("");
    tracing::info!(target: "clavis::access", request_id = %id, listener, method = method.as_str(), route, tenant, client_id = %client_id, status,
                   duration_ms = secs * 1000.0, "request");
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
