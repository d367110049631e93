//! The browser and the login & consent app of an authorization code flow: a cookie-keeping
//! user agent, and helpers that accept login and consent through the Hydra admin API.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::TestApp;

pub const LOGIN_URL: &str = "https://login.example/login";
pub const CONSENT_URL: &str = "https://login.example/consent";
pub const REDIRECT: &str = "https://app.example.com/callback";

pub async fn spawn() -> TestApp {
    TestApp::spawn_with(|a| {
        a.login_url = Some(LOGIN_URL.into());
        a.consent_url = Some(CONSENT_URL.into());
    })
    .await
}

/// A user agent that does not follow redirects and keeps cookies as a browser does: by
/// name and path, removed by `Max-Age=0`, sent only under their path.
pub struct Browser {
    pub http: reqwest::Client,
    /// (name, path) → value.
    cookies: std::collections::BTreeMap<(String, String), String>,
    /// The last response's `Set-Cookie` values.
    pub last_set: Vec<String>,
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: Default::default(), last_set: vec![] }
    }

    /// GETs `url`; returns the status and the `Location` it redirects to.
    pub async fn get(&mut self, url: &str) -> (StatusCode, String, Value) {
        let req = self.http.get(url);
        self.send(url, req).await
    }

    /// POSTs a form to `url`, as a page's form would.
    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> (StatusCode, String, Value) {
        let req = self.http.post(url).form(form);
        self.send(url, req).await
    }

    /// The cookie `name`, wherever its path.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|((n, _), _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The names of the cookies it holds.
    pub fn cookie_names(&self) -> Vec<String> {
        self.cookies.keys().map(|(n, _)| n.clone()).collect()
    }

    pub async fn send(&mut self, url: &str, mut req: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
        let path = url::Url::parse(url).unwrap().path().to_owned();
        let jar: Vec<String> = self.cookies.iter().filter(|((_, p), _)| path.starts_with(p.as_str())).map(|((n, _), v)| format!("{n}={v}")).collect();
        if !jar.is_empty() {
            req = req.header("cookie", jar.join("; "));
        }
        let resp = req.send().await.unwrap();
        self.last_set = resp.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for set in &self.last_set {
            let mut parts = set.split(';').map(str::trim);
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            let attrs: Vec<&str> = parts.collect();
            let cookie_path = attrs.iter().find_map(|a| a.strip_prefix("Path=")).unwrap_or("/").to_owned();
            let key = (name.to_owned(), cookie_path);
            if attrs.contains(&"Max-Age=0") {
                self.cookies.remove(&key);
            } else {
                self.cookies.insert(key, value.to_owned());
            }
        }
        let status = resp.status();
        let location = resp.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, location, body)
    }
}

pub fn param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).unwrap();
    parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub fn pkce() -> (String, String) {
    let verifier = clavis_core::ids::random_token(32);
    (verifier.clone(), clavis_core::jose::pkce_s256(&verifier))
}

/// A web client: confidential, authorization_code + refresh_token, openid/offline_access/profile.
pub async fn web_client(app: &TestApp, confidential: bool) -> (String, Option<String>) {
    let c = app
        .create_client(json!({
            "name": "web", "redirect_uris": [REDIRECT, "https://app.example.com/other"],
            "grant_types": ["authorization_code", "refresh_token"], "is_confidential": confidential,
            "scopes": ["openid", "offline_access", "profile"],
        }))
        .await;
    (c["client_id"].as_str().unwrap().to_owned(), c["client_secret"].as_str().map(str::to_owned))
}

pub fn auth_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/oauth2/auth", app.public)).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid offline_access profile")
        .append_pair("state", "state-1234567890");
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// Logs in as `subject` and consents to everything requested; returns the client redirect.
pub async fn login_and_consent(app: &TestApp, browser: &mut Browser, start: &str, subject: &str, remember: bool) -> String {
    let (s, to_client, body) = login_and_consent_response(app, browser, start, subject, remember).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    to_client
}

/// As [`login_and_consent`], returning the last response as it came (status, `Location`,
/// body): a form post page, say.
pub async fn login_and_consent_response(
    app: &TestApp,
    browser: &mut Browser,
    start: &str,
    subject: &str,
    remember: bool,
) -> (StatusCode, String, Value) {
    let (s, to_login, body) = browser.get(start).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert!(to_login.starts_with(LOGIN_URL), "{to_login}");
    let challenge = param(&to_login, "login_challenge").unwrap();
    let (s, login) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/login?login_challenge={challenge}"), None).await;
    assert_eq!(s, StatusCode::OK, "{login}");
    let (s, accepted) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/login/accept?login_challenge={challenge}"),
            Some(json!({"subject": subject, "remember": remember, "remember_for": 3600, "acr": "urn:loa:2", "amr": ["pwd"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{accepted}");
    let (s, to_consent, body) = browser.get(accepted["redirect_to"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    assert!(to_consent.starts_with(CONSENT_URL), "{to_consent}");
    let challenge = param(&to_consent, "consent_challenge").unwrap();
    let (s, consent) = app.admin(Method::GET, &format!("/admin/oauth2/auth/requests/consent?consent_challenge={challenge}"), None).await;
    assert_eq!(s, StatusCode::OK, "{consent}");
    assert_eq!(consent["subject"], subject);
    let (s, accepted) = app
        .admin(
            Method::PUT,
            &format!("/admin/oauth2/auth/requests/consent/accept?consent_challenge={challenge}"),
            Some(json!({"grant_scope": consent["requested_scope"], "remember": remember, "remember_for": 3600,
                           "session": {"id_token": {"email": "alice@example.com", "sub": "forged"},
                                       "access_token": {"tier": "gold"}}})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{accepted}");
    browser.get(accepted["redirect_to"].as_str().unwrap()).await
}

/// The action and fields of the form of a Form Post Response Mode page.
pub fn form_post(html: &str) -> (String, Vec<(String, String)>) {
    let unescape = |s: &str| s.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    let attr = |tag: &str, name: &str| {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(unescape(&tag[start..start + tag[start..].find('"')?]))
    };
    let form_tag = &html[html.find("<form").expect("a form")..];
    let action = attr(&form_tag[..form_tag.find('>').unwrap()], "action").expect("an action");
    let fields = html
        .split("<input")
        .skip(1)
        .map(|tag| {
            let tag = &tag[..tag.find('>').unwrap()];
            (attr(tag, "name").unwrap(), attr(tag, "value").unwrap())
        })
        .collect();
    (action, fields)
}

/// POSTs `form` to a public endpoint as the client: Basic with a secret, else `client_id`.
/// A success must not be cached.
pub async fn post_as_client(url: String, app: &TestApp, client_id: &str, secret: Option<&str>, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = app.http.post(url);
    let mut pairs: Vec<(&str, &str)> = form.to_vec();
    match secret {
        Some(s) => req = req.basic_auth(client_id, Some(s)),
        None => pairs.push(("client_id", client_id)),
    }
    let resp = req.form(&pairs).send().await.unwrap();
    let status = resp.status();
    if status.is_success() {
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    (status, resp.json().await.unwrap())
}

pub async fn exchange(app: &TestApp, client_id: &str, secret: Option<&str>, form: &[(&str, &str)]) -> (StatusCode, Value) {
    post_as_client(app.token_url(""), app, client_id, secret, form).await
}

pub async fn introspect(app: &TestApp, token: &str) -> Value {
    let resp =
        app.http.post(format!("{}/oauth2/introspect", app.public)).bearer_auth(&app.admin_token).form(&[("token", token)]).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.json().await.unwrap()
}
