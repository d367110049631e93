//! `GET/PUT /admin/oauth2/auth/requests/{login,consent}[/accept|/reject]`.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_service::{ConsentAccept, LoginAccept, RejectRequest};
use serde_json::json;

use super::{HydraAdmin, HydraError, HydraJson};
use crate::AppState;

fn challenge(query: Option<&str>, name: &str) -> Result<String, HydraError> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| HydraError::bad_request(format!("query parameter {name} is required")))
}

fn redirect_to(url: String) -> Response {
    Json(json!({ "redirect_to": url })).into_response()
}

pub async fn get_login(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "login_challenge")?;
    Ok(Json(st.services.login_request(&p.tenant, &c).await?).into_response())
}

pub async fn accept_login(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<LoginAccept>,
) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "login_challenge")?;
    Ok(redirect_to(st.services.accept_login(&p.tenant, &c, body).await?))
}

pub async fn reject_login(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<RejectRequest>,
) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "login_challenge")?;
    Ok(redirect_to(st.services.reject_login(&p.tenant, &c, body).await?))
}

pub async fn get_consent(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "consent_challenge")?;
    Ok(Json(st.services.consent_request(&p.tenant, &c).await?).into_response())
}

pub async fn accept_consent(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<ConsentAccept>,
) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "consent_challenge")?;
    Ok(redirect_to(st.services.accept_consent(&p.tenant, &c, body).await?))
}

pub async fn reject_consent(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<RejectRequest>,
) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "consent_challenge")?;
    Ok(redirect_to(st.services.reject_consent(&p.tenant, &c, body).await?))
}
