//! Trusted issuers of the JWT bearer grant: which key of which issuer may assert which
//! subject, for which scopes, until when.

use clavis_core::TenantId;

use crate::db::on_pool;
use crate::{Result, Store, StoreError};

/// One trust relationship. `subject` is empty when `allow_any_subject`; `scopes` is a
/// JSON array; `public_jwk` the key's public members as JSON.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TrustedIssuer {
    pub id: String,
    pub issuer: String,
    pub subject: String,
    pub allow_any_subject: bool,
    pub scopes: String,
    pub kid: String,
    pub public_jwk: String,
    pub expires_at: i64,
    pub created_at: i64,
}

const COLUMNS: &str = "id, issuer, subject, allow_any_subject, scopes, kid, public_jwk, expires_at, created_at";

impl Store {
    /// Adds a relationship; the same issuer, subject and kid twice is a conflict.
    pub async fn insert_trusted_issuer(&self, tenant: &TenantId, t: &TrustedIssuer) -> Result<()> {
        let sql = format!("INSERT INTO trusted_jwt_issuers (tenant_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            sqlx::query(&sql).bind(tenant.as_str()).bind(&t.id).bind(&t.issuer).bind(&t.subject).bind(t.allow_any_subject).bind(&t.scopes)
                .bind(&t.kid).bind(&t.public_jwk).bind(t.expires_at).bind(t.created_at)
                .execute(pool).await.map_err(crate::on_unique)?;
        });
        Ok(())
    }

    pub async fn trusted_issuer(&self, tenant: &TenantId, id: &str) -> Result<Option<TrustedIssuer>> {
        let sql = format!("SELECT {COLUMNS} FROM trusted_jwt_issuers WHERE tenant_id = $1 AND id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(id).fetch_optional(pool).await?))
    }

    /// A page in id order after `after` (exclusive), of one issuer if given.
    pub async fn list_trusted_issuers(&self, tenant: &TenantId, issuer: Option<&str>, after: &str, limit: i64) -> Result<Vec<TrustedIssuer>> {
        let sql =
            format!("SELECT {COLUMNS} FROM trusted_jwt_issuers WHERE tenant_id = $1 AND ($2 = '' OR issuer = $2) AND id > $3 ORDER BY id LIMIT $4");
        Ok(
            on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(issuer.unwrap_or("")).bind(after).bind(limit).fetch_all(pool).await?),
        )
    }

    /// The unexpired relationships that may vouch for `subject` from `issuer`.
    pub async fn trusted_for(&self, tenant: &TenantId, issuer: &str, subject: &str, now: i64) -> Result<Vec<TrustedIssuer>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM trusted_jwt_issuers WHERE tenant_id = $1 AND issuer = $2 AND (subject = $3 OR allow_any_subject) \
             AND expires_at > $4 ORDER BY id LIMIT 100"
        );
        Ok(on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(issuer).bind(subject).bind(now).fetch_all(pool).await?))
    }

    pub async fn delete_trusted_issuer(&self, tenant: &TenantId, id: &str) -> Result<()> {
        let _w = self.write_guard().await;
        let n = on_pool!(self, pool => sqlx::query("DELETE FROM trusted_jwt_issuers WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str()).bind(id).execute(pool).await?.rows_affected());
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}
