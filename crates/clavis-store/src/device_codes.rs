//! Device authorization requests (RFC 8628): found by the device's code when it polls,
//! by the user's code when someone verifies it; every change of status is a
//! compare-and-set, so a user code is taken once and a grant redeemed once.

use clavis_core::TenantId;

use crate::db::on_pool;
use crate::{Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceCodeRow {
    pub id: String,
    pub device_code_hash: String,
    pub user_code_hash: String,
    pub client_id: String,
    pub request: String,
    pub status: String,
    pub grant_data: Option<String>,
    pub interval_secs: i64,
    pub last_polled_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "id, device_code_hash, user_code_hash, client_id, request, status, grant_data, interval_secs, last_polled_at, expires_at";

impl Store {
    /// A new request; a user code already in use is a conflict (the caller draws another).
    pub async fn insert_device_code(&self, tenant: &TenantId, r: &DeviceCodeRow) -> Result<()> {
        let sql = format!("INSERT INTO device_codes (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(&sql).bind(tenant.as_str()).bind(&r.id).bind(&r.device_code_hash).bind(&r.user_code_hash).bind(&r.client_id)
                .bind(&r.request).bind(&r.status).bind(&r.grant_data).bind(r.interval_secs).bind(r.last_polled_at).bind(r.expires_at)
                .execute(pool).await.map_err(crate::on_unique)?;
        });
        Ok(())
    }

    /// The request of a device code, expired or not.
    pub async fn device_code(&self, tenant: &TenantId, device_code_hash: &str) -> Result<Option<DeviceCodeRow>> {
        let sql = format!("SELECT {COLUMNS} FROM device_codes WHERE tenant_id = $1 AND device_code_hash = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(device_code_hash).fetch_optional(pool).await?))
    }

    /// The request of a user code, expired or not.
    pub async fn device_code_by_user_code(&self, tenant: &TenantId, user_code_hash: &str) -> Result<Option<DeviceCodeRow>> {
        let sql = format!("SELECT {COLUMNS} FROM device_codes WHERE tenant_id = $1 AND user_code_hash = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(user_code_hash).fetch_optional(pool).await?))
    }

    /// Moves request `id` from status `from` to `to` (with the grant, if given) while it
    /// has not expired; `false` if it was not in `from` any more, or has expired.
    pub async fn set_device_status(&self, tenant: &TenantId, id: &str, from: &str, to: &str, grant: Option<&str>, now: i64) -> Result<bool> {
        let sql = "UPDATE device_codes SET status = $3, grant_data = COALESCE($4, grant_data) \
                   WHERE tenant_id = $1 AND id = $2 AND status = $5 AND expires_at > $6";
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant.as_str()).bind(id).bind(to).bind(grant).bind(from).bind(now)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }

    /// Records a poll at `now` if the previous one was at `last` (so that of two
    /// concurrent polls one is too early); the interval becomes `interval_secs`.
    pub async fn record_device_poll(&self, tenant: &TenantId, id: &str, last: i64, now: i64, interval_secs: i64) -> Result<bool> {
        let sql = "UPDATE device_codes SET last_polled_at = $3, interval_secs = $4 WHERE tenant_id = $1 AND id = $2 AND last_polled_at = $5";
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => sqlx::query(sql).bind(tenant.as_str()).bind(id).bind(now).bind(interval_secs).bind(last)
            .execute(pool).await?.rows_affected());
        Ok(n == 1)
    }
}
