//! `POST /oauth2/token` with client_credentials, discovery and the JWKS.

use crate::common;

use common::{claims, header, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Verifies an access token's signature against the issuer's published JWKS.
async fn verify_against_jwks(app: &TestApp, issuer_path: &str, token: &str) -> bool {
    let jwks: Value = app.http.get(format!("{}{issuer_path}/.well-known/jwks.json", app.public)).send().await.unwrap().json().await.unwrap();
    let kid = header(token)["kid"].as_str().unwrap().to_owned();
    let Some(jwk) = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()) else { return false };
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut point = vec![4u8];
    point.extend(b64.decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(b64.decode(jwk["y"].as_str().unwrap()).unwrap());
    let (input, sig) = token.rsplit_once('.').unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &point)
        .verify(input.as_bytes(), &b64.decode(sig).unwrap())
        .is_ok()
}

#[tokio::test]
async fn issues_rfc9068_access_tokens() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let resp = app.http.post(app.token_url("")).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials")]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "read write", "none requested = all registered");
    let token = body["access_token"].as_str().unwrap();
    let h = header(token);
    assert_eq!((h["typ"].as_str(), h["alg"].as_str()), (Some("at+jwt"), Some("ES256")));
    let c = claims(token);
    assert_eq!(c["iss"], app.public.as_str());
    assert_eq!(c["sub"], id.as_str());
    assert_eq!(c["client_id"], id.as_str());
    assert_eq!(c["aud"], app.public.as_str());
    assert_eq!(c["scope"], "read write");
    let now = clavis_core::time::now_unix();
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert!((now - 5..=now + 1).contains(&iat));
    assert_eq!(exp - iat, 3600);
    assert!(c["jti"].as_str().unwrap().len() >= 16);
    assert!(verify_against_jwks(&app, "", token).await);
    let second = app.token_ok("", &id, &secret, None).await;
    assert_ne!(claims(second["access_token"].as_str().unwrap())["jti"], c["jti"], "jti is unique");
}

#[tokio::test]
async fn both_paths_and_client_secret_post() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    for path in ["/oauth2/token", "/oauth/token", "/t/default/oauth2/token", "/t/default/oauth/token"] {
        let resp = app
            .http
            .post(format!("{}{path}", app.public))
            .form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret), ("scope", "read")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["scope"], "read");
        let iss = claims(body["access_token"].as_str().unwrap())["iss"].as_str().unwrap().to_owned();
        let expected = if path.starts_with("/t/") { format!("{}/t/default", app.public) } else { app.public.clone() };
        assert_eq!(iss, expected, "{path}");
    }
}

