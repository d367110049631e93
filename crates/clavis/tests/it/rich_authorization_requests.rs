//! Rich authorization requests (RFC 9396): `authorization_details` at `/oauth2/auth` and
//! PAR, checked against the client's `authorization_details_types`, shown to the consent
//! app, granted (possibly narrowed) by it, and carried by the token response, the access
//! token, refreshes and introspection.

use crate::common;

use common::flow::*;
use common::{claims, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PAYMENT: &str = r#"[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"123.50"},"creditorName":"Merchant A"},{"type":"account_information","actions":["list_accounts"]}]"#;

async fn rar_client(app: &TestApp) -> (String, String) {
    let (s, c) = app
        .admin(
            Method::POST,
            "/admin/clients",
            Some(
                json!({"redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"], "scope": "openid offline_access profile",
                        "authorization_details_types": ["payment_initiation", "account_information"]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["authorization_details_types"], json!(["payment_initiation", "account_information"]));
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

/// Through login to the consent request; returns its challenge, the request and the browser.
async fn to_consent(app: &TestApp, start: &str) -> (String, Value, Browser) {
    let mut browser = Browser::new();
    let (_, to_login, _) = browser.get(start).await;
    let lc = param(&to_login, "login_challenge").expect(&to_login);
    let (_, accepted) =
        app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={lc}"), Some(json!({"subject": "kim"}))).await;
    let (_, to_consent, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    let cc = param(&to_consent, "consent_challenge").unwrap();
    let (s, request) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/consent?consent_challenge={cc}"), None).await;
    assert_eq!(s, StatusCode::OK, "{request}");
    (cc, request, browser)
}

#[tokio::test]
async fn details_are_asked_granted_narrowed_and_carried_by_the_tokens() {
    let app = spawn().await;
    let (id, secret) = rar_client(&app).await;
    let (verifier, challenge) = pkce();
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256"), ("authorization_details", PAYMENT)];
    let (cc, request, mut browser) = to_consent(&app, &auth_url(&app, &id, &pk)).await;
    let asked: Value = serde_json::from_str(PAYMENT).unwrap();
    assert_eq!(request["requested_authorization_details"], asked);
    // The app may grant only requested types.
    let bad = json!({"grant_scope": ["openid", "offline_access"], "grant_authorization_details": [{"type": "wire_transfer"}]});
    let (s, e) = app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={cc}"), Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    // It grants the payment only (narrowed).
    let granted = json!([asked[0]]);
    let body = json!({"grant_scope": ["openid", "offline_access"], "grant_authorization_details": granted});
    let (s, accepted) = app.admin(Method::PUT, &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={cc}"), Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{accepted}");
    let (_, to_client, _) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    let code = param(&to_client, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT), ("code_verifier", verifier.as_str())];
    let (s, t) = exchange(&app, &id, Some(&secret), &form).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["authorization_details"], granted);
    assert_eq!(claims(t["access_token"].as_str().unwrap())["authorization_details"], granted);
    assert_eq!(introspect(&app, t["access_token"].as_str().unwrap()).await["authorization_details"], granted);
    // A refresh keeps them.
    let (s, r) =
        exchange(&app, &id, Some(&secret), &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["authorization_details"], granted);
}

#[tokio::test]
async fn unregistered_or_malformed_details_are_refused_and_par_carries_them() {
    let app = spawn().await;
    let (id, secret) = rar_client(&app).await;
    let (_, challenge) = pkce();
    for (details, why) in [
        (r#"[{"type":"wire_transfer"}]"#, "not registered"),
        (r#"{"type":"payment_initiation"}"#, "an object, not an array"),
        (r#"[{"amount":1}]"#, "no type"),
        ("[]", "empty"),
        ("not json", "not JSON"),
    ] {
        let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256"), ("authorization_details", details)];
        let (s, to, _) = Browser::new().get(&auth_url(&app, &id, &pk)).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{why}");
        assert_eq!(param(&to, "error").as_deref(), Some("invalid_authorization_details"), "{why}: {to}");
    }
    let form = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "state-1234567890"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("authorization_details", PAYMENT),
    ];
    let (s, pushed) = post_as_client(format!("{}/oauth2/par", app.public), &app, &id, Some(&secret), &form).await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    let start = format!("{}/oauth2/auth?client_id={id}&request_uri={}", app.public, pushed["request_uri"].as_str().unwrap());
    let (_, request, _) = to_consent(&app, &start).await;
    assert_eq!(request["requested_authorization_details"][1]["type"], "account_information");
    // A client that registered no types may send none.
    let (plain, _) = web_client(&app, true).await;
    let pk = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256"), ("authorization_details", PAYMENT)];
    let (_, to, _) = Browser::new().get(&auth_url(&app, &plain, &pk)).await;
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_authorization_details"));
}
