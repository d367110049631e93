//! Ory Hydra's client admin API (`/admin/clients`), over the same client store as the
//! authms API. Hydra's view of a client and how a body becomes one are the service's
//! ([`clavis_service::hydra_client`]); these handlers parse, call and map.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_core::json_patch::Operation;
use clavis_service::hydra_client::{self, build, check_secret_expires_at, HydraClient, HydraClientRequest, HydraLifespans};
use clavis_service::{Actor, ClientMetadataError, ServiceError};
use serde_json::{Map, Value};

use super::{HydraAdmin, HydraError, HydraErrorBody, HydraJson, HydraJsonArray};
use crate::AppState;

pub const DEFAULT_PAGE_SIZE: i64 = 250;
pub const MAX_PAGE_SIZE: i64 = 500;

/// Maps the registry's outcome to Hydra's statuses and error codes.
fn service_error(e: ServiceError) -> HydraError {
    match e {
        ServiceError::Invalid(v) => ClientMetadataError::from(v).into(),
        ServiceError::NotFound(_) => not_found(),
        ServiceError::Conflict(m) => HydraError::new(StatusCode::CONFLICT, "conflict", m),
        other => HydraError::from(other),
    }
}

/// Hydra's view of `client`, with `secret` if this answer sets it (shown once).
async fn shown(st: &AppState, t: &clavis_core::TenantId, client: &clavis_core::Client, secret: Option<String>) -> Result<HydraClient, HydraError> {
    let view = st.services.hydra_view(t, client).await.map_err(ServiceError::from)?;
    Ok(HydraClient { client_secret: secret, ..view })
}

fn not_found() -> HydraError {
    HydraError::new(StatusCode::NOT_FOUND, "not_found", "Unable to locate the resource")
}

fn object(body: Value) -> Result<Map<String, Value>, HydraError> {
    match body {
        Value::Object(m) => Ok(m),
        _ => Err(HydraError::bad_request("the body must be a JSON object")),
    }
}

fn client_id(id: &str) -> Result<&str, HydraError> {
    if !clavis_core::ids::is_plausible_id(id) {
        return Err(not_found());
    }
    Ok(id)
}

