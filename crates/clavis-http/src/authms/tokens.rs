//! A client's tokens: the stored ones listed (never their text), and all of them revoked
//! (the two token endpoints of the authms OAuth service the client API comes from).

use axum::extract::{RawQuery, State};
use axum::response::Response;
use clavis_core::time::rfc3339;
use clavis_service::{Actor, ClientToken};
use serde::Serialize;
use utoipa::ToSchema;

use super::clients::Ids;
use super::{ok, query_pairs, ApiError, Envelope, ErrorEnvelope, Paging};
use crate::auth::AdminCaller;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct TokenItem {
    /// `access_token` (opaque ones; JWTs are not stored) or `refresh_token`.
    token_type: &'static str,
    scope: String,
    /// The user the token speaks for (for client_credentials tokens, the client).
    user_id: String,
    created_at: String,
    expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Pagination {
    page: i64,
    page_size: i64,
    total: i64,
    total_pages: i64,
    has_next: bool,
    has_prev: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct TokenPage {
    items: Vec<TokenItem>,
    total: i64,
    pagination: Pagination,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RevokedTokens {
    /// Seconds the revoked tokens kept working.
    grace_period: i64,
    /// Stored (opaque) access tokens ended; JWT access tokens end too, uncounted.
    revoked_access_tokens: i64,
    revoked_refresh_tokens: i64,
}

/// The client's live stored tokens, newest first: refresh tokens and opaque access tokens.
#[utoipa::path(get, path = "/admin/oauth/clients/{client_id}/tokens", operation_id = "listClientTokens", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path), ("page" = Option<i64>, Query, minimum = 1),
           ("page_size" = Option<i64>, Query, description = "1 to 100 [default: 20]", minimum = 1, maximum = 100)),
    responses((status = 200, body = Envelope<TokenPage>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn list(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let paging = Paging::parse(&query_pairs(query.as_deref())?)?;
    let page = st.services.list_client_tokens(&p.tenant, &ids[0], paging.page, paging.page_size).await?;
    let total_pages = (page.total + paging.page_size - 1) / paging.page_size;
    let items = page
        .items
        .into_iter()
        .map(|t: ClientToken| TokenItem {
            token_type: t.token_type,
            scope: t.scope,
            user_id: t.user_id,
            created_at: rfc3339(t.created_at),
            expires_at: rfc3339(t.expires_at),
        })
        .collect();
    let pagination = Pagination {
        page: paging.page,
        page_size: paging.page_size,
        total: page.total,
        total_pages,
        has_next: paging.page < total_pages,
        has_prev: paging.page > 1,
    };
    Ok(ok(TokenPage { items, total: page.total, pagination }))
}

/// Revokes every token of the client issued until now: refresh tokens, opaque and JWT
/// access tokens (inactive at introspection, userinfo and the admin API; a resource server
/// verifying JWTs locally sees them until they expire). `grace_period` seconds (0 to
/// 86400, default 0) lets them work a little longer.
#[utoipa::path(delete, path = "/admin/oauth/clients/{client_id}/tokens", operation_id = "revokeClientTokens", tag = "authms", security(("admin_token" = [])),
    params(("client_id" = String, Path), ("grace_period" = Option<i64>, Query, minimum = 0, maximum = 86400)),
    responses((status = 200, body = Envelope<RevokedTokens>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn revoke(State(st): State<AppState>, AdminCaller(p): AdminCaller, Ids(ids): Ids, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let params = query_pairs(query.as_deref())?;
    let grace = match params.iter().find(|(k, _)| k == "grace_period") {
        None => 0,
        Some((_, v)) => v.parse::<i64>().map_err(|_| ApiError::BadRequest("grace_period: must be an integer number of seconds".into()))?,
    };
    let counts = st.services.revoke_client_tokens(&p.tenant, &ids[0], grace, &Actor(p.client_id)).await?;
    Ok(ok(RevokedTokens { grace_period: grace, revoked_access_tokens: counts.access_tokens, revoked_refresh_tokens: counts.refresh_tokens }))
}
