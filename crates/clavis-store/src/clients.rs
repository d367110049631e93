use clavis_core::{AuthMethod, Client, ClientStatus, FapiProfile, GrantType, TenantId};

use crate::audit::insert_audit;
use crate::client_listing::{apply_listing, Listed};
use crate::db::{on_pool, Db};
use crate::secrets::{insert_secret, SecretRecord};
use crate::{on_unique, tenant_from_row, AuditEntry, Result, Store, StoreError};

pub(crate) const COLUMNS: &str = "id, tenant_id, client_id, name, redirect_uris, scopes, grant_types, auth_methods, \
    is_confidential, jwks, jwks_uri, fapi_profile, logo_url, privacy_policy, terms_url, website, cors_origins, \
    secret_last_four, status, created_at, updated_at, deleted_at, extra, owner";

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    id: String,
    tenant_id: String,
    client_id: String,
    name: String,
    redirect_uris: String,
    scopes: String,
    grant_types: String,
    auth_methods: String,
    is_confidential: bool,
    jwks: String,
    jwks_uri: String,
    fapi_profile: String,
    logo_url: String,
    privacy_policy: String,
    terms_url: String,
    website: String,
    cors_origins: String,
    secret_last_four: String,
    status: String,
    created_at: i64,
    updated_at: i64,
    deleted_at: Option<i64>,
    extra: String,
    owner: String,
}

fn strings(json: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("string list {json:?}: {e}")))
}

