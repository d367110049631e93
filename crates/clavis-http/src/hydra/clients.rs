//! Ory Hydra's client admin API (`/admin/clients`), over the same client store as the
//! authms API. Hydra's view of a client is built by [`view`]; a request body becomes a
//! client by [`build`], which starts from the current client so that what Hydra does not
//! know (the authms status, FAPI profile, extra auth methods, secrets) is kept.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_core::json_patch::{self, Operation};
use clavis_core::{time, AccessTokenStrategy, AuthMethod, Client, GrantType, Lifespans, TenantId, ValidationError};
use clavis_service::{Actor, ServiceError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::{HydraAdmin, HydraError, HydraErrorBody, HydraJson, HydraJsonArray};
use crate::AppState;

/// Hydra's defaults for what a request leaves out.
const DEFAULT_SCOPE: &str = "offline_access offline openid";
pub const DEFAULT_PAGE_SIZE: i64 = 250;
pub const MAX_PAGE_SIZE: i64 = 500;

/// Fields the server manages: a PATCH may not touch them.
const SERVER_MANAGED: &[&str] =
    &["/client_id", "/created_at", "/updated_at", "/registration_access_token", "/registration_client_uri", "/client_secret_expires_at"];

/// A client as Ory Hydra shows it (`OAuth2Client`). As a request body (create, replace,
/// dynamic registration) every field is optional: absent ones get Hydra's defaults.
#[derive(Serialize, ToSchema)]
pub struct HydraClient {
    /// 1 to 128 printable ASCII characters without `/ ? # %` [default: generated].
    pub client_id: String,
    pub client_name: String,
    /// Only in the answer that sets it (create, or a replace that gives one): 6 to 512 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub client_secret_expires_at: i64,
    /// Dynamic registration only (RFC 7592).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    /// Dynamic registration only: in the registration answer, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// [default: `authorization_code`]
    pub grant_types: Vec<&'static str>,
    /// Space-separated combinations of `code`, `token`, `id_token`, `none` [default: `code`].
    pub response_types: Vec<String>,
    /// Space-separated scope tokens [default: `offline_access offline openid`].
    pub scope: String,
    pub audience: Vec<String>,
    /// At most 255 characters.
    pub owner: String,
    pub policy_uri: String,
    pub tos_uri: String,
    pub client_uri: String,
    pub logo_uri: String,
    /// Origins like `https://app.example.com`.
    pub allowed_cors_origins: Vec<String>,
    pub contacts: Vec<String>,
    /// Only `public`.
    pub subject_type: String,
    pub sector_identifier_uri: String,
    /// A JSON Web Key Set of public keys; `{}` if none.
    #[schema(value_type = Object)]
    pub jwks: Value,
    pub jwks_uri: String,
    /// [default: `client_secret_basic`]
    pub token_endpoint_auth_method: &'static str,
    pub token_endpoint_auth_signing_alg: String,
    pub request_object_signing_alg: String,
    pub request_uris: Vec<String>,
    pub userinfo_signed_response_alg: String,
    pub frontchannel_logout_uri: String,
    pub frontchannel_logout_session_required: bool,
    pub backchannel_logout_uri: String,
    pub backchannel_logout_session_required: bool,
    /// Free-form JSON, kept as given.
    #[schema(value_type = Value)]
    pub metadata: Value,
    pub skip_consent: bool,
    pub skip_logout_consent: bool,
    pub access_token_strategy: AccessTokenStrategy,
    pub created_at: String,
    pub updated_at: String,
    #[serde(flatten)]
    pub lifespans: HydraLifespans,
}

/// Per-grant token lifespans as Go durations (`"1h30m0s"`, from 1s to 8784h); absent:
/// the server's default.
#[derive(Serialize, Deserialize, Default, ToSchema)]
pub struct HydraLifespans {
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_code_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_code_grant_id_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_code_grant_refresh_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_credentials_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_grant_id_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_grant_refresh_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    implicit_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    implicit_grant_id_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwt_bearer_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_grant_id_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_grant_refresh_token_lifespan: Option<String>,
}

/// A client as Hydra shows it.
pub fn view(c: &Client) -> HydraClient {
    let h = &c.extras.hydra;
    let jwks = if c.jwks.is_empty() { json!({}) } else { serde_json::from_str(&c.jwks).unwrap_or_else(|_| json!({})) };
    HydraClient {
        client_id: c.client_id.clone(),
        client_name: c.name.clone(),
        client_secret: None,
        client_secret_expires_at: 0,
        registration_client_uri: None,
        registration_access_token: None,
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.extras.post_logout_redirect_uris.clone(),
        grant_types: c.grant_types.iter().map(|g| g.as_str()).collect(),
        // Hydra's defaults for clients it never wrote (created through the authms API).
        response_types: if h.response_types.is_empty() { vec!["code".to_owned()] } else { h.response_types.clone() },
        scope: c.scopes.join(" "),
        audience: h.audience.clone(),
        owner: c.owner.clone(),
        policy_uri: c.privacy_policy.clone(),
        tos_uri: c.terms_url.clone(),
        client_uri: c.website.clone(),
        logo_uri: c.logo_url.clone(),
        allowed_cors_origins: h.allowed_cors_origins.clone(),
        contacts: h.contacts.clone(),
        subject_type: if h.subject_type.is_empty() { "public".into() } else { h.subject_type.clone() },
        sector_identifier_uri: h.sector_identifier_uri.clone(),
        jwks,
        jwks_uri: c.jwks_uri.clone(),
        token_endpoint_auth_method: c.auth_methods.first().map(|m| m.as_str()).unwrap_or("client_secret_basic"),
        token_endpoint_auth_signing_alg: h.token_endpoint_auth_signing_alg.clone(),
        request_object_signing_alg: h.request_object_signing_alg.clone(),
        request_uris: h.request_uris.clone(),
        userinfo_signed_response_alg: h.userinfo_signed_response_alg.clone(),
        frontchannel_logout_uri: h.frontchannel_logout_uri.clone(),
        frontchannel_logout_session_required: h.frontchannel_logout_session_required,
        backchannel_logout_uri: h.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: h.backchannel_logout_session_required,
        metadata: if h.metadata.is_null() { json!({}) } else { h.metadata.clone() },
        skip_consent: h.skip_consent,
        skip_logout_consent: h.skip_logout_consent,
        access_token_strategy: c.extras.access_token_strategy,
        created_at: time::rfc3339(c.created_at),
        updated_at: time::rfc3339(c.updated_at),
        lifespans: serde_json::from_value(c.extras.lifespans.to_json()).unwrap_or_default(),
    }
}

fn invalid(field: &str, message: &str) -> HydraError {
    let code = if field.contains("redirect_uri") { "invalid_redirect_uri" } else { "invalid_client_metadata" };
    HydraError::new(StatusCode::BAD_REQUEST, code, format!("{field}: {message}"))
}

/// Maps the service's outcome to Hydra's statuses and error codes.
fn service_error(e: ServiceError) -> HydraError {
    match e {
        ServiceError::Invalid(v) => invalid(&v.field, &v.message),
        ServiceError::NotFound(_) => not_found(),
        ServiceError::Conflict(m) => HydraError::new(StatusCode::CONFLICT, "conflict", m),
        other => HydraError::from(other),
    }
}

fn not_found() -> HydraError {
    HydraError::new(StatusCode::NOT_FOUND, "not_found", "Unable to locate the resource")
}

/// A Hydra client body (create, replace, patch result, dynamic registration). Every field
/// is optional and `null` counts as absent; fields of the client's view that the server
/// manages (`created_at`, …) are ignored.
#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct HydraClientRequest {
    /// 1 to 128 printable ASCII characters without `/ ? # %` [default: generated]; on
    /// replace, if given, the client's own.
    client_id: Option<String>,
    client_name: Option<String>,
    /// 6 to 512 characters [default: generated, for confidential clients]; on replace, a
    /// new secret.
    client_secret: Option<String>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    /// [default: `authorization_code`]
    grant_types: Option<Vec<String>>,
    /// Space-separated combinations of `code`, `token`, `id_token`, `none` [default: `code`].
    response_types: Option<Vec<String>>,
    /// Space-separated scope tokens [default: `offline_access offline openid`].
    scope: Option<String>,
    audience: Option<Vec<String>>,
    /// At most 255 characters.
    owner: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    /// Origins like `https://app.example.com`.
    allowed_cors_origins: Option<Vec<String>>,
    contacts: Option<Vec<String>>,
    /// Only `public`.
    subject_type: Option<String>,
    sector_identifier_uri: Option<String>,
    /// A JSON Web Key Set of public keys.
    #[schema(value_type = Option<Object>)]
    jwks: Option<Map<String, Value>>,
    jwks_uri: Option<String>,
    /// [default: `client_secret_basic`]
    token_endpoint_auth_method: Option<String>,
    token_endpoint_auth_signing_alg: Option<String>,
    request_object_signing_alg: Option<String>,
    request_uris: Option<Vec<String>>,
    userinfo_signed_response_alg: Option<String>,
    frontchannel_logout_uri: Option<String>,
    frontchannel_logout_session_required: Option<bool>,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: Option<bool>,
    /// Free-form JSON, kept as given.
    #[schema(value_type = Value)]
    metadata: Option<Value>,
    skip_consent: Option<bool>,
    skip_logout_consent: Option<bool>,
    /// `jwt` or `opaque` [default: `jwt`].
    access_token_strategy: Option<String>,
    #[serde(flatten)]
    lifespans: HydraLifespans,
}

