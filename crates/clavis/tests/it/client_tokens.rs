//! `GET/DELETE /admin/oauth/clients/{id}/tokens`: a client's stored tokens listed (never
//! their text), and all its tokens revoked — refresh tokens, opaque access tokens, and JWT
//! access tokens through the client's revocation point, everywhere Clavis checks them.

use crate::common;

use std::time::{Duration, Instant};

use common::{claims, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const REDIRECT: &str = "https://app.example.com/cb";

/// Signs `subject` in to `client_id` through the login and consent API (the browser's
/// binding cookie carried by hand); returns the token response.
async fn sign_in(app: &TestApp, client_id: &str, secret: &str, subject: &str) -> Value {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let param = |url: &str, k: &str| url::Url::parse(url).unwrap().query_pairs().find(|(n, _)| n == k).unwrap().1.into_owned();
    let verifier = clavis_core::ids::random_token(32);
    let start = format!(
        "{}/oauth2/auth?response_type=code&client_id={client_id}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb\
        &scope=openid+offline_access&state=s-1234567890&code_challenge={}&code_challenge_method=S256",
        app.public,
        clavis_core::jose::pkce_s256(&verifier)
    );
    let resp = http.get(&start).send().await.unwrap();
    let binding = common::set_cookie(&resp);
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let (_, r) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={}", param(&loc, "login_challenge")),
            Some(json!({"subject": subject})),
        )
        .await;
    let resp = http.get(r["redirect_to"].as_str().unwrap()).header("cookie", &binding).send().await.unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let (_, r) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={}", param(&loc, "consent_challenge")),
            Some(json!({"grant_scope": ["openid", "offline_access"]})),
        )
        .await;
    let resp = http.get(r["redirect_to"].as_str().unwrap()).header("cookie", &binding).send().await.unwrap();
    let code = param(resp.headers()["location"].to_str().unwrap(), "code");
    app.http
        .post(app.token_url(""))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", verifier.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn listing_shows_stored_tokens_without_their_text() {
    let app = TestApp::spawn_with(|a| a.login_url = Some("https://login.example/l".into())).await;
    let (s, _) = app.admin(Method::PUT, "/admin/oauth/tenant", Some(json!({"consent_url": "https://login.example/c"}))).await;
    assert_eq!(s, StatusCode::OK);
    let c = app
        .create_client(json!({"name": "web", "redirect_uris": [REDIRECT], "scopes": ["openid", "offline_access", "read"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "access_token_strategy": "opaque"}))
        .await;
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let first = sign_in(&app, id, secret, "alice").await;
    let second = sign_in(&app, id, secret, "bob").await;
    let machine = app.token_ok("", id, secret, Some("read")).await;
    let (s, v) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/tokens?page_size=2"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = &v["data"];
    // Two refresh tokens and three opaque access tokens.
    assert_eq!(d["total"], 5, "{d}");
    assert_eq!(d["pagination"], json!({"page": 1, "page_size": 2, "total": 5, "total_pages": 3, "has_next": true, "has_prev": false}));
    assert_eq!(d["items"].as_array().unwrap().len(), 2);
    let mut all = Vec::new();
    for page in 1..=3 {
        let (_, v) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/tokens?page_size=2&page={page}"), None).await;
        all.extend(v["data"]["items"].as_array().unwrap().clone());
    }
    let text = serde_json::to_string(&all).unwrap();
    for t in [&first, &second, &machine] {
        for k in ["access_token", "refresh_token"] {
            if let Some(secret) = t[k].as_str() {
                assert!(!text.contains(secret), "no token text in the list");
            }
        }
    }
    let refresh: Vec<&Value> = all.iter().filter(|i| i["token_type"] == "refresh_token").collect();
    let mut users: Vec<&str> = refresh.iter().map(|i| i["user_id"].as_str().unwrap()).collect();
    users.sort();
    assert_eq!(users, ["alice", "bob"]);
    assert!(refresh.iter().all(|i| i["scope"] == "openid offline_access" && i["created_at"].is_string() && i["expires_at"].is_string()));
    assert!(all.iter().any(|i| i["token_type"] == "access_token" && i["user_id"] == id && i["scope"] == "read"), "{text}");
    for bad in ["page=0", "page_size=101"] {
        let (s, _) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/tokens?{bad}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
    let (s, _) = app.admin(Method::GET, "/admin/oauth/clients/nobody/tokens", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let acme = app.tenant_admin("acme").await;
    let (s, _) = app.call(Method::GET, &format!("/admin/oauth/clients/{id}/tokens"), &acme, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another tenant's client is absent");
}

#[tokio::test]
async fn revoking_ends_every_token_of_the_client_and_only_of_it() {
    let app = TestApp::spawn_with(|a| a.login_url = Some("https://login.example/l".into())).await;
    app.admin(Method::PUT, "/admin/oauth/tenant", Some(json!({"consent_url": "https://login.example/c"}))).await;
    let c = app
        .create_client(json!({"name": "web", "redirect_uris": [REDIRECT], "scopes": ["openid", "offline_access", "read"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"]}))
        .await;
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let user = sign_in(&app, id, secret, "carol").await;
    let jwt = app.token_ok("", id, secret, None).await["access_token"].as_str().unwrap().to_owned();
    let (other, other_secret) = app.machine_client().await;
    let others = app.token_ok("", &other, &other_secret, None).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&jwt).await["active"], true);

    for bad in ["grace_period=-1", "grace_period=abc", "grace_period=86401"] {
        let (s, v) = app.admin(Method::DELETE, &format!("/admin/oauth/clients/{id}/tokens?{bad}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (s, v) = app.admin(Method::DELETE, &format!("/admin/oauth/clients/{id}/tokens"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"], json!({"grace_period": 0, "revoked_access_tokens": 0, "revoked_refresh_tokens": 1}));
    let after = clavis_core::time::now_unix();
    for t in [&jwt, user["access_token"].as_str().unwrap(), user["refresh_token"].as_str().unwrap()] {
        assert_eq!(app.introspect(t).await["active"], false, "revoked");
    }
    let resp = app.http.get(format!("{}/userinfo", app.public)).bearer_auth(user["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "userinfo refuses it too");
    let (s, body) = (
        app.http
            .post(app.token_url(""))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", user["refresh_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap()
            .status(),
        (),
    );
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body:?}");
    assert_eq!(app.introspect(&others).await["active"], true, "another client's tokens are untouched");
    let (_, v) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/tokens"), None).await;
    assert_eq!(v["data"]["total"], 0);
    // Suspending and re-activating does not bring them back.
    app.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"status": "suspended"}))).await;
    app.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"status": "active"}))).await;
    assert_eq!(app.introspect(&jwt).await["active"], false);
    // Tokens issued after the revocation work (the revocation covers its own second, so
    // wait for the clock to pass it).
    let deadline = Instant::now() + Duration::from_secs(5);
    let fresh = loop {
        let t = app.token_ok("", id, secret, None).await["access_token"].as_str().unwrap().to_owned();
        if claims(&t)["iat"].as_i64().unwrap() > after {
            break t;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(app.introspect(&fresh).await["active"], true);
    // The audit log says who did it.
    let (_, audit) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/audit"), None).await;
    assert!(audit["data"]["items"].as_array().unwrap().iter().any(|e| e["action"] == "revoke_tokens"), "{audit}");
}

#[tokio::test]
async fn a_grace_period_keeps_tokens_working_until_it_ends() {
    let app = TestApp::spawn().await;
    let c = app
        .create_client(json!({"name": "m", "redirect_uris": [REDIRECT], "scopes": ["read"], "grant_types": ["client_credentials"],
        "access_token_strategy": "opaque"}))
        .await;
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let opaque = app.token_ok("", id, secret, None).await["access_token"].as_str().unwrap().to_owned();
    let (s, v) = app.admin(Method::DELETE, &format!("/admin/oauth/clients/{id}/tokens?grace_period=2"), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"], json!({"grace_period": 2, "revoked_access_tokens": 1, "revoked_refresh_tokens": 0}));
    assert_eq!(app.introspect(&opaque).await["active"], true, "still in its grace period");
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.introspect(&opaque).await["active"] == true {
        assert!(Instant::now() < deadline, "the grace period never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn revoking_the_admin_clients_tokens_ends_admin_access() {
    let app = TestApp::spawn().await;
    let (s, _) = app.admin(Method::DELETE, &format!("/admin/oauth/clients/{}/tokens", common::ADMIN_ID), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.admin(Method::GET, "/admin/oauth/clients", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the admin token is revoked too");
}
