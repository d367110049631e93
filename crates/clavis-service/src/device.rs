//! The device authorization grant (RFC 8628) as Hydra v2 runs it.
//!
//! 1. The device asks `POST /oauth2/device/auth` and shows the user a `user_code` and
//!    `verification_uri` ([`Services::device_authorization`]); it then polls the token
//!    endpoint (`token::device_code`).
//! 2. The user opens `/oauth2/device/verify`: a device challenge, bound to the browser,
//!    sends them to the device verification page (`CLAVIS_DEVICE_VERIFICATION_URL`, the
//!    login app's), which takes the code and accepts it (`PUT …/requests/device/accept`):
//!    its `redirect_to` carries a `device_verifier` back to `/oauth2/device/verify`.
//! 3. From there the flow is the authorization endpoint's: login, consent, each through
//!    `/oauth2/device/verify`. Its end approves (or, rejected, denies) the device request
//!    and shows the browser a page to return to the device.
//!
//! Or, in authms's model, a signed-in user approves a code directly
//! (`POST /oauth/device/verify`, [`Services::verify_user_code`]).
//!
//! User codes are 8 letters of a 20-consonant alphabet (RFC 8628 §6.1: ~34.5 bits, no
//! vowels, so no words; case and dashes ignored). Guessing is bounded per device challenge
//! (5 wrong codes) and per tenant: after a few wrong codes anywhere in the tenant, each
//! further entry waits a growing delay (up to 30 s), whoever makes it.

use std::time::Instant;

use clavis_core::{ids, scope, secret, Client, GrantType, TenantId};
use clavis_store::{DeviceCodeRow, FlowHandle, FlowRow, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::browser_binding::{Binding, NOT_THIS_BROWSER};
use crate::flows::{new_handle, with_params, AuthRequest, AuthorizeError, AuthorizeStep, FlowData, DEVICE, DEVICE_DONE, LOGIN};
use crate::response_mode::Navigation;
use crate::token::GrantData;
use crate::{OAuthError, ServiceError, Services};

/// How long a device code and its user code live, and the polling interval.
pub const DEVICE_CODE_TTL_SECS: i64 = 600;
pub const POLL_INTERVAL_SECS: i64 = 5;
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const USER_CODE_LEN: usize = 8;
/// Wrong user codes one device challenge may try.
const MAX_ATTEMPTS_PER_CHALLENGE: u32 = 5;

/// What a device asked for, kept with its codes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeviceRequest {
    pub scope: Vec<String>,
    pub audience: Vec<String>,
    pub issuer: String,
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Why a user code was not taken.
#[derive(Debug)]
pub enum UserCodeError {
    Unknown,
    Expired,
    Used,
    /// Too many wrong codes lately: retry after this many seconds.
    TooMany(u64),
    /// This device challenge tried too many wrong codes, or is not (any more) one.
    Challenge,
    Service(ServiceError),
}

impl From<StoreError> for UserCodeError {
    fn from(e: StoreError) -> Self {
        UserCodeError::Service(e.into())
    }
}

impl From<ServiceError> for UserCodeError {
    fn from(e: ServiceError) -> Self {
        UserCodeError::Service(e)
    }
}

/// `user_code` as stored: upper case, without dashes and spaces; `None` if it cannot be one.
fn normalize_user_code(raw: &str) -> Option<String> {
    let code: String = raw.chars().filter(|c| *c != '-' && !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b))).then_some(code)
}

fn new_user_code() -> String {
    let bytes: [u8; USER_CODE_LEN] = ids::random_bytes();
    // 256 is not a multiple of 20: draw again above the largest multiple, so every letter is equally likely.
    let mut code = String::with_capacity(USER_CODE_LEN);
    let mut extra = bytes.into_iter().chain(std::iter::repeat_with(|| ids::random_bytes::<1>()[0]));
    while code.len() < USER_CODE_LEN {
        let b = extra.next().expect("endless");
        if b < 240 {
            code.push(USER_CODE_ALPHABET[(b % 20) as usize] as char);
        }
    }
    code
}

