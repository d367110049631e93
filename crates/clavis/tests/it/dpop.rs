//! DPoP (RFC 9449) end to end: bound tokens at the token endpoint, the proof checks,
//! `dpop_bound_access_tokens`, userinfo, refresh tokens of public clients, `dpop_jkt` and
//! PAR, server nonces, replay across nodes, and introspection.

use crate::common;

use common::dpop::{now, DpopKey};
use common::flow::{auth_url, login_and_consent, param, pkce, spawn, web_client, Browser, REDIRECT};
use common::{claims, TestApp};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// POSTs `form` as the client (Basic with a secret, else `client_id`), with `DPoP` proofs.
async fn post(app: &TestApp, url: &str, client: (&str, Option<&str>), form: &[(&str, &str)], proofs: &[&str]) -> (StatusCode, HeaderMap, Value) {
    let mut req = app.http.post(url);
    let mut pairs = form.to_vec();
    match client.1 {
        Some(s) => req = req.basic_auth(client.0, Some(s)),
        None => pairs.push(("client_id", client.0)),
    }
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    let resp = req.form(&pairs).send().await.unwrap();
    (resp.status(), resp.headers().clone(), resp.json().await.unwrap_or(Value::Null))
}

async fn userinfo(app: &TestApp, scheme: &str, token: &str, proof: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    let mut req = app.http.get(format!("{}/userinfo", app.public)).header("Authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.headers().clone(), resp.json().await.unwrap_or(Value::Null))
}

fn error(status: StatusCode, body: &Value) -> (StatusCode, &str) {
    (status, body["error"].as_str().unwrap_or(""))
}

const CC: &[(&str, &str)] = &[("grant_type", "client_credentials")];

#[tokio::test]
async fn a_proof_at_the_token_endpoint_binds_the_access_token_to_its_key() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let key = DpopKey::new();
    let url = app.token_url("");
    let (s, h, t) = post(&app, &url, (&id, Some(&secret)), CC, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["token_type"], "DPoP");
    assert!(h.contains_key("dpop-nonce"), "a nonce for the next proof");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(claims(at)["cnf"]["jkt"], key.jkt.as_str());
    let found = app.introspect(at).await;
    assert_eq!((found["active"].as_bool(), found["token_type"].as_str()), (Some(true), Some("DPoP")));
    assert_eq!(found["cnf"]["jkt"], key.jkt.as_str());
    // Without a proof: a bearer token, as before.
    let (s, _, t) = post(&app, &url, (&id, Some(&secret)), CC, &[]).await;
    assert_eq!((s, t["token_type"].as_str()), (StatusCode::OK, Some("Bearer")));
    assert!(claims(t["access_token"].as_str().unwrap()).get("cnf").is_none());
    // Opaque tokens carry the binding too (in introspection).
    let (s, c) =
        app.admin(Method::POST, "/admin/clients", Some(json!({"grant_types": ["client_credentials"], "access_token_strategy": "opaque"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (s, _, t) =
        post(&app, &url, (c["client_id"].as_str().unwrap(), c["client_secret"].as_str()), CC, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!((s, t["token_type"].as_str()), (StatusCode::OK, Some("DPoP")));
    assert_eq!(app.introspect(t["access_token"].as_str().unwrap()).await["cnf"]["jkt"], key.jkt.as_str());
}

#[tokio::test]
async fn every_check_of_a_proof_refuses_a_bad_one() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let key = DpopKey::new();
    let url = app.token_url("");
    let claims_for = |htm: &str, htu: &str, iat: i64| json!({"jti": clavis_core::ids::random_token(8), "htm": htm, "htu": htu, "iat": iat});
    let mut private = key.jwk();
    private["d"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let other = DpopKey::new();
    let bad: Vec<(&str, String)> = vec![
        ("garbage", "not.a.jwt".into()),
        ("typ", key.signed(json!({"typ": "JWT"}), claims_for("POST", &url, now()))),
        ("private key", key.signed(json!({"jwk": private}), claims_for("POST", &url, now()))),
        ("another key's jwk", key.signed(json!({"jwk": other.jwk()}), claims_for("POST", &url, now()))),
        ("htm", key.signed(json!({}), claims_for("GET", &url, now()))),
        ("htu", key.signed(json!({}), claims_for("POST", &format!("{}/oauth2/introspect", app.public), now()))),
        ("old iat", key.signed(json!({}), claims_for("POST", &url, now() - 600))),
        ("future iat", key.signed(json!({}), claims_for("POST", &url, now() + 600))),
        ("no jti", key.signed(json!({}), json!({"htm": "POST", "htu": url, "iat": now()}))),
        ("unknown nonce", key.signed(json!({}), json!({"jti": "n1", "htm": "POST", "htu": url, "iat": now(), "nonce": "made-up"}))),
    ];
    for (what, proof) in &bad {
        let (s, h, body) = post(&app, &url, (&id, Some(&secret)), CC, &[proof]).await;
        let expected = if *what == "unknown nonce" { "use_dpop_nonce" } else { "invalid_dpop_proof" };
        assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, expected), "{what}: {body}");
        if *what == "unknown nonce" {
            assert!(h.contains_key("dpop-nonce"), "the nonce to use");
        }
    }
    // The query and fragment of htu are ignored; the same proof twice is a replay.
    let proof = key.signed(json!({}), claims_for("POST", &format!("{url}?x=1#frag"), now()));
    let (s, _, body) = post(&app, &url, (&id, Some(&secret)), CC, &[&proof]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, body) = post(&app, &url, (&id, Some(&secret)), CC, &[&proof]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "replayed: {body}");
    // Two DPoP headers.
    let (a, b) = (key.proof("POST", &url, None, None), key.proof("POST", &url, None, None));
    let (s, _, body) = post(&app, &url, (&id, Some(&secret)), CC, &[&a, &b]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"));
    // A proof of an unauthenticated request is not spent: it still works for the client.
    let proof = key.proof("POST", &url, None, None);
    let (s, _, _) = post(&app, &url, (&id, Some("wrong-secret-0123456789")), CC, &[&proof]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, body) = post(&app, &url, (&id, Some(&secret)), CC, &[&proof]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    // Every algorithm the server announces for proofs of our own making works.
    for alg in [clavis_core::jose::Alg::Ps256, clavis_core::jose::Alg::Rs256, clavis_core::jose::Alg::EdDsa] {
        let k = DpopKey::of(alg);
        let (s, _, body) = post(&app, &url, (&id, Some(&secret)), CC, &[&k.proof("POST", &url, None, None)]).await;
        assert_eq!((s, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{alg:?}: {body}");
        assert_eq!(claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"], k.jkt.as_str());
    }
    let metadata: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    let algs = metadata["dpop_signing_alg_values_supported"].as_array().unwrap();
    assert!(algs.iter().any(|a| a == "ES256") && !algs.iter().any(|a| a.as_str().unwrap().starts_with("HS")), "{algs:?}");
}

#[tokio::test]
async fn a_client_registered_with_dpop_bound_access_tokens_needs_a_proof() {
    let app = TestApp::spawn().await;
    let (s, c) =
        app.admin(Method::POST, "/admin/clients", Some(json!({"grant_types": ["client_credentials"], "dpop_bound_access_tokens": true}))).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["dpop_bound_access_tokens"], true);
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let url = app.token_url("");
    let (s, _, body) = post(&app, &url, (id, Some(secret)), CC, &[]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    let key = DpopKey::new();
    let (s, _, body) = post(&app, &url, (id, Some(secret)), CC, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!((s, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
    // Read back as registered.
    let (_, read) = app.admin(Method::GET, &format!("/admin/clients/{id}"), None).await;
    assert_eq!(read["dpop_bound_access_tokens"], true);
}

/// A public client's code flow with DPoP at the token endpoint: its tokens.
async fn public_client_tokens(app: &TestApp, key: &DpopKey, extra: &[(&str, &str)]) -> (String, Value) {
    let (client_id, _) = web_client(app, false).await;
    let (verifier, challenge) = pkce();
    let mut params = vec![("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    params.extend_from_slice(extra);
    let mut browser = Browser::new();
    let to_client = login_and_consent(app, &mut browser, &auth_url(app, &client_id, &params), "dora", false).await;
    let code = param(&to_client, "code").unwrap();
    let url = app.token_url("");
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, _, t) = post(app, &url, (&client_id, None), &form, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    (client_id, t)
}

#[tokio::test]
async fn userinfo_takes_a_bound_token_only_with_a_proof_by_its_key() {
    let app = spawn().await;
    let key = DpopKey::new();
    let (_, t) = public_client_tokens(&app, &key, &[]).await;
    assert_eq!(t["token_type"], "DPoP");
    let at = t["access_token"].as_str().unwrap();
    let url = format!("{}/userinfo", app.public);
    let (s, h, _) = userinfo(&app, "Bearer", at, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a bound token is no bearer token");
    assert!(h["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let (s, h, body) = userinfo(&app, "DPoP", at, Some(&key.proof("GET", &url, Some(at), None))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["sub"], "dora");
    assert!(h.contains_key("dpop-nonce"));
    // The scheme without a proof, a proof without ath, by another key, for another URL, replayed.
    let (s, h, _) = userinfo(&app, "DPoP", at, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("DPoP error=\"invalid_dpop_proof\""), "{h:?}");
    let (s, _, body) = userinfo(&app, "DPoP", at, Some(&key.proof("GET", &url, None, None))).await;
    assert_eq!(error(s, &body), (StatusCode::UNAUTHORIZED, "invalid_dpop_proof"));
    let other = DpopKey::new();
    let (s, _, body) = userinfo(&app, "DPoP", at, Some(&other.proof("GET", &url, Some(at), None))).await;
    assert_eq!(error(s, &body), (StatusCode::UNAUTHORIZED, "invalid_dpop_proof"));
    let (s, _, body) = userinfo(&app, "DPoP", at, Some(&key.proof("POST", &url, Some(at), None))).await;
    assert_eq!(error(s, &body), (StatusCode::UNAUTHORIZED, "invalid_dpop_proof"), "htm GET expected");
    let proof = key.proof("GET", &url, Some(at), None);
    assert_eq!(userinfo(&app, "DPoP", at, Some(&proof)).await.0, StatusCode::OK);
    let (s, _, body) = userinfo(&app, "DPoP", at, Some(&proof)).await;
    assert_eq!(error(s, &body), (StatusCode::UNAUTHORIZED, "invalid_dpop_proof"), "replayed");
    // A bearer token presented as DPoP is refused; a bound token in the form too.
    let (s, _, body) = userinfo(&app, "DPoP", "not-a-token", Some(&key.proof("GET", &url, Some("not-a-token"), None))).await;
    assert_eq!(error(s, &body), (StatusCode::UNAUTHORIZED, "invalid_token"));
    let resp = app.http.post(&url).form(&[("access_token", at)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // And the admin API takes no bound token as a bearer token either.
    let (s, _) = app.call(Method::GET, "/admin/oauth/clients", at, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let app = spawn().await;
    let key = DpopKey::new();
    let (client_id, t) = public_client_tokens(&app, &key, &[]).await;
    let r0 = t["refresh_token"].as_str().unwrap();
    let url = app.token_url("");
    let form = [("grant_type", "refresh_token"), ("refresh_token", r0)];
    let (s, _, body) = post(&app, &url, (&client_id, None), &form, &[]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "no proof: {body}");
    let other = DpopKey::new();
    let (s, _, body) = post(&app, &url, (&client_id, None), &form, &[&other.proof("POST", &url, None, None)]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "another key: {body}");
    // Neither attempt spent it.
    let (s, _, t1) = post(&app, &url, (&client_id, None), &form, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!(s, StatusCode::OK, "{t1}");
    assert_eq!(claims(t1["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt.as_str());
    // The rotated token is bound to the same key.
    let form = [("grant_type", "refresh_token"), ("refresh_token", t1["refresh_token"].as_str().unwrap())];
    let (s, _, body) = post(&app, &url, (&client_id, None), &form, &[&other.proof("POST", &url, None, None)]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
}

#[tokio::test]
async fn dpop_jkt_in_the_authorization_request_binds_the_code() {
    let app = spawn().await;
    let key = DpopKey::new();
    let (client_id, _) = web_client(&app, false).await;
    let (verifier, challenge) = pkce();
    let params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256"), ("dpop_jkt", key.jkt.as_str())];
    let mut browser = Browser::new();
    let code = param(&login_and_consent(&app, &mut browser, &auth_url(&app, &client_id, &params), "erin", false).await, "code").unwrap();
    let url = app.token_url("");
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, _, body) = post(&app, &url, (&client_id, None), &form, &[]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    let (s, _, body) = post(&app, &url, (&client_id, None), &form, &[&DpopKey::new().proof("POST", &url, None, None)]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    let (s, _, t) = post(&app, &url, (&client_id, None), &form, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!((s, t["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "the code survived the attempts: {t}");
    // A malformed dpop_jkt is refused at the authorization endpoint.
    let bad = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256"), ("dpop_jkt", "short")];
    let (s, to, _) = Browser::new().get(&auth_url(&app, &client_id, &bad)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
}

#[tokio::test]
async fn a_proof_at_par_binds_the_code_to_its_key() {
    let app = spawn().await;
    let (client_id, secret) = web_client(&app, true).await;
    let secret = secret.unwrap();
    let key = DpopKey::new();
    let par = format!("{}/oauth2/par", app.public);
    let (verifier, challenge) = pkce();
    let request = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "state-1234567890"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let (s, h, pushed) = post(&app, &par, (&client_id, Some(&secret)), &request, &[&key.proof("POST", &par, None, None)]).await;
    assert_eq!(s, StatusCode::CREATED, "{pushed}");
    assert!(h.contains_key("dpop-nonce"));
    // dpop_jkt that is not the proof's key is refused.
    let stranger = DpopKey::new();
    let mut mismatched = request.to_vec();
    mismatched.push(("dpop_jkt", &stranger.jkt));
    let (s, _, body) = post(&app, &par, (&client_id, Some(&secret)), &mismatched, &[&key.proof("POST", &par, None, None)]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    // A proof for another endpoint is refused at PAR.
    let (s, _, body) = post(&app, &par, (&client_id, Some(&secret)), &request, &[&key.proof("POST", &app.token_url(""), None, None)]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"));

    let start = format!("{}/oauth2/auth?client_id={client_id}&request_uri={}", app.public, pushed["request_uri"].as_str().unwrap());
    let code = param(&login_and_consent(&app, &mut Browser::new(), &start, "finn", false).await, "code").unwrap();
    let url = app.token_url("");
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, _, body) = post(&app, &url, (&client_id, Some(&secret)), &form, &[&DpopKey::new().proof("POST", &url, None, None)]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    let (s, _, t) = post(&app, &url, (&client_id, Some(&secret)), &form, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(claims(t["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt.as_str());
}

#[tokio::test]
async fn with_nonces_required_a_proof_must_carry_the_servers_nonce() {
    let app = TestApp::spawn_with(|a| {
        a.dpop_require_nonce = Some(true);
        a.login_url = Some(common::flow::LOGIN_URL.into());
        a.consent_url = Some(common::flow::CONSENT_URL.into());
    })
    .await;
    let (id, secret) = app.machine_client().await;
    let key = DpopKey::new();
    let url = app.token_url("");
    let (s, h, body) = post(&app, &url, (&id, Some(&secret)), CC, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "use_dpop_nonce"), "{body}");
    let nonce = h["dpop-nonce"].to_str().unwrap().to_owned();
    let (s, h, body) = post(&app, &url, (&id, Some(&secret)), CC, &[&key.proof("POST", &url, None, Some(&nonce))]).await;
    assert_eq!((s, body["token_type"].as_str()), (StatusCode::OK, Some("DPoP")), "{body}");
    assert_eq!(h["dpop-nonce"].to_str().unwrap(), nonce, "the same nonce within its slot");
    // Bearer requests need no nonce.
    assert_eq!(post(&app, &url, (&id, Some(&secret)), CC, &[]).await.0, StatusCode::OK);

    // At userinfo, the challenge is in the DPoP scheme, with the nonce.
    let (_, t) = public_client_tokens_with_nonce(&app, &key, &nonce).await;
    let at = t["access_token"].as_str().unwrap();
    let ui = format!("{}/userinfo", app.public);
    let (s, h, _) = userinfo(&app, "DPoP", at, Some(&key.proof("GET", &ui, Some(at), None))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(h["www-authenticate"].to_str().unwrap().starts_with("DPoP error=\"use_dpop_nonce\""));
    let nonce = h["dpop-nonce"].to_str().unwrap();
    let (s, _, body) = userinfo(&app, "DPoP", at, Some(&key.proof("GET", &ui, Some(at), Some(nonce)))).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

async fn public_client_tokens_with_nonce(app: &TestApp, key: &DpopKey, nonce: &str) -> (String, Value) {
    let (client_id, _) = web_client(app, false).await;
    let (verifier, challenge) = pkce();
    let params = [("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")];
    let code = param(&login_and_consent(app, &mut Browser::new(), &auth_url(app, &client_id, &params), "gail", false).await, "code").unwrap();
    let url = app.token_url("");
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, _, t) = post(app, &url, (&client_id, None), &form, &[&key.proof("POST", &url, None, Some(nonce))]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    (client_id, t)
}

#[tokio::test]
async fn a_proof_is_single_use_across_nodes() {
    let a = TestApp::spawn_with(|c| c.public_url = Some("http://clavis.test".into())).await;
    let b = a.another_node().await;
    let (id, secret) = a.machine_client().await;
    let key = DpopKey::new();
    // Both nodes serve the same issuer URL, which the proof names.
    let htu = "http://clavis.test/oauth2/token";
    let proof = key.proof("POST", htu, None, None);
    let (s, _, body) = post(&a, &a.token_url(""), (&id, Some(&secret)), CC, &[&proof]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, body) = post(&b, &b.token_url(""), (&id, Some(&secret)), CC, &[&proof]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "replayed on the other node: {body}");
    // And the nonce is the same on both nodes.
    let (_, ha, _) = post(&a, &a.token_url(""), (&id, Some(&secret)), CC, &[&key.proof("POST", htu, None, None)]).await;
    let (_, hb, _) = post(&b, &b.token_url(""), (&id, Some(&secret)), CC, &[&key.proof("POST", htu, None, None)]).await;
    assert_eq!(ha["dpop-nonce"], hb["dpop-nonce"]);
}

#[tokio::test]
async fn token_exchange_of_a_bound_token_needs_its_key() {
    let app = TestApp::spawn().await;
    let (s, c) = app
        .admin(
            Method::POST,
            "/admin/clients",
            Some(json!({"grant_types": ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"], "scope": "read"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (id, secret) = (c["client_id"].as_str().unwrap(), c["client_secret"].as_str().unwrap());
    let key = DpopKey::new();
    let url = app.token_url("");
    let (_, _, t) = post(&app, &url, (id, Some(secret)), CC, &[&key.proof("POST", &url, None, None)]).await;
    let subject = t["access_token"].as_str().unwrap();
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", subject),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
    ];
    let (s, _, body) = post(&app, &url, (id, Some(secret)), &form, &[]).await;
    assert_eq!(error(s, &body), (StatusCode::BAD_REQUEST, "invalid_dpop_proof"), "{body}");
    let (s, _, body) = post(&app, &url, (id, Some(secret)), &form, &[&key.proof("POST", &url, None, None)]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}
