//! `/admin/oauth/clients` and `/internal/oauth/clients`.

use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clavis_core::time::rfc3339;
use clavis_core::{AccessTokenStrategy, Client, ClientInput, ClientStatus};
use clavis_service::{Actor, ClientFilter};
use serde::Serialize;
use utoipa::ToSchema;

use super::{check_id, created, ok, query_pairs, ApiError, ApiJson, Envelope, ErrorEnvelope, PageBody, Paging};
use crate::auth::{AdminCaller, InternalCaller};
use crate::AppState;

/// `dto.OAuthClientItem`, plus `jwks` (public keys only, checked at write time) so that
/// what an admin writes can be read back.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClientItem {
    id: String,
    tenant_id: String,
    client_id: String,
    name: String,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
    grant_types: Vec<&'static str>,
    client_auth_methods: Vec<&'static str>,
    is_confidential: bool,
    /// The JWKS as a string (public keys only); empty if none.
    jwks: String,
    jwks_uri: String,
    /// `""`, `fapi1` or `fapi2`.
    fapi_profile: &'static str,
    logo_url: String,
    privacy_policy: String,
    terms_url: String,
    website: String,
    cors_origins: Vec<String>,
    /// The last four characters of the current secret (confidential clients).
    secret_last_four: String,
    /// `active` or `suspended`.
    status: &'static str,
    created_at: String,
    updated_at: String,
    deleted_at: Option<String>,
    /// Clavis extensions (see docs/api.md).
    post_logout_redirect_uris: Vec<String>,
    access_token_strategy: AccessTokenStrategy,
    /// Lifespans set for this client, Hydra's names with Go durations.
    #[schema(value_type = Object)]
    token_lifespans: serde_json::Value,
    /// May introspect every token of the tenant (set by admins only).
    introspector: bool,
    /// Registered through dynamic registration (read-only).
    self_registered: bool,
    /// `public` or `pairwise` (OpenID Connect Core §8; set through the Hydra API or DCR).
    subject_type: String,
    /// Mutual TLS metadata (RFC 8705), when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    mtls: Option<clavis_core::MtlsMetadata>,
}

impl From<Client> for ClientItem {
    fn from(c: Client) -> Self {
        Self {
            id: c.id,
            tenant_id: c.tenant_id.to_string(),
            client_id: c.client_id,
            name: c.name,
            redirect_uris: c.redirect_uris,
            scopes: c.scopes,
            grant_types: c.grant_types.iter().map(|g| g.as_str()).collect(),
            client_auth_methods: c.auth_methods.iter().map(|m| m.as_str()).collect(),
            is_confidential: c.is_confidential,
            jwks: c.jwks,
            jwks_uri: c.jwks_uri,
            fapi_profile: c.fapi_profile.as_str(),
            logo_url: c.logo_url,
            privacy_policy: c.privacy_policy,
            terms_url: c.terms_url,
            website: c.website,
            cors_origins: c.cors_origins,
            secret_last_four: c.secret_last_four,
            status: c.status.as_str(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            deleted_at: c.deleted_at.map(rfc3339),
            token_lifespans: c.extras.lifespans.to_json(),
            access_token_strategy: c.extras.access_token_strategy,
            introspector: c.extras.introspector,
            self_registered: c.extras.self_registered,
            subject_type: c.extras.hydra.subject_type().into(),
            post_logout_redirect_uris: c.extras.post_logout_redirect_uris,
            mtls: (c.extras.mtls != clavis_core::MtlsMetadata::default()).then_some(c.extras.mtls),
        }
    }
}

/// `dto.CreateClientResponse` / `dto.CloneClientResponse`: the client and, for a
/// confidential client, its secret — the only time it is ever shown.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedClient {
    #[serde(flatten)]
    client: ClientItem,
    /// Confidential clients only; shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

fn created_client((client, secret): (Client, Option<String>)) -> Response {
    created(CreatedClient { client: client.into(), client_secret: secret })
}

/// Path parameters; a malformed one reads as "not found" in the envelope.
pub(crate) struct Ids(pub Vec<String>);

impl FromRequestParts<AppState> for Ids {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(ids) = Path::<Vec<String>>::from_request_parts(parts, state).await.map_err(|_| ApiError::NotFound("not found".into()))?;
        for id in &ids {
            check_id(id)?;
        }
        Ok(Ids(ids))
    }
}

#[utoipa::path(post, path = "/admin/oauth/clients", operation_id = "createClient", tag = "authms", security(("admin_token" = [])),
    request_body = ClientInput,
    responses((status = 201, description = "Created; `client_secret` is shown only here", body = Envelope<CreatedClient>),
              (status = "4XX", body = ErrorEnvelope)))]
