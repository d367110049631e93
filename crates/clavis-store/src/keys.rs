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

impl Store {
    /// Active keys, oldest first: every node signs with the first one, so nodes that
    /// raced to create a key still agree.
    pub async fn active_signing_keys(&self, tenant: &TenantId) -> Result<Vec<StoredKey>> {
        let sql = "SELECT kid, alg, private_pkcs8, public_jwk, status, created_at FROM signing_keys \
                   WHERE tenant_id = $1 AND status = 'active' ORDER BY created_at, kid";
        Ok(on_pool!(self, pool => sqlx::query_as(sql).bind(tenant.as_str()).fetch_all(pool).await?))
    }

    pub async fn insert_signing_key(&self, tenant: &TenantId, key: &StoredKey) -> Result<()> {
        let _w = self.write_guard().await;
        let sql = "INSERT INTO signing_keys (tenant_id, kid, alg, private_pkcs8, public_jwk, status, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(self, pool => { sqlx::query(sql)
            .bind(tenant.as_str()).bind(&key.kid).bind(&key.alg).bind(&key.private_pkcs8)
            .bind(&key.public_jwk).bind(&key.status).bind(key.created_at)
            .execute(pool).await.map_err(crate::on_unique)?; });
        Ok(())
    }
}
