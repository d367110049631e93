//! Reads of clients the cache does not hold, coalesced. Each read is a round trip to the
//! database (on SQLite a hand-off to a connection's thread and back, which costs more than
//! the lookup); under load many token requests miss at once, so one task takes every read
//! waiting, up to [`MAX_ENTRIES_PER_READ`] clients of a tenant per query, and answers each
//! waiter. Requests for the same client share one read. When nothing else waits a read is
//! a query of one client, as before, after one more channel hop.
//!
//! The waiters bound the queue: each is a request holding a connection, and past
//! [`QUEUE`] waiting reads the next waits for room.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use clavis_core::TenantId;
use clavis_store::{Store, MAX_ENTRIES_PER_READ};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::cache::CachedClient;

/// Reads waiting for the loader at most.
const QUEUE: usize = 4096;
/// Reads taken off the queue at once (then split by tenant and by [`MAX_ENTRIES_PER_READ`]).
const TAKE: usize = 256;
/// Queries in flight at once: one per core of a small machine, so both can work.
const IN_FLIGHT: usize = 2;

/// What a waiter hears: the entry (`None`: no such live client), or `Retry` when the shared
/// query failed, so that the waiter reads on its own and gets that error as it is.
pub(crate) enum Loaded {
    Entry(Option<Arc<CachedClient>>),
    Retry,
}

struct Wanted {
    tenant: TenantId,
    client_id: String,
    reply: oneshot::Sender<Loaded>,
}

#[derive(Default)]
pub(crate) struct ClientLoader {
    /// Started on first use (it needs a runtime to run on).
    queue: OnceLock<mpsc::Sender<Wanted>>,
}

impl ClientLoader {
    /// The live client `client_id` of `tenant` with its secrets, read with whatever other
    /// reads are waiting.
    pub async fn load(&self, store: &Store, tenant: &TenantId, client_id: &str) -> clavis_store::Result<Option<Arc<CachedClient>>> {
        let queue = self.queue.get_or_init(|| start(store.clone()));
        let (reply, answer) = oneshot::channel();
        let wanted = Wanted { tenant: tenant.clone(), client_id: client_id.to_owned(), reply };
        if queue.send(wanted).await.is_ok() {
            if let Ok(Loaded::Entry(found)) = answer.await {
                return Ok(found);
            }
        }
        Ok(store.client_entry(tenant, client_id).await?.map(CachedClient::from_entry))
    }
}

fn start(store: Store) -> mpsc::Sender<Wanted> {
    let (queue, mut waiting) = mpsc::channel::<Wanted>(QUEUE);
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    tokio::spawn(async move {
        let mut taken = Vec::with_capacity(TAKE);
        loop {
            // A slot first, so reads pile up (and share queries) while both are busy.
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            if waiting.recv_many(&mut taken, TAKE).await == 0 {
                return;
            }
            let store = store.clone();
            let batch = std::mem::take(&mut taken);
            tokio::spawn(async move {
                read_batch(&store, batch).await;
                drop(slot);
            });
        }
    });
    queue
}

/// Answers every waiter of `batch`: per tenant, distinct clients, one query per chunk.
async fn read_batch(store: &Store, batch: Vec<Wanted>) {
    let mut by_tenant: HashMap<TenantId, HashMap<String, Vec<oneshot::Sender<Loaded>>>> = HashMap::new();
    for w in batch {
        by_tenant.entry(w.tenant).or_default().entry(w.client_id).or_default().push(w.reply);
    }
    for (tenant, clients) in by_tenant {
        let mut clients: Vec<(String, Vec<oneshot::Sender<Loaded>>)> = clients.into_iter().collect();
        while !clients.is_empty() {
            let chunk: Vec<_> = clients.drain(..clients.len().min(MAX_ENTRIES_PER_READ)).collect();
            let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
            match store.client_entries(&tenant, &ids).await {
                Ok(results) => {
                    for ((_, replies), result) in chunk.into_iter().zip(results) {
                        match result {
                            Ok(found) => {
                                let found = found.map(CachedClient::from_entry);
                                for reply in replies {
                                    let _ = reply.send(Loaded::Entry(found.clone()));
                                }
                            }
                            // A row that does not decode: each waiter reads it again and
                            // gets the error of its own.
                            Err(_) => replies.into_iter().for_each(|r| drop(r.send(Loaded::Retry))),
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a shared client read failed; its waiters read alone");
                    chunk.into_iter().flat_map(|(_, replies)| replies).for_each(|r| drop(r.send(Loaded::Retry)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Actor, Services, Settings};

    /// Many reads at once, of the same and of different clients, of two tenants: each gets
    /// its own client (or none), whichever query served it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reads_each_get_their_own_client() {
        let dir = std::env::temp_dir().join(format!("clavis-loader-{}", clavis_core::ids::ulid()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.join("l.db").display())).await.unwrap();
        store.migrate().await.unwrap();
        let services = Services::new(Settings::default(), store.clone());
        let tenants = [TenantId::default_tenant(), TenantId::parse("other").unwrap()];
        let mut ids = Vec::new();
        for t in &tenants {
            store.ensure_tenant(t, clavis_core::time::now_unix()).await.unwrap();
            for i in 0..20 {
                let body = json!({"client_name": format!("{t} {i}"), "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"});
                let (client, _) = crate::hydra_client::build(body.as_object().unwrap(), None, t).unwrap();
                let (client, _) = services.create_built_client(t, client, None, &Actor("test".into())).await.unwrap();
                ids.push((t.clone(), client.client_id.clone(), Some(format!("{t} {i}"))));
            }
            ids.push((t.clone(), "no-such-client".into(), None));
        }
        let loader = Arc::new(ClientLoader::default());
        let mut reads = tokio::task::JoinSet::new();
        for round in 0..10 {
            for (t, id, name) in &ids {
                let (loader, store, t, id, name) = (loader.clone(), store.clone(), t.clone(), id.clone(), name.clone());
                reads.spawn(async move {
                    let got = loader.load(&store, &t, &id).await.unwrap();
                    assert_eq!(got.map(|e| e.client.name.clone()), name, "round {round}: {t}/{id}");
                });
            }
        }
        while let Some(done) = reads.join_next().await {
            done.unwrap();
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
