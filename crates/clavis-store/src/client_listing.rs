//! Client lists whose cost does not grow with the registry (schema v18).
//!
//! Three structures are kept with every client write, in its transaction:
//! - `client_counts`: a tenant's live clients per status — a list's `total` is one row;
//! - `client_pages`: runs of up to [`RUN`] consecutive `seq`s with their live counts — page N
//!   of the newest-first list is found by summing the runs in blocks, walking a few dozen
//!   blocks and one block's runs, and skipping fewer than [`RUN`] index entries, never an
//!   `OFFSET` over the whole tenant;
//! - `client_owner_counts`: live clients per owner (Hydra's `owner` filter).
//!
//! The name search is SQLite's FTS5 trigram table `client_name_search` (rowid = `seq`) or
//! PostgreSQL's pg_trgm index on `LOWER(name)`, asked for the rare trigrams of the text only
//! (`name_search`): a search costs what its matches cost.
//! Searches shorter than three characters match no trigram and scan the tenant instead.

use clavis_core::{Client, ClientStatus, TenantId};

use crate::clients::{ClientRow, COLUMNS};
use crate::db::{on_pool, Db};
use crate::{Result, Store};

/// The number of `seq`s a page run takes before a new one starts (`Store::page_run`).
/// A run's length: the last page walks `clients / RUN` run rows and skips fewer than `RUN`
/// index entries, so about √(clients) balances the two at 1M (with 4096, the skip dominated on
/// PostgreSQL: page 50,000 took 2.5× page 1). Runs made before keep their length (the v18
/// migration made them 4096 long): a run's length only decides when the next one starts.
pub(crate) const RUN: i64 = 1024;
/// Runs are summed in blocks of this many runs' `seq`s, so that the last page reads a few
/// dozen block sums and one block's runs instead of every run (at 1M clients, 977 rows through
/// the driver cost as much as the rest of the request: the last page took 2× the first).
pub(crate) const RUNS_PER_BLOCK: i64 = 32;

/// Filters of the authms client list. Empty strings mean "any".
#[derive(Debug, Default, Clone)]
pub struct ClientFilter {
    /// Case-insensitive substring of the name.
    pub name: String,
    pub status: Option<ClientStatus>,
}

/// How one write changes a tenant's listing: the live client it removes and the one it adds
/// (an update is both, with the same `seq`).
pub(crate) struct ListingChange<'a> {
    pub seq: i64,
    pub before: Option<Listed<'a>>,
    pub after: Option<Listed<'a>>,
}

/// What the listing structures know of a live client.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Listed<'a> {
    pub status: ClientStatus,
    pub owner: &'a str,
    pub name: &'a str,
}

impl<'a> Listed<'a> {
    pub fn of(c: &'a Client) -> Self {
        Listed { status: c.status, owner: &c.owner, name: &c.name }
    }
}

/// (active, suspended) deltas of one status.
pub(crate) fn status_delta(status: ClientStatus, by: i64) -> (i64, i64) {
    match status {
        ClientStatus::Active => (by, 0),
        ClientStatus::Suspended => (0, by),
    }
}

pub(crate) const ADD_COUNTS: &str = "INSERT INTO client_counts (tenant_id, active, suspended) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant_id) DO UPDATE SET active = client_counts.active + excluded.active, \
     suspended = client_counts.suspended + excluded.suspended";
pub(crate) const ADD_OWNER: &str = "INSERT INTO client_owner_counts (tenant_id, owner, live) VALUES ($1, $2, $3) \
     ON CONFLICT (tenant_id, owner) DO UPDATE SET live = client_owner_counts.live + excluded.live";
/// The run a `seq` belongs to: the last one starting at or before it.
pub(crate) const RUN_OF: &str = "SELECT first_seq, added FROM client_pages WHERE tenant_id = $1 AND first_seq <= $2 ORDER BY first_seq DESC LIMIT 1";
pub(crate) const NEW_RUN: &str = "INSERT INTO client_pages (tenant_id, first_seq, added, active, suspended) VALUES ($1, $2, $3, $4, $5)";
pub(crate) const ADD_TO_RUN: &str = "UPDATE client_pages SET added = added + $3, active = active + $4, suspended = suspended + $5 \
     WHERE tenant_id = $1 AND first_seq = $2";
pub(crate) const INDEX_NAME: &str = "INSERT INTO client_name_search (rowid, name) VALUES ($1, $2)";
pub(crate) const UNINDEX_NAME: &str = "DELETE FROM client_name_search WHERE rowid = $1";

