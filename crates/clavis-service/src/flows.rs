//! The authorization endpoint and the login/consent hand-off, in Ory Hydra's model:
//!
//! 1. `GET /oauth2/auth` validates the request and sends the browser to the login app
//!    with a `login_challenge`.
//! 2. The login app reads the request (`GET …/login`), authenticates the user, and
//!    accepts (`PUT …/login/accept`): it gets `redirect_to` = the authorization URL plus a
//!    single-use `login_verifier`.
//! 3. Back at `/oauth2/auth`, the verifier opens the consent step: the browser goes to
//!    the consent app with a `consent_challenge`; accepting returns a `consent_verifier`.
//! 4. With the consent verifier, `/oauth2/auth` issues the code and redirects to the client.
//!
//! Each step is a compare-and-set on the flow's state, so a challenge or verifier works
//! once. Handles are random 256-bit values stored as hashes.

use clavis_core::jose::Alg;
use clavis_core::{ids, scope, secret, Client, ClientStatus, FapiProfile, GrantType, TenantId, ValidationError};
use clavis_store::{FlowHandle, FlowRow, SessionRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use crate::browser_binding::{Binding, CsrfCookie, NOT_THIS_BROWSER};
use crate::dpop::DpopInput;
use crate::response_mode::{deliver, normalize_response_type, Navigation, ResponseMode, ResponseSigner};
use crate::token::GrantData;
use crate::{OAuthError, ServiceError, Services};

/// A validated authorization request, kept with its flow. A device flow's has no
/// redirect URI (the device polls the token endpoint instead).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request (then the token request must repeat it).
    pub redirect_uri_given: bool,
    pub scope: Vec<String>,
    pub audience: Vec<String>,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub acr_values: Vec<String>,
    pub ui_locales: Vec<String>,
    pub display: Option<String>,
    /// The `claims` request parameter (OpenID Connect Core §5.5), checked; for the consent app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Value>,
    /// How the response reaches the client (flows stored before modes existed: query).
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// `code id_token`: an ID token goes with the code (OpenID Connect Core §3.3).
    #[serde(default)]
    pub hybrid: bool,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// RFC 9396: the authorization details asked for, checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Value>,
    pub request_url: String,
    pub issuer: String,
}

/// The login app's `PUT …/login/accept` body (Hydra's `AcceptOAuth2LoginRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoginAccept {
    pub subject: String,
    #[serde(default)]
    pub remember: bool,
    /// Seconds; 0 = for the browser session.
    #[serde(default)]
    pub remember_for: i64,
    #[serde(default)]
    pub acr: String,
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Value)]
    pub context: Value,
}

/// The consent app's `PUT …/consent/accept` body (Hydra's `AcceptOAuth2ConsentRequest`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsentAccept {
    #[serde(default)]
    pub grant_scope: Vec<String>,
    #[serde(default)]
    pub grant_access_token_audience: Vec<String>,
    #[serde(default)]
    pub remember: bool,
    #[serde(default)]
    pub remember_for: i64,
    #[serde(default)]
    pub session: ConsentSession,
    /// RFC 9396: the authorization details granted, of requested types (none if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub grant_authorization_details: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsentSession {
    /// Extra claims for access tokens (under `ext`).
    #[serde(default)]
    #[schema(value_type = Value)]
    pub access_token: Value,
    /// Extra claims for ID tokens and userinfo.
    #[serde(default)]
    #[schema(value_type = Value)]
    pub id_token: Value,
}

/// Hydra's `RejectOAuth2Request`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectRequest {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub error_hint: Option<String>,
    #[serde(default)]
    pub error_debug: Option<String>,
    #[serde(default)]
    pub status_code: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExistingSession {
    sid: String,
    subject: String,
    auth_time: i64,
    acr: String,
    amr: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoginDone {
    subject: String,
    remember: bool,
    remember_for: i64,
    acr: String,
    amr: Vec<String>,
    context: Value,
    auth_time: i64,
    sid: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlowData {
    pub request: AuthRequest,
    /// The browser that started the flow (see `browser_binding`); flows stored before
    /// bindings existed have none and cannot be finished.
    #[serde(default)]
    pub browser: Option<Binding>,
    pub session: Option<ExistingSession>,
    pub login_skip: bool,
    pub login: Option<LoginDone>,
    pub consent_skip: bool,
    pub consent: Option<ConsentAccept>,
    /// The login session id a new login gets (Hydra shows it in the login request before
    /// the login is accepted); empty in flows stored before it existed.
    #[serde(default)]
    pub new_sid: String,
    /// The login challenge, kept once accepted (then it is spent) for the consent
    /// request's `login_challenge`.
    #[serde(default)]
    pub login_challenge: String,
    /// The login or consent app's refusal, delivered to the client when the browser comes
    /// back with the verifier (as Hydra does).
    #[serde(default)]
    pub rejection: Option<RejectRequest>,
    /// A device flow (RFC 8628): the device request it verifies, once the user code is
    /// known; its end approves or denies that request instead of issuing a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Wrong user codes tried in this device flow.
    #[serde(default)]
    pub user_code_attempts: u32,
}

/// Flow states, in order; a device flow starts with the two device states.
pub(crate) const DEVICE: &str = "device";
pub(crate) const DEVICE_DONE: &str = "device_done";
pub(crate) const LOGIN: &str = "login";
const LOGIN_DONE: &str = "login_done";
const CONSENT: &str = "consent";
const CONSENT_DONE: &str = "consent_done";
const FINISHED: &str = "finished";
const REJECTED: &str = "rejected";

/// Where `/oauth2/auth` sends the browser next.
#[derive(Debug)]
pub struct AuthorizeStep {
    pub next: Navigation,
    /// A new login session to remember in a cookie: its value and max-age (None = for
    /// the browser session).
    pub set_session: Option<(String, Option<i64>)>,
    /// The flow's browser-binding cookie, to set (a new flow) or clear (a finished one).
    pub csrf: Option<CsrfCookie>,
}

#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show the error, never redirect.
    Page(OAuthError),
    /// Send the error to the client (RFC 6749 §4.1.2.1), in the request's response mode.
    Client(Navigation),
}

impl From<clavis_store::StoreError> for AuthorizeError {
    fn from(e: clavis_store::StoreError) -> Self {
        AuthorizeError::Page(OAuthError::from(e))
    }
}

/// Hydra's `OAuth2LoginRequest`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginRequestView {
    pub challenge: String,
    /// The client, as Hydra shows it.
    #[schema(value_type = Value)]
    pub client: Value,
    pub request_url: String,
    pub requested_scope: Vec<String>,
    pub requested_access_token_audience: Vec<String>,
    /// RFC 9396: the authorization details asked for (absent if none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub requested_authorization_details: Option<Value>,
    pub skip: bool,
    pub subject: String,
    #[schema(value_type = Value)]
    pub oidc_context: Value,
    pub session_id: String,
}

