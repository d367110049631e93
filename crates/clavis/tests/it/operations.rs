//! Health checks, request ids, access logs and Prometheus metrics.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;

#[tokio::test]
async fn health_request_ids_and_metrics() {
    let app = TestApp::spawn().await;
    for base in [&app.public, &app.admin] {
        for path in ["/health/alive", "/health/ready"] {
            let resp = app.http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "{base}{path}");
            assert_eq!(resp.json::<Value>().await.unwrap()["status"], "ok");
        }
    }
    // A sane request id is kept, anything else replaced.
    let resp = app.http.get(format!("{}/health/alive", app.public)).header("x-request-id", "trace-123").send().await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "trace-123");
    let resp = app.http.get(format!("{}/health/alive", app.public)).header("x-request-id", "a b").send().await.unwrap();
    let generated = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(generated.len() >= 17 && generated != "a b", "a new id: {generated}");
    let again = app.http.get(format!("{}/health/alive", app.public)).send().await.unwrap();
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), generated, "ids are unique");

    let (id, secret) = app.machine_client().await;
    app.token_ok("", &id, &secret, None).await;
    app.tenant_admin("acme").await;
    let (s, _) = app.token("", &id, "wrong", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let metrics = app.http.get(format!("{}/metrics", app.admin)).send().await.unwrap().text().await.unwrap();
    let line = |needle: &str| metrics.lines().find(|l| l.starts_with(needle)).unwrap_or_else(|| panic!("{needle} in\n{metrics}")).to_owned();
    let value = |l: String| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
    assert!(value(line("clavis_tokens_issued_total{grant_type=\"client_credentials\",tenant=\"default\"}")) >= 2.0);
    assert_eq!(value(line("clavis_tokens_issued_total{grant_type=\"client_credentials\",tenant=\"acme\"}")), 1.0);
    assert_eq!(value(line("clavis_http_requests_total{listener=\"public\",method=\"POST\",route=\"/oauth2/token\",status=\"401\"}")), 1.0);
    assert!(metrics.contains("route=\"/t/{tenant}/oauth2/token\""), "route templates, not paths");
    assert!(metrics.contains("clavis_http_request_duration_seconds_bucket{listener=\"public\",route=\"/oauth2/token\",le=\"+Inf\"}"));
    assert!(metrics.contains("clavis_db_pool_connections{state=\"open\"}"));
    let resp = app.http.get(format!("{}/metrics", app.public)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "metrics only on the admin listener");

    // Access logs: one line per request with its id, never a query string.
    let resp = app.http.get(format!("{}/oauth2/auth?client_id=x&code_challenge=SECRETISH", app.public)).send().await.unwrap();
    assert!(resp.status().is_client_error());
    let logs = common::logs();
    assert!(logs.contains("request_id=trace-123"), "access log carries the request id");
    assert!(logs.contains("route=/oauth2/token") || logs.contains("route=\"/oauth2/token\""));
    assert!(!logs.contains("SECRETISH"), "no query strings in logs");
    assert!(logs.contains(&format!("client_id={id}")), "token requests log their client");
}

#[tokio::test]
async fn token_rate_limits_answer_429_with_retry_after() {
    let app = TestApp::spawn_with(|a| a.token_rate_per_client = Some(3)).await;
    let (id, secret) = app.machine_client().await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let resp =
            app.http.post(app.token_url("")).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
        statuses.push(resp.status().as_u16());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
            assert_eq!(resp.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
        }
    }
    assert_eq!(&statuses[..3], &[200, 200, 200]);
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    // Another client has its own budget.
    let (other, other_secret) = app.machine_client().await;
    app.token_ok("", &other, &other_secret, None).await;
}

