//! OpenID Connect Back-Channel Logout 1.0 and Front-Channel Logout 1.0: when a login
//! session ends (RP-initiated logout, Hydra's revokeOAuth2LoginSessions, expiry), every
//! client that signed in with it and registered a logout URI is told, by a signed logout
//! token POSTed from the server (retried), or by an iframe of the logout page.

use crate::common;

use common::flow::*;
use common::receiver::Receiver;
use common::{header, verify_with_jwks, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A Hydra client for the code flow with `fields`.
async fn client(app: &TestApp, fields: Value) -> Value {
    let mut body = json!({"client_name": "rp", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "scope": "openid",
                          "post_logout_redirect_uris": ["https://app.example.com/bye"]});
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    c
}

/// `subject` signs in to `c` in `browser` (a remembered session, or not): the ID token.
async fn sign_in(app: &TestApp, browser: &mut Browser, c: &Value, subject: &str, remember: bool) -> String {
    let id = c["client_id"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let start =
        auth_url(app, id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]).replace("openid+offline_access+profile", "openid");
    let back = login_and_consent(app, browser, &start, subject, remember).await;
    let code = param(&back, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, tokens) = exchange(app, id, c["client_secret"].as_str(), &form).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    tokens["id_token"].as_str().unwrap().to_owned()
}

/// A logout token as Back-Channel Logout §2.4 has it, for client `c` and session `sid`.
async fn assert_logout_token(app: &TestApp, token: &str, c: &Value, sub: &str, sid: &str) -> Value {
    assert_eq!(header(token)["typ"], "logout+jwt");
    let claims = verify_with_jwks(app, token).await;
    assert_eq!(claims["iss"], app.public.as_str());
    assert_eq!(claims["aud"], c["client_id"]);
    assert_eq!((claims["sub"].as_str(), claims["sid"].as_str()), (Some(sub), Some(sid)), "{claims}");
    assert_eq!(claims["events"], json!({"http://schemas.openid.net/event/backchannel-logout": {}}));
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()) && claims.get("nonce").is_none(), "{claims}");
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert!(exp > iat && exp - iat <= 300, "short-lived: {claims}");
    claims
}

#[tokio::test]
async fn rp_initiated_logout_tells_every_client_of_the_session() {
    let app = spawn().await;
    let mut rp = Receiver::start().await;
    let back_only = client(&app, json!({"backchannel_logout_uri": format!("{}/a", rp.base), "backchannel_logout_session_required": true})).await;
    let both = client(
        &app,
        json!({"backchannel_logout_uri": format!("{}/b", rp.base), "subject_type": "pairwise",
               "frontchannel_logout_uri": "https://app.example.com/fc?x=1", "frontchannel_logout_session_required": true}),
    )
    .await;
    let neither = client(&app, json!({})).await;
    let mut browser = Browser::new();
    let id_token = sign_in(&app, &mut browser, &back_only, "alice", true).await;
    let pairwise_sub = common::claims(&sign_in(&app, &mut browser, &both, "alice", true).await)["sub"].as_str().unwrap().to_owned();
    sign_in(&app, &mut browser, &neither, "alice", true).await;
    let sid = common::claims(&id_token)["sid"].as_str().unwrap().to_owned();
    assert_ne!(pairwise_sub, "alice");

    let logout = format!(
        "{}/oauth2/sessions/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=s1",
        app.public
    );
    let (s, _, page) = browser.get(&logout).await;
    assert_eq!(s, StatusCode::OK, "the front-channel page: {page}");
    let page = page.as_str().unwrap();
    let frame = format!(
        "https://app.example.com/fc?x=1&amp;iss={}&amp;sid={sid}",
        url::form_urlencoded::byte_serialize(app.public.as_bytes()).collect::<String>()
    );
    assert!(page.contains(&format!("<iframe src=\"{frame}\"")), "{page}");
    assert_eq!(page.matches("<iframe").count(), 1, "only the client with a frontchannel_logout_uri: {page}");
    assert!(page.contains("data-next=\"https://app.example.com/bye?state=s1\""), "then on to the post-logout URI: {page}");

    let tokens = rp.next_n(2).await;
    assert_logout_token(&app, &tokens["a"], &back_only, "alice", &sid).await;
    assert_logout_token(&app, &tokens["b"], &both, &pairwise_sub, &sid).await;
    let (_, challenge) = pkce();
    let silent = [("prompt", "none"), ("code_challenge", &challenge), ("code_challenge_method", "S256")];
    let silent = auth_url(&app, back_only["client_id"].as_str().unwrap(), &silent).replace("openid+offline_access+profile", "openid");
    let (_, loc, _) = browser.get(&silent).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"), "the session is over: {loc}");

    // Logging out again tells nobody twice; a new session is a new sid.
    let (s, loc, _) = browser.get(&logout).await;
    assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, "https://app.example.com/bye?state=s1"));
    let second = sign_in(&app, &mut browser, &back_only, "alice", true).await;
    let (s, _) =
        app.admin(Method::DELETE, &format!("/admin/oauth2/auth/sessions/login?sid={}", common::claims(&second)["sid"].as_str().unwrap()), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (path, token) = rp.next().await;
    assert_eq!(path, "a", "the earlier logout sent nothing more");
    assert_ne!(common::claims(&token)["sid"], sid.as_str());
    let d: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    for flag in [
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ] {
        assert_eq!(d[flag], true, "{flag}");
    }
}