/// `ABCDEFGH` as users read it: `ABCD-EFGH`.
fn display(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

impl Services {
    /// `POST /oauth2/device/auth` for an authenticated client registered for the grant.
    pub async fn device_authorization(
        &self,
        t: &TenantId,
        issuer: &str,
        client: &Client,
        params: &[(String, String)],
    ) -> Result<DeviceAuthorization, OAuthError> {
        if !client.grant_types.contains(&GrantType::DeviceCode) {
            return Err(OAuthError::UnauthorizedClient("the client is not registered for the device_code grant".into()));
        }
        let get = |k: &str| clavis_core::form::param(params, k);
        let scope = match get("scope") {
            None => Vec::new(),
            Some(raw) => scope::parse_scope_param(raw).ok_or_else(|| OAuthError::InvalidScope("the scope parameter is malformed".into()))?,
        };
        if let Some(extra) = scope.iter().find(|s| !client.scopes.contains(s)) {
            return Err(OAuthError::InvalidScope(format!("scope {extra:?} is not registered for this client")));
        }
        let audience: Vec<String> = get("audience").unwrap_or("").split(' ').filter(|a| !a.is_empty()).map(str::to_owned).collect();
        crate::flows::check_audience(client, &audience)?;
        let request = serde_json::to_string(&DeviceRequest { scope, audience, issuer: issuer.to_owned() }).expect("a request serializes");
        let device_code = ids::random_token(32);
        let now = self.now();
        // A user code already in use (live or not yet purged) is drawn again.
        for _ in 0..3 {
            let user_code = new_user_code();
            let row = DeviceCodeRow {
                id: ids::ulid(),
                device_code_hash: secret::hash(&device_code),
                user_code_hash: secret::hash(&user_code),
                client_id: client.client_id.clone(),
                request: request.clone(),
                status: "pending".into(),
                grant_data: None,
                interval_secs: POLL_INTERVAL_SECS,
                last_polled_at: 0,
                expires_at: now + DEVICE_CODE_TTL_SECS,
            };
            match self.store.insert_device_code(t, &row).await {
                Ok(()) => {
                    let verification_uri = format!("{issuer}/oauth2/device/verify");
                    let shown = display(&user_code);
                    return Ok(DeviceAuthorization {
                        verification_uri_complete: with_params(&verification_uri, &[("user_code", &shown)]),
                        verification_uri,
                        device_code,
                        user_code: shown,
                        expires_in: DEVICE_CODE_TTL_SECS,
                        interval: POLL_INTERVAL_SECS,
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(OAuthError::server("no free user code after three draws"))
    }

    /// Takes `user_code` for verification (once), under the tenant's guessing limit.
    async fn claim_user_code(&self, t: &TenantId, user_code: &str) -> Result<(DeviceCodeRow, DeviceRequest), UserCodeError> {
        let key = format!("user_code {t}");
        let _attempt = self.auth_failures.begin(&key, Instant::now()).map_err(|wait| UserCodeError::TooMany(wait.as_secs().max(1)))?;
        let failed = |e: UserCodeError| {
            self.auth_failures.failed(&key, Instant::now());
            e
        };
        let code = normalize_user_code(user_code).ok_or_else(|| failed(UserCodeError::Unknown))?;
        let row = self.store.device_code_by_user_code(t, &secret::hash(&code)).await?.ok_or_else(|| failed(UserCodeError::Unknown))?;
        let now = self.now();
        if row.expires_at <= now {
            return Err(UserCodeError::Expired);
        }
        if row.status != "pending" || !self.store.set_device_status(t, &row.id, "pending", "claimed", None, now).await? {
            return Err(UserCodeError::Used);
        }
        let request = serde_json::from_str(&row.request).map_err(|e| ServiceError::internal(format!("device request: {e}")))?;
        Ok((row, request))
    }

    /// `GET /oauth2/device/verify`: a new device challenge, or a return with a verifier.
    pub async fn device_verify(
        &self,
        t: &TenantId,
        issuer: &str,
        params: &[(String, String)],
        session_cookie: Option<&str>,
        csrf_cookies: &[String],
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let get = |k: &str| clavis_core::form::param(params, k);
        if let Some(v) = get("login_verifier") {
            return self.after_login(t, v, csrf_cookies).await;
        }
        if let Some(v) = get("consent_verifier") {
            return self.after_consent(t, v, csrf_cookies).await;
        }
        if let Some(v) = get("device_verifier") {
            return self.after_device(t, v, session_cookie, csrf_cookies).await;
        }
        let page = |m: &str| AuthorizeError::Page(OAuthError::InvalidRequest(m.into()));
        // Without the page, codes can still be approved through authms (`POST /oauth/device/verify`).
        let Some(device_url) = self.settings.device_verification_url.clone() else {
            return Err(page("this server has no device verification page (CLAVIS_DEVICE_VERIFICATION_URL)"));
        };
        let user_code = get("user_code").filter(|c| c.len() <= 32);
        if get("user_code").is_some() && user_code.is_none() {
            return Err(page("user_code is malformed"));
        }
        let now = self.now();
        let request_url = format!("{issuer}/oauth2/device/verify");
        let (binding, csrf) = Binding::new();
        let data = FlowData {
            request: AuthRequest { issuer: issuer.to_owned(), request_url, ..Default::default() },
            browser: Some(binding),
            session: None,
            login_skip: false,
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
            client_id: String::new(),
            login_challenge: challenge_hash,
            login_verifier: None,
            consent_challenge: None,
            consent_verifier: None,
            state: DEVICE.into(),
            data: serde_json::to_string(&data).expect("flow serializes"),
            created_at: now,
            expires_at: now + self.settings.flow_ttl_secs,
        };
        self.store.insert_flow(t, &row).await?;
        let mut query = vec![("device_challenge", challenge.as_str())];
        if let Some(code) = user_code {
            query.push(("user_code", code));
        }
        Ok(AuthorizeStep { next: Navigation::Redirect(with_params(&device_url, &query)), set_session: None, csrf: Some(csrf) })
    }

    /// Hydra's acceptUserCodeRequest: the device page took `user_code` for `challenge`.
    /// Returns the `redirect_to` that continues in the browser.
    pub async fn accept_user_code(&self, t: &TenantId, challenge: &str, user_code: &str) -> Result<String, UserCodeError> {
        let (mut row, mut data) = self.flow(t, FlowHandle::LoginChallenge, challenge).await.map_err(|_| UserCodeError::Challenge)?;
        if row.state != DEVICE || data.user_code_attempts >= MAX_ATTEMPTS_PER_CHALLENGE {
            return Err(UserCodeError::Challenge);
        }
        let (device, request) = match self.claim_user_code(t, user_code).await {
            Ok(found) => found,
            Err(e @ (UserCodeError::Unknown | UserCodeError::Expired | UserCodeError::Used)) => {
                data.user_code_attempts += 1;
                self.advance(t, DEVICE, row, DEVICE, &data).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        data.request = AuthRequest {
            client_id: device.client_id.clone(),
            scope: request.scope,
            audience: request.audience,
            issuer: request.issuer,
            request_url: data.request.request_url.clone(),
            ..Default::default()
        };
        data.device = Some(device.id);
        let (verifier, verifier_hash) = new_handle();
        row.client_id = device.client_id;
        row.login_verifier = Some(verifier_hash);
        let request_url = data.request.request_url.clone();
        self.advance(t, DEVICE, row, DEVICE_DONE, &data).await?;
        Ok(with_params(&request_url, &[("device_verifier", &verifier)]))
    }

    /// Back from the device page with its verifier: on to the login app.
    async fn after_device(
        &self,
        t: &TenantId,
        verifier: &str,
        session_cookie: Option<&str>,
        csrf_cookies: &[String],
    ) -> Result<AuthorizeStep, AuthorizeError> {
        let not_found = || AuthorizeError::Page(OAuthError::InvalidRequest("the device verifier is invalid or was used".into()));
        let (mut row, mut data) = self.flow(t, FlowHandle::LoginVerifier, verifier).await.map_err(|_| not_found())?;
        if row.state != DEVICE_DONE {
            return Err(not_found());
        }
        if !data.browser.as_ref().is_some_and(|b| b.held_by(csrf_cookies)) {
            return Err(AuthorizeError::Page(OAuthError::InvalidRequest(NOT_THIS_BROWSER.into())));
        }
        let Some(login_url) = self.app_urls(t).await?.login_url else {
            return Err(AuthorizeError::Page(OAuthError::server("no login URL is configured (CLAVIS_LOGIN_URL)")));
        };
        data.session = self.existing_session(t, session_cookie, self.now()).await?;
        data.login_skip = data.session.is_some();
        let (challenge, challenge_hash) = new_handle();
        row.login_challenge = challenge_hash;
        row.login_verifier = None;
        self.advance(t, DEVICE_DONE, row, LOGIN, &data).await.map_err(|_| not_found())?;
        let next = Navigation::Redirect(with_params(&login_url, &[("login_challenge", &challenge)]));
        Ok(AuthorizeStep { next, set_session: None, csrf: None })
    }

    /// The end of a device flow in the browser: the device request is approved with
    /// `grant`, or denied without one; the browser is told to return to its device.
    pub(crate) async fn end_device_flow(
        &self,
        t: &TenantId,
        data: &FlowData,
        device: &str,
        grant: Option<&GrantData>,
    ) -> Result<AuthorizeStep, AuthorizeError> {
        if !self.settle_device_request(t, device, grant).await? {
            return Err(AuthorizeError::Page(OAuthError::InvalidRequest("the device request has expired".into())));
        }
        let done = format!("{}/oauth2/device/done", data.request.issuer);
        let next = Navigation::Redirect(if grant.is_some() { done } else { with_params(&done, &[("error", "access_denied")]) });
        Ok(AuthorizeStep { next, set_session: None, csrf: data.browser.as_ref().map(Binding::clear) })
    }

    /// Approves a claimed device request with `grant`, or denies it without one; `false`
    /// if it was not claimed any more, or has expired.
    async fn settle_device_request(&self, t: &TenantId, device: &str, grant: Option<&GrantData>) -> Result<bool, StoreError> {
        let now = self.now();
        match grant {
            Some(g) => {
                self.store.set_device_status(t, device, "claimed", "approved", Some(&serde_json::to_string(g).expect("grant serializes")), now).await
            }
            None => self.store.set_device_status(t, device, "claimed", "denied", None, now).await,
        }
    }

    /// authms `POST /oauth/device/verify`: the user of `token` (an access token of a user,
    /// not a client's own) approves or denies `user_code` at once, for every scope the
    /// device asked.
    pub async fn verify_user_code(&self, t: &TenantId, token: &crate::PresentedToken, user_code: &str, approve: bool) -> Result<(), UserCodeError> {
        let (_, user) = self
            .accept_access_token(token, Some(t))
            .await
            .map_err(|_| UserCodeError::Service(ServiceError::Refused("a user's access token is required".into())))?;
        if user.sub == user.client_id {
            return Err(UserCodeError::Service(ServiceError::Refused("a user's access token is required, not a client's".into())));
        }
        let (device, request) = self.claim_user_code(t, user_code).await?;
        let grant = approve.then(|| GrantData {
            issuer: request.issuer,
            subject: user.sub,
            scope: request.scope,
            audience: request.audience,
            auth_time: user.iat,
            acr: String::new(),
            amr: Vec::new(),
            sid: ids::ulid(),
            access_claims: json!({}),
            id_claims: json!({}),
            redirect_uri: None,
            code_challenge: None,
            nonce: None,
            issued_jti: None,
            family_id: None,
            family_started_at: None,
            dpop_jkt: None,
            authorization_details: None,
        });
        if self.settle_device_request(t, &device.id, grant.as_ref()).await? {
            Ok(())
        } else {
            Err(UserCodeError::Expired)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_unambiguous_and_read_back_however_typed() {
        let code = new_user_code();
        assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
        let shown = display(&code);
        assert_eq!(normalize_user_code(&shown.to_lowercase()).as_deref(), Some(code.as_str()));
        assert_eq!(normalize_user_code(&format!(" {} ", shown.replace('-', " - "))).as_deref(), Some(code.as_str()));
        for bad in ["", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-EFGH", "BCDF-GHJ1"] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
        // Every letter of the alphabet comes up, and nothing else.
        let seen: std::collections::HashSet<u8> = (0..200).flat_map(|_| new_user_code().into_bytes()).collect();
        assert_eq!(seen.len(), 20);
        assert!(seen.iter().all(|b| USER_CODE_ALPHABET.contains(b)));
    }
}
