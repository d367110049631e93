//! private_key_jwt and client_secret_jwt (RFC 7523 §2.2): keys inline or from jwks_uri,
//! audience, lifetime cap, single use.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use clavis_core::jose::SigningKey;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now() -> i64 {
    clavis_core::time::now_unix()
}

fn claims(client_id: &str, aud: &str, exp_in: i64) -> Value {
    json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now(), "exp": now() + exp_in,
           "jti": clavis_core::ids::random_token(12)})
}

fn hs256(secret: &str, claims: &Value) -> String {
    let input = format!("{}.{}", B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#), B64.encode(claims.to_string()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!("{input}.{}", B64.encode(ring::hmac::sign(&key, input.as_bytes())))
}

async fn token_with_assertion(app: &TestApp, assertion: &str) -> (StatusCode, Value) {
    let resp = app
        .http
        .post(app.token_url(""))
        .form(&[("grant_type", "client_credentials"), ("client_assertion_type", JWT_BEARER), ("client_assertion", assertion)])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn key_client(app: &TestApp, keys: Value) -> String {
    let c = app
        .create_client(json!({
            "name": "pkjwt", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"],
            "scopes": ["read"], "client_auth_methods": ["private_key_jwt"], "jwks": keys.to_string(),
        }))
        .await;
    assert!(c.get("client_secret").is_none(), "a key-only client has no secret");
    c["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn private_key_jwt_with_inline_keys() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let id = key_client(&app, json!({"keys": [key.public_jwk().to_json()]})).await;
    let token_endpoint = app.token_url("");

    let assertion = key.sign_jwt(&claims(&id, &token_endpoint, 60));
    let (s, body) = token_with_assertion(&app, &assertion).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(common::claims(body["access_token"].as_str().unwrap())["client_id"], id.as_str());
    let (s, body) = token_with_assertion(&app, &assertion).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "replay");

    // The issuer is an accepted audience too.
    let (s, _) = token_with_assertion(&app, &key.sign_jwt(&claims(&id, &app.public, 60))).await;
    assert_eq!(s, StatusCode::OK);

    let (other, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let mut forged_iss = claims(&id, &token_endpoint, 60);
    forged_iss["iss"] = json!("someone-else");
    for (why, bad) in [
        ("wrong key", other.sign_jwt(&claims(&id, &token_endpoint, 60))),
        ("wrong audience", key.sign_jwt(&claims(&id, "https://elsewhere.example/token", 60))),
        ("another tenant's endpoint", key.sign_jwt(&claims(&id, &format!("{}/t/other/oauth2/token", app.public), 60))),
        ("expired", key.sign_jwt(&claims(&id, &token_endpoint, -120))),
        ("lives too long", key.sign_jwt(&claims(&id, &token_endpoint, 7200))),
        ("iss differs from sub", key.sign_jwt(&forged_iss)),
        ("unknown client", key.sign_jwt(&claims("nobody", &token_endpoint, 60))),
        ("not a JWT", "garbage".to_owned()),
    ] {
        let (s, body) = token_with_assertion(&app, &bad).await;
        assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{why}: {body}");
        assert_eq!(body["error_description"], "client authentication failed", "{why}: the reason is for the log only");
        // A success forgets the failures, so the next case is not refused for the count.
        let (s, body) = token_with_assertion(&app, &key.sign_jwt(&claims(&id, &token_endpoint, 60))).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    // Mixing methods, or the wrong assertion type.
    let resp = app
        .http
        .post(app.token_url(""))
        .basic_auth(&id, Some("x"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &key.sign_jwt(&claims(&id, &token_endpoint, 60))),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = app
        .http
        .post(app.token_url(""))
        .form(&[("grant_type", "client_credentials"), ("client_assertion_type", "saml"), ("client_assertion", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn private_key_jwt_with_a_fetched_and_cached_jwks_uri() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let jwks = json!({"keys": [key.public_jwk().to_json()]});
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = jwks.clone();
            async move { axum::Json(body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let c = app
        .create_client(json!({
            "name": "pkjwt", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"],
            "client_auth_methods": ["private_key_jwt"], "jwks_uri": jwks_uri,
        }))
        .await;
    let id = c["client_id"].as_str().unwrap();
    for _ in 0..3 {
        let (s, body) = token_with_assertion(&app, &key.sign_jwt(&claims(id, &app.token_url(""), 60))).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "fetched once, then cached");
    let (other, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let (s, _) = token_with_assertion(&app, &other.sign_jwt(&claims(id, &app.token_url(""), 60))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_secret_jwt_needs_the_sealing_key_and_works_with_it() {
    let plain = TestApp::spawn().await;
    let body = json!({"name": "csjwt", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"],
                      "client_auth_methods": ["client_secret_jwt"]});
    let (s, resp) = plain.admin(Method::POST, "/admin/oauth/clients", Some(body.clone())).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{resp}");
    assert!(resp["message"].as_str().unwrap().contains("CLAVIS_SECRET_ENCRYPTION_KEY"));

    let app = TestApp::spawn_with(|a| a.secret_encryption_key = Some(B64.encode([42u8; 32]))).await;
    let c = app.create_client(body).await;
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap().to_owned());
    let assertion = hs256(&secret, &claims(id, &app.token_url(""), 60));
    let (s, t) = token_with_assertion(&app, &assertion).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let (s, _) = token_with_assertion(&app, &assertion).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "replay");
    let (s, _) = token_with_assertion(&app, &hs256("not-the-secret", &claims(id, &app.token_url(""), 60))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The secret is not usable as a plain secret (method not registered) …
    let (s, _) = app.token("", id, &secret, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // … and a rotated secret works for assertions at once.
    let (_, r) = app.admin(Method::POST, &format!("/admin/oauth/clients/{id}/rotate-secret"), Some(json!({"grace_period_seconds": 0}))).await;
    let new_secret = r["data"]["new_secret"].as_str().unwrap();
    let (s, _) = token_with_assertion(&app, &hs256(new_secret, &claims(id, &app.token_url(""), 60))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = token_with_assertion(&app, &hs256(&secret, &claims(id, &app.token_url(""), 60))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old secret is gone");
    // A client whose secrets are only hashed cannot switch to client_secret_jwt.
    let (basic_id, _) = app.machine_client().await;
    let (s, resp) =
        app.admin(Method::PUT, &format!("/admin/oauth/clients/{basic_id}"), Some(json!({"client_auth_methods": ["client_secret_jwt"]}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{resp}");
    // Sealed copies never show.
    let (_, list) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/secrets"), None).await;
    assert!(!list.to_string().contains(new_secret));
}

// ---- jwks_uri fetching: destinations, limits, caching of failures, single flight ----

/// What the token endpoint says whenever a client's keys could not be fetched.
const GENERIC: &str = "client authentication failed";

async fn jwks_uri_client(app: &TestApp, jwks_uri: &str) -> String {
    let c = app
        .create_client(json!({
            "name": "pkjwt", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"],
            "client_auth_methods": ["private_key_jwt"], "jwks_uri": jwks_uri,
        }))
        .await;
    c["client_id"].as_str().unwrap().to_owned()
}

/// A fresh assertion for `id` by `key`; its error_description when refused.
async fn assertion_refused(app: &TestApp, key: &SigningKey, id: &str) -> String {
    let (s, body) = token_with_assertion(app, &key.sign_jwt(&claims(id, &app.token_url(""), 60))).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "{body}");
    body["error_description"].as_str().unwrap().to_owned()
}

/// A TCP listener on 127.0.0.1 that counts the connections it accepts and hands each to
/// `serve`.
async fn counting_listener<F, Fut>(serve: F) -> (std::net::SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    // A small send buffer (accepted sockets inherit it), so that what the server counts
    // as sent is close to what the other side took, not what the kernel queued.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(32 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(128).unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(conn));
        }
    });
    (addr, hits)
}

/// An HTTP server of one route, `/jwks.json`, counting its requests.
async fn jwks_server(router: axum::Router) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = router.layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
        counter.fetch_add(1, Ordering::SeqCst);
        next.run(req)
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (uri, hits)
}

#[tokio::test]
async fn refused_destinations_are_never_contacted_and_every_failure_reads_the_same() {
    let (key, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let jwks = json!({"keys": [key.public_jwk().to_json()]});
    let body = jwks.to_string();
    let (addr, hits) = counting_listener(move |conn| {
        let body = body.clone();
        async move { answer(conn, &format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len())).await }
    })
    .await;

    // Without an allowlist, loopback is refused: by literal, and by a name resolving to it.
    let closed = TestApp::spawn_with(|a| a.outbound_allow = None).await;
    let mut descriptions = Vec::new();
    for uri in [format!("http://{addr}/jwks.json"), format!("http://localhost:{}/jwks.json", addr.port())] {
        let id = jwks_uri_client(&closed, &uri).await;
        descriptions.push(assertion_refused(&closed, &key, &id).await);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a refused destination is not connected to");
    assert!(common::logs().contains("is not allowed"), "the cause is logged");

    // Allowed by name, the name works and the literal does not.
    let by_name = TestApp::spawn_with(|a| a.outbound_allow = Some("localhost".into())).await;
    let id = jwks_uri_client(&by_name, &format!("http://localhost:{}/jwks.json", addr.port())).await;
    let (s, t) = token_with_assertion(&by_name, &key.sign_jwt(&claims(&id, &by_name.token_url(""), 60))).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let id = jwks_uri_client(&by_name, &format!("http://{addr}/jwks.json")).await;
    descriptions.push(assertion_refused(&by_name, &key, &id).await);
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // Allowed, a closed port, an error status and a non-JWKS answer say no more.
    let app = TestApp::spawn().await;
    let port_closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (failing, _) = jwks_server(
        axum::Router::new().route("/jwks.json", axum::routing::get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "secret internal detail") })),
    )
    .await;
    let (not_keys, _) = jwks_server(axum::Router::new().route("/jwks.json", axum::routing::get(|| async { "{\"hello\": 1}" }))).await;
    for uri in [format!("http://{port_closed}/jwks.json"), failing, not_keys] {
        let id = jwks_uri_client(&app, &uri).await;
        descriptions.push(assertion_refused(&app, &key, &id).await);
    }
    assert!(descriptions.iter().all(|d| d == GENERIC), "{descriptions:?}");
    assert!(common::logs().contains("answered HTTP 500"), "the cause is logged");
}

/// Reads the request head, then writes `response` and closes.
async fn answer(conn: tokio::net::TcpStream, response: &str) {
    read_head(&conn).await;
    write_all(&conn, response.as_bytes()).await;
}

async fn read_head(conn: &tokio::net::TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if conn.readable().await.is_err() {
            return;
        }
        match conn.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Writes `bytes`; false once the peer is gone.
async fn write_all(conn: &tokio::net::TcpStream, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        if conn.writable().await.is_err() {
            return false;
        }
        match conn.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return false,
        }
    }
    true
}

#[tokio::test]
async fn an_endless_jwks_uri_body_is_cut_shortly_after_the_limit() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    // Two liars: no Content-Length (the body ends when the connection does), and chunked.
    for head in [
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
    ] {
        let chunked = head.contains("chunked");
        let sent = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let done_tx = Arc::new(std::sync::Mutex::new(Some(done_tx)));
        let counter = sent.clone();
        let (addr, _) = counting_listener(move |conn| {
            let (counter, done_tx) = (counter.clone(), done_tx.clone());
            async move {
                read_head(&conn).await;
                write_all(&conn, head.as_bytes()).await;
                let piece = vec![b' '; 64 * 1024];
                let chunk = [format!("{:x}\r\n", piece.len()).into_bytes(), piece.clone(), b"\r\n".to_vec()].concat();
                let data = if chunked { &chunk } else { &piece };
                // Stops when the reader hangs up; by then, what did it take?
                while write_all(&conn, data).await {
                    counter.fetch_add(data.len(), Ordering::SeqCst);
                }
                if let Some(tx) = done_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
        })
        .await;
        let id = jwks_uri_client(&app, &format!("http://{addr}/jwks.json")).await;
        let started = std::time::Instant::now();
        let description = assertion_refused(&app, &key, &id).await;
        let took = started.elapsed();
        tokio::time::timeout(std::time::Duration::from_secs(10), done_rx).await.expect("the fetch hung up").unwrap();
        let sent = sent.load(Ordering::SeqCst);
        eprintln!("chunked={chunked}: the server got {sent} bytes out before the fetch hung up after {took:?}");
        // Well under 1 MiB (limit + one read buffer + the small socket buffers); reading
        // the whole body until the 5 s timeout would be gigabytes on loopback.
        assert!(sent < 1 << 20, "read {sent} bytes of an endless body");
        assert!(took < std::time::Duration::from_secs(4), "cut by the limit, not by the timeout: {took:?}");
        assert_eq!(description, GENERIC);
    }
    assert!(common::logs().contains("body larger than 65536 bytes"));
}

#[tokio::test]
async fn a_failing_jwks_uri_is_fetched_at_most_once_per_refetch_window() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let (uri, hits) = jwks_server(axum::Router::new().route("/jwks.json", axum::routing::get(|| async { StatusCode::SERVICE_UNAVAILABLE }))).await;
    let id = jwks_uri_client(&app, &uri).await;
    let mut descriptions = Vec::new();
    // Four: the failures a client id may have before its backoff answers 429 at once.
    for _ in 0..4 {
        descriptions.push(assertion_refused(&app, &key, &id).await);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the failure is remembered (30 s)");
    assert!(descriptions.iter().all(|d| d == GENERIC), "{descriptions:?}");
}

#[tokio::test]
async fn concurrent_assertions_with_a_cold_cache_share_one_fetch() {
    const N: usize = 8;
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let jwks = json!({"keys": [key.public_jwk().to_json()]});
    // Each request to the listener says it arrived, then waits for the release.
    let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel::<()>();
    let release = Arc::new(tokio::sync::Notify::new());
    let (gate, arrived_tx) = (release.clone(), arrived_tx.clone());
    let (uri, hits) = jwks_server(axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (gate, arrived_tx, body) = (gate.clone(), arrived_tx.clone(), jwks.clone());
            async move {
                let released = gate.notified();
                let _ = arrived_tx.send(());
                released.await;
                axum::Json(body)
            }
        }),
    ))
    .await;
    let id = jwks_uri_client(&app, &uri).await;
    let app = Arc::new(app);
    let requests: Vec<_> = (0..N)
        .map(|_| {
            let (app, assertion) = (app.clone(), key.sign_jwt(&claims(&id, &app.token_url(""), 60)));
            tokio::spawn(async move { token_with_assertion(&app, &assertion).await })
        })
        .collect();
    arrived.recv().await.unwrap();
    // Without single flight every request would arrive here at once; give them the time
    // to (they are all started and waiting on the first fetch by now).
    let more = tokio::time::timeout(std::time::Duration::from_millis(500), arrived.recv()).await;
    assert!(more.is_err(), "a second fetch arrived while the first was still running");
    release.notify_waiters();
    for r in requests {
        let (s, body) = r.await.unwrap();
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "{N} concurrent assertions, one fetch");
}

#[tokio::test]
async fn jwks_uri_redirects_are_not_followed() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let jwks = json!({"keys": [key.public_jwk().to_json()]});
    let (target, target_hits) = jwks_server(axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let body = jwks.clone();
            async move { axum::Json(body) }
        }),
    ))
    .await;
    let (uri, hits) = jwks_server(axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let target = target.clone();
            async move { (StatusCode::FOUND, [("location", target)]) }
        }),
    ))
    .await;
    let id = jwks_uri_client(&app, &uri).await;
    assert_eq!(assertion_refused(&app, &key, &id).await, GENERIC);
    assert_eq!((hits.load(Ordering::SeqCst), target_hits.load(Ordering::SeqCst)), (1, 0));
}