/// Adds `$added` clients and the status deltas to the run of `$seq`: the run it falls in, or
/// a new one starting at it when a client is added and that run is full (or there is none).
macro_rules! add_to_run {
    ($store:expr, $exec:ident, $t:expr, $seq:expr, $added:expr, $active:expr, $suspended:expr) => {{
        let (seq, added): (i64, i64) = ($seq, $added);
        let run: Option<(i64, i64)> = sqlx::query_as($crate::client_listing::RUN_OF).bind($t).bind(seq).fetch_optional(&mut *$exec).await?;
        match run {
            Some((first, n)) if added == 0 || n < $store.page_run => write_run!($exec, $t, first, false, added, $active, $suspended),
            _ => write_run!($exec, $t, seq, true, added, $active, $suspended),
        }
    }};
}
pub(crate) use add_to_run;

/// Adds to the run starting at `$first`, or creates it (`$new`).
macro_rules! write_run {
    ($exec:ident, $t:expr, $first:expr, $new:expr, $added:expr, $active:expr, $suspended:expr) => {{
        let sql = if $new { $crate::client_listing::NEW_RUN } else { $crate::client_listing::ADD_TO_RUN };
        sqlx::query(sql).bind($t).bind($first).bind($added).bind($active).bind($suspended).execute(&mut *$exec).await?;
    }};
}
pub(crate) use write_run;

/// Applies a [`ListingChange`] on `$exec` (a transaction) of `$store`.
macro_rules! apply_listing {
    ($store:expr, $exec:ident, $tenant:expr, $change:expr) => {{
        use $crate::client_listing::*;
        let change: &ListingChange = $change;
        let t = $tenant.as_str();
        let sqlite = $store.backend() == "sqlite";
        let (mut active, mut suspended, mut added) = (0i64, 0i64, 0i64);
        if let Some(b) = change.before {
            let (a, s) = status_delta(b.status, -1);
            (active, suspended) = (active + a, suspended + s);
        }
        if let Some(a) = change.after {
            let (x, s) = status_delta(a.status, 1);
            (active, suspended) = (active + x, suspended + s);
            if change.before.is_none() {
                added = 1;
            }
        }
        if (active, suspended) != (0, 0) {
            sqlx::query(ADD_COUNTS).bind(t).bind(active).bind(suspended).execute(&mut *$exec).await?;
        }
        if active != 0 || suspended != 0 || added != 0 {
            add_to_run!($store, $exec, t, change.seq, added, active, suspended);
        }
        let owners = (change.before.map(|b| b.owner), change.after.map(|a| a.owner));
        if owners.0 != owners.1 {
            for (owner, by) in [(owners.0, -1i64), (owners.1, 1)] {
                if let Some(o) = owner {
                    sqlx::query(ADD_OWNER).bind(t).bind(o).bind(by).execute(&mut *$exec).await?;
                }
            }
        }
        let names = (change.before.map(|b| b.name), change.after.map(|a| a.name));
        if sqlite && names.0 != names.1 {
            if names.0.is_some() {
                sqlx::query(UNINDEX_NAME).bind(change.seq).execute(&mut *$exec).await?;
            }
            if let Some(n) = names.1 {
                sqlx::query(INDEX_NAME).bind(change.seq).bind(n).execute(&mut *$exec).await?;
            }
        }
    }};
}
pub(crate) use apply_listing;