/// Hydra's `OAuth2ConsentRequest`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentRequestView {
    pub challenge: String,
    /// The client, as Hydra shows it.
    #[schema(value_type = Value)]
    pub client: Value,
    pub request_url: String,
    pub requested_scope: Vec<String>,
    pub requested_access_token_audience: Vec<String>,
    /// RFC 9396: the authorization details asked for (absent if none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub requested_authorization_details: Option<Value>,
    pub skip: bool,
    pub subject: String,
    #[schema(value_type = Value)]
    pub oidc_context: Value,
    #[schema(value_type = Value)]
    pub context: Value,
    pub login_challenge: String,
    pub login_session_id: String,
    pub acr: String,
    pub amr: Vec<String>,
}

/// Appends query parameters to a URL that may already have a query.
pub(crate) fn with_params(base: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(base) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => base.to_owned(),
    }
}

/// Where an error response goes: the request's redirect URI, state and response mode,
/// and what signs it in a JWT mode.
struct ErrorTarget<'a> {
    redirect_uri: &'a str,
    state: &'a str,
    mode: ResponseMode,
    signer: &'a ResponseSigner,
}

fn error_response(to: ErrorTarget<'_>, issuer: &str, e: &OAuthError) -> AuthorizeError {
    let mut params = vec![("error", e.code()), ("error_description", e.description())];
    if !to.state.is_empty() {
        params.push(("state", to.state));
    }
    params.push(("iss", issuer));
    AuthorizeError::Client(deliver(to.redirect_uri, to.mode, &params, to.signer))
}

impl AuthRequest {
    fn error_target<'a>(&'a self, signer: &'a ResponseSigner) -> ErrorTarget<'a> {
        ErrorTarget { redirect_uri: &self.redirect_uri, state: &self.state, mode: self.response_mode, signer }
    }
}

impl Services {
    /// What signs the client's JWT-secured authorization responses (JARM).
    async fn response_signer(&self, t: &TenantId, client: &Client) -> Result<ResponseSigner, clavis_store::StoreError> {
        let h = &client.extras.hydra;
        let alg = Alg::parse(&h.authorization_signed_response_alg).or(client.fapi_profile.default_alg()).unwrap_or(Alg::Rs256);
        Ok(ResponseSigner { keys: self.keys.for_tenant(t).await?, alg, client_id: client.client_id.clone(), now: self.now() })
    }

    /// [`Self::response_signer`] for a flow's client, by id (a client deleted meanwhile:
    /// the RS256 default, for the error it gets).
    async fn flow_response_signer(&self, t: &TenantId, client_id: &str) -> Result<ResponseSigner, clavis_store::StoreError> {
        match self.clients.load(&self.store, t, client_id).await? {
            Some(entry) => self.response_signer(t, &entry.client).await,
            None => Ok(ResponseSigner { keys: self.keys.for_tenant(t).await?, alg: Alg::Rs256, client_id: client_id.to_owned(), now: self.now() }),
        }
    }

    /// The client for the login, consent and logout apps: the view of `GET /admin/clients/{id}`
    /// (which never holds a secret).
    pub(crate) async fn client_view(&self, t: &TenantId, c: &Client) -> Result<Value, clavis_store::StoreError> {
        Ok(serde_json::to_value(self.hydra_view(t, c).await?).expect("a client view serializes"))
    }
}

pub(crate) fn new_handle() -> (String, String) {
    let value = ids::random_token(32);
    let hash = secret::hash(&value);
    (value, hash)
}

/// The prefix of the request_uri values of pushed authorization requests (RFC 9126 §2.2).
pub const PAR_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// FAPI 2.0 §5.3.2.2-7 (expires_in < 600) and -8 (codes live at most 60 s).
const FAPI2_MAX_REQUEST_URI_SECS: i64 = 599;
pub(crate) const FAPI2_MAX_CODE_SECS: i64 = 60;

/// Parameters a client sends to authenticate itself: never kept with a pushed request.
const CLIENT_AUTH_PARAMS: &[&str] = &["client_secret", "client_assertion", "client_assertion_type"];

/// What a valid authorization request asks for; checked alike at the authorization
/// endpoint and when a request is pushed.
struct Checked {
    redirect_uri: String,
    redirect_uri_given: bool,
    state: String,
    scope: Vec<String>,
    code_challenge: Option<String>,
    prompt: Vec<String>,
    max_age: Option<i64>,
    nonce: Option<String>,
    audience: Vec<String>,
    login_hint: Option<String>,
    acr_values: Vec<String>,
    ui_locales: Vec<String>,
    display: Option<String>,
    claims: Option<Value>,
    response_mode: ResponseMode,
    hybrid: bool,
    dpop_jkt: Option<String>,
    authorization_details: Option<Value>,
}

/// Whether a `response_type` is the hybrid `code id_token`.
fn is_hybrid(response_type: Option<&str>) -> bool {
    response_type.and_then(normalize_response_type).as_deref() == Some("code id_token")
}

/// Why a request was refused. Until the redirect URI is known good the error is shown
/// (`Page`); after that, the client gets it at its redirect URI.
enum Refusal {
    Page(OAuthError),
    Redirect { redirect_uri: String, state: String, mode: ResponseMode, error: OAuthError },
}

impl Refusal {
    fn into_error(self) -> OAuthError {
        match self {
            Refusal::Page(e) | Refusal::Redirect { error: e, .. } => e,
        }
    }
}

