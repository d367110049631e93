//! The authms OAuth routes beside the client API, in the authms envelope:
//! `POST /oauth/pushed-authorization`, `GET /oauth/userinfo`, `GET /oauth/consents` and
//! `DELETE /oauth/consents/{id}` (whose tokens stop working).

use crate::common;

use common::flow::*;
use common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.http.request(method, format!("{}{path}", app.public));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

/// alice's tokens for a new web client, her consent remembered.
async fn signed_in(app: &TestApp, subject: &str) -> (String, Value) {
    let (client_id, secret) = web_client(app, true).await;
    let (verifier, challenge) = pkce();
    let start = auth_url(app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let code = param(&login_and_consent(app, &mut Browser::new(), &start, subject, true).await, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, tokens) = exchange(app, &client_id, secret.as_deref(), &form).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    (client_id, tokens)
}

#[tokio::test]
async fn pushed_authorization_in_the_envelope() {
    let app = spawn().await;
    let (client_id, secret) = web_client(&app, true).await;
    let (_, challenge) = pkce();
    let form = [
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "state-1234567890"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    let url = format!("{}/oauth/pushed-authorization", app.public);
    let resp = app.http.post(&url).basic_auth(&client_id, secret.as_deref()).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!((body["code"].as_u64(), body["data"]["expires_in"].as_i64()), (Some(201), Some(90)), "{body}");
    let request_uri = body["data"]["request_uri"].as_str().unwrap();
    let mut browser = Browser::new();
    let (s, to_login, _) = browser.get(&format!("{}/oauth2/auth?client_id={client_id}&request_uri={request_uri}", app.public)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(to_login.starts_with(LOGIN_URL), "{to_login}");

    let resp = app.http.post(&url).basic_auth(&client_id, Some("wrong")).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 401);
    let resp = app.http.post(&url).basic_auth(&client_id, secret.as_deref()).form(&[("response_type", "token")]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let e: Value = resp.json().await.unwrap();
    assert!(e["code"] == 400 && e["message"].as_str().unwrap().contains(':') && e.get("data").is_none(), "{e}");
}

#[tokio::test]
async fn the_bearer_users_claims_and_consents_and_revoking_one() {
    let app = spawn().await;
    let (first, tokens) = signed_in(&app, "alice").await;
    let (second, _) = signed_in(&app, "alice").await;
    let (_, bobs) = signed_in(&app, "bob").await;
    let access = tokens["access_token"].as_str().unwrap();

    let (s, info) = call(&app, reqwest::Method::GET, "/oauth/userinfo", Some(access)).await;
    assert_eq!(s, StatusCode::OK, "{info}");
    assert_eq!((info["data"]["sub"].as_str(), info["data"]["email"].as_str()), (Some("alice"), Some("alice@example.com")));
    assert_eq!(call(&app, reqwest::Method::GET, "/oauth/userinfo", None).await.0, StatusCode::UNAUTHORIZED);

    let (s, list) = call(&app, reqwest::Method::GET, "/oauth/consents", Some(access)).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let mut ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(ids, expected, "alice's two, not bob's: {list}");
    let one = &list["data"][0];
    assert!(one["id"].is_string() && one["scopes"].as_array().unwrap().iter().any(|s| s == "openid") && one["granted_at"].is_string(), "{one}");

    let (s, done) = call(&app, reqwest::Method::DELETE, &format!("/oauth/consents/{first}"), Some(access)).await;
    assert_eq!((s, done["code"].as_u64()), (StatusCode::OK, Some(200)), "{done}");
    assert!(done.get("data").is_none());
    // Its tokens stop working: the refresh token and the access token issued with it.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (s, e) = exchange(&app, &first, None, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_ne!(s, StatusCode::OK, "{e}");
    assert_eq!(introspect(&app, access).await["active"], false);
    let (_, list) = call(&app, reqwest::Method::GET, "/oauth/consents", Some(bobs["access_token"].as_str().unwrap())).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "bob's own only: {list}");
    // Gone, and not bob's to delete; a client's own token is no user's.
    let (again, _) = signed_in(&app, "alice").await;
    let (_, fresh) = signed_in(&app, "alice").await;
    let alice = fresh["access_token"].as_str().unwrap();
    assert_eq!(call(&app, reqwest::Method::DELETE, &format!("/oauth/consents/{first}"), Some(alice)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        call(&app, reqwest::Method::DELETE, &format!("/oauth/consents/{again}"), Some(bobs["access_token"].as_str().unwrap())).await.0,
        StatusCode::NOT_FOUND
    );
    let (machine, secret) = app.machine_client().await;
    let own = app.token_ok("", &machine, &secret, None).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(call(&app, reqwest::Method::GET, "/oauth/consents", Some(&own)).await.0, StatusCode::UNAUTHORIZED);
}

/// Under a tenant issuer the path has two parameters; without a token it is a 401.
#[tokio::test]
async fn the_routes_answer_under_a_tenant_issuer_too() {
    let app = spawn().await;
    for path in ["/t/default/oauth/consents/some-client", "/oauth/consents/some-client"] {
        let (s, e) = call(&app, reqwest::Method::DELETE, path, None).await;
        assert_eq!((s, e["code"].as_u64()), (StatusCode::UNAUTHORIZED, Some(401)), "{path}: {e}");
    }
    let (_, tokens) = signed_in(&app, "alice").await;
    let (s, _) = call(&app, reqwest::Method::DELETE, "/t/default/oauth/consents/some-client", tokens["access_token"].as_str()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
