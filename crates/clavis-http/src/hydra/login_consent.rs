//! `GET/PUT /admin/oauth2/auth/requests/{login,consent,logout}[/accept|/reject]`.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_service::{ConsentAccept, ConsentRequestView, LoginAccept, LoginRequestView, LogoutRequestView, RejectRequest};
use serde::Serialize;
use utoipa::ToSchema;

use super::{param, query_params, HydraAdmin, HydraError, HydraErrorBody, HydraJson};
use crate::AppState;

fn challenge(query: Option<&str>, name: &str) -> Result<String, HydraError> {
    param(&query_params(query)?, name).map(str::to_owned).ok_or_else(|| HydraError::bad_request(format!("query parameter {name} is required")))
}

/// Where the login or consent app sends the browser next (`OAuth2RedirectTo`).
#[derive(Serialize, ToSchema)]
pub struct RedirectTo {
    redirect_to: String,
}

fn redirect_to(url: String) -> Response {
    Json(RedirectTo { redirect_to: url }).into_response()
}

#[utoipa::path(get, path = "/admin/oauth2/auth/requests/login", operation_id = "getOAuth2LoginRequest", tag = "hydra", security(("admin_token" = [])), params(("login_challenge" = String, Query)),
    responses((status = 200, body = LoginRequestView), (status = "4XX", body = HydraErrorBody)))]
pub async fn get_login(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "login_challenge")?;
    Ok(Json(st.services.login_request(&p.tenant, &c).await?).into_response())
}

#[utoipa::path(put, path = "/admin/oauth2/auth/requests/login/accept", operation_id = "acceptOAuth2LoginRequest", tag = "hydra", security(("admin_token" = [])), params(("login_challenge" = String, Query)),
    request_body = LoginAccept, responses((status = 200, body = RedirectTo), (status = "4XX", body = HydraErrorBody)))]
pub async fn accept_login(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<LoginAccept>,
) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "login_challenge")?;
    Ok(redirect_to(st.services.accept_login(&p.tenant, &c, body).await?))
}

#[utoipa::path(put, path = "/admin/oauth2/auth/requests/login/reject", operation_id = "rejectOAuth2LoginRequest", tag = "hydra", security(("admin_token" = [])), params(("login_challenge" = String, Query)),
    request_body = RejectRequest, responses((status = 200, body = RedirectTo), (status = "4XX", body = HydraErrorBody)))]
pub async fn reject_login(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<RejectRequest>,
) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "login_challenge")?;
    Ok(redirect_to(st.services.reject_login(&p.tenant, &c, body).await?))
}

#[utoipa::path(get, path = "/admin/oauth2/auth/requests/consent", operation_id = "getOAuth2ConsentRequest", tag = "hydra", security(("admin_token" = [])), params(("consent_challenge" = String, Query)),
    responses((status = 200, body = ConsentRequestView), (status = "4XX", body = HydraErrorBody)))]
pub async fn get_consent(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "consent_challenge")?;
    Ok(Json(st.services.consent_request(&p.tenant, &c).await?).into_response())
}

#[utoipa::path(put, path = "/admin/oauth2/auth/requests/consent/accept", operation_id = "acceptOAuth2ConsentRequest", tag = "hydra", security(("admin_token" = [])), params(("consent_challenge" = String, Query)),
    request_body = ConsentAccept, responses((status = 200, body = RedirectTo), (status = "4XX", body = HydraErrorBody)))]
pub async fn accept_consent(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<ConsentAccept>,
) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "consent_challenge")?;
    Ok(redirect_to(st.services.accept_consent(&p.tenant, &c, body).await?))
}

#[utoipa::path(put, path = "/admin/oauth2/auth/requests/consent/reject", operation_id = "rejectOAuth2ConsentRequest", tag = "hydra", security(("admin_token" = [])), params(("consent_challenge" = String, Query)),
    request_body = RejectRequest, responses((status = 200, body = RedirectTo), (status = "4XX", body = HydraErrorBody)))]