/// Behind a trusted proxy (here the test's own loopback address) the per-IP limit counts
/// the address the proxy forwards, read from the right; without the setting the header
/// is the client's own words and is ignored. A request without a grant type is refused
/// (400) only after the per-IP limit let it through, so 400 = admitted, 429 = limited.
#[tokio::test]
async fn per_ip_limits_use_forwarded_addresses_only_from_trusted_proxies() {
    async fn send(app: &TestApp, forwarded_for: &str) -> u16 {
        let resp = app.http.post(app.token_url("")).header("x-forwarded-for", forwarded_for).send().await.unwrap();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(resp.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
        }
        resp.status().as_u16()
    }
    // One request per second per address, so a bucket is empty right after its first use.
    let app = TestApp::spawn_with(|a| {
        a.token_rate_per_ip = Some(1);
        a.trusted_proxies = Some("127.0.0.1".into());
    })
    .await;
    assert_eq!(send(&app, "203.0.113.1").await, 400);
    assert_eq!(send(&app, "203.0.113.1").await, 429, "the forwarded address has a bucket");
    assert_eq!(send(&app, "203.0.113.2").await, 400, "another forwarded address has its own");
    assert_eq!(send(&app, "198.51.100.7, 203.0.113.1").await, 429, "what the client wrote left of the proxy's entry does not count");
    app.shutdown().await;

    // Without the setting (the harness's own setup requests came from the same address):
    // once one forwarded address is refused, every other one is too.
    let app = TestApp::spawn_with(|a| a.token_rate_per_ip = Some(1)).await;
    let mut first = Vec::new();
    while first.last() != Some(&429) && first.len() < 3 {
        first.push(send(&app, "203.0.113.1").await);
    }
    assert_eq!(first.last(), Some(&429), "{first:?}");
    assert_eq!(send(&app, "203.0.113.2").await, 429, "no trusted proxies: the header is ignored, the peer is the client");
}

#[tokio::test]
async fn cleanup_removes_what_expired() {
    let app = TestApp::spawn_with(|a| a.dcr_enabled = Some(false)).await;
    let services = &app.server.as_ref().unwrap().services;
    let (id, secret) = app.machine_client().await;
    let token = app.token_ok("", &id, &secret, None).await["access_token"].as_str().unwrap().to_owned();
    let revoke = app
        .http
        .post(format!("{}/oauth2/revoke", app.public))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    let now = clavis_core::time::now_unix();
    assert_eq!(services.purge_expired(now).await.unwrap(), 0, "nothing has expired yet");
    // Two hours on, the revocation entry has outlived its token and goes.
    assert!(services.purge_expired(now + 7200).await.unwrap() >= 1);
}

/// A client that never finishes its headers (slowloris) is cut off after the header-read
/// timeout, and so is an idle keep-alive connection; a normal request is unaffected.
#[tokio::test]
async fn slow_headers_and_idle_connections_are_closed() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::spawn_with(|a| a.header_read_timeout = Some("1s".into())).await;
    let addr = app.public.trim_start_matches("http://").to_owned();
    let closed_within = |mut s: tokio::net::TcpStream| async move {
        let started = Instant::now();
        let mut buf = Vec::new();
        // EOF (or a reset) is the server hanging up; the outer timeout guards the test.
        let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await.expect("connection left open");
        (started.elapsed(), buf)
    };

    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /health/alive HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    let (elapsed, answer) = closed_within(slow).await;
    assert!(elapsed >= Duration::from_millis(900), "closed too early: {elapsed:?}");
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "a partial request was answered");

    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /health/alive HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (_, answer) = closed_within(idle).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&answer));

    let huge = app.http.get(format!("{}/health/alive", app.public)).header("X-Big", "a".repeat(70_000)).send().await.unwrap();
    assert_eq!(huge.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

/// The admin listener serves the OpenAPI document generated from the routers, and it is
/// the committed `openapi.json` (regenerate with `cargo run -- openapi > openapi.json`).
#[tokio::test]
async fn openapi_document_is_served_and_matches_the_committed_file() {
    let app = TestApp::spawn().await;
    let resp = app.http.get(format!("{}/openapi.json", app.admin)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let served = resp.text().await.unwrap();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json")).unwrap();
    assert!(served == committed, "openapi.json is stale: run `cargo run -- openapi > openapi.json` and commit it");

    let doc: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/admin/oauth/clients", "post"),
        ("/internal/oauth/clients", "post"),
        ("/admin/clients/{id}", "patch"),
        ("/oauth2/token", "post"),
        ("/oauth2/introspect", "post"),
        ("/health/ready", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is not documented");
    }
    let public = app.http.get(format!("{}/openapi.json", app.public)).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND, "the document belongs to the admin listener");
}

/// The series of a `/metrics` text: each sample line's name and labels, with its value.
fn series(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, value) = l.rsplit_once(' ').unwrap();
            (key.to_owned(), value.parse().unwrap())
        })
        .collect()
}

