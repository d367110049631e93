//! Hydra v2's token operations on the admin listener: `introspectOAuth2Token` (where every
//! resource server and gateway built for Hydra introspects) and `deleteOAuth2Token`.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_service::{Actor, Introspection};
use serde_json::{json, Value};

use super::{param, query_params, HydraAdmin, HydraError, HydraErrorBody};
use crate::AppState;

/// The body of Hydra's admin introspection.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the form the handler reads
pub(crate) struct IntrospectForm {
    token: String,
    /// Space-separated scopes the token must all have been granted, else `active: false`.
    scope: Option<String>,
}

/// Any token of the caller's tenant (access or refresh), as Hydra answers it: `aud` is
/// always an array. The caller is an admin of the tenant.
#[utoipa::path(post, path = "/admin/oauth2/introspect", operation_id = "adminIntrospectOAuth2Token", tag = "hydra", security(("admin_token" = [])),
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection), (status = "4XX", body = HydraErrorBody)))]
pub async fn introspect(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, headers: HeaderMap, body: Bytes) -> Result<Response, HydraError> {
    let is_form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(HydraError::bad_request("the body must be application/x-www-form-urlencoded"));
    }
    let form = crate::params::parse(&body, true).map_err(|e| HydraError::bad_request(e.to_string()))?;
    let token = param(&form, "token").ok_or_else(|| HydraError::bad_request("token is required"))?;
    let found = st.services.introspect(&p.tenant, token).await.map_err(|e| match e.status() {
        503 => HydraError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "the service is temporarily unavailable; retry later"),
        s if s >= 500 => HydraError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", clavis_service::error_chain(&e)),
        _ => HydraError::bad_request(e.description().to_owned()),
    })?;
    let required = param(&form, "scope").map(|s| s.split(' ').filter(|s| !s.is_empty()).collect::<Vec<_>>()).unwrap_or_default();
    let granted: Vec<&str> = found.scope.as_deref().unwrap_or("").split(' ').collect();
    let mut answer = if found.active && required.iter().all(|s| granted.contains(s)) {
        serde_json::to_value(&found).expect("introspection serializes")
    } else {
        json!({"active": false})
    };
    if let Some(aud @ Value::String(_)) = answer.get("aud").cloned() {
        answer["aud"] = json!([aud]);
    }
    let mut resp = Json(answer).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// Every token of a client stops working now (as the authms `revoke-tokens` without grace).
#[utoipa::path(delete, path = "/admin/oauth2/tokens", operation_id = "deleteOAuth2Token", tag = "hydra", security(("admin_token" = [])),
    params(("client_id" = String, Query)), responses((status = 204, description = "Revoked"), (status = "4XX", body = HydraErrorBody)))]
pub async fn delete_tokens(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let params = query_params(q.as_deref())?;
    let client_id = param(&params, "client_id").ok_or_else(|| HydraError::bad_request("query parameter client_id is required"))?;
    st.services.revoke_client_tokens(&p.tenant, client_id, 0, &Actor(p.client_id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
