//! The FAPI profiles a client's `fapi_profile` selects, enforced at registration and at
//! runtime: FAPI 2.0 Security Profile end to end (PAR, PKCE, private_key_jwt, DPoP,
//! algorithms), and the combinations registration refuses. FAPI 1.0 Advanced's runtime
//! (mTLS-bound tokens, signed requests or PAR, hybrid or JARM) is in `mtls.rs`; the
//! lifetimes FAPI 2.0 limits are in clavis-service's `expiry.rs`.

use crate::common;

use clavis_core::jose::{Alg, SigningKey};
use common::dpop::DpopKey;
use common::flow::{login_and_consent, param, pkce, spawn, Browser, REDIRECT};
use common::{header, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn assertion(key: &SigningKey, client_id: &str, aud: &str) -> String {
    let now = clavis_core::time::now_unix();
    key.sign_jwt(&json!({"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60, "jti": clavis_core::ids::random_token(12)}))
}

async fn post(app: &TestApp, url: &str, form: &[(&str, &str)], dpop: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.http.post(url).form(form);
    if let Some(p) = dpop {
        req = req.header("DPoP", p);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn fapi2_end_to_end_par_pkce_private_key_jwt_and_dpop() {
    let app = spawn().await;
    let (es, rs) = (SigningKey::generate(Alg::Es256).0, SigningKey::generate(Alg::Rs256).0);
    let jwks = json!({"keys": [es.public_jwk().to_json(), rs.public_jwk().to_json()]}).to_string();
    let c = app
        .create_client(json!({"name": "bank", "redirect_uris": [REDIRECT], "fapi_profile": "fapi2", "scopes": ["openid"],
                              "client_auth_methods": ["private_key_jwt"], "jwks": jwks}))
        .await;
    let id = c["client_id"].as_str().unwrap();
    let par = format!("{}/oauth2/par", app.public);
    let (verifier, challenge) = pkce();
    let key = DpopKey::new();
    let request = |a: String| {
        vec![
            ("response_type", "code".to_owned()),
            ("client_id", id.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("scope", "openid".to_owned()),
            ("state", "state-1234567890".to_owned()),
            ("code_challenge", challenge.clone()),
            ("code_challenge_method", "S256".to_owned()),
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", a),
        ]
    };
    let as_form = |v: &Vec<(&'static str, String)>| v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    // An RS256 assertion is refused: FAPI 2.0 allows PS256, ES256 and EdDSA only.
    let f = as_form(&request(assertion(&rs, id, &app.public)));
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(post(&app, &par, &pairs, None).await.0, StatusCode::UNAUTHORIZED);
    // Without PKCE: refused.
    let f = as_form(&request(assertion(&es, id, &app.public)));
    let pairs: Vec<(&str, &str)> = f.iter().filter(|(k, _)| !k.starts_with("code_challenge")).map(|(k, v)| (*k, v.as_str())).collect();
    let (s, body) = post(&app, &par, &pairs, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("PKCE"), "{body}");
    let f = as_form(&request(assertion(&es, id, &app.public)));
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (s, pushed) = post(&app, &par, &pairs, Some(&key.proof("POST", &par, None, None))).await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    assert!(pushed["expires_in"].as_i64().unwrap() < 600);

    let start = format!("{}/oauth2/auth?client_id={id}&request_uri={}", app.public, pushed["request_uri"].as_str().unwrap());
    let code = param(&login_and_consent(&app, &mut Browser::new(), &start, "ivy", false).await, "code").unwrap();
    let token_url = app.token_url("");
    let token_form = |a: String| {
        vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_verifier", verifier.clone()),
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", a),
        ]
    };
    let send = |dpop: Option<String>| {
        let f = token_form(assertion(&es, id, &app.public));
        let app = &app;
        let url = token_url.clone();
        async move {
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(app, &url, &pairs, dpop.as_deref()).await
        }
    };
    // No sender constraint: refused; a DPoP proof in RS256: refused; neither spent the code.
    let (s, body) = send(None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    let (s, body) = send(Some(DpopKey::of(Alg::Rs256).proof("POST", &token_url, None, None))).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")), "{body}");
    let (s, t) = send(Some(key.proof("POST", &token_url, None, None))).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    assert_eq!(header(t["id_token"].as_str().unwrap())["alg"], "PS256", "a FAPI client's default ID token algorithm");
}

#[tokio::test]
async fn registration_refuses_what_a_profile_forbids() {
    let app = TestApp::spawn().await;
    let jwks = json!({"keys": [SigningKey::generate(Alg::Es256).0.public_jwk().to_json()]});
    let base = |profile: &str| {
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks,
               "metadata": {}, "client_name": profile})
    };
    let fapi = |profile: &str, extra: Value| {
        let mut b = base(profile);
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (body, field) in [
        (json!({"client_auth_methods": ["client_secret_basic"]}), "client_auth_methods"),
        (json!({"is_confidential": false, "client_auth_methods": ["none"]}), "fapi_profile"),
        (json!({"redirect_uris": ["http://127.0.0.1/cb"]}), "redirect_uris"),
    ] {
        let mut b = json!({"name": "bank", "redirect_uris": [REDIRECT], "fapi_profile": "fapi2", "client_auth_methods": ["private_key_jwt"], "jwks": jwks.to_string()});
        for (k, v) in body.as_object().unwrap() {
            b[k] = v.clone();
        }
        let (s, e) = app.admin(reqwest::Method::POST, "/admin/oauth/clients", Some(b)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert!(e.to_string().contains(field), "{body}: {e}");
    }
    // The Hydra API has no fapi_profile: the profile is set through the authms API, then
    // the Hydra API's changes are checked against it.
    for (profile, extra, field) in [
        ("fapi2", json!({"id_token_signed_response_alg": "RS256"}), "id_token_signed_response_alg"),
        ("fapi1", json!({"id_token_signed_response_alg": "EdDSA"}), "id_token_signed_response_alg"),
        ("fapi2", json!({"token_endpoint_auth_signing_alg": "RS256"}), "token_endpoint_auth_signing_alg"),
        ("fapi2", json!({"request_object_signing_alg": "none"}), "request_object_signing_alg"),
        ("fapi2", json!({"response_types": ["code", "code id_token"]}), "response_types"),
        ("fapi1", json!({"authorization_signed_response_alg": "RS256"}), "authorization_signed_response_alg"),
    ] {
        let c = app
            .create_client(json!({"name": "bank", "redirect_uris": [REDIRECT], "fapi_profile": profile,
                                  "client_auth_methods": ["private_key_jwt"], "jwks": jwks.to_string()}))
            .await;
        let id = c["client_id"].as_str().unwrap();
        let (_, current) = app.admin(reqwest::Method::GET, &format!("/admin/clients/{id}"), None).await;
        let mut body = current.clone();
        for (k, v) in fapi(profile, extra.clone()).as_object().unwrap() {
            if k != "client_name" {
                body[k] = v.clone();
            }
        }
        let (s, e) = app.admin(reqwest::Method::PUT, &format!("/admin/clients/{id}"), Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{profile} {extra}: {e}");
        assert!(e.to_string().contains(field), "{profile} {extra}: {e}");
    }
    // Without a profile the same choices are fine.
    let (s, e) = app.admin(reqwest::Method::POST, "/admin/clients", Some(fapi("none", json!({"id_token_signed_response_alg": "RS256"})))).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
}
