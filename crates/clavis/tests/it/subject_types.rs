//! Subject types (OpenID Connect Core §8): pairwise clients get a `sub` per sector —
//! stable for one sector, different across sectors, the same in ID tokens and userinfo —
//! while access tokens keep the tenant's subject; `sector_identifier_uri` is fetched and
//! checked at registration.

use crate::common;

use common::flow::*;
use common::{claims, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A Hydra client for the code flow redirecting to `redirect_uris`, with `fields`.
async fn client(app: &TestApp, redirect_uris: &[&str], fields: Value) -> (StatusCode, Value) {
    let mut body = json!({"client_name": "rp", "redirect_uris": redirect_uris, "grant_types": ["authorization_code"],
                          "scope": "openid profile"});
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    app.admin(Method::POST, "/admin/clients", Some(body)).await
}

/// `subject` signs in to `c` (redirecting to `redirect_uri`): the ID token's claims, the
/// userinfo answer and the introspected access token.
async fn sign_in(app: &TestApp, c: &Value, redirect_uri: &str, subject: &str) -> (Value, Value, Value) {
    let id = c["client_id"].as_str().unwrap();
    let (verifier, challenge) = pkce();
    let mut start = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    start.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", id),
        ("redirect_uri", redirect_uri),
        ("scope", "openid profile"),
        ("state", "state-1234567890"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let back = login_and_consent(app, &mut Browser::new(), start.as_str(), subject, false).await;
    let code = param(&back, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", redirect_uri), ("code_verifier", &verifier)];
    let (s, tokens) = exchange(app, id, c["client_secret"].as_str(), &form).await;
    assert_eq!(s, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let info: Value = app.http.get(format!("{}/userinfo", app.public)).bearer_auth(access).send().await.unwrap().json().await.unwrap();
    (claims(tokens["id_token"].as_str().unwrap()), info, introspect(app, access).await)
}

#[tokio::test]
async fn pairwise_subjects_differ_across_sectors_and_stay_put_within_one() {
    let app = spawn().await;
    let (_, a1) = client(&app, &["https://a.example/cb"], json!({"subject_type": "pairwise"})).await;
    let (_, a2) = client(&app, &["https://a.example/other"], json!({"subject_type": "pairwise"})).await;
    let (_, b) = client(&app, &["https://b.example/cb"], json!({"subject_type": "pairwise"})).await;
    let (_, public) = client(&app, &["https://a.example/cb"], json!({})).await;
    assert_eq!((a1["subject_type"].as_str(), public["subject_type"].as_str()), (Some("pairwise"), Some("public")));
    let (_, authms) = app.admin(Method::GET, &format!("/admin/oauth/clients/{}", a1["client_id"].as_str().unwrap()), None).await;
    assert_eq!(authms["data"]["subject_type"], "pairwise", "the authms view shows it too: {authms}");

    let (id_a1, info_a1, at_a1) = sign_in(&app, &a1, "https://a.example/cb", "alice").await;
    let sub = id_a1["sub"].as_str().unwrap().to_owned();
    assert_ne!(sub, "alice");
    assert_eq!(info_a1["sub"], sub.as_str(), "userinfo agrees with the ID token");
    assert_eq!(at_a1["sub"], "alice", "the tenant's resource servers see the tenant's subject");
    let (again, _, _) = sign_in(&app, &a1, "https://a.example/cb", "alice").await;
    assert_eq!(again["sub"], sub.as_str(), "stable");
    let (id_a2, _, _) = sign_in(&app, &a2, "https://a.example/other", "alice").await;
    assert_eq!(id_a2["sub"], sub.as_str(), "one sector, one sub");
    let (id_b, info_b, _) = sign_in(&app, &b, "https://b.example/cb", "alice").await;
    assert_ne!(id_b["sub"], sub.as_str(), "another sector, another sub");
    assert_eq!(info_b["sub"], id_b["sub"]);
    let (id_bob, _, _) = sign_in(&app, &a1, "https://a.example/cb", "bob").await;
    assert_ne!(id_bob["sub"], sub.as_str());
    let (id_public, info_public, _) = sign_in(&app, &public, "https://a.example/cb", "alice").await;
    assert_eq!((id_public["sub"].as_str(), info_public["sub"].as_str()), (Some("alice"), Some("alice")));
    let d: Value = app.http.get(format!("{}/.well-known/openid-configuration", app.public)).send().await.unwrap().json().await.unwrap();
    assert_eq!(d["subject_types_supported"], json!(["public", "pairwise"]));
}

#[tokio::test]
async fn a_sector_identifier_uri_must_list_every_redirect_uri() {
    let app = spawn().await;
    let router = axum::Router::new()
        .route("/sector.json", axum::routing::get(|| async { axum::Json(json!(["https://a.example/cb", "https://b.example/cb"])) }))
        .route("/object.json", axum::routing::get(|| async { axum::Json(json!({"redirect_uris": []})) }))
        .route("/numbers.json", axum::routing::get(|| async { axum::Json(json!([1, 2])) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let sector = format!("{base}/sector.json");
    let both = ["https://a.example/cb", "https://b.example/cb"];

    // Two hosts need a sector identifier; with one that lists both, they share a sector.
    let (s, e) = client(&app, &both, json!({"subject_type": "pairwise"})).await;
    assert_eq!((s, e["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")), "{e}");
    let (s, c) = client(&app, &both, json!({"subject_type": "pairwise", "sector_identifier_uri": sector})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["sector_identifier_uri"], sector.as_str());
    let (via_a, _, _) = sign_in(&app, &c, "https://a.example/cb", "alice").await;
    let (via_b, _, _) = sign_in(&app, &c, "https://b.example/cb", "alice").await;
    assert_eq!(via_a["sub"], via_b["sub"], "the sector is the sector identifier's host, whichever redirect URI");
    let (_, a_only) = client(&app, &["https://a.example/cb"], json!({"subject_type": "pairwise"})).await;
    let (alone, _, _) = sign_in(&app, &a_only, "https://a.example/cb", "alice").await;
    assert_ne!(alone["sub"], via_a["sub"], "a.example is another sector than the identifier's host");

    // Refused: a redirect URI it does not list, documents that are not a list of URIs,
    // unreachable ones, a sector identifier for a public client, a non-https one.
    let three = ["https://a.example/cb", "https://b.example/cb", "https://c.example/cb"];
    for (uris, fields) in [
        (&three[..], json!({"subject_type": "pairwise", "sector_identifier_uri": sector})),
        (&both[..], json!({"subject_type": "pairwise", "sector_identifier_uri": format!("{base}/object.json")})),
        (&both[..], json!({"subject_type": "pairwise", "sector_identifier_uri": format!("{base}/numbers.json")})),
        (&both[..], json!({"subject_type": "pairwise", "sector_identifier_uri": format!("{base}/missing.json")})),
        (&both[..], json!({"sector_identifier_uri": sector})),
        (&both[..], json!({"subject_type": "pairwise", "sector_identifier_uri": "http://sector.example/s.json"})),
    ] {
        let (s, e) = client(&app, uris, fields.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{fields}: {e}");
        assert!(e["error_description"].as_str().unwrap().contains("sector_identifier_uri"), "{e}");
        assert!(!e.to_string().contains("404"), "no detail of the fetch: {e}");
    }
    // An update is checked again.
    let id = c["client_id"].as_str().unwrap();
    let (s, e) = app
        .admin(
            Method::PATCH,
            &format!("/admin/clients/{id}"),
            Some(json!([{"op": "add", "path": "/redirect_uris/-", "value": "https://c.example/cb"}])),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
}
