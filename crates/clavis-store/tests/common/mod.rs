//! What the store's tests share: the databases to run on.

use clavis_store::Store;

/// The PostgreSQL server named by `CLAVIS_TEST_DB` or `CLAVIS_PG_URL`, if any.
pub fn pg_server() -> Option<String> {
    let test_db = std::env::var("CLAVIS_TEST_DB").ok().filter(|u| u.starts_with("postgres"));
    test_db.or_else(|| std::env::var("CLAVIS_PG_URL").ok().filter(|u| !u.is_empty()))
}

/// A fresh, empty SQLite database, and one on the PostgreSQL server when there is one; both
/// named after `name` and a new ULID.
pub async fn databases(name: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("clavis-{name}-{}", clavis_core::ids::ulid()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut out = vec![format!("sqlite://{}", dir.join(format!("{name}.db")).display())];
    if let Some(url) = pg_server() {
        let db = format!("clavis_{name}_{}", clavis_core::ids::ulid().to_ascii_lowercase());
        Store::connect(&url).await.unwrap().execute_raw(&format!("CREATE DATABASE {db}")).await.unwrap();
        let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
        out.push(format!("{base}/{db}"));
    }
    out
}
