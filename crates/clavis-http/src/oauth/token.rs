//! `POST /oauth2/token` (also `/oauth/token`).

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use clavis_service::dpop::DpopInput;
use clavis_service::{ClientAuthRequest, ClientRef, OAuthError};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::client_cert::Transport;
use crate::client_ip::ClientIp;
use crate::AppState;

/// A form body as RFC 6749 wants it read: every parameter at most once.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        // No body at all has no parameters, whatever its type: the Hydra SDK sends its
        // device authorization request so (the client authenticated by Basic).
        if body.is_empty() && !headers.contains_key(header::CONTENT_TYPE) {
            return Ok(Self(Vec::new()));
        }
        if !Self::is_form(headers) {
            return Err(OAuthError::InvalidRequest("Content-Type must be application/x-www-form-urlencoded".into()));
        }
        Self::parse_body(body)
    }

    /// Whether the body is declared `application/x-www-form-urlencoded` (parameters after
    /// `;` ignored).
    pub(crate) fn is_form(headers: &HeaderMap) -> bool {
        let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
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
        clavis_core::form::param(&self.0, name)
    }
}

/// Authenticates the client of a token, introspection, revocation or PAR request; the
/// service reads the credentials and picks the method.
pub(crate) async fn authenticate(
    st: &AppState,
    issuer: &Issuer,
    headers: &HeaderMap,
    form: &Form,
    transport: &Transport,
) -> Result<ClientRef, OAuthError> {
    let authorization = match headers.get(header::AUTHORIZATION) {
        Some(v) => Some(v.to_str().map_err(|_| OAuthError::InvalidClient("malformed Authorization header".into()))?),
        None => None,
    };
    st.services
        .authenticate_request(
            &issuer.tenant,
            &issuer.url,
            ClientAuthRequest { authorization, params: form.pairs(), certificate: transport.certificate.as_ref() },
        )
        .await
}

/// The token request (RFC 6749 §4.1.3, §4.4.2, §6). The client authenticates with
/// `Authorization: Basic`, `client_id` + `client_secret`, a `client_assertion`
/// (`private_key_jwt`, `client_secret_jwt`), or (public clients) `client_id` alone. Every
/// parameter at most once.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the form that `Form` reads
pub(crate) struct TokenRequest {
    /// `client_credentials`, `authorization_code`, `refresh_token`,
    /// `urn:ietf:params:oauth:grant-type:device_code`, `…:token-exchange` or `…:jwt-bearer`.
    grant_type: String,
    scope: Option<String>,
    /// Space-separated audiences, each registered for the client.
    audience: Option<String>,
    /// Token exchange: one more audience, an absolute URI (RFC 8707).
    resource: Option<String>,
    /// Device code grant.
    device_code: Option<String>,
    /// JWT bearer grant: the trusted issuer's JWT.
    assertion: Option<String>,
    /// Token exchange (RFC 8693 §2.1): `subject_token`, `subject_token_type`, `actor_token`,
    /// `actor_token_type`, `requested_token_type`.
    subject_token: Option<String>,
    subject_token_type: Option<String>,
    actor_token: Option<String>,
    actor_token_type: Option<String>,
    requested_token_type: Option<String>,
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
    /// Token exchange only (RFC 8693 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
    /// RFC 9396 §7: the authorization details granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    authorization_details: Option<&'a serde_json::Value>,
}

/// Issues tokens. Also served at `/oauth/token`, and under `/t/{tenant}` for every tenant.
#[utoipa::path(post, path = "/oauth2/token", operation_id = "oauth2TokenExchange", tag = "oauth2", security((), ("client_basic" = [])),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 429, description = "Rate limited; see `Retry-After`", body = OAuthErrorBody), (status = "4XX", body = OAuthErrorBody)))]
pub async fn token(
    State(st): State<AppState>,
    issuer: Issuer,
    ClientIp(ip): ClientIp,
    OriginalUri(uri): OriginalUri,
    transport: Transport,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(wait) = st.limits.per_ip.check(&ip) {
        return too_many_requests(wait);
    }
    let dpop = match super::dpop::dpop_input(&st, &Method::POST, &uri, &headers, transport.listener.as_ref()) {
        Ok(dpop) => dpop,
        Err(e) => return OAuthResponseError(e).into_response(),
    };
    let proven = dpop.is_some();
    let resp = match issue(&st, &issuer, &headers, &body, dpop, transport).await {
        Ok(resp) => resp,
        Err(e) => e,
    };
    if proven && resp.status().is_success() {
        return super::dpop::with_nonce(&st, &issuer.tenant, resp).await;
    }
    resp
}

fn too_many_requests(wait: u64) -> Response {
    OAuthResponseError(OAuthError::RateLimited(wait)).into_response()
}

async fn issue(
    st: &AppState,
    issuer: &Issuer,
    headers: &HeaderMap,
    body: &[u8],
    dpop: Option<DpopInput>,
    transport: Transport,
) -> Result<Response, Response> {
    let oauth = |e: OAuthError| OAuthResponseError(e).into_response();
    let form = Form::parse(headers, body).map_err(oauth)?;
    let request = clavis_service::TokenRequest::new(&issuer.tenant, &issuer.url, form.pairs()).map_err(oauth)?;
    let client = authenticate(st, issuer, headers, &form, &transport).await.map_err(oauth)?;
    let request = request.with_proofs(dpop, transport.certificate);
    if let Err(wait) = st.limits.per_client.check(&format!("{}/{}", issuer.tenant, client.client_id)) {
        return Err(too_many_requests(wait));
    }
    let tokens = st.services.token(&request, &client).await.map_err(oauth)?;
    st.metrics.token_issued(request.grant_type, issuer.tenant.as_str());
    let body = TokenResponse {
        access_token: &tokens.access_token,
        token_type: tokens.token_type,
        expires_in: tokens.expires_in,
        scope: &tokens.scope,
        id_token: tokens.id_token.as_deref(),
        refresh_token: tokens.refresh_token.as_deref(),
        issued_token_type: tokens.issued_token_type,
        authorization_details: tokens.authorization_details.as_ref(),
    };
    let mut resp = axum::Json(body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp.extensions_mut().insert(crate::observe::LoggedClient(client.client_id.clone()));
    Ok(resp)
}
