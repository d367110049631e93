//! `GET|POST /userinfo` (OpenID Connect Core §5.3).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use clavis_service::TokenRejection;

use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::AppState;

/// OpenID Connect Core §5.3: the claims of the access token's subject.
#[utoipa::path(get, path = "/userinfo", operation_id = "getOidcUserInfo", tag = "oauth2", security(("access_token" = [])),
    responses((status = 200, description = "Claims", body = Object), (status = 401, body = OAuthErrorBody)))]
pub async fn userinfo(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap) -> Response {
    let token = crate::auth::bearer_token(&headers);
    let result = match token {
        Some(t) => st.services.userinfo(&issuer.tenant, t).await,
        None => Err(TokenRejection::Invalid("a bearer access token is required")),
    };
    match result {
        Ok(claims) => {
            let mut resp = Json(claims).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(TokenRejection::Store(e)) => OAuthResponseError(e.into()).into_response(),
        Err(TokenRejection::Invalid(why)) => {
            let mut resp = (StatusCode::UNAUTHORIZED, OAuthErrorBody::json("invalid_token", why)).into_response();
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            resp
        }
    }
}

/// The same as [`userinfo`] (OpenID Connect allows POST).
#[utoipa::path(post, path = "/userinfo", operation_id = "postOidcUserInfo", tag = "oauth2", security(("access_token" = [])),
    responses((status = 200, description = "Claims", body = Object), (status = 401, body = OAuthErrorBody)))]
pub async fn userinfo_post(st: State<AppState>, issuer: Issuer, headers: HeaderMap) -> Response {
    userinfo(st, issuer, headers).await
}
