//! `POST /oauth2/token` (also `/oauth/token`).

use std::borrow::Cow;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clavis_core::{AuthMethod, Client};
use clavis_service::{ClientRef, Credentials, OAuthError, TokenSet};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::client_ip::ClientIp;
use crate::AppState;

/// A form body as RFC 6749 wants it read: every parameter at most once.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::InvalidRequest("Content-Type must be application/x-www-form-urlencoded".into()));
        }
        Self::parse_body(body)
    }

    /// The body alone: every parameter at most once.
    pub fn parse_body(body: &[u8]) -> Result<Self, OAuthError> {
        crate::params::parse(body, true).map(Self).map_err(|e| OAuthError::InvalidRequest(e.to_string()))
    }

    /// Every parameter, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }
}

/// Client credentials from `Authorization: Basic` (form-urlencoded id and secret, RFC
/// 6749 §2.3.1) or from the body.
fn client_credentials<'a>(headers: &HeaderMap, form: &'a Form) -> Result<(Cow<'a, str>, String, AuthMethod), OAuthError> {
    let invalid = |m: &str| OAuthError::InvalidClient(m.to_owned());
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| invalid("malformed Authorization header"))?;
        if !value.split_once(' ').is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic")) {
            return Err(invalid("only Basic authentication is accepted in the Authorization header"));
        }
        let (id, secret) = parse_basic(value).ok_or_else(|| invalid("malformed Basic credentials"))?;
        if form.get("client_secret").is_some() {
            return Err(OAuthError::InvalidRequest("use one client authentication method, not two".into()));
        }
        if form.get("client_id").is_some_and(|body_id| body_id != id) {
            return Err(OAuthError::InvalidRequest("client_id in the body differs from the authenticated client".into()));
        }
        return Ok((Cow::Owned(id), secret, AuthMethod::ClientSecretBasic));
    }
    match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Ok((Cow::Borrowed(id), secret.to_owned(), AuthMethod::ClientSecretPost)),
        // A public client identifies itself only (RFC 6749 §2.3, method "none").
        (Some(id), None) => Ok((Cow::Borrowed(id), String::new(), AuthMethod::None)),
        _ => Err(invalid("client authentication is required")),
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The endpoints of an issuer that authenticate clients: what an assertion's `aud` may
/// name, besides the issuer itself (RFC 7523 §3, RFC 9126 §2).
const CLIENT_AUTH_PATHS: &[&str] =
    &["", "/oauth2/token", "/oauth/token", "/oauth2/introspect", "/oauth/introspect", "/oauth2/revoke", "/oauth/revoke", "/oauth2/par"];

/// Authenticates the client of a token, introspection, revocation or PAR request: by
/// secret (Basic or body), by assertion (`private_key_jwt`, `client_secret_jwt`), or by
/// its id alone for public clients. The service decides; this only reads the request.
pub(crate) async fn authenticate(st: &AppState, issuer: &Issuer, headers: &HeaderMap, form: &Form) -> Result<ClientRef, OAuthError> {
    let credentials = if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::InvalidRequest(format!("client_assertion_type must be {JWT_BEARER}")));
        }
        if headers.contains_key(header::AUTHORIZATION) || form.get("client_secret").is_some() {
            return Err(OAuthError::InvalidRequest("use one client authentication method, not two".into()));
        }
        let audiences = CLIENT_AUTH_PATHS.iter().map(|path| format!("{}{path}", issuer.url)).collect();
        return st.services.authenticate(&issuer.tenant, Credentials::Assertion { client_id: form.get("client_id"), assertion, audiences }).await;
    } else {
        client_credentials(headers, form)?
    };
    let (client_id, secret, method) = credentials;
    let credentials = match method {
        AuthMethod::None => Credentials::Public { client_id: &client_id },
        method => Credentials::Secret { client_id: &client_id, secret: &secret, method },
    };
    st.services.authenticate(&issuer.tenant, credentials).await
}

