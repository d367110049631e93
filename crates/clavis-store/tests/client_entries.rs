//! The token path's read of several clients in one query (`Store::client_entries`) against
//! the one-client read, on SQLite and — when `CLAVIS_TEST_DB` or `CLAVIS_PG_URL` names a
//! server — PostgreSQL: the same entries in the order asked, nothing of another tenant, no
//! deleted client, every secret of each, the token revocation of each.

use clavis_core::{Client, TenantId};
use clavis_store::{AuditEntry, SecretRecord, SecretStatus, Store, TokenRevocation, MAX_ENTRIES_PER_READ};

mod common;

fn audit(client_id: &str) -> AuditEntry {
    AuditEntry {
        id: clavis_core::ids::ulid(),
        client_id: client_id.into(),
        actor: "test".into(),
        action: "create".into(),
        changed_fields: vec![],
        detail: String::new(),
        created_at: 1,
    }
}

fn secret(client_id: &str, n: i64) -> SecretRecord {
    SecretRecord {
        secret_id: format!("{client_id}-s{n}"),
        client_id: client_id.into(),
        secret_hash: clavis_core::secret::hash(&format!("{client_id}-secret-{n}")),
        last_four: "abcd".into(),
        description: String::new(),
        status: SecretStatus::Active,
        created_at: n,
        updated_at: n,
        expires_at: None,
        last_used_at: None,
        sealed: None,
    }
}

/// A migrated store at `url` with the tenants `acme` and `other`.
async fn two_tenants(url: &str) -> (Store, TenantId, TenantId) {
    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let (a, b) = (TenantId::parse("acme").unwrap(), TenantId::parse("other").unwrap());
    for t in [&a, &b] {
        store.ensure_tenant(t, 0).await.unwrap();
    }
    (store, a, b)
}

/// What an entry says, comparable.
fn summary(e: &(Client, Vec<SecretRecord>, Option<TokenRevocation>)) -> (String, String, Vec<String>, Option<(i64, i64)>) {
    (e.0.client_id.clone(), e.0.name.clone(), e.1.iter().map(|s| s.secret_id.clone()).collect(), e.2.map(|r| (r.at, r.effective)))
}

#[tokio::test]
async fn a_read_of_many_clients_is_each_one_read_in_the_order_asked() {
    for url in common::databases("entries").await {
        let (store, a, b) = two_tenants(&url).await;
        // acme: c0..c9 (c3 with three secrets, c5 deleted, c7 with its tokens revoked);
        // other: a client named like one of acme's, which acme's reads must not see.
        for i in 0..10 {
            let mut c = Client::blank(a.clone(), format!("c{i}"));
            c.id = clavis_core::ids::ulid();
            c.name = format!("client {i}");
            store.insert_client(&c, Some(&secret(&c.client_id, 1)), &audit(&c.client_id)).await.unwrap();
        }
        for n in 2..4 {
            store.add_secret(&a, &secret("c3", n), 10, &audit("c3")).await.unwrap();
        }
        store.delete_client(&a, "c5", 2, &audit("c5")).await.unwrap();
        store.revoke_client_tokens(&a, "c7", TokenRevocation { at: 5, effective: 6 }, &audit("c7")).await.unwrap();
        let mut foreign = Client::blank(b.clone(), "x1".into());
        foreign.id = clavis_core::ids::ulid();
        store.insert_client(&foreign, Some(&secret("x1", 1)), &audit("x1")).await.unwrap();

        let ids: Vec<String> = ["c9", "c3", "missing", "c5", "x1", "c0", "c7"].iter().map(|s| s.to_string()).collect();
        let many = store.client_entries(&a, &ids).await.unwrap();
        assert_eq!(many.len(), ids.len(), "{url}");
        for (id, got) in ids.iter().zip(many) {
            let one = store.client_entry(&a, id).await.unwrap();
            assert_eq!(got.unwrap().as_ref().map(summary), one.as_ref().map(summary), "{url}: {id}");
        }
        let read = |id: &str| {
            let (store, a) = (store.clone(), a.clone());
            let id = id.to_owned();
            async move { store.client_entries(&a, &[id]).await.unwrap().pop().unwrap().unwrap().map(|e| summary(&e)) }
        };
        assert_eq!(read("c3").await.unwrap().2, ["c3-s3", "c3-s2", "c3-s1"], "{url}: every secret, newest first");
        assert_eq!(read("c7").await.unwrap().3, Some((5, 6)), "{url}");
        assert!(read("c5").await.is_none() && read("x1").await.is_none(), "{url}: deleted, another tenant's");
        assert_eq!(store.client_entries(&b, &["x1".to_string()]).await.unwrap()[0].as_ref().unwrap().as_ref().map(summary).unwrap().0, "x1");

        // The most one query reads.
        let full: Vec<String> = (0..MAX_ENTRIES_PER_READ).map(|i| format!("c{}", i % 10 + 100 * (i / 10))).collect();
        let found = store.client_entries(&a, &full).await.unwrap().into_iter().filter(|r| matches!(r, Ok(Some(_)))).count();
        assert_eq!(found, 9, "{url}: c0..c9 but c5");
        store.close().await;
    }
}

/// `last_used_at` writes, many per statement: each row gets its own time, a secret of the
/// same id in another tenant is left alone, and more rows than one statement takes all land.
#[tokio::test]
async fn touches_write_each_secret_of_its_tenant_only() {
    for url in common::databases("entries").await {
        let (store, a, b) = two_tenants(&url).await;
        const N: usize = 510;
        let mut items = Vec::new();
        for i in 0..N {
            let mut c = Client::blank(a.clone(), format!("c{i}"));
            c.id = clavis_core::ids::ulid();
            let mut s = secret(&c.client_id, 1);
            s.secret_id = format!("s{i}");
            items.push(clavis_store::ImportItem { client: c, secrets: Some(vec![s]), audit: audit(&format!("c{i}")) });
        }
        store.import_clients(&a, &items).await.unwrap();
        let mut same_id = Client::blank(b.clone(), "x".into());
        same_id.id = clavis_core::ids::ulid();
        let mut s = secret("x", 1);
        s.secret_id = "s7".into();
        store.insert_client(&same_id, Some(&s), &audit("x")).await.unwrap();

        let touches: Vec<(TenantId, String, i64)> = (0..N).map(|i| (a.clone(), format!("s{i}"), 1000 + i as i64)).collect();
        store.touch_secrets(&touches).await.unwrap();
        for i in [0, 7, 499, 500, N - 1] {
            let got = store.client_secrets(&a, &format!("c{i}")).await.unwrap();
            assert_eq!(got[0].last_used_at, Some(1000 + i as i64), "{url}: s{i}");
        }
        assert_eq!(store.client_secrets(&b, "x").await.unwrap()[0].last_used_at, None, "{url}: the other tenant's s7");
        store.close().await;
    }
}