/// Where errors about `params` may be sent: their redirect_uri if it is one of the client's
/// (or the client's only one when none is given), with their state and response mode (the
/// default one if theirs is unknown: that error must reach the client too).
fn redirect_target(client: &Client, params: &[(String, String)]) -> Option<(String, String, ResponseMode)> {
    let get = |k: &str| clavis_core::form::param(params, k);
    let uri = match get("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| clavis_core::client::redirect_uri_matches(r, uri)) => uri.to_owned(),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        _ => return None,
    };
    let hybrid = is_hybrid(get("response_type"));
    let mode = ResponseMode::parse(get("response_mode"), hybrid).unwrap_or(if hybrid { ResponseMode::Fragment } else { ResponseMode::Query });
    Some((uri, get("state").unwrap_or("").to_owned(), mode))
}

/// The checks of RFC 6749 §4.1.1, RFC 7636 and OpenID Connect Core §3.1.2.1 for `client`.
fn check_request(client: &Client, params: &[(String, String)]) -> Result<Checked, Refusal> {
    let get = |k: &str| clavis_core::form::param(params, k);
    let page = |m: &str| Refusal::Page(OAuthError::InvalidRequest(m.to_owned()));
    let (redirect_uri, state, mode) = match redirect_target(client, params) {
        Some(target) => target,
        None if get("redirect_uri").is_some() => return Err(page("redirect_uri does not match any registered redirect URI")),
        None => return Err(page("redirect_uri is required: the client has several")),
    };
    let fail = |error: OAuthError| Refusal::Redirect { redirect_uri: redirect_uri.clone(), state: state.clone(), mode, error };
    let response_type = match get("response_type") {
        Some(rt) => match normalize_response_type(rt).filter(|n| crate::RESPONSE_TYPES.contains(&n.as_str())) {
            Some(n) => n,
            None => {
                return Err(fail(OAuthError::UnsupportedResponseType(format!("response_type {rt:?} is not supported; use code or code id_token"))))
            }
        },
        None => return Err(fail(OAuthError::InvalidRequest("response_type is required".into()))),
    };
    // Registered response types (Hydra's `response_types`; clients without any have "code").
    let registered = &client.extras.hydra.response_types;
    if !(registered.contains(&response_type) || registered.is_empty() && response_type == "code") {
        return Err(fail(OAuthError::UnauthorizedClient(format!("response_type {response_type:?} is not registered for this client"))));
    }
    let hybrid = response_type == "code id_token";
    let response_mode = ResponseMode::parse(get("response_mode"), hybrid).map_err(fail)?;
    // FAPI 1.0 Advanced §5.2.2-2: the response is protected by an ID token (with s_hash)
    // or is itself a JWT (JARM).
    if client.fapi_profile == FapiProfile::Fapi1 && !hybrid && !response_mode.is_jwt() {
        return Err(fail(OAuthError::InvalidRequest(
            "this client (fapi1) must use response_type code id_token or a JWT response mode (JARM)".into(),
        )));
    }
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(fail(OAuthError::UnauthorizedClient("the client is not registered for authorization_code".into())));
    }
    // Request objects are resolved before; one inside the parameters they gave is refused
    // rather than ignored.
    if get("request").is_some() || get("request_uri").is_some() {
        return Err(fail(OAuthError::InvalidRequest("a request object or request_uri cannot be nested".into())));
    }
    if state.is_empty() {
        return Err(fail(OAuthError::InvalidRequest("state is required".into())));
    }
    if state.len() > 1024 {
        return Err(fail(OAuthError::InvalidRequest("state is too long".into())));
    }
    let scope = scope::parse_scope_param(get("scope").unwrap_or(""))
        .ok_or_else(|| fail(OAuthError::InvalidScope("the scope parameter is malformed".into())))?;
    if let Some(extra) = scope.iter().find(|s| !client.scopes.contains(s)) {
        return Err(fail(OAuthError::InvalidScope(format!("scope {extra:?} is not registered for this client"))));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some("S256")) if is_pkce_value(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => return Err(fail(OAuthError::InvalidRequest("code_challenge is malformed".into()))),
        (Some(_), None | Some("plain")) => {
            return Err(fail(OAuthError::InvalidRequest("code_challenge_method must be S256 (plain is not accepted)".into())))
        }
        (Some(_), Some(_)) => return Err(fail(OAuthError::InvalidRequest("code_challenge_method must be S256".into()))),
        (None, Some(_)) => return Err(fail(OAuthError::InvalidRequest("code_challenge_method without code_challenge".into()))),
    };
    if code_challenge.is_none() && (!client.is_confidential || client.fapi_profile != FapiProfile::None) {
        return Err(fail(OAuthError::InvalidRequest("PKCE (code_challenge with S256) is required for this client".into())));
    }
    let words = |k: &str| get(k).unwrap_or("").split(' ').filter(|a| !a.is_empty()).map(str::to_owned).collect::<Vec<_>>();
    let audience = words("audience");
    check_audience(client, &audience).map_err(fail)?;
    let prompt = words("prompt");
    if let Some(p) = prompt.iter().find(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account")) {
        return Err(fail(OAuthError::InvalidRequest(format!("prompt {p:?} is not supported"))));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(fail(OAuthError::InvalidRequest("prompt=none cannot be combined".into())));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| fail(OAuthError::InvalidRequest("max_age must be a non-negative integer".into())))?,
        ),
    };
    let nonce = get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > 1024) {
        return Err(fail(OAuthError::InvalidRequest("nonce is too long".into())));
    }
    // OpenID Connect Core §3.3.2.11: the ID token of a hybrid response needs both.
    if hybrid && nonce.is_none() {
        return Err(fail(OAuthError::InvalidRequest("nonce is required with response_type code id_token".into())));
    }
    if hybrid && !scope.iter().any(|s| s == "openid") {
        return Err(fail(OAuthError::InvalidScope("response_type code id_token needs the openid scope".into())));
    }
    let dpop_jkt = get("dpop_jkt").map(str::to_owned);
    if dpop_jkt.as_deref().is_some_and(|j| !clavis_core::dpop::is_thumbprint(j)) {
        return Err(fail(OAuthError::InvalidRequest("dpop_jkt must be a base64url SHA-256 JWK thumbprint".into())));
    }
    Ok(Checked {
        redirect_uri_given: get("redirect_uri").is_some(),
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        scope,
        code_challenge,
        prompt,
        max_age,
        nonce,
        audience,
        login_hint: get("login_hint").map(str::to_owned),
        acr_values: words("acr_values"),
        ui_locales: words("ui_locales"),
        display: get("display").map(str::to_owned),
        claims: get("claims").map(check_claims_request).transpose().map_err(|m| fail(OAuthError::InvalidRequest(m.into())))?,
        response_mode,
        hybrid,
        dpop_jkt,
        authorization_details: get("authorization_details")
            .map(|raw| crate::authorization_details::parse_request(client, raw))
            .transpose()
            .map_err(fail)?,
    })
}

