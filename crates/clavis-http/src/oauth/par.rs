//! `POST /oauth2/par`: pushed authorization requests (RFC 9126). The client sends the
//! parameters of an authorization request with its credentials, and gets a short-lived
//! `request_uri` to send the browser to `/oauth2/auth` with.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::authorize::AuthorizeParams;
use super::token::{authenticate, Form};
use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::client_cert::Transport;
use crate::AppState;

/// RFC 9126 §2.2.
#[derive(Serialize, ToSchema)]
pub struct PushedRequest {
    /// `urn:ietf:params:oauth:request_uri:…`, for `/oauth2/auth?client_id=…&request_uri=…`; usable once.
    pub(crate) request_uri: String,
    pub(crate) expires_in: i64,
}

/// The request_uri and lifetime of the request in `body`, pushed by the client that
/// authenticates with it (also the authms `POST /oauth/pushed-authorization`).
/// A `DPoP` proof binds the code to be issued to its key (RFC 9449 §10.1).
pub(crate) async fn pushed(
    st: &AppState,
    issuer: &Issuer,
    uri: &Uri,
    transport: &Transport,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, i64), clavis_service::OAuthError> {
    let dpop = super::dpop::dpop_input(st, &Method::POST, uri, headers, transport.listener.as_ref())?;
    let form = Form::parse(headers, body)?;
    let client = authenticate(st, issuer, headers, &form, transport).await?;
    st.services.push_authorization_request(&issuer.tenant, &issuer.url, &client, form.pairs(), dpop.as_ref()).await
}

/// Pushes an authorization request; the client authenticates as at the token endpoint.
#[utoipa::path(post, path = "/oauth2/par", operation_id = "pushAuthorizationRequest", tag = "oauth2",
    security((), ("client_basic" = [])),
    request_body(content = AuthorizeParams, content_type = "application/x-www-form-urlencoded",
                 description = "The authorization request's parameters, plus client authentication"),
    responses((status = 201, body = PushedRequest), (status = "4XX", body = OAuthErrorBody)))]
pub async fn push(
    State(st): State<AppState>,
    issuer: Issuer,
    OriginalUri(uri): OriginalUri,
    transport: Transport,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match pushed(&st, &issuer, &uri, &transport, &headers, &body).await {
        Ok((request_uri, expires_in)) => {
            let mut resp = (StatusCode::CREATED, Json(PushedRequest { request_uri, expires_in })).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if headers.contains_key("dpop") {
                return super::dpop::with_nonce(&st, &issuer.tenant, resp).await;
            }
            resp
        }
        Err(e) => OAuthResponseError(e).into_response(),
    }
}
