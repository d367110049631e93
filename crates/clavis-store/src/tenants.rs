use clavis_core::{DcrPolicy, IntrospectionPolicy, SigningDefaults, TenantId};

use crate::db::on_pool;
use crate::{tenant_from_row, Result, Store, StoreError};

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

/// A tenant's own settings: its login, consent and logout app URLs (`None`: the
/// server-wide setting), and its policies for unvetted clients (`None`: the defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantSettings {
    pub login_url: Option<String>,
    pub consent_url: Option<String>,
    pub logout_url: Option<String>,
    pub dcr_policy: Option<DcrPolicy>,
    pub introspection: Option<IntrospectionPolicy>,
    pub signing: Option<SigningDefaults>,
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    login_url: Option<String>,
    consent_url: Option<String>,
    logout_url: Option<String>,
    dcr_policy: Option<String>,
    introspection: Option<String>,
    signing_algs: Option<String>,
}

impl TryFrom<TenantRow> for TenantSettings {
    type Error = StoreError;

    fn try_from(r: TenantRow) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("tenant {what}"));
        Ok(TenantSettings {
            login_url: r.login_url,
            consent_url: r.consent_url,
            logout_url: r.logout_url,
            dcr_policy: r.dcr_policy.map(|j| serde_json::from_str(&j).map_err(|_| corrupt("dcr_policy"))).transpose()?,
            introspection: r.introspection.map(|s| IntrospectionPolicy::parse(&s).ok_or_else(|| corrupt("introspection"))).transpose()?,
            signing: r.signing_algs.map(|j| serde_json::from_str(&j).map_err(|_| corrupt("signing_algs"))).transpose()?,
        })
    }
}

impl Store {
    /// The tenant's pairwise-subject secret: the stored one, or `fresh` if it had none
    /// (the first writer wins; later callers, on any node, read the winner's).
    pub async fn pairwise_salt(&self, tenant: &TenantId, fresh: &str) -> Result<Option<String>> {
        let set = "UPDATE tenants SET pairwise_salt = $2 WHERE id = $1 AND pairwise_salt IS NULL";
        let get = "SELECT pairwise_salt FROM tenants WHERE id = $1";
        {
            let _w = self.write_guard().await;
            on_pool!(self, pool => { sqlx::query(set).bind(tenant.as_str()).bind(fresh).execute(pool).await?; });
        }
        let row: Option<(Option<String>,)> = on_pool!(self, pool => sqlx::query_as(get).bind(tenant.as_str()).fetch_optional(pool).await?);
        Ok(row.and_then(|(s,)| s))
    }

    pub async fn tenant_settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        let sql = "SELECT login_url, consent_url, logout_url, dcr_policy, introspection, signing_algs FROM tenants WHERE id = $1";
        let row: Option<TenantRow> = on_pool!(self, pool => sqlx::query_as(sql).bind(tenant.as_str()).fetch_optional(pool).await?);
        row.map(TenantSettings::try_from).transpose().map(Option::unwrap_or_default)
    }

    pub async fn set_tenant_settings(&self, tenant: &TenantId, s: &TenantSettings) -> Result<()> {
        let sql = "UPDATE tenants SET login_url = $2, consent_url = $3, logout_url = $4, dcr_policy = $5, introspection = $6, signing_algs = $7 \
                   WHERE id = $1";
        let dcr_policy = s.dcr_policy.as_ref().map(|p| serde_json::to_string(p).expect("a policy serializes"));
        let introspection = s.introspection.map(IntrospectionPolicy::as_str);
        let signing = s.signing.as_ref().map(|d| serde_json::to_string(d).expect("defaults serialize"));
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(sql).bind(tenant.as_str()).bind(&s.login_url).bind(&s.consent_url).bind(&s.logout_url)
                .bind(&dcr_policy).bind(introspection).bind(&signing)
                .execute(pool).await?;
        });
        Ok(())
    }
}
