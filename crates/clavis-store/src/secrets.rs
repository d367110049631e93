use clavis_core::TenantId;

use crate::audit::insert_audit;
use crate::clients::LOCK_CLIENT;
use crate::db::on_pool;
use crate::{AuditEntry, Result, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretStatus {
    /// Current; counts towards the limit of active secrets.
    Active,
    /// Replaced by a rotation; verifies until `expires_at` (the grace period).
    Expiring,
}

impl SecretStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expiring => "expiring",
        }
    }
}

/// A client secret as stored: its hash, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub secret_id: String,
    pub client_id: String,
    pub secret_hash: String,
    pub last_four: String,
    pub description: String,
    pub status: SecretStatus,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// For client_secret_jwt clients only: the secret sealed with the server's key.
    pub sealed: Option<String>,
}

impl SecretRecord {
    /// Whether this secret authenticates its client at `now`.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SecretRow {
    pub(crate) secret_id: String,
    pub(crate) client_id: String,
    pub(crate) secret_hash: String,
    pub(crate) last_four: String,
    pub(crate) description: String,
    pub(crate) status: String,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) expires_at: Option<i64>,
    pub(crate) last_used_at: Option<i64>,
    pub(crate) sealed: Option<String>,
}

impl TryFrom<SecretRow> for SecretRecord {
    type Error = StoreError;

    fn try_from(r: SecretRow) -> Result<Self> {
        let status = match r.status.as_str() {
            "active" => SecretStatus::Active,
            "expiring" => SecretStatus::Expiring,
            other => return Err(StoreError::Corrupt(format!("secret status {other:?}"))),
        };
        Ok(SecretRecord {
            secret_id: r.secret_id,
            client_id: r.client_id,
            secret_hash: r.secret_hash,
            last_four: r.last_four,
            description: r.description,
            status,
            created_at: r.created_at,
            updated_at: r.updated_at,
            expires_at: r.expires_at,
            last_used_at: r.last_used_at,
            sealed: r.sealed,
        })
    }
}

pub(crate) const INSERT_SECRET: &str = "INSERT INTO client_secrets (tenant_id, client_id, secret_id, secret_hash, \
    last_four, description, status, created_at, updated_at, expires_at, last_used_at, sealed) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

macro_rules! insert_secret {
    ($exec:expr, $tenant:expr, $s:expr) => {
        sqlx::query($crate::secrets::INSERT_SECRET)
            .bind($tenant.as_str())
            .bind(&$s.client_id)
            .bind(&$s.secret_id)
            .bind(&$s.secret_hash)
            .bind(&$s.last_four)
            .bind(&$s.description)
            .bind($s.status.as_str())
            .bind($s.created_at)
            .bind($s.updated_at)
            .bind($s.expires_at)
            .bind($s.last_used_at)
            .bind(&$s.sealed)
            .execute($exec)
            .await?
    };
}
pub(crate) use insert_secret;

/// Sets the client's `secret_last_four` from its newest active secret (`''` if none).
/// Binds: `$1` tenant, `$2` client_id, `$3` tenant, `$4` client_id.
pub(crate) const REFRESH_LAST_FOUR: &str = "UPDATE clients SET secret_last_four = COALESCE((SELECT s.last_four \
    FROM client_secrets s WHERE s.tenant_id = $1 AND s.client_id = $2 AND s.status = 'active' \
    ORDER BY s.created_at DESC, s.secret_id DESC LIMIT 1), '') WHERE tenant_id = $1 AND client_id = $2";

/// The columns of a [`SecretRow`], in its order.
macro_rules! secret_columns {
    () => {
        "secret_id, client_id, secret_hash, last_four, description, status, created_at, updated_at, expires_at, \
         last_used_at, sealed"
    };
}
pub(crate) use secret_columns;

/// A client's secrets, newest first.
pub(crate) const SELECT_SECRETS: &str =
    concat!("SELECT ", secret_columns!(), " FROM client_secrets WHERE tenant_id = $1 AND client_id = $2 ORDER BY created_at DESC, secret_id DESC");

const COUNT_ACTIVE: &str = "SELECT COUNT(*) FROM client_secrets WHERE tenant_id = $1 AND client_id = $2 \
    AND status = 'active' AND (expires_at IS NULL OR expires_at > $3)";

impl Store {
    /// All stored secrets of a client, newest first (hashes included: callers verify
    /// against them; the HTTP layer never shows them).
    pub async fn client_secrets(&self, tenant: &TenantId, client_id: &str) -> Result<Vec<SecretRecord>> {
        let rows: Vec<SecretRow> =
            on_pool!(self, pool => sqlx::query_as(SELECT_SECRETS).bind(tenant.as_str()).bind(client_id).fetch_all(pool).await?);
        rows.into_iter().map(SecretRecord::try_from).collect()
    }