/// The `claims` request parameter (OpenID Connect Core §5.5): a JSON object whose
/// `userinfo` and `id_token` members, if present, map claim names to `null` or to
/// `{essential, value, values}`. Other members are kept (§5.5 lets them be ignored).
fn check_claims_request(raw: &str) -> Result<Value, &'static str> {
    let v: Value = serde_json::from_str(raw).map_err(|_| "claims must be a JSON object")?;
    let obj = v.as_object().ok_or("claims must be a JSON object")?;
    for member in ["userinfo", "id_token"] {
        let Some(requested) = obj.get(member) else { continue };
        let requested = requested.as_object().ok_or("claims.userinfo and claims.id_token must be JSON objects")?;
        for spec in requested.values() {
            let ok = match spec {
                Value::Null => true,
                Value::Object(o) => o.get("essential").is_none_or(Value::is_boolean) && o.get("values").is_none_or(Value::is_array),
                _ => false,
            };
            if !ok {
                return Err("each requested claim must be null or {\"essential\", \"value\", \"values\"}");
            }
        }
    }
    Ok(v)
}

/// An `error` value RFC 6749 §4.1.2.1 allows (printable ASCII but `"` and `\\`), not too long.
fn is_error_code(e: &str) -> bool {
    (1..=64).contains(&e.len()) && e.bytes().all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// Hydra's rule: a client may ask only for audiences registered for it (its `audience`).
pub(crate) fn check_audience(client: &Client, requested: &[String]) -> Result<(), OAuthError> {
    match requested.iter().find(|a| !client.extras.hydra.audience.contains(a)) {
        Some(a) => Err(OAuthError::InvalidRequest(format!("audience {a:?} is not registered for this client"))),
        None => Ok(()),
    }
}

/// The PKCE code challenge shape of RFC 7636 (43–128 unreserved characters).
fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl Services {
    /// `GET /oauth2/auth`: a new authorization request, or a return with a verifier.
    pub async fn authorize(
        &self,
        t: &TenantId,
        issuer: &str,
        params: &[(String, String)],
        request_url: &str,
        session_cookie: Option<&str>,
        csrf_cookies: &[String],
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let mut seen = std::collections::HashSet::with_capacity(params.len());
        if let Some((k, _)) = params.iter().find(|(k, _)| !seen.insert(k.as_str())) {
            return Err(AuthorizeError::Page(OAuthError::InvalidRequest(format!("parameter {k:?} is repeated"))));
        }
        let get = |k: &str| clavis_core::form::param(params, k);
        if let Some(v) = get("login_verifier") {
            return self.after_login(t, v, csrf_cookies).await;
        }
        if let Some(v) = get("consent_verifier") {
            return self.after_consent(t, v, csrf_cookies).await;
        }
        let now = self.now();
        let page = |m: &str| AuthorizeError::Page(OAuthError::InvalidRequest(m.to_owned()));

        // Until the client and redirect URI are known good, errors are shown, not redirected.
        let client_id = get("client_id").ok_or_else(|| page("client_id is required"))?;
        if !ids::is_plausible_id(client_id) {
            return Err(AuthorizeError::Page(OAuthError::InvalidClient("unknown client".into())));
        }
        let entry = self.clients.load(&self.store, t, client_id).await?;
        let client = match entry {
            Some(e) if e.client.status == ClientStatus::Active => e.client.clone(),
            _ => return Err(AuthorizeError::Page(OAuthError::InvalidClient("unknown client".into()))),
        };
        let signer = self.response_signer(t, &client).await?;
        // A pushed request (RFC 9126) replaces every parameter but client_id, and so does a
        // request object (RFC 9101). Errors about them go to the client when the URL's own
        // redirect_uri is a registered one (OpenID Connect Core §3.1.2.6).
        let early = |e: OAuthError| match redirect_target(&client, params) {
            Some((uri, state, mode)) => error_response(ErrorTarget { redirect_uri: &uri, state: &state, mode, signer: &signer }, issuer, &e),
            None => AuthorizeError::Page(e),
        };
        let invalid_uri = |why: &str| early(OAuthError::Custom("invalid_request_uri".into(), why.into()));
        let must_sign = || early(OAuthError::InvalidRequest("this client must send its authorization requests as signed request objects".into()));
        let pushed;
        let from_object;
        let params = match (get("request"), get("request_uri")) {
            (Some(_), Some(_)) => return Err(early(OAuthError::InvalidRequest("request and request_uri cannot both be given".into()))),
            (None, Some(uri)) if uri.starts_with(PAR_URI_PREFIX) => {
                let handle = &uri[PAR_URI_PREFIX.len()..];
                let taken = if handle.len() <= 128 { self.store.take_pushed(t, &secret::hash(handle), now).await? } else { None };
                let Some((owner, stored)) = taken else {
                    return Err(invalid_uri("request_uri is unknown, expired or already used"));
                };
                if owner != client.client_id {
                    return Err(invalid_uri("request_uri was pushed by another client"));
                }
                pushed = serde_json::from_str::<Vec<(String, String)>>(&stored).unwrap_or_default();
                &pushed[..]
            }
            _ if client.fapi_profile == FapiProfile::Fapi2 => {
                return Err(page("this client must push its authorization requests (PAR, /oauth2/par)"));
            }
            (None, Some(uri)) => {
                let object = self.fetch_request_uri(t, &client, uri).await.map_err(early)?;
                from_object = self.request_object_params(t, issuer, &client, &object, params).await.map_err(early)?;
                &from_object[..]
            }
            (Some(object), None) => {
                from_object = self.request_object_params(t, issuer, &client, object, params).await.map_err(early)?;
                &from_object[..]
            }
            (None, None) if client.extras.hydra.require_signed_request_object => return Err(must_sign()),
            // FAPI 1.0 Advanced §5.2.2-1 and -2: a signed request object, or PAR.
            (None, None) if client.fapi_profile == FapiProfile::Fapi1 => {
                return Err(early(OAuthError::InvalidRequest(
                    "this client (fapi1) must send signed request objects or push its requests (PAR)".into(),
                )))
            }
            (None, None) => params,
        };
        let checked = check_request(&client, params).map_err(|r| match r {
            Refusal::Page(e) => AuthorizeError::Page(e),
            Refusal::Redirect { redirect_uri, state, mode, error } => {
                error_response(ErrorTarget { redirect_uri: &redirect_uri, state: &state, mode, signer: &signer }, issuer, &error)
            }
        })?;
        let Checked { redirect_uri, redirect_uri_given, state, scope: requested, code_challenge, prompt, max_age, nonce, audience, .. } = checked;
        let mode = checked.response_mode;
        let fail = |e: OAuthError| error_response(ErrorTarget { redirect_uri: &redirect_uri, state: &state, mode, signer: &signer }, issuer, &e);

        let session = self.existing_session(t, session_cookie, now).await?;
        // OIDC Core §3.1.2.1: re-authenticate when more than `max_age` seconds have passed.
        // Times are whole seconds, so `max_age=0` would let a session from this very second
        // through: it means "authenticate now", as `prompt=login`.
        let fresh_enough = |s: &ExistingSession| max_age.is_none_or(|m| m > 0 && now - s.auth_time <= m);
        let login_skip = session.as_ref().is_some_and(fresh_enough) && !prompt.iter().any(|p| p == "login");
        if prompt.iter().any(|p| p == "none") && !login_skip {
            return Err(fail(OAuthError::LoginRequired("the user is not logged in".into())));
        }
        let Some(login_url) = self.app_urls(t).await?.login_url else {
            return Err(fail(OAuthError::server("no login URL is configured (CLAVIS_LOGIN_URL)")));
        };
        let request = AuthRequest {
            client_id: client.client_id.clone(),
            redirect_uri,
            redirect_uri_given,
            scope: requested,
            audience,
            state,
            nonce,
            code_challenge,
            prompt,
            max_age,
            login_hint: checked.login_hint,
            acr_values: checked.acr_values,
            ui_locales: checked.ui_locales,
            display: checked.display,
            claims: checked.claims,
            response_mode: mode,
            hybrid: checked.hybrid,
            dpop_jkt: checked.dpop_jkt,
            authorization_details: checked.authorization_details,
            request_url: request_url.to_owned(),
            issuer: issuer.to_owned(),
        };
        let (binding, csrf) = Binding::new();
        let data = FlowData {
            request,
            browser: Some(binding),
            session,
            login_skip,
            login: None,
            consent_skip: false,
            consent: None,
            new_sid: ids::ulid(),
            login_challenge: String::new(),
            rejection: None,
            device: None,
            user_code_attempts: 0,
        };
        let (challenge, challenge_hash) = new_handle();
        let row = FlowRow {
            id: ids::ulid(),
            client_id: client.client_id.clone(),
            login_challenge: challenge_hash,
            login_verifier: None,
            consent_challenge: None,
            consent_verifier: None,
            state: LOGIN.into(),
            data: serde_json::to_string(&data).expect("flow serializes"),
            created_at: now,
            expires_at: now + self.settings.flow_ttl_secs,
        };
        self.store.insert_flow(t, &row).await?;
        let next = Navigation::Redirect(with_params(&login_url, &[("login_challenge", &challenge)]));
        Ok(AuthorizeStep { next, set_session: None, csrf: Some(csrf) })
    }

    /// The remembered login session the browser's cookie names, if it is still live.
    pub(crate) async fn existing_session(
        &self,
        t: &TenantId,
        cookie: Option<&str>,
        now: i64,
    ) -> Result<Option<ExistingSession>, clavis_store::StoreError> {
        let Some(cookie) = cookie else { return Ok(None) };
        Ok(self.store.find_session(t, &secret::hash(cookie), now).await?.map(|s| {
            let data: Value = serde_json::from_str(&s.data).unwrap_or_default();
            ExistingSession {
                sid: s.sid,
                subject: s.subject,
                auth_time: s.authenticated_at,
                acr: data["acr"].as_str().unwrap_or_default().to_owned(),
                amr: serde_json::from_value(data["amr"].clone()).unwrap_or_default(),
            }
        }))
    }

    /// Keeps a pushed authorization request (RFC 9126) of an authenticated client, checked
    /// as the authorization endpoint would check it. Returns the request_uri and its
    /// lifetime in seconds.
    /// A request object (RFC 9126 §3) is verified and its parameters are what is kept.
    pub async fn push_authorization_request(
        &self,
        t: &TenantId,
        issuer: &str,
        client: &Client,
        params: &[(String, String)],
        dpop: Option<&DpopInput>,
    ) -> Result<(String, i64), OAuthError> {
        let get = |k: &str| clavis_core::form::param(params, k);
        if get("client_id").is_some_and(|id| id != client.client_id) {
            return Err(OAuthError::InvalidRequest("client_id differs from the authenticated client".into()));
        }
        if get("request_uri").is_some() {
            return Err(OAuthError::InvalidRequest("request_uri cannot be pushed".into()));
        }
        let from_object = match get("request") {
            Some(object) => Some(self.request_object_params(t, issuer, client, object, params).await?),
            None if client.extras.hydra.require_signed_request_object => {
                return Err(OAuthError::InvalidRequest("this client must push its authorization requests as signed request objects".into()))
            }
            None => None,
        };
        let params = from_object.as_deref().unwrap_or(params);
        let checked = check_request(client, params).map_err(Refusal::into_error)?;
        let mut kept: Vec<(String, String)> = params.iter().filter(|(k, _)| !CLIENT_AUTH_PARAMS.contains(&k.as_str())).cloned().collect();
        // RFC 9449 §10.1: a proof at PAR binds the code to its key, as dpop_jkt would.
        if let Some(input) = dpop {
            let jkt = self.prove_dpop(t, input, None).await?.jkt;
            match &checked.dpop_jkt {
                Some(asked) if *asked != jkt => return Err(OAuthError::InvalidDpopProof("dpop_jkt differs from the DPoP proof's key".into())),
                Some(_) => {}
                None => kept.push(("dpop_jkt".into(), jkt)),
            }
        }
        let (handle, hash) = new_handle();
        // FAPI 2.0 §5.3.2.2-7: a request_uri lives less than 600 s.
        let ttl = if client.fapi_profile == FapiProfile::Fapi2 {
            self.settings.par_ttl_secs.min(FAPI2_MAX_REQUEST_URI_SECS)
        } else {
            self.settings.par_ttl_secs
        };
        let data = serde_json::to_string(&kept).expect("pairs serialize");
        self.store.insert_pushed(t, &hash, &client.client_id, &data, self.now() + ttl).await?;
        Ok((format!("{PAR_URI_PREFIX}{handle}"), ttl))
    }

    pub(crate) async fn flow(&self, t: &TenantId, by: FlowHandle, handle: &str) -> Result<(FlowRow, FlowData), ServiceError> {
        if handle.len() > 128 {
            return Err(ServiceError::NotFound("request"));
        }
        let row = self.store.find_flow(t, by, &secret::hash(handle), self.now()).await?.ok_or(ServiceError::NotFound("request"))?;
        let data: FlowData = serde_json::from_str(&row.data).map_err(|e| ServiceError::internal(format!("flow data: {e}")))?;
        Ok((row, data))
    }

    pub(crate) async fn advance(&self, t: &TenantId, from: &str, mut row: FlowRow, to: &str, data: &FlowData) -> Result<(), ServiceError> {
        row.state = to.to_owned();
        row.data = serde_json::to_string(data).expect("flow serializes");
        if self.store.advance_flow(t, from, &row).await? {
            Ok(())
        } else {
            Err(ServiceError::Conflict("the request has already been handled".into()))
        }
    }

    fn oidc_context(req: &AuthRequest) -> Value {
        let mut context = json!({
            "acr_values": req.acr_values, "display": req.display.clone().unwrap_or_default(),
            "login_hint": req.login_hint.clone().unwrap_or_default(), "ui_locales": req.ui_locales,
            "id_token_hint_claims": {},
        });
        // Not in Hydra's context: the `claims` request parameter, when the request has one.
        if let Some(claims) = &req.claims {
            context["claims"] = claims.clone();
        }
        context
    }

    async fn flow_client(&self, t: &TenantId, client_id: &str) -> Result<Client, ServiceError> {
        self.store.get_client(t, client_id).await?.ok_or(ServiceError::NotFound("client"))
    }

    pub async fn login_request(&self, t: &TenantId, challenge: &str) -> Result<LoginRequestView, ServiceError> {
        let (row, data) = self.flow(t, FlowHandle::LoginChallenge, challenge).await?;
        // A device challenge is no login challenge.
        if row.state == DEVICE || row.state == DEVICE_DONE {
            return Err(ServiceError::NotFound("request"));
        }
        let client = self.flow_client(t, &row.client_id).await?;
        let session = data.session.as_ref().filter(|_| data.login_skip);
        Ok(LoginRequestView {
            challenge: challenge.to_owned(),
            client: self.client_view(t, &client).await?,
            request_url: data.request.request_url.clone(),
            requested_scope: data.request.scope.clone(),
            requested_access_token_audience: data.request.audience.clone(),
            requested_authorization_details: data.request.authorization_details.clone(),
            skip: data.login_skip,
            subject: session.map(|s| s.subject.clone()).unwrap_or_default(),
            oidc_context: Self::oidc_context(&data.request),
            session_id: session.map_or_else(|| data.new_sid.clone(), |s| s.sid.clone()),
        })
    }

    pub async fn accept_login(&self, t: &TenantId, challenge: &str, body: LoginAccept) -> Result<String, ServiceError> {
        let (mut row, mut data) = self.flow(t, FlowHandle::LoginChallenge, challenge).await?;
        if row.state != LOGIN {
            return Err(ServiceError::Conflict("the login request has already been handled".into()));
        }
        if body.subject.is_empty() || body.subject.len() > 255 || body.subject.chars().any(char::is_control) {
            return Err(ValidationError::new("subject", "must be 1 to 255 printable characters").into());
        }
        if body.remember_for < 0 {
            return Err(ValidationError::new("remember_for", "must not be negative").into());
        }
        let now = self.now();
        let (auth_time, sid) = match (&data.session, data.login_skip) {
            (Some(s), true) => {
                if s.subject != body.subject {
                    return Err(ValidationError::new("subject", "does not match the subject of the existing session").into());
                }
                (s.auth_time, s.sid.clone())
            }
            _ => (now, Some(data.new_sid.clone()).filter(|s| !s.is_empty()).unwrap_or_else(ids::ulid)),
        };
        data.login_challenge = challenge.to_owned();
        data.login = Some(LoginDone {
            subject: body.subject,
            remember: body.remember,
            remember_for: body.remember_for,
            acr: body.acr,
            amr: body.amr,
            context: if body.context.is_null() { json!({}) } else { body.context },
            auth_time,
            sid,
        });
        let (verifier, verifier_hash) = new_handle();
        row.login_verifier = Some(verifier_hash);
        let request_url = data.request.request_url.clone();
        self.advance(t, LOGIN, row, LOGIN_DONE, &data).await?;
        Ok(with_params(&request_url, &[("login_verifier", &verifier)]))
    }

    pub async fn reject_login(&self, t: &TenantId, challenge: &str, body: RejectRequest) -> Result<String, ServiceError> {
        self.reject(t, FlowHandle::LoginChallenge, LOGIN, challenge, body).await
    }

    /// The app refuses the login or the consent. As in Hydra, the app gets the
    /// authorization URL with a verifier back: there `/oauth2/auth` ends the flow and sends
    /// the error to the client in the request's response mode (a form post cannot be a
    /// `redirect_to`), in the browser that started it.
    async fn reject(&self, t: &TenantId, by: FlowHandle, step: &str, challenge: &str, body: RejectRequest) -> Result<String, ServiceError> {
        let (mut row, mut data) = self.flow(t, by, challenge).await?;
        if row.state != step {
            return Err(ServiceError::Conflict(format!("the {step} request has already been handled")));
        }
        let (verifier, verifier_hash) = new_handle();
        let param = if step == LOGIN {
            row.login_verifier = Some(verifier_hash);
            "login_verifier"
        } else {
            row.consent_verifier = Some(verifier_hash);
            "consent_verifier"
        };
        data.rejection = Some(body);
        let request_url = data.request.request_url.clone();
        self.advance(t, step, row, REJECTED, &data).await?;
        Ok(with_params(&request_url, &[(param, &verifier)]))
    }

    /// Back with the verifier of a rejected flow: it ends, and the client gets the error.
    async fn after_rejection(&self, t: &TenantId, row: FlowRow, data: FlowData) -> Result<AuthorizeStep, AuthorizeError> {
        let req = &data.request;
        let body = data.rejection.clone().unwrap_or_default();
        self.advance(t, REJECTED, row, FINISHED, &data)
            .await
            .map_err(|_| AuthorizeError::Page(OAuthError::InvalidRequest("the verifier is invalid or was used".into())))?;
        if let Some(device) = &data.device {
            return self.end_device_flow(t, &data, device, None).await;
        }
        let code = body.error.filter(|e| is_error_code(e)).unwrap_or_else(|| "access_denied".into());
        let description = body.error_description.filter(|d| d.len() <= 1024).unwrap_or_else(|| "the request was rejected".into());
        let signer = self.flow_response_signer(t, &req.client_id).await?;
        match error_response(req.error_target(&signer), &req.issuer, &OAuthError::Custom(code, description)) {
            AuthorizeError::Client(next) => {
                let csrf = data.browser.as_ref().map(Binding::clear);
                Ok(AuthorizeStep { next, set_session: None, csrf })
            }
            page => Err(page),
        }
    }

    /// Back from the login app: open the consent step.
    pub(crate) async fn after_login(&self, t: &TenantId, verifier: &str, csrf_cookies: &[String]) -> Result<AuthorizeStep, AuthorizeError> {
        let not_found = || AuthorizeError::Page(OAuthError::InvalidRequest("the login verifier is invalid or was used".into()));
        let (mut row, mut data) = self.flow(t, FlowHandle::LoginVerifier, verifier).await.map_err(|_| not_found())?;
        if row.state != LOGIN_DONE && row.state != REJECTED {
            return Err(not_found());
        }
        // Checked before the verifier is spent, so a forged one burns nothing.
        if !data.browser.as_ref().is_some_and(|b| b.held_by(csrf_cookies)) {
            return Err(AuthorizeError::Page(OAuthError::InvalidRequest(NOT_THIS_BROWSER.into())));
        }
        if row.state == REJECTED {
            return self.after_rejection(t, row, data).await;
        }
        let req = data.request.clone();
        let signer = self.flow_response_signer(t, &req.client_id).await?;
        let fail = |e: OAuthError| error_response(req.error_target(&signer), &req.issuer, &e);
        let login = data.login.clone().ok_or_else(not_found)?;
        let now = self.now();
        let mut set_session = None;
        if login.remember && !data.login_skip {
            let (cookie, cookie_hash) = new_handle();
            // A browser-session cookie still needs a bound in the database.
            let lifetime = if login.remember_for > 0 { login.remember_for } else { 30 * 24 * 3600 };
            let session = SessionRow {
                id_hash: cookie_hash,
                sid: login.sid.clone(),
                subject: login.subject.clone(),
                authenticated_at: login.auth_time,
                data: json!({"acr": login.acr, "amr": login.amr}).to_string(),
                expires_at: now + lifetime,
            };
            self.store.insert_session(t, &session).await?;
            set_session = Some((cookie, (login.remember_for > 0).then_some(login.remember_for)));
        }
        let remembered = self.store.find_consent(t, &login.subject, &req.client_id, now).await?;
        // Authorization details are asked for each time (a payment is not remembered).
        let covers = req.authorization_details.is_none()
            && remembered.and_then(|d| serde_json::from_str::<ConsentAccept>(&d).ok()).is_some_and(|c| {
                req.scope.iter().all(|s| c.grant_scope.contains(s)) && req.audience.iter().all(|a| c.grant_access_token_audience.contains(a))
            });
        // Hydra's skip_consent: the admin trusts this client to need no consent screen.
        let trusted = self.clients.load(&self.store, t, &req.client_id).await?.is_some_and(|e| e.client.extras.hydra.skip_consent);
        data.consent_skip = (covers || trusted) && !req.prompt.iter().any(|p| p == "consent");
        if req.prompt.iter().any(|p| p == "none") && !data.consent_skip {
            return Err(fail(OAuthError::ConsentRequired("the user has not consented to this client".into())));
        }
        let Some(consent_url) = self.app_urls(t).await?.consent_url else {
            return Err(fail(OAuthError::server("no consent URL is configured (CLAVIS_CONSENT_URL)")));
        };
        let (challenge, challenge_hash) = new_handle();
        row.consent_challenge = Some(challenge_hash);
        self.advance(t, LOGIN_DONE, row, CONSENT, &data).await.map_err(|_| not_found())?;
        let next = Navigation::Redirect(with_params(&consent_url, &[("consent_challenge", &challenge)]));
        Ok(AuthorizeStep { next, set_session, csrf: None })
    }

    pub async fn consent_request(&self, t: &TenantId, challenge: &str) -> Result<ConsentRequestView, ServiceError> {
        let (row, data) = self.flow(t, FlowHandle::ConsentChallenge, challenge).await?;
        let client = self.flow_client(t, &row.client_id).await?;
        let login = data.login.clone().ok_or(ServiceError::NotFound("request"))?;
        Ok(ConsentRequestView {
            challenge: challenge.to_owned(),
            client: self.client_view(t, &client).await?,
            request_url: data.request.request_url.clone(),
            requested_scope: data.request.scope.clone(),
            requested_access_token_audience: data.request.audience.clone(),
            requested_authorization_details: data.request.authorization_details.clone(),
            skip: data.consent_skip,
            subject: login.subject,
            oidc_context: Self::oidc_context(&data.request),
            context: login.context,
            login_challenge: data.login_challenge.clone(),
            login_session_id: login.sid,
            acr: login.acr,
            amr: login.amr,
        })
    }

    pub async fn accept_consent(&self, t: &TenantId, challenge: &str, body: ConsentAccept) -> Result<String, ServiceError> {
        let (mut row, mut data) = self.flow(t, FlowHandle::ConsentChallenge, challenge).await?;
        if row.state != CONSENT {
            return Err(ServiceError::Conflict("the consent request has already been handled".into()));
        }
        if let Some(s) = body.grant_scope.iter().find(|s| !data.request.scope.contains(s)) {
            return Err(ValidationError::new("grant_scope", format!("{s:?} was not requested")).into());
        }
        if let Some(a) = body.grant_access_token_audience.iter().find(|a| !data.request.audience.contains(a)) {
            return Err(ValidationError::new("grant_access_token_audience", format!("{a:?} was not requested")).into());
        }
        if let Some(granted) = &body.grant_authorization_details {
            crate::authorization_details::check_grant(data.request.authorization_details.as_ref(), granted)?;
        }
        for (field, v) in [("session.access_token", &body.session.access_token), ("session.id_token", &body.session.id_token)] {
            if !(v.is_null() || v.is_object()) {
                return Err(ValidationError::new(field, "must be an object").into());
            }
        }
        if body.remember_for < 0 {
            return Err(ValidationError::new("remember_for", "must not be negative").into());
        }
        let now = self.now();
        let login = data.login.clone().ok_or(ServiceError::NotFound("request"))?;
        if body.remember {
            let until = if body.remember_for > 0 { now + body.remember_for } else { i64::MAX / 2 };
            let grant = serde_json::to_string(&body).expect("consent serializes");
            self.store.upsert_consent(t, &login.subject, &row.client_id, &grant, now, until).await?;
        }
        data.consent = Some(body);
        let (verifier, verifier_hash) = new_handle();
        row.consent_verifier = Some(verifier_hash);
        let request_url = data.request.request_url.clone();
        self.advance(t, CONSENT, row, CONSENT_DONE, &data).await?;
        Ok(with_params(&request_url, &[("consent_verifier", &verifier)]))
    }

    pub async fn reject_consent(&self, t: &TenantId, challenge: &str, body: RejectRequest) -> Result<String, ServiceError> {
        self.reject(t, FlowHandle::ConsentChallenge, CONSENT, challenge, body).await
    }

    /// Back from the consent app: issue the code and send the browser to the client.
    pub(crate) async fn after_consent(&self, t: &TenantId, verifier: &str, csrf_cookies: &[String]) -> Result<AuthorizeStep, AuthorizeError> {
        let not_found = || AuthorizeError::Page(OAuthError::InvalidRequest("the consent verifier is invalid or was used".into()));
        let (row, data) = self.flow(t, FlowHandle::ConsentVerifier, verifier).await.map_err(|_| not_found())?;
        if row.state != CONSENT_DONE && row.state != REJECTED {
            return Err(not_found());
        }
        let Some(binding) = data.browser.clone().filter(|b| b.held_by(csrf_cookies)) else {
            return Err(AuthorizeError::Page(OAuthError::InvalidRequest(NOT_THIS_BROWSER.into())));
        };
        if row.state == REJECTED {
            return self.after_rejection(t, row, data).await;
        }
        let (login, consent) = (data.login.clone().ok_or_else(not_found)?, data.consent.clone().ok_or_else(not_found)?);
        self.advance(t, CONSENT_DONE, row.clone(), FINISHED, &data).await.map_err(|_| not_found())?;
        let req = &data.request;
        let grant = GrantData {
            issuer: req.issuer.clone(),
            subject: login.subject,
            scope: consent.grant_scope.clone(),
            audience: consent.grant_access_token_audience.clone(),
            auth_time: login.auth_time,
            acr: login.acr,
            amr: login.amr,
            sid: login.sid,
            access_claims: consent.session.access_token.clone(),
            id_claims: consent.session.id_token.clone(),
            redirect_uri: req.redirect_uri_given.then(|| req.redirect_uri.clone()),
            code_challenge: req.code_challenge.clone(),
            nonce: req.nonce.clone(),
            issued_jti: None,
            family_id: None,
            family_started_at: None,
            dpop_jkt: req.dpop_jkt.clone(),
            authorization_details: consent.grant_authorization_details.clone(),
        };
        if let Some(device) = &data.device {
            if grant.scope.iter().any(|s| s == "openid") {
                if let Some(entry) = self.clients.load(&self.store, t, &row.client_id).await? {
                    self.record_session_client(t, &entry.client, &grant.sid, &grant.subject, &req.issuer).await?;
                }
            }
            return self.end_device_flow(t, &data, device, Some(&grant)).await;
        }
        let code = self.new_code(t, &row.client_id, &grant).await?;
        let scope = consent.grant_scope.join(" ");
        let mut params = vec![("code", code.as_str()), ("scope", &scope), ("state", &req.state), ("iss", &req.issuer)];
        let mut id_token = None;
        if grant.scope.iter().any(|s| s == "openid") {
            if let Some(entry) = self.clients.load(&self.store, t, &row.client_id).await? {
                // Its ID tokens name the session: it may hear when the session ends.
                self.record_session_client(t, &entry.client, &grant.sid, &grant.subject, &req.issuer).await?;
                // Hybrid: the ID token goes with the code.
                if req.hybrid {
                    id_token = Some(self.front_channel_id_token(t, &entry.client, &grant, &code, &req.state).await.map_err(AuthorizeError::Page)?);
                }
            }
        }
        if let Some(id_token) = &id_token {
            params.push(("id_token", id_token));
        }
        let signer = self.flow_response_signer(t, &row.client_id).await?;
        let next = deliver(&req.redirect_uri, req.response_mode, &params, &signer);
        Ok(AuthorizeStep { next, set_session: None, csrf: Some(binding.clear()) })
    }
}
