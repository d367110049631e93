//! Request objects (RFC 9101; OpenID Connect Core §6.1, §3.1.2.6): `request` by value at
//! /oauth2/auth and /oauth2/par, signed with the client's keys; errors go to the client.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use clavis_core::jose::{Alg, SigningKey};
use common::flow::*;
use common::{claims, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Rp {
    id: String,
    secret: String,
    keys: Vec<SigningKey>,
}

/// A Hydra client with an RS256 and an ES256 key, and `fields`.
async fn rp(app: &TestApp, fields: Value) -> Rp {
    let keys: Vec<SigningKey> = [Alg::Rs256, Alg::Es256].iter().map(|a| SigningKey::generate(*a).0).collect();
    let mut body = json!({
        "client_name": "jar", "redirect_uris": [REDIRECT, "https://app.example.com/other"], "grant_types": ["authorization_code"],
        "scope": "openid profile", "jwks": {"keys": keys.iter().map(|k| k.public_jwk().to_json()).collect::<Vec<_>>()},
    });
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    Rp { id: c["client_id"].as_str().unwrap().into(), secret: c["client_secret"].as_str().unwrap().into(), keys }
}

/// The claims of a good request object for `rp`.
fn object(app: &TestApp, rp: &Rp, challenge: &str) -> Value {
    let now = clavis_core::time::now_unix();
    json!({"iss": rp.id, "aud": app.public, "exp": now + 300, "nbf": now - 5, "jti": clavis_core::ids::random_token(8),
           "client_id": rp.id, "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid profile",
           "state": "inner-state-123", "nonce": "inner-nonce", "code_challenge": challenge, "code_challenge_method": "S256",
           "max_age": 3600})
}

fn unsigned(claims: &Value) -> String {
    format!("{}.{}.", B64.encode(br#"{"alg":"none"}"#), B64.encode(claims.to_string()))
}

fn url(app: &TestApp, pairs: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    u.query_pairs_mut().extend_pairs(pairs);
    u.to_string()
}

/// Where the browser is sent for an authorization URL.
async fn location(url: &str) -> (StatusCode, String, Value) {
    Browser::new().get(url).await
}

#[tokio::test]
async fn a_signed_request_object_is_the_request() {
    let app = spawn().await;
    let rp = rp(&app, json!({})).await;
    for key in &rp.keys {
        let (verifier, challenge) = pkce();
        let jwt = key.sign_jwt(&object(&app, &rp, &challenge));
        // Outside the object: only what OpenID Connect requires, and a state the object overrides.
        let start =
            url(&app, &[("client_id", &rp.id), ("response_type", "code"), ("scope", "openid"), ("state", "outer-state-123"), ("request", &jwt)]);
        let mut browser = Browser::new();
        let back = login_and_consent(&app, &mut browser, &start, "alice", false).await;
        assert!(back.starts_with(REDIRECT), "{back}");
        assert_eq!(param(&back, "state").as_deref(), Some("inner-state-123"), "RFC 9101 §5: only the object's parameters count");
        let code = param(&back, "code").unwrap();
        let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
        let (s, tokens) = exchange(&app, &rp.id, Some(&rp.secret), &form).await;
        assert_eq!(s, StatusCode::OK, "{} {tokens}", key.alg());
        assert_eq!(claims(tokens["id_token"].as_str().unwrap())["nonce"], "inner-nonce");
    }
}

#[tokio::test]
async fn bad_request_objects_are_refused_to_the_client() {
    let app = spawn().await;
    let rp = rp(&app, json!({})).await;
    let (_, challenge) = pkce();
    let good = object(&app, &rp, &challenge);
    let with = |k: &str, v: Value| {
        let mut o = good.clone();
        o[k] = v;
        o
    };
    let stranger = SigningKey::generate(Alg::Es256).0;
    let cases: Vec<(&str, String)> = vec![
        ("another key", stranger.sign_jwt(&good)),
        ("unsigned", unsigned(&good)),
        ("expired", rp.keys[1].sign_jwt(&with("exp", json!(clavis_core::time::now_unix() - 3600)))),
        ("not yet valid", rp.keys[1].sign_jwt(&with("nbf", json!(clavis_core::time::now_unix() + 3600)))),
        ("another audience", rp.keys[1].sign_jwt(&with("aud", json!("https://elsewhere.example")))),
        ("another client_id", rp.keys[1].sign_jwt(&with("client_id", json!("someone-else")))),
        ("another iss", rp.keys[1].sign_jwt(&with("iss", json!("someone-else")))),
        ("nested request", rp.keys[1].sign_jwt(&with("request", json!("x.y.z")))),
        ("another response_type", rp.keys[1].sign_jwt(&with("response_type", json!("token")))),
        ("HMAC", format!("{}.{}.AA", B64.encode(br#"{"alg":"HS256"}"#), B64.encode(good.to_string()))),
        ("encrypted", format!("{}.{}.AA", B64.encode(br#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#), B64.encode(good.to_string()))),
        ("garbage", "not.a.jwt".into()),
        ("not an object", rp.keys[1].sign_jwt(&json!(["a"]))),
    ];
    for (what, jwt) in cases {
        let start = url(
            &app,
            &[("client_id", &rp.id), ("response_type", "code"), ("redirect_uri", REDIRECT), ("state", "outer-state-123"), ("request", &jwt)],
        );
        let (s, to, body) = location(&start).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{what}: {body}");
        assert!(to.starts_with(REDIRECT), "{what}: {to}");
        assert_eq!(param(&to, "error").as_deref(), Some("invalid_request_object"), "{what}: {to}");
        assert_eq!(param(&to, "state").as_deref(), Some("outer-state-123"), "{what}");
        assert_eq!(param(&to, "iss").as_deref(), Some(app.public.as_str()));
    }
    // Without a registered redirect_uri outside the object (the client has two), the error is a page.
    let start = url(&app, &[("client_id", &rp.id), ("response_type", "code"), ("request", &stranger.sign_jwt(&good))]);
    let (s, to, body) = location(&start).await;
    assert_eq!((s, to.as_str()), (StatusCode::BAD_REQUEST, ""), "{body}");
    assert_eq!(body["error"], "invalid_request_object");
}

#[tokio::test]
async fn the_registered_algorithm_and_unsigned_objects() {
    let app = spawn().await;
    let (_, challenge) = pkce();
    // Only ES256 objects for this client.
    let es = rp(&app, json!({"request_object_signing_alg": "ES256"})).await;
    for key in &es.keys {
        let start = url(&app, &[("client_id", &es.id), ("redirect_uri", REDIRECT), ("request", &key.sign_jwt(&object(&app, &es, &challenge)))]);
        let (s, to, _) = location(&start).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let refused = param(&to, "error").as_deref() == Some("invalid_request_object");
        assert_eq!(refused, key.alg() != Alg::Es256, "{}: {to}", key.alg());
    }
    // A client that registered "none" may send unsigned objects.
    let plain = rp(&app, json!({"request_object_signing_alg": "none"})).await;
    let start = url(&app, &[("client_id", &plain.id), ("request", &unsigned(&object(&app, &plain, &challenge)))]);
    let (s, to, _) = location(&start).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(to.starts_with(LOGIN_URL), "an unsigned object from a client that registered none: {to}");
}

#[tokio::test]
async fn request_uris_that_were_not_pushed_are_answered_at_the_client() {
    let app = spawn().await;
    let rp = rp(&app, json!({})).await;
    for (uri, error) in [
        ("https://app.example.com/request.jwt", "request_uri_not_supported"),
        ("urn:ietf:params:oauth:request_uri:never-pushed", "invalid_request_uri"),
    ] {
        let start = url(&app, &[("client_id", &rp.id), ("redirect_uri", REDIRECT), ("state", "s-1234567890"), ("request_uri", uri)]);
        let (s, to, body) = location(&start).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{uri}: {body}");
        assert_eq!(param(&to, "error").as_deref(), Some(error), "{to}");
        assert_eq!(param(&to, "state").as_deref(), Some("s-1234567890"));
    }
}

#[tokio::test]
async fn a_request_object_can_be_pushed() {
    let app = spawn().await;
    let rp = rp(&app, json!({})).await;
    let (verifier, challenge) = pkce();
    let o = object(&app, &rp, &challenge);
    let push = |jwt: String| {
        let app = &app;
        let rp = &rp;
        async move {
            let resp = app
                .http
                .post(format!("{}/oauth2/par", app.public))
                .basic_auth(&rp.id, Some(&rp.secret))
                .form(&[("request", jwt.as_str())])
                .send()
                .await
                .unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, bad) = push(SigningKey::generate(Alg::Es256).0.sign_jwt(&o)).await;
    assert_eq!((s, bad["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request_object")), "{bad}");
    let (s, pushed) = push(rp.keys[0].sign_jwt(&o)).await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let start = url(&app, &[("client_id", &rp.id), ("request_uri", pushed["request_uri"].as_str().unwrap())]);
    let back = login_and_consent(&app, &mut Browser::new(), &start, "alice", false).await;
    assert_eq!(param(&back, "state").as_deref(), Some("inner-state-123"));
    let code = param(&back, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, tokens) = exchange(&app, &rp.id, Some(&rp.secret), &form).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
}

#[tokio::test]
async fn discovery_says_request_objects_are_supported() {
    let app = spawn().await;
    let d: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["request_parameter_supported"], true);
    let algs = d["request_object_signing_alg_values_supported"].as_array().unwrap();
    assert!(algs.contains(&json!("RS256")) && algs.contains(&json!("none")) && !algs.contains(&json!("HS256")));
}
