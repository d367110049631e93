//! The defences of client authentication, alike on every endpoint that authenticates
//! clients (token, introspection, revocation, PAR): failures are counted together and a
//! client id in backoff is refused at once; parallel guesses go one at a time; every
//! failure reads the same; argon2id verifications are bounded.

use crate::common;

use std::time::{Duration, Instant};

use common::TestApp;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The four endpoints that authenticate clients, each with a form that is valid once the
/// client is authenticated.
fn endpoints(app: &TestApp) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let p = &app.public;
    vec![
        (format!("{p}/oauth2/token"), vec![("grant_type", "client_credentials")]),
        (format!("{p}/oauth2/introspect"), vec![("token", "nothing")]),
        (format!("{p}/oauth2/revoke"), vec![("token", "nothing")]),
        (format!("{p}/oauth2/par"), vec![("response_type", "code"), ("state", "s-123456"), ("redirect_uri", "https://a.example/cb")]),
    ]
}

async fn post(app: &TestApp, url: &str, id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, Option<u64>, Value) {
    let resp = app.http.post(url).basic_auth(id, Some(secret)).form(form).send().await.unwrap();
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap());
    (resp.status(), retry, resp.json().await.unwrap_or(Value::Null))
}

/// Polls with the right secret until the backoff has passed (bounded by a deadline).
async fn wait_out_backoff(app: &TestApp, id: &str, secret: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, retry, body) = post(app, &app.token_url(""), id, secret, &[("grant_type", "client_credentials")]).await;
        match s {
            StatusCode::OK => return,
            StatusCode::TOO_MANY_REQUESTS => assert!(retry.is_some_and(|r| r >= 1), "429 says when: {body}"),
            other => panic!("unexpected {other}: {body}"),
        }
        assert!(Instant::now() < deadline, "the backoff never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn failures_on_any_endpoint_count_together_and_backoff_refuses_at_once() {
    let app = TestApp::spawn().await;
    let c = app
        .create_client(json!({"name": "m", "redirect_uris": ["https://a.example/cb"],
                              "grant_types": ["client_credentials", "authorization_code"], "scopes": ["read"]}))
        .await;
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let endpoints = endpoints(&app);
    // The right secret works on every endpoint.
    for (url, form) in &endpoints {
        let (s, _, body) = post(&app, url, id, secret, form).await;
        assert!(s.is_success(), "{url}: {s} {body}");
    }
    // Four failures, one per endpoint: each is the same 401.
    for (url, form) in &endpoints {
        let (s, _, body) = post(&app, url, id, "wrong", form).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{url}: {body}");
        assert_eq!(body, json!({"error": "invalid_client", "error_description": "client authentication failed"}), "{url}");
    }
    // Now the id is in backoff: refused at once everywhere, even with the right secret.
    for (url, form) in &endpoints {
        let started = Instant::now();
        let (s, retry, body) = post(&app, url, id, secret, form).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{url}: {body}");
        assert_eq!(body["error"], "temporarily_unavailable");
        assert!(retry.is_some_and(|r| r >= 1), "Retry-After on {url}");
        assert!(started.elapsed() < Duration::from_secs(1), "answered at once, not after a delay");
    }
    wait_out_backoff(&app, id, secret).await;
    // The success forgot the failures: a wrong secret is a plain 401 again.
    let (s, _, _) = post(&app, &app.token_url(""), id, "wrong", &[("grant_type", "client_credentials")]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Another client is not affected by this one's failures.
    let (other, other_secret) = app.machine_client().await;
    app.token_ok("", &other, &other_secret, None).await;
}

#[tokio::test]
async fn parallel_guesses_for_a_suspicious_id_go_one_at_a_time() {
    let app = TestApp::spawn().await;
    let (id, _) = app.machine_client().await;
    let url = app.token_url("");
    for _ in 0..3 {
        let (s, _, _) = post(&app, &url, &id, "wrong", &[("grant_type", "client_credentials")]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let guesses = (0..20).map(|i| {
        let (app, url, id) = (&app, &url, &id);
        async move { post(app, url, id, &format!("guess-{i}"), &[("grant_type", "client_credentials")]).await.0 }
    });
    let statuses = join_all(guesses).await;
    let tried = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(tried + refused, 20, "{statuses:?}");
    assert!(tried <= 3, "at most the free attempts ran in parallel, got {tried}: {statuses:?}");
}

#[tokio::test]
async fn every_failure_reads_the_same_whether_or_not_the_client_exists() {
    let app = TestApp::spawn().await;
    let (id, _) = app.machine_client().await;
    let public = app
        .create_client(json!({"name": "spa", "redirect_uris": ["https://a.example/cb"], "is_confidential": false,
                                          "grant_types": ["authorization_code"], "scopes": ["read"]}))
        .await;
    let public_id = public["client_id"].as_str().unwrap();
    let expected = json!({"error": "invalid_client", "error_description": "client authentication failed"});
    let token = app.token_url("");
    for (who, secret) in [(id.as_str(), "wrong"), ("no-such-client", "wrong"), (public_id, "a-secret")] {
        let (s, _, body) = post(&app, &token, who, secret, &[("grant_type", "client_credentials")]).await;
        assert_eq!((s, &body), (StatusCode::UNAUTHORIZED, &expected), "{who}");
    }
    // A public client may not introspect: the same answer, not a hint that it exists.
    let resp = app.http.post(format!("{}/oauth2/introspect", app.public)).form(&[("client_id", public_id), ("token", "x")]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json::<Value>().await.unwrap(), expected);
    // Assertions: unknown client and bad signature alike.
    for assertion in ["a.b.c", "garbage"] {
        let resp = app
            .http
            .post(&token)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(resp.json::<Value>().await.unwrap(), expected);
    }
    // The reasons are in the log, for the operator.
    let logs = common::logs();
    assert!(logs.contains("unknown client") && logs.contains("wrong secret"), "reasons logged");
}

#[tokio::test]
async fn argon2id_verifications_are_bounded_and_answered_at_once_beyond_the_bound() {
    let app = TestApp::spawn().await;
    let (s, c) = app
        .admin(
            Method::POST,
            "/admin/clients",
            Some(json!({
        "client_id": "weak-one", "client_secret": "weak-but-allowed", "grant_types": ["client_credentials"], "scope": "read"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let url = app.token_url("");
    let guesses = (0..40).map(|i| {
        let (app, url) = (&app, &url);
        async move { post(app, url, "weak-one", &format!("guess-{i}"), &[("grant_type", "client_credentials")]).await.0 }
    });
    let statuses = join_all(guesses).await;
    let verified = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(verified + refused, 40, "{statuses:?}");
    assert!(refused >= 20, "most were answered without running the KDF: {statuses:?}");
    wait_out_backoff(&app, "weak-one", "weak-but-allowed").await;
}

#[tokio::test]
async fn the_bootstrap_secret_is_stored_like_a_generated_one() {
    let app = TestApp::spawn().await;
    let services = &app.server.as_ref().unwrap().services;
    let records = services.list_secrets(&clavis_core::TenantId::default_tenant(), common::ADMIN_ID).await.unwrap();
    assert!(!records.is_empty());
    for r in records {
        assert!(r.secret_hash.starts_with("sha256$"), "no KDF for the long operator secret: {}", &r.secret_hash[..10]);
    }
}
