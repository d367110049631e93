//! Two nodes over one database: what one node writes, the other honours within the
//! documented bound (the client cache TTL, set to 1 s here); codes and refresh tokens
//! redeem on either node; key rotation propagates.

use crate::common;

use std::time::{Duration, Instant};

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

const CACHE_TTL: Duration = Duration::from_secs(1);
/// The bound plus room for a slow machine.
const BOUND: Duration = Duration::from_millis(2500);

async fn nodes() -> (TestApp, TestApp) {
    let a = TestApp::spawn_with(|c| {
        c.public_url = Some("http://clavis.test".into());
        c.client_cache_ttl = Some("1s".into());
    })
    .await;
    let b = a.another_node().await;
    (a, b)
}

/// Polls `check` until it holds; fails if that takes longer than `BOUND`.
async fn within_bound<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < BOUND, "{what}: not seen within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn writes_on_one_node_are_honoured_by_the_other() {
    let (a, b) = nodes().await;
    assert!(CACHE_TTL < BOUND);
    let (id, secret) = a.machine_client().await;
    b.token_ok("", &id, &secret, None).await; // also warms B's cache

    // Suspended on A: refused on B within the bound.
    a.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"status": "suspended"}))).await;
    within_bound("suspension", || async { b.token("", &id, &secret, None).await.0 == StatusCode::UNAUTHORIZED }).await;
    a.admin(Method::PUT, &format!("/admin/oauth/clients/{id}"), Some(json!({"status": "active"}))).await;
    within_bound("reactivation", || async { b.token("", &id, &secret, None).await.0 == StatusCode::OK }).await;

    // Rotated on A without grace: the old secret stops on B, the new one works there.
    let (_, r) = a.admin(Method::POST, &format!("/admin/oauth/clients/{id}/rotate-secret"), Some(json!({"grace_period_seconds": 0}))).await;
    let new_secret = r["data"]["new_secret"].as_str().unwrap().to_owned();
    within_bound("rotation", || async { b.token("", &id, &secret, None).await.0 == StatusCode::UNAUTHORIZED }).await;
    b.token_ok("", &id, &new_secret, None).await;

    // Admin tokens issued by one node work on the other.
    let (s, _) = b.call(Method::GET, "/admin/oauth/clients", &a.admin_token, None).await;
    assert_eq!(s, StatusCode::OK);

    // Deleted on A: gone on B.
    a.admin(Method::DELETE, &format!("/admin/oauth/clients/{id}"), None).await;
    within_bound("deletion", || async { b.token("", &id, &new_secret, None).await.0 == StatusCode::UNAUTHORIZED }).await;
    let (s, _) = b.admin(Method::GET, &format!("/admin/oauth/clients/{id}"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn keys_rotated_on_one_node_verify_on_the_other() {
    let (a, b) = nodes().await;
    let (s, _) = b.call(Method::GET, "/admin/oauth/clients", &a.admin_token, None).await;
    assert_eq!(s, StatusCode::OK, "B has loaded the old key set");
    let (s, _) = a.admin(Method::POST, "/admin/oauth/keys/rotate", None).await;
    assert_eq!(s, StatusCode::CREATED);
    let fresh = a.token_ok("", common::ADMIN_ID, common::ADMIN_SECRET, None).await["access_token"].as_str().unwrap().to_owned();
    // B meets an unknown kid and re-reads the key set (at most every 5 s; B loaded it
    // just now, so allow for that).
    let started = Instant::now();
    loop {
        let (s, _) = b.call(Method::GET, "/admin/oauth/clients", &fresh, None).await;
        if s == StatusCode::OK {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "new key not accepted by B");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And B now signs with the new key too, once its key set is re-read.
    let jwks_b: serde_json::Value = reqwest::get(format!("{}/.well-known/jwks.json", b.public)).await.unwrap().json().await.unwrap();
    assert_eq!(jwks_b["keys"].as_array().unwrap().len(), 8, "four algorithms, each rotated once");
}

#[tokio::test]
async fn a_flow_can_hop_between_nodes() {
    let a = TestApp::spawn_with(|c| {
        c.public_url = Some("http://clavis.test".into());
        c.client_cache_ttl = Some("1s".into());
        c.login_url = Some("https://login.example/login".into());
        c.consent_url = Some("https://login.example/consent".into());
    })
    .await;
    let b = a.another_node().await;
    let c = a
        .create_client(json!({"name": "web", "redirect_uris": ["https://app.example.com/cb"],
                              "grant_types": ["authorization_code", "refresh_token"], "scopes": ["openid", "offline_access"]}))
        .await;
    let (id, secret) = (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned());
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // The issuer is http://clavis.test; the browser reaches it through either node.
    let via = |node: &TestApp, url: &str| url.replace("http://clavis.test", &node.public);
    let location = |resp: reqwest::Response| resp.headers()["location"].to_str().unwrap().to_owned();
    let param = |url: &str, k: &str| url::Url::parse(url).unwrap().query_pairs().find(|(n, _)| n == k).unwrap().1.into_owned();
    let verifier = clavis_core::ids::random_token(32);
    let challenge = clavis_core::jose::pkce_s256(&verifier);
    let start = format!(
        "{}/oauth2/auth?response_type=code&client_id={id}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb\
        &scope=openid+offline_access&state=hop-state-1&code_challenge={challenge}&code_challenge_method=S256",
        a.public
    );

    let resp = browser.get(&start).send().await.unwrap();
    // The flow's browser binding: the verifiers work only with it, on either node.
    let binding = common::set_cookie(&resp);
    let to_login = location(resp);
    let login = param(&to_login, "login_challenge");
    let (s, accepted) =
        b.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={login}"), Some(json!({"subject": "alice"}))).await;
    assert_eq!(s, StatusCode::OK, "login accepted on the other node: {accepted}");
    let to_consent = location(browser.get(via(&b, accepted["redirect_to"].as_str().unwrap())).header("cookie", &binding).send().await.unwrap());
    let consent = param(&to_consent, "consent_challenge");
    let (s, accepted) = a
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={consent}"),
            Some(json!({"grant_scope": ["openid", "offline_access"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let back = location(browser.get(via(&a, accepted["redirect_to"].as_str().unwrap())).header("cookie", &binding).send().await.unwrap());
    let code = param(&back, "code");

    let token =
        |node: &TestApp, form: Vec<(&'static str, String)>| node.http.post(node.token_url("")).basic_auth(&id, Some(&secret)).form(&form).send();
    let resp = token(
        &b,
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code.clone()),
            ("redirect_uri", "https://app.example.com/cb".into()),
            ("code_verifier", verifier.clone()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "code redeemed on the other node");
    let t: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(common::claims(t["id_token"].as_str().unwrap())["iss"], "http://clavis.test");
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();
    let resp = token(&a, vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh.clone())]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "refreshed on the first node");
    let resp = token(&b, vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh)]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "its reuse is caught on the second");
    let resp = token(
        &a,
        vec![
            ("grant_type", "authorization_code".into()),
            ("code", code),
            ("redirect_uri", "https://app.example.com/cb".into()),
            ("code_verifier", verifier),
        ],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "the code worked once across nodes");
}

/// A request pushed (PAR) to one node is used on the other, once; a logout request
/// started on one node is settled through the other, and the session ends everywhere.
#[tokio::test]
async fn pushed_requests_and_logout_requests_span_nodes() {
    let a = TestApp::spawn_with(|c| {
        c.public_url = Some("http://clavis.test".into());
        c.login_url = Some("https://login.example/login".into());
        c.consent_url = Some("https://login.example/consent".into());
        c.logout_url = Some("https://login.example/logout".into());
    })
    .await;
    let b = a.another_node().await;
    let c = a.create_client(json!({"name": "web", "redirect_uris": ["https://app.example.com/cb"], "scopes": ["openid"]})).await;
    let (id, secret) = (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned());
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let via = |node: &TestApp, url: &str| url.replace("http://clavis.test", &node.public);
    let location = |resp: &reqwest::Response| resp.headers()["location"].to_str().unwrap().to_owned();
    let param = |url: &str, k: &str| url::Url::parse(url).unwrap().query_pairs().find(|(n, _)| n == k).unwrap().1.into_owned();
    let challenge = clavis_core::jose::pkce_s256(&clavis_core::ids::random_token(32));

    let pushed: serde_json::Value = a
        .http
        .post(format!("{}/oauth2/par", a.public))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", "https://app.example.com/cb"),
            ("scope", "openid"),
            ("state", "par-hop-1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut start = url::Url::parse(&format!("{}/oauth2/auth", b.public)).unwrap();
    start.query_pairs_mut().append_pair("client_id", &id).append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
    let resp = browser.get(start.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "pushed to A, used on B");
    let binding = common::set_cookie(&resp);
    let login = param(&location(&resp), "login_challenge");
    let again = browser.get(start.as_str().replace(&b.public, &a.public)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::SEE_OTHER, "and then not on A: an error for the client");
    assert_eq!(param(&location(&again), "error"), "invalid_request_uri");

    let (_, accepted) = a
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={login}"),
            Some(json!({"subject": "alice", "remember": true, "remember_for": 3600})),
        )
        .await;
    let resp = browser.get(via(&a, accepted["redirect_to"].as_str().unwrap())).header("cookie", &binding).send().await.unwrap();
    let cookie = common::set_cookie(&resp);
    let consent = param(&location(&resp), "consent_challenge");
    let (_, accepted) = b
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={consent}"),
            Some(json!({"grant_scope": ["openid"]})),
        )
        .await;
    let back = location(&browser.get(via(&b, accepted["redirect_to"].as_str().unwrap())).header("cookie", &binding).send().await.unwrap());
    assert_eq!(param(&back, "state"), "par-hop-1");

    let resp = browser.get(format!("{}/oauth2/sessions/logout", a.public)).header("cookie", &cookie).send().await.unwrap();
    let logout = param(&location(&resp), "logout_challenge");
    let logout_binding = common::set_cookie(&resp);
    let (s, request) = b.admin(Method::GET, &format!("/admin/oauth2/auth/requests/logout?logout_challenge={logout}"), None).await;
    assert_eq!((s, request["subject"].as_str()), (StatusCode::OK, Some("alice")), "started on A, read on B");
    let (_, accepted) = b.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/logout/accept?logout_challenge={logout}"), None).await;
    let resp =
        browser.get(via(&a, accepted["redirect_to"].as_str().unwrap())).header("cookie", format!("{cookie}; {logout_binding}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "finished on A");
    // The session is gone on both nodes: a silent request needs a login.
    let silent = format!(
        "{}/oauth2/auth?response_type=code&client_id={id}&scope=openid&state=s-after&prompt=none\
        &code_challenge={challenge}&code_challenge_method=S256",
        b.public
    );
    let resp = browser.get(&silent).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(param(&location(&resp), "error"), "login_required");
}
