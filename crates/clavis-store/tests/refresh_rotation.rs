//! Refresh-token rotation under concurrency, on SQLite (where the writes are group-committed,
//! see `group_commit`) and — when `CLAVIS_TEST_DB` or `CLAVIS_PG_URL` names a server —
//! PostgreSQL: many rotations at once each commit; the same token spent concurrently is
//! fresh exactly once; a write that fails in a batch fails alone; and what a rotation
//! acknowledged is in the database when another connection looks.

use std::sync::Arc;

use clavis_core::TenantId;
use clavis_store::{RefreshRow, Spend, Store};

mod common;

fn row(hash: &str, family: &str) -> RefreshRow {
    RefreshRow {
        token_hash: hash.into(),
        family_id: family.into(),
        client_id: "app".into(),
        subject: "alice".into(),
        data: "{}".into(),
        created_at: 100,
        expires_at: 10_000,
        used_at: None,
        revoked_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_each_commit_and_a_token_is_fresh_once() {
    for url in common::databases("rotation").await {
        let store = Arc::new(Store::connect(&url).await.unwrap());
        store.migrate().await.unwrap();
        let t = TenantId::parse("acme").unwrap();
        store.ensure_tenant(&t, 1).await.unwrap();
        const N: usize = 200;
        for i in 0..N {
            store.insert_refresh(&t, &row(&format!("old-{i}"), &format!("fam-{i}"))).await.unwrap();
        }

        // N rotations at once, and each token also spent by a second, racing request.
        let mut tasks = Vec::new();
        for i in 0..N {
            for attempt in 0..2 {
                let (store, t) = (store.clone(), t.clone());
                tasks.push(tokio::spawn(async move {
                    let next = row(&format!("new-{i}-{attempt}"), &format!("fam-{i}"));
                    (i, attempt, store.rotate_refresh(&t, &format!("old-{i}"), 200, Some(next)).await.unwrap())
                }));
            }
        }
        let mut fresh = vec![0; N];
        for task in tasks {
            let (i, attempt, spend) = task.await.unwrap();
            match spend {
                Spend::Fresh(r) => {
                    fresh[i] += 1;
                    assert_eq!(r.used_at, Some(200));
                    // Acknowledged: the replacement is there for any connection.
                    assert!(store.find_refresh(&t, &format!("new-{i}-{attempt}")).await.unwrap().is_some(), "{url}: new-{i}-{attempt}");
                }
                Spend::Replayed(_) => {
                    assert!(store.find_refresh(&t, &format!("new-{i}-{attempt}")).await.unwrap().is_none(), "a replay stores nothing")
                }
                Spend::Unknown => panic!("{url}: old-{i} is known"),
            }
        }
        assert!(fresh.iter().all(|&n| n == 1), "{url}: each token is fresh exactly once: {fresh:?}");

        // A write that fails (a token hash stored twice) fails alone, among writes that commit.
        let mut tasks = Vec::new();
        for i in 0..50 {
            let (store, t) = (store.clone(), t.clone());
            let hash = if i % 10 == 0 { "old-0".to_owned() } else { format!("extra-{i}") };
            tasks.push(tokio::spawn(async move { (hash.clone(), store.insert_refresh(&t, &row(&hash, "fam-x")).await) }));
        }
        for task in tasks {
            let (hash, result) = task.await.unwrap();
            if hash == "old-0" {
                assert!(result.is_err(), "{url}: a duplicate token hash is refused");
            } else {
                result.unwrap();
                assert!(store.find_refresh(&t, &hash).await.unwrap().is_some(), "{url}: {hash}");
            }
        }
        assert!(matches!(store.rotate_refresh(&t, "never-issued", 300, None).await.unwrap(), Spend::Unknown));
        store.close().await;
    }
}
