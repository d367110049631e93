use clavis_core::TenantId;

use crate::db::on_pool;
use crate::{tenant_from_row, Result, Store};

impl Store {
    /// Creates the tenant if it does not exist; `true` when it was created now.
    pub async fn ensure_tenant(&self, tenant: &TenantId, now: i64) -> Result<bool> {
        let _w = self.write_guard().await;
        let sql = "INSERT INTO tenants (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING";
        let done = on_pool!(self, pool => sqlx::query(sql).bind(tenant.as_str()).bind(now).execute(pool).await?.rows_affected());
        Ok(done == 1)
    }

    pub async fn tenant_exists(&self, tenant: &TenantId) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM tenants WHERE id = $1";
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).fetch_one(pool).await?);
        Ok(n > 0)
    }

    pub async fn list_tenants(&self) -> Result<Vec<TenantId>> {
        let sql = "SELECT id FROM tenants ORDER BY id";
        let ids: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(sql).fetch_all(pool).await?);
        ids.iter().map(|s| tenant_from_row(s)).collect()
    }
}
