//! Per-client token settings: lifespans, opaque access tokens, post-logout redirect URIs.

use crate::common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn introspect(app: &TestApp, token: &str) -> Value {
    app.http
        .post(format!("{}/oauth2/introspect", app.public))
        .bearer_auth(&app.admin_token)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn lifespans_and_opaque_tokens() {
    let app = TestApp::spawn().await;
    let c = app
        .create_client(json!({
            "name": "opaque admin", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"],
            "scopes": ["admin"], "access_token_strategy": "opaque",
            "token_lifespans": {"client_credentials_grant_access_token_lifespan": "5m"},
            "post_logout_redirect_uris": ["https://a.example/bye"],
        }))
        .await;
    assert_eq!(c["access_token_strategy"], "opaque");
    assert_eq!(c["token_lifespans"], json!({"client_credentials_grant_access_token_lifespan": "5m0s"}));
    assert_eq!(c["post_logout_redirect_uris"], json!(["https://a.example/bye"]));
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());

    let t = app.token_ok("", id, secret, None).await;
    assert_eq!(t["expires_in"], 300);
    let token = t["access_token"].as_str().unwrap();
    assert!(token.starts_with("default~") && !token.contains('.'), "opaque: {token}");
    let i = introspect(&app, token).await;
    assert_eq!((i["active"].as_bool(), i["client_id"].as_str(), i["scope"].as_str()), (Some(true), Some(id), Some("admin")));
    assert_eq!(i["exp"].as_i64().unwrap() - i["iat"].as_i64().unwrap(), 300);
    // An opaque admin token works on the admin API, until revoked.
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", token, None).await;
    assert_eq!(s, StatusCode::OK);
    let resp = app.http.post(format!("{}/oauth2/revoke", app.public)).basic_auth(id, Some(secret)).form(&[("token", token)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(introspect(&app, token).await, json!({"active": false}));
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", token, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Forged handles and other tenants' handles are nothing.
    for forged in ["default~AAAA", "other~abc", "~", "default~", "Bad Tenant~x"] {
        assert_eq!(introspect(&app, forged).await["active"], false, "{forged}");
    }

    // Back to JWTs with the default lifespan.
    let (s, upd) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth/clients/{id}"),
            Some(json!({"access_token_strategy": "jwt", "token_lifespans": {"client_credentials_grant_access_token_lifespan": null}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    assert_eq!(upd["data"]["token_lifespans"], json!({}));
    let t = app.token_ok("", id, secret, None).await;
    assert_eq!(t["expires_in"], 3600);
    assert_eq!(t["access_token"].as_str().unwrap().split('.').count(), 3);
}

#[tokio::test]
async fn bad_extension_values_are_400() {
    let app = TestApp::spawn().await;
    for (body, field) in [
        (json!({"access_token_strategy": "paseto"}), "access_token_strategy"),
        (json!({"token_lifespans": {"forever_lifespan": "1h"}}), "token_lifespans.forever_lifespan"),
        (
            json!({"token_lifespans": {"client_credentials_grant_access_token_lifespan": "soon"}}),
            "token_lifespans.client_credentials_grant_access_token_lifespan",
        ),
        (
            json!({"token_lifespans": {"client_credentials_grant_access_token_lifespan": 60}}),
            "token_lifespans.client_credentials_grant_access_token_lifespan",
        ),
        (json!({"token_lifespans": "1h"}), "token_lifespans"),
        (json!({"post_logout_redirect_uris": ["https://a.example/bye#x"]}), "post_logout_redirect_uris[0]"),
    ] {
        let mut full = json!({"name": "x", "redirect_uris": ["https://a.example/cb"]});
        full.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        let (s, resp) = app.admin(Method::POST, "/admin/oauth/clients", Some(full)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert!(resp["message"].as_str().unwrap().contains(field), "{body}: {resp}");
    }
}
