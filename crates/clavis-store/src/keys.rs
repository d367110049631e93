use clavis_core::TenantId;

use crate::db::on_pool;
use crate::{Result, Store};

/// A tenant's signing key as stored. `private_pkcs8` is base64 of the PKCS#8 document.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    pub private_pkcs8: String,
    pub public_jwk: String,
    pub status: String,
    pub created_at: i64,
}

const KEY_COLUMNS: &str = "kid, alg, private_pkcs8, public_jwk, status, created_at";

impl Store {
    /// Published keys (`active` signs, `verify` only verifies), oldest first: every node
    /// signs with the oldest `active` one of each algorithm, so nodes that raced to create
    /// a key still agree.
    pub async fn active_signing_keys(&self, tenant: &TenantId) -> Result<Vec<StoredKey>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys WHERE tenant_id = $1 AND status IN ('active', 'verify') \
                   ORDER BY created_at, kid"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).fetch_all(pool).await?))
    }

    /// Every key of the tenant, retired ones included, newest first.
    pub async fn list_signing_keys(&self, tenant: &TenantId) -> Result<Vec<StoredKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM signing_keys WHERE tenant_id = $1 ORDER BY created_at DESC, kid DESC");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).fetch_all(pool).await?))
    }

    pub async fn insert_signing_key(&self, tenant: &TenantId, key: &StoredKey) -> Result<()> {
        let _w = self.write_guard().await;
        on_pool!(self, pool => { insert_key!(pool, tenant, key); });
        Ok(())
    }

    /// Makes `key` the signing key of its algorithm; the previous ones stay published for
    /// verification.
    pub async fn rotate_signing_key(&self, tenant: &TenantId, key: &StoredKey) -> Result<()> {
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE signing_keys SET status = 'verify' WHERE tenant_id = $1 AND status = 'active' AND alg = $2")
                .bind(tenant.as_str()).bind(&key.alg).execute(&mut *tx).await?;
            insert_key!(&mut *tx, tenant, key);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stops publishing a verify-only key: tokens it signed stop verifying.
    pub async fn retire_signing_key(&self, tenant: &TenantId, kid: &str) -> Result<()> {
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => sqlx::query("UPDATE signing_keys SET status = 'retired' WHERE tenant_id = $1 AND kid = $2 AND status = 'verify'")
            .bind(tenant.as_str()).bind(kid).execute(pool).await?.rows_affected());
        if n == 1 {
            Ok(())
        } else {
            Err(crate::StoreError::NotFound)
        }
    }
}

impl Store {
    /// Stops publishing every verify-only key of the tenant at once.
    pub async fn retire_verify_keys(&self, tenant: &TenantId) -> Result<()> {
        let _w = self.write_guard().await;
        on_pool!(self, pool => sqlx::query("UPDATE signing_keys SET status = 'retired' WHERE tenant_id = $1 AND status = 'verify'")
            .bind(tenant.as_str()).execute(pool).await?.rows_affected());
        Ok(())
    }
}

/// Inserts a [`StoredKey`] through `$exec` (a pool or a transaction).
macro_rules! insert_key {
    ($exec:expr, $tenant:expr, $key:expr) => {
        sqlx::query(
            "INSERT INTO signing_keys (tenant_id, kid, alg, private_pkcs8, public_jwk, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($tenant.as_str())
        .bind(&$key.kid)
        .bind(&$key.alg)
        .bind(&$key.private_pkcs8)
        .bind(&$key.public_jwk)
        .bind(&$key.status)
        .bind($key.created_at)
        .execute($exec)
        .await
        .map_err(crate::on_unique)?
    };
}
use insert_key;
