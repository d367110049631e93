//! What the token endpoint needs of a client — the client, its secrets and its token
//! revocation — in one query (a join, one row per secret), so a client the cache does not
//! hold costs one round trip to the database instead of three.

use std::sync::LazyLock;

use clavis_core::{Client, TenantId};

use crate::clients::{ClientRow, COLUMNS};
use crate::db::on_pool;
use crate::secrets::SecretRow;
use crate::{Result, SecretRecord, Store, TokenRevocation};

/// The secret's columns, renamed so they do not meet the client's (`client_id`, `created_at`…).
#[derive(sqlx::FromRow)]
struct JoinedSecret {
    s_secret_id: Option<String>,
    s_secret_hash: Option<String>,
    s_last_four: Option<String>,
    s_description: Option<String>,
    s_status: Option<String>,
    s_created_at: Option<i64>,
    s_updated_at: Option<i64>,
    s_expires_at: Option<i64>,
    s_last_used_at: Option<i64>,
    s_sealed: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Revocation {
    tokens_revoked_at: Option<i64>,
    tokens_revoked_effective: Option<i64>,
}

/// The join for one client (`$2`), or for `ids` clients (`$2`…) ordered by client.
fn sql(ids: usize) -> String {
    let client: Vec<String> = COLUMNS.split(',').map(|c| format!("c.{}", c.trim())).collect();
    let matching = match ids {
        1 => "c.client_id = $2".to_owned(),
        n => format!("c.client_id IN ({})", (2..n + 2).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")),
    };
    format!(
        "SELECT {}, c.tokens_revoked_at, c.tokens_revoked_effective, s.secret_id AS s_secret_id, s.secret_hash AS s_secret_hash, \
         s.last_four AS s_last_four, s.description AS s_description, s.status AS s_status, s.created_at AS s_created_at, \
         s.updated_at AS s_updated_at, s.expires_at AS s_expires_at, s.last_used_at AS s_last_used_at, s.sealed AS s_sealed \
         FROM clients c LEFT JOIN client_secrets s ON s.tenant_id = c.tenant_id AND s.client_id = c.client_id \
         WHERE c.tenant_id = $1 AND {matching} AND c.deleted_at IS NULL \
         ORDER BY c.client_id, s.created_at DESC, s.secret_id DESC",
        client.join(", ")
    )
}

/// Clients read by one [`Store::client_entries`] query at most.
pub const MAX_ENTRIES_PER_READ: usize = 64;

/// The join for 1 to [`MAX_ENTRIES_PER_READ`] clients (index `n - 1`), built once: a cache
/// miss reads through it.
static SQL: LazyLock<Vec<String>> = LazyLock::new(|| (1..=MAX_ENTRIES_PER_READ).map(sql).collect());

/// A live client with its secrets (newest first) and its token revocation, if any.
pub type ClientEntry = (Client, Vec<SecretRecord>, Option<TokenRevocation>);

macro_rules! decode {
    ($rows:expr, $client_id:expr) => {{
        use sqlx::FromRow;
        let rows = $rows;
        let Some(first) = rows.first() else { return Ok(None) };
        let client = Client::try_from(ClientRow::from_row(first)?)?;
        let r = Revocation::from_row(first)?;
        let revocation = match (r.tokens_revoked_at, r.tokens_revoked_effective) {
            (Some(at), Some(effective)) => Some(TokenRevocation { at, effective }),
            _ => None,
        };
        let mut secrets = Vec::with_capacity(rows.len());
        for row in &rows {
            let s = JoinedSecret::from_row(row)?;
            let Some(secret_id) = s.s_secret_id else { continue };
            let missing = || crate::StoreError::Corrupt(format!("secret {secret_id} of {}", $client_id));
            secrets.push(SecretRecord::try_from(SecretRow {
                secret_id: secret_id.clone(),
                client_id: client.client_id.clone(),
                secret_hash: s.s_secret_hash.ok_or_else(missing)?,
                last_four: s.s_last_four.ok_or_else(missing)?,
                description: s.s_description.ok_or_else(missing)?,
                status: s.s_status.ok_or_else(missing)?,
                created_at: s.s_created_at.ok_or_else(missing)?,
                updated_at: s.s_updated_at.ok_or_else(missing)?,
                expires_at: s.s_expires_at,
                last_used_at: s.s_last_used_at,
                sealed: s.s_sealed,
            })?);
        }
        Ok(Some((client, secrets, revocation)))
    }};
}

impl Store {
    /// The live client `client_id` with its secrets and token revocation, in one query.
    pub async fn client_entry(&self, tenant: &TenantId, client_id: &str) -> Result<Option<ClientEntry>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(&SQL[0]).bind(tenant.as_str()).bind(client_id).fetch_all(pool).await?;
            decode!(rows, client_id)
        })
    }

    /// [`Store::client_entry`] of each of `client_ids` (distinct, at most
    /// [`MAX_ENTRIES_PER_READ`]) in one query, in their order: what many concurrent token
    /// requests of clients the cache does not hold need, for one round trip.
    pub async fn client_entries(&self, tenant: &TenantId, client_ids: &[String]) -> Result<Vec<Result<Option<ClientEntry>>>> {
        use sqlx::Row;
        assert!(!client_ids.is_empty() && client_ids.len() <= MAX_ENTRIES_PER_READ, "1 to {MAX_ENTRIES_PER_READ} clients per read");
        let sql = &SQL[client_ids.len() - 1];
        on_pool!(self, pool => {
            let mut q = sqlx::query(sql).bind(tenant.as_str());
            for id in client_ids {
                q = q.bind(id);
            }
            let mut by_client: std::collections::HashMap<String, Vec<_>> = std::collections::HashMap::new();
            for row in q.fetch_all(pool).await? {
                by_client.entry(row.try_get::<String, _>("client_id")?).or_default().push(row);
            }
            Ok(client_ids
                .iter()
                .map(|id| match by_client.remove(id) {
                    None => Ok(None),
                    Some(rows) => (|| decode!(rows, id))(),
                })
                .collect())
        })
    }
}
