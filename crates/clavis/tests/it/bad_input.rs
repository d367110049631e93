//! Bad input of every kind gets a 4xx in the authms envelope — never a 5xx, never a hang.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Sends a raw body and checks the envelope: `{code, message, timestamp}` without `data`.
async fn expect_error(app: &TestApp, method: Method, path: &str, body: Option<String>, want: u16) -> Value {
    let mut req = app.http.request(method.clone(), format!("{}{path}", app.admin)).bearer_auth(&app.admin_token);
    if let Some(b) = body.clone() {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    let shown: String = body.unwrap_or_default().chars().take(120).collect();
    assert_eq!(status, want, "{method} {path} {shown}: {v}");
    assert_eq!(v["code"], want, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert!(v["timestamp"].is_string());
    assert!(v.get("data").is_none(), "errors carry no data: {v}");
    v
}

#[tokio::test]
async fn create_rejects_bad_bodies_naming_the_field() {
    let app = TestApp::spawn().await;
    let ok_jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
    let cases: Vec<(String, &str)> = vec![
        ("{".into(), "malformed"),
        ("[]".into(), "invalid"),
        ("null".into(), "invalid"),
        ("\"a string\"".into(), "invalid"),
        (r#"{"name":"x","redirect_uris":["https://a/cb"]} trailing"#.into(), "malformed"),
        (json!({"redirect_uris": ["https://a/cb"]}).to_string(), "name"),
        (json!({"name": "x"}).to_string(), "redirect_uris"),
        (json!({"name": "", "redirect_uris": ["https://a/cb"]}).to_string(), "name"),
        (json!({"name": "x".repeat(300), "redirect_uris": ["https://a/cb"]}).to_string(), "name"),
        (json!({"name": 5, "redirect_uris": ["https://a/cb"]}).to_string(), "name"),
        (json!({"name": "x", "redirect_uris": "https://a/cb"}).to_string(), "redirect_uris"),
        (json!({"name": "x", "redirect_uris": [5]}).to_string(), "redirect_uris[0]"),
        (json!({"name": "x", "redirect_uris": []}).to_string(), "redirect_uris"),
        (json!({"name": "x", "redirect_uris": ["not a uri"]}).to_string(), "redirect_uris[0]"),
        (json!({"name": "x", "redirect_uris": ["/relative/cb"]}).to_string(), "redirect_uris[0]"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb#frag"]}).to_string(), "redirect_uris[0]"),
        (json!({"name": "x", "redirect_uris": ["http://example.com/cb"]}).to_string(), "redirect_uris[0]"),
        (json!({"name": "x", "redirect_uris": ["javascript:alert(1)"]}).to_string(), "redirect_uris[0]"),
        (json!({"name": "x", "redirect_uris": [format!("https://a/{}", "x".repeat(3000))]}).to_string(), "redirect_uris[0]"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "grant_types": []}).to_string(), "grant_types"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "grant_types": ["implicit"]}).to_string(), "grant_types[0]"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "grant_types": "client_credentials"}).to_string(), "grant_types"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "client_auth_methods": []}).to_string(), "client_auth_methods"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "client_auth_methods": ["password"]}).to_string(), "client_auth_methods[0]"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "fapi_profile": "fapi9"}).to_string(), "fapi_profile"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "is_confidential": "yes"}).to_string(), "is_confidential"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "scopes": ["has space"]}).to_string(), "scopes[0]"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "scopes": [1]}).to_string(), "scopes[0]"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "jwks": ok_jwks, "jwks_uri": "https://a/jwks"}).to_string(), "jwks"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "jwks": "{not json"}).to_string(), "jwks"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "jwks": ok_jwks.replace("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE")}).to_string(), "jwks.keys[0]"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "jwks": {"keys": []}}).to_string(), "jwks"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "jwks_uri": "http://evil.example/jwks"}).to_string(), "jwks_uri"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "client_auth_methods": ["private_key_jwt"]}).to_string(), "jwks"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "is_confidential": false, "client_auth_methods": ["client_secret_basic"]}).to_string(), "client_auth_methods"),
        (json!({"name": "x", "redirect_uris": ["http://127.0.0.1/cb"], "fapi_profile": "fapi1", "client_auth_methods": ["private_key_jwt"], "jwks": ok_jwks}).to_string(), "redirect_uris[0]"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "website": "ftp://a"}).to_string(), "website"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "status": "active"}).to_string(), "status"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb\u{0}"]}).to_string(), "NUL"),
        (json!({"name": "x", "redirect_uris": ["https://a/cb"], "jwks": format!("{}", ok_jwks.replace("P-256\"", "P-256\",\"kid\":\"\u{0}\""))}).to_string(), "NUL"),
    ];
    for (body, field) in cases {
        let v = expect_error(&app, Method::POST, "/admin/oauth/clients", Some(body.clone()), 400).await;
        let message = v["message"].as_str().unwrap();
        assert!(message.contains(field), "{body}: message {message:?} should name {field:?}");
    }
    // Nothing was created by any of them.
    let (_, list) = app.admin(Method::GET, "/admin/oauth/clients", None).await;
    assert_eq!(list["data"]["total"], 1, "only the bootstrap client");
}

