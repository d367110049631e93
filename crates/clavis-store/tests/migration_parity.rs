//! The two migration trees (`migrations/sqlite`, `migrations/postgres`) must build the same
//! schema, version by version.
//!
//! How: both trees are applied one migration at a time — SQLite to an in-memory database,
//! PostgreSQL to a fresh database on the server of `CLAVIS_TEST_DB` (when it is a
//! `postgres://` URL) or else `CLAVIS_PG_URL` (which `scripts/test.sh` always sets) — and
//! after every version the schema each database reports from its own catalogs
//! (`pragma_table_info`/`pragma_index_list`/`pragma_foreign_key_list`;
//! `information_schema`/`pg_index`/`pg_constraint`) is normalised to one model and compared:
//! per table its columns (name, type, NOT NULL, default), primary key, indexes (name for
//! those created with CREATE INDEX, columns, unique, partial) and foreign keys.
//!
//! Why catalogs rather than the SQL text: the databases parse the SQL, so nothing hinges on
//! a hand-written SQL parser, whitespace, comments, `ALTER TABLE`s or table rebuilds; only
//! the dialects' type names and default spellings need a table ([`sqlite_type`],
//! [`pg_type`], [`pg_default`]), and a type missing from it fails the test instead of being
//! guessed. Data statements (`UPDATE … json_set(…)`) differ between the trees by necessity
//! and are run, not compared.
//!
//! Without a PostgreSQL server the SQLite tree is still applied and normalised (so a type
//! outside the table fails), the PostgreSQL half is skipped with a notice — except under
//! `CI`, where a missing server is a failure.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection, SqliteConnection};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    ty: &'static str,
    not_null: bool,
    default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    /// The name of an index made with CREATE INDEX; `None` for one backing a UNIQUE
    /// constraint, whose name each database makes up.
    name: Option<String>,
    columns: Vec<String>,
    unique: bool,
    partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    references: String,
    referenced_columns: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Table {
    columns: BTreeMap<String, Column>,
    primary_key: Vec<String>,
    indexes: BTreeSet<Index>,
    foreign_keys: BTreeSet<ForeignKey>,
}

type Schema = BTreeMap<String, Table>;

/// SQLite's declared column types → the common name. SQLite's INTEGER is 64-bit.
fn sqlite_type(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "text" => "text",
        "bigint" | "integer" => "int64",
        "boolean" => "boolean",
        "blob" => "bytes",
        other => panic!("SQLite column type {other:?} is not in the dialect table of migration_parity.rs: add it"),
    }
}

/// PostgreSQL's `information_schema.columns.data_type` → the common name. PostgreSQL's
/// `integer` is 32-bit and has no SQLite counterpart here on purpose: use BIGINT.
fn pg_type(data_type: &str) -> &'static str {
    match data_type {
        "text" => "text",
        "bigint" => "int64",
        "integer" => "int32",
        "boolean" => "boolean",
        "bytea" => "bytes",
        other => panic!("PostgreSQL column type {other:?} is not in the dialect table of migration_parity.rs: add it"),
    }
}

/// PostgreSQL spells a default with its cast (`''::text`, `'{}'::text`); SQLite as written.
fn pg_default(default: &str) -> String {
    let mut d = default.trim();
    while let Some((value, cast)) = d.rsplit_once("::") {
        if !cast.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '_') {
            break;
        }
        d = value.trim();
    }
    d.strip_prefix('(').and_then(|d| d.strip_suffix(')')).unwrap_or(d).to_owned()
}

fn is_ours(table: &str) -> bool {
    !table.starts_with("_sqlx") && !table.starts_with("sqlite_") && !table.starts_with(NAME_SEARCH)
}

/// The client name search (schema v18) is the one structure each database builds its own
/// way: SQLite's FTS5 trigram table (and its shadow tables `client_name_search_*`),
/// PostgreSQL's pg_trgm GIN index. Both carry this name and are left out of the comparison;
/// `tests/it/client_lists.rs` checks that both find the same clients.
const NAME_SEARCH: &str = "client_name_search";

