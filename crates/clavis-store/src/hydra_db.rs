//! Reading an Ory Hydra database's `hydra_client` table, for `clavis client import
//! --from-hydra-db`: each row as a JSON object of its columns (PostgreSQL's `row_to_json`,
//! SQLite's `json_object`), in `id` order, a page at a time. Nothing is written there: a
//! SQLite file is opened read-only, and on PostgreSQL (or CockroachDB) only `SELECT`s run.
//! Turning a row into a client is the service's business (`clavis_service::hydra_rows`).

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::db::{on_pool, Db};
use crate::{Result, StoreError};

pub struct HydraDb {
    db: Db,
    /// Hydra 2's network id to read (`nid`); `None` on Hydra 1, which has none.
    network: Option<String>,
    /// The query of one page: `(id, row as JSON)` after `$1`, at most `$2`.
    page_sql: String,
}

/// Quotes an identifier for SQL.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl HydraDb {
    /// Opens the database at `url` (`postgres://…` or `sqlite://…`) and picks the network:
    /// `network` if given, else the only one the table holds.
    pub async fn open(url: &str, network: Option<&str>) -> Result<Self> {
        let refused = |why: String| StoreError::Unusable(why);
        let (db, columns) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new().max_connections(1).connect_with(PgConnectOptions::from_str(url)?).await?;
            let columns: Vec<String> = sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'hydra_client' AND table_schema = current_schema()",
            )
            .fetch_all(&pool)
            .await?;
            (Db::Postgres(pool), columns)
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?.read_only(true);
            let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
            let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('hydra_client')").fetch_all(&pool).await?;
            (Db::Sqlite(pool), columns)
        } else {
            return Err(refused("the Hydra database must be a postgres:// (or CockroachDB) or sqlite:// URL".into()));
        };
        if !columns.iter().any(|c| c == "id") {
            return Err(refused("no hydra_client table with an id column in that database (is it Hydra's?)".into()));
        }
        let has_nid = columns.iter().any(|c| c == "nid");
        let (row, nid) = match &db {
            Db::Postgres(_) => ("row_to_json(c)::text".to_owned(), "c.nid::text"),
            Db::Sqlite(_) => {
                let pairs: Vec<String> = columns.iter().map(|c| format!("'{}', c.{}", c.replace('\'', "''"), quoted(c))).collect();
                (format!("json_object({})", pairs.join(", ")), "c.nid")
            }
        };
        let network = match (has_nid, network) {
            (false, None) => None,
            (false, Some(_)) => return Err(refused("this Hydra database has no networks (nid): leave out --hydra-network".into())),
            (true, Some(n)) => Some(n.to_owned()),
            (true, None) => {
                let sql = format!("SELECT DISTINCT {nid} FROM hydra_client c LIMIT 2");
                let found = strings(&db, &sql).await?;
                match found.as_slice() {
                    [one] => one.clone(),
                    [] => None,
                    _ => return Err(refused("the table holds clients of several networks: choose one with --hydra-network".into())),
                }
            }
        };
        let filter = if network.is_some() { format!("{nid} = $3 AND ") } else { String::new() };
        let page_sql = format!("SELECT c.id, {row} FROM hydra_client c WHERE {filter}c.id > $1 ORDER BY c.id LIMIT $2");
        Ok(Self { db, network, page_sql })
    }

    /// Up to `limit` rows after the client id `after` (`""` to start), as `(id, JSON)`.
    pub async fn rows_after(&self, after: &str, limit: i64) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self, pool => {
            let q = sqlx::query_as::<_, (String, String)>(&self.page_sql).bind(after).bind(limit);
            let q = match &self.network {
                Some(n) => q.bind(n.as_str()),
                None => q,
            };
            q.fetch_all(pool).await?
        }))
    }
}

/// A one-column query on either backend.
async fn strings(db: &Db, sql: &str) -> Result<Vec<Option<String>>> {
    Ok(match db {
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await?,
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await?,
    })
}