impl HydraClientRequest {
    /// Reads a body; a field of the wrong type is `invalid_client_metadata` naming it.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, HydraError> {
        serde_path_to_error::deserialize(Value::Object(body.clone())).map_err(|e| {
            let path = e.path().to_string();
            invalid(&path, &e.into_inner().to_string())
        })
    }
}

/// A client from a Hydra body. With `current` (PUT, PATCH) every Hydra field is replaced
/// — absent ones get Hydra's defaults — and the rest is kept. Returns the client and the
/// `client_secret` the body set, if any.
/// The largest `metadata` a client may carry (as compact JSON), on every API that sets it.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

pub fn build(body: &Map<String, Value>, current: Option<&Client>, t: &TenantId) -> Result<(Client, Option<String>), HydraError> {
    let r = HydraClientRequest::parse(body)?;
    let mut c = match current {
        Some(c) => {
            if r.client_id.as_ref().is_some_and(|id| *id != c.client_id) {
                return Err(invalid("client_id", "cannot be changed"));
            }
            c.clone()
        }
        None => {
            let client_id = match r.client_id.filter(|s| !s.is_empty()) {
                Some(id) => {
                    if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) || id.contains(['/', '?', '#', '%']) {
                        return Err(invalid("client_id", "must be 1 to 128 printable ASCII characters without / ? # %"));
                    }
                    id
                }
                None => clavis_core::ids::new_client_id(),
            };
            Client::blank(t.clone(), client_id)
        }
    };
    c.name = r.client_name.unwrap_or_default();
    c.redirect_uris = r.redirect_uris.unwrap_or_default();
    c.extras.post_logout_redirect_uris = r.post_logout_redirect_uris.unwrap_or_default();
    let grants = r.grant_types.filter(|g| !g.is_empty()).unwrap_or_else(|| vec!["authorization_code".into()]);
    c.grant_types = grants
        .iter()
        .map(|g| GrantType::parse(g).ok_or_else(|| invalid("grant_types", &format!("{g:?} is not supported"))))
        .collect::<Result<_, _>>()?;
    c.grant_types.dedup();
    let scope = r.scope.unwrap_or_else(|| DEFAULT_SCOPE.into());
    c.scopes = clavis_core::scope::parse_scope_param(&scope).ok_or_else(|| invalid("scope", "must be space-separated scope tokens"))?;
    let method_name = r.token_endpoint_auth_method.filter(|m| !m.is_empty()).unwrap_or_else(|| "client_secret_basic".into());
    let method = AuthMethod::parse(&method_name).ok_or_else(|| invalid("token_endpoint_auth_method", "is not supported"))?;
    // Hydra has one method; keep the authms list when its first entry is unchanged.
    if c.auth_methods.first() != Some(&method) {
        c.auth_methods = vec![method];
    }
    c.is_confidential = method != AuthMethod::None;
    if !c.is_confidential {
        c.fapi_profile = clavis_core::FapiProfile::None;
    }
    c.jwks = match r.jwks {
        Some(m) if m.get("keys").is_some_and(|k| !k.is_null()) => Value::Object(m).to_string(),
        _ => String::new(),
    };
    c.jwks_uri = r.jwks_uri.unwrap_or_default();
    c.logo_url = r.logo_uri.unwrap_or_default();
    c.privacy_policy = r.policy_uri.unwrap_or_default();
    c.terms_url = r.tos_uri.unwrap_or_default();
    c.website = r.client_uri.unwrap_or_default();
    c.owner = r.owner.unwrap_or_default();
    if c.owner.chars().count() > 255 {
        return Err(invalid("owner", "must be at most 255 characters"));
    }
    c.extras.access_token_strategy = match r.access_token_strategy.as_deref() {
        None | Some("") | Some("jwt") => AccessTokenStrategy::Jwt,
        Some("opaque") => AccessTokenStrategy::Opaque,
        Some(_) => return Err(invalid("access_token_strategy", "must be jwt or opaque")),
    };
    let mut lifespans = Lifespans::default();
    let given = match serde_json::to_value(&r.lifespans) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    lifespans.apply(&given, "lifespan").map_err(|e| invalid(&e.field, &e.message))?;
    c.extras.lifespans = lifespans;

    let h = &mut c.extras.hydra;
    h.response_types = r.response_types.filter(|r| !r.is_empty()).unwrap_or_else(|| vec!["code".into()]);
    for rt in &h.response_types {
        let ok = rt.split(' ').all(|p| matches!(p, "code" | "token" | "id_token" | "none"));
        if !ok {
            return Err(invalid("response_types", &format!("{rt:?} is not a response type")));
        }
    }
    h.audience = r.audience.unwrap_or_default();
    h.allowed_cors_origins = r.allowed_cors_origins.unwrap_or_default();
    for o in &h.allowed_cors_origins {
        let ok = url::Url::parse(o).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == *o);
        if !ok {
            return Err(invalid("allowed_cors_origins", &format!("{o:?} is not an origin like https://app.example.com")));
        }
    }
    h.contacts = r.contacts.unwrap_or_default();
    h.metadata = r.metadata.unwrap_or(Value::Null);
    if json_patch::json_size(&h.metadata, MAX_METADATA_BYTES) > MAX_METADATA_BYTES {
        return Err(invalid("metadata", "must be at most 64 KiB as JSON"));
    }
    h.skip_consent = r.skip_consent.unwrap_or(false);
    h.skip_logout_consent = r.skip_logout_consent.unwrap_or(false);
    h.subject_type = r.subject_type.filter(|s| !s.is_empty()).unwrap_or_else(|| "public".into());
    if h.subject_type != "public" {
        return Err(invalid("subject_type", "only public is supported"));
    }
    h.sector_identifier_uri = r.sector_identifier_uri.unwrap_or_default();
    h.request_uris = r.request_uris.unwrap_or_default();
    h.request_object_signing_alg = r.request_object_signing_alg.unwrap_or_default();
    h.token_endpoint_auth_signing_alg = r.token_endpoint_auth_signing_alg.unwrap_or_default();
    h.userinfo_signed_response_alg = r.userinfo_signed_response_alg.unwrap_or_default();
    h.frontchannel_logout_uri = r.frontchannel_logout_uri.unwrap_or_default();
    h.frontchannel_logout_session_required = r.frontchannel_logout_session_required.unwrap_or(false);
    h.backchannel_logout_uri = r.backchannel_logout_uri.unwrap_or_default();
    h.backchannel_logout_session_required = r.backchannel_logout_session_required.unwrap_or(false);

    let secret = r.client_secret.filter(|s| !s.is_empty());
    if let Some(s) = &secret {
        let n = s.chars().count();
        if !(clavis_core::secret::MIN_SUPPLIED_LEN..=clavis_core::secret::MAX_SUPPLIED_LEN).contains(&n) {
            return Err(invalid("client_secret", "must be 6 to 512 characters"));
        }
    }
    c.validate().map_err(|e: ValidationError| invalid(&e.field, &e.message))?;
    Ok((c, secret))
}

