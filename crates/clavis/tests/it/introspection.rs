//! Who may introspect which tokens: self-registered clients see only their own, admins'
//! clients every token of the tenant unless the tenant allows only marked introspectors.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Introspects `token` as the client `id`/`secret` (client_secret_basic).
async fn introspect_as(app: &TestApp, id: &str, secret: &str, token: &str) -> Value {
    let resp =
        app.http.post(format!("{}/oauth2/introspect", app.public)).basic_auth(id, Some(secret)).form(&[("token", token)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}

async fn introspect_as_admin(app: &TestApp, token: &str) -> Value {
    let resp =
        app.http.post(format!("{}/oauth2/introspect", app.public)).bearer_auth(&app.admin_token).form(&[("token", token)]).send().await.unwrap();
    resp.json().await.unwrap()
}

async fn access_token(app: &TestApp, id: &str, secret: &str) -> String {
    app.token_ok("", id, secret, None).await["access_token"].as_str().unwrap().to_owned()
}

async fn set_tenant(app: &TestApp, body: Value) {
    let (s, v) = app.admin(Method::PUT, "/admin/oauth/tenant", Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn mark(app: &TestApp, id: &str, introspector: bool) {
    let (s, v) = app.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"introspector": introspector}))).await;
    assert_eq!((s, &v["data"]["introspector"]), (StatusCode::OK, &json!(introspector)), "{v}");
}

#[tokio::test]
async fn a_self_registered_client_sees_only_its_own_tokens() {
    let app = TestApp::spawn_with(|a| a.dcr_enabled = Some(true)).await;
    set_tenant(&app, json!({"dcr": {"allowed_scopes": ["read"], "allowed_grant_types": ["client_credentials"]}})).await;
    let resp = app
        .http
        .post(format!("{}/oauth2/register", app.public))
        .json(&json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["client_credentials"], "scope": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let dcr: Value = resp.json().await.unwrap();
    let (dcr_id, dcr_secret) = (dcr["client_id"].as_str().unwrap(), dcr["client_secret"].as_str().unwrap());
    let (m_id, m_secret) = app.machine_client().await;
    let (dcr_token, m_token) = (access_token(&app, dcr_id, dcr_secret).await, access_token(&app, &m_id, &m_secret).await);

    let own = introspect_as(&app, dcr_id, dcr_secret, &dcr_token).await;
    assert_eq!((&own["active"], &own["client_id"]), (&json!(true), &json!(dcr_id)), "{own}");
    assert_eq!(introspect_as(&app, dcr_id, dcr_secret, &m_token).await, json!({"active": false}), "another client's token");
    // An admin's client and an admin token still see every token of the tenant.
    assert_eq!(introspect_as(&app, &m_id, &m_secret, &dcr_token).await["active"], true);
    assert_eq!(introspect_as_admin(&app, &dcr_token).await["active"], true);
    assert_eq!(introspect_as_admin(&app, &m_token).await["active"], true);

    // An admin may make it a resource server; its registrant cannot undo that.
    mark(&app, dcr_id, true).await;
    assert_eq!(introspect_as(&app, dcr_id, dcr_secret, &m_token).await["active"], true);
    let resp = app
        .http
        .put(dcr["registration_client_uri"].as_str().unwrap())
        .bearer_auth(dcr["registration_access_token"].as_str().unwrap())
        .json(&json!({"client_name": "renamed", "redirect_uris": ["https://rp.example/cb"], "grant_types": ["client_credentials"], "scope": "read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, v) = app.admin(Method::GET, &format!("/admin/oauth/clients/{dcr_id}"), None).await;
    assert_eq!((&v["data"]["name"], &v["data"]["introspector"], &v["data"]["self_registered"]), (&json!("renamed"), &json!(true), &json!(true)));
}

#[tokio::test]
async fn marked_only_limits_unmarked_clients_to_their_own_tokens() {
    let app = TestApp::spawn().await;
    let ((a_id, a_secret), (b_id, b_secret), (c_id, c_secret)) = (app.machine_client().await, app.machine_client().await, app.machine_client().await);
    mark(&app, &b_id, true).await;
    let (a_token, c_token) = (access_token(&app, &a_id, &a_secret).await, access_token(&app, &c_id, &c_secret).await);
    // The default, any_confidential: as before policies existed.
    let (_, t) = app.admin(Method::GET, "/admin/oauth/tenant", None).await;
    assert_eq!(t["data"]["introspection"], "any_confidential");
    assert_eq!(introspect_as(&app, &a_id, &a_secret, &c_token).await["active"], true);

    set_tenant(&app, json!({"introspection": "marked_only"})).await;
    assert_eq!(introspect_as(&app, &a_id, &a_secret, &c_token).await, json!({"active": false}), "unmarked: not another's token");
    assert_eq!(introspect_as(&app, &a_id, &a_secret, &a_token).await["active"], true, "unmarked: its own token");
    assert_eq!(introspect_as(&app, &b_id, &b_secret, &c_token).await["active"], true, "marked");
    assert_eq!(introspect_as_admin(&app, &c_token).await["active"], true, "admin token");
    mark(&app, &b_id, false).await;
    assert_eq!(introspect_as(&app, &b_id, &b_secret, &c_token).await, json!({"active": false}), "mark removed");

    // Another tenant keeps its own mode.
    let acme = app.tenant_admin("acme").await;
    let (_, t) = app.call(Method::GET, "/admin/oauth/tenant", &acme, None).await;
    assert_eq!(t["data"]["introspection"], "any_confidential");

    // Public clients cannot be marked: they cannot introspect at all.
    let spa = app.create_client(json!({"name": "SPA", "redirect_uris": ["https://spa.example/cb"], "is_confidential": false})).await;
    let (s, e) =
        app.admin(Method::PUT, &format!("/admin/oauth/clients/{}", spa["client_id"].as_str().unwrap()), Some(json!({"introspector": true}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().starts_with("introspector"), "{e}");
}