/// A `LIKE` pattern for a substring, lower-cased, with `\` escaping.
pub(crate) fn like_pattern(s: &str) -> String {
    let escaped = s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Skips whole runs (or blocks of runs), newest first, until the page starts in one: returns
/// its first `seq`, with `upper` the oldest one skipped and `skip` the rows left to skip.
fn walk(rows: impl IntoIterator<Item = (i64, i64)>, upper: &mut i64, skip: &mut i64) -> Option<i64> {
    rows.into_iter().find_map(|(first, live)| {
        if *skip < live {
            return Some(first);
        }
        *skip -= live;
        *upper = first;
        None
    })
}

/// An FTS5 query for a substring: one quoted phrase (trigrams in a row).
fn fts_phrase(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Store {
    /// A page of live clients, newest first, and the total matching the filter.
    pub async fn list_clients(&self, tenant: &TenantId, filter: &ClientFilter, limit: i64, offset: i64) -> Result<(Vec<Client>, i64)> {
        if !filter.name.is_empty() {
            return self.search_clients(tenant, filter, limit, offset).await;
        }
        let status = filter.status.map(|s| s.as_str());
        let live = match status {
            None => "active + suspended",
            Some("active") => "active",
            Some(_) => "suspended",
        };
        let status_cond = if status.is_some() { " AND status = $4" } else { " AND $4 = $4" };
        let total_sql = format!("SELECT {live} FROM client_counts WHERE tenant_id = $1");
        // The newest runs; if the page is not among them, the older runs' sums by block
        // (`first_seq / $3`, newest first, each with its first run), then one block's runs.
        let newest_sql = format!("SELECT first_seq, {live} FROM client_pages WHERE tenant_id = $1 ORDER BY first_seq DESC LIMIT $2");
        let blocks_sql = format!(
            "SELECT MIN(first_seq), CAST(SUM({live}) AS BIGINT) FROM client_pages WHERE tenant_id = $1 AND first_seq < $2 \
             GROUP BY first_seq / $3 ORDER BY 1 DESC"
        );
        let runs_sql =
            format!("SELECT first_seq, {live} FROM client_pages WHERE tenant_id = $1 AND first_seq >= $2 AND first_seq < $3 ORDER BY first_seq DESC");
        // The page's first row: `skip` rows into the run below `upper`, read from the index alone.
        let start_sql = format!(
            "SELECT seq FROM clients WHERE tenant_id = $1 AND deleted_at IS NULL AND seq < $2{status_cond} \
             ORDER BY seq DESC LIMIT 1 OFFSET $3"
        );
        let rows_sql = format!(
            "SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND deleted_at IS NULL AND seq <= $2{status_cond} \
             ORDER BY seq DESC LIMIT $3"
        );
        let status = status.unwrap_or("");
        let sqlite = self.backend() == "sqlite";
        on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let total: i64 = sqlx::query_scalar(&total_sql).bind(tenant.as_str()).fetch_optional(&mut *tx).await?.unwrap_or(0);
            if offset >= total || limit <= 0 {
                return Ok((Vec::new(), total));
            }
            // `upper`: the oldest run skipped so far (the page starts below it); `skip`: the
            // rows still to skip below it.
            let (mut upper, mut skip) = (i64::MAX, offset);
            // PostgreSQL walks every run in this one query: a row costs it less than a round
            // trip, and the blocks would take two more. SQLite's driver hands each row across
            // threads, so there the blocks save more than the two queries cost (at 1M clients,
            // last page / page 1: SQLite 2.0x walking every run, 1.3x by blocks; PostgreSQL
            // 1.3x walking every run, 1.8x by blocks).
            let newest_runs = if sqlite { self.runs_per_block } else { i64::MAX };
            let mut found = false;
            {
                use futures_util::TryStreamExt;
                let mut runs = sqlx::query_as::<_, (i64, i64)>(&newest_sql).bind(tenant.as_str()).bind(newest_runs).fetch(&mut *tx);
                while let Some(run) = runs.try_next().await? {
                    if walk([run], &mut upper, &mut skip).is_some() {
                        found = true;
                        break;
                    }
                }
            }
            if !found {
                let blocks: Vec<(i64, i64)> = sqlx::query_as(&blocks_sql)
                    .bind(tenant.as_str()).bind(upper).bind(self.page_run * self.runs_per_block).fetch_all(&mut *tx).await?;
                let Some(block) = walk(blocks, &mut upper, &mut skip) else { return Ok((Vec::new(), total)) };
                // The block's runs, newest first from `upper` (`walk` stopped before skipping it).
                let runs: Vec<(i64, i64)> = sqlx::query_as(&runs_sql).bind(tenant.as_str()).bind(block).bind(upper).fetch_all(&mut *tx).await?;
                walk(runs, &mut upper, &mut skip);
            }
            let start: Option<i64> = sqlx::query_scalar(&start_sql)
                .bind(tenant.as_str()).bind(upper).bind(skip).bind(status).fetch_optional(&mut *tx).await?;
            let Some(start) = start else { return Ok((Vec::new(), total)) };
            let rows: Vec<ClientRow> = sqlx::query_as(&rows_sql)
                .bind(tenant.as_str()).bind(start).bind(limit).bind(status).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Ok((rows.into_iter().map(Client::try_from).collect::<Result<_>>()?, total))
        })
    }

    /// The name search: matches from the trigram index, newest first.
    async fn search_clients(&self, tenant: &TenantId, filter: &ClientFilter, limit: i64, offset: i64) -> Result<(Vec<Client>, i64)> {
        let status_cond = if filter.status.is_some() { " AND c.status = $3" } else { " AND $3 = $3" };
        let status = filter.status.map(|s| s.as_str()).unwrap_or("");
        let indexed = filter.name.chars().count() >= 3;
        // Each backend is steered to its trigram index: SQLite joins from the FTS table
        // (CROSS JOIN fixes the order); PostgreSQL orders by `seq + 0`, which no index gives,
        // so the planner weighs the trigram index against a scan, not a walk of every seq.
        // PostgreSQL matches the whole text with `strpos` and asks the index for the
        // patterns in `$6…` (see `name_search`).
        let (from, matches, order, pattern, index_patterns) = match (&self.db, indexed) {
            (Db::Sqlite(_), true) => (
                "client_name_search s CROSS JOIN clients c ON c.seq = s.rowid",
                "client_name_search MATCH $2".to_owned(),
                "c.seq DESC",
                fts_phrase(&filter.name),
                Vec::new(),
            ),
            (Db::Sqlite(_), false) => {
                ("clients c", "LOWER(c.name) LIKE $2 ESCAPE '\\'".to_owned(), "c.seq DESC", like_pattern(&filter.name), Vec::new())
            }
            (Db::Postgres(_), _) => {
                let patterns = self.name_index_patterns(tenant, &filter.name).await?;
                let mut matches = "strpos(LOWER(c.name), LOWER($2)) > 0".to_owned();
                for i in 0..patterns.len() {
                    matches.push_str(&format!(" AND LOWER(c.name) LIKE ${} ESCAPE '\\'", i + 6));
                }
                ("clients c", matches, "c.seq + 0 DESC", filter.name.clone(), patterns)
            }
        };
        let cond = format!("{matches} AND c.tenant_id = $1 AND c.deleted_at IS NULL{status_cond}");
        let columns = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect::<Vec<_>>().join(", ");
        // `$4` and `$5` are bound in both statements so that `$6…` mean the same in each.
        let count_sql = format!("SELECT COUNT(*) FROM {from} WHERE {cond} AND $4 = $4 AND $5 = $5");
        let rows_sql = format!("SELECT {columns} FROM {from} WHERE {cond} ORDER BY {order} LIMIT $4 OFFSET $5");
        let (rows, total): (Vec<ClientRow>, i64) = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut count = sqlx::query_scalar(&count_sql).bind(tenant.as_str()).bind(&pattern).bind(status).bind(limit).bind(offset);
            let mut select = sqlx::query_as(&rows_sql).bind(tenant.as_str()).bind(&pattern).bind(status).bind(limit).bind(offset);
            for p in &index_patterns {
                count = count.bind(p);
                select = select.bind(p);
            }
            let total = count.fetch_one(&mut *tx).await?;
            let rows = select.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Client::try_from).collect::<Result<_>>()?, total))
    }

    /// Hydra's list: live clients after `after` (an `id`, exclusive) in id order, at most
    /// `limit`, optionally with this exact name and owner; and the total matching.
    pub async fn list_clients_after(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: i64,
        name: Option<&str>,
        owner: Option<&str>,
    ) -> Result<(Vec<Client>, i64)> {
        // Unused filters bind "" and compare it with itself, so one statement serves all four.
        let name_cond = if name.is_some() { "name = $2" } else { "$2 = $2" };
        let owner_cond = if owner.is_some() { "owner = $3" } else { "$3 = $3" };
        let cond = format!("tenant_id = $1 AND deleted_at IS NULL AND {name_cond} AND {owner_cond}");
        let total_sql = match (name, owner) {
            (None, None) => "SELECT active + suspended FROM client_counts WHERE tenant_id = $1 AND $2 = $2 AND $3 = $3".to_owned(),
            (None, Some(_)) => "SELECT live FROM client_owner_counts WHERE tenant_id = $1 AND $2 = $2 AND owner = $3".to_owned(),
            // An exact name is few rows of its index.
            (Some(_), _) => format!("SELECT COUNT(*) FROM clients WHERE {cond}"),
        };
        let rows_sql = format!("SELECT {COLUMNS} FROM clients WHERE {cond} AND id > $4 ORDER BY id LIMIT $5");
        let (name, owner, after) = (name.unwrap_or(""), owner.unwrap_or(""), after.unwrap_or(""));
        let (rows, total): (Vec<ClientRow>, Option<i64>) = on_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let total = sqlx::query_scalar(&total_sql).bind(tenant.as_str()).bind(name).bind(owner).fetch_optional(&mut *tx).await?;
            let rows = sqlx::query_as(&rows_sql)
                .bind(tenant.as_str()).bind(name).bind(owner).bind(after).bind(limit).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            (rows, total)
        });
        Ok((rows.into_iter().map(Client::try_from).collect::<Result<_>>()?, total.unwrap_or(0)))
    }
}