/// RFC 9126 §2 and RFC 7523 §3: an assertion may name, as its audience, any endpoint of the
/// issuer that authenticates clients. PAR accepts one made for PAR, and the token endpoint
/// one made for PAR or introspection.
#[tokio::test]
async fn every_client_authenticating_endpoint_is_an_accepted_audience() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate(clavis_core::jose::Alg::Es256);
    let c = app
        .create_client(json!({
            "name": "par-pkjwt", "redirect_uris": ["https://a.example/cb"], "grant_types": ["authorization_code", "client_credentials"],
            "scopes": ["openid", "read"], "client_auth_methods": ["private_key_jwt"], "jwks": json!({"keys": [key.public_jwk().to_json()]}).to_string(),
        }))
        .await;
    let id = c["client_id"].as_str().unwrap().to_owned();
    let par = format!("{}/oauth2/par", app.public);
    let resp = app
        .http
        .post(&par)
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", "https://a.example/cb"),
            ("scope", "openid"),
            ("state", "state-123456"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &key.sign_jwt(&claims(&id, &par, 60))),
        ])
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["request_uri"].as_str().unwrap().starts_with("urn:ietf:params:oauth:request_uri:"), "{body}");

    for aud in [par.clone(), format!("{}/oauth2/introspect", app.public)] {
        let (s, body) = token_with_assertion(&app, &key.sign_jwt(&claims(&id, &aud, 60))).await;
        assert_eq!(s, StatusCode::OK, "aud {aud}: {body}");
    }
    let (s, _) = token_with_assertion(&app, &key.sign_jwt(&claims(&id, &format!("{}/oauth2/auth", app.public), 60))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the authorization endpoint does not authenticate clients");
}

