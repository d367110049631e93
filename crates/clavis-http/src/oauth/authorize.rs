//! `GET|POST /oauth2/auth` (also `/oauth/authorize`): the browser's side of the
//! authorization code flow. See `clavis_service::flows` for the steps.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_core::TenantId;
use clavis_service::{AuthorizeError, AuthorizeStep, CsrfCookie, LogoutOutcome, Navigation, CSRF_COOKIE_PREFIX};
use cookie::{Cookie, SameSite};
use serde_json::json;

use utoipa::{IntoParams, ToSchema};

use super::pages::{confirmation_page, form_post_page, frontchannel_page};
use super::{Issuer, OAuthErrorBody};
use crate::AppState;

/// The authorization request (RFC 6749 §4.1.1, RFC 7636, OpenID Connect Core §3.1.2.1),
/// as a query (GET) or a form body (POST).
#[derive(IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `request_params` reads
pub(crate) struct AuthorizeParams {
    /// `code`
    response_type: String,
    client_id: String,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    /// RFC 9396: a JSON array of authorization details, of types the client registered.
    authorization_details: Option<String>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to.
    dpop_jkt: Option<String>,
    code_challenge: Option<String>,
    /// `S256`
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<i64>,
    login_hint: Option<String>,
    /// `query` (default), `fragment` or `form_post` (an HTML page that posts the response).
    response_mode: Option<String>,
    /// A signed request object (RFC 9101): its parameters replace all others (but `client_id`).
    request: Option<String>,
    /// From `/oauth2/par`, or one of the client's registered `request_uris`: the request's
    /// parameters replace all others (but `client_id`).
    request_uri: Option<String>,
}

/// An RP-initiated logout request, as a query (GET) or a form body (POST).
#[derive(IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `request_params` reads
pub(crate) struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    /// Back from the logout app (after `PUT …/requests/logout/accept`).
    logout_verifier: Option<String>,
}

/// The login session cookie of a tenant.
fn cookie_name(t: &TenantId) -> String {
    format!("clavis_session_{t}")
}

/// Every `name=value` pair of the request's `Cookie` headers (parsed by the `cookie`
/// crate; pairs it cannot parse are skipped).
fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter_map(|c| Some((c.name_raw()?, c.value_raw()?)))
}

/// A `Set-Cookie` value for one of our browser cookies: HttpOnly, SameSite=Lax, `Secure`
/// when asked; without `max_age` it lasts as long as the browser session.
fn set_cookie(name: &str, value: &str, path: &str, max_age: Option<i64>, secure: bool) -> Option<HeaderValue> {
    let mut cookie = Cookie::build((name, value)).path(path).http_only(true).same_site(SameSite::Lax).secure(secure);
    if let Some(secs) = max_age {
        cookie = cookie.max_age(cookie::time::Duration::seconds(secs));
    }
    HeaderValue::from_str(&cookie.build().to_string()).ok()
}

fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers).find(|(k, _)| *k == name).map(|(_, v)| v)
}

/// The values of the browser's flow-binding cookies (a few at most: one per flow it has
/// under way; more than that is not a browser we owe a flow).
fn csrf_cookies(headers: &HeaderMap) -> Vec<String> {
    cookies(headers).filter(|(k, _)| k.starts_with(CSRF_COOKIE_PREFIX)).take(16).map(|(_, v)| v.to_owned()).collect()
}

/// Sets or clears a flow-binding cookie: HttpOnly, SameSite=Lax (the browser's return
/// from the login app is a top-level navigation, which Lax allows), and scoped to the
/// endpoint's own path, which is where the flow comes back to.
fn csrf_set_cookie(st: &AppState, path: &str, cookie: &CsrfCookie) -> Option<HeaderValue> {
    let secure = st.services.settings.public_url.starts_with("https://");
    let (tag, value, age) = match cookie {
        CsrfCookie::Set { tag, value } => (tag, value.as_str(), st.services.settings.flow_ttl_secs),
        CsrfCookie::Clear { tag } => (tag, "", 0),
    };
    set_cookie(&format!("{CSRF_COOKIE_PREFIX}{tag}"), value, path, Some(age), secure)
}

