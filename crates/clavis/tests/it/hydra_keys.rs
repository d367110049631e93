//! Hydra's JSON Web Key API over the tenant's signing keys: a key made or brought into a
//! set signs that set's tokens; deleting a key or a set ends the tokens it signed; only
//! public parts are ever answered; other tenants see none of it.

use crate::common;

use base64::Engine;
use clavis_core::jose::{Alg, SigningKey};
use common::{header, verify_with_jwks, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ID_SET: &str = "/admin/keys/hydra.openid.id-token";
const AT_SET: &str = "/admin/keys/hydra.jwt.access-token";

/// A private ES256 JWK made here, as an admin would bring it from Hydra.
fn private_es256(kid: &str) -> Value {
    let (key, pkcs8) = SigningKey::generate(Alg::Es256);
    let mut jwk = key.public_jwk().to_json();
    jwk["kid"] = json!(kid);
    jwk["d"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&pkcs8[36..68]));
    jwk
}

fn has_private_parts(set: &Value) -> bool {
    set["keys"].as_array().unwrap().iter().any(|k| ["d", "p", "q", "dp", "dq", "qi"].iter().any(|m| k.get(*m).is_some()))
}

#[tokio::test]
async fn a_key_created_in_a_set_signs_that_sets_tokens() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let (s, at) = app.admin(Method::GET, AT_SET, None).await;
    assert_eq!(s, StatusCode::OK, "{at}");
    assert_eq!(at["keys"][0]["alg"], "ES256", "access tokens are ES256 by default: {at}");
    assert_eq!(app.admin(Method::GET, ID_SET, None).await.1["keys"][0]["alg"], "RS256");
    assert_eq!(at["keys"].as_array().unwrap().len(), 4, "one active key per algorithm: {at}");
    assert!(!has_private_parts(&at));

    let (s, made) = app.admin(Method::POST, AT_SET, Some(json!({"alg": "EdDSA", "kid": "my-ed", "use": "sig"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!((made["keys"][0]["kid"].as_str(), made["keys"][0]["crv"].as_str()), (Some("my-ed"), Some("Ed25519")));
    assert!(!has_private_parts(&made), "a signing key's private half never leaves: {made}");
    let token = app.token_ok("", &id, &secret, None).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!((header(&token)["kid"].as_str(), header(&token)["alg"].as_str()), (Some("my-ed"), Some("EdDSA")));
    verify_with_jwks(&app, &token).await;
    assert_eq!(app.admin(Method::GET, AT_SET, None).await.1["keys"][0]["kid"], "my-ed", "the set signs with it first");
    let (s, one) = app.admin(Method::GET, &format!("{AT_SET}/my-ed"), None).await;
    assert_eq!((s, one["keys"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)), "{one}");

    // Deleting the active key: tokens it signed end, a new key of its algorithm signs.
    let (s, _) = app.admin(Method::DELETE, &format!("{AT_SET}/my-ed"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.introspect(&token).await["active"], false, "a deleted key's tokens stop verifying");
    let next = app.token_ok("", &id, &secret, None).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(header(&next)["alg"], "EdDSA");
    assert_ne!(header(&next)["kid"], "my-ed");
    assert_eq!(app.introspect(&next).await["active"], true);
    assert_eq!(app.admin(Method::GET, &format!("{AT_SET}/my-ed"), None).await.0, StatusCode::NOT_FOUND);

    // Refusals, in Hydra's error format.
    for (method, path, body, status) in [
        (Method::POST, AT_SET.to_owned(), json!({"alg": "HS256", "kid": "", "use": "sig"}), StatusCode::BAD_REQUEST),
        (Method::POST, AT_SET.to_owned(), json!({"alg": "ES256", "kid": "", "use": "enc"}), StatusCode::BAD_REQUEST),
        (Method::POST, AT_SET.to_owned(), json!({"alg": "ES256", "kid": "has space", "use": "sig"}), StatusCode::BAD_REQUEST),
        (Method::POST, "/admin/keys/my-own-set".to_owned(), json!({"alg": "ES256", "kid": "", "use": "sig"}), StatusCode::NOT_FOUND),
        (Method::GET, "/admin/keys/my-own-set".to_owned(), Value::Null, StatusCode::NOT_FOUND),
        (Method::DELETE, format!("{AT_SET}/no-such-kid"), Value::Null, StatusCode::NOT_FOUND),
    ] {
        let (s, e) = app.admin(method.clone(), &path, (!body.is_null()).then_some(body)).await;
        assert_eq!(s, status, "{method} {path}: {e}");
        assert!(e["error"].is_string() && e["error_description"].is_string(), "{e}");
    }
    // A kid is the tenant's: making the same one twice is a conflict.
    assert_eq!(app.admin(Method::POST, AT_SET, Some(json!({"alg": "ES256", "kid": "twice", "use": "sig"}))).await.0, StatusCode::CREATED);
    assert_eq!(app.admin(Method::POST, AT_SET, Some(json!({"alg": "ES256", "kid": "twice", "use": "sig"}))).await.0, StatusCode::CONFLICT);
    // Another tenant's admin sees its own keys only.
    let acme = app.tenant_admin("acme").await;
    let (_, theirs) = app.call(Method::GET, AT_SET, &acme, None).await;
    assert!(theirs["keys"].as_array().unwrap().iter().all(|k| k["kid"] != "twice" && k["kid"] != header(&next)["kid"]), "{theirs}");
}

#[tokio::test]
async fn a_brought_private_key_signs_id_tokens_and_a_deleted_set_ends_every_token() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_admin("acme").await;
    let (s, put) = app.call(Method::PUT, &format!("{ID_SET}/from-hydra"), &acme, Some(private_es256("from-hydra"))).await;
    assert_eq!(s, StatusCode::OK, "{put}");
    assert_eq!((put["kid"].as_str(), put["alg"].as_str(), put.get("d")), (Some("from-hydra"), Some("ES256"), None));
    let (_, set) = app.call(Method::GET, ID_SET, &acme, None).await;
    assert_eq!(set["keys"][0]["kid"], "from-hydra", "ID tokens are signed with it now: {set}");
    let (s, settings) = app.call(Method::GET, "/admin/oauth/tenant", &acme, None).await;
    assert_eq!(s, StatusCode::OK, "{settings}");
    assert_eq!(settings["data"]["signing"]["id_token"], "ES256", "the set's default follows the key: {settings}");

    // Refused imports: another kid than the path's, a public key alone, two keys of one algorithm.
    let e = app.call(Method::PUT, &format!("{ID_SET}/other"), &acme, Some(private_es256("from-hydra-2"))).await;
    assert_eq!(e.0, StatusCode::BAD_REQUEST, "{}", e.1);
    let mut public = private_es256("pub-only");
    public.as_object_mut().unwrap().remove("d");
    assert_eq!(app.call(Method::PUT, &format!("{ID_SET}/pub-only"), &acme, Some(public)).await.0, StatusCode::BAD_REQUEST);
    let two = json!({"keys": [private_es256("a"), private_es256("b")]});
    assert_eq!(app.call(Method::PUT, ID_SET, &acme, Some(two)).await.0, StatusCode::BAD_REQUEST);
    let (s, whole) = app.call(Method::PUT, ID_SET, &acme, Some(json!({"keys": [private_es256("c")]}))).await;
    assert_eq!((s, whole["keys"][0]["kid"].as_str()), (StatusCode::OK, Some("c")), "{whole}");
    assert!(!has_private_parts(&whole));

    // Deleting a set replaces the whole pool: the admin's own token, signed before, ends too.
    let (s, _) = app.call(Method::DELETE, AT_SET, &acme, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.call(Method::GET, ID_SET, &acme, None).await.0, StatusCode::UNAUTHORIZED, "tokens signed before stop verifying");
    let acme = app.tenant_admin("acme").await;
    let (_, after) = app.call(Method::GET, ID_SET, &acme, None).await;
    let kids: Vec<&str> = after["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 4, "four new keys and nothing else: {after}");
    assert!(!kids.contains(&"from-hydra") && !kids.contains(&"c"), "{kids:?}");
    let jwks: Value = app.http.get(format!("{}/t/acme/.well-known/jwks.json", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 4, "{jwks}");
    // The root tenant's keys were not touched.
    assert_eq!(app.admin(Method::GET, ID_SET, None).await.0, StatusCode::OK);
}
