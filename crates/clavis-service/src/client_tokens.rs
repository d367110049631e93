//! A client's tokens as the admin sees them (`GET …/clients/{id}/tokens`: what Clavis
//! stores, never token text) and revoking them all (`DELETE …/clients/{id}/tokens`).
//!
//! JWT access tokens are not stored one by one (a write per token would cost the token
//! endpoint its speed), so revocation sets a point on the client instead: every access
//! token of the client issued at or before it is inactive, once the grace period has
//! passed, wherever Clavis checks tokens (introspection, userinfo, admin calls). A
//! resource server that verifies JWTs locally keeps accepting them until they expire.

use clavis_core::{TenantId, ValidationError};
use clavis_store::{RevokedCounts, StoredToken, TokenRevocation};
use serde_json::Value;

use crate::registry::audit;
use crate::{Actor, Page, ServiceError, Services};

/// The longest grace period a revocation may give.
pub const MAX_REVOCATION_GRACE_SECS: i64 = 24 * 3600;

/// One stored token of a client, described.
#[derive(Debug, Clone)]
pub struct ClientToken {
    pub token_type: &'static str,
    pub created_at: i64,
    pub expires_at: i64,
    pub scope: String,
    pub user_id: String,
}

impl ClientToken {
    fn from_row(row: StoredToken) -> Self {
        let data: Value = serde_json::from_str(&row.data).unwrap_or_default();
        let (token_type, scope, user_id) = if row.kind == "refresh_token" {
            let scope = data["scope"].as_array().map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "));
            ("refresh_token", scope.unwrap_or_default(), row.subject)
        } else {
            let scope = data["scope"].as_str().unwrap_or_default().to_owned();
            ("access_token", scope, data["sub"].as_str().unwrap_or_default().to_owned())
        };
        Self { token_type, created_at: row.created_at, expires_at: row.expires_at, scope, user_id }
    }
}

impl Services {
    /// The client's live stored tokens, newest first.
    pub async fn list_client_tokens(&self, t: &TenantId, client_id: &str, page: i64, page_size: i64) -> Result<Page<ClientToken>, ServiceError> {
        self.get_client(t, client_id).await?;
        let (rows, total) = self.store.client_tokens(t, client_id, self.now(), page_size, (page - 1) * page_size).await?;
        Ok(Page { items: rows.into_iter().map(ClientToken::from_row).collect(), total })
    }

    /// Revokes every token of the client issued until now, `grace_secs` from now.
    pub async fn revoke_client_tokens(&self, t: &TenantId, client_id: &str, grace_secs: i64, actor: &Actor) -> Result<RevokedCounts, ServiceError> {
        if !(0..=MAX_REVOCATION_GRACE_SECS).contains(&grace_secs) {
            return Err(ValidationError::new("grace_period", format!("must be 0 to {MAX_REVOCATION_GRACE_SECS} seconds")).into());
        }
        self.get_client(t, client_id).await?;
        let now = self.now();
        let r = TokenRevocation { at: now, effective: now + grace_secs };
        let entry = audit(client_id, actor, "revoke_tokens", vec!["tokens"], format!("grace {grace_secs}s"), now);
        let counts = self.store.revoke_client_tokens(t, client_id, r, &entry).await.map_err(ServiceError::store("client"))?;
        self.clients.invalidate(t, client_id);
        Ok(counts)
    }
}
