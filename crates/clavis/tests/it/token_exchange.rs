//! Token exchange (RFC 8693): a resource server exchanges the token it was called with
//! (impersonation), or with its own token as `actor_token` (delegation, nested `act`);
//! scopes, audiences and lifetime only narrow; everything outside the policy is refused.

use crate::common;

use common::{claims, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const DOWNSTREAM: &str = "https://downstream.example/api";

/// A Hydra client: (id, secret).
async fn hydra_client(app: &TestApp, body: Value) -> (String, String) {
    let (s, c) = app.admin(Method::POST, "/admin/clients", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().unwrap().to_owned())
}

async fn exchange(app: &TestApp, id: &str, secret: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut all = vec![("grant_type", EXCHANGE)];
    all.extend_from_slice(form);
    let resp = app.http.post(app.token_url("")).basic_auth(id, Some(secret)).form(&all).send().await.unwrap();
    (resp.status(), resp.json().await.unwrap())
}

/// Three services: `caller` calls `api` (its tokens name `api`), `api` exchanges them to
/// call `next` or the downstream URL, `next` may exchange what `api` got for it.
struct World {
    app: TestApp,
    caller: (String, String),
    api: (String, String),
    next: (String, String),
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let next = hydra_client(&app, json!({"client_name": "next", "grant_types": ["client_credentials", EXCHANGE], "scope": "read"})).await;
    let api = hydra_client(
        &app,
        json!({"client_name": "api", "grant_types": ["client_credentials", EXCHANGE], "scope": "read audit", "audience": [next.0, DOWNSTREAM]}),
    )
    .await;
    let caller =
        hydra_client(&app, json!({"client_name": "caller", "grant_types": ["client_credentials"], "scope": "read write", "audience": [api.0]})).await;
    World { app, caller, api, next }
}

impl World {
    /// The caller's token for `api`.
    async fn callers_token(&self) -> String {
        let form = [("grant_type", "client_credentials"), ("scope", "read write"), ("audience", self.api.0.as_str())];
        let resp = self.app.http.post(self.app.token_url("")).basic_auth(&self.caller.0, Some(&self.caller.1)).form(&form).send().await.unwrap();
        resp.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    async fn own_token(&self, (id, secret): &(String, String)) -> String {
        self.app.token_ok("", id, secret, None).await["access_token"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn a_resource_server_exchanges_the_token_it_was_called_with() {
    let w = world().await;
    let subject = w.callers_token().await;
    let (id, secret) = (&w.api.0, &w.api.1);
    let (s, t) = exchange(&w.app, id, secret, &[("subject_token", &subject), ("subject_token_type", ACCESS), ("audience", DOWNSTREAM)]).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!((t["issued_token_type"].as_str(), t["token_type"].as_str()), (Some(ACCESS), Some("Bearer")));
    assert!(t.get("refresh_token").is_none());
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!((c["sub"].as_str(), c["client_id"].as_str()), (Some(w.caller.0.as_str()), Some(id.as_str())), "on behalf of the subject: {c}");
    assert_eq!(c["scope"], "read", "the subject's scopes the exchanging client also has (not write, not audit)");
    assert_eq!(c["aud"], json!([DOWNSTREAM]));
    assert!(c.get("act").is_none(), "impersonation: no actor");
    assert!(c["exp"].as_i64() <= claims(&subject)["exp"].as_i64(), "never outlives the subject token");

    // Delegation: the api acts, with its own token; then `next` exchanges that in turn.
    let actor = w.own_token(&w.api).await;
    let form = [
        ("subject_token", subject.as_str()),
        ("subject_token_type", ACCESS),
        ("actor_token", &actor),
        ("actor_token_type", ACCESS),
        ("audience", &w.next.0),
    ];
    let (s, t) = exchange(&w.app, id, secret, &form).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let delegated = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims(&delegated)["act"], json!({"sub": id}));
    let next_actor = w.own_token(&w.next).await;
    let form = [("subject_token", delegated.as_str()), ("subject_token_type", ACCESS), ("actor_token", &next_actor), ("actor_token_type", ACCESS)];
    let (s, t) = exchange(&w.app, &w.next.0, &w.next.1, &form).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    let chained = t["access_token"].as_str().unwrap();
    assert_eq!(claims(chained)["act"], json!({"sub": w.next.0, "act": {"sub": id}}), "prior actors nest");
    assert_eq!(claims(chained)["sub"], w.caller.0.as_str());
    let seen = w.app.introspect(chained).await;
    assert_eq!((seen["active"].as_bool(), &seen["act"]["sub"]), (Some(true), &json!(w.next.0)), "{seen}");
    // Asked for a narrower scope, or a JWT by name.
    let form = [
        ("subject_token", subject.as_str()),
        ("subject_token_type", ACCESS),
        ("scope", "read"),
        ("requested_token_type", "urn:ietf:params:oauth:token-type:jwt"),
    ];
    let (s, t) = exchange(&w.app, id, secret, &form).await;
    assert_eq!((s, t["issued_token_type"].as_str()), (StatusCode::OK, Some("urn:ietf:params:oauth:token-type:jwt")), "{t}");
}

#[tokio::test]
async fn tokens_outside_the_policy_and_widening_requests_are_refused() {
    let w = world().await;
    let subject = w.callers_token().await;
    let (id, secret) = (w.api.0.clone(), w.api.1.clone());
    let next_token = w.own_token(&w.next).await;
    let refused = |form: Vec<(&'static str, String)>, error: &'static str, why: &'static str| {
        let (w, id, secret) = (&w, id.clone(), secret.clone());
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (s, e) = exchange(&w.app, &id, &secret, &pairs).await;
            assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some(error)), "{why}: {e}");
        }
    };
    let st = |t: &str| ("subject_token", t.to_owned());
    let ty = |t: &str| ("subject_token_type", t.to_owned());
    refused(vec![ty(ACCESS)], "invalid_request", "no subject_token").await;
    refused(vec![st(&subject)], "invalid_request", "no subject_token_type").await;
    refused(vec![st(&subject), ty("urn:ietf:params:oauth:token-type:refresh_token")], "invalid_request", "refresh tokens are never exchanged").await;
    refused(vec![st("not-a-token"), ty(ACCESS)], "invalid_request", "not a token").await;
    refused(vec![st(&next_token), ty(ACCESS)], "invalid_request", "issued to another client, not naming this one").await;
    refused(vec![st(&subject), ty(ACCESS), ("scope", "write".into())], "invalid_scope", "a scope the exchanging client lacks").await;
    refused(vec![st(&subject), ty(ACCESS), ("scope", "audit".into())], "invalid_scope", "a scope the subject token lacks").await;
    refused(vec![st(&subject), ty(ACCESS), ("audience", "https://elsewhere.example".into())], "invalid_target", "an unregistered audience").await;
    refused(vec![st(&subject), ty(ACCESS), ("resource", "not a uri".into())], "invalid_target", "a resource that is no URI").await;
    refused(vec![st(&subject), ty(ACCESS), ("actor_token", next_token.clone())], "invalid_request", "actor_token without its type").await;
    refused(
        vec![st(&subject), ty(ACCESS), ("actor_token", next_token.clone()), ("actor_token_type", ACCESS.into())],
        "invalid_request",
        "an actor token of another client",
    )
    .await;
    refused(
        vec![st(&subject), ty(ACCESS), ("requested_token_type", "urn:ietf:params:oauth:token-type:id_token".into())],
        "invalid_request",
        "only access tokens are issued",
    )
    .await;

    // A revoked subject token, another tenant's, a client without the grant.
    let (s, _) = w.app.admin(Method::DELETE, &format!("/admin/oauth2/tokens?client_id={}", w.caller.0), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    refused(vec![st(&subject), ty(ACCESS)], "invalid_request", "the subject token was revoked").await;
    let acme = w.app.tenant_admin("acme").await;
    refused(vec![st(&acme), ty(ACCESS)], "invalid_request", "another tenant's token").await;
    let fresh = w.callers_token().await;
    let (s, e) = exchange(&w.app, &w.caller.0, &w.caller.1, &[("subject_token", &fresh), ("subject_token_type", ACCESS)]).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")), "{e}");
    // Public clients cannot register the grant.
    let (s, e) = w
        .app
        .admin(Method::POST, "/admin/clients", Some(json!({"client_name": "spa", "grant_types": ["authorization_code", EXCHANGE], "token_endpoint_auth_method": "none", "redirect_uris": ["https://spa.example/cb"]})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}