/// `Basic base64(urlencode(id):urlencode(secret))` → `(id, secret)` (RFC 6749 §2.3.1).
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((url_decode(id)?, url_decode(secret)?))
}

fn url_decode(s: &str) -> Option<String> {
    let bytes: Vec<u8> = form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(bytes).ok()
}

/// The token request (RFC 6749 §4.1.3, §4.4.2, §6). The client authenticates with
/// `Authorization: Basic`, `client_id` + `client_secret`, a `client_assertion`
/// (`private_key_jwt`, `client_secret_jwt`), or (public clients) `client_id` alone. Every
/// parameter at most once.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the form that `Form` reads
pub(crate) struct TokenRequest {
    /// `client_credentials`, `authorization_code` or `refresh_token`.
    grant_type: String,
    scope: Option<String>,
    /// client_credentials: space-separated audiences, each registered for the client.
    audience: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    /// PKCE (RFC 7636), S256.
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

/// Issues tokens. Also served at `/oauth/token`, and under `/t/{tenant}` for every tenant.
#[utoipa::path(post, path = "/oauth2/token", operation_id = "oauth2TokenExchange", tag = "oauth2", security((), ("client_basic" = [])),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 429, description = "Rate limited; see `Retry-After`", body = OAuthErrorBody), (status = "4XX", body = OAuthErrorBody)))]
pub async fn token(State(st): State<AppState>, issuer: Issuer, ClientIp(ip): ClientIp, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(wait) = st.limits.per_ip.check(&ip) {
        return too_many_requests(wait);
    }
    match issue(&st, &issuer, &headers, &body).await {
        Ok(resp) => resp,
        Err(e) => e,
    }
}

fn too_many_requests(wait: u64) -> Response {
    OAuthResponseError(OAuthError::RateLimited(wait)).into_response()
}

async fn issue(st: &AppState, issuer: &Issuer, headers: &HeaderMap, body: &[u8]) -> Result<Response, Response> {
    let oauth = |e: OAuthError| OAuthResponseError(e).into_response();
    let form = Form::parse(headers, body).map_err(oauth)?;
    let grant_type = form.get("grant_type").ok_or_else(|| oauth(OAuthError::InvalidRequest("grant_type is required".into())))?;
    let client = authenticate(st, issuer, headers, &form).await.map_err(oauth)?;
    if let Err(wait) = st.limits.per_client.check(&format!("{}/{}", issuer.tenant, client.client_id)) {
        return Err(too_many_requests(wait));
    }
    let mut resp = issue_tokens(st, issuer, &form, grant_type, &client).await.map_err(oauth)?;
    resp.extensions_mut().insert(crate::observe::LoggedClient(client.client_id.clone()));
    Ok(resp)
}

async fn issue_tokens(st: &AppState, issuer: &Issuer, form: &Form, grant_type: &str, client: &Client) -> Result<Response, OAuthError> {
    let (t, s) = (&issuer.tenant, &st.services);
    let tokens = match grant_type {
        "client_credentials" => {
            let issued = s.grant_client_credentials(t, &issuer.url, client, form.get("scope"), form.get("audience")).await?;
            TokenSet { access_token: issued.access_token, expires_in: issued.expires_in, scope: issued.scope, id_token: None, refresh_token: None }
        }
        "authorization_code" => s.grant_authorization_code(t, client, form.get("code"), form.get("redirect_uri"), form.get("code_verifier")).await?,
        "refresh_token" => s.grant_refresh_token(t, client, form.get("refresh_token"), form.get("scope")).await?,
        other => return Err(OAuthError::UnsupportedGrantType(format!("grant_type {other:?} is not supported"))),
    };
    st.metrics.token_issued(grant_type, issuer.tenant.as_str());
    let body = TokenResponse {
        access_token: &tokens.access_token,
        token_type: "Bearer",
        expires_in: tokens.expires_in,
        scope: &tokens.scope,
        id_token: tokens.id_token.as_deref(),
        refresh_token: tokens.refresh_token.as_deref(),
    };
    let mut resp = axum::Json(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(resp)
}
