//! Bulk export and import of a tenant's clients (`clavis client export|import`).

use std::collections::{HashMap, HashSet};

use clavis_core::{AuthMethod, Client, GrantType, TenantId};
use sqlx::QueryBuilder;

use crate::audit::insert_audit;
use crate::client_listing::{add_to_run, apply_listing, status_delta, write_run, Listed, ADD_COUNTS, ADD_OWNER, RUN_OF};
use crate::clients::{push_client, to_json, ClientRow, COLUMNS};
use crate::db::on_pool;
use crate::secrets::{insert_secret, secret_columns, SecretRecord, SELECT_SECRETS};
use crate::{on_unique, AuditEntry, Result, Store, StoreError};

/// One client to import, with its secrets (hashes) and its audit entry.
pub struct ImportItem {
    pub client: Client,
    /// `None`: keep the secrets it has (a line that carries none, e.g. Hydra's format).
    pub secrets: Option<Vec<SecretRecord>>,
    pub audit: AuditEntry,
}

/// What an import did with one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Created,
    /// It existed: its fields and secrets are now the imported ones.
    Updated,
    /// It existed with exactly these fields and secrets: nothing was written.
    Unchanged,
    /// A client with this `client_id` was deleted: ids are never reused, so it stays deleted.
    Deleted,
}

/// Rows per multi-row INSERT: 100 clients are 2,500 bound values, well inside both
/// databases' limits (SQLite 32,766, PostgreSQL 65,535).
const ROWS_PER_INSERT: usize = 100;

const AUDIT_COLUMNS: &str = "id, tenant_id, client_id, actor, action, changed_fields, detail, created_at";

/// Every stored column of a live client but its keys, the tenant and `seq`.
const REPLACE: &str = "UPDATE clients SET id = $3, name = $4, redirect_uris = $5, scopes = $6, grant_types = $7, \
     auth_methods = $8, is_confidential = $9, jwks = $10, jwks_uri = $11, fapi_profile = $12, logo_url = $13, \
     privacy_policy = $14, terms_url = $15, website = $16, cors_origins = $17, secret_last_four = $18, status = $19, \
     created_at = $20, updated_at = $21, extra = $22, owner = $23 WHERE tenant_id = $1 AND client_id = $2";

macro_rules! bind_replace {
    ($q:expr, $t:expr, $c:expr) => {
        $q.bind($t.as_str())
            .bind(&$c.client_id)
            .bind(&$c.id)
            .bind(&$c.name)
            .bind(serde_json::to_string(&$c.redirect_uris).expect("strings serialize"))
            .bind(serde_json::to_string(&$c.scopes).expect("strings serialize"))
            .bind(to_json(&$c.grant_types, GrantType::as_str))
            .bind(to_json(&$c.auth_methods, AuthMethod::as_str))
            .bind($c.is_confidential)
            .bind(&$c.jwks)
            .bind(&$c.jwks_uri)
            .bind($c.fapi_profile.as_str())
            .bind(&$c.logo_url)
            .bind(&$c.privacy_policy)
            .bind(&$c.terms_url)
            .bind(&$c.website)
            .bind(serde_json::to_string(&$c.cors_origins).expect("strings serialize"))
            .bind(&$c.secret_last_four)
            .bind($c.status.as_str())
            .bind($c.created_at)
            .bind($c.updated_at)
            .bind(serde_json::to_string(&$c.extras).expect("extras serialize"))
            .bind(&$c.owner)
    };
}

/// ` AND tenant_id = … AND client_id IN (…)`: the rows of these clients of the tenant.
fn of_clients<'a, DB: sqlx::Database>(q: &mut QueryBuilder<'a, DB>, tenant: &'a TenantId, ids: &[&'a str])
where
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    q.push(" AND tenant_id = ").push_bind(tenant.as_str()).push(" AND client_id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    list.push_unseparated(")");
}

/// A client row with its `seq`.
#[derive(sqlx::FromRow)]
struct SeqRow {
    seq: i64,
    #[sqlx(flatten)]
    client: ClientRow,
}

impl Store {
    /// Refreshes the planner's statistics of the registry's tables (PostgreSQL; SQLite's
    /// planner does without). A bulk import calls it as the tables grow: plans made from the
    /// statistics of a table a tenth the size slowed an import tenfold (10k → 100k clients).
    pub async fn refresh_statistics(&self) -> Result<()> {
        if let crate::db::Db::Postgres(pool) = &self.db {
            sqlx::query("ANALYZE clients, client_secrets, client_pages, client_counts, client_owner_counts, audit_log").execute(pool).await?;
        }
        Ok(())
    }

