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
