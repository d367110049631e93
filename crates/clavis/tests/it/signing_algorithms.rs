//! Signing algorithms (issue 11, "What must work" 1): every tenant signs with RS256, PS256,
//! ES256 and EdDSA keys, all in its JWKS; a client picks the algorithm of its ID tokens,
//! access tokens, signed userinfo and client assertions; the tenant picks the defaults.

use crate::common;

use common::flow::*;
use common::{claims, expected_at_hash, header, verify_with_jwks, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ALGS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

/// A Hydra client for the code flow with `fields` added.
async fn hydra_client(app: &TestApp, fields: Value) -> (String, String) {
    let mut body = json!({
        "client_name": "rp", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"], "scope": "openid offline_access profile",
    });
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

/// Signs in through the code flow; returns the token response.
async fn sign_in(app: &TestApp, id: &str, secret: &str) -> Value {
    let mut browser = Browser::new();
    let (verifier, challenge) = pkce();
    let start = auth_url(app, id, &[("nonce", "n-1"), ("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let back = login_and_consent(app, &mut browser, &start, "alice", false).await;
    let code = param(&back, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, tokens) = exchange(app, id, Some(secret), &form).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    tokens
}

#[tokio::test]
async fn discovery_lists_rs256_first_and_every_algorithm_it_signs_with() {
    let app = spawn().await;
    let d: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    for field in ["id_token_signing_alg_values_supported", "userinfo_signing_alg_values_supported", "access_token_signing_alg_values_supported"] {
        assert_eq!(d[field], json!(ALGS), "{field}");
    }
    let assertion_algs = d["token_endpoint_auth_signing_alg_values_supported"].as_array().unwrap();
    assert!(assertion_algs.contains(&json!("RS256")) && assertion_algs.contains(&json!("HS256")));
}

#[tokio::test]
async fn each_client_gets_tokens_and_userinfo_in_its_algorithms() {
    let app = spawn().await;
    for alg in ALGS {
        let (id, secret) = hydra_client(
            &app,
            json!({"id_token_signed_response_alg": alg, "access_token_signed_response_alg": alg, "userinfo_signed_response_alg": alg}),
        )
        .await;
        let (s, view) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!((view["id_token_signed_response_alg"].as_str(), view["userinfo_signed_response_alg"].as_str()), (Some(alg), Some(alg)));
        let tokens = sign_in(&app, &id, &secret).await;
        let (access, id_token) = (tokens["access_token"].as_str().unwrap(), tokens["id_token"].as_str().unwrap());
        assert_eq!(header(id_token)["alg"], alg);
        assert_eq!(header(access)["alg"], alg);
        let id_claims = verify_with_jwks(&app, id_token).await;
        assert_eq!(id_claims["at_hash"], expected_at_hash(alg, access), "{alg}");
        assert_eq!(id_claims["aud"], json!([id]));
        verify_with_jwks(&app, access).await;
        assert_eq!(introspect(&app, access).await["active"], true, "{alg} access tokens are accepted");

        // Signed userinfo (OpenID Connect Core §5.3.2): application/jwt, with iss and aud.
        let resp = app.http.get(format!("{}/userinfo", app.public)).bearer_auth(access).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/jwt");
        let jwt = resp.text().await.unwrap();
        assert_eq!(header(&jwt)["alg"], alg);
        let info = verify_with_jwks(&app, &jwt).await;
        assert_eq!((info["sub"].as_str(), info["iss"].as_str(), info["aud"].as_str()), (Some("alice"), Some(app.public.as_str()), Some(id.as_str())));
        assert_eq!(info["email"], "alice@example.com");
    }
    // Without the field, userinfo is plain JSON and the ID token uses the tenant's default.
    let (id, secret) = hydra_client(&app, json!({"userinfo_signed_response_alg": "none"})).await;
    let tokens = sign_in(&app, &id, &secret).await;
    assert_eq!(header(tokens["id_token"].as_str().unwrap())["alg"], "RS256");
    assert_eq!(header(tokens["access_token"].as_str().unwrap())["alg"], "ES256");
    let resp = app.http.get(format!("{}/userinfo", app.public)).bearer_auth(tokens["access_token"].as_str().unwrap()).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
}

#[tokio::test]
async fn registration_refuses_algorithms_clavis_cannot_honour() {
    let app = spawn().await;
    for (field, value) in [
        ("id_token_signed_response_alg", "none"),
        ("id_token_signed_response_alg", "HS256"),
        ("id_token_signed_response_alg", "RS512"),
        ("access_token_signed_response_alg", "ES384"),
        ("userinfo_signed_response_alg", "HS256"),
        ("request_object_signing_alg", "HS999"),
        ("token_endpoint_auth_signing_alg", "none"),
    ] {
        let body = json!({"client_name": "x", "redirect_uris": [REDIRECT], field: value});
        let (s, err) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}={value}: {err}");
        assert_eq!(err["error"], "invalid_client_metadata", "{err}");
        assert!(err["error_description"].as_str().unwrap().contains(field), "{err}");
    }
}

#[tokio::test]
async fn the_tenant_sets_the_default_algorithms() {
    let app = spawn().await;
    let (s, t) = app.admin(Method::GET, "/admin/oauth/tenant", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(t["data"]["signing"], json!({"id_token": "RS256", "access_token": "ES256"}));
    let (s, t) = app.admin(Method::PUT, "/admin/oauth/tenant", Some(json!({"signing": {"id_token": "ES256", "access_token": "EdDSA"}}))).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["data"]["signing"], json!({"id_token": "ES256", "access_token": "EdDSA"}));
    for bad in [json!({"signing": {"id_token": "none"}}), json!({"signing": {"access_token": "HS256"}}), json!({"signing": {"x": "RS256"}})] {
        let (s, err) = app.admin(Method::PUT, "/admin/oauth/tenant", Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {err}");
    }

    let (id, secret) = hydra_client(&app, json!({})).await;
    let tokens = sign_in(&app, &id, &secret).await;
    assert_eq!(header(tokens["id_token"].as_str().unwrap())["alg"], "ES256");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(header(access)["alg"], "EdDSA");
    verify_with_jwks(&app, access).await;
    // An admin token is an access token too: signed with the new default, and accepted.
    let admin = app.token_ok("", common::ADMIN_ID, common::ADMIN_SECRET, None).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(header(&admin)["alg"], "EdDSA");
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", &admin, None).await;
    assert_eq!(s, StatusCode::OK);
    // A client's own choice beats the tenant's.
    let (id, secret) = hydra_client(&app, json!({"id_token_signed_response_alg": "PS256"})).await;
    assert_eq!(header(sign_in(&app, &id, &secret).await["id_token"].as_str().unwrap())["alg"], "PS256");
    // Other tenants keep theirs.
    let other = app.tenant_admin("other").await;
    assert_eq!(header(&other)["alg"], "ES256");
    assert_eq!(claims(&other)["iss"], format!("{}/t/other", app.public));
}

#[tokio::test]
async fn a_forged_token_in_another_algorithm_is_refused() {
    let app = spawn().await;
    let admin = app.admin_token.clone();
    let body = admin.split('.').nth(1).unwrap().to_owned();
    let jwks: Value = app.http.get(format!("{}/.well-known/jwks.json", app.public)).send().await.unwrap().json().await.unwrap();
    use base64::Engine;
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    for key in jwks["keys"].as_array().unwrap() {
        // Each published kid with another algorithm, `none`, or HS256 keyed with the public key.
        for alg in ["none", "HS256", "RS256", "PS256", "ES256", "EdDSA"].into_iter().filter(|a| key["alg"] != *a) {
            let forged = format!("{}.{body}.{}", b64(json!({"alg": alg, "kid": key["kid"]})), admin.rsplit('.').next().unwrap());
            let (s, _) = app.call(Method::GET, "/admin/oauth/clients", &forged, None).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{alg} with {}'s kid", key["alg"]);
        }
    }
}