pub async fn reject_consent(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<RejectRequest>,
) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "consent_challenge")?;
    Ok(redirect_to(st.services.reject_consent(&p.tenant, &c, body).await?))
}

#[utoipa::path(get, path = "/admin/oauth2/auth/requests/logout", operation_id = "getOAuth2LogoutRequest", tag = "hydra", security(("admin_token" = [])), params(("logout_challenge" = String, Query)),
    responses((status = 200, body = LogoutRequestView), (status = "4XX", body = HydraErrorBody)))]
pub async fn get_logout(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "logout_challenge")?;
    Ok(Json(st.services.logout_request(&p.tenant, &c).await?).into_response())
}

/// The user confirmed: the browser is sent back to end the session.
#[utoipa::path(put, path = "/admin/oauth2/auth/requests/logout/accept", operation_id = "acceptOAuth2LogoutRequest", tag = "hydra", security(("admin_token" = [])), params(("logout_challenge" = String, Query)),
    responses((status = 200, body = RedirectTo), (status = "4XX", body = HydraErrorBody)))]
pub async fn accept_logout(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "logout_challenge")?;
    Ok(redirect_to(st.services.accept_logout(&p.tenant, &c).await?))
}

/// The user stays logged in.
#[utoipa::path(put, path = "/admin/oauth2/auth/requests/logout/reject", operation_id = "rejectOAuth2LogoutRequest", tag = "hydra", security(("admin_token" = [])), params(("logout_challenge" = String, Query)),
    responses((status = 204, description = "Rejected"), (status = "4XX", body = HydraErrorBody)))]
pub async fn reject_logout(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let c = challenge(q.as_deref(), "logout_challenge")?;
    st.services.reject_logout(&p.tenant, &c).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Signs a subject out everywhere (or ends one session, `sid`): the next authorization asks
/// to log in. Tokens already issued stay valid.
#[utoipa::path(delete, path = "/admin/oauth2/auth/sessions/login", operation_id = "revokeOAuth2LoginSessions",
    tag = "hydra", security(("admin_token" = [])),
    params(("subject" = Option<String>, Query), ("sid" = Option<String>, Query, description = "Instead of subject: one session")),
    responses((status = 204, description = "Ended"), (status = "4XX", body = HydraErrorBody)))]
pub async fn revoke_login_sessions(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let params = query_params(q.as_deref())?;
    let get = |k: &str| param(&params, k);
    st.services.revoke_login_sessions(&p.tenant, get("subject"), get("sid")).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Forgets a subject's remembered consents — for one `client`, or with `all=true` for every
/// client — and revokes the refresh tokens granted, with the access tokens issued alongside
/// them. (Access tokens of grants without a refresh token run out on their own.)
#[utoipa::path(delete, path = "/admin/oauth2/auth/sessions/consent", operation_id = "revokeOAuth2ConsentSessions",
    tag = "hydra", security(("admin_token" = [])),
    params(("subject" = String, Query), ("client" = Option<String>, Query), ("all" = Option<bool>, Query, description = "Every client's")),
    responses((status = 204, description = "Revoked"), (status = "4XX", body = HydraErrorBody)))]
pub async fn revoke_consent_sessions(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let params = query_params(q.as_deref())?;
    let get = |k: &str| param(&params, k);
    let subject = get("subject").ok_or_else(|| HydraError::bad_request("query parameter subject is required"))?;
    let client = match (get("client"), get("all")) {
        (Some(c), None | Some("false")) => Some(c),
        (None, Some("true")) => None,
        _ => return Err(HydraError::bad_request("give either client or all=true")),
    };
    st.services.revoke_consent_sessions(&p.tenant, subject, client).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A subject's remembered consents, in client id order, `page_size` (1–500, default 250) at
/// a time; the `Link` header names the `first` and `next` pages (`page_token`).
#[utoipa::path(get, path = "/admin/oauth2/auth/sessions/consent", operation_id = "listOAuth2ConsentSessions",
    tag = "hydra", security(("admin_token" = [])),
    params(("subject" = String, Query), ("page_size" = Option<i64>, Query, minimum = 1), ("page_token" = Option<String>, Query, description = "From the `next` link")),
    responses((status = 200, body = Vec<clavis_service::ConsentSessionView>, headers(("Link" = String, description = "`first` and `next` pages"))),
              (status = "4XX", body = HydraErrorBody)))]