fn enums<T>(json: &str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>> {
    strings(json)?.iter().map(|s| parse(s).ok_or_else(|| StoreError::Corrupt(format!("value {s:?}")))).collect()
}

pub(crate) fn to_json<T: Copy>(v: &[T], name: fn(T) -> &'static str) -> String {
    serde_json::to_string(&v.iter().map(|x| name(*x)).collect::<Vec<_>>()).expect("strings serialize")
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(r: ClientRow) -> Result<Self> {
        Ok(Client {
            tenant_id: tenant_from_row(&r.tenant_id)?,
            redirect_uris: strings(&r.redirect_uris)?,
            scopes: strings(&r.scopes)?,
            grant_types: enums(&r.grant_types, GrantType::parse)?,
            auth_methods: enums(&r.auth_methods, AuthMethod::parse)?,
            fapi_profile: FapiProfile::parse(&r.fapi_profile).ok_or_else(|| StoreError::Corrupt(r.fapi_profile.clone()))?,
            cors_origins: strings(&r.cors_origins)?,
            status: ClientStatus::parse(&r.status).ok_or_else(|| StoreError::Corrupt(r.status.clone()))?,
            id: r.id,
            client_id: r.client_id,
            name: r.name,
            is_confidential: r.is_confidential,
            jwks: r.jwks,
            jwks_uri: r.jwks_uri,
            logo_url: r.logo_url,
            privacy_policy: r.privacy_policy,
            terms_url: r.terms_url,
            website: r.website,
            secret_last_four: r.secret_last_four,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
            extras: serde_json::from_str(&r.extra).map_err(|e| StoreError::Corrupt(format!("client extras: {e}")))?,
            owner: r.owner,
        })
    }
}

/// Pushes every column of a client, in [`COLUMNS`] order, to a multi-row INSERT.
macro_rules! push_client {
    ($b:expr, $c:expr) => {
        $b.push_bind(&$c.id)
            .push_bind($c.tenant_id.as_str())
            .push_bind(&$c.client_id)
            .push_bind(&$c.name)
            .push_bind(serde_json::to_string(&$c.redirect_uris).expect("strings serialize"))
            .push_bind(serde_json::to_string(&$c.scopes).expect("strings serialize"))
            .push_bind(to_json(&$c.grant_types, GrantType::as_str))
            .push_bind(to_json(&$c.auth_methods, AuthMethod::as_str))
            .push_bind($c.is_confidential)
            .push_bind(&$c.jwks)
            .push_bind(&$c.jwks_uri)
            .push_bind($c.fapi_profile.as_str())
            .push_bind(&$c.logo_url)
            .push_bind(&$c.privacy_policy)
            .push_bind(&$c.terms_url)
            .push_bind(&$c.website)
            .push_bind(serde_json::to_string(&$c.cors_origins).expect("strings serialize"))
            .push_bind(&$c.secret_last_four)
            .push_bind($c.status.as_str())
            .push_bind($c.created_at)
            .push_bind($c.updated_at)
            .push_bind($c.deleted_at)
            .push_bind(serde_json::to_string(&$c.extras).expect("extras serialize"))
            .push_bind(&$c.owner)
    };
}
pub(crate) use push_client;

/// Takes the client's row lock (PostgreSQL) inside a write transaction, and tells
/// whether the client exists and is not deleted.
pub(crate) const LOCK_CLIENT: &str = "UPDATE clients SET updated_at = $3 WHERE tenant_id = $1 AND client_id = $2 AND deleted_at IS NULL";

impl Store {
    /// The `seq` of a new client: SQLite writes one at a time (the write lock), so the next
    /// after the largest is free; PostgreSQL draws from a sequence.
    pub(crate) fn next_seq_sql(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "SELECT COALESCE(MAX(seq), 0) + 1 FROM clients",
            Db::Postgres(_) => "SELECT nextval('client_seq')",
        }
    }

    /// `$1` new, consecutive `seq`s (SQLite: under the write lock, after the largest).
    pub(crate) fn next_seqs_sql(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => {
                "WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
                 SELECT (SELECT COALESCE(MAX(seq), 0) FROM clients) + i FROM n"
            }
            Db::Postgres(_) => "SELECT nextval('client_seq') FROM generate_series(1, $1)",
        }
    }

    /// A live client's listed fields, locked (PostgreSQL) until the transaction ends.
    fn listed_sql(&self) -> String {
        let lock = if matches!(self.db, Db::Postgres(_)) { " FOR UPDATE" } else { "" };
        format!("SELECT seq, status, owner, name FROM clients WHERE tenant_id = $1 AND client_id = $2 AND deleted_at IS NULL{lock}")
    }

    /// Inserts a new client, its first secret (if any) and the audit entry, atomically.
    pub async fn insert_client(&self, client: &Client, secret: Option<&SecretRecord>, audit: &AuditEntry) -> Result<()> {
        let t = &client.tenant_id;
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let seq: i64 = sqlx::query_scalar(self.next_seq_sql()).fetch_one(&mut *tx).await?;
            let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO clients ({COLUMNS}, seq) "));
            q.push_values([client], |mut b, c| {
                push_client!(b, c);
                b.push_bind(seq);
            });
            q.build().execute(&mut *tx).await.map_err(on_unique)?;
            apply_listing!(self, tx, t, &ListingChange { seq, before: None, after: Some(Listed::of(client)) });
            if let Some(s) = secret {
                insert_secret!(&mut *tx, t, s);
            }
            insert_audit!(&mut *tx, t, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A live (not deleted) client.
    pub async fn get_client(&self, tenant: &TenantId, client_id: &str) -> Result<Option<Client>> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND client_id = $2 AND deleted_at IS NULL");
        let row: Option<ClientRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(client_id).fetch_optional(pool).await?);
        row.map(Client::try_from).transpose()
    }

    /// The distinct CORS origins of the tenant's live, active clients.
    pub async fn tenant_cors_origins(&self, tenant: &TenantId) -> Result<Vec<String>> {
        let sql = "SELECT cors_origins FROM clients WHERE tenant_id = $1 AND deleted_at IS NULL AND status = 'active'";
        let rows: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(sql).bind(tenant.as_str()).fetch_all(pool).await?);
        let mut out: Vec<String> = Vec::new();
        for row in rows {
            for origin in strings(&row)? {
                if !out.contains(&origin) {
                    out.push(origin);
                }
            }
        }
        Ok(out)
    }

    /// Writes the settable columns of a live client (not `secret_last_four`, which
    /// follows the secrets), and the audit entry. `NotFound` if it was
    /// deleted meanwhile.
    pub async fn update_client(&self, client: &Client, audit: &AuditEntry) -> Result<()> {
        let t = &client.tenant_id;
        let sql = "UPDATE clients SET name = $3, redirect_uris = $4, scopes = $5, grant_types = $6, auth_methods = $7, \
             is_confidential = $8, jwks = $9, jwks_uri = $10, fapi_profile = $11, logo_url = $12, privacy_policy = $13, \
             terms_url = $14, website = $15, cors_origins = $16, status = $17, updated_at = $18, extra = $19, owner = $20 \
             WHERE tenant_id = $1 AND client_id = $2 AND deleted_at IS NULL";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let before: Option<(i64, String, String, String)> =
                sqlx::query_as(&self.listed_sql()).bind(t.as_str()).bind(&client.client_id).fetch_optional(&mut *tx).await?;
            let Some((seq, status, owner, name)) = before else { return Err(StoreError::NotFound) };
            let status = ClientStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(status.clone()))?;
            let before = Listed { status, owner: &owner, name: &name };
            let n = sqlx::query(sql)
                .bind(t.as_str())
                .bind(&client.client_id)
                .bind(&client.name)
                .bind(serde_json::to_string(&client.redirect_uris).expect("strings serialize"))
                .bind(serde_json::to_string(&client.scopes).expect("strings serialize"))
                .bind(to_json(&client.grant_types, GrantType::as_str))
                .bind(to_json(&client.auth_methods, AuthMethod::as_str))
                .bind(client.is_confidential)
                .bind(&client.jwks)
                .bind(&client.jwks_uri)
                .bind(client.fapi_profile.as_str())
                .bind(&client.logo_url)
                .bind(&client.privacy_policy)
                .bind(&client.terms_url)
                .bind(&client.website)
                .bind(serde_json::to_string(&client.cors_origins).expect("strings serialize"))
                .bind(client.status.as_str())
                .bind(client.updated_at)
                .bind(serde_json::to_string(&client.extras).expect("extras serialize"))
                .bind(&client.owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            apply_listing!(self, tx, t, &ListingChange { seq, before: Some(before), after: Some(Listed::of(client)) });
            if !client.is_confidential {
                // A public client holds no secrets.
                sqlx::query("DELETE FROM client_secrets WHERE tenant_id = $1 AND client_id = $2")
                    .bind(t.as_str()).bind(&client.client_id).execute(&mut *tx).await?;
                sqlx::query(crate::secrets::REFRESH_LAST_FOUR)
                    .bind(t.as_str()).bind(&client.client_id).execute(&mut *tx).await?;
            }
            insert_audit!(&mut *tx, t, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Soft delete: the row stays (its `client_id` is never reused) with `deleted_at` set;
    /// every read and every token check treats it as absent from then on.
    pub async fn delete_client(&self, tenant: &TenantId, client_id: &str, now: i64, audit: &AuditEntry) -> Result<()> {
        let sql = "UPDATE clients SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 AND client_id = $2 AND deleted_at IS NULL";
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let before: Option<(i64, String, String, String)> =
                sqlx::query_as(&self.listed_sql()).bind(tenant.as_str()).bind(client_id).fetch_optional(&mut *tx).await?;
            let Some((seq, status, owner, name)) = before else { return Err(StoreError::NotFound) };
            let status = ClientStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(status.clone()))?;
            let n = sqlx::query(sql).bind(tenant.as_str()).bind(client_id).bind(now).execute(&mut *tx).await?.rows_affected();
            if n != 1 {
                return Err(StoreError::NotFound);
            }
            let before = Listed { status, owner: &owner, name: &name };
            apply_listing!(self, tx, tenant, &ListingChange { seq, before: Some(before), after: None });
            insert_audit!(&mut *tx, tenant, audit);
            tx.commit().await?;
        });
        Ok(())
    }
}
