//! Hydra's JSON Web Key API (`/admin/keys/{set}[/{kid}]`, the SDK's JwkApi) over the
//! tenant's signing keys: the mapping is the service's ([`clavis_service::KeySet`]).
//! Answers carry public keys only: a signing key's private half never leaves Clavis.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_core::jose::PublicJwk;
use clavis_service::KeySet;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{HydraAdmin, HydraError, HydraErrorBody, HydraJson};
use crate::AppState;

/// Hydra's `createJsonWebKeySet` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateJsonWebKeySet {
    /// RS256, PS256, ES256 or EdDSA.
    alg: String,
    /// Empty: the key's RFC 7638 thumbprint.
    #[serde(default)]
    kid: String,
    /// `sig` (Clavis keeps signing keys only).
    #[serde(default, rename = "use")]
    key_use: String,
}

/// Hydra's `jsonWebKeySet`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct JsonWebKeySet {
    #[schema(value_type = Vec<Object>)]
    keys: Vec<Value>,
}

fn set_of(keys: &[PublicJwk]) -> JsonWebKeySet {
    JsonWebKeySet { keys: keys.iter().map(PublicJwk::to_json).collect() }
}

/// A new key in the set; it signs that set's tokens from now on (201, the public key).
#[utoipa::path(post, path = "/admin/keys/{set}", operation_id = "createJsonWebKeySet", tag = "hydra", security(("admin_token" = [])),
    params(("set" = String, Path)), request_body = CreateJsonWebKeySet,
    responses((status = 201, body = JsonWebKeySet), (status = "4XX", body = HydraErrorBody)))]
pub async fn create_set(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    Path(set): Path<String>,
    HydraJson(body): HydraJson<CreateJsonWebKeySet>,
) -> Result<Response, HydraError> {
    let set = KeySet::parse(&set)?;
    let key = st.services.create_set_key(&p.tenant, set, &body.alg, &body.kid, &body.key_use).await?;
    Ok((StatusCode::CREATED, Json(set_of(&[key]))).into_response())
}

/// The set's published keys, the one it signs with first.
#[utoipa::path(get, path = "/admin/keys/{set}", operation_id = "getJsonWebKeySet", tag = "hydra", security(("admin_token" = [])),
    params(("set" = String, Path)), responses((status = 200, body = JsonWebKeySet), (status = "4XX", body = HydraErrorBody)))]
pub async fn get_set(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, Path(set): Path<String>) -> Result<Json<JsonWebKeySet>, HydraError> {
    let keys = st.services.key_set(&p.tenant, KeySet::parse(&set)?).await?;
    Ok(Json(set_of(&keys)))
}

/// Brings private keys (one per algorithm): each becomes its algorithm's active key.
#[utoipa::path(put, path = "/admin/keys/{set}", operation_id = "setJsonWebKeySet", tag = "hydra", security(("admin_token" = [])),
    params(("set" = String, Path)), request_body = JsonWebKeySet,
    responses((status = 200, body = JsonWebKeySet), (status = "4XX", body = HydraErrorBody)))]
pub async fn set_set(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    Path(set): Path<String>,
    HydraJson(body): HydraJson<JsonWebKeySet>,
) -> Result<Json<JsonWebKeySet>, HydraError> {
    let keys = st.services.import_set_keys(&p.tenant, KeySet::parse(&set)?, &body.keys, None).await?;
    Ok(Json(set_of(&keys)))
}

/// Replaces every signing key of the tenant (both sets are one pool): all tokens signed
/// so far stop verifying.
#[utoipa::path(delete, path = "/admin/keys/{set}", operation_id = "deleteJsonWebKeySet", tag = "hydra", security(("admin_token" = [])),
    params(("set" = String, Path)), responses((status = 204, description = "Replaced"), (status = "4XX", body = HydraErrorBody)))]
pub async fn delete_set(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, Path(set): Path<String>) -> Result<StatusCode, HydraError> {
    KeySet::parse(&set)?;
    st.services.delete_key_sets(&p.tenant).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One key of the set, as a set of one.
#[utoipa::path(get, path = "/admin/keys/{set}/{kid}", operation_id = "getJsonWebKey", tag = "hydra", security(("admin_token" = [])),
    params(("set" = String, Path), ("kid" = String, Path)), responses((status = 200, body = JsonWebKeySet), (status = "4XX", body = HydraErrorBody)))]
pub async fn get_key(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    Path((set, kid)): Path<(String, String)>,
) -> Result<Json<JsonWebKeySet>, HydraError> {
    let key = st.services.key_in_set(&p.tenant, KeySet::parse(&set)?, &kid).await?;
    Ok(Json(set_of(&[key])))
}

/// Brings one private key under the path's kid: it becomes its algorithm's active key.
#[utoipa::path(put, path = "/admin/keys/{set}/{kid}", operation_id = "setJsonWebKey", tag = "hydra", security(("admin_token" = [])),
    params(("set" = String, Path), ("kid" = String, Path)), request_body = Object,
    responses((status = 200, body = Object, description = "The public key"), (status = "4XX", body = HydraErrorBody)))]
pub async fn set_key(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    Path((set, kid)): Path<(String, String)>,
    HydraJson(jwk): HydraJson<Value>,
) -> Result<Json<Value>, HydraError> {
    let keys = st.services.import_set_keys(&p.tenant, KeySet::parse(&set)?, std::slice::from_ref(&jwk), Some(&kid)).await?;
    Ok(Json(keys[0].to_json()))
}

/// Ends the key at once (an active key is replaced by a new one first).
#[utoipa::path(delete, path = "/admin/keys/{set}/{kid}", operation_id = "deleteJsonWebKey", tag = "hydra", security(("admin_token" = [])),
    params(("set" = String, Path), ("kid" = String, Path)), responses((status = 204, description = "Deleted"), (status = "4XX", body = HydraErrorBody)))]
pub async fn delete_key(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    Path((set, kid)): Path<(String, String)>,
) -> Result<StatusCode, HydraError> {
    KeySet::parse(&set)?;
    st.services.delete_set_key(&p.tenant, &kid).await?;
    Ok(StatusCode::NO_CONTENT)
}
