//! private_key_jwt and client_secret_jwt (RFC 7523 §2.2): keys inline or from jwks_uri,
//! audience, lifetime cap, single use.

mod common;

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
    let (key, _) = SigningKey::generate();
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

    let (other, _) = SigningKey::generate();
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
    let resp = app.http.post(app.token_url("")).basic_auth(&id, Some("x"))
        .form(&[("grant_type", "client_credentials"), ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &key.sign_jwt(&claims(&id, &token_endpoint, 60)))])
        .send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = app.http.post(app.token_url(""))
        .form(&[("grant_type", "client_credentials"), ("client_assertion_type", "saml"), ("client_assertion", "x")])
        .send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn private_key_jwt_with_a_fetched_and_cached_jwks_uri() {
    let app = TestApp::spawn().await;
    let (key, _) = SigningKey::generate();
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
    let (other, _) = SigningKey::generate();
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
    let (s, resp) = app.admin(Method::PUT, &format!("/admin/oauth/clients/{basic_id}"),
        Some(json!({"client_auth_methods": ["client_secret_jwt"]}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{resp}");
    // Sealed copies never show.
    let (_, list) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/secrets"), None).await;
    assert!(!list.to_string().contains(new_secret));
}
