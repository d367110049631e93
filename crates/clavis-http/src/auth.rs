//! Who is calling the admin listener: an admin access token, or the internal API key.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use clavis_core::TenantId;
use clavis_service::{PresentedToken, Principal, ServiceError, TokenRejection};
use subtle::ConstantTimeEq;

use crate::authms::ApiError;
use crate::AppState;

/// A caller holding a valid access token of this server with scope `admin`. The tenant
/// of every admin call is the token's tenant: no other tenant is reachable.
pub struct AdminCaller(pub Principal);

/// Why an admin call was refused; each API surface words it its own way.
pub enum AdminAuthError {
    Unauthorized(String),
    Forbidden(String),
    /// The token could not be checked (the database failed): 503 or 500, never 401.
    Failed(ServiceError),
}

impl From<AdminAuthError> for ApiError {
    fn from(e: AdminAuthError) -> Self {
        match e {
            AdminAuthError::Unauthorized(m) => ApiError::Unauthorized(m),
            AdminAuthError::Forbidden(m) => ApiError::Forbidden(m),
            AdminAuthError::Failed(e) => ApiError::from(e),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    scheme_token(headers, "bearer")
}

/// The credentials of an `Authorization: <scheme> <token>` header, the scheme compared
/// without case.
fn scheme_token<'h>(headers: &'h axum::http::HeaderMap, scheme: &str) -> Option<&'h str> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case(scheme))
        .map(|(_, t)| t.trim())
}

/// The access token of the `Authorization` header as a resource endpoint takes it:
/// `Bearer <token>`, or `DPoP <token>` with the request's one `DPoP` proof (RFC 9449
/// §7.1). `Ok(None)`: no token in a scheme either names.
pub(crate) fn presented_token(
    st: &AppState,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    transport: &crate::client_cert::Transport,
    headers: &axum::http::HeaderMap,
) -> Result<Option<PresentedToken>, TokenRejection> {
    let certificate = transport.certificate.clone();
    if let Some(token) = bearer_token(headers) {
        return Ok(Some(PresentedToken { certificate, ..PresentedToken::bearer(token) }));
    }
    let Some(token) = scheme_token(headers, "dpop") else { return Ok(None) };
    let dpop = crate::oauth::dpop::dpop_input(st, method, uri, headers, transport.listener.as_ref())
        .map_err(|e| TokenRejection::Dpop(e.description().to_owned()))?
        .ok_or_else(|| TokenRejection::Dpop("the DPoP scheme needs the request's DPoP proof header".into()))?;
    Ok(Some(PresentedToken { token: token.to_owned(), dpop: Some(dpop), certificate }))
}

/// Checks `Authorization: Bearer` for an access token with scope `admin`. The admin
/// listener takes bearer tokens only (a DPoP-bound token is refused): its URL as clients
/// reach it, which a proof's `htu` names, is not configured.
pub async fn admin_principal(parts: &Parts, state: &AppState) -> Result<Principal, AdminAuthError> {
    let token = bearer_token(&parts.headers).ok_or_else(|| {
        let present = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some();
        AdminAuthError::Unauthorized(if present { "the Authorization header must be \"Bearer <token>\"" } else { "missing bearer token" }.into())
    })?;
    let principal = state.services.verify_access_token(&PresentedToken::bearer(token)).await.map_err(|e| match e {
        TokenRejection::Store(e) => AdminAuthError::Failed(e.into()),
        other => AdminAuthError::Unauthorized(format!("invalid access token: {other}")),
    })?;
    // The token is valid: its tenant and client are the request's (span fields).
    let span = tracing::Span::current();
    span.record("tenant", principal.tenant.as_str());
    span.record("client", principal.client_id.as_str());
    if !principal.has_scope("admin") {
        return Err(AdminAuthError::Forbidden("the access token lacks scope \"admin\"".into()));
    }
    Ok(principal)
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(AdminCaller(admin_principal(parts, state).await?))
    }
}

/// A trusted service (tenant-service) with a key from `CLAVIS_INTERNAL_API_KEYS`, acting
/// for the tenant in `X-Tenant-ID` (created if new).
pub struct InternalCaller {
    pub tenant: TenantId,
}

impl FromRequestParts<AppState> for InternalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let presented = parts.headers.get("x-api-key").map(|v| v.as_bytes()).unwrap_or_default();
        // Compare against every key, without stopping early, in constant time per key.
        let mut ok = subtle::Choice::from(0u8);
        for key in state.internal_api_keys.iter() {
            ok |= key.as_bytes().ct_eq(presented);
        }
        if presented.is_empty() || !bool::from(ok) {
            return Err(ApiError::Unauthorized("missing or invalid X-API-Key".into()));
        }
        let tenant = parts
            .headers
            .get("x-tenant-id")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::BadRequest("X-Tenant-ID header is required".into()))?;
        let tenant = TenantId::parse(tenant).ok_or_else(|| ApiError::BadRequest("X-Tenant-ID must match ^[a-z0-9][a-z0-9_-]{0,62}$".into()))?;
        state.services.ensure_tenant(&tenant).await.map_err(ServiceError::from)?;
        tracing::Span::current().record("tenant", tenant.as_str());
        Ok(InternalCaller { tenant })
    }
}
