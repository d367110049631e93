//! Reading an Ory Hydra database's `hydra_client` table, for `clavis client import
//! --from-hydra-db`: each row as a JSON object of its columns (PostgreSQL's `row_to_json`,
//! SQLite's and MySQL's `json_object`), in `id` order, a page at a time. Nothing is written
//! there: a SQLite file is opened read-only, and on PostgreSQL (or CockroachDB) and MySQL (or
//! MariaDB) only `SELECT`s run, in a read-only session where the server has one.
//! Turning a row into a client is the service's business (`clavis_service::hydra_rows`).

use std::str::FromStr;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{MySqlPool, PgPool, SqlitePool};

use crate::{Result, StoreError};

/// The Hydra database: one of the three kinds Hydra runs on.
enum Source {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql(MySqlPool),
}

/// Runs `$body` with `$pool` bound to whichever pool `$source` has.
macro_rules! on_source {
    ($source:expr, $pool:ident => $body:expr) => {
        match $source {
            Source::Sqlite($pool) => $body,
            Source::Postgres($pool) => $body,
            Source::MySql($pool) => $body,
        }
    };
}

pub struct HydraDb {
    db: Source,
    /// Hydra 2's network id to read (`nid`); `None` on Hydra 1, which has none.
    network: Option<String>,
    /// The query of one page, `(id, row as JSON)`: its placeholders are the network (if any),
    /// the id to start after and the most rows, in that order.
    page_sql: String,
}

/// Quotes an identifier for SQL (MySQL quotes with backticks unless in ANSI mode).
fn quoted(name: &str, mysql: bool) -> String {
    if mysql {
        format!("`{}`", name.replace('`', "``"))
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `mysql://…` as sqlx reads it: Hydra's DSN (`mysql://user:pass@tcp(host:3306)/hydra?parseTime=true`,
/// Go's driver format behind a scheme) becomes `mysql://user:pass@host:3306/hydra`, without
/// the Go driver's parameters, which sqlx would not know.
fn mysql_url(url: &str) -> String {
    let Some(rest) = url.strip_prefix("mysql://") else { return url.to_owned() };
    let (user, rest) = match rest.rfind("@tcp(") {
        Some(at) => (&rest[..at + 1], &rest[at + 5..]),
        None => return url.to_owned(),
    };
    let Some(close) = rest.find(')') else { return url.to_owned() };
    let (host, path) = (&rest[..close], &rest[close + 1..]);
    let path = path.split('?').next().unwrap_or("");
    format!("mysql://{user}{host}{path}")
}

impl HydraDb {
    /// Opens the database at `url` (`postgres://…`, `mysql://…` or `sqlite://…`) and picks the network:
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
            (Source::Postgres(pool), columns)
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?.read_only(true);
            let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
            let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info('hydra_client')").fetch_all(&pool).await?;
            (Source::Sqlite(pool), columns)
        } else if url.starts_with("mysql://") {
            let opts = MySqlConnectOptions::from_str(&mysql_url(url))?;
            // One connection, read-only for its whole life: nothing here can write to Hydra.
            let pool = MySqlPoolOptions::new()
                .max_connections(1)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::query("SET SESSION TRANSACTION READ ONLY").execute(conn).await?;
                        Ok(())
                    })
                })
                .connect_with(opts)
                .await?;
            let columns: Vec<String> = sqlx::query_scalar(
                "SELECT CAST(column_name AS CHAR) FROM information_schema.columns WHERE table_name = 'hydra_client' AND table_schema = DATABASE()",
            )
            .fetch_all(&pool)
            .await?;
            (Source::MySql(pool), columns)
        } else {
            return Err(refused("the Hydra database must be a postgres:// (or CockroachDB), mysql:// (or MariaDB) or sqlite:// URL".into()));
        };
        if !columns.iter().any(|c| c == "id") {
            return Err(refused("no hydra_client table with an id column in that database (is it Hydra's?)".into()));
        }
        let has_nid = columns.iter().any(|c| c == "nid");
        let mysql = matches!(db, Source::MySql(_));
        let object = |columns: &[String]| {
            let pairs: Vec<String> = columns.iter().map(|c| format!("'{}', c.{}", c.replace('\'', "''"), quoted(c, mysql))).collect();
            format!("json_object({})", pairs.join(", "))
        };
        let (row, nid) = match &db {
            Source::Postgres(_) => ("row_to_json(c)::text".to_owned(), "c.nid::text"),
            Source::Sqlite(_) => (object(&columns), "c.nid"),
            // MySQL's JSON type is sent as binary: cast to text. `nid` is CHAR(36) there.
            Source::MySql(_) => (format!("CAST({} AS CHAR)", object(&columns)), "CAST(c.nid AS CHAR)"),
        };
        let network = match (has_nid, network) {
            (false, None) => None,
            (false, Some(_)) => return Err(refused("this Hydra database has no networks (nid): leave out --hydra-network".into())),
            (true, Some(n)) => Some(n.to_owned()),
            (true, None) => {
                let sql = format!("SELECT DISTINCT {nid} FROM hydra_client c LIMIT 2");
                let found: Vec<Option<String>> = on_source!(&db, pool => sqlx::query_scalar(&sql).fetch_all(pool).await?);
                match found.as_slice() {
                    [one] => one.clone(),
                    [] => None,
                    _ => return Err(refused("the table holds clients of several networks: choose one with --hydra-network".into())),
                }
            }
        };
        // Placeholders are numbered in the order they are bound (network, id, limit), which is
        // all MySQL's `?` can say.
        let param = |n: usize| if mysql { "?".to_owned() } else { format!("${n}") };
        let (filter, next) = match network {
            Some(_) => (format!("{nid} = {} AND ", param(1)), 2),
            None => (String::new(), 1),
        };
        let id = if mysql { "CAST(c.id AS CHAR)" } else { "c.id" };
        let (after, limit) = (param(next), param(next + 1));
        let page_sql = format!("SELECT {id}, {row} FROM hydra_client c WHERE {filter}c.id > {after} ORDER BY c.id LIMIT {limit}");
        Ok(Self { db, network, page_sql })
    }

    /// Up to `limit` rows after the client id `after` (`""` to start), as `(id, JSON)`.
    pub async fn rows_after(&self, after: &str, limit: i64) -> Result<Vec<(String, String)>> {
        Ok(on_source!(&self.db, pool => {
            let q = sqlx::query_as::<_, (String, String)>(&self.page_sql);
            let q = match &self.network {
                Some(n) => q.bind(n.as_str()),
                None => q,
            };
            q.bind(after).bind(limit).fetch_all(pool).await?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::mysql_url;

    #[test]
    fn hydra_mysql_dsns_become_urls() {
        assert_eq!(mysql_url("mysql://hydra:secret@tcp(db:3306)/hydra?parseTime=true&max_conns=20"), "mysql://hydra:secret@db:3306/hydra");
        assert_eq!(mysql_url("mysql://h:p@ss@tcp(127.0.0.1:3307)/x"), "mysql://h:p@ss@127.0.0.1:3307/x");
        assert_eq!(mysql_url("mysql://hydra:secret@db:3306/hydra"), "mysql://hydra:secret@db:3306/hydra");
    }
}
