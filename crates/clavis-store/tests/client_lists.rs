//! The client lists (schema v18: counters, page runs, the name search) against a plain model
//! of the same clients, through creates, renames, suspensions, owner changes and deletes, on
//! SQLite and — when `CLAVIS_TEST_DB` or `CLAVIS_PG_URL` names a server — PostgreSQL.
//!
//! Runs are 5 clients long here instead of 4096, so that a few dozen clients cross many run
//! boundaries; every page of every filter at several page sizes is compared with the model.
//! On PostgreSQL the name searches run both ways: with the whole text given to the trigram
//! index, and with the few rare windows of it a large tenant's sample picks.

use std::borrow::Cow;

use clavis_core::{Client, ClientStatus, TenantId};
use clavis_store::{AuditEntry, ClientFilter, ImportItem, ImportOutcome, Store};
use sqlx::migrate::Migrator;

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

mod common;

/// A fresh, empty database of each backend at hand: (label, URL).
async fn databases() -> Vec<(&'static str, String)> {
    let label = |url: &str| if url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    common::databases("lists").await.into_iter().map(|url| (label(&url), url)).collect()
}

fn tenant(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

fn audit(client_id: &str, action: &str) -> AuditEntry {
    AuditEntry {
        id: clavis_core::ids::ulid(),
        client_id: client_id.into(),
        actor: "test".into(),
        action: action.into(),
        changed_fields: vec![],
        detail: String::new(),
        created_at: 1,
    }
}

/// What the model knows of a client, in the order the clients were added.
#[derive(Clone, Debug)]
struct Model {
    client: Client,
    live: bool,
}

fn new_client(t: &TenantId, i: usize) -> Client {
    let mut c = Client::blank(t.clone(), format!("{}-client-{i:03}", t.as_str()));
    c.id = clavis_core::ids::ulid();
    c.is_confidential = false;
    // Names share words, so searches match several clients; case differs on purpose.
    c.name = format!("{} {} app {i}", ["Billing", "billing", "CRM", "Reports"][i % 4], t.as_str());
    c.owner = format!("owner-{}", i % 3);
    c.created_at = i as i64;
    c.updated_at = i as i64;
    c
}

async fn create(store: &Store, model: &mut Vec<Model>, t: &TenantId, i: usize) {
    let c = new_client(t, i);
    store.insert_client(&c, None, &audit(&c.client_id, "create")).await.unwrap();
    model.push(Model { client: c, live: true });
}

async fn update(store: &Store, m: &mut Model, change: impl FnOnce(&mut Client)) {
    change(&mut m.client);
    store.update_client(&m.client, &audit(&m.client.client_id, "update")).await.unwrap();
}

/// Every page of every filter, at several page sizes, equals the model's newest-first list.
async fn check_authms(store: &Store, t: &TenantId, model: &[Model], phase: &str) {
    let filters = [
        ClientFilter::default(),
        ClientFilter { status: Some(ClientStatus::Active), ..Default::default() },
        ClientFilter { status: Some(ClientStatus::Suspended), ..Default::default() },
        ClientFilter { name: "BILLING".into(), ..Default::default() },
        ClientFilter { name: "app 1".into(), status: Some(ClientStatus::Active) },
        ClientFilter { name: "m".into(), ..Default::default() },
        ClientFilter { name: "100%_\\".into(), ..Default::default() },
        ClientFilter { name: "\"crm".into(), ..Default::default() },
        // Texts whose windows are letters and digits (PostgreSQL's sampled search asks the
        // index for some of them only): every window of the first matches more than the text.
        ClientFilter { name: "crm acme app 4".into(), ..Default::default() },
        ClientFilter { name: "Reports ACME app 1".into(), status: Some(ClientStatus::Suspended) },
    ];
    for f in &filters {
        let expected: Vec<&str> = model
            .iter()
            .rev()
            .filter(|m| m.live)
            .filter(|m| f.status.is_none_or(|s| m.client.status == s))
            .filter(|m| m.client.name.to_lowercase().contains(&f.name.to_lowercase()))
            .map(|m| m.client.client_id.as_str())
            .collect();
        for size in [1i64, 3, 7, 100] {
            let mut got = Vec::new();
            let mut page = 0;
            loop {
                let (items, total) = store.list_clients(t, f, size, page * size).await.unwrap();
                assert_eq!(total, expected.len() as i64, "{phase}: total of {f:?}");
                if items.is_empty() {
                    break;
                }
                assert!(items.len() as i64 <= size);
                got.extend(items.into_iter().map(|c| c.client_id));
                page += 1;
            }
            assert_eq!(got, expected, "{phase}: pages of {size} of {f:?}");
        }
    }
}

/// Hydra's keyset pages (id order) with each filter equal the model's.
async fn check_hydra(store: &Store, t: &TenantId, model: &[Model], phase: &str) {
    let some_name = model.iter().find(|m| m.live).map(|m| m.client.name.clone()).unwrap();
    for (name, owner) in [(None, None), (None, Some("owner-1")), (Some(some_name.as_str()), None), (Some(some_name.as_str()), Some("owner-2"))] {
        let mut expected: Vec<&Client> = model
            .iter()
            .filter(|m| m.live)
            .map(|m| &m.client)
            .filter(|c| name.is_none_or(|n| c.name == n) && owner.is_none_or(|o| c.owner == o))
            .collect();
        expected.sort_by(|a, b| a.id.cmp(&b.id));
        let mut got = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (items, total) = store.list_clients_after(t, after.as_deref(), 4, name, owner).await.unwrap();
            assert_eq!(total, expected.len() as i64, "{phase}: Hydra total of {name:?} {owner:?}");
            let Some(last) = items.last() else { break };
            after = Some(last.id.clone());
            got.extend(items.iter().map(|c| c.client_id.clone()));
        }
        let expected: Vec<String> = expected.iter().map(|c| c.client_id.clone()).collect();
        assert_eq!(got, expected, "{phase}: Hydra pages of {name:?} {owner:?}");
    }
}

