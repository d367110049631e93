//! The device authorization grant (RFC 8628) end to end: the device's request, its
//! polling answers, the user's browser through the device page (Hydra's
//! acceptUserCodeRequest), login and consent, the tokens; denial; the authms direct
//! approval; and the limits on guessing user codes.

use crate::common;

use common::flow::*;
use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const DEVICE_URL: &str = "https://login.example/device";

async fn spawn_device() -> TestApp {
    TestApp::spawn_with(|a| {
        a.login_url = Some(LOGIN_URL.into());
        a.consent_url = Some(CONSENT_URL.into());
        a.device_verification_url = Some(DEVICE_URL.into());
    })
    .await
}

/// A public device client (a TV app): device_code and refresh_token.
async fn tv_client(app: &TestApp) -> String {
    let c = app
        .create_client(json!({
            "name": "tv", "redirect_uris": ["https://tv.example/cb"], "grant_types": [DEVICE_GRANT, "refresh_token"],
            "is_confidential": false, "client_auth_methods": ["none"], "scopes": ["openid", "offline_access", "profile"],
        }))
        .await;
    c["client_id"].as_str().unwrap().to_owned()
}

async fn device_auth(app: &TestApp, client_id: &str, scope: &str) -> (StatusCode, Value) {
    let resp = app.http.post(format!("{}/oauth2/device/auth", app.public)).form(&[("client_id", client_id), ("scope", scope)]).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

async fn poll(app: &TestApp, client_id: &str, device_code: &str) -> (StatusCode, Value) {
    let form = [("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", client_id)];
    let resp = app.http.post(app.token_url("")).form(&form).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

async fn accept_code(app: &TestApp, challenge: &str, user_code: &str) -> (StatusCode, Value) {
    let path = format!("/admin/oauth2/auth/requests/device/accept?device_challenge={challenge}");
    app.admin(Method::PUT, &path, Some(json!({"user_code": user_code}))).await
}

/// The browser at the verification URI: the device page's challenge.
async fn device_challenge(browser: &mut Browser, url: &str) -> String {
    let (s, to_page, body) = browser.get(url).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert!(to_page.starts_with(DEVICE_URL), "{to_page}");
    param(&to_page, "device_challenge").unwrap()
}

#[tokio::test]
async fn a_user_approves_a_device_in_the_browser_and_the_device_gets_tokens() {
    let app = spawn_device().await;
    let client_id = tv_client(&app).await;
    let (s, d) = device_auth(&app, &client_id, "openid offline_access").await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let (device_code, user_code) = (d["device_code"].as_str().unwrap().to_owned(), d["user_code"].as_str().unwrap().to_owned());
    assert_eq!(d["verification_uri"], format!("{}/oauth2/device/verify", app.public));
    assert_eq!((d["expires_in"].as_i64(), d["interval"].as_i64()), (Some(600), Some(5)));
    assert!(user_code.len() == 9 && user_code.as_bytes()[4] == b'-', "{user_code}");
    assert!(user_code.bytes().filter(|b| *b != b'-').all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b)), "{user_code}");

    // Before the user decides: pending, and polling faster than the interval slows it down.
    assert_eq!(poll(&app, &client_id, &device_code).await.1["error"], "authorization_pending");
    assert_eq!(poll(&app, &client_id, &device_code).await.1["error"], "slow_down");

    let mut browser = Browser::new();
    let (s, to_page, _) = browser.get(d["verification_uri_complete"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(param(&to_page, "user_code").as_deref(), Some(user_code.as_str()), "the page gets the code to prefill");
    let challenge = param(&to_page, "device_challenge").unwrap();
    let (s, e) = accept_code(&app, &challenge, "BCDF-GHJK").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a wrong code: {e}");
    // Typed in lower case without the dash, it is the same code.
    let (s, accepted) = accept_code(&app, &challenge, &user_code.replace('-', "").to_lowercase()).await;
    assert_eq!(s, StatusCode::OK, "{accepted}");
    let next = accepted["redirect_to"].as_str().unwrap().to_owned();
    assert!(next.starts_with(&format!("{}/oauth2/device/verify?device_verifier=", app.public)), "{next}");
    assert_eq!(accept_code(&app, &challenge, &user_code).await.0, StatusCode::NOT_FOUND, "the challenge is spent");

    // Login and consent, as for the authorization endpoint, back through /oauth2/device/verify.
    let (s, done, body) = login_and_consent_response(&app, &mut browser, &next, "alice", false).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(done, format!("{}/oauth2/device/done", app.public));
    let page = app.http.get(&done).send().await.unwrap();
    assert_eq!(page.headers()["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    assert!(page.text().await.unwrap().contains("approved"));

    let (s, tokens) = poll(&app, &client_id, &device_code).await;
    assert_eq!(s, StatusCode::OK, "approved: the tokens at once: {tokens}");
    let at = common::claims(tokens["access_token"].as_str().unwrap());
    assert_eq!((at["sub"].as_str(), at["client_id"].as_str()), (Some("alice"), Some(client_id.as_str())));
    assert_eq!(tokens["scope"], "openid offline_access");
    let id = common::verify_with_jwks(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!((id["sub"].as_str(), id["email"].as_str()), (Some("alice"), Some("alice@example.com")), "{id}");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (s, refreshed) = exchange(&app, &client_id, None, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");
    // Once only.
    let (s, e) = poll(&app, &client_id, &device_code).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{e}");
    // The user code was used: a new browser cannot take it again.
    let challenge = device_challenge(&mut Browser::new(), &format!("{}/oauth2/device/verify", app.public)).await;
    assert_eq!(accept_code(&app, &challenge, &user_code).await.0, StatusCode::BAD_REQUEST);
    // Discovery names the endpoint.
    let meta: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["device_authorization_endpoint"], format!("{}/oauth2/device/auth", app.public));
}

#[tokio::test]
async fn a_refusal_denies_the_device_and_requests_are_checked() {
    let app = spawn_device().await;
    let client_id = tv_client(&app).await;
    let (_, d) = device_auth(&app, &client_id, "openid").await;
    let device_code = d["device_code"].as_str().unwrap();
    let mut browser = Browser::new();
    let challenge = device_challenge(&mut browser, d["verification_uri"].as_str().unwrap()).await;
    let (_, accepted) = accept_code(&app, &challenge, d["user_code"].as_str().unwrap()).await;
    let (s, to_login, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let login_challenge = param(&to_login, "login_challenge").unwrap();
    let path = format!("/admin/oauth2/auth/requests/login/reject?login_challenge={login_challenge}");
    let (_, rejected) = app.admin(Method::PUT, &path, Some(json!({"error": "access_denied"}))).await;
    let (s, done, _) = browser.get(rejected["redirect_to"].as_str().unwrap()).await;
    assert_eq!((s, done.ends_with("/oauth2/device/done?error=access_denied")), (StatusCode::SEE_OTHER, true), "{done}");
    let (s, e) = poll(&app, &client_id, device_code).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("access_denied")), "{e}");

    // The device's request: a client without the grant, a scope it lacks, a confidential
    // client without its secret.
    let (machine, secret) = app.machine_client().await;
    let resp = app
        .http
        .post(format!("{}/oauth2/device/auth", app.public))
        .basic_auth(&machine, Some(&secret))
        .form(&[("scope", "read")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    assert_eq!(device_auth(&app, &client_id, "admin").await.1["error"], "invalid_scope");
    assert_eq!(device_auth(&app, &machine, "read").await.0, StatusCode::UNAUTHORIZED);
    // Polling: an unknown code, another client's.
    assert_eq!(poll(&app, &client_id, "nope").await.1["error"], "invalid_grant");
    let other = tv_client(&app).await;
    let (_, d2) = device_auth(&app, &client_id, "openid").await;
    assert_eq!(poll(&app, &other, d2["device_code"].as_str().unwrap()).await.1["error"], "invalid_grant");
    // A device verifier works once and only in the browser that started.
    let challenge = device_challenge(&mut browser, d2["verification_uri"].as_str().unwrap()).await;
    let (_, accepted) = accept_code(&app, &challenge, d2["user_code"].as_str().unwrap()).await;
    let (s, _, _) = Browser::new().get(accepted["redirect_to"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "another browser");
    // A device challenge is not a login challenge.
    let challenge = device_challenge(&mut browser, d2["verification_uri"].as_str().unwrap()).await;
    let (s, _) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={challenge}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_signed_in_user_approves_through_authms_and_guessing_is_bounded() {
    let app = spawn_device().await;
    let client_id = tv_client(&app).await;
    // A user's token: the code flow for bob.
    let (web, secret) = web_client(&app, true).await;
    let mut browser = Browser::new();
    let code = param(&login_and_consent(&app, &mut browser, &auth_url(&app, &web, &[]), "bob", false).await, "code").unwrap();
    let (_, tokens) =
        exchange(&app, &web, secret.as_deref(), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    let user_token = tokens["access_token"].as_str().unwrap().to_owned();
    let verify = |token: String, body: Value| {
        let app = &app;
        async move {
            let resp = app.http.post(format!("{}/oauth/device/verify", app.public)).bearer_auth(token).json(&body).send().await.unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }
    };

    let (_, d) = device_auth(&app, &client_id, "openid profile").await;
    let user_code = d["user_code"].as_str().unwrap();
    let (s, ok) = verify(user_token.clone(), json!({"user_code": user_code, "approve": true})).await;
    assert_eq!((s, ok["code"].as_u64()), (StatusCode::OK, Some(200)), "{ok}");
    assert!(ok.get("data").is_none() && ok["timestamp"].is_string(), "the seeds' SimpleResponse: {ok}");
    let (s, tokens) = poll(&app, &client_id, d["device_code"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    assert_eq!(common::claims(tokens["access_token"].as_str().unwrap())["sub"], "bob");
    let (s, e) = verify(user_token.clone(), json!({"user_code": user_code, "approve": true})).await;
    assert_eq!((s, e["code"].as_u64()), (StatusCode::BAD_REQUEST, Some(400)), "used: {e}");

    let (_, d) = device_auth(&app, &client_id, "openid").await;
    let (s, _) = verify(user_token.clone(), json!({"user_code": d["user_code"], "approve": false})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(poll(&app, &client_id, d["device_code"].as_str().unwrap()).await.1["error"], "access_denied");
    // Not a user: no token, a client's own token.
    assert_eq!(verify("nope".into(), json!({"user_code": "BCDF-GHJK", "approve": true})).await.0, StatusCode::UNAUTHORIZED);
    let (machine, machine_secret) = app.machine_client().await;
    let machine_token = app.token_ok("", &machine, &machine_secret, None).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(verify(machine_token, json!({"user_code": "BCDF-GHJK", "approve": true})).await.0, StatusCode::UNAUTHORIZED);

    // Guessing: unknown codes are 404, and after a few wrong ones the tenant's code entry waits.
    let (_, live) = device_auth(&app, &client_id, "openid").await;
    let mut statuses = Vec::new();
    for guess in ["BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM", "BCDF-GHJN", "BCDF-GHJP", "BCDF-GHJQ"] {
        statuses.push(verify(user_token.clone(), json!({"user_code": guess, "approve": true})).await.0);
    }
    assert_eq!(&statuses[..3], &[StatusCode::NOT_FOUND; 3], "{statuses:?}");
    assert!(statuses[3..].contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    let resp = app
        .http
        .post(format!("{}/oauth/device/verify", app.public))
        .bearer_auth(&user_token)
        .json(&json!({"user_code": live["user_code"], "approve": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "even a right code waits now");
    assert!(resp.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
}
