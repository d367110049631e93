//! The Hydra-compatible client API: shapes, defaults, paging, PUT/PATCH, lifespans, and
//! one client store shared with the authms API.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn create_with_defaults_and_a_supplied_secret() {
    let app = TestApp::spawn().await;
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(json!({"client_name": "hydra app"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["grant_types"], json!(["authorization_code"]));
    assert_eq!(c["response_types"], json!(["code"]));
    assert_eq!(c["scope"], "offline_access offline openid");
    assert_eq!(c["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(c["subject_type"], "public");
    assert!(c["client_secret"].as_str().unwrap().len() >= 43, "generated");

    let body = json!({"client_id": "my-service", "client_name": "svc", "client_secret": "weak-but-allowed",
                      "grant_types": ["client_credentials"], "scope": "read write", "owner": "team-a"});
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!((c["client_id"].as_str(), c["client_secret"].as_str()), (Some("my-service"), Some("weak-but-allowed")));
    // Stored with argon2id, verified, then remembered.
    for _ in 0..3 {
        app.token_ok("", "my-service", "weak-but-allowed", Some("read")).await;
    }
    let (s, _) = app.token("", "my-service", "weak-but-allowe", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, dup) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{dup}");
    assert!(dup["error"].is_string() && dup["error_description"].is_string());

    for (bad, code) in [
        (json!({"redirect_uris": ["not a uri"]}), "invalid_redirect_uri"),
        (json!({"client_secret": "short"}), "invalid_client_metadata"),
        (json!({"grant_types": ["implicit"]}), "invalid_client_metadata"),
        (json!({"scope": 5}), "invalid_client_metadata"),
        (json!({"token_endpoint_auth_method": "magic"}), "invalid_client_metadata"),
        (json!({"subject_type": "pairwise"}), "invalid_client_metadata"),
        (json!({"authorization_code_grant_access_token_lifespan": "forever"}), "invalid_client_metadata"),
        (json!({"allowed_cors_origins": ["https://a.example/path"]}), "invalid_client_metadata"),
        (json!({"token_endpoint_auth_method": "none", "client_secret": "a-secret-for-none"}), "invalid_client_metadata"),
    ] {
        let (s, e) = app.admin(Method::POST, "/admin/clients", Some(bad.clone())).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{bad}: {e}");
    }
    let (s, e) = app.admin(Method::GET, "/admin/clients/nope", None).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn keyset_pages_with_link_headers() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        let (s, _) = app.admin(Method::POST, "/admin/clients", Some(json!({"client_name": format!("c{i}"), "owner": "o1"}))).await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let mut url = format!("{}/admin/clients?page_size=3&owner=o1", app.admin);
    let mut seen = Vec::new();
    for _ in 0..10 {
        let resp = app.http.get(&url).bearer_auth(&app.admin_token).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["x-total-count"], "7");
        let link = resp.headers()["link"].to_str().unwrap().to_owned();
        assert!(link.contains("rel=\"first\""));
        let page: Vec<Value> = resp.json().await.unwrap();
        assert!(page.len() <= 3);
        seen.extend(page.iter().map(|c| c["client_name"].as_str().unwrap().to_owned()));
        match link.split(',').find(|l| l.contains("rel=\"next\"")) {
            Some(next) => url = format!("{}{}", app.admin, next.trim().trim_start_matches('<').split('>').next().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("c{i}")).collect::<Vec<_>>(), "each once, in creation order");
    let resp =
        app.http.get(format!("{}/admin/clients?page_size=100000&client_name=c3", app.admin)).bearer_auth(&app.admin_token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "clamped, not refused");
    assert_eq!(resp.json::<Vec<Value>>().await.unwrap().len(), 1);
    for bad in ["page_size=0", "page_size=x", "page_size=", "page_token=not-a-token"] {
        let (s, _) = app.admin(Method::GET, &format!("/admin/clients?{bad}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn put_patch_and_lifespans_keep_what_hydra_does_not_know() {
    let app = TestApp::spawn().await;
    // Created through authms, with two auth methods and then suspended.
    let c = app
        .create_client(json!({"name": "shared", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"],
                              "scopes": ["read"], "client_auth_methods": ["client_secret_basic", "client_secret_post"]}))
        .await;
    let id = c["client_id"].as_str().unwrap().to_owned();
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    app.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"status": "suspended"}))).await;

    let (s, h) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((h["client_name"].as_str(), h["scope"].as_str()), (Some("shared"), Some("read")));
    let mut full = h.clone();
    full["client_name"] = json!("renamed by hydra");
    full["owner"] = json!("team-b");
    full["metadata"] = json!({"tier": {"level": 2}});
    let (s, put) = app.admin(Method::PUT, &format!("/admin/clients/{id}"), Some(full)).await;
    assert_eq!(s, StatusCode::OK, "{put}");
    assert!(put.get("client_secret").is_none(), "secret kept, not shown");
    let (_, a) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}"), None).await;
    assert_eq!(a["data"]["name"], "renamed by hydra");
    assert_eq!(a["data"]["status"], "suspended", "authms status kept");
    assert_eq!(a["data"]["client_auth_methods"], json!(["client_secret_basic", "client_secret_post"]), "method list kept");
    app.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"status": "active"}))).await;
    app.token_ok("", &id, &secret, None).await;

    let patch = json!([
        {"op": "replace", "path": "/client_name", "value": "patched"},
        {"op": "add", "path": "/redirect_uris/-", "value": "https://a.example/two"},
        {"op": "test", "path": "/owner", "value": "team-b"},
        {"op": "replace", "path": "/metadata/tier/level", "value": 3},
    ]);
    let (s, p) = app.admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(patch)).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["client_name"], "patched");
    assert_eq!(p["redirect_uris"], json!(["https://a.example/cb", "https://a.example/two"]));
    assert_eq!(p["metadata"], json!({"tier": {"level": 3}}));
    for bad in [
        json!([{"op": "replace", "path": "/client_id", "value": "x"}]),
        json!([{"op": "remove", "path": "/created_at"}]),
        json!([{"op": "test", "path": "/owner", "value": "nobody"}]),
        json!([{"op": "replace", "path": "/nope/deeper", "value": 1}]),
        json!([{"op": "replace", "path": "/redirect_uris/0", "value": "http://evil.example/cb"}]),
        json!({"op": "replace"}),
        json!([{"op": "replace", "path": "/client_name"}]),
    ] {
        let (s, e) = app.admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
    }
    let (_, still) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
    assert_eq!(still["client_name"], "patched", "failed patches changed nothing");

    // A patched secret replaces the old one at once.
    let (s, p) = app
        .admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(json!([{"op": "add", "path": "/client_secret", "value": "patched-secret"}])))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(p["client_secret"], "patched-secret");
    let (s, _) = app.token("", &id, &secret, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    app.token_ok("", &id, "patched-secret", None).await;

    let (s, l) = app
        .admin(Method::PUT, &format!("/admin/clients/{id}/lifespans"), Some(json!({"client_credentials_grant_access_token_lifespan": "15m"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["client_credentials_grant_access_token_lifespan"], "15m0s");
    assert_eq!(app.token_ok("", &id, "patched-secret", None).await["expires_in"], 900);
    let (s, _) = app.admin(Method::PUT, &format!("/admin/clients/{id}/lifespans"), Some(json!({"client_name": "x"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (s, _) = app.admin(Method::DELETE, &format!("/admin/clients/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Another tenant's admin sees nothing of this tenant.
    let other = app.tenant_admin("other").await;
    let (_, list) = app.call(Method::GET, "/admin/clients", &other, None).await;
    assert!(list.as_array().unwrap().iter().all(|c| c["client_id"] != common::ADMIN_ID));
}

/// `client_secret_expires_at` (RFC 7591 §3.2.1) says when the client's current secret
/// stops working; a body may repeat it but not set another value.
#[tokio::test]
async fn client_secret_expires_at_shows_the_current_secrets_expiry() {
    let app = TestApp::spawn().await;
    let body = json!({"client_name": "exp", "grant_types": ["client_credentials"], "scope": "read"});
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(json!({"client_secret_expires_at": 1999999999, "client_name": "x"}))).await;
    assert_eq!((s, c["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{c}");
    assert!(c["error_description"].as_str().unwrap().contains("client_secret_expires_at"), "{c}");
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["client_secret_expires_at"], 0, "a secret without expiry");
    let id = c["client_id"].as_str().unwrap();

    let until = clavis_core::time::now_unix() + 3600;
    let at = clavis_core::time::rfc3339(until);
    let (s, added) =
        app.admin(Method::POST, &format!("/admin/oauth/clients/{id}/secrets"), Some(json!({"description": "exp", "expires_at": at}))).await;
    assert!(s.is_success(), "{added}");
    let (_, got) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
    assert_eq!(got["client_secret_expires_at"], until, "the newest secret's expiry: {got}");
    let (_, listed) = app.admin(Method::GET, "/admin/clients?client_name=exp", None).await;
    assert_eq!(listed[0]["client_secret_expires_at"], until, "{listed}");

    // A round trip keeps it; another value is refused.
    let mut again = got.clone();
    let (s, put) = app.admin(Method::PUT, &format!("/admin/clients/{id}"), Some(again.clone())).await;
    assert_eq!((s, &put["client_secret_expires_at"]), (StatusCode::OK, &json!(until)), "{put}");
    again["client_secret_expires_at"] = json!(until + 60);
    let (s, e) = app.admin(Method::PUT, &format!("/admin/clients/{id}"), Some(again)).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{e}");
}
