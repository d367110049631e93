//! Documents fetched from a client's URLs: its key set (`jwks_uri`) and its request
//! objects by reference (`request_uri`, RFC 9101 §5.2). Fetched through [`Outbound`],
//! cached per (tenant, client, URI), failures included, with at most one fetch in flight
//! per entry.
//!
//! Anyone can make Clavis look at these URLs (an assertion or an authorization request
//! needs no prior authentication), so the cost of that path must not depend on how many
//! requests arrive: a URI is fetched at most once per [`Document::refetch_min`] whatever it
//! answers, and concurrent requests share one fetch.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clavis_core::TenantId;
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::outbound::{self, Outbound};

/// As an inline `jwks` may be.
pub(crate) const JWKS_MAX_BYTES: usize = 64 * 1024;
/// As a `request` by value may be.
pub(crate) const REQUEST_OBJECT_MAX_BYTES: usize = 32 * 1024;

/// What a cache holds, which says how it is fetched and how long it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    /// A JWK Set, trimmed to what verification reads.
    Jwks,
    /// A request object (a compact JWS, as a JSON string). OpenID Connect Core §6.2 lets the
    /// server cache it: a client that changes the document changes the URI's fragment
    /// (part of the cache key), so the time it is used is short and only bounds staleness
    /// for clients that do not.
    RequestObject,
}

impl Document {
    /// A fetched document is used this long (an unknown key re-fetches a key set sooner).
    pub(crate) fn ttl(self) -> Duration {
        match self {
            Document::Jwks => Duration::from_secs(300),
            Document::RequestObject => Duration::from_secs(30),
        }
    }

    /// The least time between two fetches of one entry, successful or not.
    pub(crate) fn refetch_min(self) -> Duration {
        match self {
            Document::Jwks => Duration::from_secs(30),
            Document::RequestObject => Duration::from_secs(10),
        }
    }

    async fn fetch(self, outbound: &Outbound, uri: &str) -> Result<Value, String> {
        match self {
            Document::Jwks => fetch_jwks(outbound, uri).await,
            Document::RequestObject => fetch_request_object(outbound, uri).await,
        }
    }
}
/// Bounds of the cache: entries, and their approximate memory (see `weight`). The
/// least recently used entries go first.
const MAX_ENTRIES: usize = 10_000;
const MAX_WEIGHT: usize = 32 << 20;

type Key = (TenantId, String, String);

#[derive(Default)]
struct Slot {
    /// The last document fetched, and when; used until its `ttl` after that.
    keys: Option<(Arc<Value>, Instant)>,
    /// When the last fetch started, whatever came of it.
    attempted: Option<Instant>,
    /// Set while a fetch runs: it turns `true` when the fetch is done.
    inflight: Option<watch::Receiver<bool>>,
}

impl Slot {
    fn usable(&self, ttl: Duration) -> Option<Arc<Value>> {
        self.keys.as_ref().filter(|(_, at)| at.elapsed() < ttl).map(|(k, _)| k.clone())
    }
}

#[derive(Default)]
struct Cache {
    slots: HashMap<Key, (Arc<Mutex<Slot>>, u64)>,
    /// Fetch order: sequence number → key, oldest first.
    order: BTreeMap<u64, Key>,
    next: u64,
    weight: usize,
    weights: HashMap<Key, usize>,
}

/// One cache of one kind of document.
pub(crate) struct Fetcher {
    document: Document,
    outbound: Arc<Outbound>,
    cache: Arc<Mutex<Cache>>,
}

/// The document could not be obtained; the cause was logged.
#[derive(Debug)]
pub(crate) struct Unavailable;

impl Fetcher {
    pub fn new(document: Document, outbound: Arc<Outbound>) -> Self {
        Self { document, outbound, cache: Arc::default() }
    }