#[tokio::test]
async fn assertions_in_every_algorithm_and_then_only_the_registered_one() {
    use clavis_core::jose::Alg;
    let app = TestApp::spawn().await;
    let keys: Vec<SigningKey> = Alg::ALL.iter().map(|a| SigningKey::generate(*a).0).collect();
    let id = key_client(&app, json!({"keys": keys.iter().map(|k| k.public_jwk().to_json()).collect::<Vec<_>>()})).await;
    for k in &keys {
        let (s, body) = token_with_assertion(&app, &k.sign_jwt(&claims(&id, &app.token_url(""), 60))).await;
        assert_eq!(s, StatusCode::OK, "{}: {body}", k.alg());
    }
    // OpenID Connect Registration §2: token_endpoint_auth_signing_alg makes it the only one.
    let patch = json!([{"op": "replace", "path": "/token_endpoint_auth_signing_alg", "value": "PS256"}]);
    let (s, body) = app.admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(patch)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    for k in &keys {
        let (s, body) = token_with_assertion(&app, &k.sign_jwt(&claims(&id, &app.token_url(""), 60))).await;
        let expected = if k.alg() == Alg::Ps256 { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
        assert_eq!(s, expected, "{}: {body}", k.alg());
    }
    let patch = json!([{"op": "replace", "path": "/token_endpoint_auth_signing_alg", "value": "HS256"}]);
    let (s, body) = app.admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(patch)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "HS256 is for client_secret_jwt: {body}");
}
