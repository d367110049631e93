//! Discovery (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS. The metadata lists
//! only what this server implements today.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::extract::State;
use axum::Json;
use clavis_core::GrantType;
use serde_json::{json, Value};

use super::{Issuer, OAuthResponseError};
use crate::AppState;

fn metadata(issuer: &Issuer) -> Value {
    let url = &issuer.url;
    json!({
        "issuer": url,
        "token_endpoint": format!("{url}/oauth2/token"),
        "jwks_uri": format!("{url}/.well-known/jwks.json"),
        "grant_types_supported": [GrantType::ClientCredentials.as_str()],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": [],
        "scopes_supported": [],
        "access_token_signing_alg_values_supported": ["ES256"],
    })
}

pub async fn openid_configuration(issuer: Issuer) -> Json<Value> {
    Json(metadata(&issuer))
}

pub async fn authorization_server(issuer: Issuer) -> Json<Value> {
    Json(metadata(&issuer))
}

pub async fn jwks(State(st): State<AppState>, issuer: Issuer) -> Result<Response, OAuthResponseError> {
    let keys = st.services.keys.for_tenant(&issuer.tenant).await.map_err(|e| OAuthResponseError(e.into()))?;
    let mut resp = Json(keys.jwks()).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(resp)
}
