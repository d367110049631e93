//! Hydra v2's token operations on the admin listener: `POST /admin/oauth2/introspect`
//! (Hydra's answer, `scope` as a requirement, `aud` an array), `DELETE /admin/oauth2/tokens`,
//! `GET /version` on both listeners, and Hydra's error format for unknown routes.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn introspect(app: &TestApp, bearer: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = app.http.post(format!("{}/admin/oauth2/introspect", app.admin)).bearer_auth(bearer).form(form).send().await.unwrap();
    let status = resp.status();
    assert_eq!(resp.headers().get("cache-control").map(|v| v.to_str().unwrap()), status.is_success().then_some("no-store"));
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn admin_introspection_answers_as_hydra_does() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let token = app.token_ok("", &id, &secret, Some("read write")).await["access_token"].as_str().unwrap().to_owned();

    let (s, got) = introspect(&app, &app.admin_token, &[("token", &token)]).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!((got["active"].as_bool(), got["client_id"].as_str(), got["scope"].as_str()), (Some(true), Some(id.as_str()), Some("read write")));
    assert!(got["aud"].is_array(), "Hydra's aud is an array: {got}");
    assert_eq!((got["token_use"].as_str(), got["token_type"].as_str()), (Some("access_token"), Some("Bearer")));
    assert!(got["exp"].as_i64() > got["iat"].as_i64());
    // `scope`: every scope named must have been granted.
    assert_eq!(introspect(&app, &app.admin_token, &[("token", &token), ("scope", "read")]).await.1["active"], true);
    assert_eq!(introspect(&app, &app.admin_token, &[("token", &token), ("scope", "read admin")]).await.1, json!({"active": false}));
    assert_eq!(introspect(&app, &app.admin_token, &[("token", "not-a-token")]).await.1, json!({"active": false}));
    // Another tenant's admin sees nothing of this tenant's tokens.
    let acme = app.tenant_admin("acme").await;
    assert_eq!(introspect(&app, &acme, &[("token", &token)]).await.1, json!({"active": false}));

    let (s, e) = introspect(&app, &app.admin_token, &[]).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{e}");
    let resp = app.http.post(format!("{}/admin/oauth2/introspect", app.admin)).form(&[("token", &token)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app
        .http
        .post(format!("{}/admin/oauth2/introspect", app.admin))
        .bearer_auth(&app.admin_token)
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "a JSON body is not Hydra's form");
}

#[tokio::test]
async fn deleting_a_clients_tokens_ends_them_now() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let (other, other_secret) = app.machine_client().await;
    let token = app.token_ok("", &id, &secret, None).await["access_token"].as_str().unwrap().to_owned();
    let kept = app.token_ok("", &other, &other_secret, None).await["access_token"].as_str().unwrap().to_owned();
    let (s, body) = app.admin(Method::DELETE, &format!("/admin/oauth2/tokens?client_id={id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(introspect(&app, &app.admin_token, &[("token", &token)]).await.1["active"], false);
    assert_eq!(introspect(&app, &app.admin_token, &[("token", &kept)]).await.1["active"], true, "only that client's tokens");
    assert_eq!(app.token("", &id, &secret, None).await.0, StatusCode::OK, "the client itself goes on");
    let (s, _) = app.admin(Method::DELETE, "/admin/oauth2/tokens?client_id=unknown-client", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, e) = app.admin(Method::DELETE, "/admin/oauth2/tokens", None).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}

#[tokio::test]
async fn both_listeners_say_their_version() {
    let app = TestApp::spawn().await;
    for base in [&app.public, &app.admin] {
        let v: Value = app.http.get(format!("{base}/version")).send().await.unwrap().json().await.unwrap();
        assert_eq!(v, json!({"version": env!("CARGO_PKG_VERSION")}), "{base}");
    }
}

/// Under Hydra's paths, unknown routes and wrong methods answer in Hydra's error format;
/// the authms API keeps its envelope.
#[tokio::test]
async fn hydra_paths_answer_unknown_routes_in_hydras_format() {
    let app = TestApp::spawn().await;
    for (method, path, status) in [
        (Method::GET, "/admin/oauth2/nothing", StatusCode::NOT_FOUND),
        (Method::GET, "/admin/clients/x/nothing", StatusCode::NOT_FOUND),
        (Method::PUT, "/admin/oauth2/introspect", StatusCode::METHOD_NOT_ALLOWED),
        (Method::POST, "/admin/oauth2/auth/requests/login", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let (s, body) = app.admin(method.clone(), path, None).await;
        assert_eq!(s, status, "{method} {path}: {body}");
        assert!(body["error"].is_string() && body["error_description"].is_string() && body.get("code").is_none(), "{method} {path}: {body}");
    }
    let (s, body) = app.admin(Method::GET, "/admin/oauth/nothing", None).await;
    assert_eq!((s, body["code"].as_u64()), (StatusCode::NOT_FOUND, Some(404)), "authms: {body}");
}
