//! A short-lived cache of clients and their secret hashes for the token endpoint and
//! admin-token checks, so a token request costs no database round trip.
//!
//! Staleness bound: an entry is served for at most `ttl` after it was stored. Writes made
//! through this process invalidate the entry at once; writes made by another node are
//! seen within `ttl` (default 2 s, `CLAVIS_CLIENT_CACHE_TTL`).
//!
//! Clients and origins are `moka` caches: time to live, bounded, and past the bound the
//! entries least likely to be used again are evicted (never all at once). Its sync cache,
//! not its future one: a lookup or an invalidation is in-memory work that never waits,
//! and every write path invalidates from plain code; a miss reads the store outside the
//! cache, so a failed read is never cached and surfaces as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clavis_core::{Client, TenantId};
use clavis_store::{ClientEntry, SecretRecord, Store, TokenRevocation};
use moka::sync::Cache;

use crate::client_loader::ClientLoader;

/// Bounds memory: tenants' origin lists, and secrets remembered as verified, kept at most.
const MAX_ENTRIES: usize = 50_000;
/// moka refuses a time to live past 1000 years; no staleness bound needs more than this.
const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
/// `last_used_at` of a secret is written at most this often (seconds).
pub(crate) const TOUCH_INTERVAL_SECS: i64 = 60;

fn sha256(s: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// A live client as the cache holds it (cheap to clone, derefs to the client).
#[derive(Clone)]
pub struct ClientRef(pub(crate) Arc<CachedClient>);

/// Only the id: the entry holds secret hashes, which have no place in a log.
impl std::fmt::Debug for ClientRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClientRef").field(&self.0.client.client_id).finish()
    }
}

impl std::ops::Deref for ClientRef {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.0.client
    }
}

pub(crate) struct CachedClient {
    pub client: Client,
    pub secrets: Vec<SecretRecord>,
    /// Since when its access tokens are revoked (DELETE …/tokens), if ever.
    pub revocation: Option<TokenRevocation>,
    /// Per secret (same order): when its `last_used_at` was last written or queued, from
    /// the stored value when the entry was read. Kept with the entry, so the bookkeeping
    /// costs nothing per client beyond it and a reloaded entry starts from the database.
    last_touch: Vec<AtomicI64>,
}

impl CachedClient {
    /// The entry of what the store read (`Store::client_entry`, `Store::client_entries`).
    pub(crate) fn from_entry((client, secrets, revocation): ClientEntry) -> Arc<Self> {
        let last_touch = secrets.iter().map(|s| AtomicI64::new(s.last_used_at.unwrap_or(i64::MIN))).collect();
        Arc::new(Self { client, secrets, revocation, last_touch })
    }

    /// Whether `last_used_at` of the secret at `index` is due a write at `now` (at most one
    /// caller per interval is told so); `untouch` undoes it when the write could not be queued.
    pub(crate) fn touch_due(&self, index: usize, now: i64) -> Option<i64> {
        let slot = self.last_touch.get(index)?;
        let last = slot.load(Ordering::Relaxed);
        let due = last == i64::MIN || now.saturating_sub(last) >= TOUCH_INTERVAL_SECS;
        (due && slot.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()).then_some(last)
    }

    pub(crate) fn untouch(&self, index: usize, previous: i64) {
        if let Some(slot) = self.last_touch.get(index) {
            slot.store(previous, Ordering::Relaxed);
        }
    }
}

type Key = (TenantId, String);

pub(crate) struct ClientCache {
    /// `None` when the time to live is 0: every read goes to the store.
    entries: Option<Cache<Key, Arc<CachedClient>>>,
    /// secret_id → SHA-256 of the value that last verified against its (slow, argon2id)
    /// hash, so a repeated correct secret costs a hash, not a KDF.
    verified: Mutex<HashMap<String, [u8; 32]>>,
    /// tenant → the CORS origins of its clients (`None` as `entries`).
    origins: Option<Cache<TenantId, Arc<Vec<String>>>>,
    /// `last_used_at` writes not made yet: (tenant, secret_id) → when (see `queue_touch`).
    pending_touches: Mutex<HashMap<(TenantId, String), i64>>,
    /// How a miss is read (coalesced with the other misses of the moment).
    loader: ClientLoader,
}