    /// Adds `new` as the active secret. Every other secret stops verifying at
    /// `old_valid_until` (now, for no grace period, deletes them at once).
    pub async fn rotate_secret(&self, tenant: &TenantId, new: &SecretRecord, old_valid_until: i64, audit: &AuditEntry) -> Result<()> {
        let now = new.created_at;
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            lock_client!(&mut *tx, tenant, &new.client_id, now);
            sqlx::query("DELETE FROM client_secrets WHERE tenant_id = $1 AND client_id = $2 AND expires_at IS NOT NULL AND expires_at <= $3")
                .bind(tenant.as_str()).bind(&new.client_id).bind(old_valid_until)
                .execute(&mut *tx).await?;
            sqlx::query("UPDATE client_secrets SET status = 'expiring', updated_at = $3, \
                         expires_at = CASE WHEN expires_at IS NULL OR expires_at > $4 THEN $5 ELSE expires_at END \
                         WHERE tenant_id = $1 AND client_id = $2")
                .bind(tenant.as_str()).bind(&new.client_id).bind(now).bind(old_valid_until).bind(old_valid_until)
                .execute(&mut *tx).await?;
            insert_secret!(&mut *tx, tenant, new);
            refresh_last_four!(&mut *tx, tenant, &new.client_id);
            insert_audit!(&mut *tx, tenant, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Adds another active secret, refused when `max_active` are active already.
    pub async fn add_secret(&self, tenant: &TenantId, new: &SecretRecord, max_active: i64, audit: &AuditEntry) -> Result<()> {
        let now = new.created_at;
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            lock_client!(&mut *tx, tenant, &new.client_id, now);
            let active: i64 = sqlx::query_scalar(COUNT_ACTIVE)
                .bind(tenant.as_str()).bind(&new.client_id).bind(now).fetch_one(&mut *tx).await?;
            if active >= max_active {
                return Err(StoreError::Refused("the client already has the maximum number of active secrets"));
            }
            insert_secret!(&mut *tx, tenant, new);
            refresh_last_four!(&mut *tx, tenant, &new.client_id);
            insert_audit!(&mut *tx, tenant, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes one secret, refused when no active secret would remain.
    pub async fn delete_secret(&self, tenant: &TenantId, client_id: &str, secret_id: &str, now: i64, audit: &AuditEntry) -> Result<()> {
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            lock_client!(&mut *tx, tenant, client_id, now);
            let n = sqlx::query("DELETE FROM client_secrets WHERE tenant_id = $1 AND client_id = $2 AND secret_id = $3")
                .bind(tenant.as_str()).bind(client_id).bind(secret_id).execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            let active: i64 = sqlx::query_scalar(COUNT_ACTIVE)
                .bind(tenant.as_str()).bind(client_id).bind(now).fetch_one(&mut *tx).await?;
            if active == 0 {
                // Dropping the transaction rolls the delete back.
                return Err(StoreError::Refused("cannot delete the client's last active secret"));
            }
            refresh_last_four!(&mut *tx, tenant, client_id);
            insert_audit!(&mut *tx, tenant, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Replaces an imported secret hash by `new_hash` (and learns its last four), if it is
    /// still `old_hash`; `false` if another request or node did it first.
    pub async fn rehash_secret(
        &self,
        tenant: &TenantId,
        client_id: &str,
        secret_id: &str,
        old_hash: &str,
        new_hash: &str,
        last_four: &str,
    ) -> Result<bool> {
        let sql = "UPDATE client_secrets SET secret_hash = $5, last_four = CASE WHEN last_four = '' THEN $6 ELSE last_four END \
                   WHERE tenant_id = $1 AND client_id = $2 AND secret_id = $3 AND secret_hash = $4";
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(sql).bind(tenant.as_str()).bind(client_id).bind(secret_id).bind(old_hash).bind(new_hash).bind(last_four)
                .execute(&mut *tx).await?.rows_affected();
            refresh_last_four!(&mut *tx, tenant, client_id);
            tx.commit().await?;
            n
        });
        Ok(n == 1)
    }

    /// Records a client assertion's `jti`; `false` if it was seen before (a replay).
    pub async fn use_jti(&self, tenant: &TenantId, client_id: &str, jti: &str, expires_at: i64) -> Result<bool> {
        let sql = "INSERT INTO used_jtis (tenant_id, client_id, jti, expires_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (tenant_id, client_id, jti) DO NOTHING";
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant.as_str()).bind(client_id).bind(jti).bind(expires_at)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Records a DPoP proof's `jti` for its key; `false` if the key used it before (a
    /// replayed proof, RFC 9449 §11.1).
    pub async fn use_dpop_jti(&self, tenant: &TenantId, jkt: &str, jti: &str, expires_at: i64) -> Result<bool> {
        let sql = "INSERT INTO dpop_proofs (tenant_id, jkt, jti, expires_at) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (tenant_id, jkt, jti) DO NOTHING";
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant.as_str()).bind(jkt).bind(jti).bind(expires_at)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Records when secrets authenticated requests, `(tenant, secret_id, at)` each, in one
    /// transaction (callers coalesce and queue these writes), 500 rows per statement: on
    /// SQLite each statement is a hand-off to the connection's thread and back, which cost
    /// more than the row's update when there was one statement per row.
    pub async fn touch_secrets(&self, touches: &[(TenantId, String, i64)]) -> Result<()> {
        const ROWS: usize = 500;
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in touches.chunks(ROWS) {
                let values: Vec<String> = (0..chunk.len()).map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3)).collect();
                // VALUES columns are column1… on both databases.
                let sql = format!(
                    "UPDATE client_secrets SET last_used_at = v.column3 FROM (VALUES {}) AS v \
                     WHERE client_secrets.tenant_id = v.column1 AND client_secrets.secret_id = v.column2",
                    values.join(", ")
                );
                let mut q = sqlx::query(&sql);
                for (tenant, secret_id, at) in chunk {
                    q = q.bind(tenant.as_str()).bind(secret_id).bind(at);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}

/// Locks the live client row for the transaction, or returns `NotFound`.
macro_rules! lock_client {
    ($exec:expr, $tenant:expr, $client_id:expr, $now:expr) => {
        if sqlx::query(LOCK_CLIENT).bind($tenant.as_str()).bind($client_id).bind($now).execute($exec).await?.rows_affected() != 1 {
            return Err(StoreError::NotFound);
        }
    };
}
use lock_client;

macro_rules! refresh_last_four {
    ($exec:expr, $tenant:expr, $client_id:expr) => {
        sqlx::query(REFRESH_LAST_FOUR).bind($tenant.as_str()).bind($client_id).execute($exec).await?
    };
}
use refresh_last_four;
