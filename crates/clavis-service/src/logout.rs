//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the user's login
//! session and return to a registered `post_logout_redirect_uri`. With a logout app
//! configured, Ory Hydra's round trip comes first: the browser goes to the app with a
//! `logout_challenge`; the app reads it (`GET …/requests/logout`) and accepts (the browser
//! comes back with a `logout_verifier` and the session ends) or rejects (nothing happens).
//!
//! A logout ends a session only when the request proves it is the user's: a valid
//! `id_token_hint`, or the user's own click. Without a hint (a bare link, an `<img>` on
//! another site) the logout app asks, or, with none configured, a built-in page does; its
//! form carries a verifier and works only in the browser that was shown it.
//!
//! A session that ends is announced to its clients (`session_logout`).

use clavis_core::jose::UnverifiedJwt;
use clavis_core::{secret, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::browser_binding::{Binding, CsrfCookie, NOT_THIS_BROWSER};
use crate::flows::{new_handle, with_params};
use crate::session_logout::Ended;
use crate::{OAuthError, ServiceError, Services};

/// How long a logout request waits for the logout app.
const LOGOUT_REQUEST_TTL_SECS: i64 = 3600;

/// What a logout request remembers between the app's decision and the browser's return.
#[derive(Serialize, Deserialize)]
struct PendingLogout {
    subject: String,
    sid: String,
    client_id: Option<String>,
    request_url: String,
    rp_initiated: bool,
    /// Where the browser goes once logged out (`None`: the endpoint answers itself).
    location: Option<String>,
    issuer: String,
    /// The browser that asked to log out; requests stored before bindings have none.
    #[serde(default)]
    browser: Option<Binding>,
}

/// Hydra's `OAuth2LogoutRequest`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LogoutRequestView {
    pub challenge: String,
    pub subject: String,
    pub sid: String,
    pub request_url: String,
    pub rp_initiated: bool,
    /// The client that asked, as Hydra shows it; `null` if none was named.
    #[schema(value_type = Option<Object>)]
    pub client: Option<Value>,
}

/// Where the browser goes after logging out: the client's URI (with `state`), the
/// logout app, or nowhere (the endpoint answers itself).
pub struct LogoutOutcome {
    pub location: Option<String>,
    /// Whether the session ended (the cookie goes too), or waits for the logout app.
    pub ended: bool,
    /// The request's browser-binding cookie, to set or clear.
    pub csrf: Option<CsrfCookie>,
    /// Ask the user first: show a page whose form sends this `logout_verifier` back.
    pub confirm: Option<String>,
    /// Front-channel logout URLs of the clients of the ended session, for the logout
    /// page to load (in iframes) before it moves on.
    pub frontchannel: Vec<String>,
}

impl Services {
    /// The claims of an ID token this tenant signed; an expired one is fine as a hint.
    async fn id_token_hint(&self, t: &TenantId, token: &str) -> Result<Value, OAuthError> {
        let bad = || OAuthError::InvalidRequest("id_token_hint is not an ID token of this issuer".into());
        let jwt = UnverifiedJwt::parse(token).map_err(|_| bad())?;
        let key = self.keys.find(t, &jwt.kid).await?.ok_or_else(bad)?;
        let claims: Value = jwt.verify(&key).map_err(|_| bad())?;
        let iss = claims["iss"].as_str().ok_or_else(bad)?;
        if self.tenant_of_issuer(iss).as_ref() != Some(t) || jwt.typ.as_deref() == Some("at+jwt") {
            return Err(bad());
        }
        Ok(claims)
    }