pub async fn list_consent_sessions(State(st): State<AppState>, HydraAdmin(p): HydraAdmin, RawQuery(q): RawQuery) -> Result<Response, HydraError> {
    let params = query_params(q.as_deref())?;
    let get = |k: &str| param(&params, k);
    let subject = get("subject").ok_or_else(|| HydraError::bad_request("query parameter subject is required"))?.to_owned();
    let page_size = match get("page_size") {
        None => super::clients::DEFAULT_PAGE_SIZE,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(|n| n.min(super::clients::MAX_PAGE_SIZE))
            .ok_or_else(|| HydraError::bad_request("page_size must be a positive integer"))?,
    };
    let after = get("page_token").unwrap_or("").to_owned();
    let mut page = st.services.list_consent_sessions(&p.tenant, &subject, &after, page_size + 1).await?;
    let more = page.len() as i64 > page_size;
    page.truncate(page_size as usize);
    let link = |token: Option<&str>| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("subject", &subject).append_pair("page_size", &page_size.to_string());
        if let Some(t) = token {
            q.append_pair("page_token", t);
        }
        format!("</admin/oauth2/auth/sessions/consent?{}>", q.finish())
    };
    let mut links = vec![format!("{}; rel=\"first\"", link(None))];
    if let (true, Some((last, _))) = (more, page.last()) {
        links.push(format!("{}; rel=\"next\"", link(Some(last))));
    }
    let body: Vec<_> = page.into_iter().map(|(_, v)| v).collect();
    let mut resp = Json(body).into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&links.join(",")) {
        resp.headers_mut().insert(axum::http::header::LINK, v);
    }
    Ok(resp)
}

/// Hydra's `AcceptDeviceUserCodeRequest`.
#[derive(serde::Deserialize, ToSchema)]
pub struct AcceptUserCode {
    user_code: String,
}

/// The device verification page took a user code for its `device_challenge`; the browser
/// continues at `redirect_to` (login, consent). A wrong, expired or used code is 400 (five
/// per challenge, then the challenge is spent), too many wrong codes lately 429.
#[utoipa::path(put, path = "/admin/oauth2/auth/requests/device/accept", operation_id = "acceptUserCodeRequest", tag = "hydra", security(("admin_token" = [])),
    params(("device_challenge" = String, Query)), request_body = AcceptUserCode,
    responses((status = 200, body = RedirectTo), (status = "4XX", body = HydraErrorBody)))]
pub async fn accept_user_code(
    State(st): State<AppState>,
    HydraAdmin(p): HydraAdmin,
    RawQuery(q): RawQuery,
    HydraJson(body): HydraJson<AcceptUserCode>,
) -> Result<Response, HydraError> {
    use clavis_service::UserCodeError;
    let c = challenge(q.as_deref(), "device_challenge")?;
    match st.services.accept_user_code(&p.tenant, &c, &body.user_code).await {
        Ok(url) => Ok(redirect_to(url)),
        Err(UserCodeError::Unknown | UserCodeError::Expired | UserCodeError::Used) => {
            Err(HydraError::bad_request("The 'user_code' session could not be found or has expired or is otherwise malformed."))
        }
        Err(UserCodeError::Challenge) => {
            Err(HydraError::new(StatusCode::NOT_FOUND, "not_found", "the device challenge is unknown, spent, or tried too many codes"))
        }
        Err(UserCodeError::TooMany(wait)) => {
            Err(HydraError::new(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", format!("too many wrong user codes; retry in {wait} s")))
        }
        Err(UserCodeError::Service(e)) => Err(e.into()),
    }
}
