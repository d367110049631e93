//! A client's secrets (`rotate-secret`, `secrets`) and its audit trail.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clavis_core::time::{parse_rfc3339, rfc3339};
use clavis_service::{Actor, AuditEntry, SecretRecord, SecretStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::clients::Ids;
use super::{created, ok, query_pairs, ApiError, Envelope, ErrorEnvelope, OptionalApiJson, PageBody, Paging};
use crate::auth::AdminCaller;
use crate::AppState;

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the previous secret keeps working, 0 to 30 days in seconds [default: 4 hours].
    #[schema(minimum = 0, maximum = 2592000)]
    grace_period_seconds: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Rotated {
    client_id: String,
    new_secret: String,
    rotated_at: String,
}

/// A new secret, shown once; the previous ones expire after the grace period. The body may be omitted.
#[utoipa::path(post, path = "/admin/oauth/clients/{client_id}/rotate-secret", operation_id = "rotateClientSecret", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path)), request_body(content = Option<RotateRequest>),
    responses((status = 200, body = Envelope<Rotated>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn rotate(
    State(st): State<AppState>,
    AdminCaller(p): AdminCaller,
    Ids(ids): Ids,
    OptionalApiJson(body): OptionalApiJson<RotateRequest>,
) -> Result<Response, ApiError> {
    let (new_secret, at) = st.services.rotate_secret(&p.tenant, &ids[0], body.grace_period_seconds, &Actor(p.client_id)).await?;
    Ok(ok(Rotated { client_id: ids[0].clone(), new_secret, rotated_at: rfc3339(at) }))
}

/// A secret as listed: never its value or hash.
#[derive(Serialize, ToSchema)]
pub(crate) struct SecretItem {
    secret_id: String,
    /// `active`, `expiring` (rotated, in its grace period) or `expired`.
    status: &'static str,
    description: String,
    last_four: String,
    created_at: String,
    updated_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
}

impl SecretItem {
    fn new(s: SecretRecord, now: i64) -> Self {
        let status = match s.status {
            _ if !s.is_valid_at(now) => "expired",
            SecretStatus::Active => "active",
            SecretStatus::Expiring => "expiring",
        };
        Self {
            secret_id: s.secret_id,
            status,
            description: s.description,
            last_four: s.last_four,
            created_at: rfc3339(s.created_at),
            updated_at: rfc3339(s.updated_at),
            expires_at: s.expires_at.map(rfc3339),
            last_used_at: s.last_used_at.map(rfc3339),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SecretList {
    secrets: Vec<SecretItem>,
}

#[utoipa::path(get, path = "/admin/oauth/clients/{client_id}/secrets", operation_id = "listClientSecrets", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path)), responses((status = 200, body = Envelope<SecretList>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids) -> Result<Response, ApiError> {
    let now = st.services.now();
    let secrets = st.services.list_secrets(&p.tenant, &ids[0]).await?;
    Ok(ok(SecretList { secrets: secrets.into_iter().map(|s| SecretItem::new(s, now)).collect() }))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSecretRequest {
    /// At most 255 characters.
    description: Option<String>,
    /// RFC 3339.
    expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AddedSecret {
    secret_id: String,
    secret_value: String,
    status: &'static str,
    description: String,
    created_at: String,
    expires_at: Option<String>,
}

/// An additional secret (for a zero-downtime switch), shown once. The body may be omitted.
#[utoipa::path(post, path = "/admin/oauth/clients/{client_id}/secrets", operation_id = "addClientSecret", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path)), request_body(content = Option<AddSecretRequest>),
    responses((status = 201, body = Envelope<AddedSecret>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn add(
    State(st): State<AppState>,
    AdminCaller(p): AdminCaller,
    Ids(ids): Ids,
    OptionalApiJson(body): OptionalApiJson<AddSecretRequest>,
) -> Result<Response, ApiError> {
    let expires_at = match body.expires_at.as_deref() {
        None | Some("") => None,
        Some(s) => Some(parse_rfc3339(s).ok_or_else(|| ApiError::BadRequest("expires_at: must be an RFC 3339 time".into()))?),
    };
    let (record, value) = st.services.add_secret(&p.tenant, &ids[0], body.description, expires_at, &Actor(p.client_id)).await?;
    Ok(created(AddedSecret {
        secret_id: record.secret_id,
        secret_value: value,
        status: "active",
        description: record.description,
        created_at: rfc3339(record.created_at),
        expires_at: record.expires_at.map(rfc3339),
    }))
}

/// Revokes one secret; the last valid secret of a confidential client cannot be deleted.
#[utoipa::path(delete, path = "/admin/oauth/clients/{client_id}/secrets/{secret_id}", operation_id = "deleteClientSecret", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path), ("secret_id" = String, Path)), responses((status = 204, description = "Deleted"), (status = "4XX", body = ErrorEnvelope)))]
pub async fn delete(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids) -> Result<Response, ApiError> {
    st.services.delete_secret(&p.tenant, &ids[0], &ids[1], &Actor(p.client_id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AuditItem {
    id: String,
    tenant_id: String,
    client_id: String,
    actor: String,
    action: String,
    changed_fields: Vec<String>,
    detail: String,
    created_at: String,
}

/// Who changed what, newest first.
#[utoipa::path(get, path = "/admin/oauth/clients/{client_id}/audit", operation_id = "listClientAudit", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path), ("page" = Option<i64>, Query, minimum = 1),
           ("page_size" = Option<i64>, Query, description = "1 to 100 [default: 20]", minimum = 1, maximum = 100)),
    responses((status = 200, body = Envelope<PageBody<AuditItem>>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn audit(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let paging = Paging::parse(&query_pairs(query.as_deref())?)?;
    let page = st.services.list_audit(&p.tenant, &ids[0], paging.page, paging.page_size).await?;
    let tenant = p.tenant.to_string();
    let items = page
        .items
        .into_iter()
        .map(|e: AuditEntry| AuditItem {
            id: e.id,
            tenant_id: tenant.clone(),
            client_id: e.client_id,
            actor: e.actor,
            action: e.action,
            changed_fields: e.changed_fields,
            detail: e.detail,
            created_at: rfc3339(e.created_at),
        })
        .collect();
    Ok(ok(PageBody { items, total: page.total, page: paging.page, page_size: paging.page_size }))
}