/// Invented HTTP methods create no metric series (they are all `method="other"`), so a loop
/// of `curl -X RANDOM` cannot grow the node's memory; requests no route matched (the
/// fallback's 404s) are counted under `route="unmatched"` and logged.
#[tokio::test]
async fn metric_labels_are_bounded_and_fallbacks_are_counted() {
    let app = TestApp::spawn().await;
    let scrape = || async { app.http.get(format!("{}/metrics", app.admin)).send().await.unwrap().text().await.unwrap() };
    let nowhere = format!("{}/no/such/endpoint", app.public);
    let token = app.token_url("");
    // Method names no one has seen before: a counter mixed with the clock.
    let mut seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    let mut random_method = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        format!("R{seed:016X}")
    };
    let send = |method: String, url: String| {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let req = app.http.request(m, url);
        async move { req.send().await.unwrap().status() }
    };

    // A fallback 404 on each listener, one invented method on each path, one scrape.
    let resp = app.http.get(&nowhere).header("x-request-id", "fallback-404").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.http.get(format!("{}/no/such/route", app.admin)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(send(random_method(), nowhere.clone()).await, StatusCode::NOT_FOUND);
    assert_eq!(send(random_method(), token.clone()).await, StatusCode::METHOD_NOT_ALLOWED);
    scrape().await;
    let before = series(&scrape().await);
    for key in [
        "clavis_http_requests_total{listener=\"public\",method=\"GET\",route=\"unmatched\",status=\"404\"}",
        "clavis_http_requests_total{listener=\"admin\",method=\"GET\",route=\"unmatched\",status=\"404\"}",
        "clavis_http_request_duration_seconds_count{listener=\"public\",route=\"unmatched\"}",
    ] {
        assert!(before.get(key).is_some_and(|n| *n >= 1.0), "{key} in {before:?}");
    }

    let mut sent = Vec::new();
    for i in 0..50 {
        let method = random_method();
        let (url, expected) = if i % 2 == 0 { (&nowhere, StatusCode::NOT_FOUND) } else { (&token, StatusCode::METHOD_NOT_ALLOWED) };
        assert_eq!(send(method.clone(), url.clone()).await, expected, "{method}");
        sent.push(method);
    }
    let text = scrape().await;
    let after = series(&text);
    let new: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(new.is_empty(), "50 invented methods added series: {new:?}");
    let grew = |key: &str| after[key] - before[key];
    assert_eq!(grew("clavis_http_requests_total{listener=\"public\",method=\"other\",route=\"unmatched\",status=\"404\"}"), 25.0);
    assert_eq!(grew("clavis_http_requests_total{listener=\"public\",method=\"other\",route=\"/oauth2/token\",status=\"405\"}"), 25.0);
    assert!(sent.iter().all(|m| !text.contains(m.as_str())), "no method name reaches the metrics");

    let logs = common::logs();
    let line = logs.lines().find(|l| l.contains("clavis::access") && l.contains("request_id=fallback-404")).expect("the 404 is logged");
    assert!(line.contains("status=404") && line.contains("unmatched"), "{line}");
}

/// Every request runs in a `request` span with its id, and its tenant (and client) once
/// known, so every log line of the request carries them.
#[tokio::test]
async fn log_lines_carry_the_request_span() {
    let app = TestApp::spawn().await;
    let admin = app.tenant_admin("acme").await;
    let resp =
        app.http.get(format!("{}/admin/oauth/clients", app.admin)).bearer_auth(&admin).header("x-request-id", "span-admin").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp =
        app.http.get(format!("{}/t/acme/.well-known/openid-configuration", app.public)).header("x-request-id", "span-public").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let admin_client = common::claims(&admin)["client_id"].as_str().unwrap().to_owned();
    let (id, secret) = app.machine_client().await;
    let resp = app
        .http
        .post(app.token_url(""))
        .basic_auth(&id, Some(&secret))
        .header("x-request-id", "span-token")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let logs = common::logs();
    let in_span = |id: &str| logs.lines().filter(|l| l.contains(&format!("request{{request_id={id}"))).map(str::to_owned).collect::<Vec<_>>();
    let lines = in_span("span-admin");
    let access = lines.iter().find(|l| l.contains("clavis::access")).unwrap_or_else(|| panic!("access log in the span: {lines:?}"));
    assert!(access.contains(&format!("request{{request_id=span-admin tenant=\"acme\" client=\"{admin_client}\"}}")), "{access}");
    assert!(lines.iter().any(|l| !l.contains("clavis::access")), "the handler's own lines (its queries) are in the span too: {lines:?}");
    let lines = in_span("span-public");
    let access = lines.iter().find(|l| l.contains("clavis::access")).unwrap_or_else(|| panic!("access log in the span: {lines:?}"));
    assert!(access.contains("request{request_id=span-public tenant=\"acme\"}"), "{access}");
    // Client authentication records the client.
    let lines = in_span("span-token");
    let access = lines.iter().find(|l| l.contains("clavis::access")).unwrap_or_else(|| panic!("access log in the span: {lines:?}"));
    assert!(access.contains(&format!("request{{request_id=span-token tenant=\"default\" client=\"{id}\"}}")), "{access}");
}
