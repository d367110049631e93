//! The authorization code flow through this app, over real HTTP: Clavis runs in-process on
//! ephemeral ports with a temporary SQLite database, the app serves on its own listener,
//! and a small hand-rolled browser (no automatic redirects, a cookie jar) fills in and
//! posts the app's real HTML forms.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use argon2::Params;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clavis::config::{Config, ConfigArgs};
use login_consent::admin_api::{AdminApi, AdminApiConfig};
use login_consent::users::{hash_password_with, User, Users};
use login_consent::{router, serve, AppState, Options};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN_ID: &str = "login-app";
const ADMIN_SECRET: &str = "login-app-secret-0123456789abcdefghijkl";
/// The client's redirect URI: the browser stops there (it is never contacted).
const REDIRECT: &str = "http://127.0.0.1:8080/callback";
const STATE: &str = "state-0123456789";
const BAD_LOGIN: &str = "The username or password is incorrect.";

// ---- the environment: Clavis + the app + a confidential client ----

struct Env {
    public: String,
    admin: String,
    app: String,
    server: Option<clavis::Server>,
    app_task: tokio::task::JoinHandle<std::io::Result<()>>,
    client_id: String,
    client_secret: String,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Env {
    async fn start() -> Env {
        // The app's port must be known before Clavis starts (CLAVIS_LOGIN_URL).
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let app = format!("http://{}", listener.local_addr().unwrap());

        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!("clavis-login-app-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // An explicit empty config file, so a ./clavis.toml cannot leak in.
        let config_file = dir.join("clavis.toml");
        std::fs::write(&config_file, "").unwrap();
        let config = Config::layered(
            &ConfigArgs {
                config: Some(config_file),
                public_addr: Some("127.0.0.1:0".into()),
                admin_addr: Some("127.0.0.1:0".into()),
                data_dir: Some(dir.clone()),
                bootstrap_client_id: Some(ADMIN_ID.into()),
                bootstrap_client_secret: Some(ADMIN_SECRET.into()),
                login_url: Some(format!("{app}/login")),
                consent_url: Some(format!("{app}/consent")),
                logout_url: Some(format!("{app}/logout")),
                device_verification_url: Some(format!("{app}/device")),
                ..Default::default()
            },
            &|_| None,
        )
        .unwrap()
        .0;
        let server = clavis::start(config).await.expect("clavis starts");
        let public = format!("http://{}", server.public_addr);
        let admin = format!("http://{}", server.admin_addr);

        // Cheap argon2 parameters: the tests run unoptimized.
        let cheap = Params::new(8, 1, 1, None).unwrap();
        let users = Users::new(vec![User {
            username: "alice".into(),
            password_hash: hash_password_with("wonderland", cheap).unwrap(),
            email: Some("alice@example.com".into()),
            name: Some("Alice <Liddell>".into()),
            claims: json!({"phone_number": "+44 1865 000000", "address": {"locality": "Oxford"}}).as_object().unwrap().clone(),
        }])
        .unwrap();
        let api = AdminApi::new(AdminApiConfig {
            admin_url: admin.clone(),
            token_url: format!("{public}/oauth2/token"),
            client_id: ADMIN_ID.into(),
            client_secret: ADMIN_SECRET.into(),
        })
        .unwrap();
        let app_task = tokio::spawn(serve(listener, router(AppState::new(api, users, Options::default()))));

        // The relying party, created as the README does it.
        let http = reqwest::Client::new();
        let token: Value = http
            .post(format!("{public}/oauth2/token"))
            .basic_auth(ADMIN_ID, Some(ADMIN_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let resp = http
            .post(format!("{admin}/admin/oauth/clients"))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .json(&json!({"name": "demo", "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
                          "scopes": ["openid", "offline_access", "email", "profile", "address", "phone"], "is_confidential": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let client: Value = resp.json().await.unwrap();
        let client_id = client["data"]["client_id"].as_str().unwrap().to_owned();
        let client_secret = client["data"]["client_secret"].as_str().unwrap().to_owned();
        Env { public, admin, app, server: Some(server), app_task, client_id, client_secret, _dir: TempDir(dir) }
    }

    /// An authorization URL with PKCE; returns it and the code verifier.
    fn auth_url(&self, extra: &[(&str, &str)]) -> (String, String) {
        let verifier = URL_SAFE_NO_PAD.encode(random::<32>());
        let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()));
        let mut url = url::Url::parse(&format!("{}/oauth2/auth", self.public)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("state", STATE)
            .append_pair("nonce", "nonce-0123456789")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .extend_pairs(extra);
        if !extra.iter().any(|(k, _)| *k == "scope") {
            url.query_pairs_mut().append_pair("scope", "openid offline_access email profile");
        }
        (url.to_string(), verifier)
    }

    /// The client's side: redeems a code (with its PKCE verifier) for tokens.
    async fn exchange(&self, code: &str, verifier: &str) -> Value {
        let resp = reqwest::Client::new()
            .post(format!("{}/oauth2/token", self.public))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .form(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn stop(mut self) {
        self.app_task.abort();
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

fn random<const N: usize>() -> [u8; N] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; N];
    ring::rand::SystemRandom::new().fill(&mut b).unwrap();
    b
}

fn claims(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

// ---- a minimal browser ----

/// One response: where it came from, its status, where it redirects, its body.
struct Page {
    url: String,
    status: StatusCode,
    location: Option<String>,
    html: String,
}

impl Page {
    /// The value of the form field `name` (first match).
    fn field(&self, name: &str) -> String {
        self.fields(name).into_iter().next().unwrap_or_else(|| panic!("no field {name} in {}", self.html))
    }

    /// The values of all inputs named `name`, in page order.
    fn fields(&self, name: &str) -> Vec<String> {
        let needle = format!("name=\"{name}\" value=\"");
        self.html
            .match_indices(&needle)
            .map(|(i, _)| {
                let rest = &self.html[i + needle.len()..];
                unescape(&rest[..rest.find('"').unwrap()])
            })
            .collect()
    }

    /// The hidden inputs of the page's form.
    fn hidden(&self) -> Vec<(String, String)> {
        let needle = "<input type=\"hidden\" name=\"";
        self.html
            .match_indices(needle)
            .map(|(i, _)| {
                let rest = &self.html[i + needle.len()..];
                let name = &rest[..rest.find('"').unwrap()];
                (name.to_owned(), self.field(name))
            })
            .collect()
    }

    /// The form's action, resolved against the page's URL.
    fn action(&self) -> String {
        let needle = "<form method=\"post\" action=\"";
        let rest = &self.html[self.html.find(needle).expect("a form") + needle.len()..];
        let action = unescape(&rest[..rest.find('"').unwrap()]);
        url::Url::parse(&self.url).unwrap().join(&action).unwrap().to_string()
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// No automatic redirects; one cookie jar for 127.0.0.1 (browsers do not separate
/// cookies by port, so Clavis's and the app's cookies share it, as they would).
struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: BTreeMap::new() }
    }

    async fn send(&mut self, url: &str, req: reqwest::RequestBuilder) -> Page {
        let req = if self.cookies.is_empty() {
            req
        } else {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            req.header("cookie", jar.join("; "))
        };
        let resp = req.send().await.unwrap();
        for set in resp.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            if set.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = resp.status();
        let location = resp.headers().get("location").map(|l| {
            let l = l.to_str().unwrap();
            url::Url::parse(url).unwrap().join(l).unwrap().to_string()
        });
        Page { url: url.to_owned(), status, location, html: resp.text().await.unwrap() }
    }

    async fn get(&mut self, url: &str) -> Page {
        let req = self.http.get(url);
        self.send(url, req).await
    }

    /// GETs `url` and follows redirects until a page, or a redirect to the client.
    async fn open(&mut self, url: &str) -> Page {
        let mut page = self.get(url).await;
        for _ in 0..10 {
            match &page.location {
                Some(to) if page.status.is_redirection() && !to.starts_with(REDIRECT) => {
                    let to = to.clone();
                    page = self.get(&to).await;
                }
                _ => return page,
            }
        }
        panic!("redirect loop at {}", page.url)
    }

    /// Submits the page's form: its hidden fields plus `fields`, form-urlencoded.
    async fn submit(&mut self, page: &Page, fields: &[(&str, &str)]) -> Page {
        let mut form = page.hidden();
        form.extend(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let url = page.action();
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
        let req = self.http.post(&url).header("content-type", "application/x-www-form-urlencoded").body(body);
        self.send(&url, req).await
    }

    /// Submits and follows the redirects.
    async fn submit_and_follow(&mut self, page: &Page, fields: &[(&str, &str)]) -> Page {
        let posted = self.submit(page, fields).await;
        assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.html);
        let to = posted.location.clone().unwrap();
        if to.starts_with(REDIRECT) {
            return posted;
        }
        self.open(&to).await
    }
}

/// Where the flow ended at the client: the redirect's URL.
fn at_client(page: &Page) -> String {
    let to = page.location.clone().unwrap_or_default();
    assert!(
        page.status.is_redirection() && to.starts_with(REDIRECT),
        "expected a redirect to the client, got {} {}: {}",
        page.status,
        page.url,
        page.html
    );
    assert_eq!(param(&to, "state").as_deref(), Some(STATE));
    to
}

async fn login_page(env: &Env, browser: &mut Browser, extra: &[(&str, &str)]) -> (Page, String) {
    let (url, verifier) = env.auth_url(extra);
    let page = browser.open(&url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.url.starts_with(&format!("{}/login?login_challenge=", env.app)), "{}", page.url);
    (page, verifier)
}

/// Signs alice in through the forms with "remember me" on both pages.
async fn sign_in_remembered(env: &Env, browser: &mut Browser) {
    let (login, _) = login_page(env, browser, &[]).await;
    let consent =
        browser.submit_and_follow(&login, &[("username", "alice"), ("password", "wonderland"), ("remember", "1"), ("action", "login")]).await;
    let all = consent.fields("grant_scope");
    let mut fields: Vec<(&str, &str)> = all.iter().map(|s| ("grant_scope", s.as_str())).collect();
    fields.extend([("remember", "1"), ("action", "allow")]);
    at_client(&browser.submit_and_follow(&consent, &fields).await);
}

// ---- the tests ----

#[tokio::test]
async fn login_consent_and_code_exchange_through_the_html_forms() {
    let env = Env::start().await;
    let mut browser = Browser::new();
    let (login, verifier) = login_page(&env, &mut browser, &[("login_hint", "alice")]).await;
    assert!(login.html.contains("to continue to <strong>demo</strong>"), "{}", login.html);
    assert_eq!(login.field("username"), "alice", "login_hint prefilled");
    assert!(browser.cookies.contains_key("login_app_csrf"));

    // CSRF: without the browser's cookie, or with another token, the form is refused.
    let mut other = Browser::new();
    let forged = other.submit(&login, &[("username", "alice"), ("password", "wonderland"), ("action", "login")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let tampered = Page { html: login.html.replace(&login.field("csrf"), "AAAA"), ..clone_page(&login) };
    let forged = browser.submit(&tampered, &[("username", "alice"), ("password", "wonderland"), ("action", "login")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Wrong password and unknown user: the same form again, the same generic error.
    let mut errors = Vec::new();
    for (user, password) in [("alice", "Wonderland"), ("mallory", "wonderland")] {
        let again = browser.submit(&login, &[("username", user), ("password", password), ("action", "login")]).await;
        assert_eq!((again.status, again.location.as_deref()), (StatusCode::OK, None), "no redirect");
        assert!(again.html.contains(BAD_LOGIN), "{}", again.html);
        assert_eq!(again.field("username"), user);
        assert_eq!(again.field("login_challenge"), login.field("login_challenge"));
        errors.push(again.html.replace(user, "USER"));
    }
    assert_eq!(errors[0], errors[1], "the page does not tell which part was wrong");

    // The right password (Enter in the form: no button value), then the consent page.
    let consent = browser.submit_and_follow(&login, &[("username", "alice"), ("password", "wonderland"), ("remember", "1")]).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
    assert!(consent.url.starts_with(&format!("{}/consent?consent_challenge=", env.app)), "{}", consent.url);
    assert!(consent.html.contains("<strong>demo</strong> wants to access your account"), "{}", consent.html);
    assert_eq!(consent.fields("grant_scope"), ["openid", "offline_access", "email", "profile"]);
    // The login challenge is used up.
    let replay = browser.submit(&login, &[("username", "alice"), ("password", "wonderland")]).await;
    assert_eq!(replay.status, StatusCode::CONFLICT, "{}", replay.html);

    // Allow everything but offline_access.
    let done = browser
        .submit_and_follow(&consent, &[("grant_scope", "openid"), ("grant_scope", "email"), ("grant_scope", "profile"), ("action", "allow")])
        .await;
    let back = at_client(&done);
    assert_eq!(param(&back, "scope").as_deref(), Some("openid email profile"));
    let code = param(&back, "code").expect("a code");

    let tokens = env.exchange(&code, &verifier).await;
    assert!(tokens.get("refresh_token").is_none(), "offline_access was not granted: {tokens}");
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], "alice");
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["name"], "Alice <Liddell>");
    assert_eq!(id["nonce"], "nonce-0123456789");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["aud"], json!([env.client_id]));
    env.stop().await;
}

#[tokio::test]
async fn address_and_phone_scopes_and_the_claims_parameter_reach_the_id_token() {
    let env = Env::start().await;
    let mut browser = Browser::new();
    let claims_param = r#"{"id_token": {"email": {"essential": true}, "nickname": null}}"#;
    let (login, verifier) = login_page(&env, &mut browser, &[("scope", "openid address phone"), ("claims", claims_param)]).await;
    let consent = browser.submit_and_follow(&login, &[("username", "alice"), ("password", "wonderland")]).await;
    assert_eq!(consent.fields("grant_scope"), ["openid", "address", "phone"]);
    let done = browser
        .submit_and_follow(&consent, &[("grant_scope", "openid"), ("grant_scope", "address"), ("grant_scope", "phone"), ("action", "allow")])
        .await;
    let code = param(&at_client(&done), "code").unwrap();
    let id = claims(env.exchange(&code, &verifier).await["id_token"].as_str().unwrap());
    assert_eq!(id["address"], json!({"locality": "Oxford"}));
    assert_eq!(id["phone_number"], "+44 1865 000000");
    assert_eq!(id["email"], "alice@example.com", "asked for with the claims parameter");
    assert!(id.get("name").is_none() && id.get("nickname").is_none(), "neither a granted scope's nor the user's: {id}");
    env.stop().await;
}

fn clone_page(p: &Page) -> Page {
    Page { url: p.url.clone(), status: p.status, location: p.location.clone(), html: p.html.clone() }
}

#[tokio::test]
async fn deny_at_consent_and_cancel_at_login_reach_the_client_as_access_denied() {
    let env = Env::start().await;
    let mut browser = Browser::new();

    let (login, _) = login_page(&env, &mut browser, &[]).await;
    assert_eq!(login.field("username"), "", "no login_hint");
    let consent = browser.submit_and_follow(&login, &[("username", "alice"), ("password", "wonderland"), ("action", "login")]).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.html);
    let denied = at_client(&browser.submit_and_follow(&consent, &[("action", "deny")]).await);
    assert_eq!(param(&denied, "error").as_deref(), Some("access_denied"));
    assert!(param(&denied, "code").is_none());

    let (login, _) = login_page(&env, &mut browser, &[]).await;
    let cancelled = at_client(&browser.submit_and_follow(&login, &[("action", "cancel")]).await);
    assert_eq!(param(&cancelled, "error").as_deref(), Some("access_denied"));
    assert!(param(&cancelled, "code").is_none());
    env.stop().await;
}

#[tokio::test]
async fn a_remembered_session_skips_the_login_form_and_the_consent_page() {
    let env = Env::start().await;
    let mut browser = Browser::new();
    sign_in_remembered(&env, &mut browser).await;

    // Again with the same browser: straight back to the client, no page shown.
    let (url, verifier) = env.auth_url(&[]);
    let back = at_client(&browser.open(&url).await);
    let tokens = env.exchange(&param(&back, "code").unwrap(), &verifier).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!((id["sub"].as_str(), id["email"].as_str()), (Some("alice"), Some("alice@example.com")), "claims on the skip path too");
    assert!(tokens["refresh_token"].is_string());

    // prompt=login asks again; another browser has no session.
    let (again, _) = login_page(&env, &mut browser, &[("prompt", "login")]).await;
    assert!(again.html.contains("name=\"password\""));
    login_page(&env, &mut Browser::new(), &[]).await;
    env.stop().await;
}

#[tokio::test]
async fn bad_challenges_get_error_pages() {
    let env = Env::start().await;
    let mut browser = Browser::new();
    let health = browser.get(&format!("{}/healthz", env.app)).await;
    assert_eq!((health.status, health.html.as_str()), (StatusCode::OK, "ok"));
    for (path, status) in [
        ("/login", StatusCode::BAD_REQUEST),
        ("/login?login_challenge=nope", StatusCode::NOT_FOUND),
        ("/consent?consent_challenge=nope", StatusCode::NOT_FOUND),
    ] {
        let page = browser.get(&format!("{}{path}", env.app)).await;
        assert_eq!(page.status, status, "{path}: {}", page.html);
        assert!(page.html.starts_with("<!doctype html>"));
        assert_eq!(page.location, None);
    }
    env.stop().await;
}

#[tokio::test]
async fn logout_asks_first_and_ends_the_session() {
    let env = Env::start().await;
    let mut browser = Browser::new();
    sign_in_remembered(&env, &mut browser).await;
    let logout = format!("{}/oauth2/sessions/logout", env.public);

    // "Stay signed in": the session goes on.
    let page = browser.open(&logout).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.url.starts_with(&format!("{}/logout?logout_challenge=", env.app)), "{}", page.url);
    assert!(page.html.contains("<strong>alice</strong>"), "{}", page.html);
    let mut forged = clone_page(&page);
    forged.html = forged.html.replace("name=\"csrf\" value=\"", "name=\"csrf\" value=\"x");
    assert_eq!(browser.submit(&forged, &[("action", "yes")]).await.status, StatusCode::FORBIDDEN, "a forged form");
    let stayed = browser.submit(&page, &[("action", "no")]).await;
    assert_eq!(stayed.status, StatusCode::OK);
    assert!(stayed.html.contains("still signed in"), "{}", stayed.html);
    at_client(&browser.open(&env.auth_url(&[]).0).await);

    // "Sign out": back through Clavis, the session ends.
    let page = browser.open(&logout).await;
    let done = browser.submit_and_follow(&page, &[("action", "yes")]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.html);
    assert!(done.url.starts_with(&format!("{}/oauth2/sessions/logout?logout_verifier=", env.public)), "{}", done.url);
    assert!(done.html.contains("logged_out"), "{}", done.html);
    login_page(&env, &mut browser, &[]).await;
    // Nothing left to sign out of: Clavis sends the browser to the app without a challenge.
    let page = browser.open(&logout).await;
    assert!(page.html.contains("You are signed out."), "{}", page.html);
    env.stop().await;
}

/// A TV app: a public client of the device grant, created through the admin API.
async fn device_client(env: &Env) -> String {
    let http = reqwest::Client::new();
    let form = [("grant_type", "client_credentials")];
    let token: Value = http
        .post(format!("{}/oauth2/token", env.public))
        .basic_auth(ADMIN_ID, Some(ADMIN_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = json!({"name": "tv", "redirect_uris": ["https://tv.example/cb"], "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"],
                      "scopes": ["openid", "email"], "is_confidential": false, "client_auth_methods": ["none"]});
    let resp = http
        .post(format!("{}/admin/oauth/clients", env.admin))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.json::<Value>().await.unwrap()["data"]["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_device_is_approved_through_the_code_page_login_and_consent() {
    let env = Env::start().await;
    let tv = device_client(&env).await;
    let http = reqwest::Client::new();
    let d: Value = http
        .post(format!("{}/oauth2/device/auth", env.public))
        .form(&[("client_id", tv.as_str()), ("scope", "openid email")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_code = d["user_code"].as_str().unwrap();

    let mut browser = Browser::new();
    let page = browser.open(d["verification_uri_complete"].as_str().unwrap()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.url.starts_with(&format!("{}/device?device_challenge=", env.app)), "{}", page.url);
    assert_eq!(page.field("user_code"), user_code, "prefilled from verification_uri_complete");
    let wrong = browser.submit(&page, &[("user_code", "BCDF-GHJK")]).await;
    assert_eq!(wrong.status, StatusCode::OK);
    assert!(wrong.html.contains("That code is not valid"), "{}", wrong.html);
    let login = browser.submit_and_follow(&wrong, &[("user_code", &user_code.to_lowercase())]).await;
    assert!(login.url.starts_with(&format!("{}/login?login_challenge=", env.app)), "{}", login.url);
    assert!(login.html.contains("<strong>tv</strong>"), "{}", login.html);
    let consent = browser.submit_and_follow(&login, &[("username", "alice"), ("password", "wonderland"), ("action", "login")]).await;
    let scopes = consent.fields("grant_scope");
    let mut fields: Vec<(&str, &str)> = scopes.iter().map(|s| ("grant_scope", s.as_str())).collect();
    fields.push(("action", "allow"));
    let done = browser.submit_and_follow(&consent, &fields).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.url.starts_with(&format!("{}/oauth2/device/done", env.public)), "{}", done.url);

    let resp = http
        .post(format!("{}/oauth2/token", env.public))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", d["device_code"].as_str().unwrap()),
            ("client_id", &tv),
        ])
        .send()
        .await
        .unwrap();
    let tokens: Value = resp.json().await.unwrap();
    let id = claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!((id["sub"].as_str(), id["email"].as_str()), (Some("alice"), Some("alice@example.com")), "{tokens}");
    env.stop().await;
}
