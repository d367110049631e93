//! `/admin/oauth/keys`: the admin's tenant's signing keys (never their private parts).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clavis_core::jose::Alg;
use clavis_core::time::rfc3339;
use clavis_service::KeyInfo;
use serde::Serialize;
use utoipa::ToSchema;

use super::clients::Ids;
use super::{created, ok, query_pairs, ApiError, Envelope, ErrorEnvelope};
use crate::auth::AdminCaller;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct KeyItem {
    kid: String,
    alg: String,
    /// `active` (signs), `verify` (in the JWKS, no longer signs).
    status: String,
    created_at: String,
}

impl From<KeyInfo> for KeyItem {
    fn from(k: KeyInfo) -> Self {
        Self { kid: k.kid, alg: k.alg, status: k.status, created_at: rfc3339(k.created_at) }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct KeyList {
    keys: Vec<KeyItem>,
}

fn internal(e: clavis_service::StoreError) -> ApiError {
    ApiError::from(e)
}

/// The tenant's signing keys (never their private parts).
#[utoipa::path(get, path = "/admin/oauth/keys", operation_id = "listKeys", tag = "authms", security(("admin_token" = [])), responses((status = 200, body = Envelope<KeyList>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(State(st): State<AppState>, AdminCaller(p): AdminCaller) -> Result<Response, ApiError> {
    let keys = st.services.keys.list(&p.tenant).await.map_err(internal)?;
    Ok(ok(KeyList { keys: keys.into_iter().map(KeyItem::from).collect() }))
}

/// New signing keys, for one algorithm (`alg`) or for every one; the previous ones stay in
/// the JWKS (status `verify`) until retired. Answers with the new keys.
#[utoipa::path(post, path = "/admin/oauth/keys/rotate", operation_id = "rotateKey", tag = "authms", security(("admin_token" = [])),
    params(("alg" = Option<String>, Query, description = "`RS256`, `PS256`, `ES256` or `EdDSA` [default: all four]")),
    responses((status = 201, body = Envelope<KeyList>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn rotate(State(st): State<AppState>, AdminCaller(p): AdminCaller, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let params = query_pairs(query.as_deref())?;
    let alg = match params.iter().find(|(k, _)| k == "alg") {
        None => None,
        Some((_, v)) => Some(v.parse::<Alg>().map_err(|e| ApiError::BadRequest(format!("alg {e}")))?),
    };
    let kids = st.services.keys.rotate(&p.tenant, alg).await.map_err(internal)?;
    let keys = st.services.keys.list(&p.tenant).await.map_err(internal)?;
    let new: Vec<KeyItem> = keys.into_iter().filter(|k| kids.contains(&k.kid)).map(KeyItem::from).collect();
    if new.len() != kids.len() {
        return Err(ApiError::Internal("rotated key not found".into()));
    }
    Ok(created(KeyList { keys: new }))
}

/// Removes a `verify` key from the JWKS; the active key cannot be retired.
#[utoipa::path(delete, path = "/admin/oauth/keys/{kid}", operation_id = "retireKey", tag = "authms", security(("admin_token" = [])), params(("kid" = String, Path)),
    responses((status = 204, description = "Retired"), (status = "4XX", body = ErrorEnvelope)))]
pub async fn retire(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids) -> Result<Response, ApiError> {
    st.services.keys.retire(&p.tenant, &ids[0]).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
