//! Dynamic client registration (RFC 7591/7592): off by default, optionally gated, and a
//! registration token manages only its own client.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const INITIAL: &str = "initial-access-token-0123456789";

async fn register(app: &TestApp, tenant_path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut req = app.http.post(format!("{}{tenant_path}/oauth2/register", app.public)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Sets the registration policy of the tenant `admin_token` belongs to.
async fn set_policy(app: &TestApp, admin_token: &str, scopes: &[&str], grants: &[&str]) {
    let body = json!({"dcr": {"allowed_scopes": scopes, "allowed_grant_types": grants}});
    let (s, v) = app.call(Method::PUT, "/admin/oauth/tenant", admin_token, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

async fn manage(app: &TestApp, method: Method, uri: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = app.http.request(method, uri).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn off_by_default() {
    let app = TestApp::spawn().await;
    let (s, _) = register(&app, "", None, json!({"redirect_uris": ["https://rp.example/cb"]})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let v: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    assert!(v.get("registration_endpoint").is_none());
}

#[tokio::test]
async fn open_registration_and_self_management() {
    let app = TestApp::spawn_with(|a| a.dcr_enabled = Some(true)).await;
    let v: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["registration_endpoint"], format!("{}/oauth2/register", app.public));
    // Beyond the default policy: client_credentials and scope read.
    set_policy(&app, &app.admin_token, &["openid", "offline_access", "offline", "read"], &["authorization_code", "client_credentials"]).await;

    let (s, c) = register(
        &app,
        "",
        None,
        json!({"client_name": "rp", "redirect_uris": ["https://rp.example/cb"],
        "grant_types": ["authorization_code", "client_credentials"], "scope": "openid read"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (id, secret, token) =
        (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap(), c["registration_access_token"].as_str().unwrap());
    let uri = c["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(uri, format!("{}/oauth2/register/{id}", app.public));
    app.token_ok("", id, secret, Some("read")).await;

    let (s, got) = manage(&app, Method::GET, &uri, token, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["client_name"], "rp");
    assert!(got.get("registration_access_token").is_none() && got.get("client_secret").is_none(), "shown once");
    let (s, upd) = manage(
        &app,
        Method::PUT,
        &uri,
        token,
        Some(json!({"client_id": id, "client_name": "rp 2",
        "redirect_uris": ["https://rp.example/cb2"], "grant_types": ["authorization_code"], "scope": "openid"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    assert_eq!(upd["client_name"], "rp 2");
    // The admin API sees the same client.
    let (_, a) = app.admin(Method::GET, &format!("/admin/oauth/clients/{id}"), None).await;
    assert_eq!(a["data"]["name"], "rp 2");

    // Privileged fields are refused.
    for bad in [
        json!({"metadata": {"x": 1}}),
        json!({"skip_consent": true}),
        json!({"scope": "openid admin"}),
        json!({"client_secret": "mine-mine"}),
        json!({"client_credentials_grant_access_token_lifespan": "720h"}),
        json!({"introspector": true}),
    ] {
        let (s, e) = register(&app, "", None, bad.clone()).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{bad}");
        let (s, _) = manage(&app, Method::PUT, &uri, token, Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "update with {bad}");
    }

    // One client's registration token cannot touch another client, nor a wrong token.
    let (_, other) = register(&app, "", None, json!({"redirect_uris": ["https://other.example/cb"]})).await;
    let other_uri = other["registration_client_uri"].as_str().unwrap();
    for (u, t) in [(other_uri, token), (uri.as_str(), "wrong"), (uri.as_str(), other["registration_access_token"].as_str().unwrap())] {
        let (s, _) = manage(&app, Method::GET, u, t, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = manage(&app, Method::DELETE, u, t, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, _) = manage(&app, Method::GET, &format!("{}/oauth2/register/{id}", app.public), "", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A tenant's registration endpoint: that tenant's client and issuer.
    app.tenant_admin("acme").await;
    let (s, t) = register(&app, "/t/acme", None, json!({"redirect_uris": ["https://acme.example/cb"]})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(t["registration_client_uri"].as_str().unwrap().starts_with(&format!("{}/t/acme/oauth2/register/", app.public)));
    let (s, _) = manage(
        &app,
        Method::GET,
        &format!("{}/oauth2/register/{}", app.public, t["client_id"].as_str().unwrap()),
        t["registration_access_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "not a client of the default tenant");

    let (s, _) = manage(&app, Method::DELETE, &uri, token, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = manage(&app, Method::GET, &uri, token, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.token("", id, secret, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn gated_by_an_initial_access_token() {
    let app = TestApp::spawn_with(|a| {
        a.dcr_enabled = Some(true);
        a.dcr_initial_access_token = Some(INITIAL.into());
    })
    .await;
    let body = json!({"redirect_uris": ["https://rp.example/cb"]});
    let (s, _) = register(&app, "", None, body.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = register(&app, "", Some("wrong"), body.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, c) = register(&app, "", Some(INITIAL), body).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
}

#[tokio::test]
async fn the_default_policy_admits_sign_in_clients_only() {
    let app = TestApp::spawn_with(|a| a.dcr_enabled = Some(true)).await;
    let (_, t) = app.admin(Method::GET, "/admin/oauth/tenant", None).await;
    assert_eq!(
        t["data"]["dcr"],
        json!({"allowed_scopes": ["openid", "offline_access", "offline", "profile", "email"],
                                        "allowed_grant_types": ["authorization_code", "refresh_token"]})
    );
    let rp = json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["authorization_code", "refresh_token"],
                    "scope": "openid offline_access profile email"});
    let (s, c) = register(&app, "", None, rp.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    // Hydra's defaults (scope "offline_access offline openid", grant authorization_code) fit too.
    let (s, c) = register(&app, "", None, json!({"redirect_uris": ["https://rp.example/cb"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");

    for (extra, field) in
        [(json!({"grant_types": ["authorization_code", "client_credentials"]}), "grant_types"), (json!({"scope": "openid read"}), "scope")]
    {
        let mut body = rp.clone();
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (s, e) = register(&app, "", None, body).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{e}");
        assert!(e["error_description"].as_str().unwrap().starts_with(&format!("{field}: ")), "{e}");
    }
    // A registrant cannot widen its client past the policy through RFC 7592 either.
    let (uri, token) = (c["registration_client_uri"].as_str().unwrap(), c["registration_access_token"].as_str().unwrap());
    let (s, e) = manage(
        &app,
        Method::PUT,
        uri,
        token,
        Some(json!({"redirect_uris": ["https://rp.example/cb"],
        "grant_types": ["client_credentials"], "scope": "openid"})),
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{e}");
}

#[tokio::test]
async fn a_tenant_admin_sets_its_own_policy() {
    let app = TestApp::spawn_with(|a| a.dcr_enabled = Some(true)).await;
    let acme = app.tenant_admin("acme").await;
    let machine = json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["client_credentials"], "scope": "read"});
    let (s, _) = register(&app, "/t/acme", None, machine.clone()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    set_policy(&app, &acme, &["read", "read"], &["client_credentials"]).await;
    let (_, t) = app.call(Method::GET, "/admin/oauth/tenant", &acme, None).await;
    assert_eq!(t["data"]["dcr"], json!({"allowed_scopes": ["read"], "allowed_grant_types": ["client_credentials"]}), "deduplicated");
    let (s, c) = register(&app, "/t/acme", None, machine.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    app.token_ok("acme", c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap(), Some("read")).await;
    // Now narrower than the defaults: Hydra's default scope no longer fits.
    let (s, _) = register(&app, "/t/acme", None, json!({"redirect_uris": ["https://rp.example/cb"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The default tenant keeps its own (default) policy.
    let (s, _) = register(&app, "", None, machine).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, t) = app.admin(Method::GET, "/admin/oauth/tenant", None).await;
    assert_eq!(t["data"]["dcr"]["allowed_grant_types"], json!(["authorization_code", "refresh_token"]));

    // Bad policies are 400 naming the field, and change nothing (the URL beside them neither).
    for (bad, field) in [
        (json!({"dcr": {"allowed_scopes": ["openid", "admin"]}}), "dcr.allowed_scopes[1]"),
        (json!({"dcr": {"allowed_scopes": ["a b"]}}), "dcr.allowed_scopes[0]"),
        (json!({"dcr": {"allowed_grant_types": ["implicit"]}}), "dcr.allowed_grant_types[0]"),
        (json!({"dcr": {"allowed_scope": ["openid"]}}), "dcr"),
        (json!({"dcr": {"allowed_scopes": "openid"}}), "dcr.allowed_scopes"),
        (json!({"introspection": "everyone"}), "introspection"),
    ] {
        let mut body = bad.clone();
        body["login_url"] = json!("https://login.acme.example/");
        let (s, e) = app.call(Method::PUT, "/admin/oauth/tenant", &acme, Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert!(e["message"].as_str().unwrap().starts_with(field), "{bad}: {e}");
    }
    let (_, after) = app.call(Method::GET, "/admin/oauth/tenant", &acme, None).await;
    assert_eq!(after["data"]["dcr"], json!({"allowed_scopes": ["read"], "allowed_grant_types": ["client_credentials"]}));
    assert_eq!(after["data"]["login_url"], Value::Null);
}

/// A clone is an admin's client: it keeps the source's settings, Hydra's included, but
/// not the registrant's credentials, the self-registered mark or the introspector mark.
#[tokio::test]
async fn a_clone_inherits_settings_but_no_registration() {
    let app = TestApp::spawn_with(|a| a.dcr_enabled = Some(true)).await;
    let (_, c) = register(
        &app,
        "",
        None,
        json!({"client_name": "rp", "redirect_uris": ["https://rp.example/cb"],
        "contacts": ["ops@rp.example"], "audience": ["https://api.example"]}),
    )
    .await;
    let (id, token) = (c["client_id"].as_str().unwrap(), c["registration_access_token"].as_str().unwrap());
    // What only admins set, set by an admin.
    let patch = json!([{"op": "add", "path": "/owner", "value": "team-a"}, {"op": "add", "path": "/skip_consent", "value": true},
        {"op": "add", "path": "/access_token_strategy", "value": "opaque"}, {"op": "add", "path": "/metadata", "value": {"tier": 2}},
        {"op": "add", "path": "/authorization_code_grant_access_token_lifespan", "value": "30m"}]);
    let (s, v) = app.admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(patch)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"introspector": true}))).await;
    assert_eq!((s, &v["data"]["introspector"], &v["data"]["self_registered"]), (StatusCode::OK, &json!(true), &json!(true)), "{v}");

    let (s, v) = app.admin(Method::POST, &format!("/admin/oauth/clients/{id}/clone"), None).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let clone_id = v["data"]["client_id"].as_str().unwrap().to_owned();
    assert_eq!((&v["data"]["self_registered"], &v["data"]["introspector"]), (&json!(false), &json!(false)), "{v}");

    // The registrant's token manages the original only.
    let clone_uri = format!("{}/oauth2/register/{clone_id}", app.public);
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then(|| json!({"redirect_uris": ["https://evil.example/cb"]}));
        let (s, _) = manage(&app, method.clone(), &clone_uri, token, body).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method}");
    }
    let (s, _) = manage(&app, Method::GET, c["registration_client_uri"].as_str().unwrap(), token, None).await;
    assert_eq!(s, StatusCode::OK);

    // Hydra's view: the settings came along.
    let (_, src) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
    let (_, cl) = app.admin(Method::GET, &format!("/admin/clients/{clone_id}"), None).await;
    for same in [
        "owner",
        "skip_consent",
        "access_token_strategy",
        "metadata",
        "authorization_code_grant_access_token_lifespan",
        "contacts",
        "audience",
        "redirect_uris",
        "scope",
        "grant_types",
    ] {
        assert_eq!(cl[same], src[same], "{same}");
    }
    assert_eq!((&cl["owner"], &cl["access_token_strategy"]), (&json!("team-a"), &json!("opaque")));
}
