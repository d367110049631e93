//! The authms OAuth service's routes beside its client API, on the public listener and in
//! its envelope (`{code, message, data, timestamp}`; errors `SimpleResponse`):
//! `POST /oauth/pushed-authorization` (as `/oauth2/par`), `GET /oauth/userinfo`, and the
//! bearer user's remembered consents, `GET /oauth/consents`, `DELETE /oauth/consents/{id}`.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use clavis_service::{OAuthError, PresentedToken, TokenRejection, UserConsent};

use super::par::PushedRequest;
use super::Issuer;
use crate::authms::{created, ok, simple, ApiError, Envelope, ErrorEnvelope};
use crate::AppState;

/// An OAuth error in the authms envelope: `message` is `error: description`.
fn oauth_error(e: OAuthError) -> Response {
    let message = format!("{}: {}", e.code(), e.description());
    match e {
        OAuthError::RateLimited(wait) => {
            let mut resp = simple(StatusCode::TOO_MANY_REQUESTS, &message);
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
            resp
        }
        OAuthError::InvalidClient(_) => ApiError::Unauthorized(message).into_response(),
        OAuthError::ServerError { .. } => ApiError::Internal(clavis_service::error_chain(&e)).into_response(),
        OAuthError::Unavailable(_) => ApiError::Unavailable.into_response(),
        _ => ApiError::BadRequest(message).into_response(),
    }
}

fn token_error(e: TokenRejection) -> ApiError {
    match e {
        TokenRejection::Store(e) => clavis_service::ServiceError::from(e).into(),
        other => ApiError::Unauthorized(other.to_string()),
    }
}

/// The bearer user of the request, or the 401 to answer.
async fn user(st: &AppState, issuer: &Issuer, headers: &HeaderMap) -> Result<String, ApiError> {
    let token = crate::auth::bearer_token(headers).ok_or_else(|| ApiError::Unauthorized("a bearer access token is required".into()))?;
    st.services.user_of_token(&issuer.tenant, &PresentedToken::bearer(token)).await.map_err(token_error)
}

/// Pushes an authorization request as `/oauth2/par` does (the client authenticates as at
/// the token endpoint): 201 with `data: {request_uri, expires_in}`.
#[utoipa::path(post, path = "/oauth/pushed-authorization", operation_id = "authmsPushAuthorizationRequest", tag = "oauth2", security((), ("client_basic" = [])),
    request_body(content = super::authorize::AuthorizeParams, content_type = "application/x-www-form-urlencoded"),
    responses((status = 201, body = Envelope<PushedRequest>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn push(
    State(st): State<AppState>,
    issuer: Issuer,
    OriginalUri(uri): OriginalUri,
    transport: crate::client_cert::Transport,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match super::par::pushed(&st, &issuer, &uri, &transport, &headers, &body).await {
        Ok((request_uri, expires_in)) => {
            let mut resp = created(PushedRequest { request_uri, expires_in });
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => oauth_error(e),
    }
}

/// The bearer user's claims (as `/userinfo`, never signed), in `data`.
#[utoipa::path(get, path = "/oauth/userinfo", operation_id = "authmsUserinfo", tag = "oauth2", security(("access_token" = [])),
    responses((status = 200, body = Envelope<Object>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn userinfo(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = crate::auth::bearer_token(&headers).ok_or_else(|| ApiError::Unauthorized("a bearer access token is required".into()))?;
    let claims = st.services.userinfo_claims(&issuer.tenant, &PresentedToken::bearer(token)).await.map_err(token_error)?;
    let mut resp = ok(claims);
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The bearer user's remembered consents (`id` is the client's id).
#[utoipa::path(get, path = "/oauth/consents", operation_id = "authmsListConsents", tag = "oauth2", security(("access_token" = [])),
    responses((status = 200, body = Envelope<Vec<UserConsent>>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list_consents(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap) -> Result<Response, ApiError> {
    let subject = user(&st, &issuer, &headers).await?;
    Ok(ok(st.services.user_consents(&issuer.tenant, &subject).await?))
}

/// Forgets the consent and revokes the refresh tokens it granted, with their access tokens.
#[utoipa::path(delete, path = "/oauth/consents/{id}", operation_id = "authmsRevokeConsent", tag = "oauth2", security(("access_token" = [])),
    params(("id" = String, Path)), responses((status = 200, body = ErrorEnvelope, description = "Simple: revoked"), (status = "4XX", body = ErrorEnvelope)))]
pub async fn revoke_consent(
    State(st): State<AppState>,
    issuer: Issuer,
    headers: HeaderMap,
    Path(params): Path<Vec<String>>,
) -> Result<Response, ApiError> {
    let subject = user(&st, &issuer, &headers).await?;
    // Under `/t/{tenant}` the tenant is a path parameter too: the id is the last one.
    let id = params.last().cloned().unwrap_or_default();
    st.services.revoke_user_consent(&issuer.tenant, &subject, &id).await?;
    Ok(simple(StatusCode::OK, "revoked"))
}
