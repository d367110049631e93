//! Introspection (RFC 7662) and revocation (RFC 7009).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_service::{Introspector, OAuthError, PresentedToken, TokenRejection, SIGNED_INTROSPECTION_TYPE};

use super::token::{authenticate, Form};
use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::client_cert::Transport;
use crate::AppState;
use utoipa::ToSchema;

/// The caller of introspection: an access token's holder or an authenticated client. What
/// it may see is the service's decision.
async fn introspection_caller(
    st: &AppState,
    issuer: &Issuer,
    headers: &HeaderMap,
    form: &Form,
    transport: &Transport,
) -> Result<Introspector, OAuthError> {
    if let Some(token) = crate::auth::bearer_token(headers) {
        let p = st.services.verify_access_token(&PresentedToken::bearer(token)).await.map_err(|e| match e {
            TokenRejection::Store(e) => e.into(),
            _ => OAuthError::InvalidClient("invalid bearer token".into()),
        })?;
        return Ok(Introspector::Bearer(p));
    }
    Ok(Introspector::Client(authenticate(st, issuer, headers, form, transport).await?))
}

/// RFC 7662. The caller is a confidential client of the tenant, or holds an admin token of it.
/// Self-registered clients, and unmarked clients when the tenant's `introspection` is
/// `marked_only`, see only their own tokens (others answer `{"active": false}`).
/// Also served at `/oauth/introspect`. With `Accept: application/token-introspection+jwt`
/// the answer is a JWT the issuer signs for the caller (RFC 9701).
#[utoipa::path(post, path = "/oauth2/introspect", operation_id = "introspectOAuth2Token", tag = "oauth2", security(("client_basic" = []), ("admin_token" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content((clavis_service::Introspection = "application/json"), (String = "application/token-introspection+jwt"))), (status = "4XX", body = OAuthErrorBody)))]
pub async fn introspect(State(st): State<AppState>, issuer: Issuer, transport: Transport, headers: HeaderMap, body: Bytes) -> Response {
    let signed = headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(accepts_signed);
    let result = async {
        let form = Form::parse(&headers, &body)?;
        let caller = introspection_caller(&st, &issuer, &headers, &form, &transport).await?;
        let token = form.get("token").ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
        let answer = st.services.introspect_as(&issuer.tenant, &caller, token).await?;
        if !signed {
            return Ok(Json(answer).into_response());
        }
        let jwt = st.services.sign_introspection(&issuer.tenant, &issuer.url, &caller, &answer).await?;
        Ok(([(header::CONTENT_TYPE, HeaderValue::from_static(SIGNED_INTROSPECTION_TYPE))], jwt).into_response())
    }
    .await;
    match result {
        Ok(resp) => no_store(resp),
        Err(e) => OAuthResponseError(e).into_response(),
    }
}

/// Whether an `Accept` value names RFC 9701's signed answer (parameters ignored).
fn accepts_signed(accept: &str) -> bool {
    accept.split(',').any(|t| t.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(SIGNED_INTROSPECTION_TYPE))
}

/// RFC 7009: revokes a refresh token (and what it issued) or an opaque access token of
/// the calling client. Also served at `/oauth/revoke`.
#[utoipa::path(post, path = "/oauth2/revoke", operation_id = "revokeOAuth2Token", tag = "oauth2", security((), ("client_basic" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or unknown (RFC 7009 §2.2)"), (status = "4XX", body = OAuthErrorBody)))]
pub async fn revoke(State(st): State<AppState>, issuer: Issuer, transport: Transport, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let form = Form::parse(&headers, &body)?;
        let client = authenticate(&st, &issuer, &headers, &form, &transport).await?;
        let token = form.get("token").ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
        st.services.revoke(&issuer.tenant, &client, token, form.get("token_type_hint")).await
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => OAuthResponseError(e).into_response(),
    }
}

/// The body of introspection and revocation; client authentication as at the token endpoint.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the form that `Form` reads
pub(crate) struct TokenForm {
    token: String,
    /// `access_token` or `refresh_token`.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

fn no_store(mut resp: Response) -> Response {
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
