//! Errors the authorization and logout endpoints cannot send to a client reach the
//! browser as a readable page, or the operator's error URL (Hydra's `urls.error`), never
//! as raw JSON; API callers that do not ask for HTML keep the JSON body.

use crate::common;

use common::flow::*;
use common::TestApp;
use reqwest::StatusCode;

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Requests whose errors cannot go to a client: an unknown client, an unregistered
/// redirect URI, a spent verifier, a logout to an unregistered URI.
async fn untrusted_requests(app: &TestApp) -> Vec<String> {
    let (id, _) = web_client(app, true).await;
    vec![
        auth_url(app, "no-such-client", &[]),
        auth_url(app, &id, &[]).replace("app.example.com%2Fcallback", "evil.example%2Fcb"),
        format!("{}/oauth2/auth?login_verifier=spent-or-forged", app.public),
        format!("{}/oauth2/sessions/logout?client_id={id}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F", app.public),
    ]
}

#[tokio::test]
async fn browsers_get_a_page_and_api_callers_json() {
    let app = spawn().await;
    for url in untrusted_requests(&app).await {
        let resp = no_redirects().get(&url).header("accept", "text/html,application/xhtml+xml,*/*;q=0.8").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
        let h = resp.headers().clone();
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"), "{url}");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
        let page = resp.text().await.unwrap();
        assert!(page.contains("<h1>") && !page.contains("{\"error\""), "{page}");
        assert!(page.contains("invalid_request") || page.contains("invalid_client"), "{page}");

        let resp = no_redirects().get(&url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert!(body["error"].is_string() && body["error_description"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn an_operator_error_url_receives_the_error() {
    let app = TestApp::spawn_with(|a| {
        a.login_url = Some(LOGIN_URL.into());
        a.consent_url = Some(CONSENT_URL.into());
        a.error_url = Some("https://login.example/error?lang=en".into());
    })
    .await;
    for url in untrusted_requests(&app).await {
        let resp = no_redirects().get(&url).header("accept", "text/html").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{url}");
        let to = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(to.starts_with("https://login.example/error?lang=en&error="), "{to}");
        assert!(param(&to, "error_description").is_some_and(|d| !d.is_empty()), "{to}");
        assert!(param(&to, "error_hint").is_some(), "{to}");
    }
}
