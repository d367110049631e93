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

/// A tenant's own login, consent and logout app URLs (`None`: the server-wide setting).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct TenantSettings {
    pub login_url: Option<String>,
    pub consent_url: Option<String>,
    pub logout_url: Option<String>,
}

impl Store {
    pub async fn tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        let sql = "SELECT login_url, consent_url, logout_url FROM tenants WHERE id = $1";
        let row: Option<TenantSettings> = on_pool!(self, pool => sqlx::query_as(sql).bind(tenant.as_str()).fetch_optional(pool).await?);
        Ok(row.unwrap_or_default())
    }

    pub async fn set_tenant_settings(&self, tenant: &TenantId, s: &TenantSettings) -> Result<()> {
        let sql = "UPDATE tenants SET login_url = $2, consent_url = $3, logout_url = $4 WHERE id = $1";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(&s.login_url).bind(&s.consent_url).bind(&s.logout_url)
                .execute(pool).await?;
        });
        Ok(())
    }
}
