//! `GET|POST /userinfo` (OpenID Connect Core §5.3). The access token comes in
//! `Authorization: Bearer` (RFC 6750 §2.1) or, on POST, as the form parameter
//! `access_token` (§2.2); a request that uses both is refused (§2).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use clavis_service::{TokenRejection, Userinfo};

use super::token::Form;
use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::AppState;

/// OpenID Connect Core §5.3: the claims of the access token's subject.
#[utoipa::path(get, path = "/userinfo", operation_id = "getOidcUserInfo", tag = "oauth2", security(("access_token" = [])),
    responses((status = 200, description = "Claims: JSON, or a signed JWT (`application/jwt`) for clients with `userinfo_signed_response_alg`", body = Object), (status = 401, body = OAuthErrorBody)))]
pub async fn userinfo(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap) -> Response {
    claims(&st, &issuer, crate::auth::bearer_token(&headers)).await
}

/// The same as [`userinfo`] (OpenID Connect allows POST); the token may be in the form.
#[utoipa::path(post, path = "/userinfo", operation_id = "postOidcUserInfo", tag = "oauth2", security(("access_token" = [])),
    request_body(content = Option<UserinfoForm>, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Claims: JSON, or a signed JWT (`application/jwt`) for clients with `userinfo_signed_response_alg`", body = Object), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody)))]
pub async fn userinfo_post(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap, body: Bytes) -> Response {
    let form = if Form::is_form(&headers) {
        match Form::parse_body(&body) {
            Ok(form) => Some(form),
            Err(e) => return bearer_error(StatusCode::BAD_REQUEST, "invalid_request", e.description()),
        }
    } else {
        None
    };
    let in_body = form.as_ref().and_then(|f| f.get("access_token"));
    match (crate::auth::bearer_token(&headers), in_body) {
        (Some(_), Some(_)) => bearer_error(StatusCode::BAD_REQUEST, "invalid_request", "send the access token once: in the header or in the body"),
        (header_token, body_token) => claims(&st, &issuer, header_token.or(body_token)).await,
    }
}

/// The form of `POST /userinfo` (RFC 6750 §2.2).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form that `Form` reads
pub(crate) struct UserinfoForm {
    /// The access token, when it is not in `Authorization: Bearer`.
    access_token: Option<String>,
}

/// An RFC 6750 §3 error: its status, body and `WWW-Authenticate` challenge.
fn bearer_error(status: StatusCode, code: &'static str, why: &str) -> Response {
    let mut resp = (status, OAuthErrorBody::json(code, why)).into_response();
    let challenge = format!("Bearer error=\"{code}\"");
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_str(&challenge).expect("an ASCII challenge"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn claims(st: &AppState, issuer: &Issuer, token: Option<&str>) -> Response {
    let result = match token {
        Some(t) => st.services.userinfo(&issuer.tenant, t).await,
        None => Err(TokenRejection::Invalid("a bearer access token is required")),
    };
    match result {
        Ok(answer) => {
            let mut resp = match answer {
                Userinfo::Claims(claims) => Json(claims).into_response(),
                Userinfo::Signed(jwt) => ([(header::CONTENT_TYPE, HeaderValue::from_static("application/jwt"))], jwt).into_response(),
            };
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(TokenRejection::Store(e)) => OAuthResponseError(e.into()).into_response(),
        Err(TokenRejection::Invalid(why)) => bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", why),
    }
}
