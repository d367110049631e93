//! The authms client API end to end: every route of DESIGN.md's table.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn full_body() -> Value {
    json!({
        "name": "My Application",
        "redirect_uris": ["https://app.example.com/callback", "https://app.example.com/other", "http://127.0.0.1:9000/cb"],
        "client_auth_methods": ["client_secret_basic", "private_key_jwt"],
        "fapi_profile": "",
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "is_confidential": true,
        "jwks": r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}"#,
        "logo_url": "https://app.example.com/logo.png",
        "privacy_policy": "https://app.example.com/privacy",
        "scopes": ["openid", "profile", "email"],
        "terms_url": "https://app.example.com/terms",
        "website": "https://app.example.com",
    })
}

#[tokio::test]
async fn create_returns_every_field_and_the_secret_once() {
    let app = TestApp::spawn().await;
    let (status, resp) = app.admin(Method::POST, "/admin/oauth/clients", Some(full_body())).await;
    assert_eq!(status, StatusCode::CREATED, "{resp}");
    assert_eq!(resp["code"], 201);
    assert!(resp["message"].is_string());
    assert!(clavis_core::time::parse_rfc3339(resp["timestamp"].as_str().unwrap()).is_some());
    let c = &resp["data"];
    let input = full_body();
    for field in [
        "name",
        "redirect_uris",
        "client_auth_methods",
        "fapi_profile",
        "grant_types",
        "is_confidential",
        "jwks",
        "logo_url",
        "privacy_policy",
        "scopes",
        "terms_url",
        "website",
    ] {
        assert_eq!(c[field], input[field], "{field}");
    }
    assert_eq!(c["jwks_uri"], "");
    assert_eq!(c["status"], "active");
    assert_eq!(c["tenant_id"], "default");
    assert_eq!(c["cors_origins"], json!(["https://app.example.com", "http://127.0.0.1:9000"]));
    assert_eq!(c["id"].as_str().unwrap().len(), 26, "a ULID");
    let secret = c["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43, "256 bits");
    assert_eq!(c["secret_last_four"], &secret[secret.len() - 4..]);
    assert!(c["created_at"].is_string() && c["updated_at"].is_string() && c["deleted_at"].is_null());

    // Read back: same fields, no secret.
    let client_id = c["client_id"].as_str().unwrap();
    let (status, got) = app.admin(Method::GET, &format!("/admin/oauth/clients/{client_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let mut expected = c.clone();
    expected.as_object_mut().unwrap().remove("client_secret");
    assert_eq!(got["data"], expected);
    assert!(!got.to_string().contains(secret));
}

#[tokio::test]
async fn public_clients_get_no_secret() {
    let app = TestApp::spawn().await;
    let c = app.create_client(json!({"name": "SPA", "redirect_uris": ["https://spa.example/cb"], "is_confidential": false})).await;
    assert!(c.get("client_secret").is_none(), "{c}");
    assert_eq!(c["client_auth_methods"], json!(["none"]));
    assert_eq!(c["secret_last_four"], "");
    let path = format!("/admin/oauth/clients/{}/rotate-secret", c["client_id"].as_str().unwrap());
    let (status, body) = app.admin(Method::POST, &path, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// A confidential client switched to public loses its secrets, in one transaction with the
/// update (found by schemathesis: on PostgreSQL this was a 500).
#[tokio::test]
async fn switching_to_public_drops_the_secrets() {
    let app = TestApp::spawn().await;
    let c = app.create_client(json!({"name": "was confidential", "redirect_uris": ["https://a.example/cb"]})).await;
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    assert_eq!(c["secret_last_four"].as_str().unwrap().len(), 4);
    let (status, body) = app.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"is_confidential": false}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["client_auth_methods"], json!(["none"]));
    let (_, read) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}"), None).await;
    assert_eq!(read["data"]["secret_last_four"], "", "{read}");
    let (_, secrets) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/secrets"), None).await;
    assert_eq!(secrets["data"]["secrets"], json!([]), "{secrets}");
    let resp = app.http.post(app.token_url("")).basic_auth(id, Some(secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "the old secret no longer authenticates");
}

#[tokio::test]
async fn list_paginates_filters_and_orders_stably() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let name = if i % 2 == 0 { format!("Alpha {i}") } else { format!("beta {i}") };
        let c = app.create_client(json!({"name": name, "redirect_uris": ["https://a.example/cb"]})).await;
        ids.push(c["client_id"].as_str().unwrap().to_owned());
    }
    let suspended = &ids[1];
    let (s, _) = app.admin(Method::PUT, &format!("/admin/oauth/clients/{suspended}"), Some(json!({"status": "suspended"}))).await;
    assert_eq!(s, StatusCode::OK);

    // 5 clients + the bootstrap admin client.
    let (s, page1) = app.admin(Method::GET, "/admin/oauth/clients?page=1&page_size=4", None).await;
    assert_eq!(s, StatusCode::OK);
    let d = &page1["data"];
    assert_eq!((d["total"].as_i64(), d["page"].as_i64(), d["page_size"].as_i64()), (Some(6), Some(1), Some(4)));
    assert_eq!(d["items"].as_array().unwrap().len(), 4);
    let (_, page2) = app.admin(Method::GET, "/admin/oauth/clients?page=2&page_size=4", None).await;
    assert_eq!(page2["data"]["items"].as_array().unwrap().len(), 2);
    let listed: Vec<&str> =
        d["items"].as_array().unwrap().iter().chain(page2["data"]["items"].as_array().unwrap()).map(|c| c["client_id"].as_str().unwrap()).collect();
    let mut unique = listed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 6, "pages neither overlap nor skip");
    // Newest first.
    assert_eq!(listed[0], ids[4]);
    let (_, again) = app.admin(Method::GET, "/admin/oauth/clients?page=1&page_size=4", None).await;
    assert_eq!(again["data"]["items"], d["items"], "stable order");

    let (_, alpha) = app.admin(Method::GET, "/admin/oauth/clients?name=ALPHA", None).await;
    assert_eq!(alpha["data"]["total"], 3, "case-insensitive substring");
    let (_, sus) = app.admin(Method::GET, "/admin/oauth/clients?status=suspended", None).await;
    assert_eq!(sus["data"]["total"], 1);
    assert_eq!(sus["data"]["items"][0]["client_id"], suspended.as_str());
    let (_, both) = app.admin(Method::GET, "/admin/oauth/clients?name=beta&status=active", None).await;
    assert_eq!(both["data"]["total"], 1);
    let (_, none) = app.admin(Method::GET, "/admin/oauth/clients?name=%25", None).await;
    assert_eq!(none["data"]["total"], 0, "% is a literal, not a wildcard");
}

