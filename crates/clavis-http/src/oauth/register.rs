//! Dynamic client registration (RFC 7591) at `/oauth2/register` and client management
//! (RFC 7592) at `/oauth2/register/{client_id}`, per issuer. Off unless enabled. What a
//! registration may set is the service's rule (`clavis_service::registration_from_body`);
//! these handlers parse, authorize, call and map.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_core::Client;
use clavis_service::hydra_client::{HydraClient, HydraClientRequest};
use clavis_service::{registration_from_body, registration_update_from_body, ClientMetadataError, ServiceError};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::Issuer;
use crate::auth::bearer_token;
use crate::hydra::{HydraError, HydraErrorBody, HydraJson};
use crate::AppState;

fn error(status: StatusCode, code: &'static str, description: impl Into<String>) -> HydraError {
    HydraError::new(status, code, description)
}

fn unauthorized(description: &str) -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, "invalid_token", description).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    resp
}

fn object(v: Value) -> Result<Map<String, Value>, HydraError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "the body must be a JSON object")),
    }
}

async fn registration_view(st: &AppState, issuer: &Issuer, c: &Client) -> Result<HydraClient, Response> {
    let view = st.services.hydra_view(&issuer.tenant, c).await.map_err(|e| service_error(e.into()))?;
    Ok(HydraClient { registration_client_uri: Some(format!("{}/oauth2/register/{}", issuer.url, c.client_id)), ..view })
}

fn service_error(e: ServiceError) -> Response {
    match e {
        ServiceError::Refused(m) => unauthorized(&m),
        ServiceError::Invalid(v) => HydraError::from(ClientMetadataError::from(v)).into_response(),
        other => HydraError::from(other).into_response(),
    }
}

fn disabled(st: &AppState) -> Option<Response> {
    (!st.services.settings.dcr_enabled)
        .then(|| error(StatusCode::NOT_FOUND, "not_found", "dynamic client registration is not enabled").into_response())
}

/// RFC 7591 dynamic client registration (when enabled), with Hydra's client fields minus
/// the admin-only ones.
#[utoipa::path(post, path = "/oauth2/register", operation_id = "createOidcDynamicClient", tag = "oauth2", security((), ("initial_access_token" = [])),
    request_body = HydraClientRequest,
    responses((status = 201, description = "With `registration_access_token`, shown once", body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn register(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap, HydraJson(body): HydraJson<Value>) -> Response {
    if let Some(r) = disabled(&st) {
        return r;
    }
    if let Some(expected) = &st.services.settings.dcr_initial_access_token {
        let presented = bearer_token(&headers).unwrap_or("");
        if presented.len() != expected.len() || !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
            return unauthorized("an initial access token is required to register");
        }
    }
    let client = match object(body).and_then(|body| Ok(registration_from_body(&body, &issuer.tenant)?)) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match st.services.register_client(&issuer.tenant, client).await {
        Ok((client, secret, token)) => {
            let view = match registration_view(&st, &issuer, &client).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            let v = HydraClient { registration_access_token: Some(token), client_secret: secret, ..view };
            let mut resp = (StatusCode::CREATED, Json(v)).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => service_error(e),
    }
}

async fn authorized(st: &AppState, issuer: &Issuer, headers: &HeaderMap, id: &str) -> Result<Client, Response> {
    if let Some(r) = disabled(st) {
        return Err(r);
    }
    let token = bearer_token(headers).ok_or_else(|| unauthorized("the registration access token is required"))?;
    st.services.registered_client(&issuer.tenant, id, token).await.map_err(service_error)
}

/// RFC 7592: the registered client, for the holder of its registration access token.
#[utoipa::path(get, path = "/oauth2/register/{client_id}", operation_id = "getOidcDynamicClient", tag = "oauth2", security(("registration_token" = [])),
    params(("client_id" = String, Path)), responses((status = 200, body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn get(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap, Path(params): Path<Vec<String>>) -> Response {
    let id = params.last().cloned().unwrap_or_default();
    match authorized(&st, &issuer, &headers, &id).await {
        Ok(client) => registration_view(&st, &issuer, &client).await.map_or_else(|r| r, |v| Json(v).into_response()),
        Err(r) => r,
    }
}

#[utoipa::path(put, path = "/oauth2/register/{client_id}", operation_id = "setOidcDynamicClient", tag = "oauth2", security(("registration_token" = [])),
    params(("client_id" = String, Path)), request_body = HydraClientRequest,
    responses((status = 200, body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn update(
    State(st): State<AppState>,
    issuer: Issuer,
    headers: HeaderMap,
    Path(params): Path<Vec<String>>,
    HydraJson(body): HydraJson<Value>,
) -> Response {
    let id = params.last().cloned().unwrap_or_default();
    let current = match authorized(&st, &issuer, &headers, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let next = match object(body).and_then(|body| Ok(registration_update_from_body(body, &current)?)) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    match st.services.update_registration(&issuer.tenant, &id, next).await {
        Ok(client) => registration_view(&st, &issuer, &client).await.map_or_else(|r| r, |v| Json(v).into_response()),
        Err(e) => service_error(e),
    }
}

#[utoipa::path(delete, path = "/oauth2/register/{client_id}", operation_id = "deleteOidcDynamicClient", tag = "oauth2", security(("registration_token" = [])),
    params(("client_id" = String, Path)), responses((status = 204, description = "Deleted"), (status = "4XX", body = HydraErrorBody)))]
pub async fn delete(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap, Path(params): Path<Vec<String>>) -> Response {
    let id = params.last().cloned().unwrap_or_default();
    if let Err(r) = authorized(&st, &issuer, &headers, &id).await {
        return r;
    }
    match st.services.delete_client(&issuer.tenant, &id, &clavis_service::Actor("dcr".into())).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => service_error(e),
    }
}
