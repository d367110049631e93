//! Response modes (OAuth 2.0 Multiple Response Type Encoding Practices, Form Post Response
//! Mode): the code, and every error sent to the client, arrive in the query, the fragment
//! or a form posted by an HTML page, with `iss` (RFC 9207) — rejections by the login and
//! consent apps included.

use crate::common;

use common::flow::*;
use common::{verify_with_jwks, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn fragment(url: &str, name: &str) -> Option<String> {
    let frag = url::Url::parse(url).unwrap().fragment()?.to_owned();
    url::form_urlencoded::parse(frag.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn redeem(app: &TestApp, client_id: &str, secret: &Option<String>, code: &str, verifier: &str) -> Value {
    let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)];
    let (s, tokens) = exchange(app, client_id, secret.as_deref(), &form).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    tokens
}

#[tokio::test]
async fn form_post_delivers_the_code_in_a_self_submitting_page() {
    let app = spawn().await;
    let (id, secret) = web_client(&app, true).await;
    let (verifier, challenge) = pkce();
    let start = auth_url(&app, &id, &[("code_challenge", &challenge), ("code_challenge_method", "S256"), ("response_mode", "form_post")]);
    let mut browser = Browser::new();
    let (s, location, page) = login_and_consent_response(&app, &mut browser, &start, "alice", false).await;
    assert_eq!((s, location.as_str()), (StatusCode::OK, ""), "{page}");
    let (action, fields) = form_post(page.as_str().unwrap());
    assert_eq!(action, REDIRECT);
    assert_eq!(field(&fields, "state"), Some("state-1234567890"));
    assert_eq!(field(&fields, "iss"), Some(app.public.as_str()));
    let tokens = redeem(&app, &id, &secret, field(&fields, "code").unwrap(), &verifier).await;
    assert!(tokens["id_token"].is_string());
}

#[tokio::test]
async fn the_form_post_page_is_locked_down() {
    let app = spawn().await;
    let (id, _) = web_client(&app, true).await;
    let (_, challenge) = pkce();
    // prompt=none without a session: the error comes as a form post too.
    let start =
        auth_url(&app, &id, &[("code_challenge", &challenge), ("code_challenge_method", "S256"), ("response_mode", "form_post"), ("prompt", "none")]);
    let resp = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap().get(&start).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(h["cache-control"], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; script-src 'sha256-") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    let (action, fields) = form_post(&resp.text().await.unwrap());
    assert_eq!(action, REDIRECT);
    assert_eq!(field(&fields, "error"), Some("login_required"));
    assert_eq!(field(&fields, "state"), Some("state-1234567890"));
    assert_eq!(field(&fields, "iss"), Some(app.public.as_str()));
}

#[tokio::test]
async fn fragment_delivers_the_code_after_the_hash() {
    let app = spawn().await;
    let (id, secret) = web_client(&app, true).await;
    let (verifier, challenge) = pkce();
    let start = auth_url(&app, &id, &[("code_challenge", &challenge), ("code_challenge_method", "S256"), ("response_mode", "fragment")]);
    let back = login_and_consent(&app, &mut Browser::new(), &start, "alice", false).await;
    assert!(back.starts_with(&format!("{REDIRECT}#")), "{back}");
    assert_eq!(param(&back, "code"), None, "nothing in the query");
    assert_eq!(fragment(&back, "state").as_deref(), Some("state-1234567890"));
    assert_eq!(fragment(&back, "iss").as_deref(), Some(app.public.as_str()));
    redeem(&app, &id, &secret, &fragment(&back, "code").unwrap(), &verifier).await;
}

#[tokio::test]
async fn rejections_and_errors_arrive_in_the_requested_mode() {
    let app = spawn().await;
    let (id, _) = web_client(&app, true).await;
    let (_, challenge) = pkce();
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];

    // The consent app refuses, fragment mode: the error is in the fragment.
    let mut browser = Browser::new();
    let start = auth_url(&app, &id, &[pk[0], pk[1], ("response_mode", "fragment")]);
    let (_, to_login, _) = browser.get(&start).await;
    let c = param(&to_login, "login_challenge").unwrap();
    let (_, accepted) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={c}"), Some(json!({"subject": "bob"}))).await;
    let (_, to_consent, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    let c = param(&to_consent, "consent_challenge").unwrap();
    let (s, r) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/consent/reject?consent_challenge={c}"),
            Some(json!({"error": "consent_required", "error_description": "not today"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, to, _) = browser.get(r["redirect_to"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(fragment(&to, "error").as_deref(), Some("consent_required"), "{to}");
    assert_eq!(fragment(&to, "error_description").as_deref(), Some("not today"));
    assert!(to.starts_with(&format!("{REDIRECT}#")));

    // The login app refuses, form_post mode; an unusable error code becomes access_denied.
    let mut browser = Browser::new();
    let start = auth_url(&app, &id, &[pk[0], pk[1], ("response_mode", "form_post")]);
    let (_, to_login, _) = browser.get(&start).await;
    let c = param(&to_login, "login_challenge").unwrap();
    let (_, r) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/reject?login_challenge={c}"), Some(json!({"error": "bad\"code"}))).await;
    let (s, _, page) = browser.get(r["redirect_to"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    let (action, fields) = form_post(page.as_str().unwrap());
    assert_eq!(action, REDIRECT);
    assert_eq!(field(&fields, "error"), Some("access_denied"));
    assert_eq!(field(&fields, "state"), Some("state-1234567890"));

    // An unknown mode is refused, in the default mode (the query).
    for mode in ["jwt.query", "query.JWT", "Form_Post"] {
        let (s, to, _) = Browser::new().get(&auth_url(&app, &id, &[pk[0], pk[1], ("response_mode", mode)])).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{mode}");
        assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"), "{mode}: {to}");
    }
    // Other errors use the mode too (here: an unknown prompt).
    let (s, _, page) = Browser::new().get(&auth_url(&app, &id, &[pk[0], pk[1], ("response_mode", "form_post"), ("prompt", "bogus")])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(field(&form_post(page.as_str().unwrap()).1, "error"), Some("invalid_request"));
}

#[tokio::test]
async fn a_pushed_request_keeps_its_mode_and_discovery_lists_the_modes() {
    let app = spawn().await;
    let (id, secret) = web_client(&app, true).await;
    let (verifier, challenge) = pkce();
    let form = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "pushed-state-1"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("response_mode", "form_post"),
    ];
    let (s, pushed) = post_as_client(format!("{}/oauth2/par", app.public), &app, &id, secret.as_deref(), &form).await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let mut start = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    start.query_pairs_mut().append_pair("client_id", &id).append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
    let (s, _, page) = login_and_consent_response(&app, &mut Browser::new(), start.as_str(), "carol", false).await;
    assert_eq!(s, StatusCode::OK);
    let (_, fields) = form_post(page.as_str().unwrap());
    assert_eq!(field(&fields, "state"), Some("pushed-state-1"));
    redeem(&app, &id, &secret, field(&fields, "code").unwrap(), &verifier).await;

    let d: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["response_modes_supported"], json!(["query", "fragment", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt"]));
}

/// A `code id_token` request with scope openid (unless `extra` has another) and `extra`.
fn hybrid_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    u.query_pairs_mut().append_pair("response_type", "code id_token").append_pair("client_id", client_id).append_pair("redirect_uri", REDIRECT);
    u.query_pairs_mut().append_pair("state", "state-1234567890");
    if !extra.iter().any(|(k, _)| *k == "scope") {
        u.query_pairs_mut().append_pair("scope", "openid profile");
    }
    u.query_pairs_mut().extend_pairs(extra);
    u.to_string()
}

/// A Hydra client registered for `response_types`.
async fn hydra_client(app: &TestApp, response_types: Value) -> (String, Option<String>) {
    let body = json!({"client_name": "hybrid", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"],
                      "response_types": response_types, "scope": "openid profile", "id_token_signed_response_alg": "PS256"});
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn code_id_token_sends_an_id_token_bound_to_the_code_and_state() {
    let app = spawn().await;
    let (id, secret) = hydra_client(&app, json!(["code", "id_token code"])).await;
    let (_, c) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
    assert_eq!(c["response_types"], json!(["code", "code id_token"]), "stored normalized");
    let (verifier, challenge) = pkce();
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let start = hybrid_url(&app, &id, &[pk[0], pk[1], ("nonce", "hybrid-nonce")]);
    let back = login_and_consent(&app, &mut Browser::new(), &start, "alice", false).await;
    assert!(back.starts_with(&format!("{REDIRECT}#")), "fragment by default: {back}");
    let (code, id_token) = (fragment(&back, "code").unwrap(), fragment(&back, "id_token").unwrap());
    let claims = verify_with_jwks(&app, &id_token).await;
    assert_eq!(common::header(&id_token)["alg"], "PS256", "the client's algorithm");
    assert_eq!(claims["nonce"], "hybrid-nonce");
    assert_eq!(claims["c_hash"], common::expected_at_hash("PS256", &code));
    assert_eq!(claims["s_hash"], common::expected_at_hash("PS256", "state-1234567890"));
    assert_eq!((claims["aud"][0].as_str(), claims["sub"].as_str()), (Some(id.as_str()), Some("alice")));
    assert!(claims.get("at_hash").is_none(), "no access token travelled with it");
    let tokens = redeem(&app, &id, &secret, &code, &verifier).await;
    let from_token_endpoint = verify_with_jwks(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(from_token_endpoint["sub"], claims["sub"]);

    // What the hybrid type needs, refused at the client (in the fragment).
    for (extra, error) in [
        (vec![], "invalid_request"),                                           // no nonce
        (vec![("nonce", "n"), ("response_mode", "query")], "invalid_request"), // an ID token in a query
        (vec![("nonce", "n"), ("scope", "profile")], "invalid_scope"),         // no openid
    ] {
        let mut pairs = vec![pk[0], pk[1]];
        pairs.extend_from_slice(&extra);
        let url = hybrid_url(&app, &id, &pairs);
        let (s, to, _) = Browser::new().get(&url).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{extra:?}");
        assert_eq!(fragment(&to, "error").as_deref(), Some(error), "{extra:?}: {to}");
    }
    // A client registered for code only cannot ask for more; implicit types cannot be registered.
    let (code_only, _) = hydra_client(&app, json!(["code"])).await;
    let url = hybrid_url(&app, &code_only, &[pk[0], pk[1], ("nonce", "n")]);
    let (_, to, _) = Browser::new().get(&url).await;
    assert_eq!(fragment(&to, "error").as_deref(), Some("unauthorized_client"), "{to}");
    for bad in ["token", "id_token", "code token", "code id_token token", "code code"] {
        let (s, e) = app.admin(Method::POST, "/admin/clients", Some(json!({"redirect_uris": [REDIRECT], "response_types": [bad]}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
    }
}