async fn sqlite_schema(conn: &mut SqliteConnection) -> Schema {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetch_all(&mut *conn).await.unwrap();
    let mut schema = Schema::new();
    for name in tables.into_iter().filter(|t| is_ours(t)) {
        let mut table = Table::default();
        let columns: Vec<(String, String, i64, Option<String>, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info($1) ORDER BY cid")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        let mut pk: Vec<(i64, String)> = Vec::new();
        for (column, ty, not_null, default, pk_pos) in columns {
            if pk_pos > 0 {
                pk.push((pk_pos, column.clone()));
            }
            // A primary-key column is NOT NULL (PostgreSQL says so; SQLite only enforces it
            // for INTEGER keys, a quirk the store does not rely on).
            table.columns.insert(column, Column { ty: sqlite_type(&ty), not_null: not_null != 0 || pk_pos > 0, default });
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, c)| c).collect();
        let indexes: Vec<(String, bool, String, bool)> =
            sqlx::query_as("SELECT name, \"unique\", origin, partial FROM pragma_index_list($1)").bind(&name).fetch_all(&mut *conn).await.unwrap();
        for (index, unique, origin, partial) in indexes {
            if origin == "pk" {
                continue;
            }
            let columns: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno").bind(&index).fetch_all(&mut *conn).await.unwrap();
            let columns = columns.into_iter().map(|c| c.expect("an index on an expression: extend migration_parity.rs")).collect();
            table.indexes.insert(Index { name: (origin == "c").then_some(index), columns, unique, partial });
        }
        let fks: Vec<(i64, String, String, Option<String>)> =
            sqlx::query_as("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list($1) ORDER BY id, seq")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        // id → (referenced table, columns, referenced columns)
        type Pending = (String, Vec<String>, Vec<Option<String>>);
        let mut by_id: BTreeMap<i64, Pending> = BTreeMap::new();
        for (id, parent, from, to) in fks {
            let fk = by_id.entry(id).or_insert_with(|| (parent, Vec::new(), Vec::new()));
            fk.1.push(from);
            fk.2.push(to);
        }
        for (parent, columns, to) in by_id.into_values() {
            // `REFERENCES t` without columns means t's primary key; resolved below.
            let referenced_columns = to.into_iter().map(Option::unwrap_or_default).collect();
            table.foreign_keys.insert(ForeignKey { columns, references: parent, referenced_columns });
        }
        schema.insert(name, table);
    }
    let pks: BTreeMap<String, Vec<String>> = schema.iter().map(|(n, t)| (n.clone(), t.primary_key.clone())).collect();
    for table in schema.values_mut() {
        table.foreign_keys = std::mem::take(&mut table.foreign_keys)
            .into_iter()
            .map(|mut fk| {
                if fk.referenced_columns.iter().all(String::is_empty) {
                    fk.referenced_columns = pks.get(&fk.references).cloned().unwrap_or_default();
                }
                fk
            })
            .collect();
    }
    schema
}

