//! A second relying-party library beside authlib, one we did not write: the Rust
//! `openidconnect` crate. It discovers the issuer, builds the authorization request (sent
//! here as a signed request object, answered by form post), verifies the RS256 ID token of
//! a pairwise client (nonce, at_hash), reads userinfo (whose `sub` it checks against the ID
//! token), builds the RP-initiated logout, and its key set verifies the back-channel
//! logout token.

use crate::common;

use clavis_core::jose::{Alg, SigningKey};
use common::flow::*;
use common::receiver::Receiver;
use common::TestApp;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKey, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const BYE: &str = "https://app.example.com/bye";

/// A pairwise Hydra client with an RS256 key for its request objects and a back-channel
/// logout URI: (client_id, client_secret, key).
async fn register(app: &TestApp, backchannel: &str) -> (String, String, SigningKey) {
    let key = SigningKey::generate(Alg::Rs256).0;
    let body = json!({
        "client_name": "openidconnect-rs", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code"],
        "scope": "openid profile", "subject_type": "pairwise", "jwks": {"keys": [key.public_jwk().to_json()]},
        "request_object_signing_alg": "RS256", "backchannel_logout_uri": backchannel, "post_logout_redirect_uris": [BYE],
    });
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    (c["client_id"].as_str().unwrap().into(), c["client_secret"].as_str().unwrap().into(), key)
}

/// The library's authorization URL, re-sent as RFC 9101 asks: every parameter inside a
/// request object signed with `key`, and outside only what OpenID Connect requires.
fn as_request_object(app: &TestApp, library_url: &url::Url, client_id: &str, key: &SigningKey) -> String {
    let mut claims: serde_json::Map<String, Value> =
        library_url.query_pairs().map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
    let now = clavis_core::time::now_unix();
    claims.extend([("iss".into(), json!(client_id)), ("aud".into(), json!(app.public)), ("exp".into(), json!(now + 300))]);
    claims.insert("response_mode".into(), json!("form_post"));
    let mut to = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    to.query_pairs_mut().extend_pairs([
        ("client_id", client_id),
        ("response_type", "code"),
        ("scope", claims["scope"].as_str().unwrap()),
        ("request", &key.sign_jwt(&Value::Object(claims.clone()))),
    ]);
    to.to_string()
}

#[tokio::test]
async fn the_openidconnect_crate_signs_in_and_out_and_verifies_the_logout_token() {
    let app = spawn().await;
    let mut rp = Receiver::start().await;
    let (client_id, secret, key) = register(&app, &format!("{}/rs", rp.base)).await;
    let http = openidconnect::reqwest::Client::builder().redirect(openidconnect::reqwest::redirect::Policy::none()).build().unwrap();

    let metadata = ProviderMetadataWithLogout::discover_async(IssuerUrl::new(app.public.clone()).unwrap(), &http).await.expect("discovery");
    let end_session = metadata.additional_metadata().end_session_endpoint.clone().expect("end_session_endpoint");
    let client = CoreClient::from_provider_metadata(metadata.clone(), ClientId::new(client_id.clone()), Some(ClientSecret::new(secret)))
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (library_url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let start = as_request_object(&app, &library_url, &client_id, &key);
    let mut browser = Browser::new();
    let (s, _, page) = login_and_consent_response(&app, &mut browser, &start, "alice", false).await;
    assert_eq!(s, StatusCode::OK, "a form post page: {page}");
    let (action, fields) = form_post(page.as_str().unwrap());
    assert_eq!(action, REDIRECT);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("{name} in {fields:?}"));
    assert_eq!(&field("state"), state.secret(), "the library's state comes back");
    assert_eq!(field("iss"), app.public);

    let tokens = client
        .exchange_code(AuthorizationCode::new(field("code")))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the library accepts the token response");
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier().set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let claims = id_token.claims(&id_verifier, &nonce).expect("an RS256 ID token with the library's nonce");
    assert_eq!(id_token.signing_alg().unwrap(), &CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256);
    let at_hash =
        AccessTokenHash::from_token(tokens.access_token(), id_token.signing_alg().unwrap(), id_token.signing_key(&id_verifier).unwrap()).unwrap();
    assert_eq!(claims.access_token_hash(), Some(&at_hash));
    let sub = claims.subject().clone();
    assert_ne!(sub.as_str(), "alice", "pairwise");
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(sub.clone()))
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo for the same pairwise sub");
    assert_eq!(info.subject(), &sub);

    // RP-initiated logout as the library builds it; the session was not remembered, so the
    // ID token's sid is all that names it.
    let logout = LogoutRequest::from(end_session)
        .set_id_token_hint(id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(BYE.into()).unwrap())
        .set_state(CsrfToken::new("bye-state".into()))
        .http_get_url();
    let (s, to, body) = browser.get(logout.as_str()).await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "https://app.example.com/bye?state=bye-state"), "{body}");

    let (_, logout_token) = rp.next().await;
    let mut parts = logout_token.split('.');
    let (header, payload, signature) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap();
    let header: Value = serde_json::from_slice(&b64(header)).unwrap();
    assert_eq!((header["typ"].as_str(), header["alg"].as_str()), (Some("logout+jwt"), Some("RS256")));
    let jwk = metadata.jwks().keys().iter().find(|k| k.key_id().is_some_and(|id| id.as_str() == header["kid"])).expect("a key of the issuer");
    let message = format!("{}.{}", logout_token.split('.').next().unwrap(), payload);
    jwk.verify_signature(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, message.as_bytes(), &b64(signature)).expect("the library verifies it");
    let logout_claims: Value = serde_json::from_slice(&b64(payload)).unwrap();
    assert_eq!(logout_claims["sub"], sub.as_str(), "the pairwise sub the client knows");
    assert_eq!(logout_claims["aud"], client_id.as_str());
    let sid = common::claims(&id_token.to_string())["sid"].clone();
    assert_eq!(logout_claims["sid"], sid);
}
