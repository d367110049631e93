//! Hydra's `listOAuth2ConsentSessions`: the consents a subject asked to be remembered,
//! with what they granted. Revoking them is `revoke_consent_sessions` (lifecycle.rs).

use clavis_core::TenantId;
use serde::Serialize;
use serde_json::{json, Value};

use crate::flows::{ConsentAccept, ConsentSession};
use crate::{ServiceError, Services};

/// Hydra's `OAuth2ConsentSession`. Clavis keeps what was granted, not the whole request,
/// so `consent_request` holds the client and subject (and an empty `challenge`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentSessionView {
    #[schema(value_type = Object)]
    pub consent_request: Value,
    pub grant_scope: Vec<String>,
    pub grant_access_token_audience: Vec<String>,
    pub remember: bool,
    pub remember_for: i64,
    /// When the consent was given (RFC 3339).
    pub handled_at: String,
    pub session: ConsentSession,
}

impl Services {
    /// Up to `limit` of `subject`'s remembered consents after client id `after`, in client
    /// id order; consents of clients deleted since are left out.
    pub async fn list_consent_sessions(
        &self,
        t: &TenantId,
        subject: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(String, ConsentSessionView)>, ServiceError> {
        let mut out = Vec::new();
        for (client_id, data, created_at) in self.store.list_consents(t, subject, self.now(), after, limit).await? {
            let Some(client) = self.store.get_client(t, &client_id).await? else { continue };
            let c: ConsentAccept = serde_json::from_str(&data).map_err(|e| ServiceError::internal(format!("consent data: {e}")))?;
            let view = ConsentSessionView {
                consent_request: json!({"challenge": "", "client": self.client_view(t, &client).await?, "subject": subject}),
                grant_scope: c.grant_scope,
                grant_access_token_audience: c.grant_access_token_audience,
                remember: c.remember,
                remember_for: c.remember_for,
                handled_at: clavis_core::time::rfc3339(created_at),
                session: c.session,
            };
            out.push((client_id, view));
        }
        Ok(out)
    }
}

/// A remembered consent as the authms API shows it to its user. `id` is the client's id:
/// a user has at most one remembered consent per client.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserConsent {
    pub id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// RFC 3339.
    pub granted_at: String,
}

impl Services {
    /// The user behind `token`: a live access token of the tenant with scope `openid`
    /// that is not a client's own (client_credentials) token.
    pub async fn user_of_token(&self, t: &TenantId, token: &crate::PresentedToken) -> Result<String, crate::TokenRejection> {
        let (_, c) = self.accept_access_token(token, Some(t)).await?;
        if c.sub == c.client_id || !c.scope.split(' ').any(|s| s == "openid") {
            return Err(crate::TokenRejection::Invalid("a user's access token with scope openid is required"));
        }
        Ok(c.sub)
    }

    /// authms `GET /oauth/consents`: `subject`'s remembered consents (at most 500).
    pub async fn user_consents(&self, t: &TenantId, subject: &str) -> Result<Vec<UserConsent>, ServiceError> {
        let mut out = Vec::new();
        for (client_id, data, created_at) in self.store.list_consents(t, subject, self.now(), "", 500).await? {
            let scopes = serde_json::from_str::<ConsentAccept>(&data).map(|c| c.grant_scope).unwrap_or_default();
            out.push(UserConsent { id: client_id.clone(), client_id, scopes, granted_at: clavis_core::time::rfc3339(created_at) });
        }
        Ok(out)
    }

    /// authms `DELETE /oauth/consents/{id}`: forgets `subject`'s consent to client `id` and
    /// revokes what it granted, as Hydra's revokeOAuth2ConsentSessions does.
    pub async fn revoke_user_consent(&self, t: &TenantId, subject: &str, id: &str) -> Result<(), ServiceError> {
        if id.len() > 256 || self.store.find_consent(t, subject, id, self.now()).await?.is_none() {
            return Err(ServiceError::NotFound("consent"));
        }
        self.revoke_consent_sessions(t, subject, Some(id)).await
    }
}
