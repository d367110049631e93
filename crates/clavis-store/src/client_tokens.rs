//! The tokens of one client that Clavis stores (refresh tokens, opaque access tokens),
//! and revoking all of a client's tokens at once, JWT access tokens included (through the
//! client's revocation point, which the token checks read).

use clavis_core::TenantId;

use crate::audit::{insert_audit, AuditEntry};
use crate::db::on_pool;
use crate::{Result, Store, StoreError};

/// A live stored token: no token text, only what describes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredToken {
    /// `refresh_token` or `access_token`.
    pub kind: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// The grant (refresh tokens) or the claims (access tokens), as JSON.
    pub data: String,
    /// The user of a refresh token; empty for access tokens (their claims say).
    pub subject: String,
}

/// When a client's tokens were revoked: access tokens issued at or before `at` are
/// inactive from `effective` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRevocation {
    pub at: i64,
    pub effective: i64,
}

/// What a revocation ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevokedCounts {
    pub access_tokens: i64,
    pub refresh_tokens: i64,
}

const LIVE_REFRESH: &str = "tenant_id = $1 AND client_id = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3";
const LIVE_OPAQUE: &str = "tenant_id = $1 AND client_id = $2 AND expires_at > $3";

impl Store {
    /// A page of the client's live stored tokens, newest first, and their number.
    pub async fn client_tokens(&self, tenant: &TenantId, client_id: &str, now: i64, limit: i64, offset: i64) -> Result<(Vec<StoredToken>, i64)> {
        let page = format!(
            "SELECT 'refresh_token' AS kind, created_at, expires_at, data, subject FROM refresh_tokens WHERE {LIVE_REFRESH} \
             UNION ALL SELECT 'access_token' AS kind, created_at, expires_at, claims AS data, '' AS subject FROM opaque_tokens WHERE {LIVE_OPAQUE} \
             ORDER BY created_at DESC, expires_at DESC LIMIT $4 OFFSET $5"
        );
        let count =
            format!("SELECT (SELECT COUNT(*) FROM refresh_tokens WHERE {LIVE_REFRESH}) + (SELECT COUNT(*) FROM opaque_tokens WHERE {LIVE_OPAQUE})");
        Ok(on_pool!(self, pool => {
            let items = sqlx::query_as(&page).bind(tenant.as_str()).bind(client_id).bind(now).bind(limit).bind(offset).fetch_all(pool).await?;
            let total: i64 = sqlx::query_scalar(&count).bind(tenant.as_str()).bind(client_id).bind(now).fetch_one(pool).await?;
            (items, total)
        }))
    }

    /// Revokes every token of the client issued until `r.at`, from `r.effective` on: stored
    /// tokens end then (at once when it is `r.at`), and the client's revocation point
    /// covers its JWT access tokens. One transaction, with the audit entry.
    pub async fn revoke_client_tokens(&self, tenant: &TenantId, client_id: &str, r: TokenRevocation, audit: &AuditEntry) -> Result<RevokedCounts> {
        let mark = "UPDATE clients SET tokens_revoked_at = $3, tokens_revoked_effective = $4, updated_at = $3 \
                    WHERE tenant_id = $1 AND client_id = $2 AND deleted_at IS NULL";
        let refresh = if r.effective <= r.at {
            format!("UPDATE refresh_tokens SET revoked_at = $3 WHERE {LIVE_REFRESH}")
        } else {
            format!("UPDATE refresh_tokens SET expires_at = $4 WHERE {LIVE_REFRESH} AND expires_at > $4")
        };
        let count_refresh = format!("SELECT COUNT(*) FROM refresh_tokens WHERE {LIVE_REFRESH}");
        let count_opaque = format!("SELECT COUNT(*) FROM opaque_tokens WHERE {LIVE_OPAQUE}");
        let opaque = format!("UPDATE opaque_tokens SET expires_at = $4 WHERE {LIVE_OPAQUE} AND expires_at > $4");
        let _w = self.write_guard().await;
        let counts = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(mark).bind(tenant.as_str()).bind(client_id).bind(r.at).bind(r.effective).execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            let refresh_tokens: i64 = sqlx::query_scalar(&count_refresh).bind(tenant.as_str()).bind(client_id).bind(r.at).fetch_one(&mut *tx).await?;
            let access_tokens: i64 = sqlx::query_scalar(&count_opaque).bind(tenant.as_str()).bind(client_id).bind(r.at).fetch_one(&mut *tx).await?;
            sqlx::query(&refresh).bind(tenant.as_str()).bind(client_id).bind(r.at).bind(r.effective).execute(&mut *tx).await?;
            sqlx::query(&opaque).bind(tenant.as_str()).bind(client_id).bind(r.at).bind(r.effective).execute(&mut *tx).await?;
            insert_audit!(&mut *tx, tenant, audit);
            tx.commit().await?;
            RevokedCounts { access_tokens, refresh_tokens }
        });
        Ok(counts)
    }
}
