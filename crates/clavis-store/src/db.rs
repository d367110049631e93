use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

use crate::Result;

/// Runs `$body` with `$pool` bound to whichever pool this store has. The body is
/// compiled once per backend, so one SQL string serves both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone)]
pub struct Store {
    pub(crate) db: Db,
    /// SQLite has one writer; taking this lock before a write transaction avoids
    /// `SQLITE_BUSY` on lock upgrades. PostgreSQL uses row locks instead.
    write_lock: Arc<Mutex<()>>,
    /// How many `seq`s a run of `client_pages` takes (see `client_listing`).
    pub(crate) page_run: i64,
    /// How many runs' `seq`s a block spans: SQLite walks a deep page by blocks, then one
    /// block's runs.
    pub(crate) runs_per_block: i64,
    /// SQLite's writer of the hot writes (see `group_commit`).
    pub(crate) group: Option<crate::group_commit::GroupCommit>,
    /// PostgreSQL: samples of large tenants' names, and the size from which a tenant gets one
    /// (see `name_search`).
    pub(crate) name_samples: crate::name_search::NameSamples,
    pub(crate) name_sample_from: i64,
}

impl Store {
    /// `sqlite://path/to/file.db` (created if missing), `postgres://…`, or `sqlite::memory:`
    /// (a private in-memory database, for tests of the use cases: one connection, kept
    /// open, since every connection to `:memory:` is a database of its own).
    pub async fn connect(url: &str) -> Result<Self> {
        let db = if url == "sqlite::memory:" {
            let opts = SqliteConnectOptions::from_str(url)?.foreign_keys(true);
            let pool = SqlitePoolOptions::new().max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
            Db::Sqlite(pool.connect_with(opts).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)?;
            Db::Postgres(PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect_with(opts).await?)
        } else {
            // FULL sync: a write the API acknowledged survives power loss, not only a crash.
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // 1 MiB of pages per connection (SQLite's default is 2): the eight connections'
                // caches are most of the server's memory when reads are spread over many clients,
                // and the operating system's page cache holds the file for them anyway.
                .pragma("cache_size", "-1024");
            Db::Sqlite(SqlitePoolOptions::new().max_connections(8).connect_with(opts).await?)
        };
        let write_lock = Arc::new(Mutex::new(()));
        let group = match &db {
            Db::Sqlite(pool) => Some(crate::group_commit::GroupCommit::start(pool.clone(), write_lock.clone())),
            Db::Postgres(_) => None,
        };
        Ok(Self {
            db,
            write_lock,
            page_run: crate::client_listing::RUN,
            runs_per_block: crate::client_listing::RUNS_PER_BLOCK,
            group,
            name_samples: crate::name_search::new_cache(),
            name_sample_from: crate::name_search::SAMPLE_FROM,
        })
    }

    /// Runs of `n` clients instead of `client_listing::RUN`, and blocks of two runs, so that a
    /// test can cross many run and block boundaries with few clients. Safe at any time: a run's
    /// length only decides when the next one starts.
    #[doc(hidden)]
    pub fn with_page_run(mut self, n: i64) -> Self {
        self.page_run = n.max(1);
        self.runs_per_block = 2;
        self
    }

    /// Samples names for the PostgreSQL name search from `n` live clients instead of
    /// `name_search::SAMPLE_FROM`, so that a test reaches that path with few clients.
    #[doc(hidden)]
    pub fn with_name_sample_from(mut self, n: i64) -> Self {
        self.name_sample_from = n.max(1);
        self
    }

    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Applies pending migrations (each in its own transaction).
    pub async fn migrate(&self) -> Result<()> {
        match &self.db {
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
        Ok(())
    }

    pub(crate) async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match self.db {
            Db::Sqlite(_) => Some(self.write_lock.lock().await),
            Db::Postgres(_) => None,
        }
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await);
    }
}

impl Store {
    /// Runs one statement outside any transaction (tests and operators: `CREATE DATABASE`).
    pub async fn execute_raw(&self, sql: &str) -> Result<()> {
        on_pool!(self, pool => { sqlx::raw_sql(sql).execute(pool).await?; });
        Ok(())
    }
}

impl Store {
    /// (open, idle) connections of the pool, for metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        on_pool!(self, pool => (pool.size(), pool.num_idle()))
    }
}

impl Store {
    /// What is wrong with the database, if anything: SQLite's `integrity_check` and
    /// foreign-key check, and on both backends secrets or audit entries without their client.
    pub async fn check_integrity(&self) -> Result<Vec<String>> {
        let mut issues = Vec::new();
        if let Db::Sqlite(pool) = &self.db {
            let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(pool).await?;
            issues.extend(rows.into_iter().filter(|r| r != "ok"));
            let fk: Vec<sqlx::sqlite::SqliteRow> = sqlx::query("PRAGMA foreign_key_check").fetch_all(pool).await?;
            if !fk.is_empty() {
                issues.push(format!("{} foreign key violations", fk.len()));
            }
        }
        let orphans = "SELECT COUNT(*) FROM client_secrets s WHERE NOT EXISTS \
                       (SELECT 1 FROM clients c WHERE c.tenant_id = s.tenant_id AND c.client_id = s.client_id)";
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(orphans).fetch_one(pool).await?);
        if n > 0 {
            issues.push(format!("{n} secrets without a client"));
        }
        let unaudited = "SELECT COUNT(*) FROM clients c WHERE NOT EXISTS \
                         (SELECT 1 FROM audit_log a WHERE a.tenant_id = c.tenant_id AND a.client_id = c.client_id)";
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(unaudited).fetch_one(pool).await?);
        if n > 0 {
            issues.push(format!("{n} clients without their create audit entry"));
        }
        issues.extend(self.check_listing().await?);
        Ok(issues)
    }
}

// The two migration trees are compared (versions, names and the schema each builds) by
// tests/migration_parity.rs.
