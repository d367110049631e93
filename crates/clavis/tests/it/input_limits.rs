//! Limits that keep one request's cost bounded: the parameter reader (count, linear
//! duplicate check), JSON Patch (operations, growth), client metadata, and request
//! objects that would otherwise be ignored.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn forms_and_queries_have_a_parameter_cap_everywhere() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let many: String = (0..101).map(|i| format!("p{i}=x")).collect::<Vec<_>>().join("&");
    let resp = app
        .http
        .post(app.token_url(""))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&{many}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"].as_str().unwrap().contains("too many parameters"), "{body}");
    // The authorization endpoint's query, the authms list and the Hydra list alike.
    let resp = app.http.get(format!("{}/oauth2/auth?{many}", app.public)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    for path in [format!("/admin/oauth/clients?{many}"), format!("/admin/clients?{many}")] {
        let (s, v) = app.admin(Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
    }
    // A body full of one repeated name (the old check was quadratic) is refused fast;
    // the bound is what the parser reads, not a timing assertion.
    let repeated = "a=1&".repeat(15_000);
    let resp = app.http.post(app.token_url("")).header("content-type", "application/x-www-form-urlencoded").body(repeated).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // Repeats of a parameter are still refused under the cap.
    let resp = app
        .http
        .post(app.token_url(""))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "a"), ("scope", "b")])
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("repeated"), "{body}");
}

#[tokio::test]
async fn json_patch_cannot_amplify_a_client() {
    let app = TestApp::spawn().await;
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(json!({"client_name": "p", "metadata": {"k": "x".repeat(1000)}}))).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let id = c["client_id"].as_str().unwrap();
    // Each copy doubles the metadata: 30 of them would make gigabytes.
    let ops: Vec<Value> = (0..30).map(|i| json!({"op": "copy", "from": "/metadata", "path": format!("/metadata/c{i}")})).collect();
    let (s, v) = app.admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(Value::Array(ops))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("too large"), "{v}");
    let many: Vec<Value> = (0..101).map(|_| json!({"op": "test", "path": "/client_name", "value": "p"})).collect();
    let (s, v) = app.admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(Value::Array(many))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Metadata has one limit on every API that sets it: create, replace and patch.
    let big = json!({"k": "y".repeat(70 * 1024)});
    let (s, v) = app.admin(Method::POST, "/admin/clients", Some(json!({"client_name": "q", "metadata": big}))).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{v}");
    let (s, _) = app.admin(Method::PUT, &format!("/admin/clients/{id}"), Some(json!({"client_name": "p", "metadata": big}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app.admin(Method::PATCH, &format!("/admin/clients/{id}"), Some(json!([{"op": "replace", "path": "/metadata", "value": big}]))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, got) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
    assert_eq!((s, got["metadata"]["k"].as_str().map(str::len)), (StatusCode::OK, Some(1000)), "unchanged");
}

#[tokio::test]
async fn a_request_object_is_refused_not_ignored() {
    let app = TestApp::spawn_with(|a| a.login_url = Some("https://login.example/login".into())).await;
    let c = app
        .create_client(json!({"name": "web", "redirect_uris": ["https://app.example.com/cb"],
                                     "grant_types": ["authorization_code"], "scopes": ["openid"]}))
        .await;
    let id = c["client_id"].as_str().unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut url = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", id),
        ("scope", "openid"),
        ("state", "s-1234567890"),
        ("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0."),
    ]);
    let resp = http.get(url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with("https://app.example.com/cb?"), "{location}");
    let error = location.query_pairs().find(|(k, _)| k == "error").map(|(_, v)| v.into_owned());
    // Unsigned, from a client that did not register request_object_signing_alg "none".
    assert_eq!(error.as_deref(), Some("invalid_request_object"));
}
