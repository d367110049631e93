//! Hydra's trust API for the JWT bearer grant, `/admin/trust/grants/jwt-bearer/issuers`
//! (the SDK's trustOAuth2JwtGrantIssuer, getTrustedOAuth2JwtGrantIssuer,
//! listTrustedOAuth2JwtGrantIssuers, deleteTrustedOAuth2JwtGrantIssuer).

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_core::time::{parse_rfc3339, rfc3339};
use clavis_service::{TrustRequest, TrustedIssuer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{param, query_params, HydraAdmin, HydraError, HydraErrorBody, HydraJson};
use crate::AppState;

const PATH: &str = "/admin/trust/grants/jwt-bearer/issuers";

/// Hydra's `trustOAuth2JwtGrantIssuer` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct TrustIssuerBody {
    issuer: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    allow_any_subject: bool,
    scope: Vec<String>,
    /// The issuer's public key (RSA, EC P-256 or Ed25519, with `kid`).
    #[schema(value_type = Object)]
    jwk: Value,
    /// RFC 3339.
    expires_at: String,
}

/// Hydra's `trustedOAuth2JwtGrantJsonWebKey`: the key's set (the issuer) and kid.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TrustedKey {
    set: String,
    kid: String,
}

/// Hydra's `trustedOAuth2JwtGrantIssuer`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TrustedIssuerView {
    id: String,
    issuer: String,
    subject: String,
    allow_any_subject: bool,
    scope: Vec<String>,
    public_key: TrustedKey,
    expires_at: String,
    created_at: String,
}

impl From<TrustedIssuer> for TrustedIssuerView {
    fn from(t: TrustedIssuer) -> Self {
        Self {
            scope: serde_json::from_str(&t.scopes).unwrap_or_default(),
            public_key: TrustedKey { set: t.issuer.clone(), kid: t.kid },
            expires_at: rfc3339(t.expires_at),
            created_at: rfc3339(t.created_at),
            id: t.id,
            issuer: t.issuer,
            subject: t.subject,
            allow_any_subject: t.allow_any_subject,
        }
    }
}

/// Trusts a key of an issuer to assert a subject (or any) for at most `scope` (201).
#[utoipa::path(post, path = "/admin/trust/grants/jwt-bearer/issuers", operation_id = "trustOAuth2JwtGrantIssuer", tag = "hydra",
    security(("admin_token" = [])), request_body = TrustIssuerBody,
    responses((status = 201, body = TrustedIssuerView), (status = "4XX", body = HydraErrorBody)))]
pub async fn trust(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, HydraJson(b): HydraJson<TrustIssuerBody>) -> Result<Response, HydraError> {
    let expires_at = parse_rfc3339(&b.expires_at).ok_or_else(|| HydraError::bad_request("expires_at must be an RFC 3339 date-time"))?;
    let r = TrustRequest { issuer: b.issuer, subject: b.subject, allow_any_subject: b.allow_any_subject, scope: b.scope, jwk: b.jwk, expires_at };
    let trusted = st.services.trust_issuer(&p.tenant, r).await?;
    Ok((StatusCode::CREATED, Json(TrustedIssuerView::from(trusted))).into_response())
}

#[utoipa::path(get, path = "/admin/trust/grants/jwt-bearer/issuers/{id}", operation_id = "getTrustedOAuth2JwtGrantIssuer", tag = "hydra",
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, body = TrustedIssuerView), (status = "4XX", body = HydraErrorBody)))]
pub async fn get(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, Path(id): Path<String>) -> Result<Json<TrustedIssuerView>, HydraError> {
    Ok(Json(st.services.trusted_issuer(&p.tenant, &id).await?.into()))
}

/// Ends the relationship: assertions signed with its key are refused from now on.
#[utoipa::path(delete, path = "/admin/trust/grants/jwt-bearer/issuers/{id}", operation_id = "deleteTrustedOAuth2JwtGrantIssuer", tag = "hydra",
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = "4XX", body = HydraErrorBody)))]
pub async fn delete(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, Path(id): Path<String>) -> Result<StatusCode, HydraError> {
    st.services.distrust_issuer(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's relationships in creation order, expired ones too, of one `issuer` if
/// given; `page_size` 1–500 (default 250), `Link` names the `first` and `next` pages.
#[utoipa::path(get, path = "/admin/trust/grants/jwt-bearer/issuers", operation_id = "listTrustedOAuth2JwtGrantIssuers", tag = "hydra",
    security(("admin_token" = [])),
    params(("page_size" = Option<i64>, Query, minimum = 1), ("page_token" = Option<String>, Query), ("issuer" = Option<String>, Query)),
    responses((status = 200, body = Vec<TrustedIssuerView>, headers(("Link" = String, description = "`first` and `next` pages"))),
              (status = "4XX", body = HydraErrorBody)))]
pub async fn list(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let params = query_params(q.as_deref())?;
    let page_size = super::page_size(&params)?;
    let after = param(&params, "page_token").unwrap_or("");
    if after.len() > 26 || !after.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(HydraError::bad_request("page_token is malformed"));
    }
    let issuer = param(&params, "issuer");
    let mut items = st.services.trusted_issuers(&p.tenant, issuer, after, page_size + 1).await?;
    let more = items.len() as i64 > page_size;
    items.truncate(page_size as usize);
    let mut base = form_urlencoded::Serializer::new(String::new());
    base.append_pair("page_size", &page_size.to_string());
    if let Some(i) = issuer {
        base.append_pair("issuer", i);
    }
    let base = base.finish();
    let mut links = vec![format!("<{PATH}?{base}>; rel=\"first\"")];
    if let (true, Some(last)) = (more, items.last()) {
        links.push(format!("<{PATH}?{base}&page_token={}>; rel=\"next\"", last.id));
    }
    let body: Vec<TrustedIssuerView> = items.into_iter().map(Into::into).collect();
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(header::LINK, HeaderValue::from_str(&links.join(", ")).expect("a link is a header value"));
    Ok(resp)
}
