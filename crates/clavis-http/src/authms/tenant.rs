//! `/admin/oauth/tenant`: the admin's own tenant's settings — its login, consent and
//! logout app (each overrides the server-wide setting; empty clears the override), and
//! its policies for dynamically registered clients and for introspection, and its default
//! signing algorithms.

use axum::extract::State;
use axum::response::Response;
use clavis_core::{DcrPolicy, IntrospectionPolicy, SigningDefaults};
use clavis_service::{DcrPolicyChange, SigningChange, TenantSettingsChange};
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
    /// What dynamically registered clients may ask for (the defaults until set).
    dcr: DcrPolicy,
    /// Which confidential clients may introspect other clients' tokens.
    introspection: IntrospectionPolicy,
    /// The algorithms ID tokens and JWT access tokens are signed with where the client
    /// names none.
    signing: SigningDefaults,
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
    /// The fields present replace those of the tenant's registration policy.
    #[schema(value_type = Option<DcrPolicyUpdate>)]
    dcr: Option<super::JsonObject<DcrPolicyUpdate>>,
    /// `any_confidential` or `marked_only` (parsed here, so that another value is a 400
    /// naming the field without echoing it).
    #[schema(value_type = Option<IntrospectionPolicy>)]
    introspection: Option<String>,
    /// The fields present replace the tenant's default signing algorithms.
    #[schema(value_type = Option<SigningDefaultsUpdate>)]
    signing: Option<super::JsonObject<SigningDefaultsUpdate>>,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningDefaultsUpdate {
    /// `RS256`, `PS256`, `ES256` or `EdDSA`.
    id_token: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DcrPolicyUpdate {
    /// Scope tokens a self-registered client may have (never `admin`); at most 100.
    allowed_scopes: Option<Vec<String>>,
    /// Grant types a self-registered client may have; at most 100.
    allowed_grant_types: Option<Vec<String>>,
}

async fn view(st: &AppState, tenant: &clavis_core::TenantId) -> Result<Response, ApiError> {
    let own = st.services.own_tenant_settings(tenant).await?;
    let eff = st.services.app_urls(tenant).await?;
    Ok(ok(TenantView {
        tenant_id: tenant.to_string(),
        login_url: own.login_url,
        consent_url: own.consent_url,
        logout_url: own.logout_url,
        effective: Effective { login_url: eff.login_url, consent_url: eff.consent_url, logout_url: eff.logout_url },
        dcr: own.dcr_policy.unwrap_or_default(),
        introspection: own.introspection.unwrap_or_default(),
        signing: own.signing.unwrap_or_default(),
    }))
}

#[utoipa::path(get, path = "/admin/oauth/tenant", operation_id = "getTenant", tag = "authms", security(("admin_token" = [])), responses((status = 200, body = Envelope<TenantView>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn get(State(st): State<AppState>, AdminCaller(p): AdminCaller) -> Result<Response, ApiError> {
    view(&st, &p.tenant).await
}

/// Fields present change: a URL sets the override, `""` removes it; `dcr` and
/// `introspection` set the tenant's policies, `signing` its default algorithms. Nothing changes unless all are valid.
#[utoipa::path(put, path = "/admin/oauth/tenant", operation_id = "updateTenant", tag = "authms", security(("admin_token" = [])), request_body = TenantUpdate,
    responses((status = 200, body = Envelope<TenantView>), (status = "4XX", body = ErrorEnvelope)))]
pub async fn update(State(st): State<AppState>, AdminCaller(p): AdminCaller, ApiJson(body): ApiJson<TenantUpdate>) -> Result<Response, ApiError> {
    let dcr = body.dcr.map(|super::JsonObject(d)| DcrPolicyChange { allowed_scopes: d.allowed_scopes, allowed_grant_types: d.allowed_grant_types });
    let change = TenantSettingsChange {
        login_url: body.login_url,
        consent_url: body.consent_url,
        logout_url: body.logout_url,
        dcr,
        introspection: body.introspection,
        signing: body.signing.map(|super::JsonObject(d)| SigningChange { id_token: d.id_token, access_token: d.access_token }),
    };
    st.services.change_tenant_settings(&p.tenant, change).await?;
    view(&st, &p.tenant).await
}