pub async fn create(State(st): State<AppState>, AdminCaller(p): AdminCaller, ApiJson(input): ApiJson<ClientInput>) -> Result<Response, ApiError> {
    Ok(created_client(st.services.create_client(&p.tenant, &input, &Actor(p.client_id)).await?))
}

/// Registers a client for the tenant in `X-Tenant-ID` (created if new): the tenant-service's call.
#[utoipa::path(post, path = "/internal/oauth/clients", operation_id = "createTenantClient", tag = "internal", security(("internal_api_key" = [])),
    params(("X-Tenant-ID" = String, Header, description = "The tenant, `^[a-z0-9][a-z0-9_-]{0,62}$`")),
    request_body = ClientInput,
    responses((status = 201, description = "Created; `client_secret` is shown only here", body = Envelope<CreatedClient>),
              (status = "4XX", body = ErrorEnvelope)))]
pub async fn create_internal(State(st): State<AppState>, caller: InternalCaller, ApiJson(input): ApiJson<ClientInput>) -> Result<Response, ApiError> {
    Ok(created_client(st.services.create_client(&caller.tenant, &input, &Actor("internal-api".into())).await?))
}

#[utoipa::path(get, path = "/admin/oauth/clients", operation_id = "listClients", tag = "authms", security(("admin_token" = [])),
    params(("page" = Option<i64>, Query, description = "From 1", minimum = 1),
           ("page_size" = Option<i64>, Query, description = "1 to 100 [default: 20]", minimum = 1, maximum = 100),
           ("name" = Option<String>, Query, description = "Substring of the name"),
           ("status" = Option<String>, Query, description = "`active` or `suspended`")),
    responses((status = 200, body = Envelope<PageBody<ClientItem>>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(State(st): State<AppState>, AdminCaller(p): AdminCaller, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let params = query_pairs(query.as_deref())?;
    let paging = Paging::parse(&params)?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("");
    let name = get("name");
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest("name: at most 255 printable characters".into()));
    }
    let status = match get("status") {
        "" => None,
        s => Some(ClientStatus::parse(s).ok_or_else(|| ApiError::BadRequest("status: must be \"active\" or \"suspended\"".into()))?),
    };
    let filter = ClientFilter { name: name.to_owned(), status };
    let page = st.services.list_clients(&p.tenant, &filter, paging.page, paging.page_size).await?;
    Ok(ok(PageBody {
        items: page.items.into_iter().map(ClientItem::from).collect(),
        total: page.total,
        page: paging.page,
        page_size: paging.page_size,
    }))
}

#[utoipa::path(get, path = "/admin/oauth/clients/{client_id}", operation_id = "getClient", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path)), responses((status = 200, body = Envelope<ClientItem>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn get(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids) -> Result<Response, ApiError> {
    Ok(ok(ClientItem::from(st.services.get_client(&p.tenant, &ids[0]).await?)))
}

/// Changes the fields present; `status` suspends or reactivates.
#[utoipa::path(put, path = "/admin/oauth/clients/{client_id}", operation_id = "updateClient", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path)), request_body = ClientInput,
    responses((status = 200, body = Envelope<ClientItem>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn update(
    State(st): State<AppState>,
    AdminCaller(p): AdminCaller,
    Ids(ids): Ids,
    ApiJson(input): ApiJson<ClientInput>,
) -> Result<Response, ApiError> {
    let client = st.services.update_client(&p.tenant, &ids[0], &input, &Actor(p.client_id)).await?;
    Ok(ok(ClientItem::from(client)))
}

/// Soft-deletes the client: its tokens stop working and its `client_id` is not reused.
#[utoipa::path(delete, path = "/admin/oauth/clients/{client_id}", operation_id = "deleteClient", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path)), responses((status = 204, description = "Deleted"), (status = "4XX", body = ErrorEnvelope)))]
pub async fn delete(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids) -> Result<Response, ApiError> {
    st.services.delete_client(&p.tenant, &ids[0], &Actor(p.client_id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A new client with the same settings, a new `client_id` and (if confidential) a new secret.
#[utoipa::path(post, path = "/admin/oauth/clients/{client_id}/clone", operation_id = "cloneClient", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path)), responses((status = 201, body = Envelope<CreatedClient>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn clone(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids) -> Result<Response, ApiError> {
    Ok(created_client(st.services.clone_client(&p.tenant, &ids[0], &Actor(p.client_id)).await?))
}