#[tokio::test]
async fn update_changes_only_present_fields() {
    let app = TestApp::spawn().await;
    let c = app.create_client(full_body()).await;
    let id = c["client_id"].as_str().unwrap();
    let path = format!("/admin/oauth/clients/{id}");
    let (s, upd) = app.admin(Method::PUT, &path, Some(json!({"name": "Renamed", "redirect_uris": ["https://new.example/cb"]}))).await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    let u = &upd["data"];
    assert_eq!(u["name"], "Renamed");
    assert_eq!(u["redirect_uris"], json!(["https://new.example/cb"]));
    assert_eq!(u["cors_origins"], json!(["https://new.example"]), "derived again");
    for unchanged in ["scopes", "grant_types", "client_auth_methods", "jwks", "logo_url", "website", "status", "created_at", "secret_last_four", "id"]
    {
        assert_eq!(u[unchanged], c[unchanged], "{unchanged}");
    }
    // An empty body changes nothing.
    let (s, same) = app.admin(Method::PUT, &path, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(same["data"]["name"], "Renamed");
    // Invalid update: refused, nothing changed.
    let (s, err) = app.admin(Method::PUT, &path, Some(json!({"name": "X", "status": "paused"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(err["message"].as_str().unwrap().contains("status"), "{err}");
    let (_, now) = app.admin(Method::GET, &path, None).await;
    assert_eq!(now["data"]["name"], "Renamed");
}

#[tokio::test]
async fn suspend_and_reactivate_control_token_issuance() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    app.token_ok("", &id, &secret, None).await;
    let path = format!("/admin/oauth/clients/{id}");
    app.admin(Method::PUT, &path, Some(json!({"status": "suspended"}))).await;
    let (s, body) = app.token("", &id, &secret, None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")), "suspended at once");
    app.admin(Method::PUT, &path, Some(json!({"status": "active"}))).await;
    app.token_ok("", &id, &secret, None).await;
}

#[tokio::test]
async fn delete_is_soft_and_final() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let path = format!("/admin/oauth/clients/{id}");
    let (s, body) = app.admin(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(body.is_null());
    for (method, p) in [
        (Method::GET, path.clone()),
        (Method::PUT, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::POST, format!("{path}/clone")),
        (Method::POST, format!("{path}/rotate-secret")),
        (Method::GET, format!("{path}/secrets")),
        (Method::POST, format!("{path}/secrets")),
        (Method::GET, format!("{path}/audit")),
    ] {
        let (s, body) = app.admin(method.clone(), &p, Some(json!({}))).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {p}: {body}");
        assert_eq!(body["code"], 404);
        assert!(body.get("data").is_none());
    }
    let (s, body) = app.token("", &id, &secret, None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (_, list) = app.admin(Method::GET, "/admin/oauth/clients", None).await;
    assert!(!list.to_string().contains(&id));
}

#[tokio::test]
async fn deleting_an_admin_client_revokes_its_tokens() {
    let app = TestApp::spawn().await;
    let c = app
        .create_client(json!({"name": "second admin", "redirect_uris": ["https://a.example/cb"],
                              "grant_types": ["client_credentials"], "scopes": ["admin"]}))
        .await;
    let token = app.token_ok("", c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap(), None).await;
    let token = token["access_token"].as_str().unwrap();
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", token, None).await;
    assert_eq!(s, StatusCode::OK);
    app.admin(Method::DELETE, &format!("/admin/oauth/clients/{}", c["client_id"].as_str().unwrap()), None).await;
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", token, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn clone_copies_settings_with_new_identity() {
    let app = TestApp::spawn().await;
    let src = app.create_client(full_body()).await;
    let src_id = src["client_id"].as_str().unwrap();
    let (s, resp) = app.admin(Method::POST, &format!("/admin/oauth/clients/{src_id}/clone"), None).await;
    assert_eq!(s, StatusCode::CREATED, "{resp}");
    let c = &resp["data"];
    assert_eq!(c["name"], "My Application (clone)");
    for same in [
        "redirect_uris",
        "scopes",
        "grant_types",
        "client_auth_methods",
        "jwks",
        "jwks_uri",
        "fapi_profile",
        "is_confidential",
        "cors_origins",
        "logo_url",
        "website",
    ] {
        assert_eq!(c[same], src[same], "{same}");
    }
    for differs in ["id", "client_id", "client_secret"] {
        assert_ne!(c[differs], src[differs], "{differs}");
    }
    assert_eq!(c["status"], "active");
    // Both secrets work, each for its own client only.
    let (cid, csecret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    app.token_ok("", cid, csecret, Some("openid")).await;
    let (s, _) = app.token("", src_id, csecret, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotate_keeps_the_old_secret_for_the_grace_period() {
    let app = TestApp::spawn().await;
    let (id, old) = app.machine_client().await;
    let path = format!("/admin/oauth/clients/{id}/rotate-secret");
    let (s, resp) = app.admin(Method::POST, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{resp}");
    let d = &resp["data"];
    assert_eq!(d["client_id"], id.as_str());
    assert!(d["rotated_at"].is_string());
    let new = d["new_secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    // Default grace: 4 h, so both verify now.
    app.token_ok("", &id, &old, None).await;
    app.token_ok("", &id, &new, None).await;
    let (_, secrets) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}/secrets"), None).await;
    let list = secrets["data"]["secrets"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let expiring = list.iter().find(|s| s["status"] == "expiring").expect("the old secret is expiring");
    let until = clavis_core::time::parse_rfc3339(expiring["expires_at"].as_str().unwrap()).unwrap();
    let rotated = clavis_core::time::parse_rfc3339(d["rotated_at"].as_str().unwrap()).unwrap();
    assert_eq!(until - rotated, 4 * 3600);
    let (_, item) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}"), None).await;
    assert_eq!(item["data"]["secret_last_four"], &new[new.len() - 4..]);

    // Grace 0: every previous secret stops at once.
    let (s, resp) = app.admin(Method::POST, &path, Some(json!({"grace_period_seconds": 0}))).await;
    assert_eq!(s, StatusCode::OK);
    let newest = resp["data"]["new_secret"].as_str().unwrap();
    for stale in [&old, &new] {
        let (s, body) = app.token("", &id, stale, None).await;
        assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    }
    app.token_ok("", &id, newest, None).await;
    let (s, _) = app.admin(Method::POST, &path, Some(json!({"grace_period_seconds": -1}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secrets_subresource_limits_and_never_shows_values() {
    let app = TestApp::spawn().await;
    let (id, first) = app.machine_client().await;
    let base = format!("/admin/oauth/clients/{id}/secrets");
    let (s, added) = app.admin(Method::POST, &base, Some(json!({"description": "ci deploy", "expires_at": "2099-01-01T00:00:00Z"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    let second = added["data"]["secret_value"].as_str().unwrap().to_owned();
    let second_id = added["data"]["secret_id"].as_str().unwrap().to_owned();
    assert_eq!(added["data"]["status"], "active");
    app.token_ok("", &id, &first, None).await;
    app.token_ok("", &id, &second, None).await;

    let (s, body) = app.admin(Method::POST, &base, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "a third active secret: {body}");

    let (s, list) = app.admin(Method::GET, &base, None).await;
    assert_eq!(s, StatusCode::OK);
    let text = list.to_string();
    assert!(!text.contains(&first) && !text.contains(&second), "values never listed");
    assert!(!text.contains("sha256"), "hashes never listed");
    let items = list["data"]["secrets"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for key in ["secret_id", "status", "description", "created_at", "updated_at", "expires_at", "last_used_at"] {
        assert!(items[0].get(key).is_some(), "{key}");
    }
    let desc = items.iter().find(|s| s["secret_id"] == second_id.as_str()).unwrap();
    assert_eq!(desc["description"], "ci deploy");
    assert_eq!(desc["expires_at"], "2099-01-01T00:00:00Z");
    let first_item = items.iter().find(|s| s["secret_id"] != second_id.as_str()).unwrap();
    assert!(first_item["last_used_at"].is_string(), "the first use is recorded: {first_item}");

    let first_id = first_item["secret_id"].as_str().unwrap();
    let (s, _) = app.admin(Method::DELETE, &format!("{base}/{first_id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, body) = app.token("", &id, &first, None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (s, body) = app.admin(Method::DELETE, &format!("{base}/{second_id}"), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the last secret stays: {body}");
    app.token_ok("", &id, &second, None).await;
    let (s, _) = app.admin(Method::DELETE, &format!("{base}/01NOSUCHSECRET0000000000000"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.admin(Method::POST, &base, Some(json!({"expires_at": "2001-01-01T00:00:00Z"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "expiry in the past");
}

#[tokio::test]
async fn audit_log_records_every_change_without_secrets() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let base = format!("/admin/oauth/clients/{id}");
    app.admin(Method::PUT, &base, Some(json!({"name": "renamed", "scopes": ["read"]}))).await;
    let (_, rotated) = app.admin(Method::POST, &format!("{base}/rotate-secret"), None).await;
    let (_, added) = app.admin(Method::POST, &format!("{base}/secrets"), Some(json!({}))).await;
    let added_id = added["data"]["secret_id"].as_str().unwrap();
    app.admin(Method::DELETE, &format!("{base}/secrets/{added_id}"), None).await;
    let (_, clone) = app.admin(Method::POST, &format!("{base}/clone"), None).await;

    let (s, audit) = app.admin(Method::GET, &format!("{base}/audit?page=1&page_size=10"), None).await;
    assert_eq!(s, StatusCode::OK);
    let items = audit["data"]["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["delete_secret", "add_secret", "rotate_secret", "update", "create"], "newest first");
    assert_eq!(audit["data"]["total"], 5);
    let update = &items[3];
    assert_eq!(update["changed_fields"], json!(["name", "scopes"]));
    assert_eq!(update["actor"], common::ADMIN_ID);
    assert_eq!(update["tenant_id"], "default");
    assert!(update["created_at"].is_string());
    let text = audit.to_string();
    for s in [secret.as_str(), rotated["data"]["new_secret"].as_str().unwrap(), added["data"]["secret_value"].as_str().unwrap()] {
        assert!(!text.contains(s), "no secret in the audit log");
    }
    let (_, page2) = app.admin(Method::GET, &format!("{base}/audit?page=2&page_size=2"), None).await;
    assert_eq!(page2["data"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(page2["data"]["items"][0]["action"], "rotate_secret");

    let clone_id = clone["data"]["client_id"].as_str().unwrap();
    let (_, clone_audit) = app.admin(Method::GET, &format!("/admin/oauth/clients/{clone_id}/audit"), None).await;
    assert_eq!(clone_audit["data"]["items"][0]["action"], "clone");
    assert!(clone_audit["data"]["items"][0]["detail"].as_str().unwrap().contains(&id));
}

#[tokio::test]
async fn internal_api_needs_the_key_and_a_tenant() {
    let app = TestApp::spawn().await;
    let url = format!("{}/internal/oauth/clients", app.admin);
    let body = json!({"name": "Default client", "redirect_uris": ["https://acme.example/cb"]});
    let post = |key: Option<&str>, tenant: Option<&str>| {
        let mut req = app.http.post(&url).json(&body);
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        if let Some(t) = tenant {
            req = req.header("X-Tenant-ID", t);
        }
        req.send()
    };
    for (key, tenant, want) in [
        (None, Some("acme"), 401),
        (Some("wrong-key"), Some("acme"), 401),
        (Some(""), Some("acme"), 401),
        (Some(common::INTERNAL_KEY), None, 400),
        (Some(common::INTERNAL_KEY), Some("Not A Tenant"), 400),
        (Some(common::INTERNAL_KEY), Some("acme"), 201),
        (Some("other-key-0123456789"), Some("acme"), 201),
    ] {
        let resp = post(key, tenant).await.unwrap();
        assert_eq!(resp.status().as_u16(), want, "{key:?} {tenant:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["code"], want);
        if want == 201 {
            assert_eq!(v["data"]["tenant_id"], "acme");
            assert!(v["data"]["client_secret"].is_string());
        }
    }
    // The tenant now exists and has its own issuer.
    let resp = app.http.get(format!("{}/t/acme/.well-known/openid-configuration", app.public)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The internal API is not on the public listener.
    let resp = app.http.post(format!("{}/internal/oauth/clients", app.public)).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_authentication_statuses() {
    let app = TestApp::spawn().await;
    let (s, body) = app.call(Method::GET, "/admin/oauth/clients", "", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], 401);
    let resp = app.http.get(format!("{}/admin/oauth/clients", app.admin)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("www-authenticate").is_some());
    for bad in ["garbage", "a.b.c", &app.admin_token[..app.admin_token.len() - 4]] {
        let (s, _) = app.call(Method::GET, "/admin/oauth/clients", bad, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // A valid token without scope admin: 403.
    let (id, secret) = app.machine_client().await;
    let token = app.token_ok("", &id, &secret, None).await;
    let (s, body) = app.call(Method::GET, "/admin/oauth/clients", token["access_token"].as_str().unwrap(), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], 403);
    // The admin API is not on the public listener.
    let resp = app.http.get(format!("{}/admin/oauth/clients", app.public)).bearer_auth(&app.admin_token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