#[tokio::test]
async fn registered_auth_methods_are_enforced() {
    let app = TestApp::spawn().await;
    let c = app
        .create_client(json!({"name": "basic only", "redirect_uris": ["https://a.example/cb"],
                              "grant_types": ["client_credentials"], "scopes": ["read"]}))
        .await;
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    app.token_ok("", id, secret, None).await;
    let resp = app
        .http
        .post(app.token_url(""))
        .form(&[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "client_secret_post is not registered");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[tokio::test]
async fn grant_types_and_scopes_are_enforced() {
    let app = TestApp::spawn().await;
    // Default grants: authorization_code + refresh_token, so no client_credentials.
    let c = app.create_client(json!({"name": "web", "redirect_uris": ["https://a.example/cb"]})).await;
    let (s, body) = app.token("", c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap(), None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{body}");

    let (id, secret) = app.machine_client().await;
    let (s, body) = app.token("", &id, &secret, Some("read admin")).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")), "{body}");
    let (s, body) = app.token("", &id, &secret, Some("write")).await;
    assert_eq!((s, body["scope"].as_str()), (StatusCode::OK, Some("write")));
    let (s, body) = app.token("", &id, &secret, Some("bad\"scope")).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
}

#[tokio::test]
async fn token_errors_follow_rfc6749() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let url = app.token_url("");
    let form = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        // wrong secret
        (app.http.post(&url).basic_auth(&id, Some("wrong")).form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
        // unknown client
        (app.http.post(&url).basic_auth("nobody", Some(&secret)).form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
        // a NUL in the client id (no database accepts it)
        (app.http.post(&url).basic_auth("a\u{0}b", Some(&secret)).form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
        // (in the form, any NUL makes the request malformed)
        (app.http.post(&url).form(&[("grant_type", "client_credentials"), ("client_id", "a\u{0}"), ("client_secret", "x")]), 400, "invalid_request"),
        // no authentication at all
        (app.http.post(&url).form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
        // malformed Basic header
        (app.http.post(&url).header("Authorization", "Basic !!!").form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
        (app.http.post(&url).header("Authorization", "Bearer abc").form(&[("grant_type", "client_credentials")]), 401, "invalid_client"),
        // two methods at once
        (
            app.http.post(&url).basic_auth(&id, Some(&secret)).form(&[("grant_type", "client_credentials"), ("client_secret", secret.as_str())]),
            400,
            "invalid_request",
        ),
        // missing / unknown / unimplemented grant types
        (app.http.post(&url).basic_auth(&id, Some(&secret)).form(&[("scope", "read")]), 400, "invalid_request"),
        (app.http.post(&url).basic_auth(&id, Some(&secret)).form(&[("grant_type", "password")]), 400, "unsupported_grant_type"),
        // repeated parameter
        (
            app.http
                .post(&url)
                .basic_auth(&id, Some(&secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[("grant_type", "client_credentials"), ("grant_type", "client_credentials")])),
            400,
            "invalid_request",
        ),
        // not a form
        (app.http.post(&url).basic_auth(&id, Some(&secret)).json(&json!({"grant_type": "client_credentials"})), 400, "invalid_request"),
    ];
    for (i, (req, status, error)) in cases.into_iter().enumerate() {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "case {i}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "case {i}");
        if status == 401 {
            assert!(resp.headers().get("www-authenticate").is_some(), "case {i}");
        }
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], error, "case {i}: {body}");
        assert!(body["error_description"].is_string(), "case {i}");
        assert!(!body.to_string().contains(&secret));
    }
    // A huge body is refused, not buffered.
    let resp = app
        .http
        .post(&url)
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=client_credentials&pad={}", "a".repeat(200_000)))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test]
async fn discovery_lists_what_is_implemented() {
    let app = TestApp::spawn().await;
    for (path, issuer) in [("", app.public.clone()), ("/t/default", format!("{}/t/default", app.public))] {
        for doc in ["openid-configuration", "oauth-authorization-server"] {
            let v: Value = app.http.get(format!("{}{path}/.well-known/{doc}", app.public)).send().await.unwrap().json().await.unwrap();
            assert_eq!(v["issuer"], issuer.as_str());
            assert_eq!(v["token_endpoint"], format!("{issuer}/oauth2/token"));
            assert_eq!(v["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
            assert_eq!(v["authorization_endpoint"], format!("{issuer}/oauth2/auth"));
            assert_eq!(v["introspection_endpoint"], format!("{issuer}/oauth2/introspect"));
            assert_eq!(v["revocation_endpoint"], format!("{issuer}/oauth2/revoke"));
            assert_eq!(v["device_authorization_endpoint"], format!("{issuer}/oauth2/device/auth"));
            // Hydra's own names, required by its SDK's model.
            assert_eq!(v["id_token_signed_response_alg"], json!(["RS256", "PS256", "ES256", "EdDSA"]));
            assert_eq!(v["userinfo_signed_response_alg"], v["id_token_signed_response_alg"]);
            assert_eq!(
                v["grant_types_supported"],
                json!([
                    "authorization_code",
                    "client_credentials",
                    "refresh_token",
                    "urn:ietf:params:oauth:grant-type:device_code",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer"
                ])
            );
            assert_eq!(
                v["token_endpoint_auth_methods_supported"],
                json!([
                    "client_secret_basic",
                    "client_secret_post",
                    "client_secret_jwt",
                    "private_key_jwt",
                    "tls_client_auth",
                    "self_signed_tls_client_auth",
                    "none"
                ])
            );
            assert!(v.get("mtls_endpoint_aliases").is_none(), "no mutual-TLS listener unless configured");
            assert_eq!(v["code_challenge_methods_supported"], json!(["S256"]));
            assert_eq!(v["response_types_supported"], json!(["code", "code id_token"]));
            assert_eq!(v["subject_types_supported"], json!(["public", "pairwise"]));
            assert_eq!(v["authorization_response_iss_parameter_supported"], true);
            assert_eq!(v["userinfo_endpoint"], format!("{issuer}/userinfo"));
            assert_eq!(v["end_session_endpoint"], format!("{issuer}/oauth2/sessions/logout"));
            assert_eq!(v["pushed_authorization_request_endpoint"], format!("{issuer}/oauth2/par"));
            assert_eq!(v["require_pushed_authorization_requests"], false);
            assert!(v.get("registration_endpoint").is_none(), "dynamic registration is off unless enabled");
        }
    }
    let resp = app.http.get(format!("{}/t/nosuchtenant/.well-known/openid-configuration", app.public)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // RFC 8414 §3.1: a tenant issuer's metadata also where the well-known segment comes first.
    app.tenant_admin("acme").await;
    let v: Value = app.http.get(format!("{}/.well-known/oauth-authorization-server/t/acme", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["issuer"], format!("{}/t/acme", app.public));
    assert_eq!(v["token_endpoint"], format!("{}/t/acme/oauth2/token", app.public));
    let resp = app.http.get(format!("{}/.well-known/oauth-authorization-server/t/nosuchtenant", app.public)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = app.http.get(format!("{}/t/BAD!/.well-known/jwks.json", app.public)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn signing_keys_are_per_tenant_and_persist_across_restarts() {
    let mut app = TestApp::spawn().await;
    app.tenant_admin("acme").await;
    let get = |p: String| async move { reqwest::get(p).await.unwrap().json::<Value>().await.unwrap() };
    let root = get(format!("{}/.well-known/jwks.json", app.public)).await;
    let alias = get(format!("{}/t/default/.well-known/jwks.json", app.public)).await;
    let acme = get(format!("{}/t/acme/.well-known/jwks.json", app.public)).await;
    assert_eq!(root, alias, "one tenant, one key set");
    let kids = |jwks: &Value| jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert!(kids(&root).iter().all(|k| !kids(&acme).contains(k)), "no key is shared between tenants");
    let mut algs: Vec<(&str, &str)> =
        root["keys"].as_array().unwrap().iter().map(|k| (k["alg"].as_str().unwrap(), k["kty"].as_str().unwrap())).collect();
    algs.sort();
    assert_eq!(algs, [("ES256", "EC"), ("EdDSA", "OKP"), ("PS256", "RSA"), ("RS256", "RSA")], "one key per algorithm");
    for k in root["keys"].as_array().unwrap() {
        assert_eq!(k["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none(), "no private part: {k}");
        }
    }

    app.restart().await;
    let after = get(format!("{}/.well-known/jwks.json", app.public)).await;
    assert_eq!(after, root, "the key survives a restart");
    // A token issued before the restart still authorizes.
    let (s, list) = app.admin(Method::GET, "/admin/oauth/clients", None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert!(list["data"]["total"].as_i64().unwrap() >= 1);
}
