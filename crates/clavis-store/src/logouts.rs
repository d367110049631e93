//! Back-channel and front-channel logout state: which clients took part in which login
//! session, and the logout tokens still to be delivered. Taking a session's clients
//! deletes them in the same statement, so when two nodes end (or expire) the same
//! session, only one of them notifies.

use clavis_core::TenantId;

use crate::db::on_pool;
use crate::{Result, Store};

/// A client that was given tokens in login session `sid`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionClient {
    pub sid: String,
    pub client_id: String,
    pub subject: String,
    /// The issuer the client's ID tokens named (the default tenant has two).
    pub issuer: String,
}

/// A logout token waiting to be POSTed; `claims` is its JSON without `iat`/`exp`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogoutDelivery {
    pub id: String,
    pub client_id: String,
    pub claims: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub expires_at: i64,
}

const TAKEN: &str = "RETURNING sid, client_id, subject, issuer";

impl Store {
    /// Records that `client_id` took part in session `sid`; the row lives until the later
    /// of `expires_at` and what it had.
    pub async fn add_session_client(&self, tenant: &TenantId, c: &SessionClient, expires_at: i64) -> Result<()> {
        let sql = "INSERT INTO session_clients (tenant_id, sid, client_id, subject, issuer, expires_at) VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (tenant_id, sid, client_id) DO UPDATE SET expires_at = \
                   CASE WHEN excluded.expires_at > session_clients.expires_at THEN excluded.expires_at ELSE session_clients.expires_at END";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(&c.sid).bind(&c.client_id).bind(&c.subject).bind(&c.issuer).bind(expires_at).execute(pool).await?;
        });
        Ok(())
    }

    /// When the remembered login session `sid` ends, if there is one.
    pub async fn session_expiry(&self, tenant: &TenantId, sid: &str) -> Result<Option<i64>> {
        let sql = "SELECT MAX(expires_at) FROM login_sessions WHERE tenant_id = $1 AND sid = $2";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).bind(sid).fetch_one(pool).await?))
    }

    /// The tenant's subject of session `sid`, if a remembered session or a client with a
    /// logout URI knows it (a pairwise `sub` cannot be turned back; the `sid` can).
    pub async fn subject_of_session(&self, tenant: &TenantId, sid: &str) -> Result<Option<String>> {
        let sql = "SELECT subject FROM login_sessions WHERE tenant_id = $1 AND sid = $2 \
                   UNION SELECT subject FROM session_clients WHERE tenant_id = $1 AND sid = $2";
        let found: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).bind(sid).fetch_all(pool).await?);
        Ok(found.into_iter().next())
    }

    /// The clients of session `sid`, removed.
    pub async fn take_session_clients(&self, tenant: &TenantId, sid: &str) -> Result<Vec<SessionClient>> {
        let sql = format!("DELETE FROM session_clients WHERE tenant_id = $1 AND sid = $2 {TAKEN}");
        let _w = self.write_guard().await;
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(sid).fetch_all(pool).await?))
    }

    /// The clients of every session of `subject`, removed.
    pub async fn take_session_clients_of_subject(&self, tenant: &TenantId, subject: &str) -> Result<Vec<SessionClient>> {
        let sql = format!("DELETE FROM session_clients WHERE tenant_id = $1 AND subject = $2 {TAKEN}");
        let _w = self.write_guard().await;
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(subject).fetch_all(pool).await?))
    }

    /// The clients of remembered login sessions that have expired by `now`, removed
    /// (called before the sessions themselves are purged).
    pub async fn take_clients_of_expired_sessions(&self, tenant: &TenantId, now: i64) -> Result<Vec<SessionClient>> {
        let sql = format!(
            "DELETE FROM session_clients WHERE tenant_id = $1 AND sid IN \
             (SELECT sid FROM login_sessions WHERE tenant_id = $1 AND expires_at <= $2) \
             AND sid NOT IN (SELECT sid FROM login_sessions WHERE tenant_id = $1 AND expires_at > $2) {TAKEN}"
        );
        let _w = self.write_guard().await;
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(now).fetch_all(pool).await?))
    }

    pub async fn insert_logout_delivery(&self, tenant: &TenantId, d: &LogoutDelivery) -> Result<()> {
        let sql = "INSERT INTO logout_deliveries (tenant_id, id, client_id, claims, attempts, next_attempt_at, expires_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(&d.id).bind(&d.client_id).bind(&d.claims).bind(d.attempts)
                .bind(d.next_attempt_at).bind(d.expires_at).execute(pool).await?;
        });
        Ok(())
    }

    /// Takes delivery `id` for one attempt if it is due at `now`: counts the attempt and
    /// holds the row until `lease_until` (a node that dies mid-attempt frees it then).
    /// `None`: not due, expired, or another node has it.
    pub async fn claim_logout_delivery(&self, tenant: &TenantId, id: &str, now: i64, lease_until: i64) -> Result<Option<LogoutDelivery>> {
        let sql = "UPDATE logout_deliveries SET attempts = attempts + 1, next_attempt_at = $3 \
                   WHERE tenant_id = $1 AND id = $2 AND next_attempt_at <= $4 AND expires_at > $4 \
                   RETURNING id, client_id, claims, attempts, next_attempt_at, expires_at";
        let _w = self.write_guard().await;
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(tenant.as_str()).bind(id).bind(lease_until).bind(now).fetch_optional(pool).await?))
    }

    pub async fn reschedule_logout_delivery(&self, tenant: &TenantId, id: &str, at: i64) -> Result<()> {
        let sql = "UPDATE logout_deliveries SET next_attempt_at = $3 WHERE tenant_id = $1 AND id = $2";
        let _w = self.write_guard().await;
        on_pool!(self, pool => { sqlx::query(sql).bind(tenant.as_str()).bind(id).bind(at).execute(pool).await?; });
        Ok(())
    }

    /// Delivered, refused for good, or out of attempts.
    pub async fn delete_logout_delivery(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let sql = "DELETE FROM logout_deliveries WHERE tenant_id = $1 AND id = $2";
        let _w = self.write_guard().await;
        on_pool!(self, pool => { sqlx::query(sql).bind(tenant.as_str()).bind(id).execute(pool).await?; });
        Ok(())
    }

    /// The ids of up to `limit` deliveries due at `now`.
    pub async fn due_logout_deliveries(&self, tenant: &TenantId, now: i64, limit: i64) -> Result<Vec<String>> {
        let sql = "SELECT id FROM logout_deliveries WHERE tenant_id = $1 AND next_attempt_at <= $2 AND expires_at > $2 \
                   ORDER BY next_attempt_at LIMIT $3";
        Ok(on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).bind(now).bind(limit).fetch_all(pool).await?))
    }
}
