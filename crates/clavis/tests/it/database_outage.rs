//! When the database is down, every surface says so: 503 in its own error format, with
//! the cause in the log. Never a 401 (the caller's credentials are fine) nor
//! `{"active": false}` (the token may well be live): a resource server that trusted those
//! would log users out, or let a revoked token through once the outage is over.
//!
//! The outage is made by closing the server's connection pool: every later query fails
//! as it does when the database cannot be reached (sqlx `PoolClosed`).

use crate::common;

use common::{TestApp, INTERNAL_KEY};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn a_database_outage_is_503_on_every_surface_never_401_or_inactive() {
    let app = TestApp::spawn().await;
    let (id, secret) = app.machine_client().await;
    let token = app.token_ok("", &id, &secret, None).await["access_token"].as_str().unwrap().to_owned();
    let web = app
        .create_client(json!({"name": "web", "redirect_uris": ["https://app.example.com/cb"], "grant_types": ["authorization_code"],
                              "scopes": ["openid"], "client_auth_methods": ["client_secret_basic"]}))
        .await;
    let (web_id, web_secret) = (web["client_id"].as_str().unwrap(), web["client_secret"].as_str().unwrap());
    let redeem = || {
        app.http.post(app.token_url("")).basic_auth(web_id, Some(web_secret)).form(&[("grant_type", "authorization_code"), ("code", "no-such-code")])
    };
    assert_eq!(redeem().send().await.unwrap().status(), StatusCode::BAD_REQUEST, "an unknown code, while the database is up");
    // Warm: the issuer, keys and clients are cached, so what fails below is the database.
    assert_eq!(app.introspect(&token).await["active"], true);

    app.server.as_ref().unwrap().services.close().await;

    // authms admin API: the envelope, with code 503.
    let (status, body) = app.admin(Method::GET, "/admin/oauth/clients", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], 503, "{body}");

    // Hydra admin API: Hydra's error object.
    let (status, body) = app.admin(Method::GET, "/admin/clients", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    // Internal API (tenant-service).
    let resp = app
        .http
        .post(format!("{}/internal/oauth/clients", app.admin))
        .header("X-API-Key", INTERNAL_KEY)
        .header("X-Tenant-ID", "outage-tenant")
        .json(&json!({"name": "x", "redirect_uris": ["https://t.example/cb"], "grant_types": ["client_credentials"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Introspection, by admin bearer token and by client: an error, not `active: false`.
    let url = format!("{}/oauth2/introspect", app.public);
    let resp = app.http.post(&url).bearer_auth(&app.admin_token).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_oauth_unavailable(resp).await;
    let resp = app.http.post(&url).basic_auth(&id, Some(&secret)).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_oauth_unavailable(resp).await;

    // Token endpoint: a grant that needs the database, with valid credentials.
    assert_oauth_unavailable(redeem().send().await.unwrap()).await;
    // Revocation.
    let resp = app
        .http
        .post(format!("{}/oauth2/revoke", app.public))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_oauth_unavailable(resp).await;

    // UserInfo: the token cannot be checked, which is not `invalid_token`.
    let resp = app.http.get(format!("{}/userinfo", app.public)).bearer_auth(&token).send().await.unwrap();
    assert_oauth_unavailable(resp).await;

    // Readiness says why.
    let resp = app.http.get(format!("{}/health/ready", app.admin)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Every 5xx was logged with its cause.
    let logs = common::logs();
    assert!(logs.contains("closed pool"), "the cause (sqlx PoolClosed) is in the log");
}

async fn assert_oauth_unavailable(resp: reqwest::Response) {
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
}
