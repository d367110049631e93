//! JWT-secured authorization responses (JARM: `jwt`, `query.jwt`, `fragment.jwt`,
//! `form_post.jwt`, `authorization_signed_response_alg`) and signed introspection
//! responses (RFC 9701, `Accept: application/token-introspection+jwt`).

use crate::common;

use common::flow::*;
use common::{dpop::now, header, verify_with_jwks, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn fragment(url: &str, name: &str) -> Option<String> {
    let frag = url::Url::parse(url).unwrap().fragment()?.to_owned();
    url::form_urlencoded::parse(frag.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A confidential code client of the Hydra API with `fields`.
async fn hydra_client(app: &TestApp, fields: Value) -> (String, String) {
    let mut body = json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "response_types": ["code", "code id_token"],
                          "scope": "openid profile offline_access"});
    for (k, v) in fields.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

/// The verified claims of a JARM response for `client_id`: signed by the issuer, for the client, short-lived.
async fn response_claims(app: &TestApp, jwt: &str, client_id: &str) -> Value {
    let c = verify_with_jwks(app, jwt).await;
    assert_eq!((c["iss"].as_str(), c["aud"].as_str()), (Some(app.public.as_str()), Some(client_id)), "{c}");
    let exp = c["exp"].as_i64().unwrap();
    assert!(exp > now() && exp <= now() + 600, "{c}");
    c
}

#[tokio::test]
async fn each_jwt_mode_carries_a_signed_response_with_the_code() {
    let app = spawn().await;
    let (id, secret) = hydra_client(&app, json!({})).await;
    for mode in ["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"] {
        let (verifier, challenge) = pkce();
        let start = auth_url(&app, &id, &[("code_challenge", &challenge), ("code_challenge_method", "S256"), ("response_mode", mode)]);
        let (s, to, page) = login_and_consent_response(&app, &mut Browser::new(), &start, "jane", false).await;
        let response = match mode {
            "jwt" | "query.jwt" => {
                assert_eq!(s, StatusCode::SEE_OTHER);
                assert_eq!(param(&to, "code"), None, "{mode}: only the JWT travels");
                param(&to, "response").unwrap()
            }
            "fragment.jwt" => fragment(&to, "response").unwrap(),
            _ => {
                assert_eq!(s, StatusCode::OK);
                let (action, fields) = form_post(page.as_str().unwrap());
                assert_eq!(action, REDIRECT);
                assert_eq!(fields.len(), 1, "{fields:?}");
                fields[0].1.clone()
            }
        };
        assert_eq!(header(&response)["alg"], "RS256", "JARM's default algorithm");
        let c = response_claims(&app, &response, &id).await;
        assert_eq!(c["state"], "state-1234567890");
        let form =
            [("grant_type", "authorization_code"), ("code", c["code"].as_str().unwrap()), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
        let (s, tokens) = exchange(&app, &id, Some(&secret), &form).await;
        assert_eq!(s, StatusCode::OK, "{mode}: {tokens}");
    }
}

#[tokio::test]
async fn errors_and_rejections_come_as_jwts_in_the_clients_algorithm() {
    let app = spawn().await;
    let (id, _) = hydra_client(&app, json!({"authorization_signed_response_alg": "ES256"})).await;
    let (_, read) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
    assert_eq!(read["authorization_signed_response_alg"], "ES256");
    let (_, challenge) = pkce();
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    // An error of the request itself.
    let (s, to, _) = Browser::new().get(&auth_url(&app, &id, &[pk[0], pk[1], ("response_mode", "jwt"), ("prompt", "bogus")])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let jwt = param(&to, "response").unwrap();
    assert_eq!(header(&jwt)["alg"], "ES256");
    let c = response_claims(&app, &jwt, &id).await;
    assert_eq!((c["error"].as_str(), c["state"].as_str()), (Some("invalid_request"), Some("state-1234567890")));
    // A login the login app rejects.
    let mut browser = Browser::new();
    let (_, to_login, _) = browser.get(&auth_url(&app, &id, &[pk[0], pk[1], ("response_mode", "fragment.jwt")])).await;
    let lc = param(&to_login, "login_challenge").unwrap();
    let (_, r) = app
        .admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/reject?login_challenge={lc}"), Some(json!({"error": "access_denied"})))
        .await;
    let (s, to, _) = browser.get(r["redirect_to"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let c = response_claims(&app, &fragment(&to, "response").unwrap(), &id).await;
    assert_eq!(c["error"], "access_denied");
    // The hybrid flow's ID token rides in the JWT; query.jwt cannot carry it.
    let (_, challenge) = pkce();
    let hybrid = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256"), ("response_type", "code id_token"), ("nonce", "n-1")];
    let mut params = hybrid.to_vec();
    params.push(("response_mode", "query.jwt"));
    let (s, to, _) = Browser::new().get(&auth_url(&app, &id, &params).replacen("response_type=code&", "", 1)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(fragment(&to, "error").as_deref(), Some("invalid_request"), "refused in the hybrid default (fragment): {to}");
    let mut params = hybrid.to_vec();
    params.push(("response_mode", "jwt"));
    let url = auth_url(&app, &id, &params).replacen("response_type=code&", "", 1);
    let (_, to, _) = login_and_consent_response(&app, &mut Browser::new(), &url, "jane", false).await;
    let c = response_claims(&app, &fragment(&to, "response").expect("jwt is fragment.jwt for code id_token"), &id).await;
    assert!(c["code"].is_string() && c["id_token"].is_string(), "{c}");
    // A registration with an algorithm Clavis does not sign with is refused.
    let (s, body) = app.admin(Method::POST, "/admin/clients", Some(json!({"authorization_signed_response_alg": "HS256"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn introspection_answers_a_signed_jwt_when_asked() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let at = app.token_ok("", &id, &secret, Some("read")).await["access_token"].as_str().unwrap().to_owned();
    let (s, rs) = app
        .admin(Method::POST, "/admin/clients", Some(json!({"grant_types": ["client_credentials"], "introspection_signed_response_alg": "PS256"})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{rs}");
    let (rs_id, rs_secret) = (rs["client_id"].as_str().unwrap(), rs["client_secret"].as_str().unwrap());
    let url = format!("{}/oauth2/introspect", app.public);
    // As an admin (RS256, the default), and as a resource server of its own algorithm.
    for (who, req, alg) in [
        ("admin", app.http.post(&url).bearer_auth(&app.admin_token), "RS256"),
        (rs_id, app.http.post(&url).basic_auth(rs_id, Some(rs_secret)), "PS256"),
    ] {
        let resp = req.header("Accept", "application/token-introspection+jwt").form(&[("token", at.as_str())]).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/token-introspection+jwt");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let jwt = resp.text().await.unwrap();
        let h = header(&jwt);
        assert_eq!((h["typ"].as_str(), h["alg"].as_str()), (Some("token-introspection+jwt"), Some(alg)), "{who}");
        let c = verify_with_jwks(&app, &jwt).await;
        assert_eq!(c["iss"], app.public.as_str());
        let aud = if who == "admin" { common::ADMIN_ID } else { rs_id };
        assert_eq!(c["aud"], aud);
        let i = &c["token_introspection"];
        if who == "admin" {
            assert_eq!((i["active"].as_bool(), i["client_id"].as_str()), (Some(true), Some(id.as_str())), "{c}");
        } else {
            // Under the default policy an unmarked client sees other clients' tokens only as inactive.
            assert!(i["active"].is_boolean(), "{c}");
        }
    }
    // Plain JSON otherwise.
    let resp = app.http.post(&url).bearer_auth(&app.admin_token).form(&[("token", at.as_str())]).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let (s, body) = app.admin(Method::POST, "/admin/clients", Some(json!({"introspection_signed_response_alg": "none"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}
