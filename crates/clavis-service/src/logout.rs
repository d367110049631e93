//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): end the user's login
//! session and return to a registered `post_logout_redirect_uri`.

use clavis_core::jose::UnverifiedJwt;
use clavis_core::{secret, time, TenantId};
use serde_json::Value;

use crate::{OAuthError, Services};

/// Where the browser goes after logging out: the client's URI (with `state`), the
/// logout app, or nowhere (the endpoint answers itself).
pub struct LogoutOutcome {
    pub location: Option<String>,
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
        params: &[(String, String)],
        session_cookie: Option<&str>,
    ) -> Result<LogoutOutcome, OAuthError> {
        let get = |k: &str| params.iter().find(|(n, v)| n == k && !v.is_empty()).map(|(_, v)| v.as_str());
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
            (Some(a), Some(b)) if a != b => {
                return Err(OAuthError::InvalidRequest("client_id does not match the id_token_hint".into()))
            }
            (Some(a), _) => Some(a.to_owned()),
            (None, b) => b,
        };
        let location = match get("post_logout_redirect_uri") {
            Some(uri) => {
                let client_id = client_id
                    .ok_or_else(|| OAuthError::InvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id".into()))?;
                let client = self.store.get_client(t, &client_id).await?;
                if !client.is_some_and(|c| c.extras.post_logout_redirect_uris.iter().any(|u| u == uri)) {
                    return Err(OAuthError::InvalidRequest("post_logout_redirect_uri is not registered for the client".into()));
                }
                let mut url = url::Url::parse(uri).map_err(|_| OAuthError::InvalidRequest("bad post_logout_redirect_uri".into()))?;
                if let Some(state) = get("state") {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url.to_string())
            }
            None => self.app_urls(t).await?.logout_url,
        };
        // End the browser's session, and the one the hint names.
        let now = time::now_unix();
        if let Some(cookie) = session_cookie {
            if let Some(s) = self.store.find_session(t, &secret::hash(cookie), now).await? {
                self.store.delete_session_by_sid(t, &s.sid).await?;
            }
        }
        if let Some(sid) = hint.as_ref().and_then(|c| c["sid"].as_str()) {
            self.store.delete_session_by_sid(t, sid).await?;
        }
        Ok(LogoutOutcome { location })
    }
}