/// `last_used_at` writes queued at most between two flushes; beyond, they are dropped (and
/// made again at the secret's next use after `TOUCH_INTERVAL_SECS`).
const MAX_PENDING_TOUCHES: usize = 100_000;

/// A cache of at most [`MAX_ENTRIES`] entries living `ttl`; none for a `ttl` of 0.
fn bounded<K, V>(ttl: Duration) -> Option<Cache<K, V>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    (!ttl.is_zero()).then(|| Cache::builder().max_capacity(MAX_ENTRIES as u64).time_to_live(ttl).build())
}

/// The clients' part of the cache holds at most this many bytes (by [`weight`]'s estimate):
/// about 2,500 typical clients, whatever the number of clients in the database. The cache is
/// for the clients that call often (its admission keeps them over one-off callers); reads
/// spread over many clients are served by coalesced reads ([`ClientLoader`]), which a
/// larger cache would not spare within its 2-second staleness bound anyway.
const MAX_CLIENT_BYTES: u64 = 4 * 1024 * 1024;

/// An estimate of an entry's memory: the structs and the text they hold.
fn weight(e: &CachedClient) -> u32 {
    let c = &e.client;
    let list = |v: &[String]| v.iter().map(|s| s.len() + 24).sum::<usize>();
    let text = [&c.id, &c.client_id, &c.name, &c.jwks, &c.jwks_uri, &c.logo_url, &c.privacy_policy, &c.terms_url, &c.website, &c.owner]
        .iter()
        .map(|s| s.len())
        .sum::<usize>();
    let secrets: usize =
        e.secrets.iter().map(|s| std::mem::size_of::<SecretRecord>() + s.secret_hash.len() + s.secret_id.len() + s.description.len() + 64).sum();
    // The extras (Hydra metadata, lifespans, mTLS names) are counted as a flat kilobyte.
    let n = std::mem::size_of::<CachedClient>() + 1024 + text + list(&c.redirect_uris) + list(&c.scopes) + list(&c.cors_origins) + secrets;
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl ClientCache {
    pub fn new(ttl_secs: u64) -> Self {
        let ttl = Duration::from_secs(ttl_secs).min(MAX_TTL);
        let entries = (!ttl.is_zero())
            .then(|| Cache::builder().max_capacity(MAX_CLIENT_BYTES).weigher(|_: &Key, e: &Arc<CachedClient>| weight(e)).time_to_live(ttl).build());
        Self { entries, verified: Mutex::default(), origins: bounded(ttl), pending_touches: Mutex::default(), loader: ClientLoader::default() }
    }

    /// The live client with its secrets, from the cache when fresh enough.
    pub async fn load(&self, store: &Store, tenant: &TenantId, client_id: &str) -> clavis_store::Result<Option<Arc<CachedClient>>> {
        let key = (tenant.clone(), client_id.to_owned());
        if let Some(hit) = self.entries.as_ref().and_then(|c| c.get(&key)) {
            return Ok(Some(hit));
        }
        let Some(entry) = self.loader.load(store, tenant, client_id).await? else {
            self.invalidate(tenant, client_id);
            return Ok(None);
        };
        if let Some(cache) = &self.entries {
            cache.insert(key, entry.clone());
        }
        Ok(Some(entry))
    }

    pub fn invalidate(&self, tenant: &TenantId, client_id: &str) {
        if let Some(cache) = &self.entries {
            cache.invalidate(&(tenant.clone(), client_id.to_owned()));
        }
        if let Some(cache) = &self.origins {
            cache.invalidate(tenant);
        }
    }

    /// The CORS origins of a tenant's clients (same staleness bound as clients).
    pub async fn origins(&self, store: &Store, tenant: &TenantId) -> clavis_store::Result<Arc<Vec<String>>> {
        if let Some(hit) = self.origins.as_ref().and_then(|c| c.get(tenant)) {
            return Ok(hit);
        }
        let list = Arc::new(store.tenant_cors_origins(tenant).await?);
        if let Some(cache) = &self.origins {
            cache.insert(tenant.clone(), list.clone());
        }
        Ok(list)
    }

    /// Whether `presented` is the value that last verified against this slow-hashed secret.
    pub fn verified_before(&self, secret_id: &str, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        let digest = sha256(presented);
        self.verified.lock().expect("verified lock").get(secret_id).is_some_and(|d| bool::from(d.ct_eq(&digest)))
    }

    pub fn remember_verified(&self, secret_id: &str, presented: &str) {
        let mut map = self.verified.lock().expect("verified lock");
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(secret_id.to_owned(), sha256(presented));
    }

    /// Queues a `last_used_at` write for the next flush (`Services::write_touches`); false
    /// when the queue is full.
    pub fn queue_touch(&self, tenant: &TenantId, secret_id: &str, at: i64) -> bool {
        let mut pending = self.pending_touches.lock().expect("touch queue lock");
        let queued = pending.len() < MAX_PENDING_TOUCHES;
        if queued {
            pending.insert((tenant.clone(), secret_id.to_owned()), at);
        }
        queued
    }

    /// The queued `last_used_at` writes, taken out of the queue.
    pub fn take_touches(&self) -> Vec<(TenantId, String, i64)> {
        std::mem::take(&mut *self.pending_touches.lock().expect("touch queue lock")).into_iter().map(|((t, id), at)| (t, id, at)).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Actor, Services, Settings};

    /// A cache of "this node" next to a `Services` whose writes play "another node".
    #[tokio::test]
    async fn other_writes_wait_for_the_ttl_local_invalidation_is_immediate() {
        let dir = std::env::temp_dir().join(format!("clavis-cache-{}", clavis_core::ids::ulid()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::connect(&format!("sqlite://{}", dir.join("c.db").display())).await.unwrap();
        store.migrate().await.unwrap();
        let t = TenantId::default_tenant();
        store.ensure_tenant(&t, clavis_core::time::now_unix()).await.unwrap();
        let other = Services::new(Settings::default(), store.clone());
        let actor = Actor("test".into());
        let body = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let (client, _) =
            crate::hydra_client::build(&body(json!({"client_name": "A", "redirect_uris": ["https://a.example/cb"]})), None, &t).unwrap();
        let (client, _) = other.create_built_client(&t, client, None, &actor).await.unwrap();
        let id = client.client_id.clone();

        let here = ClientCache::new(60);
        assert_eq!(here.load(&store, &t, &id).await.unwrap().unwrap().client.name, "A");
        assert_eq!(*here.origins(&store, &t).await.unwrap(), vec!["https://a.example".to_owned()]);
        let (next, _) =
            crate::hydra_client::build(&body(json!({"client_name": "B", "redirect_uris": ["https://b.example/cb"]})), Some(&client), &t).unwrap();
        other.replace_client(&t, &id, next, None, &actor).await.unwrap();
        assert_eq!(here.load(&store, &t, &id).await.unwrap().unwrap().client.name, "A", "another node's write: served stale within the TTL");
        assert_eq!(*here.origins(&store, &t).await.unwrap(), vec!["https://a.example".to_owned()]);
        here.invalidate(&t, &id);
        assert_eq!(here.load(&store, &t, &id).await.unwrap().unwrap().client.name, "B", "an invalidation applies at once");
        assert_eq!(*here.origins(&store, &t).await.unwrap(), vec!["https://b.example".to_owned()], "and takes the tenant's origins along");

        let uncached = ClientCache::new(0);
        assert_eq!(uncached.load(&store, &t, &id).await.unwrap().unwrap().client.name, "B");
        other.delete_client(&t, &id, &actor).await.unwrap();
        assert!(uncached.load(&store, &t, &id).await.unwrap().is_none(), "a TTL of 0 reads the store every time");
        assert!(here.load(&store, &t, &id).await.unwrap().is_some(), "while this node's cache still serves it");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