#[tokio::test]
async fn oversized_and_mistyped_requests() {
    let app = TestApp::spawn().await;
    let big = json!({"name": "x", "redirect_uris": ["https://a/cb"], "logo_url": "x".repeat(300 * 1024)}).to_string();
    expect_error(&app, Method::POST, "/admin/oauth/clients", Some(big), 413).await;
    let resp = app
        .http
        .post(format!("{}/admin/oauth/clients", app.admin))
        .bearer_auth(&app.admin_token)
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["code"], 415);
    let resp = app.http.patch(format!("{}/admin/oauth/clients", app.admin)).bearer_auth(&app.admin_token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 405);
    expect_error(&app, Method::GET, "/admin/nothing/here", None, 404).await;
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let app = TestApp::spawn().await;
    let long = "x".repeat(500);
    for id in ["nope", "01NOSUCHCLIENT000000000000", "%00", "..", "a%2Fb", long.as_str()] {
        let base = format!("/admin/oauth/clients/{id}");
        expect_error(&app, Method::GET, &base, None, 404).await;
        expect_error(&app, Method::PUT, &base, Some("{}".into()), 404).await;
        expect_error(&app, Method::DELETE, &base, None, 404).await;
        expect_error(&app, Method::POST, &format!("{base}/clone"), None, 404).await;
        expect_error(&app, Method::POST, &format!("{base}/rotate-secret"), None, 404).await;
        expect_error(&app, Method::GET, &format!("{base}/secrets"), None, 404).await;
        expect_error(&app, Method::GET, &format!("{base}/audit"), None, 404).await;
    }
}

