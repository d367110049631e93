//! The device authorization grant's endpoints (RFC 8628): `POST /oauth2/device/auth`
//! for devices, the page a browser ends on (`/oauth2/device/done`), and the authms
//! `POST /oauth/device/verify` where a signed-in user approves a code directly. The
//! browser flow itself is `authorize::device_verify`; the rules are the service's
//! ([`clavis_service::DeviceAuthorization`]).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_service::{DeviceAuthorization, UserCodeError};
use serde::Deserialize;

use super::token::{authenticate, Form};
use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::authms::{simple, ApiError, ApiJson, ErrorEnvelope};
use crate::AppState;

/// The device authorization request (RFC 8628 §3.1), plus client authentication.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form `Form` reads
pub(crate) struct DeviceAuthorizationForm {
    client_id: Option<String>,
    scope: Option<String>,
    audience: Option<String>,
}

/// A device asks to be authorized: it gets a `device_code` to poll the token endpoint
/// with, and a `user_code` for its user to enter at `verification_uri`.
#[utoipa::path(post, path = "/oauth2/device/auth", operation_id = "oAuth2DeviceFlow", tag = "oauth2", security((), ("client_basic" = [])),
    request_body(content = DeviceAuthorizationForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = DeviceAuthorization), (status = "4XX", body = OAuthErrorBody)))]
pub async fn authorize_device(
    State(st): State<AppState>,
    issuer: Issuer,
    transport: crate::client_cert::Transport,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let form = Form::parse(&headers, &body)?;
        let client = authenticate(&st, &issuer, &headers, &form, &transport).await?;
        st.services.device_authorization(&issuer.tenant, &issuer.url, &client, form.pairs()).await
    }
    .await;
    match result {
        Ok(answer) => {
            let mut resp = Json(answer).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => OAuthResponseError(e).into_response(),
    }
}

/// Where the browser ends a device flow: go back to the device (or, `error`, it was refused).
#[utoipa::path(get, path = "/oauth2/device/done", operation_id = "deviceFlowDone", tag = "oauth2",
    params(("error" = Option<String>, Query)), responses((status = 200, description = "An HTML page")))]
pub async fn done(RawQuery(q): RawQuery) -> Response {
    let refused = q.as_deref().is_some_and(|q| q.split('&').any(|p| p == "error=access_denied"));
    super::pages::device_done_page(!refused)
}

/// authms: the signed-in user's decision on a user code.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeviceVerifyRequest {
    user_code: String,
    /// `true` approves every scope the device asked for; `false` denies the request.
    approve: bool,
}

/// The user of the bearer access token (a user's, not a client's own) approves or denies
/// a device's user code. 400: the code expired or was already used (or the token is no
/// user's); 404: no such code; 429: too many wrong codes lately.
#[utoipa::path(post, path = "/oauth/device/verify", operation_id = "verifyDeviceCode", tag = "oauth2", security(("access_token" = [])),
    request_body = DeviceVerifyRequest,
    responses((status = 200, body = ErrorEnvelope, description = "Simple: done"), (status = "4XX", body = ErrorEnvelope)))]
pub async fn verify(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap, ApiJson(body): ApiJson<DeviceVerifyRequest>) -> Response {
    let Some(token) = crate::auth::bearer_token(&headers) else {
        return ApiError::Unauthorized("a bearer access token is required".into()).into_response();
    };
    match st.services.verify_user_code(&issuer.tenant, &clavis_service::PresentedToken::bearer(token), &body.user_code, body.approve).await {
        Ok(()) => simple(StatusCode::OK, if body.approve { "approved" } else { "denied" }),
        Err(UserCodeError::Unknown) => ApiError::NotFound("no such user_code".into()).into_response(),
        Err(UserCodeError::Expired) => ApiError::BadRequest("the user_code has expired".into()).into_response(),
        Err(UserCodeError::Used) => ApiError::BadRequest("the user_code was already used".into()).into_response(),
        Err(UserCodeError::TooMany(wait)) => too_many(wait),
        Err(UserCodeError::Challenge) => ApiError::BadRequest("the user_code cannot be verified".into()).into_response(),
        Err(UserCodeError::Service(clavis_service::ServiceError::Refused(m))) => ApiError::Unauthorized(m).into_response(),
        Err(UserCodeError::Service(e)) => ApiError::from(e).into_response(),
    }
}

fn too_many(wait: u64) -> Response {
    let mut resp = simple(StatusCode::TOO_MANY_REQUESTS, "too many wrong user codes; retry later");
    resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    resp
}