/// Each statement counts the places where a listing structure disagrees with `clients`.
const LISTING_CHECKS: &[(&str, &str)] = &[
    (
        "tenants whose client_counts are wrong",
        "SELECT COUNT(*) FROM (SELECT tenant_id, \
             SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) AS active, \
             SUM(CASE WHEN status = 'suspended' THEN 1 ELSE 0 END) AS suspended \
           FROM clients WHERE deleted_at IS NULL GROUP BY tenant_id) AS x \
         WHERE NOT EXISTS (SELECT 1 FROM client_counts n WHERE n.tenant_id = x.tenant_id \
           AND n.active = x.active AND n.suspended = x.suspended)",
    ),
    (
        "client_pages runs whose counts are wrong",
        "SELECT COUNT(*) FROM (SELECT tenant_id, first_seq, active, suspended, \
             LEAD(first_seq) OVER (PARTITION BY tenant_id ORDER BY first_seq) AS next_seq FROM client_pages) AS p \
         WHERE p.active <> (SELECT COUNT(*) FROM clients c WHERE c.tenant_id = p.tenant_id AND c.deleted_at IS NULL \
           AND c.status = 'active' AND c.seq >= p.first_seq AND (p.next_seq IS NULL OR c.seq < p.next_seq)) \
         OR p.suspended <> (SELECT COUNT(*) FROM clients c WHERE c.tenant_id = p.tenant_id AND c.deleted_at IS NULL \
           AND c.status = 'suspended' AND c.seq >= p.first_seq AND (p.next_seq IS NULL OR c.seq < p.next_seq))",
    ),
    (
        "live clients before their tenant's first run",
        "SELECT COUNT(*) FROM clients c WHERE c.deleted_at IS NULL AND NOT EXISTS \
           (SELECT 1 FROM client_pages p WHERE p.tenant_id = c.tenant_id AND p.first_seq <= c.seq)",
    ),
    (
        "owners whose client_owner_counts are wrong",
        "SELECT COUNT(*) FROM (SELECT tenant_id, owner, COUNT(*) AS live FROM clients WHERE deleted_at IS NULL \
           GROUP BY tenant_id, owner) AS x \
         WHERE NOT EXISTS (SELECT 1 FROM client_owner_counts o WHERE o.tenant_id = x.tenant_id AND o.owner = x.owner AND o.live = x.live)",
    ),
    (
        "client_owner_counts of owners without live clients",
        "SELECT COUNT(*) FROM client_owner_counts o WHERE o.live <> 0 AND NOT EXISTS \
           (SELECT 1 FROM clients c WHERE c.tenant_id = o.tenant_id AND c.owner = o.owner AND c.deleted_at IS NULL)",
    ),
];

