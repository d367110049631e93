//! Hydra's verifiable credentials endpoint, `POST /credentials`: the first request is
//! primed with a `c_nonce`; a proof JWT with that nonce, signed by the key in its header,
//! gets a credential signed by the tenant (verified against the JWKS) whose subject is
//! the holder key and whose claims are the user's. Everything else is refused.

use crate::common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use common::flow::*;
use common::{verify_with_jwks, TestApp};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// An access token of alice with scope openid (and the consent session's email claim).
async fn user_token(app: &TestApp) -> String {
    let (client_id, secret) = web_client(app, true).await;
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let start = auth_url(app, &client_id, &[("code_challenge", &challenge), ("code_challenge_method", "S256")]);
    let code = param(&login_and_consent(app, &mut browser, &start, "alice", false).await, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)];
    let (s, tokens) = exchange(app, &client_id, secret.as_deref(), &form).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn credential(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let resp = app.http.post(format!("{}/credentials", app.public)).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(resp.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"));
    (resp.status(), resp.json().await.unwrap())
}

/// A holder's P-256 key, with ring as a wallet would have it.
struct Holder {
    pair: EcdsaKeyPair,
}

impl Holder {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self { pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap() }
    }

    fn jwk(&self) -> Value {
        let p = self.pair.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..65])})
    }

    /// A compact JWS of `claims` under `header`, signed with this key.
    fn sign(&self, header: Value, claims: Value) -> String {
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let sig = self.pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", B64.encode(sig.as_ref()))
    }

    /// The proof of OpenID4VCI: this key in the header, the nonce in the claims.
    fn proof(&self, nonce: &str) -> String {
        let header = json!({"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": self.jwk()});
        self.sign(header, json!({"nonce": nonce, "iat": 0, "aud": "clavis"}))
    }
}

fn with_proof(jwt: &str) -> Value {
    json!({"format": "jwt_vc_json", "types": ["VerifiableCredential", "UserInfoCredential"], "proof": {"proof_type": "jwt", "jwt": jwt}})
}

#[tokio::test]
async fn a_proven_holder_key_gets_a_credential_about_the_user() {
    let app = spawn().await;
    let token = user_token(&app).await;
    let (s, primed) = credential(&app, &token, json!({"format": "jwt_vc_json", "types": ["VerifiableCredential", "UserInfoCredential"]})).await;
    assert_eq!((s, primed["error"].as_str()), (StatusCode::BAD_REQUEST, Some("missing_proof")), "{primed}");
    assert_eq!(primed["c_nonce_expires_in"], 3600);
    let nonce = primed["c_nonce"].as_str().unwrap().to_owned();

    let holder = Holder::new();
    let (s, issued) = credential(&app, &token, with_proof(&holder.proof(&nonce))).await;
    assert_eq!(s, StatusCode::OK, "{issued}");
    assert_eq!(issued["format"], "jwt_vc_json");
    let vc = verify_with_jwks(&app, issued["credential_draft_00"].as_str().unwrap()).await;
    let did = format!("did:jwk:{}", B64.encode(holder.jwk().to_string()));
    assert_eq!((vc["iss"].as_str(), vc["sub"].as_str()), (Some(app.public.as_str()), Some(did.as_str())), "{vc}");
    assert_eq!(vc["vc"]["type"], json!(["VerifiableCredential", "UserInfoCredential"]));
    let subject = &vc["vc"]["credentialSubject"];
    assert_eq!(
        (subject["id"].as_str(), subject["sub"].as_str(), subject["email"].as_str()),
        (Some(did.as_str()), Some("alice"), Some("alice@example.com")),
        "{vc}"
    );
    assert!(vc["exp"].as_i64() > vc["iat"].as_i64());
    // The nonce is good for the hour, for this token only.
    assert_eq!(credential(&app, &token, with_proof(&Holder::new().proof(&nonce))).await.0, StatusCode::OK);
    let other = user_token(&app).await;
    let (s, e) = credential(&app, &other, with_proof(&holder.proof(&nonce))).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("missing_proof")), "another token's nonce is primed anew: {e}");
    assert_ne!(e["c_nonce"], json!(nonce));
}

#[tokio::test]
async fn bad_proofs_tokens_and_bodies_are_refused() {
    let app = spawn().await;
    let token = user_token(&app).await;
    let (_, primed) = credential(&app, &token, json!({"format": "jwt_vc_json"})).await;
    let nonce = primed["c_nonce"].as_str().unwrap().to_owned();
    let holder = Holder::new();
    let impostor = Holder::new();
    let mut tampered_nonce = nonce.clone();
    tampered_nonce.push('A');
    let forged = {
        let header = json!({"alg": "ES256", "jwk": holder.jwk()});
        impostor.sign(header, json!({"nonce": nonce}))
    };
    let mut private = holder.jwk();
    private["d"] = json!("AAAA");
    for (what, body, error) in [
        ("signed by another key than its header's", with_proof(&forged), "invalid_request"),
        ("no jwk in the header", with_proof(&holder.sign(json!({"alg": "ES256"}), json!({"nonce": nonce}))), "invalid_request"),
        ("a private jwk", with_proof(&holder.sign(json!({"alg": "ES256", "jwk": private}), json!({"nonce": nonce}))), "invalid_request"),
        ("no nonce", with_proof(&holder.sign(json!({"alg": "ES256", "jwk": holder.jwk()}), json!({}))), "invalid_request"),
        ("a tampered nonce", with_proof(&holder.proof(&tampered_nonce)), "missing_proof"),
        ("an invented nonce", with_proof(&holder.proof("9999999999.AAAA")), "missing_proof"),
        ("not a JWT", with_proof("abc"), "invalid_request"),
        ("an unsigned JWT", with_proof(&format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode(r#"{"nonce":"x"}"#))), "invalid_request"),
        ("another format", json!({"format": "ldp_vc", "proof": {"proof_type": "jwt", "jwt": holder.proof(&nonce)}}), "invalid_request"),
        ("another proof type", json!({"format": "jwt_vc_json", "proof": {"proof_type": "cwt", "jwt": holder.proof(&nonce)}}), "invalid_request"),
        ("not JSON", json!("text"), "invalid_request"),
    ] {
        let (s, e) = credential(&app, &token, body).await;
        assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some(error)), "{what}: {e}");
    }
    // Tokens: none, a forged one, a client's own (no user, no openid).
    let (s, _) = credential(&app, "not-a-token", with_proof(&holder.proof(&nonce))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let resp = app.http.post(format!("{}/credentials", app.public)).json(&with_proof(&holder.proof(&nonce))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().contains_key("www-authenticate"));
    let (id, secret) = app.machine_client().await;
    let machine = app.token_ok("", &id, &secret, None).await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(credential(&app, &machine, json!({"format": "jwt_vc_json"})).await.0, StatusCode::UNAUTHORIZED);
    // Discovery says where and what.
    let d: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["credentials_endpoint_draft_00"], format!("{}/credentials", app.public));
    assert_eq!(d["credentials_supported_draft_00"][0]["format"], "jwt_vc_json");
}
