//! The JWT bearer grant (RFC 7523 §2.1) and Hydra's trust API that feeds it: a JWT a
//! trusted issuer signed, for an allowed subject and scopes, gets an access token once;
//! everything else is `invalid_grant` / `invalid_scope`; ending the trust ends the grant.

use crate::common;

use clavis_core::jose::{Alg, SigningKey};
use clavis_core::time::rfc3339;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const TRUST: &str = "/admin/trust/grants/jwt-bearer/issuers";

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A partner's signing key, published to Clavis under `kid`.
fn partner_key(kid: &str) -> (SigningKey, Value) {
    let key = SigningKey::generate(Alg::Es256).0.with_kid(kid);
    let jwk = key.public_jwk().to_json();
    (key, jwk)
}

fn assertion(key: &SigningKey, iss: &str, sub: &str, aud: &str, exp_in: i64) -> String {
    let t = now();
    key.sign_jwt(&json!({"iss": iss, "sub": sub, "aud": aud, "iat": t, "exp": t + exp_in, "jti": clavis_core::ids::random_token(12)}))
}

async fn grant(app: &TestApp, id: &str, secret: &str, assertion: &str, scope: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", GRANT), ("assertion", assertion)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let resp = app.http.post(app.token_url("")).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

async fn bearer_client(app: &TestApp) -> (String, String) {
    let c = app
        .create_client(json!({
            "name": "bearer", "redirect_uris": ["https://app.example.com/cb"], "grant_types": [GRANT],
            "scopes": ["read", "write"], "client_auth_methods": ["client_secret_basic"],
        }))
        .await;
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_trusted_issuers_assertion_gets_a_token_for_its_subject_once() {
    let app = TestApp::spawn().await;
    let (id, secret) = bearer_client(&app).await;
    let aud = app.token_url("");
    let (key, jwk) = partner_key("partner-1");
    let body = json!({"issuer": "https://partner.example", "subject": "alice", "scope": ["read"], "jwk": jwk, "expires_at": rfc3339(now() + 3600)});
    let (s, trusted) = app.admin(Method::POST, TRUST, Some(body.clone())).await;
    assert_eq!(s, StatusCode::CREATED, "{trusted}");
    assert_eq!(trusted["public_key"], json!({"set": "https://partner.example", "kid": "partner-1"}));
    assert_eq!(
        (trusted["subject"].as_str(), trusted["allow_any_subject"].as_bool(), &trusted["scope"]),
        (Some("alice"), Some(false), &json!(["read"]))
    );
    assert_eq!(app.admin(Method::POST, TRUST, Some(body)).await.0, StatusCode::CONFLICT, "the same key for the same subject twice");

    let a = assertion(&key, "https://partner.example", "alice", &aud, 300);
    let (s, token) = grant(&app, &id, &secret, &a, Some("read")).await;
    assert_eq!(s, StatusCode::OK, "{token}");
    assert!(token.get("refresh_token").is_none() && token.get("id_token").is_none(), "{token}");
    let seen = app.introspect(token["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (seen["active"].as_bool(), seen["sub"].as_str(), seen["client_id"].as_str(), seen["scope"].as_str()),
        (Some(true), Some("alice"), Some(id.as_str()), Some("read")),
        "{seen}"
    );
    let (s, e) = grant(&app, &id, &secret, &a, Some("read")).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "single use: {e}");

    // Scopes: the client has write, the relationship does not. None asked: none granted.
    let (s, e) = grant(&app, &id, &secret, &assertion(&key, "https://partner.example", "alice", &aud, 300), Some("read write")).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")), "{e}");
    let (s, none) = grant(&app, &id, &secret, &assertion(&key, "https://partner.example", "alice", &aud, 300), None).await;
    assert_eq!((s, none["scope"].as_str()), (StatusCode::OK, Some("")), "{none}");

    // Each of these is invalid_grant.
    let (stranger, _) = partner_key("partner-1");
    let mut forged = assertion(&key, "https://partner.example", "alice", &aud, 300);
    forged.push('A');
    for (what, bad) in [
        ("another subject", assertion(&key, "https://partner.example", "bob", &aud, 300)),
        ("another issuer", assertion(&key, "https://other.example", "alice", &aud, 300)),
        ("another key under the same kid", assertion(&stranger, "https://partner.example", "alice", &aud, 300)),
        ("another audience", assertion(&key, "https://partner.example", "alice", "https://elsewhere.example/token", 300)),
        ("exp too far ahead", assertion(&key, "https://partner.example", "alice", &aud, 7200)),
        ("expired", assertion(&key, "https://partner.example", "alice", &aud, -120)),
        ("a broken signature", forged),
        ("not a JWT", "abc".to_owned()),
    ] {
        let (s, e) = grant(&app, &id, &secret, &bad, Some("read")).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{what}: {e}");
    }
    let hmac = {
        use base64::Engine;
        let b = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            b(json!({"alg": "HS256"})),
            b(json!({"iss": "https://partner.example", "sub": "alice", "aud": aud, "exp": now() + 60, "jti": "h"}))
        )
    };
    assert_eq!(grant(&app, &id, &secret, &hmac, None).await.1["error"], "invalid_grant");
    let resp = app.http.post(app.token_url("")).basic_auth(&id, Some(&secret)).form(&[("grant_type", GRANT)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "no assertion");
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "invalid_request");
    // A client not registered for the grant.
    let (machine, machine_secret) = app.machine_client().await;
    let (s, e) = grant(&app, &machine, &machine_secret, &assertion(&key, "https://partner.example", "alice", &aud, 300), None).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{e}");

    // The client's jwt-bearer lifespan is honoured.
    let (s, c) =
        app.admin(Method::PUT, &format!("/admin/clients/{id}/lifespans"), Some(json!({"jwt_bearer_grant_access_token_lifespan": "5m"}))).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let (_, short) = grant(&app, &id, &secret, &assertion(&key, "https://partner.example", "alice", &aud, 300), Some("read")).await;
    assert_eq!(short["expires_in"], 300, "{short}");

    // Ending the trust ends the grant.
    let trusted_id = trusted["id"].as_str().unwrap();
    assert_eq!(app.admin(Method::DELETE, &format!("{TRUST}/{trusted_id}"), None).await.0, StatusCode::NO_CONTENT);
    let (_, e) = grant(&app, &id, &secret, &assertion(&key, "https://partner.example", "alice", &aud, 300), Some("read")).await;
    assert_eq!(e["error"], "invalid_grant");
    assert_eq!(app.admin(Method::GET, &format!("{TRUST}/{trusted_id}"), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.admin(Method::DELETE, &format!("{TRUST}/{trusted_id}"), None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_trust_api_checks_lists_and_keeps_tenants_apart() {
    let app = TestApp::spawn().await;
    let (id, secret) = bearer_client(&app).await;
    let (key, jwk) = partner_key("any-1");
    let body = json!({"issuer": "https://idp.example", "allow_any_subject": true, "scope": ["read"], "jwk": jwk, "expires_at": rfc3339(now() + 600)});
    let (s, any) = app.admin(Method::POST, TRUST, Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{any}");
    for sub in ["carol", "dave"] {
        let (s, t) = grant(&app, &id, &secret, &assertion(&key, "https://idp.example", sub, &app.public, 60), Some("read")).await;
        assert_eq!(s, StatusCode::OK, "allow_any_subject, aud the issuer: {t}");
    }
    let (_, jwk2) = partner_key("other-2");
    let second = json!({"issuer": "https://second.example", "subject": "s", "scope": [], "jwk": jwk2, "expires_at": rfc3339(now() + 600)});
    assert_eq!(app.admin(Method::POST, TRUST, Some(second)).await.0, StatusCode::CREATED);

    let mut private = partner_key("p").1;
    private["d"] = json!("AAAA");
    for (what, body) in [
        (
            "subject and allow_any_subject",
            json!({"issuer": "i", "subject": "s", "allow_any_subject": true, "scope": [], "jwk": partner_key("a").1, "expires_at": rfc3339(now() + 60)}),
        ),
        ("neither", json!({"issuer": "i", "scope": [], "jwk": partner_key("a").1, "expires_at": rfc3339(now() + 60)})),
        ("a private key", json!({"issuer": "i", "subject": "s", "scope": [], "jwk": private, "expires_at": rfc3339(now() + 60)})),
        ("expired", json!({"issuer": "i", "subject": "s", "scope": [], "jwk": partner_key("a").1, "expires_at": rfc3339(now() - 60)})),
        ("no date", json!({"issuer": "i", "subject": "s", "scope": [], "jwk": partner_key("a").1, "expires_at": "tomorrow"})),
        ("a bad scope", json!({"issuer": "i", "subject": "s", "scope": ["a b"], "jwk": partner_key("a").1, "expires_at": rfc3339(now() + 60)})),
        ("no issuer", json!({"issuer": "", "subject": "s", "scope": [], "jwk": partner_key("a").1, "expires_at": rfc3339(now() + 60)})),
    ] {
        let (s, e) = app.admin(Method::POST, TRUST, Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {e}");
        assert!(e["error"].is_string() && e["error_description"].is_string(), "{e}");
    }

    // Listing: creation order, an issuer filter, pages linked by `Link`.
    let resp = app.http.get(format!("{}{TRUST}?page_size=1", app.admin)).bearer_auth(&app.admin_token).send().await.unwrap();
    let link = resp.headers()["link"].to_str().unwrap().to_owned();
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 1);
    assert_eq!(first[0]["id"], any["id"]);
    let next =
        link.split(", ").find(|l| l.ends_with("rel=\"next\"")).expect("a next page").trim_start_matches('<').split('>').next().unwrap().to_owned();
    let (_, second_page) = app.admin(Method::GET, &next, None).await;
    assert_eq!(second_page[0]["issuer"], "https://second.example", "{second_page}");
    let (_, only) = app.admin(Method::GET, &format!("{TRUST}?issuer=https%3A%2F%2Fsecond.example"), None).await;
    assert_eq!(only.as_array().unwrap().len(), 1, "{only}");
    assert_eq!(app.admin(Method::GET, &format!("{TRUST}?page_size=0"), None).await.0, StatusCode::BAD_REQUEST);

    // Another tenant sees none of it, and cannot use it.
    let acme = app.tenant_admin("acme").await;
    assert_eq!(app.call(Method::GET, &format!("{TRUST}/{}", any["id"].as_str().unwrap()), &acme, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::GET, TRUST, &acme, None).await.1, json!([]));

    // Public clients cannot register the grant.
    let (s, e) = app
        .admin(
            Method::POST,
            "/admin/oauth/clients",
            Some(json!({"name": "p", "redirect_uris": ["https://a.example/cb"], "grant_types": [GRANT], "is_confidential": false, "client_auth_methods": ["none"]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}