/// The parameters of a GET (query) or POST (form body) request, as pairs, each name at
/// most once; `Err` is a 400.
fn request_params(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> Result<Vec<(String, String)>, Box<Response>> {
    let raw: &[u8] = if *method == Method::POST { body } else { uri.query().unwrap_or("").as_bytes() };
    crate::params::parse(raw, true).map_err(|e| {
        let body = OAuthErrorBody::json("invalid_request", e.to_string());
        let mut resp = (StatusCode::BAD_REQUEST, body).into_response();
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Box::new(resp)
    })
}

/// The request as the login and logout apps are shown it: the public URL with the
/// parameters as a query, whichever way they came.
fn request_url(st: &AppState, uri: &axum::http::Uri, params: &[(String, String)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("{}{}?{query}", st.services.settings.public_url, uri.path())
}

/// The browser's entry to the authorization code flow: redirects to the login app, the
/// consent app, or back to the client.
/// Also served at `/oauth/authorize`.
#[utoipa::path(get, path = "/oauth2/auth", operation_id = "oAuth2Authorize", tag = "oauth2", params(AuthorizeParams),
    responses((status = 303, description = "Redirect (`Location`)"),
              (status = 400, description = "The client or redirect URI cannot be trusted", body = OAuthErrorBody)))]
pub async fn authorize(
    State(st): State<AppState>,
    issuer: Issuer,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // OIDC allows POST with a form body; it means the same as the GET query.
    let params = match request_params(&method, &uri, &body) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let request_url = request_url(&st, &uri, &params);
    let name = cookie_name(&issuer.tenant);
    let cookie = read_cookie(&headers, &name);
    let bindings = csrf_cookies(&headers);
    let step = st.services.authorize(&issuer.tenant, &issuer.url, &params, &request_url, cookie, &bindings).await;
    step_response(&st, &issuer, uri.path(), &headers, step)
}

/// Where a step of the browser flow goes next, with the cookies it sets or clears.
fn step_response(st: &AppState, issuer: &Issuer, path: &str, headers: &HeaderMap, step: Result<AuthorizeStep, AuthorizeError>) -> Response {
    match step {
        Ok(AuthorizeStep { next, set_session, csrf }) => {
            let mut resp = navigate(&next);
            if let Some(v) = csrf.and_then(|c| csrf_set_cookie(st, path, &c)) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            if let Some((value, max_age)) = set_session {
                let secure = st.services.settings.public_url.starts_with("https://");
                if let Some(v) = set_cookie(&cookie_name(&issuer.tenant), &value, "/", max_age, secure) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(AuthorizeError::Client(next)) => navigate(&next),
        Err(AuthorizeError::Page(e)) => super::error_page(&st.services.settings, headers, &e),
    }
}

/// The device flow's browser side (RFC 8628 §3.3, as Hydra): without parameters (or with
/// `user_code`), a device challenge for the device verification page; with a
/// `device_verifier`, `login_verifier` or `consent_verifier`, the next step of the flow.
#[utoipa::path(get, path = "/oauth2/device/verify", operation_id = "performOAuth2DeviceVerificationFlow", tag = "oauth2",
    params(("user_code" = Option<String>, Query), ("device_verifier" = Option<String>, Query), ("login_verifier" = Option<String>, Query), ("consent_verifier" = Option<String>, Query)),
    responses((status = 303, description = "Redirect (`Location`)"), (status = 400, description = "A spent or unknown verifier", body = OAuthErrorBody)))]
pub async fn device_verify(State(st): State<AppState>, issuer: Issuer, OriginalUri(uri): OriginalUri, headers: HeaderMap) -> Response {
    let params = match request_params(&Method::GET, &uri, &[]) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let name = cookie_name(&issuer.tenant);
    let cookie = read_cookie(&headers, &name);
    let step = st.services.device_verify(&issuer.tenant, &issuer.url, &params, cookie, &csrf_cookies(&headers)).await;
    step_response(&st, &issuer, uri.path(), &headers, step)
}

/// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0); also POST with a form body.
#[utoipa::path(get, path = "/oauth2/sessions/logout", operation_id = "revokeOidcSession", tag = "oauth2", params(LogoutParams),
    responses((status = 303, description = "Redirect to the logout app or the post-logout URI"),
              (status = 200, description = "Logged out (JSON); without an `id_token_hint`, a page asking the user to confirm (HTML); with clients to tell by front-channel, the page that loads their `frontchannel_logout_uri`s (HTML)", body = Object), (status = "4XX", body = OAuthErrorBody)))]
