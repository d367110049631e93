//! Request objects (RFC 9101; OpenID Connect Core §6, §3.1.2.6): `request` by value at
//! /oauth2/auth and /oauth2/par, `request_uri` by reference from the client's registered
//! `request_uris`, signed with the client's keys; errors go to the client.

use crate::common;

use axum::response::IntoResponse;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use clavis_core::jose::{Alg, SigningKey};
use common::flow::*;
use common::{claims, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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

/// A local host of request objects: `GET /ro/{name}` answers what `docs` holds under
/// `name` (404 otherwise) and counts every fetch.
struct ObjectHost {
    base: String,
    docs: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<AtomicUsize>,
}

impl ObjectHost {
    async fn start() -> Self {
        let docs: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits = Arc::new(AtomicUsize::new(0));
        let (d, h) = (docs.clone(), hits.clone());
        let router = axum::Router::new().route(
            "/ro/{name}",
            axum::routing::get(move |axum::extract::Path(name): axum::extract::Path<String>| {
                h.fetch_add(1, Ordering::SeqCst);
                let doc = d.lock().unwrap().get(&name).cloned();
                async move {
                    match doc {
                        Some(jwt) => ([("content-type", "application/oauth-authz-req+jwt")], jwt).into_response(),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/ro", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { base, docs, hits }
    }

    fn put(&self, name: &str, jwt: String) -> String {
        self.docs.lock().unwrap().insert(name.into(), jwt);
        format!("{}/{name}", self.base)
    }
}

#[tokio::test]
async fn a_request_object_by_reference_comes_from_a_registered_request_uri() {
    let app = spawn().await;
    let host = ObjectHost::start().await;
    let registered = format!("{}/a", host.base);
    let rp = rp(&app, json!({"request_uris": [registered]})).await;
    let (verifier, challenge) = pkce();
    host.put("a", rp.keys[0].sign_jwt(&object(&app, &rp, &challenge)));
    // OpenID Connect Core §6.2: a fragment tells versions of the document apart.
    let start = url(&app, &[("client_id", &rp.id), ("response_type", "code"), ("scope", "openid"), ("request_uri", &format!("{registered}#v1"))]);
    let back = login_and_consent(&app, &mut Browser::new(), &start, "alice", false).await;
    assert_eq!(param(&back, "state").as_deref(), Some("inner-state-123"), "{back}");
    let code = param(&back, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, tokens) = exchange(&app, &rp.id, Some(&rp.secret), &form).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["nonce"], "inner-nonce");
    assert_eq!(host.hits.load(Ordering::SeqCst), 1);

    // The same URI again is served from the cache; another fragment is fetched.
    for (fragment, hits) in [("#v1", 1), ("#v2", 2), ("#v2", 2)] {
        let start = url(&app, &[("client_id", &rp.id), ("request_uri", &format!("{registered}{fragment}"))]);
        let (s, to, _) = location(&start).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(to.starts_with(LOGIN_URL), "{fragment}: {to}");
        assert_eq!(host.hits.load(Ordering::SeqCst), hits, "{fragment}");
    }
}

#[tokio::test]
async fn bad_request_uris_are_answered_at_the_client() {
    let app = spawn().await;
    let host = ObjectHost::start().await;
    let (_, challenge) = pkce();
    let names = ["stranger", "garbage", "missing"];
    let rp = rp(&app, json!({"request_uris": names.iter().map(|n| format!("{}/{n}", host.base)).collect::<Vec<_>>()})).await;
    host.put("stranger", SigningKey::generate(Alg::Es256).0.sign_jwt(&object(&app, &rp, &challenge)));
    host.put("garbage", "<html>not a JWT</html>".into());
    for (uri, error) in [
        (format!("{}/stranger", host.base), "invalid_request_object"),
        (format!("{}/garbage", host.base), "invalid_request_uri"),
        (format!("{}/missing", host.base), "invalid_request_uri"),
        (format!("{}/not-registered", host.base), "invalid_request_uri"),
        ("https://app.example.com/request.jwt".into(), "invalid_request_uri"),
        ("urn:ietf:params:oauth:request_uri:never-pushed".into(), "invalid_request_uri"),
    ] {
        let start = url(&app, &[("client_id", &rp.id), ("redirect_uri", REDIRECT), ("state", "s-1234567890"), ("request_uri", &uri)]);
        let (s, to, body) = location(&start).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{uri}: {body}");
        assert_eq!(param(&to, "error").as_deref(), Some(error), "{uri}: {to}");
        assert_eq!(param(&to, "state").as_deref(), Some("s-1234567890"));
        // The answer says nothing about what the fetch met.
        let description = param(&to, "error_description").unwrap_or_default();
        assert!(!description.contains("404") && !description.contains("127.0.0.1"), "{description}");
    }
    assert_eq!(host.hits.load(Ordering::SeqCst), 3, "only registered URIs are fetched");
    // Registration takes https URLs only (http on loopback, for development).
    for bad in [json!(["http://app.example.com/r.jwt"]), json!(["ftp://app.example.com/r"]), json!(["not a url"])] {
        let (s, e) = app
            .admin(
                Method::POST,
                "/admin/clients",
                Some(json!({"redirect_uris": [REDIRECT], "request_uris": bad, "grant_types": ["authorization_code"]})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert!(e["error_description"].as_str().unwrap_or_default().contains("request_uris"), "{e}");
    }
}

#[tokio::test]
async fn a_client_that_requires_signed_request_objects_gets_nothing_without_one() {
    let app = spawn().await;
    let host = ObjectHost::start().await;
    let rp = rp(&app, json!({"require_signed_request_object": true, "request_uris": [format!("{}/ok", host.base)]})).await;
    let (_, c) = app.admin(Method::GET, &format!("/admin/clients/{}", rp.id), None).await;
    assert_eq!(c["require_signed_request_object"], true);
    let (_, challenge) = pkce();
    // Plain parameters: refused at the client.
    let plain = url(
        &app,
        &[
            ("client_id", &rp.id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s-1234567890"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let (s, to, _) = location(&plain).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
    // By value and by reference: served.
    let by_value = url(&app, &[("client_id", &rp.id), ("request", &rp.keys[1].sign_jwt(&object(&app, &rp, &challenge)))]);
    let by_reference = url(&app, &[("client_id", &rp.id), ("request_uri", &host.put("ok", rp.keys[0].sign_jwt(&object(&app, &rp, &challenge))))]);
    for start in [by_value, by_reference] {
        let (_, to, _) = location(&start).await;
        assert!(to.starts_with(LOGIN_URL), "{to}");
    }
    // Pushed: only as a request object.
    let push = |form: Vec<(&'static str, String)>| {
        let (app, rp) = (&app, &rp);
        async move {
            let resp = app.http.post(format!("{}/oauth2/par", app.public)).basic_auth(&rp.id, Some(&rp.secret)).form(&form).send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let plain_form = vec![
        ("response_type", "code".into()),
        ("redirect_uri", REDIRECT.into()),
        ("state", "s-1234567890".into()),
        ("code_challenge", challenge.clone()),
        ("code_challenge_method", "S256".into()),
    ];
    let (s, e) = push(plain_form).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{e}");
    let (s, e) = push(vec![("request", rp.keys[0].sign_jwt(&object(&app, &rp, &challenge)))]).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    // Registration refuses what could never be honoured.
    for (extra, why) in [(json!({"request_object_signing_alg": "none"}), "none"), (json!({}), "keys")] {
        let mut body = json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "require_signed_request_object": true});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (s, e) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}: {e}");
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
    assert_eq!((d["request_uri_parameter_supported"].as_bool(), d["require_request_uri_registration"].as_bool()), (Some(true), Some(true)));
    let algs = d["request_object_signing_alg_values_supported"].as_array().unwrap();
    assert!(algs.contains(&json!("RS256")) && algs.contains(&json!("none")) && !algs.contains(&json!("HS256")));
}
