//! CPU cost of one request through the public router, in process: no sockets, no HTTP
//! parsing, one thread, so the figures are those of the middleware, handlers and service
//! alone, and far steadier than a load test on a shared machine.
//!
//! `cargo run --release -p clavis --example request_cost [iterations] [alive|token]`
//!
//! With `COST_THREADS=N` the requests run on a runtime of N worker threads, 16 at a time,
//! as under load: then what is shared between cores (locks, counters) shows, and the
//! figure is CPU time per request.
//!
//! Under `valgrind --tool=callgrind` the instruction counts of two runs with different
//! iteration counts give the instructions per request, independent of the machine's load.
//!
//! Logging is set up as `bench/run.sh` runs the server (JSON, `warn,clavis=info,
//! clavis::access=warn`, `clavis::logging`'s span fields), written to a sink. Prints ns per request for `GET /health/alive`
//! and for a `client_credentials` token request (client_secret_basic; the KDF result is
//! cached after the first request, as in the server).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use base64::Engine;
use clavis_core::TenantId;
use clavis_http::AppState;
use clavis_service::{Actor, Services, Settings, Store};
use tower_service::Service;

const ID: &str = "cost-admin";
const SECRET: &str = "cost-admin-secret-0123456789abcdefghijkl";

fn main() -> anyhow::Result<()> {
    let threads: Option<usize> = std::env::var("COST_THREADS").ok().map(|t| t.parse()).transpose()?;
    let runtime = match threads {
        Some(n) => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build()?,
        None => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
    };
    runtime.block_on(run(threads.is_some()))
}

/// CPU seconds this process has used (user + system).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

async fn requests(mut router: axum::Router, make: Arc<dyn Fn() -> Request<Body> + Send + Sync>, count: u32) {
    for _ in 0..count {
        let mut req = make();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        let resp = router.call(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    }
}

async fn run(concurrent: bool) -> anyhow::Result<()> {
    let n: u32 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(20_000);
    let only = std::env::args().nth(2);
    let filter = tracing_subscriber::EnvFilter::new("warn,clavis=info,clavis::access=warn");
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::sink).json().fmt_fields(clavis::logging::JsonSpanFields).init();

    let store = Store::connect("sqlite::memory:").await?;
    store.migrate().await?;
    store.ensure_tenant(&TenantId::default_tenant(), clavis_core::time::now_unix()).await?;
    let settings = Settings { public_url: "http://127.0.0.1:1".into(), ..Settings::default() };
    let services = Services::new(settings, store);
    services.ensure_admin_client(&TenantId::default_tenant(), ID, SECRET, &Actor("bench".into())).await?;
    let state = AppState::new(clavis_http::AppParts {
        services,
        internal_api_keys: Arc::default(),
        metrics: Arc::default(),
        limits: Arc::new(clavis_http::oauth::Limits::new(1_000_000, 1_000_000)),
        trusted_proxies: Default::default(),
    });
    let router = clavis_http::public_router(state);
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{ID}:{SECRET}")));

    let alive: Arc<dyn Fn() -> Request<Body> + Send + Sync> = Arc::new(|| Request::get("/health/alive").body(Body::empty()).unwrap());
    let token: Arc<dyn Fn() -> Request<Body> + Send + Sync> = Arc::new(move || {
        Request::post("/oauth2/token")
            .header(header::AUTHORIZATION, &basic)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=client_credentials"))
            .unwrap()
    });
    for (name, make) in [("alive", alive), ("token", token)] {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let run = |count: u32| {
            let (router, make) = (router.clone(), make.clone());
            async move {
                let (started, cpu) = (Instant::now(), cpu_seconds());
                if concurrent {
                    let tasks: Vec<_> = (0..16).map(|_| tokio::spawn(requests(router.clone(), make.clone(), count / 16))).collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                    (cpu_seconds() - cpu) * 1e9 / f64::from(count / 16 * 16)
                } else {
                    requests(router, make, count).await;
                    started.elapsed().as_nanos() as f64 / f64::from(count)
                }
            }
        };
        run(n / 10 + 16).await; // warm-up: keys, caches
                                // The fastest of five runs: the machine's other load only ever adds time.
        let mut best = f64::MAX;
        for _ in 0..5 {
            best = best.min(run(n).await);
        }
        let what = if concurrent { "CPU ns" } else { "ns" };
        println!("{name:5} {best:9.0} {what}/request (fastest of 5 runs of {n})");
    }
    Ok(())
}
