//! The authorization code flow end to end over HTTP: this test plays the browser and the
//! login & consent app (through the Hydra-compatible admin API).

use crate::common;

use base64::Engine;
use common::flow::*;
use common::{claims, header, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn code_flow_with_pkce_issues_access_id_and_refresh_tokens() {
    let app = spawn().await;
    let (client_id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let start = auth_url(&app, &client_id, &[("nonce", "n-0S6_WzA2Mj"), ("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let back = login_and_consent(&app, &mut browser, &start, "alice", false).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("state-1234567890"));
    assert_eq!(param(&back, "iss").as_deref(), Some(app.public.as_str()), "RFC 9207");
    assert_eq!(param(&back, "scope").as_deref(), Some("openid offline_access profile"));
    let code = param(&back, "code").unwrap();

    let (s, tokens) = exchange(
        &app,
        &client_id,
        Some(&secret),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let at = claims(access);
    assert_eq!((at["sub"].as_str(), at["client_id"].as_str()), (Some("alice"), Some(client_id.as_str())));
    assert_eq!(at["ext"], json!({"tier": "gold"}));
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(header(id_token)["alg"], "RS256", "the default for ID tokens (OpenID Connect Discovery §3)");
    let id = claims(id_token);
    assert_eq!(id["iss"], app.public.as_str());
    assert_eq!(id["sub"], "alice", "the consent session cannot override sub");
    assert_eq!(id["aud"], json!([client_id]));
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["acr"], "urn:loa:2");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["email"], "alice@example.com");
    assert!(id["auth_time"].as_i64().unwrap() <= id["iat"].as_i64().unwrap());
    let digest = ring::digest::digest(&ring::digest::SHA256, access.as_bytes());
    assert_eq!(id["at_hash"], base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]));
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);

    let resp = app.http.get(format!("{}/userinfo", app.public)).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"sub": "alice", "email": "alice@example.com"}));
    let resp = app.http.get(format!("{}/userinfo", app.public)).bearer_auth(&app.admin_token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "no openid scope");
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let resp = app.http.get(format!("{}/t/other/userinfo", app.public)).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "no such tenant");
    // RFC 6750 §2.2: POST with the token in the form body; never in both places.
    let userinfo = format!("{}/userinfo", app.public);
    let resp = app.http.post(&userinfo).form(&[("access_token", access)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<Value>().await.unwrap()["sub"], "alice");
    let resp = app.http.post(&userinfo).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "POST with the header and no body");
    let resp = app.http.post(&userinfo).bearer_auth(access).form(&[("access_token", access)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "two methods at once");
    assert!(resp.headers()["www-authenticate"].to_str().unwrap().contains("invalid_request"));
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "invalid_request");
    let resp = app.http.post(&userinfo).form(&[("access_token", "not-a-token")]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app.http.post(&userinfo).body(format!("access_token={access}")).header("content-type", "text/plain").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "only a form body carries a token");
    let resp = app
        .http
        .post(&userinfo)
        .body(format!("access_token={access}&access_token={access}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "a repeated parameter");

    let i = introspect(&app, access).await;
    assert_eq!((i["active"].as_bool(), i["sub"].as_str(), i["token_use"].as_str()), (Some(true), Some("alice"), Some("access_token")));
    let i = introspect(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!((i["active"].as_bool(), i["token_use"].as_str()), (Some(true), Some("refresh_token")));
}

#[tokio::test]
async fn a_code_works_once_and_its_replay_revokes_what_it_issued() {
    let app = spawn().await;
    let (client_id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let start = auth_url(&app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let code = param(&login_and_consent(&app, &mut browser, &start, "bob", false).await, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", verifier.as_str())];
    // Attempts by another client, or with a wrong verifier, do not burn the code.
    let (other, other_secret) = web_client(&app, true).await;
    let (s, _) = exchange(&app, &other, other_secret.as_deref(), &form).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let wrong = pkce().0;
    let (s, _) = exchange(&app, &client_id, Some(&secret), &[form[0], form[1], form[2], ("code_verifier", wrong.as_str())]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, first) = exchange(&app, &client_id, Some(&secret), &form).await;
    assert_eq!(s, StatusCode::OK);
    let (s, again) = exchange(&app, &client_id, Some(&secret), &form).await;
    assert_eq!((s, again["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(introspect(&app, first["access_token"].as_str().unwrap()).await["active"], false);
    assert_eq!(introspect(&app, first["refresh_token"].as_str().unwrap()).await["active"], false);
    let (s, r) =
        exchange(&app, &client_id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())])
            .await;
    assert_eq!((s, r["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}

#[tokio::test]
async fn pkce_is_enforced() {
    let app = spawn().await;
    let (client_id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let mut browser = Browser::new();

    // plain is refused at the authorization endpoint, redirected with state and iss.
    let (s, loc, _) = browser.get(&auth_url(&app, &client_id, &[("code_challenge", &"a".repeat(43)), ("code_challenge_method", "plain")])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    assert_eq!(param(&loc, "state").as_deref(), Some("state-1234567890"));

    // Wrong verifier, then no verifier.
    let (_, challenge) = pkce();
    for (verifier, why) in [(Some(pkce().0), "mismatch"), (None, "missing")] {
        let start = auth_url(&app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
        let code = param(&login_and_consent(&app, &mut browser, &start, "carol", false).await, "code").unwrap();
        let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
        if let Some(v) = &verifier {
            form.push(("code_verifier", v));
        }
        let (s, body) = exchange(&app, &client_id, Some(&secret), &form).await;
        assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{why}");
    }

    // Downgrade: no challenge at /auth, a verifier at /token.
    let code = param(&login_and_consent(&app, &mut browser, &auth_url(&app, &client_id, &[]), "carol", false).await, "code").unwrap();
    let (s, body) = exchange(
        &app,
        &client_id,
        Some(&secret),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &pkce().0)],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "downgrade");

    // Public clients must use PKCE.
    let (public_id, none) = web_client(&app, false).await;
    assert!(none.is_none());
    let (s, loc, _) = browser.get(&auth_url(&app, &public_id, &[])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));
    // …and then redeem with their client_id alone.
    let (verifier, challenge) = pkce();
    let start = auth_url(&app, &public_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let code = param(&login_and_consent(&app, &mut browser, &start, "dave", false).await, "code").unwrap();
    let (s, tokens) = exchange(
        &app,
        &public_id,
        None,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
}

#[tokio::test]
async fn redirect_uris_must_match_exactly() {
    let app = spawn().await;
    let (client_id, secret) = web_client(&app, true).await;
    let mut browser = Browser::new();
    for bad in [
        "https://app.example.com/callback/",
        "https://app.example.com/callback?x=1",
        "https://evil.example/callback",
        "https://APP.example.com/callback",
    ] {
        let url = auth_url(&app, &client_id, &[]).replace(&urlencode(REDIRECT), &urlencode(bad));
        let (s, loc, body) = browser.get(&url).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: never redirect to an unregistered URI");
        assert!(loc.is_empty());
        assert_eq!(body["error"], "invalid_request");
    }
    let (s, _, body) = browser.get(&auth_url(&app, "no-such-client", &[])).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client")));
    // The token request must repeat the redirect URI the authorization request used.
    let (verifier, challenge) = pkce();
    let start = auth_url(&app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let code = param(&login_and_consent(&app, &mut browser, &start, "erin", false).await, "code").unwrap();
    let (s, body) = exchange(
        &app,
        &client_id,
        secret.as_deref(),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", "https://app.example.com/other"), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = spawn().await;
    let (client_id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let start = auth_url(&app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let code = param(&login_and_consent(&app, &mut browser, &start, "frank", false).await, "code").unwrap();
    let (_, t0) = exchange(
        &app,
        &client_id,
        Some(&secret),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    let r0 = t0["refresh_token"].as_str().unwrap().to_owned();

    let (s, t1) =
        exchange(&app, &client_id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", &r0), ("scope", "openid offline_access")])
            .await;
    assert_eq!(s, StatusCode::OK, "{t1}");
    assert_eq!(t1["scope"], "openid offline_access", "narrowed");
    let r1 = t1["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r0, r1);
    assert_eq!(claims(t1["id_token"].as_str().unwrap())["sub"], "frank");
    let (s, body) =
        exchange(&app, &client_id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", &r1), ("scope", "profile email")]).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
    // Neither a refused scope nor another client's attempt spends the owner's token.
    let (other, other_secret) = web_client(&app, true).await;
    let (s, body) = exchange(&app, &other, other_secret.as_deref(), &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (s, t2) = exchange(&app, &client_id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    let r2 = t2["refresh_token"].as_str().unwrap().to_owned();

    // Replaying r0: the family dies, r1 included, and the access tokens issued with it.
    let (s, body) = exchange(&app, &client_id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", &r0)]).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (s, _) = exchange(&app, &client_id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", &r2)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the newest token of the family died too");
    assert_eq!(introspect(&app, t1["access_token"].as_str().unwrap()).await["active"], false);
    assert_eq!(introspect(&app, t2["access_token"].as_str().unwrap()).await["active"], false);
}

#[tokio::test]
async fn rejection_prompt_none_and_remembered_sessions() {
    let app = spawn().await;
    let (client_id, _) = web_client(&app, true).await;
    let (_, challenge) = pkce();
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let mut browser = Browser::new();

    // prompt=none without a session: login_required, redirected.
    let (_, loc, _) = browser.get(&auth_url(&app, &client_id, &[pk[0], pk[1], ("prompt", "none")])).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"));
    assert_eq!(param(&loc, "iss").as_deref(), Some(app.public.as_str()));

    // The login app rejects: access_denied at the client.
    let (_, to_login, _) = browser.get(&auth_url(&app, &client_id, &pk)).await;
    let c = param(&to_login, "login_challenge").unwrap();
    let (s, r) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/login/reject?login_challenge={c}"),
            Some(json!({"error": "access_denied", "error_description": "wrong password"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // As in Hydra, the app is sent back to the authorization endpoint, which answers the
    // client (in the request's response mode), and only in the browser of the flow.
    let back = r["redirect_to"].as_str().unwrap();
    assert!(back.starts_with(&format!("{}/oauth2/auth?", app.public)) && param(back, "login_verifier").is_some(), "{back}");
    let (s, _, page) = Browser::new().get(back).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{page}");
    let (s, to, _) = browser.get(back).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(to.starts_with(REDIRECT));
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&to, "error_description").as_deref(), Some("wrong password"));
    assert_eq!(param(&to, "state").as_deref(), Some("state-1234567890"));
    let (s, _, _) = browser.get(back).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the verifier works once");
    // A handled challenge cannot be handled again.
    let (s, _) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={c}"), Some(json!({"subject": "x"}))).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Remember login and consent: the next flow skips both, and prompt=none works.
    login_and_consent(&app, &mut browser, &auth_url(&app, &client_id, &pk), "grace", true).await;
    assert!(browser.cookie("clavis_session_default").is_some(), "a session cookie was set");
    let (_, to_login, _) = browser.get(&auth_url(&app, &client_id, &pk)).await;
    let c = param(&to_login, "login_challenge").unwrap();
    let (_, login) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={c}"), None).await;
    assert_eq!((login["skip"].as_bool(), login["subject"].as_str()), (Some(true), Some("grace")));
    let (s, _) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={c}"), Some(json!({"subject": "mallory"}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a skipped login cannot change the subject");
    let (_, loc, _) = browser.get(&auth_url(&app, &client_id, &[pk[0], pk[1], ("prompt", "none")])).await;
    assert!(loc.starts_with(LOGIN_URL), "prompt=none with a session goes on: {loc}");
    // prompt=login forces a fresh login.
    let (_, to_login, _) = browser.get(&auth_url(&app, &client_id, &[pk[0], pk[1], ("prompt", "login")])).await;
    let c = param(&to_login, "login_challenge").unwrap();
    let (_, login) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={c}"), None).await;
    assert_eq!(login["skip"], false);
    // max_age: a session within it is reused; max_age=0 is a fresh login even for a session
    // from this very second (OIDC Core §3.1.2.1).
    for (max_age, skip) in [("3600", true), ("0", false)] {
        let (_, to_login, _) = browser.get(&auth_url(&app, &client_id, &[pk[0], pk[1], ("max_age", max_age)])).await;
        let c = param(&to_login, "login_challenge").unwrap();
        let (_, login) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={c}"), None).await;
        assert_eq!(login["skip"], skip, "max_age={max_age}");
    }
    let (_, loc, _) = browser.get(&auth_url(&app, &client_id, &[pk[0], pk[1], ("prompt", "none"), ("max_age", "0")])).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"), "prompt=none cannot satisfy max_age=0: {loc}");
}

#[tokio::test]
async fn challenges_are_tenant_scoped_and_single_use() {
    let app = spawn().await;
    let (client_id, _) = web_client(&app, true).await;
    let (_, challenge) = pkce();
    let mut browser = Browser::new();
    let (_, to_login, _) = browser.get(&auth_url(&app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")])).await;
    let c = param(&to_login, "login_challenge").unwrap();
    let other = app.tenant_admin("other").await;
    let (s, body) = app.call(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={c}"), &other, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert!(body["error"].is_string(), "Hydra error body");
    for path in ["login?login_challenge=nope", "consent?consent_challenge=nope", "login"] {
        let (s, _) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/{path}"), None).await;
        assert!(s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST, "{path}: {s}");
    }
    let (s, _) = app.call(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={c}"), "", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A verifier works once.
    let (_, accepted) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={c}"), Some(json!({"subject": "ivy"}))).await;
    let back = accepted["redirect_to"].as_str().unwrap();
    let (s, _, _) = browser.get(back).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, body) = browser.get(back).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn revocation_is_for_the_owning_client_only() {
    let app = spawn().await;
    let (id_a, secret_a) = app.machine_client().await;
    let (id_b, secret_b) = app.machine_client().await;
    let token = app.token_ok("", &id_a, &secret_a, None).await["access_token"].as_str().unwrap().to_owned();
    let revoke = |id: &str, secret: &str| {
        app.http.post(format!("{}/oauth2/revoke", app.public)).basic_auth(id, Some(secret)).form(&[("token", token.as_str())]).send()
    };
    let resp = revoke(&id_b, &secret_b).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    assert_eq!(introspect(&app, &token).await["active"], true);
    let resp = revoke(&id_a, "wrong").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = revoke(&id_a, &secret_a).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(introspect(&app, &token).await["active"], false);
    // Unknown tokens are fine (RFC 7009 §2.2).
    let resp =
        app.http.post(format!("{}/oauth2/revoke", app.public)).basic_auth(&id_a, Some(&secret_a)).form(&[("token", "garbage")]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn introspection_needs_a_caller_of_the_same_tenant() {
    let app = spawn().await;
    let (id, secret) = app.machine_client().await;
    let token = app.token_ok("", &id, &secret, None).await["access_token"].as_str().unwrap().to_owned();
    let url = format!("{}/oauth2/introspect", app.public);
    let resp = app.http.post(&url).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A client of the tenant may introspect.
    let resp = app.http.post(&url).basic_auth(&id, Some(&secret)).form(&[("token", token.as_str())]).send().await.unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!((v["active"].as_bool(), v["client_id"].as_str(), v["scope"].as_str()), (Some(true), Some(id.as_str()), Some("read write")));
    // Another tenant's admin: refused; the token at another tenant's endpoint: inactive.
    let other = app.tenant_admin("other").await;
    let resp = app.http.post(&url).bearer_auth(&other).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app
        .http
        .post(format!("{}/t/other/oauth2/introspect", app.public))
        .bearer_auth(&other)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({"active": false}));
    let resp = app.http.post(&url).bearer_auth(&app.admin_token).form(&[("token", "")]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "token is required");
    for junk in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let v = introspect(&app, junk).await;
        assert_eq!(v, json!({"active": false}), "{junk:?}");
    }
    // A deleted client's tokens are inactive.
    app.admin(Method::DELETE, &format!("/admin/oauth/clients/{id}"), None).await;
    assert_eq!(introspect(&app, &token).await["active"], false);
}

/// An `openid`-only client with a post-logout URI, and a user signed in to it with a
/// remembered session: returns the ID token.
async fn openid_sign_in(app: &TestApp, browser: &mut Browser, client_id: &str, secret: &str, subject: &str) -> String {
    let (verifier, challenge) = pkce();
    let start = auth_url(app, client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")])
        .replace("openid+offline_access+profile", "openid");
    let back = login_and_consent(app, browser, &start, subject, true).await;
    let code = param(&back, "code").expect(&back);
    let (s, tokens) = exchange(
        app,
        client_id,
        Some(secret),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    tokens["id_token"].as_str().unwrap().to_owned()
}

/// A prompt=none request: answered with `login_required` once the session is gone.
fn silent_auth_url(app: &TestApp, client_id: &str) -> String {
    let (_, challenge) = pkce();
    auth_url(app, client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256"), ("prompt", "none")])
        .replace("openid+offline_access+profile", "openid")
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session() {
    let app = spawn().await;
    let c = app
        .create_client(json!({
            "name": "web", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"],
            "scopes": ["openid"], "post_logout_redirect_uris": ["https://app.example.com/bye"],
        }))
        .await;
    let (client_id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let mut browser = Browser::new();
    let id_token = openid_sign_in(&app, &mut browser, client_id, secret, "henry").await;
    let none = silent_auth_url(&app, client_id);
    let (_, loc, _) = browser.get(&none).await;
    assert!(loc.starts_with(LOGIN_URL), "logged in before: {loc}");

    let logout = |extra: &str| format!("{}/oauth2/sessions/logout?id_token_hint={id_token}{extra}", app.public);
    let (s, _, body) = browser.get(&logout("&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "unregistered URI: {body}");
    let (s, _, _) = browser.get(&format!("{}/oauth2/sessions/logout?id_token_hint=not.a.jwt", app.public)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, loc, _) = browser.get(&logout("&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=s1")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(loc, "https://app.example.com/bye?state=s1");
    let (_, loc, _) = browser.get(&none).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"), "the session is over: {loc}");
}

#[tokio::test]
async fn a_tenant_can_have_its_own_login_and_consent_app() {
    let app = spawn().await;
    let acme = app.tenant_admin("acme").await;
    let (s, v) = app.call(Method::GET, "/admin/oauth/tenant", &acme, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((v["data"]["tenant_id"].as_str(), v["data"]["login_url"].as_str()), (Some("acme"), None));
    assert_eq!(v["data"]["effective"]["login_url"], LOGIN_URL, "the server's applies");
    let (s, v) = app
        .call(
            Method::PUT,
            "/admin/oauth/tenant",
            &acme,
            Some(json!({"login_url": "https://acme.example/login", "consent_url": "https://acme.example/consent"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["effective"]["login_url"], "https://acme.example/login");
    for bad in [json!({"login_url": "not a url"}), json!({"login_url": "ftp://acme.example/"}), json!({"nope": 1})] {
        let (s, _) = app.call(Method::PUT, "/admin/oauth/tenant", &acme, Some(bad.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
    // acme's flows go to acme's app; the default tenant's still to the server's.
    let c = app
        .call(
            Method::POST,
            "/admin/oauth/clients",
            &acme,
            Some(json!({
        "name": "acme web", "redirect_uris": [REDIRECT], "scopes": ["openid"]})),
        )
        .await
        .1;
    let acme_client = c["data"]["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let mut browser = Browser::new();
    let url = auth_url(&app, acme_client, &[("code_challenge", &challenge), ("code_challenge_method", "S256")])
        .replace("/oauth2/auth", "/t/acme/oauth2/auth")
        .replace("openid+offline_access+profile", "openid");
    let (_, loc, _) = browser.get(&url).await;
    assert!(loc.starts_with("https://acme.example/login?login_challenge="), "{loc}");
    let (default_client, _) = web_client(&app, true).await;
    let (_, loc, _) = browser.get(&auth_url(&app, &default_client, &[("code_challenge", &challenge), ("code_challenge_method", "S256")])).await;
    assert!(loc.starts_with(LOGIN_URL), "{loc}");
    // Clearing the override falls back to the server's.
    let (_, v) = app.call(Method::PUT, "/admin/oauth/tenant", &acme, Some(json!({"login_url": ""}))).await;
    assert_eq!(v["data"]["login_url"], Value::Null);
    assert_eq!(v["data"]["effective"]["login_url"], LOGIN_URL);
}

/// Pushes `form` to `/oauth2/par`, authenticated with Basic when `secret` is given.
async fn push(app: &TestApp, client_id: &str, secret: Option<&str>, form: &[(&str, &str)]) -> (StatusCode, Value) {
    post_as_client(format!("{}/oauth2/par", app.public), app, client_id, secret, form).await
}

fn par_start(app: &TestApp, client_id: &str, request_uri: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    url.query_pairs_mut().append_pair("client_id", client_id).append_pair("request_uri", request_uri);
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// RFC 9126: a client pushes its authorization request and sends the browser with only
/// `client_id` and the `request_uri`; the pushed parameters are the request (others in the
/// URL are ignored), the request_uri works once, for that client only.
#[tokio::test]
async fn pushed_authorization_requests_drive_the_flow() {
    let app = spawn().await;
    let (id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let request = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid offline_access"),
        ("state", "pushed-state-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let (s, pushed) = push(&app, &id, Some(&secret), &request).await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"), "{pushed}");
    assert_eq!(pushed["expires_in"], 90);

    let mut browser = Browser::new();
    let start = par_start(&app, &id, &request_uri, &[("scope", "openid profile"), ("state", "from-the-url")]);
    let to_client = login_and_consent(&app, &mut browser, &start, "alice", false).await;
    assert!(to_client.starts_with(REDIRECT), "{to_client}");
    assert_eq!(param(&to_client, "state").as_deref(), Some("pushed-state-1"), "the pushed state, not the URL's");
    let code = param(&to_client, "code").unwrap();
    let (s, tokens) = exchange(
        &app,
        &id,
        Some(&secret),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["scope"], "openid offline_access", "the pushed scope, not the URL's");

    // Once only (a page: the URL has no redirect_uri of its own and the client has two).
    let (s, _, body) = Browser::new().get(&start).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request_uri");

    // For the client that pushed it only.
    let (other, _) = web_client(&app, true).await;
    let (_, pushed) = push(&app, &id, Some(&secret), &request).await;
    let (s, _, body) = Browser::new().get(&par_start(&app, &other, pushed["request_uri"].as_str().unwrap(), &[])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, _, body) = Browser::new().get(&par_start(&app, &id, "urn:ietf:params:oauth:request_uri:made-up", &[])).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");

    // Checked when pushed, answered in JSON.
    for (form, want, error) in [
        (vec![("response_type", "code"), ("redirect_uri", "https://evil.example/cb"), ("state", "s")], StatusCode::BAD_REQUEST, "invalid_request"),
        (vec![("response_type", "code"), ("redirect_uri", REDIRECT), ("state", "s"), ("scope", "admin")], StatusCode::BAD_REQUEST, "invalid_scope"),
        (vec![("response_type", "token"), ("redirect_uri", REDIRECT), ("state", "s")], StatusCode::BAD_REQUEST, "unsupported_response_type"),
        (
            vec![("response_type", "code"), ("redirect_uri", REDIRECT), ("state", "s"), ("request_uri", &request_uri)],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            vec![("response_type", "code"), ("redirect_uri", REDIRECT), ("state", "s"), ("client_id", "someone-else")],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let (s, body) = push(&app, &id, Some(&secret), &form).await;
        assert_eq!((s, body["error"].as_str().unwrap()), (want, error), "{form:?}: {body}");
    }
    let (s, body) = push(&app, &id, Some("wrong-secret"), &request).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    // A public client pushes with its client_id alone (and PKCE).
    let (public, _) = web_client(&app, false).await;
    let (s, body) = push(&app, &public, None, &request).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");

    let (s, _, metadata) = Browser::new().get(&format!("{}/.well-known/openid-configuration", app.public)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(metadata["pushed_authorization_request_endpoint"], format!("{}/oauth2/par", app.public));
}

/// A `fapi2` client must push its authorization requests.
#[tokio::test]
async fn fapi2_clients_must_use_par() {
    let app = spawn().await;
    let jwks = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
    let c = app
        .create_client(json!({"name": "bank", "redirect_uris": [REDIRECT], "fapi_profile": "fapi2",
                              "client_auth_methods": ["private_key_jwt"], "jwks": jwks}))
        .await;
    let id = c["client_id"].as_str().unwrap();
    let (_, challenge) = pkce();
    let start = auth_url(&app, id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let (s, _, body) = Browser::new().get(&start).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("PAR"), "{body}");
}

/// With a logout app, RP-initiated logout is Hydra's round trip: the app gets a
/// `logout_challenge`, reads the request, and accepts (the browser comes back with a
/// single-use verifier, the session ends, the client's post-logout URI follows) or
/// rejects (the session stays). A client with `skip_logout_consent` skips the app.
#[tokio::test]
async fn logout_requests_go_through_the_logout_app() {
    const LOGOUT_URL: &str = "https://login.example/logout";
    let app = TestApp::spawn_with(|a| {
        a.login_url = Some(LOGIN_URL.into());
        a.consent_url = Some(CONSENT_URL.into());
        a.logout_url = Some(LOGOUT_URL.into());
    })
    .await;
    let c = app
        .create_client(json!({"name": "web", "redirect_uris": [REDIRECT], "scopes": ["openid"],
                              "post_logout_redirect_uris": ["https://app.example.com/bye"]}))
        .await;
    let (client_id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let mut browser = Browser::new();
    let id_token = openid_sign_in(&app, &mut browser, client_id, secret, "ida").await;
    let none = silent_auth_url(&app, client_id);
    let logout = format!(
        "{}/oauth2/sessions/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=s2",
        app.public
    );
    let logout_challenge = |loc: &str| {
        assert!(loc.starts_with(LOGOUT_URL), "{loc}");
        param(loc, "logout_challenge").unwrap()
    };

    // Rejected: still logged in.
    let (s, loc, _) = browser.get(&logout).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let ch = logout_challenge(&loc);
    let (s, request) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/logout?logout_challenge={ch}"), None).await;
    assert_eq!(s, StatusCode::OK, "{request}");
    assert_eq!((request["subject"].as_str(), request["rp_initiated"].as_bool()), (Some("ida"), Some(true)));
    assert_eq!(request["client"]["client_id"], client_id);
    assert!(!request["sid"].as_str().unwrap().is_empty());
    let resp = app
        .http
        .put(format!("{}/admin/oauth2/auth/requests/logout/reject?logout_challenge={ch}", app.admin))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (s, again) = app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/logout/accept?logout_challenge={ch}"), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "handled once: {again}");
    let (_, loc, _) = browser.get(&none).await;
    assert!(param(&loc, "code").is_none() && loc.starts_with(LOGIN_URL), "still logged in: {loc}");

    // Accepted: the session ends, then the client's URI with its state.
    let (_, loc, _) = browser.get(&logout).await;
    let ch = logout_challenge(&loc);
    let (s, accepted) = app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/logout/accept?logout_challenge={ch}"), None).await;
    assert_eq!(s, StatusCode::OK, "{accepted}");
    let finish = accepted["redirect_to"].as_str().unwrap().to_owned();
    assert!(finish.starts_with(&format!("{}/oauth2/sessions/logout?logout_verifier=", app.public)), "{finish}");
    let (_, loc, _) = browser.get(&none).await;
    assert!(loc.starts_with(LOGIN_URL), "not over before the browser comes back: {loc}");
    let (s, loc, _) = browser.get(&finish).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(loc, "https://app.example.com/bye?state=s2");
    let (_, loc, _) = browser.get(&none).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"), "the session is over: {loc}");
    let (s, _, body) = browser.get(&finish).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the verifier works once: {body}");
    let (s, _) = app.admin(Method::GET, "/admin/oauth2/auth/requests/logout?logout_challenge=unknown", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // skip_logout_consent: straight out, no app.
    let (s, patched) = app
        .admin(Method::PATCH, &format!("/admin/clients/{client_id}"), Some(json!([{"op": "replace", "path": "/skip_logout_consent", "value": true}])))
        .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    let id_token = openid_sign_in(&app, &mut browser, client_id, secret, "ida").await;
    let (s, loc, _) = browser
        .get(&format!("{}/oauth2/sessions/logout?id_token_hint={id_token}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye", app.public))
        .await;
    assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, "https://app.example.com/bye"));
    let (_, loc, _) = browser.get(&none).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"), "the session is over: {loc}");
}

/// Hydra's `DELETE /admin/oauth2/auth/sessions/login?subject=`: signed out everywhere.
#[tokio::test]
async fn revoking_login_sessions_needs_a_new_login() {
    let app = spawn().await;
    let c = app.create_client(json!({"name": "web", "redirect_uris": [REDIRECT], "scopes": ["openid"]})).await;
    let (client_id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let mut browser = Browser::new();
    openid_sign_in(&app, &mut browser, client_id, secret, "jane").await;
    let none = silent_auth_url(&app, client_id);
    let (_, loc, _) = browser.get(&none).await;
    assert!(loc.starts_with(LOGIN_URL), "logged in: {loc}");
    let (s, body) = app.admin(Method::DELETE, "/admin/oauth2/auth/sessions/login", None).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    let resp =
        app.http.delete(format!("{}/admin/oauth2/auth/sessions/login?subject=jane", app.admin)).bearer_auth(&app.admin_token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let (_, loc, _) = browser.get(&none).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"), "{loc}");
}

/// Hydra's `DELETE /admin/oauth2/auth/sessions/consent?subject=&client=`: the remembered
/// consent is forgotten, and the refresh token (with the access token issued alongside)
/// stops working.
#[tokio::test]
async fn revoking_consent_sessions_revokes_the_grant() {
    let app = spawn().await;
    let (id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let back = login_and_consent(&app, &mut browser, &auth_url(&app, &id, &pk), "kim", true).await;
    let (s, tokens) = exchange(
        &app,
        &id,
        Some(&secret),
        &[("grant_type", "authorization_code"), ("code", &param(&back, "code").unwrap()), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let (access, refresh) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
    assert_eq!(introspect(&app, access).await["active"], true);

    // A NUL character reached PostgreSQL and failed the query (a 500, found by schemathesis).
    for bad in ["", "?subject=kim", &format!("?subject=kim&client={id}&all=true"), "?subject=kim&client=X%00D", "?subject=%00&all=true"] {
        let (s, body) = app.admin(Method::DELETE, &format!("/admin/oauth2/auth/sessions/consent{bad}"), None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let resp = app
        .http
        .delete(format!("{}/admin/oauth2/auth/sessions/consent?subject=kim&client={id}", app.admin))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(introspect(&app, access).await["active"], false, "the access token issued with the refresh token");
    let (s, body) = exchange(&app, &id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{body}");
    // The consent is asked for again (the login session itself stays).
    let (_, to_login, _) = browser.get(&auth_url(&app, &id, &pk)).await;
    let login = param(&to_login, "login_challenge").unwrap();
    let (_, accepted) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={login}"), Some(json!({"subject": "kim"}))).await;
    let (_, to_consent, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    let consent = param(&to_consent, "consent_challenge").unwrap();
    let (_, request) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/consent?consent_challenge={consent}"), None).await;
    assert_eq!(request["skip"], false, "{request}");
}

/// NUL characters in OAuth parameters are refused before they reach the database.
#[tokio::test]
async fn nul_characters_in_parameters_are_400() {
    let app = spawn().await;
    let (s, _, body) = Browser::new().get(&format!("{}/oauth2/sessions/logout?client_id=a%00b", app.public)).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    let (s, _, body) = Browser::new().get(&format!("{}/oauth2/auth?client_id=a%00b&response_type=code", app.public)).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    for url in [app.token_url(""), format!("{}/oauth2/par", app.public), format!("{}/oauth2/introspect", app.public)] {
        let resp = app.http.post(&url).form(&[("grant_type", "client_credentials"), ("client_id", "a\0b"), ("token", "t")]).send().await.unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{url}: {body}");
    }
    let (s, body) = app.admin(Method::DELETE, "/admin/oauth2/auth/sessions/login?subject=a%00b", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (s, body) = app.admin(Method::GET, "/admin/clients?client_name=a%00b", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
}

/// Login CSRF: an attacker starts a flow, logs in as themself and hands the victim the
/// login (or consent) verifier. Redeemed in a browser that did not start the flow, it is
/// refused: the victim's browser never gets the attacker's session or code.
#[tokio::test]
async fn verifiers_work_only_in_the_browser_that_started_the_flow() {
    let app = spawn().await;
    let (client_id, _) = web_client(&app, true).await;
    let (_, challenge) = pkce();
    let start = auth_url(&app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let mut attacker = Browser::new();
    let (s, to_login, _) = attacker.get(&start).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let binding: Vec<&String> = attacker.last_set.iter().filter(|c| c.starts_with("clavis_csrf_")).collect();
    assert_eq!(binding.len(), 1, "{:?}", attacker.last_set);
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/oauth2/auth", "Max-Age="] {
        assert!(binding[0].contains(attr), "{attr} in {}", binding[0]);
    }
    let c = param(&to_login, "login_challenge").unwrap();
    let (_, accepted) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={c}"),
            Some(json!({"subject": "mallory", "remember": true, "remember_for": 3600})),
        )
        .await;
    let login_return = accepted["redirect_to"].as_str().unwrap().to_owned();

    let mut victim = Browser::new();
    let (s, _, body) = victim.get(&login_return).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("another browser"), "{body}");
    assert!(victim.cookie("clavis_session_default").is_none(), "no session for the victim");
    // The refusal spent nothing: the attacker's own browser still goes on.
    let (s, to_consent, body) = attacker.get(&login_return).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let c = param(&to_consent, "consent_challenge").unwrap();
    let (_, accepted) = app
        .admin(Method::PUT, &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={c}"), Some(json!({"grant_scope": ["openid"]})))
        .await;
    let consent_return = accepted["redirect_to"].as_str().unwrap().to_owned();
    let (s, _, _) = victim.get(&consent_return).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "the consent verifier too");
    let (s, to_client, _) = attacker.get(&consent_return).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(param(&to_client, "code").is_some(), "{to_client}");
    assert!(attacker.last_set.iter().any(|c| c.starts_with("clavis_csrf_") && c.contains("Max-Age=0")), "the finished flow's cookie is cleared");
    assert!(!attacker.cookie_names().iter().any(|n| n.starts_with("clavis_csrf_")));
}

/// The `logout_verifier` the confirmation page's form sends.
fn logout_verifier(page: &str) -> String {
    page.split("name=\"logout_verifier\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
}

/// Logout CSRF: a bare GET (an `<img>` on any page) does not end the session; without a
/// valid hint the user is asked, and only the asking browser's answer counts.
#[tokio::test]
async fn logout_without_a_hint_asks_the_user_first() {
    let app = spawn().await;
    let c = app
        .create_client(json!({"name": "web", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "scopes": ["openid"],
                              "post_logout_redirect_uris": ["https://app.example.com/bye"]}))
        .await;
    let (client_id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    // skip_logout_consent must not let a bare client_id skip the question.
    let (s, _) = app
        .admin(Method::PATCH, &format!("/admin/clients/{client_id}"), Some(json!([{"op": "replace", "path": "/skip_logout_consent", "value": true}])))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut browser = Browser::new();
    openid_sign_in(&app, &mut browser, client_id, secret, "ivy").await;
    let none = silent_auth_url(&app, client_id);
    let logout = format!("{}/oauth2/sessions/logout", app.public);
    for url in [logout.clone(), format!("{logout}?client_id={client_id}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye")] {
        let (s, loc, page) = browser.get(&url).await;
        assert_eq!((s, loc.as_str()), (StatusCode::OK, ""), "{url}: a page, no redirect");
        let page = page.as_str().unwrap().to_owned();
        assert!(page.contains("Sign out?") && page.contains("name=\"logout_verifier\""), "{page}");
        let (_, loc, _) = browser.get(&none).await;
        assert!(loc.starts_with(LOGIN_URL), "still signed in after {url}: {loc}");
    }
    let (_, _, page) =
        browser.get(&format!("{logout}?client_id={client_id}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=s9")).await;
    let page = page.as_str().unwrap();
    let verifier = logout_verifier(page);
    // Another browser posting the form is refused (and learns nothing).
    let (s, _, body) = Browser::new().post(&logout, &[("logout_verifier", &verifier)]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    let (_, loc, _) = browser.get(&none).await;
    assert!(loc.starts_with(LOGIN_URL), "still signed in: {loc}");
    // The user's own click.
    let (_, _, page) =
        browser.get(&format!("{logout}?client_id={client_id}&post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fbye&state=s9")).await;
    let verifier = logout_verifier(page.as_str().unwrap());
    let (s, loc, _) = browser.post(&logout, &[("logout_verifier", &verifier)]).await;
    assert_eq!((s, loc.as_str()), (StatusCode::SEE_OTHER, "https://app.example.com/bye?state=s9"));
    let (_, loc, _) = browser.get(&none).await;
    assert_eq!(param(&loc, "error").as_deref(), Some("login_required"), "signed out: {loc}");
    // With nothing to end, a bare logout asks nothing.
    let (s, _, body) = Browser::new().get(&logout).await;
    assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("logged_out")));
}

/// Hydra's audience rules: a client asks only for audiences registered for it (at the
/// authorization endpoint, PAR and the token endpoint), and consent grants only what was
/// asked for.
#[tokio::test]
async fn audiences_must_be_registered_and_requested() {
    let app = spawn().await;
    let (client_id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let (s, _) = app
        .admin(
            Method::PATCH,
            &format!("/admin/clients/{client_id}"),
            Some(json!([{"op": "replace", "path": "/audience", "value": ["https://api.example.com"]},
                                       {"op": "add", "path": "/grant_types/-", "value": "client_credentials"}])),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, challenge) = pkce();
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let mut browser = Browser::new();
    let (s, loc, _) = browser.get(&auth_url(&app, &client_id, &[pk[0], pk[1], ("audience", "https://evil.example.com")])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(loc.starts_with(REDIRECT) && param(&loc, "error").as_deref() == Some("invalid_request"), "{loc}");
    let (s, body) = push(
        &app,
        &client_id,
        Some(&secret),
        &[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("state", "s-1234567890"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("audience", "https://evil.example.com"),
        ],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    let (s, body) =
        exchange(&app, &client_id, Some(&secret), &[("grant_type", "client_credentials"), ("audience", "https://evil.example.com")]).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    let (s, body) = exchange(&app, &client_id, Some(&secret), &[("grant_type", "client_credentials"), ("audience", "https://api.example.com")]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["aud"], json!(["https://api.example.com"]));

    // Consent may grant only requested audiences.
    let (s, to_login, _) = browser.get(&auth_url(&app, &client_id, &[pk[0], pk[1]])).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let c = param(&to_login, "login_challenge").unwrap();
    let (_, accepted) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={c}"), Some(json!({"subject": "kim"}))).await;
    let (_, to_consent, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    let c = param(&to_consent, "consent_challenge").unwrap();
    let (s, body) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={c}"),
            Some(json!({"grant_scope": ["openid"], "grant_access_token_audience": ["https://api.example.com"]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "not requested: {body}");
    assert!(body.to_string().contains("grant_access_token_audience"), "{body}");
}

/// A refresh issues no more than the client's current registration allows, and a family
/// ends at its absolute lifetime however often it rotates.
#[tokio::test]
async fn refresh_follows_the_registration_and_ages_out() {
    let app = TestApp::spawn_with(|a| {
        a.login_url = Some(LOGIN_URL.into());
        a.consent_url = Some(CONSENT_URL.into());
        a.refresh_family_ttl = Some("1h".into());
    })
    .await;
    let (client_id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let start = auth_url(&app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let code = param(&login_and_consent(&app, &mut browser, &start, "lee", false).await, "code").unwrap();
    let (_, t0) = exchange(
        &app,
        &client_id,
        Some(&secret),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    let r0 = t0["refresh_token"].as_str().unwrap();
    let started = clavis_core::time::now_unix();
    let exp0 = introspect(&app, r0).await["exp"].as_i64().unwrap();
    assert!(exp0 <= started + 3600 + 5, "capped by the family lifetime, not the 30-day token lifetime: {exp0}");

    // The admin removes `profile`: the next refresh does not issue it.
    let (s, _) = app.admin(Method::PUT, &format!("/admin/oauth/clients/{client_id}"), Some(json!({"scopes": ["openid", "offline_access"]}))).await;
    assert_eq!(s, StatusCode::OK);
    let (s, t1) = exchange(&app, &client_id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", r0)]).await;
    assert_eq!(s, StatusCode::OK, "{t1}");
    assert_eq!(t1["scope"], "openid offline_access");
    assert_eq!(claims(t1["access_token"].as_str().unwrap())["scope"], "openid offline_access");
    let (s, body) = exchange(
        &app,
        &client_id,
        Some(&secret),
        &[("grant_type", "refresh_token"), ("refresh_token", t1["refresh_token"].as_str().unwrap()), ("scope", "profile")],
    )
    .await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
    // Rotation does not extend the family.
    let exp1 = introspect(&app, t1["refresh_token"].as_str().unwrap()).await["exp"].as_i64().unwrap();
    assert!(exp1 <= exp0, "rotation keeps the family's end: {exp1} > {exp0}");
}

/// RFC 8252 §7.3: a native app registers `http://127.0.0.1/cb` and sends whatever port it
/// listens on; the code goes to that port, and the token request repeats that exact URI.
#[tokio::test]
async fn loopback_redirect_uris_match_with_any_port() {
    let app = spawn().await;
    let c = app
        .create_client(json!({
            "name": "native", "redirect_uris": ["http://127.0.0.1/cb"], "grant_types": ["authorization_code"],
            "is_confidential": false, "scopes": ["openid"],
        }))
        .await;
    let client_id = c["client_id"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let start = |redirect: &str| {
        let mut url = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "openid")
            .append_pair("state", "state-1234567890")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        url.to_string()
    };
    let (s, _, body) = Browser::new().get(&start("http://127.0.0.1:51004/other")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "another path is not the registered URI: {body}");
    let (s, _, body) = Browser::new().get(&start("http://[::1]:51004/cb")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "another loopback address is not either: {body}");

    let redirect = "http://127.0.0.1:51004/cb";
    let to_client = login_and_consent(&app, &mut Browser::new(), &start(redirect), "alice", false).await;
    assert!(to_client.starts_with(&format!("{redirect}?")), "{to_client}");
    let code = param(&to_client, "code").unwrap();
    let exchange = |redirect: &'static str, code: String| {
        let (app, verifier) = (&app, verifier.clone());
        async move {
            let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", redirect), ("code_verifier", &verifier)];
            post_as_client(app.token_url(""), app, client_id, None, &form).await
        }
    };
    let (s, body) = exchange("http://127.0.0.1:51005/cb", code.clone()).await;
    assert_eq!((s, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "the token request names the port used: {body}");
    let to_client = login_and_consent(&app, &mut Browser::new(), &start(redirect), "alice", false).await;
    let (s, body) = exchange(redirect, param(&to_client, "code").unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

/// Hydra's login and consent requests (issue 11, defect 5): a new login already has its
/// session id, the consent request names the login challenge, and `client` is the client
/// as `GET /admin/clients/{id}` shows it.
#[tokio::test]
async fn login_and_consent_requests_carry_what_hydra_shows() {
    let app = spawn().await;
    let body = json!({"client_name": "rich", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"], "scope": "openid profile",
                      "owner": "team-a", "contacts": ["ops@example.com"], "audience": ["https://api.example.com"],
                      "metadata": {"tier": "gold"}, "post_logout_redirect_uris": ["https://app.example.com/bye"],
                      "allowed_cors_origins": ["https://app.example.com"], "skip_consent": false, "logo_uri": "https://app.example.com/logo.png",
                      "tos_uri": "https://app.example.com/tos", "policy_uri": "https://app.example.com/privacy", "client_uri": "https://app.example.com/"});
    let (s, created) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["client_id"].as_str().unwrap();
    let (_, shown) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;

    let mut browser = Browser::new();
    let mut start = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    start.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "s-123456789"),
    ]);
    let (_, to_login, _) = browser.get(start.as_str()).await;
    let login_challenge = param(&to_login, "login_challenge").unwrap();
    let (s, login) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={login_challenge}"), None).await;
    assert_eq!(s, StatusCode::OK);
    let session_id = login["session_id"].as_str().unwrap().to_owned();
    assert!(!session_id.is_empty(), "a new login has its session id already: {login}");
    assert_eq!(login["client"], shown, "the client as the admin API shows it");
    assert!(login["client"].get("client_secret").is_none());

    let accept = json!({"subject": "alice"});
    let (_, accepted) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={login_challenge}"), Some(accept)).await;
    let (_, to_consent, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    let consent_challenge = param(&to_consent, "consent_challenge").unwrap();
    let (s, consent) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/consent?consent_challenge={consent_challenge}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(consent["login_challenge"], login_challenge.as_str());
    assert_eq!(consent["login_session_id"], session_id.as_str(), "the session id shown before the login is the session's");
    assert_eq!(consent["client"], shown);
    let accept = json!({"grant_scope": ["openid", "profile"]});
    let (_, accepted) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={consent_challenge}"), Some(accept)).await;
    let (_, back, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    let code = param(&back, "code").unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let (s, tokens) = exchange(&app, id, Some(secret), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)]).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["sid"], session_id.as_str(), "the ID token's sid is that session");
}

/// OpenID Connect Core §5.5: the `claims` parameter reaches the login and consent apps;
/// a malformed one, and a response mode Clavis does not serve, go back as errors.
#[tokio::test]
async fn the_claims_parameter_reaches_the_apps_and_odd_modes_are_refused() {
    let app = spawn().await;
    let (id, _) = web_client(&app, true).await;
    let claims = json!({"userinfo": {"email": {"essential": true}, "name": null}, "id_token": {"acr": {"values": ["urn:loa:2"]}}});
    let mut browser = Browser::new();
    let (_, to_login, _) = browser.get(&auth_url(&app, &id, &[("claims", &claims.to_string())])).await;
    let challenge = param(&to_login, "login_challenge").expect("to the login app");
    let (_, login) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={challenge}"), None).await;
    assert_eq!(login["oidc_context"]["claims"], claims);
    let (_, accepted) = app
        .admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={challenge}"), Some(json!({"subject": "alice"})))
        .await;
    let (_, to_consent, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    let challenge = param(&to_consent, "consent_challenge").unwrap();
    let (_, consent) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/consent?consent_challenge={challenge}"), None).await;
    assert_eq!(consent["oidc_context"]["claims"], claims);
    // Without the parameter, the context has no such field (as Hydra's).
    let (_, to_login, _) = Browser::new().get(&auth_url(&app, &id, &[])).await;
    let challenge = param(&to_login, "login_challenge").unwrap();
    let (_, login) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={challenge}"), None).await;
    assert!(login["oidc_context"].get("claims").is_none(), "{login}");

    for (extra, what) in [
        (("claims", "not json"), "claims"),
        (("claims", "[1]"), "claims"),
        (("claims", r#"{"userinfo": {"email": 1}}"#), "requested claim"),
        (("claims", r#"{"id_token": []}"#), "claims.userinfo"),
        (("response_mode", "jwt.form_post"), "response_mode"),
        (("response_mode", "web_message"), "response_mode"),
    ] {
        let (s, to, _) = Browser::new().get(&auth_url(&app, &id, &[extra])).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(to.starts_with(REDIRECT), "{to}");
        assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"), "{extra:?}");
        assert!(param(&to, "error_description").unwrap().contains(what), "{to}");
    }
}

/// Hydra's `GET /admin/oauth2/auth/sessions/consent?subject=`: the remembered consents, a
/// page at a time with `Link`; a revoked one is gone.
#[tokio::test]
async fn listing_consent_sessions_pages_through_the_remembered_consents() {
    let app = spawn().await;
    let (a, _) = web_client(&app, true).await;
    let (b, _) = web_client(&app, true).await;
    for id in [&a, &b] {
        let (_, challenge) = pkce();
        login_and_consent(
            &app,
            &mut Browser::new(),
            &auth_url(&app, id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]),
            "lee",
            true,
        )
        .await;
    }
    let resp = app
        .http
        .get(format!("{}/admin/oauth2/auth/sessions/consent?subject=lee&page_size=1", app.admin))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let link = resp.headers()["link"].to_str().unwrap().to_owned();
    let first: Value = resp.json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 1, "{first}");
    let next = link.split(',').find(|l| l.contains("rel=\"next\"")).expect(&link);
    let next = next.trim().trim_start_matches('<').split('>').next().unwrap();
    let (_, second) = app.admin(Method::GET, next, None).await;
    let mut clients: Vec<&str> = [&first[0], &second[0]].iter().map(|s| s["consent_request"]["client"]["client_id"].as_str().unwrap()).collect();
    clients.sort();
    let mut want = vec![a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(clients, want);
    let s = &first[0];
    assert_eq!((s["remember"].as_bool(), s["consent_request"]["subject"].as_str()), (Some(true), Some("lee")));
    assert_eq!(s["grant_scope"], json!(["openid", "offline_access", "profile"]));
    assert_eq!(s["session"]["access_token"]["tier"], "gold", "{s}");
    assert!(s["handled_at"].as_str().unwrap().ends_with('Z'));

    let (s, _) = app.admin(Method::DELETE, &format!("/admin/oauth2/auth/sessions/consent?subject=lee&client={a}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, left) = app.admin(Method::GET, "/admin/oauth2/auth/sessions/consent?subject=lee", None).await;
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["consent_request"]["client"]["client_id"], b.as_str());
    let (s, e) = app.admin(Method::GET, "/admin/oauth2/auth/sessions/consent", None).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
}
