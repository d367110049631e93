use clavis_core::TenantId;

use crate::db::on_pool;
use crate::{Result, Store};

/// One audited change of a client: who, what, when, which fields. Never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub client_id: String,
    /// The `client_id` of the admin token, `internal-api`, or `cli`.
    pub actor: String,
    /// `create`, `update`, `delete`, `clone`, `rotate_secret`, `add_secret`, `delete_secret`.
    pub action: String,
    pub changed_fields: Vec<String>,
    /// Context without secrets, e.g. `cloned from <client_id>` or `grace 14400s`.
    pub detail: String,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    client_id: String,
    actor: String,
    action: String,
    changed_fields: String,
    detail: String,
    created_at: i64,
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (id, tenant_id, client_id, actor, action, changed_fields, detail, created_at) \
                                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Binds an [`AuditEntry`] to [`INSERT_AUDIT`] and runs it on `$exec`.
macro_rules! insert_audit {
    ($exec:expr, $tenant:expr, $e:expr) => {
        sqlx::query($crate::audit::INSERT_AUDIT)
            .bind(&$e.id)
            .bind($tenant.as_str())
            .bind(&$e.client_id)
            .bind(&$e.actor)
            .bind(&$e.action)
            .bind(serde_json::to_string(&$e.changed_fields).expect("strings serialize"))
            .bind(&$e.detail)
            .bind($e.created_at)
            .execute($exec)
            .await?
    };
}
pub(crate) use insert_audit;

impl Store {
    /// A page of a client's audit entries, newest first, and the total count.
    pub async fn list_audit(&self, tenant: &TenantId, client_id: &str, limit: i64, offset: i64) -> Result<(Vec<AuditEntry>, i64)> {
        let rows_sql = "SELECT id, client_id, actor, action, changed_fields, detail, created_at FROM audit_log \
                        WHERE tenant_id = $1 AND client_id = $2 ORDER BY id DESC LIMIT $3 OFFSET $4";
        let count_sql = "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND client_id = $2";
        let (rows, total): (Vec<AuditRow>, i64) = on_pool!(self, pool => (
            sqlx::query_as(rows_sql).bind(tenant.as_str()).bind(client_id).bind(limit).bind(offset).fetch_all(pool).await?,
            sqlx::query_scalar(count_sql).bind(tenant.as_str()).bind(client_id).fetch_one(pool).await?,
        ));
        let entries = rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                client_id: r.client_id,
                actor: r.actor,
                action: r.action,
                changed_fields: serde_json::from_str(&r.changed_fields).unwrap_or_default(),
                detail: r.detail,
                created_at: r.created_at,
            })
            .collect();
        Ok((entries, total))
    }
}
