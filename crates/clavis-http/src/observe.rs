//! Operations: request ids, access logs, Prometheus metrics, health checks.
//!
//! Every request gets an id (`X-Request-Id`, taken from the request if it is a sane value)
//! and one log line with method, route template, status and duration — never the query
//! string or body, which may carry codes and secrets. Metrics are kept in memory per node
//! and served at `/metrics` on the admin listener in Prometheus' text format.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::AppState;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

/// Per route: requests by (method, status), and the latency histogram.
#[derive(Default)]
struct RouteStats {
    by_status: HashMap<(String, u16), u64>,
    latency: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    /// (listener, route) → stats. Looked up by `&str`, so a known route costs no allocation.
    routes: Mutex<HashMap<&'static str, HashMap<String, RouteStats>>>,
    /// (grant type, tenant) → tokens issued
    tokens: Mutex<HashMap<(String, String), u64>>,
}

impl Metrics {
    fn record(&self, listener: &'static str, method: &str, route: &str, status: u16, secs: f64) {
        let mut listeners = self.routes.lock().expect("metrics");
        let routes = listeners.entry(listener).or_default();
        let stats = match routes.get_mut(route) {
            Some(s) => s,
            None => routes.entry(route.to_owned()).or_default(),
        };
        match stats.by_status.iter_mut().find(|((m, s), _)| m == method && *s == status) {
            Some((_, n)) => *n += 1,
            None => {
                stats.by_status.insert((method.to_owned(), status), 1);
            }
        }
        let h = &mut stats.latency;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.total += 1;
    }

    /// A token was issued.
    pub fn token_issued(&self, grant: &str, tenant: &str) {
        *self.tokens.lock().expect("metrics").entry((grant.to_owned(), tenant.to_owned())).or_default() += 1;
    }

    fn render(&self, pool: (u32, usize)) -> String {
        let mut out = String::new();
        let listeners = self.routes.lock().expect("metrics");
        let _ = writeln!(out, "# HELP clavis_http_requests_total HTTP requests by listener, method, route and status.");
        let _ = writeln!(out, "# TYPE clavis_http_requests_total counter");
        for (listener, routes) in listeners.iter() {
            for (route, stats) in routes {
                for ((method, status), n) in &stats.by_status {
                    let _ = writeln!(out, "clavis_http_requests_total{{listener=\"{listener}\",method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
                }
            }
        }
        let _ = writeln!(out, "# HELP clavis_http_request_duration_seconds Request latency by listener and route.");
        let _ = writeln!(out, "# TYPE clavis_http_request_duration_seconds histogram");
        for (listener, routes) in listeners.iter() {
            for (route, stats) in routes {
                let h = &stats.latency;
                let labels = format!("listener=\"{listener}\",route=\"{route}\"");
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(out, "clavis_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}", h.counts[i]);
                }
                let _ = writeln!(out, "clavis_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.total);
                let _ = writeln!(out, "clavis_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
                let _ = writeln!(out, "clavis_http_request_duration_seconds_count{{{labels}}} {}", h.total);
            }
        }
        drop(listeners);
        let _ = writeln!(out, "# HELP clavis_tokens_issued_total Tokens issued by grant type and tenant.");
        let _ = writeln!(out, "# TYPE clavis_tokens_issued_total counter");
        for ((grant, tenant), n) in self.tokens.lock().expect("metrics").iter() {
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
        .unwrap_or_else(clavis_core::ids::ulid)
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

pub async fn metrics(State(st): State<AppState>) -> Response {
    let body = st.metrics.render(st.services.store.pool_stats());
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

pub async fn alive() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the database answers.
pub async fn ready(State(st): State<AppState>) -> Response {
    match st.services.store.ping().await {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "reason": "database unreachable"}))).into_response()
        }
    }
}
