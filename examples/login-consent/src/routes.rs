//! The handlers: `GET/POST /login`, `GET/POST /consent`, `GET/POST /logout`, `GET/POST /device`
//! (the device verification page of RFC 8628), `GET /healthz`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use serde::Deserialize;
use serde_json::json;

use crate::admin_api::{AdminError, ConsentRequest, Kind};
use crate::pages::{self, ConsentForm, DeviceForm, LoginForm, LogoutForm};
use crate::{csrf, AppState};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", get(show_login).post(submit_login))
        .route("/consent", get(show_consent).post(submit_consent))
        .route("/logout", get(show_logout).post(submit_logout))
        .route("/device", get(show_device).post(submit_device))
        .route("/healthz", get(|| async { "ok" }))
        .layer(middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    // Pages and redirects carry challenges and verifiers: keep them out of caches,
    // Referer headers and other sites' frames (clickjacking the Allow button).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    resp
}

#[derive(Deserialize)]
struct Challenges {
    #[serde(default)]
    login_challenge: String,
    #[serde(default)]
    consent_challenge: String,
    #[serde(default)]
    logout_challenge: String,
}

/// An `application/x-www-form-urlencoded` body; keys may repeat (`grant_scope`).
struct FormData(Vec<(String, String)>);

impl FormData {
    fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).into_owned().collect())
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

// ---- login ----

async fn show_login(State(st): State<AppState>, headers: HeaderMap, Query(q): Query<Challenges>) -> Response {
    let challenge = q.login_challenge;
    if challenge.is_empty() {
        return missing_challenge();
    }
    let req = match st.admin().login_request(&challenge).await {
        Ok(r) => r,
        Err(e) => return admin_failure(e),
    };
    if req.skip {
        // Clavis remembers this browser's user: no need to ask again.
        return outcome(st.admin().accept(Kind::Login, &challenge, &json!({ "subject": req.subject })).await);
    }
    login_page(&st, &headers, &challenge, req.client.display_name(), &req.oidc_context.login_hint, None)
}

async fn submit_login(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = FormData::parse(&body);
    let challenge = form.get("login_challenge").unwrap_or_default();
    if challenge.is_empty() {
        return missing_challenge();
    }
    if !csrf_ok(&st, &headers, "login", challenge, &form) {
        return csrf_failure();
    }
    if form.get("action") == Some("cancel") {
        let body = json!({"error": "access_denied", "error_description": "The user cancelled the login"});
        return outcome(st.admin().reject(Kind::Login, challenge, &body).await);
    }
    let username = form.get("username").unwrap_or_default().trim().to_owned();
    let password = form.get("password").unwrap_or_default().to_owned();
    let (users, name) = (st.0.users.clone(), username.clone());
    let verified = tokio::task::spawn_blocking(move || users.verify(&name, &password).is_some()).await.unwrap_or(false);
    if verified {
        let remember = form.get("remember").is_some();
        let body = json!({
            "subject": username, "remember": remember, "remember_for": remember_for(&st, remember),
            "acr": "0", "amr": ["pwd"],
        });
        return outcome(st.admin().accept(Kind::Login, challenge, &body).await);
    }
    tracing::info!("failed login attempt");
    // The same form again, with an error that does not say which field was wrong.
    let req = match st.admin().login_request(challenge).await {
        Ok(r) => r,
        Err(e) => return admin_failure(e),
    };
    login_page(&st, &headers, challenge, req.client.display_name(), &username, Some("The username or password is incorrect."))
}

fn login_page(st: &AppState, headers: &HeaderMap, challenge: &str, client_name: &str, username: &str, error: Option<&str>) -> Response {
    let (nonce, new_cookie) = csrf_nonce(st, headers);
    let token = st.0.csrf.token("login", challenge, &nonce);
    let html = pages::login(&LoginForm { challenge, csrf: &token, client_name, username, error });
    with_cookie(Html(html).into_response(), new_cookie)
}

// ---- device ----

#[derive(Deserialize)]
struct DeviceQuery {
    #[serde(default)]
    device_challenge: String,
    #[serde(default)]
    user_code: String,
}