async fn check(store: &Store, t: &TenantId, model: &[Model], phase: &str) {
    check_authms(store, t, model, phase).await;
    if store.backend() == "postgres" {
        // The name search as a large tenant does it, from a sample of the names kept across
        // the phases: however stale the sample, the matches are the same.
        check_authms(&store.clone().with_name_sample_from(1), t, model, &format!("{phase}, sampled")).await;
    }
    check_hydra(store, t, model, phase).await;
    assert_eq!(store.check_listing().await.unwrap(), Vec::<String>::new(), "{phase}");
}

#[tokio::test]
async fn every_page_of_every_filter_matches_the_clients_through_every_kind_of_write() {
    for (label, url) in databases().await {
        let store = Store::connect(&url).await.unwrap().with_page_run(5);
        store.migrate().await.unwrap();
        let (a, b) = (tenant("acme"), tenant("beta"));
        store.ensure_tenant(&a, 0).await.unwrap();
        store.ensure_tenant(&b, 0).await.unwrap();
        let (mut ma, mut mb) = (Vec::new(), Vec::new());
        // Interleaved tenants: each one's seqs have gaps, and its runs must not mind them.
        for i in 0..48 {
            create(&store, &mut ma, &a, i).await;
            if i % 3 == 0 {
                create(&store, &mut mb, &b, i).await;
            }
        }
        check(&store, &a, &ma, &format!("{label}: created")).await;

        for (i, m) in ma.iter_mut().enumerate() {
            if i % 3 == 0 {
                update(&store, m, |c| c.status = ClientStatus::Suspended).await;
            }
            if i % 5 == 0 {
                update(&store, m, |c| c.name = format!("Renamed 100%_\\ \"CRM\" {i}")).await;
            }
            if i % 4 == 0 {
                update(&store, m, |c| c.owner = "owner-1".into()).await;
            }
        }
        check(&store, &a, &ma, &format!("{label}: updated")).await;

        for (i, m) in ma.iter_mut().enumerate() {
            if i % 7 == 0 || (10..20).contains(&i) {
                store.delete_client(&a, &m.client.client_id, 2, &audit(&m.client.client_id, "delete")).await.unwrap();
                m.live = false;
            } else if i % 6 == 0 {
                update(&store, m, |c| c.status = ClientStatus::Active).await;
            }
        }
        for i in 48..60 {
            create(&store, &mut ma, &a, i).await;
        }
        check(&store, &a, &ma, &format!("{label}: deleted and grew")).await;

        // A bulk import: new clients (filling the last run and starting new ones, in one
        // batch), changed ones, unchanged ones and a deleted one, at once.
        let mut items = Vec::new();
        for i in 60..83 {
            let c = new_client(&a, i);
            items.push(ImportItem { client: c.clone(), secrets: None, audit: audit(&c.client_id, "import") });
            ma.push(Model { client: c, live: true });
        }
        let mut expected = vec![ImportOutcome::Created; items.len()];
        for (i, m) in ma.iter_mut().enumerate().take(30) {
            let mut c = m.client.clone();
            let outcome = if !m.live {
                ImportOutcome::Deleted
            } else if i % 2 == 0 {
                c.status = if c.status == ClientStatus::Active { ClientStatus::Suspended } else { ClientStatus::Active };
                c.name = format!("Imported {i}");
                c.owner = "owner-9".into();
                m.client = c.clone();
                ImportOutcome::Updated
            } else {
                ImportOutcome::Unchanged
            };
            items.push(ImportItem { client: c.clone(), secrets: None, audit: audit(&c.client_id, "import") });
            expected.push(outcome);
        }
        assert_eq!(store.import_clients(&a, &items).await.unwrap(), expected, "{label}");
        check(&store, &a, &ma, &format!("{label}: imported")).await;
        // The other tenant's lists were never touched by the writes above.
        check(&store, &b, &mb, &format!("{label}: other tenant")).await;
        let (items, total) = store.list_clients(&a, &ClientFilter { name: "beta".into(), ..Default::default() }, 100, 0).await.unwrap();
        assert_eq!((items.len(), total), (0, 0), "{label}: a name only the other tenant has");
        store.close().await;
    }
}

