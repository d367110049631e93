//! `GET|POST /userinfo` (OpenID Connect Core §5.3). The access token comes in
//! `Authorization: Bearer` (RFC 6750 §2.1), in `Authorization: DPoP` with a `DPoP` proof
//! (RFC 9449 §7.1; a DPoP-bound token only so) or, on POST, as the form parameter
//! `access_token` (RFC 6750 §2.2); a request that uses two is refused (§2).

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use clavis_service::{PresentedToken, TokenRejection, Userinfo};

use super::token::Form;
use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::client_cert::Transport;
use crate::AppState;

/// OpenID Connect Core §5.3: the claims of the access token's subject.
#[utoipa::path(get, path = "/userinfo", operation_id = "getOidcUserInfo", tag = "oauth2", security(("access_token" = [])),
    responses((status = 200, description = "Claims: JSON, or a signed JWT (`application/jwt`) for clients with `userinfo_signed_response_alg`", body = Object), (status = 401, body = OAuthErrorBody)))]
pub async fn userinfo(
    State(st): State<AppState>,
    issuer: Issuer,
    method: Method,
    OriginalUri(uri): OriginalUri,
    transport: Transport,
    headers: HeaderMap,
) -> Response {
    match crate::auth::presented_token(&st, &method, &uri, &transport, &headers) {
        Ok(presented) => claims(&st, &issuer, presented).await,
        Err(e) => token_error(&st, &issuer, e, true).await,
    }
}

/// The same as [`userinfo`] (OpenID Connect allows POST); a bearer token may be in the form.
#[utoipa::path(post, path = "/userinfo", operation_id = "postOidcUserInfo", tag = "oauth2", security(("access_token" = [])),
    request_body(content = Option<UserinfoForm>, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Claims: JSON, or a signed JWT (`application/jwt`) for clients with `userinfo_signed_response_alg`", body = Object), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody)))]
pub async fn userinfo_post(
    State(st): State<AppState>,
    issuer: Issuer,
    method: Method,
    OriginalUri(uri): OriginalUri,
    transport: Transport,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = if Form::is_form(&headers) {
        match Form::parse_body(&body) {
            Ok(form) => Some(form),
            Err(e) => return challenge(StatusCode::BAD_REQUEST, "invalid_request", e.description(), false),
        }
    } else {
        None
    };
    let in_body = form.as_ref().and_then(|f| f.get("access_token"));
    let in_header = match crate::auth::presented_token(&st, &method, &uri, &transport, &headers) {
        Ok(presented) => presented,
        Err(e) => return token_error(&st, &issuer, e, true).await,
    };
    match (in_header, in_body) {
        (Some(_), Some(_)) => {
            challenge(StatusCode::BAD_REQUEST, "invalid_request", "send the access token once: in the header or in the body", false)
        }
        (Some(presented), None) => claims(&st, &issuer, Some(presented)).await,
        (None, body_token) => {
            let presented = body_token.map(|t| PresentedToken { certificate: transport.certificate.clone(), ..PresentedToken::bearer(t) });
            claims(&st, &issuer, presented).await
        }
    }
}

/// The form of `POST /userinfo` (RFC 6750 §2.2).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form that `Form` reads
pub(crate) struct UserinfoForm {
    /// The access token, when it is not in `Authorization: Bearer`.
    access_token: Option<String>,
}

/// An RFC 6750 §3 / RFC 9449 §7.1 error: its status, body and `WWW-Authenticate`
/// challenge, in the DPoP scheme when the error is about DPoP (with the proof algorithms
/// accepted), else in the Bearer scheme.
fn challenge(status: StatusCode, code: &'static str, why: &str, dpop: bool) -> Response {
    let mut resp = (status, OAuthErrorBody::json(code, why)).into_response();
    let challenge = match dpop {
        true => format!("DPoP error=\"{code}\", algs=\"{}\"", clavis_core::dpop::DPOP_ALGS.join(" ")),
        false => format!("Bearer error=\"{code}\""),
    };
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(&challenge).expect("an ASCII challenge"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// A refused access token (or its proof) as the resource's answer.
async fn token_error(st: &AppState, issuer: &Issuer, e: TokenRejection, dpop_scheme: bool) -> Response {
    match e {
        TokenRejection::Store(e) => OAuthResponseError(e.into()).into_response(),
        TokenRejection::Invalid(why) => challenge(StatusCode::UNAUTHORIZED, "invalid_token", why, dpop_scheme),
        TokenRejection::Dpop(why) => {
            super::dpop::with_nonce(st, &issuer.tenant, challenge(StatusCode::UNAUTHORIZED, "invalid_dpop_proof", &why, true)).await
        }
        TokenRejection::UseDpopNonce(nonce) => {
            let mut resp =
                challenge(StatusCode::UNAUTHORIZED, "use_dpop_nonce", "a DPoP proof with the server's nonce (DPoP-Nonce) is required", true);
            super::dpop::set_nonce(resp.headers_mut(), &nonce);
            resp
        }
    }
}

async fn claims(st: &AppState, issuer: &Issuer, presented: Option<PresentedToken>) -> Response {
    let Some(presented) = presented else {
        return challenge(StatusCode::UNAUTHORIZED, "invalid_token", "an access token is required (Bearer or DPoP)", false);
    };
    let dpop = presented.dpop.is_some();
    match st.services.userinfo(&issuer.tenant, &presented).await {
        Ok(answer) => {
            let mut resp = match answer {
                Userinfo::Claims(claims) => Json(claims).into_response(),
                Userinfo::Signed(jwt) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/jwt"))], jwt).into_response(),
            };
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            if dpop {
                return super::dpop::with_nonce(st, &issuer.tenant, resp).await;
            }
            resp
        }
        Err(e) => token_error(st, issuer, e, dpop).await,
    }
}