pub async fn logout(
    State(st): State<AppState>,
    issuer: Issuer,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match request_params(&method, &uri, &body) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let name = cookie_name(&issuer.tenant);
    let cookie = read_cookie(&headers, &name);
    let request_url = request_url(&st, &uri, &params);
    let bindings = csrf_cookies(&headers);
    match st.services.logout(&issuer.tenant, &issuer.url, &request_url, &params, cookie, &bindings).await {
        Ok(LogoutOutcome { location, ended, csrf, confirm, frontchannel }) => {
            let mut resp = match (confirm, location) {
                (Some(verifier), _) => confirmation_page(uri.path(), &verifier),
                (None, location) if !frontchannel.is_empty() => frontchannel_page(&frontchannel, location.as_deref()),
                (None, Some(location)) => redirect(&location),
                (None, None) => Json(json!({"status": "logged_out"})).into_response(),
            };
            if let Some(v) = csrf.and_then(|c| csrf_set_cookie(&st, uri.path(), &c)) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            if ended {
                if let Some(v) = set_cookie(&name, "", "/", Some(0), false) {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(e) => super::error_page(&st.services.settings, &headers, &e),
    }
}

/// The authorization request as a form body: the same as [`authorize`].
#[utoipa::path(post, path = "/oauth2/auth", operation_id = "oAuth2AuthorizeForm", tag = "oauth2",
    request_body(content = AuthorizeParams, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Redirect (`Location`)"),
              (status = 400, description = "The client or redirect URI cannot be trusted", body = OAuthErrorBody)))]
pub async fn authorize_form(st: State<AppState>, issuer: Issuer, method: Method, uri: OriginalUri, headers: HeaderMap, body: Bytes) -> Response {
    authorize(st, issuer, method, uri, headers, body).await
}

/// RP-initiated logout with a form body: the same as [`logout`].
#[utoipa::path(post, path = "/oauth2/sessions/logout", operation_id = "revokeOidcSessionForm", tag = "oauth2",
    request_body(content = Option<LogoutParams>, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Redirect to the logout app or the post-logout URI"),
              (status = 200, description = "Logged out", body = Object), (status = "4XX", body = OAuthErrorBody)))]
pub async fn logout_form(st: State<AppState>, issuer: Issuer, method: Method, uri: OriginalUri, headers: HeaderMap, body: Bytes) -> Response {
    logout(st, issuer, method, uri, headers, body).await
}

fn navigate(next: &Navigation) -> Response {
    match next {
        Navigation::Redirect(location) => redirect(location),
        Navigation::FormPost { action, params } => form_post_page(action, params),
    }
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut resp = StatusCode::SEE_OTHER.into_response();
            resp.headers_mut().insert(header::LOCATION, v);
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(_) => (StatusCode::BAD_REQUEST, OAuthErrorBody::json("invalid_request", "unusable redirect")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_headers_are_parsed_and_written_by_the_cookie_crate() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=b; junk; =x;  clavis_csrf_t1=v1 "));
        h.append(header::COOKIE, HeaderValue::from_static("clavis_session_acme=s; clavis_csrf_t2=v2"));
        assert_eq!(read_cookie(&h, "clavis_session_acme"), Some("s"));
        assert_eq!(read_cookie(&h, "junk"), None);
        assert_eq!(csrf_cookies(&h), ["v1", "v2"]);

        let set = set_cookie("clavis_csrf_t1", "v1", "/oauth2/auth", Some(600), true).unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("clavis_csrf_t1=v1;"), "{set}");
        for attr in ["Path=/oauth2/auth", "HttpOnly", "SameSite=Lax", "Max-Age=600", "Secure"] {
            assert!(set.contains(attr), "{attr} in {set}");
        }
        let session = set_cookie("clavis_session_acme", "s", "/", None, false).unwrap();
        assert!(!session.to_str().unwrap().contains("Max-Age") && !session.to_str().unwrap().contains("Secure"));
    }
}