async fn show_device(State(st): State<AppState>, headers: HeaderMap, Query(q): Query<DeviceQuery>) -> Response {
    if q.device_challenge.is_empty() {
        return missing_challenge();
    }
    let code: String = q.user_code.chars().take(16).collect();
    device_page(&st, &headers, &q.device_challenge, &code, None)
}

async fn submit_device(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = FormData::parse(&body);
    let challenge = form.get("device_challenge").unwrap_or_default();
    if challenge.is_empty() {
        return missing_challenge();
    }
    if !csrf_ok(&st, &headers, "device", challenge, &form) {
        return csrf_failure();
    }
    let code = form.get("user_code").unwrap_or_default().trim().to_owned();
    match st.admin().accept_user_code(challenge, &code).await {
        Ok(to) => redirect(&to),
        Err(AdminError::Api { status: 400, .. }) => {
            device_page(&st, &headers, challenge, &code, Some("That code is not valid. Check the code on your device and try again."))
        }
        Err(AdminError::Api { status: 429, .. }) => {
            device_page(&st, &headers, challenge, &code, Some("Too many attempts. Wait a moment and try again."))
        }
        Err(e) => admin_failure(e),
    }
}

fn device_page(st: &AppState, headers: &HeaderMap, challenge: &str, user_code: &str, error: Option<&str>) -> Response {
    let (nonce, new_cookie) = csrf_nonce(st, headers);
    let token = st.0.csrf.token("device", challenge, &nonce);
    let html = pages::device(&DeviceForm { challenge, csrf: &token, user_code, error });
    with_cookie(Html(html).into_response(), new_cookie)
}

// ---- consent ----

async fn show_consent(State(st): State<AppState>, headers: HeaderMap, Query(q): Query<Challenges>) -> Response {
    let challenge = q.consent_challenge;
    if challenge.is_empty() {
        return missing_challenge();
    }
    let req = match st.admin().consent_request(&challenge).await {
        Ok(r) => r,
        Err(e) => return admin_failure(e),
    };
    if req.skip {
        // The user already consented to these scopes for this client and asked us to remember.
        return accept_consent(&st, &challenge, &req, req.requested_scope.clone(), false).await;
    }
    let (nonce, new_cookie) = csrf_nonce(&st, &headers);
    let token = st.0.csrf.token("consent", &challenge, &nonce);
    let html = pages::consent(&ConsentForm {
        challenge: &challenge,
        csrf: &token,
        client_name: req.client.display_name(),
        subject: &req.subject,
        scopes: &req.requested_scope,
    });
    with_cookie(Html(html).into_response(), new_cookie)
}

async fn submit_consent(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = FormData::parse(&body);
    let challenge = form.get("consent_challenge").unwrap_or_default();
    if challenge.is_empty() {
        return missing_challenge();
    }
    if !csrf_ok(&st, &headers, "consent", challenge, &form) {
        return csrf_failure();
    }
    match form.get("action") {
        Some("deny") => {
            let body = json!({"error": "access_denied", "error_description": "The user denied the request"});
            outcome(st.admin().reject(Kind::Consent, challenge, &body).await)
        }
        Some("allow") => {
            // Grant what was both requested and ticked.
            let req = match st.admin().consent_request(challenge).await {
                Ok(r) => r,
                Err(e) => return admin_failure(e),
            };
            let ticked: Vec<&str> = form.all("grant_scope").collect();
            let grant = req.requested_scope.iter().filter(|s| ticked.contains(&s.as_str())).cloned().collect();
            accept_consent(&st, challenge, &req, grant, form.get("remember").is_some()).await
        }
        _ => error_page(StatusCode::BAD_REQUEST, "Bad request", "Choose Allow or Deny."),
    }
}

async fn accept_consent(st: &AppState, challenge: &str, req: &ConsentRequest, grant: Vec<String>, remember: bool) -> Response {
    let claims = crate::claims::for_consent(st.0.users.get(&req.subject), &grant, &req.oidc_context.claims);
    let body = json!({
        "grant_scope": grant,
        "grant_access_token_audience": req.requested_access_token_audience,
        "remember": remember,
        "remember_for": remember_for(st, remember),
        "session": {"id_token": claims},
    });
    outcome(st.admin().accept(Kind::Consent, challenge, &body).await)
}