    pub async fn logout(
        &self,
        t: &TenantId,
        issuer: &str,
        request_url: &str,
        params: &[(String, String)],
        session_cookie: Option<&str>,
        csrf_cookies: &[String],
    ) -> Result<LogoutOutcome, OAuthError> {
        let get = |k: &str| clavis_core::form::param(params, k);
        if let Some(verifier) = get("logout_verifier") {
            return self.finish_logout(t, verifier, csrf_cookies).await;
        }
        let hint = match get("id_token_hint") {
            Some(token) => Some(self.id_token_hint(t, token).await?),
            None => None,
        };
        let hinted_client = hint.as_ref().and_then(|c| match &c["aud"] {
            Value::Array(a) => a.first().and_then(Value::as_str).map(str::to_owned),
            Value::String(s) => Some(s.clone()),
            _ => None,
        });
        let client_id = match (get("client_id"), hinted_client) {
            (Some(a), Some(b)) if a != b => return Err(OAuthError::InvalidRequest("client_id does not match the id_token_hint".into())),
            (Some(a), _) => Some(a.to_owned()),
            (None, b) => b,
        };
        // The client named, read once: for its post-logout URIs and skip_logout_consent.
        let client = match &client_id {
            Some(id) => self.store.get_client(t, id).await?,
            None => None,
        };
        let location = match get("post_logout_redirect_uri") {
            Some(uri) => {
                if client_id.is_none() {
                    return Err(OAuthError::InvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id".into()));
                }
                if !client.as_ref().is_some_and(|c| c.extras.post_logout_redirect_uris.iter().any(|u| u == uri)) {
                    return Err(OAuthError::InvalidRequest("post_logout_redirect_uri is not registered for the client".into()));
                }
                let mut url = url::Url::parse(uri).map_err(|_| OAuthError::InvalidRequest("bad post_logout_redirect_uri".into()))?;
                if let Some(state) = get("state") {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url.to_string())
            }
            None => None,
        };
        let now = self.now();
        let session = match session_cookie {
            Some(cookie) => self.store.find_session(t, &secret::hash(cookie), now).await?,
            None => None,
        };
        let hinted_sid = hint.as_ref().and_then(|c| c["sid"].as_str()).map(str::to_owned);
        let logout_app = self.app_urls(t).await?.logout_url;
        // skip_logout_consent trusts the client, so only a request the client made (its
        // ID token as hint) may skip; a bare client_id could come from anyone.
        let skip_app = hint.is_some() && client.is_some_and(|c| c.extras.hydra.skip_logout_consent);
        // The tenant's subject: the session's, else the one the hint's session had (a
        // pairwise client's hint names a `sub` of its own), else the hint's `sub`.
        let subject = match (&session, &hinted_sid) {
            (Some(s), _) => Some(s.subject.clone()),
            (None, Some(sid)) => self.store.subject_of_session(t, sid).await?,
            (None, None) => None,
        };
        let subject = subject.or_else(|| hint.as_ref().and_then(|c| c["sub"].as_str()).map(str::to_owned));
        let sid = session.as_ref().map(|s| s.sid.clone()).or_else(|| hinted_sid.clone());
        // Someone must ask the user: the logout app, or (no app, no hint, a session to
        // end) the built-in confirmation page.
        let ask_here = logout_app.is_none() && hint.is_none() && session.is_some();
        if let (true, Some(subject), Some(sid)) = (ask_here || (logout_app.is_some() && !skip_app), subject, sid) {
            let (binding, csrf) = Binding::new();
            let pending = PendingLogout {
                subject,
                sid,
                client_id,
                request_url: request_url.to_owned(),
                rp_initiated: true,
                location,
                issuer: issuer.to_owned(),
                browser: Some(binding),
            };
            let (challenge, hash) = new_handle();
            let data = serde_json::to_string(&pending).expect("logout request serializes");
            self.store.insert_logout(t, &hash, &data, now + LOGOUT_REQUEST_TTL_SECS).await?;
            let outcome = LogoutOutcome { location: None, ended: false, csrf: Some(csrf), confirm: None, frontchannel: Vec::new() };
            return match logout_app {
                // The logout app decides; nothing ends yet.
                Some(app) => Ok(LogoutOutcome { location: Some(with_params(&app, &[("logout_challenge", &challenge)])), ..outcome }),
                // The page's button is an accepted request: its verifier ends the session.
                None => {
                    let (verifier, verifier_hash) = new_handle();
                    self.store.settle_logout(t, &hash, Some(&verifier_hash)).await?;
                    Ok(LogoutOutcome { confirm: Some(verifier), ..outcome })
                }
            };
        }
        // End the browser's session, and the one the hint names.
        let mut frontchannel = Vec::new();
        for sid in session.map(|s| s.sid).into_iter().chain(hinted_sid) {
            frontchannel.extend(self.end_session(t, &sid).await?);
        }
        // Without a post-logout URI, a configured logout app still gets the browser.
        Ok(LogoutOutcome { location: location.or(logout_app), ended: true, csrf: None, confirm: None, frontchannel })
    }

    /// Ends login session `sid` and tells its clients; returns the front-channel URLs.
    async fn end_session(&self, t: &TenantId, sid: &str) -> Result<Vec<String>, clavis_store::StoreError> {
        self.store.delete_session_by_sid(t, sid).await?;
        self.notify_logout(t, Ended::Session(sid)).await
    }

    /// Back from the logout app (or the confirmation page) with a verifier: the session
    /// ends, if this is the browser that asked.
    async fn finish_logout(&self, t: &TenantId, verifier: &str, csrf_cookies: &[String]) -> Result<LogoutOutcome, OAuthError> {
        let invalid = || OAuthError::InvalidRequest("the logout verifier is invalid or was used".into());
        if verifier.len() > 128 {
            return Err(invalid());
        }
        let data = self.store.use_logout_verifier(t, &secret::hash(verifier), self.now()).await?.ok_or_else(invalid)?;
        let pending: PendingLogout = serde_json::from_str(&data).map_err(|e| OAuthError::server_caused("logout data", e))?;
        let Some(binding) = pending.browser.filter(|b| b.held_by(csrf_cookies)) else {
            return Err(OAuthError::InvalidRequest(NOT_THIS_BROWSER.into()));
        };
        let frontchannel = self.end_session(t, &pending.sid).await?;
        Ok(LogoutOutcome { location: pending.location, ended: true, csrf: Some(binding.clear()), confirm: None, frontchannel })
    }

    async fn pending_logout(&self, t: &TenantId, challenge: &str) -> Result<(String, PendingLogout), ServiceError> {
        if challenge.len() > 128 {
            return Err(ServiceError::NotFound("logout request"));
        }
        let hash = secret::hash(challenge);
        let row = self.store.find_logout(t, &hash, self.now()).await?.ok_or(ServiceError::NotFound("logout request"))?;
        if row.state != "pending" {
            return Err(ServiceError::Conflict("the logout request has already been handled".into()));
        }
        let pending = serde_json::from_str(&row.data).map_err(|e| ServiceError::internal(e.to_string()))?;
        Ok((hash, pending))
    }

    /// Hydra's `DELETE /admin/oauth2/auth/sessions/login`: ends the login sessions of a
    /// subject, or the one session `sid`, so that the next authorization asks to log in.
    /// Tokens already issued stay valid (revoke them separately); clients with a
    /// `backchannel_logout_uri` are told.
    pub async fn revoke_login_sessions(&self, t: &TenantId, subject: Option<&str>, sid: Option<&str>) -> Result<(), ServiceError> {
        // No browser here: the clients hear by back-channel only.
        match (subject, sid) {
            (Some(subject), None) => {
                self.store.delete_sessions_of_subject(t, subject).await?;
                self.notify_logout(t, Ended::Subject(subject)).await?;
            }
            (None, Some(sid)) => {
                self.end_session(t, sid).await?;
            }
            _ => return Err(clavis_core::ValidationError::new("subject", "give either subject or sid").into()),
        }
        Ok(())
    }

    /// `GET /admin/oauth2/auth/requests/logout`.
    pub async fn logout_request(&self, t: &TenantId, challenge: &str) -> Result<LogoutRequestView, ServiceError> {
        let (_, p) = self.pending_logout(t, challenge).await?;
        let client = match &p.client_id {
            Some(id) => match self.store.get_client(t, id).await? {
                Some(c) => Some(self.client_view(t, &c).await?),
                None => None,
            },
            None => None,
        };
        Ok(LogoutRequestView {
            challenge: challenge.to_owned(),
            subject: p.subject,
            sid: p.sid,
            request_url: p.request_url,
            rp_initiated: p.rp_initiated,
            client,
        })
    }

    /// `PUT …/logout/accept`: where the browser goes to finish logging out.
    pub async fn accept_logout(&self, t: &TenantId, challenge: &str) -> Result<String, ServiceError> {
        let (hash, p) = self.pending_logout(t, challenge).await?;
        let (verifier, verifier_hash) = new_handle();
        if !self.store.settle_logout(t, &hash, Some(&verifier_hash)).await? {
            return Err(ServiceError::Conflict("the logout request has already been handled".into()));
        }
        Ok(with_params(&format!("{}/oauth2/sessions/logout", p.issuer), &[("logout_verifier", &verifier)]))
    }

    /// `PUT …/logout/reject`: the user stays logged in.
    pub async fn reject_logout(&self, t: &TenantId, challenge: &str) -> Result<(), ServiceError> {
        let (hash, _) = self.pending_logout(t, challenge).await?;
        if !self.store.settle_logout(t, &hash, None).await? {
            return Err(ServiceError::Conflict("the logout request has already been handled".into()));
        }
        Ok(())
    }
}
