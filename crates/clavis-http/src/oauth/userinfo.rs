//! `GET|POST /userinfo` (OpenID Connect Core §5.3).

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::Issuer;
use crate::AppState;

pub async fn userinfo(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap) -> Response {
    let token = crate::auth::bearer_token(&headers);
    let result = match token {
        Some(t) => st.services.userinfo(&issuer.tenant, t).await,
        None => Err("a bearer access token is required"),
    };
    match result {
        Ok(claims) => {
            let mut resp = Json(claims).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(why) => {
            let mut resp =
                (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_token", "error_description": why}))).into_response();
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            resp
        }
    }
}