/// SQLite only: the FTS table holds exactly the live clients' names.
const NAME_SEARCH_CHECKS: &[(&str, &str)] = &[
    (
        "live clients missing from the name search",
        "SELECT COUNT(*) FROM clients c WHERE c.deleted_at IS NULL AND NOT EXISTS \
           (SELECT 1 FROM client_name_search s WHERE s.rowid = c.seq AND s.name = c.name)",
    ),
    (
        "name search entries of no live client",
        "SELECT (SELECT COUNT(*) FROM client_name_search) - (SELECT COUNT(*) FROM clients WHERE deleted_at IS NULL)",
    ),
];

impl Store {
    /// Where the listing structures disagree with the clients table. Full scans: for
    /// `check_integrity` (operators, the crash test) and the listing tests.
    pub async fn check_listing(&self) -> Result<Vec<String>> {
        let mut issues = Vec::new();
        let mut checks = LISTING_CHECKS.to_vec();
        if matches!(self.db, Db::Sqlite(_)) {
            checks.extend_from_slice(NAME_SEARCH_CHECKS);
        }
        for (what, sql) in checks {
            let n: i64 = on_pool!(self, pool => sqlx::query_scalar(sql).fetch_one(pool).await?);
            if n != 0 {
                issues.push(format!("{n} {what}"));
            }
        }
        Ok(issues)
    }
}