async fn pg_schema(conn: &mut PgConnection) -> Schema {
    let mut schema = Schema::new();
    let columns: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (table, column, ty, nullable, default) in columns.into_iter().filter(|c| is_ours(&c.0)) {
        let col = Column { ty: pg_type(&ty), not_null: nullable == "NO", default: default.as_deref().map(pg_default) };
        schema.entry(table).or_default().columns.insert(column, col);
    }
    // Columns of an index or constraint, in key order.
    let names = |key: &str, rel: &str| {
        format!(
            "ARRAY(SELECT a.attname::text FROM unnest({key}) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.attnum ORDER BY k.ord)"
        )
    };
    let pks: Vec<(String, Vec<String>)> = sqlx::query_as(&format!(
        "SELECT t.relname::text, {} FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE c.contype = 'p' AND n.nspname = current_schema()",
        names("c.conkey", "c.conrelid")
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (table, columns) in pks.into_iter().filter(|p| is_ours(&p.0)) {
        schema.entry(table).or_default().primary_key = columns;
    }
    let indexes: Vec<(String, String, bool, bool, bool, Vec<String>)> = sqlx::query_as(&format!(
        "SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indpred IS NOT NULL, \
                EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype = 'u'), {} \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() AND NOT ix.indisprimary \
         AND i.relname::text <> '{NAME_SEARCH}'",
        names("ix.indkey::int2[]", "ix.indrelid")
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (table, index, unique, partial, of_constraint, columns) in indexes.into_iter().filter(|i| is_ours(&i.0)) {
        let index = Index { name: (!of_constraint).then_some(index), columns, unique, partial };
        schema.entry(table).or_default().indexes.insert(index);
    }
    let fks: Vec<(String, String, Vec<String>, Vec<String>)> = sqlx::query_as(&format!(
        "SELECT t.relname::text, r.relname::text, {}, {} FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE c.contype = 'f' AND n.nspname = current_schema()",
        names("c.conkey", "c.conrelid"),
        names("c.confkey", "c.confrelid")
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for (table, references, columns, referenced_columns) in fks.into_iter().filter(|f| is_ours(&f.0)) {
        schema.entry(table).or_default().foreign_keys.insert(ForeignKey { columns, references, referenced_columns });
    }
    schema
}

/// What differs between two schemas, table by table, for the failure message.
fn differences(sqlite: &Schema, pg: &Schema) -> Vec<String> {
    let names: BTreeSet<&String> = sqlite.keys().chain(pg.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        match (sqlite.get(name), pg.get(name)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                let cols: BTreeSet<&String> = a.columns.keys().chain(b.columns.keys()).collect();
                for c in cols {
                    if a.columns.get(c) != b.columns.get(c) {
                        out.push(format!("{name}.{c}: sqlite {:?} / postgres {:?}", a.columns.get(c), b.columns.get(c)));
                    }
                }
                if a.primary_key != b.primary_key {
                    out.push(format!("{name} primary key: sqlite {:?} / postgres {:?}", a.primary_key, b.primary_key));
                }
                for i in a.indexes.symmetric_difference(&b.indexes) {
                    let side = if a.indexes.contains(i) { "only sqlite" } else { "only postgres" };
                    out.push(format!("{name} index ({side}): {i:?}"));
                }
                for f in a.foreign_keys.symmetric_difference(&b.foreign_keys) {
                    let side = if a.foreign_keys.contains(f) { "only sqlite" } else { "only postgres" };
                    out.push(format!("{name} foreign key ({side}): {f:?}"));
                }
            }
            (a, _) => out.push(format!("table {name} exists only in {}", if a.is_some() { "sqlite" } else { "postgres" })),
        }
    }
    out
}

/// A PostgreSQL server to use, if the environment names one.
fn pg_server() -> Option<String> {
    let test_db = std::env::var("CLAVIS_TEST_DB").ok().filter(|u| u.starts_with("postgres"));
    test_db.or_else(|| std::env::var("CLAVIS_PG_URL").ok().filter(|u| !u.is_empty()))
}

#[tokio::test]
async fn both_trees_build_the_same_schema_at_every_version() {
    let versions = |m: &Migrator| m.iter().map(|m| (m.version, m.description.to_string())).collect::<Vec<_>>();
    assert_eq!(versions(&SQLITE), versions(&POSTGRES), "the trees list the same versions with the same names");
    assert!(SQLITE.iter().count() > 0);

    let mut lite = SqliteConnection::connect("sqlite::memory:").await.unwrap();
    let mut pg = match pg_server() {
        Some(url) => {
            let name = format!("clavis_parity_{}", clavis_core::ids::ulid().to_ascii_lowercase());
            let mut server = PgConnection::connect(&url).await.expect("the PostgreSQL server must be reachable");
            sqlx::raw_sql(&format!("CREATE DATABASE {name}")).execute(&mut server).await.unwrap();
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
            Some((server, name.clone(), PgConnection::connect(&format!("{base}/{name}")).await.unwrap()))
        }
        None if std::env::var_os("CI").is_some() => panic!("CI must compare against PostgreSQL: set CLAVIS_PG_URL or CLAVIS_TEST_DB"),
        None => {
            eprintln!("migration parity: no PostgreSQL server (CLAVIS_TEST_DB / CLAVIS_PG_URL), comparing nothing against SQLite");
            None
        }
    };

    for (s, p) in SQLITE.iter().zip(POSTGRES.iter()) {
        sqlx::raw_sql(&s.sql).execute(&mut lite).await.unwrap_or_else(|e| panic!("sqlite {} {}: {e}", s.version, s.description));
        let lite_schema = sqlite_schema(&mut lite).await;
        assert!(!lite_schema.is_empty());
        if let Some((_, _, conn)) = pg.as_mut() {
            sqlx::raw_sql(&p.sql).execute(&mut *conn).await.unwrap_or_else(|e| panic!("postgres {} {}: {e}", p.version, p.description));
            let pg_schema = pg_schema(conn).await;
            let diff = differences(&lite_schema, &pg_schema);
            assert!(diff.is_empty(), "after migration {} {}, the trees differ:\n{}", s.version, s.description, diff.join("\n"));
        }
    }

    if let Some((mut server, name, conn)) = pg {
        conn.close().await.unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE {name}")).execute(&mut server).await.unwrap();
    }
}

#[test]
fn dialect_table() {
    assert_eq!(pg_default("''::text"), "''");
    assert_eq!(pg_default("'{}'::text"), "'{}'");
    assert_eq!(pg_default("0"), "0");
    assert_eq!(pg_default("'a::b'::character varying"), "'a::b'");
    assert_eq!((sqlite_type("BIGINT"), pg_type("bigint")), ("int64", "int64"));
    assert_ne!(sqlite_type("INTEGER"), pg_type("integer"), "a 32-bit PostgreSQL integer is not SQLite's INTEGER");
}