fn with_secret(c: &Client, secret: Option<String>) -> HydraClient {
    HydraClient { client_secret: secret, ..view(c) }
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
    let (client, secret) = build(&object(body)?, None, &p.tenant)?;
    let (client, secret) = st.services.create_built_client(&p.tenant, client, secret, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok((StatusCode::CREATED, Json(with_secret(&client, secret))).into_response())
}

#[utoipa::path(get, path = "/admin/clients/{id}", operation_id = "getOAuth2Client", tag = "hydra", security(("admin_token" = [])), params(("id" = String, Path, description = "The client_id")),
    responses((status = 200, body = HydraClient), (status = "4XX", body = HydraErrorBody)))]
pub async fn get(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, Path(id): Path<String>) -> Result<Response, HydraError> {
    let client = st.services.get_client(&p.tenant, client_id(&id)?).await.map_err(service_error)?;
    Ok(Json(view(&client)).into_response())
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
    let (next, secret) = build(&object(body)?, Some(&current), &p.tenant)?;
    let (client, secret) = st.services.replace_client(&p.tenant, &id, next, secret, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok(Json(with_secret(&client, secret)).into_response())
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
    for op in &ops {
        for path in std::iter::once(&op.path).chain(op.from.as_ref()) {
            if SERVER_MANAGED.iter().any(|m| path == m || path.starts_with(&format!("{m}/"))) {
                return Err(HydraError::bad_request(format!("{path} is managed by the server and cannot be patched")));
            }
        }
    }
    // As in Hydra, the patched document has a `client_secret` (empty: "keep the secret"),
    // so that `replace /client_secret` rotates it.
    let doc = serde_json::to_value(HydraClient { client_secret: Some(String::new()), ..view(&current) })
        .map_err(|e| HydraError::from(ServiceError::internal(e.to_string())))?;
    // A patched client may be no larger than a client a PUT could send.
    let patched = json_patch::apply(&doc, &ops, crate::ADMIN_BODY_LIMIT).map_err(|e| HydraError::bad_request(e.to_string()))?;
    let (next, secret) = build(&object(patched)?, Some(&current), &p.tenant)?;
    let (client, secret) = st.services.replace_client(&p.tenant, &id, next, secret, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok(Json(with_secret(&client, secret)).into_response())
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
    let mut lifespans = Lifespans::default();
    let body = object(body)?;
    if let Some(k) = body.keys().find(|k| !k.ends_with("_lifespan")) {
        return Err(invalid(k, "is not a lifespan"));
    }
    lifespans.apply(&body, "lifespan").map_err(|e| invalid(&e.field, &e.message))?;
    next.extras.lifespans = lifespans;
    let (client, _) = st.services.replace_client(&p.tenant, &id, next, None, &Actor(p.client_id)).await.map_err(service_error)?;
    Ok(Json(view(&client)).into_response())
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
    let page_size = match params.iter().find(|(n, _)| n == "page_size").map(|(_, v)| v.as_str()) {
        None => DEFAULT_PAGE_SIZE,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(MAX_PAGE_SIZE))
            .ok_or_else(|| HydraError::bad_request("page_size must be a positive integer"))?,
    };
    let token = get("page_token");
    if token.is_some_and(|t| t.len() != 26 || !t.bytes().all(|b| b.is_ascii_alphanumeric())) {
        return Err(HydraError::bad_request("page_token is malformed"));
    }
    let (name, owner) = (get("client_name"), get("owner"));
    let page = st.services.list_clients_after(&p.tenant, token, page_size + 1, name, owner).await.map_err(service_error)?;
    let mut items = page.items;
    let more = items.len() as i64 > page_size;
    items.truncate(page_size as usize);
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
    let body: Vec<HydraClient> = items.iter().map(view).collect();
    let mut resp = Json(body).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&links.join(",")) {
        h.insert(header::LINK, v);
    }
    h.insert("x-total-count", HeaderValue::from(page.total));
    Ok(resp)
}
