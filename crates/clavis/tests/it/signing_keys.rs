//! Key rotation: the JWKS keeps old public keys until they are retired, so tokens issued
//! before a rotation keep verifying.

use crate::common;

use common::{header, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::Value;

async fn jwks_kids(app: &TestApp, issuer_path: &str) -> Vec<String> {
    let v: Value = app.http.get(format!("{}{issuer_path}/.well-known/jwks.json", app.public)).send().await.unwrap().json().await.unwrap();
    v["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn rotate_then_retire() {
    let app = TestApp::spawn().await;
    let old_token = app.admin_token.clone();
    let k1 = header(&old_token)["kid"].as_str().unwrap().to_owned();
    assert_eq!(header(&old_token)["alg"], "ES256", "access tokens default to ES256");
    let (s, keys) = app.admin(Method::GET, "/admin/oauth/keys", None).await;
    assert_eq!(s, StatusCode::OK);
    let listed = keys["data"]["keys"].as_array().unwrap();
    let mut algs: Vec<&str> = listed.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "PS256", "RS256"], "one active key per algorithm");
    assert!(listed.iter().all(|k| k["status"] == "active"));
    assert!(!keys.to_string().contains("private"), "no key material");

    let (s, rotated) = app.admin(Method::POST, "/admin/oauth/keys/rotate?alg=ES256", None).await;
    assert_eq!(s, StatusCode::CREATED, "{rotated}");
    let new = rotated["data"]["keys"].as_array().unwrap();
    assert_eq!((new.len(), new[0]["alg"].as_str()), (1, Some("ES256")), "{rotated}");
    let k2 = new[0]["kid"].as_str().unwrap().to_owned();
    assert_ne!(k1, k2);
    assert_eq!(jwks_kids(&app, "").await.len(), 5, "the old ES256 key stays published");
    // Old tokens still authorize; new ones are signed with the new key.
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", &old_token, None).await;
    assert_eq!(s, StatusCode::OK);
    let new_token = app.token_ok("", common::ADMIN_ID, common::ADMIN_SECRET, None).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(header(&new_token)["kid"], k2.as_str());

    for bad in ["HS256", "none", "es256", "Ed25519"] {
        let (s, body) = app.admin(Method::POST, &format!("/admin/oauth/keys/rotate?alg={bad}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (s, all) = app.admin(Method::POST, "/admin/oauth/keys/rotate", None).await;
    assert_eq!(s, StatusCode::CREATED, "{all}");
    assert_eq!(all["data"]["keys"].as_array().unwrap().len(), 4, "without alg every algorithm rotates: {all}");
    assert_eq!(jwks_kids(&app, "").await.len(), 9);
    let newest = app.token_ok("", common::ADMIN_ID, common::ADMIN_SECRET, None).await["access_token"].as_str().unwrap().to_owned();
    let k3 = header(&newest)["kid"].as_str().unwrap().to_owned();

    let (s, body) = app.call(Method::DELETE, &format!("/admin/oauth/keys/{k3}"), &newest, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a signing key stays: {body}");
    let (s, _) = app.call(Method::DELETE, &format!("/admin/oauth/keys/{k1}"), &newest, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(!jwks_kids(&app, "").await.contains(&k1));
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", &old_token, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "tokens of a retired key no longer verify");
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", &new_token, None).await;
    assert_eq!(s, StatusCode::OK, "k2 was rotated out, not retired: it still verifies");
    let (s, _) = app.call(Method::DELETE, "/admin/oauth/keys/no-such-kid", &newest, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Other tenants are untouched.
    let other = app.tenant_admin("other").await;
    let (_, keys) = app.call(Method::GET, "/admin/oauth/keys", &other, None).await;
    let kids: Vec<&str> = keys["data"]["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 4);
    assert!(!kids.contains(&k1.as_str()) && !kids.contains(&k2.as_str()));
}