/// Schema v18 builds its counters, runs and name search from the clients already there.
#[tokio::test]
async fn the_migration_fills_the_listing_structures_from_existing_clients() {
    const V17_ROW: &str = "INSERT INTO clients (id, tenant_id, client_id, name, redirect_uris, scopes, grant_types, \
        auth_methods, is_confidential, jwks, jwks_uri, fapi_profile, logo_url, privacy_policy, terms_url, website, \
        cors_origins, secret_last_four, status, created_at, updated_at, deleted_at, owner) \
        VALUES ($1, $2, $3, $4, '[]', '[]', '[]', '[]', FALSE, '', '', '', '', '', '', '', '[]', '', $5, 1, 1, $6, $7)";
    for (label, url) in databases().await {
        let all = if label == "sqlite" { &SQLITE } else { &POSTGRES };
        let before_v18 = Migrator {
            migrations: Cow::Owned(all.iter().filter(|m| m.version < 18).cloned().collect()),
            ignore_missing: false,
            locking: true,
            no_tx: false,
        };
        let (t, other) = (tenant("acme"), tenant("beta"));
        let mut model = Vec::new();
        // 13 clients in `acme` (some suspended, some deleted, owners and names varied), 2 in `beta`.
        let rows: Vec<(Client, bool, &TenantId)> = (0..15)
            .map(|i| {
                let t = if i % 7 == 3 { &other } else { &t };
                let mut c = new_client(t, i);
                if i % 4 == 1 {
                    c.status = ClientStatus::Suspended;
                }
                (c, i % 5 != 2, t)
            })
            .collect();
        macro_rules! fill {
            ($pool:expr) => {{
                let pool = $pool;
                before_v18.run(&pool).await.unwrap();
                for tid in [&t, &other] {
                    sqlx::query("INSERT INTO tenants (id, created_at) VALUES ($1, 0)").bind(tid.as_str()).execute(&pool).await.unwrap();
                }
                for (c, live, tid) in &rows {
                    sqlx::query(V17_ROW)
                        .bind(&c.id)
                        .bind(tid.as_str())
                        .bind(&c.client_id)
                        .bind(&c.name)
                        .bind(c.status.as_str())
                        .bind((!live).then_some(2i64))
                        .bind(&c.owner)
                        .execute(&pool)
                        .await
                        .unwrap();
                }
                pool.close().await;
            }};
        }
        if label == "sqlite" {
            fill!(sqlx::SqlitePool::connect(&format!("{url}?mode=rwc")).await.unwrap());
        } else {
            fill!(sqlx::PgPool::connect(&url).await.unwrap());
        }
        for (c, live, tid) in &rows {
            if tid.as_str() == "acme" {
                model.push(Model { client: c.clone(), live: *live });
            }
        }

        let store = Store::connect(&url).await.unwrap().with_page_run(5);
        store.migrate().await.unwrap();
        assert_eq!(store.check_listing().await.unwrap(), Vec::<String>::new(), "{label}");
        check(&store, &t, &model, &format!("{label}: migrated")).await;
        // The next client goes after the migrated ones.
        create(&store, &mut model, &t, 99).await;
        check(&store, &t, &model, &format!("{label}: migrated, then created")).await;
        store.close().await;
    }
}