fn remember_for(st: &AppState, remember: bool) -> i64 {
    if remember {
        st.0.options.remember_for
    } else {
        0
    }
}

// ---- logout ----

async fn show_logout(State(st): State<AppState>, headers: HeaderMap, Query(q): Query<Challenges>) -> Response {
    let challenge = q.logout_challenge;
    if challenge.is_empty() {
        // Clavis sends the browser here without a challenge once there is nothing to decide.
        return (StatusCode::OK, Html(pages::error("Signed out", "You are signed out."))).into_response();
    }
    let req = match st.admin().logout_request(&challenge).await {
        Ok(r) => r,
        Err(e) => return admin_failure(e),
    };
    let (nonce, new_cookie) = csrf_nonce(&st, &headers);
    let token = st.0.csrf.token("logout", &challenge, &nonce);
    let client_name = req.client.as_ref().map(|c| c.display_name());
    let html = pages::logout(&LogoutForm { challenge: &challenge, csrf: &token, subject: &req.subject, client_name });
    with_cookie(Html(html).into_response(), new_cookie)
}

async fn submit_logout(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = FormData::parse(&body);
    let challenge = form.get("logout_challenge").unwrap_or_default();
    if challenge.is_empty() {
        return missing_challenge();
    }
    if !csrf_ok(&st, &headers, "logout", challenge, &form) {
        return csrf_failure();
    }
    match form.get("action") {
        Some("yes") => outcome(st.admin().accept(Kind::Logout, challenge, &json!({})).await),
        Some("no") => match st.admin().reject_logout(challenge).await {
            Ok(()) => (StatusCode::OK, Html(pages::error("Still signed in", "You are still signed in."))).into_response(),
            Err(e) => admin_failure(e),
        },
        _ => error_page(StatusCode::BAD_REQUEST, "Bad request", "Choose Sign out or Stay signed in."),
    }
}

// ---- CSRF ----

/// The browser's CSRF nonce, and a `Set-Cookie` value when it had none.
fn csrf_nonce(st: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match csrf::nonce_from(headers) {
        Some(n) => (n, None),
        None => {
            let n = csrf::new_nonce();
            let cookie = csrf::set_cookie(&n, st.0.options.secure_cookies);
            (n, Some(cookie))
        }
    }
}

fn csrf_ok(st: &AppState, headers: &HeaderMap, purpose: &str, challenge: &str, form: &FormData) -> bool {
    match (csrf::nonce_from(headers), form.get("csrf")) {
        (Some(nonce), Some(token)) => st.0.csrf.verify(purpose, challenge, &nonce, token),
        _ => false,
    }
}

fn with_cookie(mut resp: Response, cookie: Option<String>) -> Response {
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

// ---- responses ----

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => {
            tracing::error!("Clavis returned a redirect that is not a valid header value");
            unavailable()
        }
    }
}

/// Where an accept/reject call sends the browser, or why it cannot.
fn outcome(r: Result<String, AdminError>) -> Response {
    match r {
        Ok(to) => redirect(&to),
        Err(e) => admin_failure(e),
    }
}

fn admin_failure(e: AdminError) -> Response {
    match e {
        AdminError::Api { status: 404, .. } => error_page(
            StatusCode::NOT_FOUND,
            "Sign-in request not found",
            "This sign-in request is unknown or has expired. Go back to the application and start again.",
        ),
        AdminError::Api { status: 409, .. } => error_page(
            StatusCode::CONFLICT,
            "Already done",
            "This sign-in request has already been completed. Go back to the application and start again.",
        ),
        e => {
            tracing::error!(error = %e, "Clavis admin API call failed");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    error_page(StatusCode::BAD_GATEWAY, "Sign-in unavailable", "The sign-in service is not available right now. Please try again later.")
}

fn missing_challenge() -> Response {
    error_page(StatusCode::BAD_REQUEST, "Bad request", "The challenge is missing. Start from the application you want to sign in to.")
}

fn csrf_failure() -> Response {
    error_page(StatusCode::FORBIDDEN, "Form expired", "This form has expired or was not sent from this site. Go back, reload the page and try again.")
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    (status, Html(pages::error(title, message))).into_response()
}