    /// The document at `uri`. `refresh` (an assertion named a key the cached set lacks)
    /// fetches again unless the last fetch started less than `refetch_min` ago.
    pub async fn get(&self, t: &TenantId, client_id: &str, uri: &str, refresh: bool) -> Result<Arc<Value>, Unavailable> {
        let key: Key = (t.clone(), client_id.to_owned(), uri.to_owned());
        let (ttl, refetch_min) = (self.document.ttl(), self.document.refetch_min());
        let slot = self.slot(&key);
        let mut rx = {
            let mut s = slot.lock().expect("fetch slot");
            if let (Some(k), false) = (s.usable(ttl), refresh) {
                return Ok(k);
            }
            // A fetch still running is waited for; one whose task died without saying
            // done (a panic) counts as finished.
            let running = s.inflight.as_ref().filter(|rx| rx.has_changed().is_ok() && !*rx.borrow()).cloned();
            match running {
                Some(rx) => rx,
                None if s.attempted.is_some_and(|at| at.elapsed() < refetch_min) => return s.usable(ttl).ok_or(Unavailable),
                None => {
                    s.attempted = Some(Instant::now());
                    let (tx, rx) = watch::channel(false);
                    s.inflight = Some(rx.clone());
                    self.spawn_fetch(key, slot.clone(), tx);
                    rx
                }
            }
        };
        let _ = rx.wait_for(|done| *done).await;
        // What that fetch left: new keys, or (it failed) the previous ones while usable.
        let s = slot.lock().expect("fetch slot");
        s.usable(ttl).ok_or(Unavailable)
    }

    /// The fetch runs as its own task so that a request giving up (its client hung up)
    /// neither cancels it for the others waiting nor lets the next one start another.
    fn spawn_fetch(&self, key: Key, slot: Arc<Mutex<Slot>>, done: watch::Sender<bool>) {
        let (document, outbound, cache) = (self.document, self.outbound.clone(), self.cache.clone());
        tokio::spawn(async move {
            let (t, client_id, uri) = &key;
            let result = document.fetch(&outbound, uri).await;
            let weight = {
                let mut s = slot.lock().expect("fetch slot");
                match result {
                    Ok(doc) => {
                        tracing::debug!(tenant = %t, client_id, ?document, uri = %outbound::loggable(uri), "client document fetched");
                        s.keys = Some((Arc::new(doc), Instant::now()));
                    }
                    Err(e) => tracing::warn!(tenant = %t, client_id, ?document, uri = %outbound::loggable(uri), error = %e,
                        "client document fetch failed; the previous one (if any) stays usable until it expires"),
                }
                s.inflight = None;
                weight(&key, s.keys.as_ref().map_or(&Value::Null, |(k, _)| k))
            };
            cache.lock().expect("fetch cache").reweigh(&key, weight);
            let _ = done.send(true);
        });
    }

    /// The entry of `key`, created if new; either way it becomes the most recent one.
    fn slot(&self, key: &Key) -> Arc<Mutex<Slot>> {
        let mut c = self.cache.lock().expect("fetch cache");
        c.next += 1;
        let seq = c.next;
        let slot = match c.slots.get_mut(key) {
            Some((slot, old)) => {
                let (slot, old) = (slot.clone(), std::mem::replace(old, seq));
                c.order.remove(&old);
                slot
            }
            None => {
                let slot = Arc::new(Mutex::new(Slot::default()));
                c.slots.insert(key.clone(), (slot.clone(), seq));
                c.weights.insert(key.clone(), weight(key, &Value::Null));
                c.weight += weight(key, &Value::Null);
                slot
            }
        };
        c.order.insert(seq, key.clone());
        c.evict();
        slot
    }
}

impl Cache {
    fn reweigh(&mut self, key: &Key, w: usize) {
        if let Some(old) = self.weights.get_mut(key) {
            self.weight = self.weight - *old + w;
            *old = w;
        }
        self.evict();
    }

    /// Drops the least recently used entries until both bounds hold. A request holding
    /// an evicted slot still finishes with it; the next one starts afresh.
    fn evict(&mut self) {
        while self.slots.len() > MAX_ENTRIES || self.weight > MAX_WEIGHT {
            let Some((_, key)) = self.order.pop_first() else { break };
            self.slots.remove(&key);
            self.weight -= self.weights.remove(&key).unwrap_or(0);
        }
    }
}

/// Fetches, checks and trims a key set.
async fn fetch_jwks(outbound: &Outbound, uri: &str) -> Result<Value, String> {
    let body = outbound.get_limited(uri, JWKS_MAX_BYTES, "application/jwk-set+json, application/json").await.map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&body).map_err(|_| "document is not UTF-8".to_owned())?;
    clavis_core::client::check_jwks(text).map_err(|e| format!("document refused: {e}"))?;
    let doc: Value = serde_json::from_str(text).map_err(|_| "document is not JSON".to_owned())?;
    Ok(trim(&doc))
}

