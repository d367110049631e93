//! A short-lived cache of clients and their secret hashes for the token endpoint and
//! admin-token checks, so a token request costs no database round trip.
//!
//! Staleness bound: an entry is served for at most `ttl` after it was read. Writes made
//! through this process invalidate the entry at once; writes made by another node are
//! seen within `ttl` (default 2 s, `CLAVIS_CLIENT_CACHE_TTL`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use clavis_core::{Client, TenantId};
use clavis_store::{SecretRecord, Store, TokenRevocation};

/// Bounds memory: past this many entries the cache starts over.
const MAX_ENTRIES: usize = 50_000;
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
    fetched: Instant,
}

type Key = (TenantId, String);
/// tenant → its clients' CORS origins and when they were read.
type OriginsCache = HashMap<TenantId, (Arc<Vec<String>>, Instant)>;

pub(crate) struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<Key, Arc<CachedClient>>>,
    /// secret_id → when its `last_used_at` was last written.
    touched: Mutex<HashMap<String, i64>>,
    /// secret_id → SHA-256 of the value that last verified against its (slow, argon2id)
    /// hash, so a repeated correct secret costs a hash, not a KDF.
    verified: Mutex<HashMap<String, [u8; 32]>>,
    /// tenant → the CORS origins of its clients, and when they were read.
    origins: RwLock<OriginsCache>,
}

impl ClientCache {
    pub fn new(ttl_secs: u64) -> Self {
        Self {
            ttl: Duration::from_secs(ttl_secs),
            entries: RwLock::default(),
            touched: Mutex::default(),
            verified: Mutex::default(),
            origins: RwLock::default(),
        }
    }

    /// The live client with its secrets, from the cache when fresh enough.
    pub async fn load(&self, store: &Store, tenant: &TenantId, client_id: &str) -> clavis_store::Result<Option<Arc<CachedClient>>> {
        let key = (tenant.clone(), client_id.to_owned());
        if let Some(hit) = self.entries.read().expect("cache lock").get(&key) {
            if hit.fetched.elapsed() < self.ttl {
                return Ok(Some(hit.clone()));
            }
        }
        let Some(client) = store.get_client(tenant, client_id).await? else {
            self.invalidate(tenant, client_id);
            return Ok(None);
        };
        let secrets = store.client_secrets(tenant, client_id).await?;
        let revocation = store.token_revocation(tenant, client_id).await?;
        let entry = Arc::new(CachedClient { client, secrets, revocation, fetched: Instant::now() });
        if !self.ttl.is_zero() {
            let mut map = self.entries.write().expect("cache lock");
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, entry.clone());
        }
        Ok(Some(entry))
    }

    pub fn invalidate(&self, tenant: &TenantId, client_id: &str) {
        self.entries.write().expect("cache lock").remove(&(tenant.clone(), client_id.to_owned()));
        self.origins.write().expect("cache lock").remove(tenant);
    }

    /// The CORS origins of a tenant's clients (same staleness bound as clients).
    pub async fn origins(&self, store: &Store, tenant: &TenantId) -> clavis_store::Result<Arc<Vec<String>>> {
        if let Some((list, at)) = self.origins.read().expect("cache lock").get(tenant) {
            if at.elapsed() < self.ttl {
                return Ok(list.clone());
            }
        }
        let list = Arc::new(store.tenant_cors_origins(tenant).await?);
        if !self.ttl.is_zero() {
            let mut map = self.origins.write().expect("cache lock");
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(tenant.clone(), (list.clone(), Instant::now()));
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

    /// Whether `last_used_at` of this secret is due a write (and marks it written).
    pub fn touch_due(&self, secret_id: &str, now: i64) -> bool {
        let mut map = self.touched.lock().expect("touch lock");
        match map.get(secret_id) {
            Some(last) if now - last < TOUCH_INTERVAL_SECS => false,
            _ => {
                if map.len() >= MAX_ENTRIES {
                    map.clear();
                }
                map.insert(secret_id.to_owned(), now);
                true
            }
        }
    }
}
