//! A token, client or secret of one tenant is never accepted by another.

use crate::common;

use common::{claims, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn admins_of_one_tenant_cannot_touch_another() {
    let app = TestApp::spawn().await;
    let (a_id, a_secret) = app.machine_client().await; // tenant default
    let b_token = app.tenant_admin("tenant-b").await;
    assert!(claims(&b_token)["iss"].as_str().unwrap().ends_with("/t/tenant-b"));
    let base = format!("/admin/oauth/clients/{a_id}");
    for (method, path) in [
        (Method::GET, base.clone()),
        (Method::PUT, base.clone()),
        (Method::POST, format!("{base}/clone")),
        (Method::POST, format!("{base}/rotate-secret")),
        (Method::GET, format!("{base}/secrets")),
        (Method::POST, format!("{base}/secrets")),
        (Method::GET, format!("{base}/audit")),
        (Method::DELETE, base.clone()),
    ] {
        let body = if method == Method::PUT { json!({"name": "pwned"}) } else { json!({}) };
        let (s, body) = app.call(method.clone(), &path, &b_token, Some(body)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    // Tenant B's list shows only its own clients.
    let (_, list) = app.call(Method::GET, "/admin/oauth/clients", &b_token, None).await;
    let items = list["data"]["items"].as_array().unwrap();
    assert!(items.iter().all(|c| c["tenant_id"] == "tenant-b"), "{list}");
    assert!(!list.to_string().contains(&a_id));
    // And the client is untouched.
    let (s, a) = app.admin(Method::GET, &base, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a["data"]["name"], "machine");
    app.token_ok("", &a_id, &a_secret, None).await;
    // Tenant B creates in tenant B, whatever the body says.
    let (s, created) = app
        .call(
            Method::POST,
            "/admin/oauth/clients",
            &b_token,
            Some(json!({"name": "b app", "redirect_uris": ["https://b.example/cb"], "tenant_id": "default"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(created["data"]["tenant_id"], "tenant-b");
}

#[tokio::test]
async fn clients_get_tokens_only_from_their_own_issuer() {
    let app = TestApp::spawn().await;
    let (a_id, a_secret) = app.machine_client().await; // tenant default
    app.tenant_admin("tenant-b").await;
    let (s, body) = app.token("tenant-b", &a_id, &a_secret, None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    let (s, _) = app.token("no-such-tenant", &a_id, &a_secret, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_signed_for_one_tenant_is_refused_when_relabelled() {
    let app = TestApp::spawn().await;
    let b_token = app.tenant_admin("tenant-b").await;
    // Swap the payload's issuer to the default tenant: the signature no longer matches,
    // and tenant B's key is not the default tenant's.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = b_token.split('.').collect();
    let mut c = claims(&b_token);
    c["iss"] = json!(app.public);
    c["aud"] = json!(app.public);
    let forged = format!("{}.{}.{}", parts[0], b64.encode(c.to_string()), parts[2]);
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", &forged, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_tokens_are_refused_everywhere() {
    let app = TestApp::spawn().await;
    let services = &app.server.as_ref().unwrap().services;
    let keys = services.keys.for_tenant(&clavis_core::TenantId::default_tenant()).await.unwrap();
    let now = clavis_core::time::now_unix();
    let mut claims = common::claims(&app.admin_token);
    // Issued now (after the client was created), but already past its expiry.
    claims["iat"] = json!(now);
    claims["exp"] = json!(now - 1);
    claims["jti"] = json!("expired-one");
    let expired = keys.signer(clavis_core::jose::Alg::Es256).sign_access_token(&claims);
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", &expired, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let resp = app
        .http
        .post(format!("{}/oauth2/introspect", app.public))
        .bearer_auth(&app.admin_token)
        .form(&[("token", expired.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap(), json!({"active": false}));
    // The same claims, unexpired, are accepted: the signature was not the problem.
    claims["exp"] = json!(now + 60);
    let fresh = keys.signer(clavis_core::jose::Alg::Es256).sign_access_token(&claims);
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", &fresh, None).await;
    assert_eq!(s, StatusCode::OK);
}