/// Fetches a request object: a compact JWS (or an unsigned JWT), whitespace around it
/// ignored. The fragment is not sent (OpenID Connect Core §6.2: it names the version).
async fn fetch_request_object(outbound: &Outbound, uri: &str) -> Result<Value, String> {
    let without_fragment = uri.split('#').next().unwrap_or(uri);
    let body = outbound
        .get_limited(without_fragment, REQUEST_OBJECT_MAX_BYTES, "application/oauth-authz-req+jwt, application/jwt")
        .await
        .map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&body).map_err(|_| "document is not UTF-8".to_owned())?.trim();
    let compact = text.split('.').count() == 3 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !compact {
        return Err("document is not a compact JWT".into());
    }
    Ok(Value::String(text.to_owned()))
}

/// Only the members verification reads, and only string ones (verification ignores the
/// others): what is cached stays proportional to the key material, whatever else the
/// document carried.
fn trim(doc: &Value) -> Value {
    const MEMBERS: [&str; 9] = ["kty", "kid", "use", "alg", "crv", "x", "y", "n", "e"];
    let keys = doc["keys"].as_array().map(Vec::as_slice).unwrap_or_default();
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| {
            let kept: Map<String, Value> =
                MEMBERS.iter().filter_map(|m| k.get(*m).filter(|v| v.is_string()).map(|v| ((*m).to_owned(), v.clone()))).collect();
            Value::Object(kept)
        })
        .collect();
    serde_json::json!({ "keys": keys })
}

/// Approximate bytes an entry holds: its key strings, the trimmed key set's strings,
/// and a fixed allowance per JSON node and per entry.
fn weight(key: &Key, keys: &Value) -> usize {
    fn json(v: &Value) -> usize {
        64 + match v {
            Value::String(s) => s.len(),
            Value::Array(a) => a.iter().map(json).sum(),
            Value::Object(o) => o.iter().map(|(k, v)| k.len() + json(v)).sum(),
            _ => 0,
        }
    }
    256 + key.0.as_str().len() + key.1.len() + key.2.len() + json(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Allowlist;

    fn key(i: usize) -> Key {
        (TenantId::default_tenant(), format!("client-{i}"), format!("https://keys.example/{i}"))
    }

    #[tokio::test]
    async fn the_cache_is_bounded_and_evicts_the_least_recently_used_entries() {
        let f = Fetcher::new(Document::Jwks, Arc::new(Outbound::new(Allowlist::default())));
        for i in 0..MAX_ENTRIES {
            f.slot(&key(i));
        }
        f.slot(&key(0)); // used again: now the most recent
        for i in MAX_ENTRIES..MAX_ENTRIES + 3 {
            f.slot(&key(i));
        }
        let c = f.cache.lock().unwrap();
        assert_eq!(c.slots.len(), MAX_ENTRIES);
        assert_eq!((c.order.len(), c.weights.len()), (MAX_ENTRIES, MAX_ENTRIES));
        assert!(c.slots.contains_key(&key(0)));
        assert!(!c.slots.contains_key(&key(1)) && !c.slots.contains_key(&key(3)), "the oldest went");
        assert!(c.slots.contains_key(&key(4)) && c.slots.contains_key(&key(MAX_ENTRIES + 2)));
        assert_eq!(c.weight, c.weights.values().sum::<usize>());
    }

    #[tokio::test]
    async fn heavy_entries_push_out_old_ones_by_weight() {
        let f = Fetcher::new(Document::Jwks, Arc::new(Outbound::new(Allowlist::default())));
        let big = serde_json::json!({"keys": [{"kty": "RSA", "n": "A".repeat(60_000), "e": "AQAB"}]});
        for i in 0..1000 {
            f.slot(&key(i));
            f.cache.lock().unwrap().reweigh(&key(i), weight(&key(i), &big));
        }
        let c = f.cache.lock().unwrap();
        assert!(c.weight <= MAX_WEIGHT);
        assert!(c.slots.len() < 1000 && c.slots.contains_key(&key(999)) && !c.slots.contains_key(&key(0)));
    }

    #[test]
    fn only_what_verification_reads_is_kept() {
        let doc = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "eA", "y": "eQ", "kid": "k1", "use": "sig",
            "alg": 7, "x5c": ["MII…"], "junk": [0, 0, 0, 0]}], "other": "x"});
        assert_eq!(trim(&doc), serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "eA", "y": "eQ", "kid": "k1", "use": "sig"}]}));
    }
}
