//! Dynamic client registration (RFC 7591) at `/oauth2/register` and client management
//! (RFC 7592) at `/oauth2/register/{client_id}`, per issuer. Off unless enabled. Clients
//! use Hydra's field names (the same builder as `/admin/clients`), minus what only an
//! admin may set.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_core::Client;
use clavis_service::ServiceError;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::Issuer;
use crate::auth::bearer_token;
use crate::hydra::clients::{build, view, HydraClient, HydraClientRequest};
use crate::hydra::{HydraError, HydraErrorBody, HydraJson};
use crate::AppState;

/// Fields only an admin may set; a registration carrying them is refused.
const PRIVILEGED: &[&str] =
    &["metadata", "skip_consent", "skip_logout_consent", "owner", "access_token_strategy", "client_secret", "client_id", "introspector"];

fn error(status: StatusCode, code: &'static str, description: impl Into<String>) -> HydraError {
    HydraError::new(status, code, description)
}

fn unauthorized(description: &str) -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, "invalid_token", description).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    resp
}

/// The metadata a client may register for itself.
fn check_unprivileged(body: &Map<String, Value>) -> Result<(), HydraError> {
    if let Some(k) = PRIVILEGED.iter().find(|k| body.get(**k).is_some_and(|v| !v.is_null())) {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_client_metadata", format!("{k} cannot be set by dynamic registration")));
    }
    if let Some(k) = body.keys().find(|k| k.ends_with("_lifespan")) {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_client_metadata", format!("{k} cannot be set by dynamic registration")));
    }
    let scope = body.get("scope").and_then(Value::as_str).unwrap_or("");
    if scope.split(' ').any(|s| s == "admin") {
        return Err(error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "scope admin cannot be registered"));
    }
    Ok(())
}

fn object(v: Value) -> Result<Map<String, Value>, HydraError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "the body must be a JSON object")),
    }
}

fn registration_view(issuer: &Issuer, c: &Client) -> HydraClient {
    HydraClient { registration_client_uri: Some(format!("{}/oauth2/register/{}", issuer.url, c.client_id)), ..view(c) }
}

fn service_error(e: ServiceError) -> Response {
    match e {
        ServiceError::Refused(m) => unauthorized(&m),
        ServiceError::Invalid(v) => {
            let code = if v.field.contains("redirect_uri") { "invalid_redirect_uri" } else { "invalid_client_metadata" };
            error(StatusCode::BAD_REQUEST, code, v.to_string()).into_response()
        }
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
    let result = async {
        let body = object(body)?;
        check_unprivileged(&body)?;
        let (client, _) = build(&body, None, &issuer.tenant)?;
        Ok::<_, HydraError>(client)
    }
    .await;
    let client = match result {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match st.services.register_client(&issuer.tenant, client).await {
        Ok((client, secret, token)) => {
            let v = HydraClient { registration_access_token: Some(token), client_secret: secret, ..registration_view(&issuer, &client) };
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
        Ok(client) => Json(registration_view(&issuer, &client)).into_response(),
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
    let built = async {
        let mut body = object(body)?;
        // RFC 7592 §2.2: the body repeats client_id; the rest is new metadata.
        if body.remove("client_id").and_then(|v| v.as_str().map(str::to_owned)).is_some_and(|b| b != current.client_id) {
            return Err(error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "client_id cannot be changed"));
        }
        for k in ["registration_access_token", "registration_client_uri", "client_secret_expires_at", "created_at", "updated_at"] {
            body.remove(k);
        }
        check_unprivileged(&body)?;
        let (mut next, _) = build(&body, Some(&current), &issuer.tenant)?;
        // What only an admin may set stays as it was.
        next.owner = current.owner.clone();
        next.extras.lifespans = current.extras.lifespans.clone();
        next.extras.access_token_strategy = current.extras.access_token_strategy;
        next.extras.hydra.metadata = current.extras.hydra.metadata.clone();
        next.extras.hydra.skip_consent = current.extras.hydra.skip_consent;
        next.extras.hydra.skip_logout_consent = current.extras.hydra.skip_logout_consent;
        Ok(next)
    }
    .await;
    let next = match built {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    match st.services.update_registration(&issuer.tenant, &id, next).await {
        Ok(client) => Json(registration_view(&issuer, &client)).into_response(),
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