#[tokio::test]
async fn revocation_and_expiry_send_logout_tokens_and_failures_are_retried() {
    let app = spawn().await;
    let mut rp = Receiver::start().await;
    let c = client(&app, json!({"backchannel_logout_uri": format!("{}/rp", rp.base)})).await;

    // Hydra's revokeOAuth2LoginSessions by subject; the first answer is a 503.
    let id_token = sign_in(&app, &mut Browser::new(), &c, "bob", true).await;
    rp.fail_next(503);
    let resp =
        app.http.delete(format!("{}/admin/oauth2/auth/sessions/login?subject=bob", app.admin)).bearer_auth(&app.admin_token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (_, first) = rp.next().await;
    let (_, retried) = rp.next().await;
    let sid = common::claims(&id_token)["sid"].as_str().unwrap().to_owned();
    let (a, b) = (assert_logout_token(&app, &first, &c, "bob", &sid).await, assert_logout_token(&app, &retried, &c, "bob", &sid).await);
    assert_eq!(a["jti"], b["jti"], "a retry is the same logout");

    // A 400 is the client's final answer: not retried; the next session's token is next.
    let two = sign_in(&app, &mut Browser::new(), &c, "bob", true).await;
    rp.fail_next(400);
    let resp =
        app.http.delete(format!("{}/admin/oauth2/auth/sessions/login?subject=bob", app.admin)).bearer_auth(&app.admin_token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(common::claims(&rp.next().await.1)["sid"], common::claims(&two)["sid"]);

    // Expiry: the cleanup sweep past the session's end (remember_for 3600) tells the client.
    let three = sign_in(&app, &mut Browser::new(), &c, "bob", true).await;
    let services = &app.server.as_ref().unwrap().services;
    services.purge_expired(services.now() + 60).await.unwrap();
    services.purge_expired(services.now() + 3601).await.unwrap();
    let (_, token) = rp.next().await;
    assert_eq!(common::claims(&token)["sid"], common::claims(&three)["sid"], "the sweep before expiry sent nothing");
    assert!(rp.got.try_recv().is_err(), "one token per logout");
}

#[tokio::test]
async fn logout_uris_are_checked_at_registration() {
    let app = spawn().await;
    for (fields, field) in [
        (json!({"backchannel_logout_uri": "http://rp.example/bc"}), "backchannel_logout_uri"),
        (json!({"backchannel_logout_uri": "https://rp.example/bc#f"}), "backchannel_logout_uri"),
        (json!({"backchannel_logout_uri": "not a url"}), "backchannel_logout_uri"),
        (json!({"frontchannel_logout_uri": "https://elsewhere.example/fc"}), "frontchannel_logout_uri"),
        (json!({"frontchannel_logout_uri": "https://app.example.com:8443/fc"}), "frontchannel_logout_uri"),
    ] {
        let mut body = json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "scope": "openid"});
        body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        let (s, e) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{fields}: {e}");
        assert!(e.to_string().contains(field), "{fields}: {e}");
    }
    let c =
        client(&app, json!({"backchannel_logout_uri": "https://rp.example/bc?x=1", "frontchannel_logout_uri": "https://app.example.com/fc"})).await;
    assert_eq!(
        (c["backchannel_logout_uri"].as_str(), c["frontchannel_logout_uri"].as_str()),
        (Some("https://rp.example/bc?x=1"), Some("https://app.example.com/fc"))
    );
}

/// The logout app learns the tenant's subject even from a pairwise client's hint, through
/// the hint's session; accepting the logout tells the clients.
#[tokio::test]
async fn the_logout_app_sees_the_tenants_subject_for_a_pairwise_hint() {
    const LOGOUT_URL: &str = "https://login.example/logout";
    let app = TestApp::spawn_with(|a| {
        a.login_url = Some(LOGIN_URL.into());
        a.consent_url = Some(CONSENT_URL.into());
        a.logout_url = Some(LOGOUT_URL.into());
    })
    .await;
    let mut rp = Receiver::start().await;
    let c = client(&app, json!({"subject_type": "pairwise", "backchannel_logout_uri": format!("{}/p", rp.base)})).await;
    // Not remembered: only the session's client with a logout URI knows the subject.
    let id_token = sign_in(&app, &mut Browser::new(), &c, "carol", false).await;
    let pairwise = common::claims(&id_token)["sub"].as_str().unwrap().to_owned();
    assert_ne!(pairwise, "carol");

    let mut elsewhere = Browser::new();
    let (s, loc, _) = elsewhere.get(&format!("{}/oauth2/sessions/logout?id_token_hint={id_token}", app.public)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let challenge = param(&loc, "logout_challenge").expect(&loc);
    let (_, request) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/logout?logout_challenge={challenge}"), None).await;
    assert_eq!(request["subject"], "carol", "{request}");
    let (_, accepted) = app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/logout/accept?logout_challenge={challenge}"), None).await;
    let (s, _, _) = elsewhere.get(accepted["redirect_to"].as_str().unwrap()).await;
    assert!(s.is_success() || s.is_redirection(), "{s}");
    let (_, token) = rp.next().await;
    assert_logout_token(&app, &token, &c, &pairwise, common::claims(&id_token)["sid"].as_str().unwrap()).await;
}