#[utoipa::path(post, path = "/admin/clients", operation_id = "createOAuth2Client", tag = "hydra", security(("admin_token" = [])), request_body = HydraClientRequest,
    responses((status = 201, body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn create(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, HydraJson(body): HydraJson<Value>) -> Result<Response, HydraError> {
    let body = object(body)?;
    check_secret_expires_at(&body, 0)?;
    let (client, secret) = build(&body, None, &p.tenant)?;
    let (client, secret) = st.services.create_built_client(&p.tenant, client, secret, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok((StatusCode::CREATED, Json(shown(&st, &p.tenant, &client, secret).await?)).into_response())
}

#[utoipa::path(get, path = "/admin/clients/{id}", operation_id = "getOAuth2Client", tag = "hydra", security(("admin_token" = [])), params(("id" = String, Path, description = "The client_id")),
    responses((status = 200, body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn get(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, Path(id): Path<String>) -> Result<Response, HydraError> {
    let client = st.services.get_client(&p.tenant, client_id(&id)?).await.map_err(service_error)?;
    Ok(Json(shown(&st, &p.tenant, &client, None).await?).into_response())
}

/// Replaces every Hydra field (absent ones get Hydra's defaults); a `client_secret` rotates the secret.
#[utoipa::path(put, path = "/admin/clients/{id}", operation_id = "setOAuth2Client", tag = "hydra", security(("admin_token" = [])), params(("id" = String, Path, description = "The client_id")), request_body = HydraClientRequest,
    responses((status = 200, body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn replace(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    Path(id): Path<String>,
    HydraJson(body): HydraJson<Value>,
) -> Result<Response, HydraError> {
    let current = st.services.get_client(&p.tenant, client_id(&id)?).await.map_err(service_error)?;
    let body = object(body)?;
    check_secret_expires_at(&body, st.services.secret_expires_at(&p.tenant, &id).await.map_err(ServiceError::from)?)?;
    let (next, secret) = build(&body, Some(&current), &p.tenant)?;
    let (client, secret) = st.services.replace_client(&p.tenant, &id, next, secret, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok(Json(shown(&st, &p.tenant, &client, secret).await?).into_response())
}

/// RFC 6902 JSON Patch over the client as Hydra shows it (`replace /client_secret` rotates).
#[utoipa::path(patch, path = "/admin/clients/{id}", operation_id = "patchOAuth2Client", tag = "hydra", security(("admin_token" = [])), params(("id" = String, Path, description = "The client_id")), request_body = Vec<Operation>,
    responses((status = 200, body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn patch(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    Path(id): Path<String>,
    HydraJsonArray(ops): HydraJsonArray<Operation>,
) -> Result<Response, HydraError> {
    let current = st.services.get_client(&p.tenant, client_id(&id)?).await.map_err(service_error)?;
    // A patched client may be no larger than a client a PUT could send.
    let (next, secret) = hydra_client::patch(&current, &ops, crate::ADMIN_BODY_LIMIT)?;
    let (client, secret) = st.services.replace_client(&p.tenant, &id, next, secret, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok(Json(shown(&st, &p.tenant, &client, secret).await?).into_response())
}

#[utoipa::path(delete, path = "/admin/clients/{id}", operation_id = "deleteOAuth2Client", tag = "hydra", security(("admin_token" = [])), params(("id" = String, Path, description = "The client_id")),
    responses((status = 204, description = "Deleted"), (status = "4XX", body = HydraErrorBody)))]
pub async fn delete(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, Path(id): Path<String>) -> Result<Response, HydraError> {
    st.services.delete_client(&p.tenant, client_id(&id)?, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT /admin/clients/{id}/lifespans`: all lifespans at once (absent ones unset).
#[utoipa::path(put, path = "/admin/clients/{id}/lifespans", operation_id = "setOAuth2ClientLifespans", tag = "hydra", security(("admin_token" = [])), params(("id" = String, Path, description = "The client_id")), request_body = HydraLifespans,
    responses((status = 200, body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn lifespans(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    Path(id): Path<String>,
    HydraJson(body): HydraJson<Value>,
) -> Result<Response, HydraError> {
    let mut next = st.services.get_client(&p.tenant, client_id(&id)?).await.map_err(service_error)?;
    next.extras.lifespans = hydra_client::lifespans(&object(body)?)?;
    let (client, _) = st.services.replace_client(&p.tenant, &id, next, None, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok(Json(shown(&st, &p.tenant, &client, None).await?).into_response())
}

/// `GET /admin/clients?page_size&page_token&client_name&owner`, Hydra's keyset pagination.
#[utoipa::path(get, path = "/admin/clients", operation_id = "listOAuth2Clients", tag = "hydra", security(("admin_token" = [])),
    params(("page_size" = Option<i64>, Query, description = "1 to 500 [default: 250]", minimum = 1),
           ("page_token" = Option<String>, Query, description = "From the `next` link of the previous page"),
           ("client_name" = Option<String>, Query), ("owner" = Option<String>, Query)),
    responses((status = 200, body = Vec<HydraClient>, headers(("Link" = String, description = "`first` and `next` pages"),
               ("X-Total-Count" = i64))), (status = "4XX", body = HydraErrorBody)))]
pub async fn list(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let params = super::query_params(q.as_deref())?;
    let get = |k: &str| super::param(&params, k);
    // Present but empty is not a number either.
    let page_size = super::page_size(&params)?;
    let token = get("page_token");
    if token.is_some_and(|t| t.len() != 26 || !t.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(HydraError::bad_request("page_token is malformed"));
    }
    let (name, owner) = (get("client_name"), get("owner"));
    let page = st.services.list_clients_after(&p.tenant, token, page_size + 1, name, owner).await.map_err(service_error)?;
    let mut items = page.items;
    let more = items.len() as i64 > page_size;
    items.truncate(page_size as usize);
    let mut body = Vec::with_capacity(items.len());
    for c in &items {
        body.push(shown(&st, &p.tenant, c, None).await?);
    }
    let mut base = form_urlencoded::Serializer::new(String::new());
    base.append_pair("page_size", &page_size.to_string());
    if let Some(n) = name {
        base.append_pair("client_name", n);
    }
    if let Some(o) = owner {
        base.append_pair("owner", o);
    }
    let base = base.finish();
    let mut links = vec![format!("</admin/clients?{base}>; rel=\"first\"")];
    if let (true, Some(last)) = (more, items.last()) {
        links.push(format!("</admin/clients?{base}&page_token={}>; rel=\"next\"", last.id));
    }
    let mut resp = Json(body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&links.join(",")) {
        h.insert(header::LINK, v);
    }
    h.insert("x-total-count", HeaderValue::from(page.total));
    Ok(resp)
}
