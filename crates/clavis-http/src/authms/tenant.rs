//! `/admin/oauth/tenant`: the admin's own tenant's settings — its login, consent and
//! logout app (each overrides the server-wide setting; empty clears the override).

use axum::extract::State;
use axum::response::Response;
use clavis_service::TenantSettings;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ok, ApiError, ApiJson, Envelope, ErrorEnvelope};
use crate::auth::AdminCaller;
use crate::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct TenantView {
    tenant_id: String,
    /// The tenant's own URLs (null: the server's applies) …
    login_url: Option<String>,
    consent_url: Option<String>,
    logout_url: Option<String>,
    /// … and what applies.
    effective: Effective,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Effective {
    login_url: Option<String>,
    consent_url: Option<String>,
    logout_url: Option<String>,
}

/// Absent fields keep their value; a URL sets the override, `""` removes it.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantUpdate {
    /// An absolute `http(s)` URL, or `""`.
    login_url: Option<String>,
    consent_url: Option<String>,
    logout_url: Option<String>,
}

async fn view(st: &AppState, tenant: &clavis_core::TenantId) -> Result<Response, ApiError> {
    let own = st.services.store.tenant_settings(tenant).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let eff = st.services.app_urls(tenant).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(ok(TenantView {
        tenant_id: tenant.to_string(),
        login_url: own.login_url,
        consent_url: own.consent_url,
        logout_url: own.logout_url,
        effective: Effective { login_url: eff.login_url, consent_url: eff.consent_url, logout_url: eff.logout_url },
    }))
}

#[utoipa::path(get, path = "/admin/oauth/tenant", operation_id = "getTenant", tag = "authms", security(("admin_token" = [])), responses((status = 200, body = Envelope<TenantView>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn get(State(st): State<AppState>, AdminCaller(p): AdminCaller) -> Result<Response, ApiError> {
    view(&st, &p.tenant).await
}

/// Fields present change: a URL sets the override, `""` removes it.
#[utoipa::path(put, path = "/admin/oauth/tenant", operation_id = "updateTenant", tag = "authms", security(("admin_token" = [])), request_body = TenantUpdate,
    responses((status = 200, body = Envelope<TenantView>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn update(
    State(st): State<AppState>,
    AdminCaller(p): AdminCaller,
    ApiJson(body): ApiJson<TenantUpdate>,
) -> Result<Response, ApiError> {
    let mut s: TenantSettings = st.services.store.tenant_settings(&p.tenant).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    for (given, slot) in [(body.login_url, &mut s.login_url), (body.consent_url, &mut s.consent_url), (body.logout_url, &mut s.logout_url)] {
        if let Some(v) = given {
            *slot = Some(v).filter(|v| !v.is_empty());
        }
    }
    st.services.set_tenant_settings(&p.tenant, &s).await?;
    view(&st, &p.tenant).await
}