#[tokio::test]
async fn bad_pagination_and_filters_are_400() {
    let app = TestApp::spawn().await;
    let (id, _) = app.machine_client().await;
    for q in [
        "name=%00",
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page_size=0",
        "page_size=101",
        "page_size=-5",
        "page_size=9999999999999999999999",
        "status=deleted",
        "status=ACTIVE",
        "page=",
        "page_size=",
    ] {
        let v = expect_error(&app, Method::GET, &format!("/admin/oauth/clients?{q}"), None, 400).await;
        let field = q.split('=').next().unwrap();
        assert!(v["message"].as_str().unwrap().contains(field), "{q}: {v}");
    }
    for q in ["page=0", "page_size=1000"] {
        expect_error(&app, Method::GET, &format!("/admin/oauth/clients/{id}/audit?{q}"), None, 400).await;
    }
    // A page past the end is empty, not an error.
    let (s, v) = app.admin(Method::GET, "/admin/oauth/clients?page=999", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"]["items"], json!([]));
}

#[tokio::test]
async fn bad_secret_and_rotation_bodies() {
    let app = TestApp::spawn().await;
    let (id, _) = app.machine_client().await;
    let base = format!("/admin/oauth/clients/{id}");
    for body in [
        r#"{"grace_period_seconds":"soon"}"#,
        r#"{"grace_period_seconds":-5}"#,
        r#"{"grace_period_seconds":99999999999}"#,
        r#"{"grace_period_second":0}"#,
        "{",
    ] {
        expect_error(&app, Method::POST, &format!("{base}/rotate-secret"), Some(body.into()), 400).await;
    }
    for body in [
        r#"{"expires_at":"tomorrow"}"#,
        r#"{"expires_at":"2000-01-01T00:00:00Z"}"#,
        r#"{"description":5}"#,
        &json!({"description": "d".repeat(300)}).to_string(),
    ] {
        expect_error(&app, Method::POST, &format!("{base}/secrets"), Some(body.into()), 400).await;
    }
}

/// Bodies that are not what the operation takes (found by schemathesis): a missing body
/// where one is required, and a JSON array where an object is expected (serde would read
/// a struct from an array of its fields). Optional bodies may still be omitted or `null`.
#[tokio::test]
async fn bodies_must_be_present_and_of_the_right_json_type() {
    let app = TestApp::spawn().await;
    let id = app.create_client(json!({"name": "shape", "redirect_uris": ["https://a.example/cb"]})).await["client_id"].as_str().unwrap().to_owned();
    expect_error(&app, Method::POST, "/admin/oauth/clients", None, 400).await;
    expect_error(&app, Method::PUT, &format!("/admin/oauth/clients/{id}"), None, 400).await;
    expect_error(&app, Method::PUT, "/admin/oauth/tenant", None, 400).await;
    expect_error(&app, Method::POST, &format!("/admin/oauth/clients/{id}/secrets"), Some("[null, null]".into()), 400).await;
    expect_error(&app, Method::POST, &format!("/admin/oauth/clients/{id}/rotate-secret"), Some("[3600]".into()), 400).await;
    let (status, _) = app.admin(Method::POST, &format!("/admin/oauth/clients/{id}/secrets"), Some(Value::Null)).await;
    assert_eq!(status, StatusCode::CREATED, "a null optional body is no body");
    let (status, _) = app.admin(Method::POST, &format!("/admin/oauth/clients/{id}/rotate-secret"), None).await;
    assert_eq!(status, StatusCode::OK, "the rotation body is optional");

    // The Hydra API answers in its own format.
    for (method, path, body) in [
        (Method::POST, "/admin/clients".to_owned(), None),
        (Method::PUT, format!("/admin/clients/{id}"), None),
        (Method::PUT, format!("/admin/clients/{id}/lifespans"), None),
        (Method::PUT, format!("/admin/clients/{id}"), Some("[]")),
        (Method::PATCH, format!("/admin/clients/{id}"), Some(r#"{"op":"replace","path":"/client_name","value":"x"}"#)),
        (Method::PUT, "/admin/oauth2/auth/requests/login/accept?login_challenge=x".to_owned(), Some(r#"["someone"]"#)),
    ] {
        let mut req = app.http.request(method.clone(), format!("{}{path}", app.admin)).bearer_auth(&app.admin_token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{method} {path} {body:?}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"], "invalid_request", "{v}");
    }
}

#[tokio::test]
async fn nested_objects_must_be_objects() {
    let app = TestApp::spawn().await;
    for dcr in ["[null, null]", "[]", "\"x\"", "1"] {
        let v = expect_error(&app, Method::PUT, "/admin/oauth/tenant", Some(format!("{{\"dcr\": {dcr}}}")), 400).await;
        assert!(v["message"].as_str().unwrap().contains("dcr"), "{dcr}: {v}");
    }
    let (s, v) = app.admin(Method::PUT, "/admin/oauth/tenant", Some(serde_json::json!({"dcr": null}))).await;
    assert_eq!(s, StatusCode::OK, "null means absent: {v}");
}