    /// Up to `limit` live clients added after `after_seq`, oldest first, with their `seq`
    /// (the cursor of the next call).
    pub async fn clients_in_order(&self, tenant: &TenantId, after_seq: i64, limit: i64) -> Result<Vec<(i64, Client)>> {
        let sql = format!("SELECT seq, {COLUMNS} FROM clients WHERE tenant_id = $1 AND deleted_at IS NULL AND seq > $2 ORDER BY seq LIMIT $3");
        let rows: Vec<SeqRow> = on_pool!(self, pool => sqlx::query_as(&sql).bind(tenant.as_str()).bind(after_seq).bind(limit).fetch_all(pool).await?);
        rows.into_iter().map(|r| Ok((r.seq, Client::try_from(r.client)?))).collect()
    }

    /// The live clients among `ids`, in no particular order.
    pub async fn get_clients(&self, tenant: &TenantId, ids: &[&str]) -> Result<Vec<Client>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows: Vec<ClientRow> = on_pool!(self, pool => {
                let mut q = QueryBuilder::new(format!("SELECT {COLUMNS} FROM clients WHERE deleted_at IS NULL"));
                of_clients(&mut q, tenant, chunk);
                q.build_query_as().fetch_all(pool).await?
            });
            for r in rows {
                out.push(Client::try_from(r)?);
            }
        }
        Ok(out)
    }

    /// The secrets of each of `ids` (by client_id), sorted by `secret_id`.
    pub async fn secrets_of_clients(&self, tenant: &TenantId, ids: &[&str]) -> Result<HashMap<String, Vec<SecretRecord>>> {
        let mut out: HashMap<String, Vec<SecretRecord>> = HashMap::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<crate::secrets::SecretRow> = on_pool!(self, pool => {
                let mut q = QueryBuilder::new(concat!("SELECT ", secret_columns!(), " FROM client_secrets WHERE TRUE"));
                of_clients(&mut q, tenant, chunk);
                q.push(" ORDER BY client_id, secret_id");
                q.build_query_as().fetch_all(pool).await?
            });
            for r in rows {
                let s = SecretRecord::try_from(r)?;
                out.entry(s.client_id.clone()).or_default().push(s);
            }
        }
        Ok(out)
    }

    /// Creates or replaces each client (by `client_id`) with its secrets, in one transaction
    /// for the whole batch: a batch is imported entirely or not at all. New clients are
    /// written with multi-row statements and their listing counts summed per batch, which
    /// is what makes an import of a million clients take minutes, not hours.
    pub async fn import_clients(&self, tenant: &TenantId, items: &[ImportItem]) -> Result<Vec<ImportOutcome>> {
        let t = tenant;
        let ids: Vec<&str> = items.iter().map(|i| i.client.client_id.as_str()).collect();
        let mut outcomes = vec![ImportOutcome::Created; items.len()];
        let _w = self.write_guard().await;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // What exists already, in one query.
            let mut found: HashMap<String, (i64, Client)> = HashMap::new();
            for chunk in ids.chunks(500) {
                let mut q = QueryBuilder::new(format!("SELECT seq, {COLUMNS} FROM clients WHERE TRUE"));
                of_clients(&mut q, t, chunk);
                let rows: Vec<SeqRow> = q.build_query_as().fetch_all(&mut *tx).await?;
                for r in rows {
                    let c = Client::try_from(r.client)?;
                    found.insert(c.client_id.clone(), (r.seq, c));
                }
            }
            let mut fresh: Vec<&ImportItem> = Vec::new();
            let mut seen = HashSet::with_capacity(items.len());
            for (item, outcome) in items.iter().zip(outcomes.iter_mut()) {
                let c = &item.client;
                if !seen.insert(c.client_id.as_str()) {
                    return Err(StoreError::Refused("a batch names one client_id twice"));
                }
                let Some((seq, before)) = found.get(&c.client_id) else {
                    fresh.push(item);
                    continue;
                };
                if before.deleted_at.is_some() {
                    *outcome = ImportOutcome::Deleted;
                    continue;
                }
                let mut stored: Vec<SecretRecord> = sqlx::query_as::<_, crate::secrets::SecretRow>(SELECT_SECRETS)
                    .bind(t.as_str()).bind(&c.client_id).fetch_all(&mut *tx).await?
                    .into_iter().map(SecretRecord::try_from).collect::<Result<_>>()?;
                stored.sort_by(|a, b| a.secret_id.cmp(&b.secret_id));
                let same_secrets = item.secrets.as_ref().is_none_or(|given| {
                    let mut given = given.clone();
                    given.sort_by(|a, b| a.secret_id.cmp(&b.secret_id));
                    given == stored
                });
                if before == c && same_secrets {
                    *outcome = ImportOutcome::Unchanged;
                    continue;
                }
                bind_replace!(sqlx::query(REPLACE), t, c).execute(&mut *tx).await?;
                let was = Listed { status: before.status, owner: &before.owner, name: &before.name };
                apply_listing!(self, tx, t, &ListingChange { seq: *seq, before: Some(was), after: Some(Listed::of(c)) });
                if let Some(secrets) = &item.secrets {
                    sqlx::query("DELETE FROM client_secrets WHERE tenant_id = $1 AND client_id = $2")
                        .bind(t.as_str()).bind(&c.client_id).execute(&mut *tx).await?;
                    for s in secrets {
                        insert_secret!(&mut *tx, t, s);
                    }
                }
                insert_audit!(&mut *tx, t, &item.audit);
                *outcome = ImportOutcome::Updated;
            }
            if fresh.is_empty() {
                tx.commit().await?;
                return Ok(outcomes);
            }

            // The new clients: consecutive seqs from here (SQLite writes alone; PostgreSQL
            // draws them from its sequence in one statement).
            let mut seqs: Vec<i64> = sqlx::query_scalar(self.next_seqs_sql()).bind(fresh.len() as i64).fetch_all(&mut *tx).await?;
            seqs.sort_unstable();
            for (chunk, seqs) in fresh.chunks(ROWS_PER_INSERT).zip(seqs.chunks(ROWS_PER_INSERT)) {
                let mut q = QueryBuilder::new(format!("INSERT INTO clients ({COLUMNS}, seq) "));
                q.push_values(chunk.iter().zip(seqs), |mut b, (item, seq)| {
                    push_client!(b, item.client);
                    b.push_bind(*seq);
                });
                q.build().execute(&mut *tx).await.map_err(on_unique)?;
                let mut q = QueryBuilder::new(format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) "));
                q.push_values(chunk, |mut b, item| {
                    let e = &item.audit;
                    b.push_bind(&e.id).push_bind(t.as_str()).push_bind(&e.client_id).push_bind(&e.actor).push_bind(&e.action)
                        .push_bind(serde_json::to_string(&e.changed_fields).expect("strings serialize"))
                        .push_bind(&e.detail).push_bind(e.created_at);
                });
                q.build().execute(&mut *tx).await?;
                if self.backend() == "sqlite" {
                    let mut q = QueryBuilder::new("INSERT INTO client_name_search (rowid, name) ");
                    q.push_values(chunk.iter().zip(seqs), |mut b, (item, seq)| {
                        b.push_bind(*seq).push_bind(&item.client.name);
                    });
                    q.build().execute(&mut *tx).await?;
                }
            }
            for item in &fresh {
                for s in item.secrets.iter().flatten() {
                    insert_secret!(&mut *tx, t, s);
                }
            }
            // Their listing, summed: one counter row, one row per owner, the runs they fill.
            let (mut active, mut suspended) = (0i64, 0i64);
            let mut owners: HashMap<&str, i64> = HashMap::new();
            for item in &fresh {
                let (a, s) = status_delta(item.client.status, 1);
                (active, suspended) = (active + a, suspended + s);
                *owners.entry(item.client.owner.as_str()).or_default() += 1;
            }
            sqlx::query(ADD_COUNTS).bind(t.as_str()).bind(active).bind(suspended).execute(&mut *tx).await?;
            for (owner, n) in owners {
                sqlx::query(ADD_OWNER).bind(t.as_str()).bind(owner).bind(n).execute(&mut *tx).await?;
            }
            // The counter row is locked now, so no other write of this tenant starts a run
            // until this one commits. One may have started a run among our seqs before (on
            // PostgreSQL, whose sequence interleaves concurrent writers): then each new client
            // finds its run by its seq, as a single create does.
            let between = "SELECT COUNT(*) FROM client_pages WHERE tenant_id = $1 AND first_seq > $2 AND first_seq <= $3";
            let interleaved: i64 =
                sqlx::query_scalar(between).bind(t.as_str()).bind(seqs[0]).bind(seqs[seqs.len() - 1]).fetch_one(&mut *tx).await?;
            if interleaved > 0 {
                for (item, seq) in fresh.iter().zip(&seqs) {
                    let (a, s) = status_delta(item.client.status, 1);
                    add_to_run!(self, tx, t.as_str(), *seq, 1, a, s);
                }
            } else {
                // The runs they fill, in order: the last one's free places, then new runs.
                let last: Option<(i64, i64)> = sqlx::query_as(RUN_OF).bind(t.as_str()).bind(seqs[0]).fetch_optional(&mut *tx).await?;
                let mut run: Option<(i64, i64, bool)> = last.map(|(first, added)| (first, added, false));
                let mut deltas: Vec<(i64, bool, i64, i64, i64)> = Vec::new();
                for (item, seq) in fresh.iter().zip(&seqs) {
                    let (first, added, new) = match run {
                        Some((first, added, new)) if added < self.page_run => (first, added, new),
                        _ => (*seq, 0, true),
                    };
                    run = Some((first, added + 1, new));
                    let (a, s) = status_delta(item.client.status, 1);
                    match deltas.last_mut() {
                        Some(d) if d.0 == first => (d.2, d.3, d.4) = (d.2 + 1, d.3 + a, d.4 + s),
                        _ => deltas.push((first, new, 1, a, s)),
                    }
                }
                for (first, new, added, a, s) in deltas {
                    write_run!(tx, t.as_str(), first, new, added, a, s);
                }
            }
            tx.commit().await?;
        });
        Ok(outcomes)
    }
}
