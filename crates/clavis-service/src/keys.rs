//! Per-tenant ES256 signing keys: created on first use, persisted, cached in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clavis_core::jose::{PublicJwk, SigningKey};
use clavis_core::time::Clock;
use clavis_core::TenantId;
use clavis_store::{Store, StoreError, StoredKey};

/// Key sets are re-read at least this often (seconds), so a key added or retired on
/// another node is seen.
const KEY_SET_TTL: i64 = 60;
/// How often (seconds) a token with an unknown `kid` may trigger a re-read of the key set.
const UNKNOWN_KID_RELOAD: i64 = 5;

/// A key as listed: `status` is `active` (signs), `verify` (published) or `retired`.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub status: String,
    pub created_at: i64,
}

pub struct TenantKeys {
    /// The key new tokens are signed with.
    pub signing: SigningKey,
    /// Every key whose tokens verify, published in the JWKS.
    pub public: Vec<PublicJwk>,
    /// When this set was read (clock seconds).
    loaded: i64,
}

#[derive(Clone)]
pub struct Keys {
    store: Store,
    clock: Arc<dyn Clock>,
    cache: Arc<RwLock<HashMap<TenantId, Arc<TenantKeys>>>>,
}

impl Keys {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock, cache: Arc::default() }
    }

    fn age(&self, keys: &TenantKeys) -> i64 {
        self.clock.now_unix() - keys.loaded
    }

    /// The tenant's keys, creating its first key if it has none.
    pub async fn for_tenant(&self, tenant: &TenantId) -> Result<Arc<TenantKeys>, StoreError> {
        if let Some(k) = self.cache.read().expect("keys lock").get(tenant) {
            if self.age(k) < KEY_SET_TTL {
                return Ok(k.clone());
            }
        }
        self.reload(tenant).await
    }

    /// The public key `kid` of the tenant. An unknown kid re-reads the key set (at most
    /// every few seconds), so a key rotated on another node verifies here too.
    pub async fn find(&self, tenant: &TenantId, kid: &str) -> Result<Option<PublicJwk>, StoreError> {
        let keys = self.for_tenant(tenant).await?;
        if let Some(k) = keys.find(kid) {
            return Ok(Some(k.clone()));
        }
        if self.age(&keys) < UNKNOWN_KID_RELOAD {
            return Ok(None);
        }
        Ok(self.reload(tenant).await?.find(kid).cloned())
    }

    async fn reload(&self, tenant: &TenantId) -> Result<Arc<TenantKeys>, StoreError> {
        let mut stored = self.store.active_signing_keys(tenant).await?;
        if stored.is_empty() {
            self.store.insert_signing_key(tenant, &new_key(self.clock.now_unix())).await?;
            // Another node may have raced us: the oldest key wins everywhere.
            stored = self.store.active_signing_keys(tenant).await?;
        }
        let loaded = Arc::new(Self::load(&stored, self.clock.now_unix())?);
        self.cache.write().expect("keys lock").insert(tenant.clone(), loaded.clone());
        Ok(loaded)
    }

    /// A new signing key; the previous ones keep verifying until retired. Returns its kid.
    pub async fn rotate(&self, tenant: &TenantId) -> Result<String, StoreError> {
        let key = new_key(self.clock.now_unix());
        self.store.rotate_signing_key(tenant, &key).await?;
        self.reload(tenant).await?;
        Ok(key.kid)
    }

    /// Stops publishing a verify-only key; the signing key cannot be retired.
    pub async fn retire(&self, tenant: &TenantId, kid: &str) -> Result<(), crate::ServiceError> {
        let keys = self.store.list_signing_keys(tenant).await?;
        match keys.iter().find(|k| k.kid == kid) {
            None => return Err(crate::ServiceError::NotFound("key")),
            Some(k) if k.status == "active" => return Err(crate::ServiceError::Refused("the signing key cannot be retired; rotate first".into())),
            Some(k) if k.status == "retired" => return Ok(()),
            Some(_) => {}
        }
        self.store.retire_signing_key(tenant, kid).await?;
        self.reload(tenant).await?;
        Ok(())
    }

    /// The tenant's keys without their private parts: `(kid, alg, status, created_at)`.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<KeyInfo>, StoreError> {
        self.for_tenant(tenant).await?;
        Ok(self
            .store
            .list_signing_keys(tenant)
            .await?
            .into_iter()
            .map(|k| KeyInfo { kid: k.kid, alg: k.alg, status: k.status, created_at: k.created_at })
            .collect())
    }

    fn load(stored: &[StoredKey], now: i64) -> Result<TenantKeys, StoreError> {
        let corrupt = |kid: &str| StoreError::Corrupt(format!("signing key {kid}"));
        let signer = stored.iter().find(|k| k.status == "active").ok_or_else(|| corrupt("(no active key)"))?;
        let pkcs8 = B64.decode(&signer.private_pkcs8).map_err(|_| corrupt(&signer.kid))?;
        let signing = SigningKey::from_pkcs8(&pkcs8).map_err(|_| corrupt(&signer.kid))?;
        let public = stored
            .iter()
            .map(|k| serde_json::from_str(&k.public_jwk).ok().and_then(|v| PublicJwk::from_json(&v)).ok_or_else(|| corrupt(&k.kid)))
            .collect::<Result<_, _>>()?;
        Ok(TenantKeys { signing, public, loaded: now })
    }
}

fn new_key(now: i64) -> StoredKey {
    let (key, pkcs8) = SigningKey::generate();
    StoredKey {
        kid: key.kid().to_owned(),
        alg: "ES256".into(),
        private_pkcs8: B64.encode(pkcs8),
        public_jwk: key.public_jwk().to_json().to_string(),
        status: "active".into(),
        created_at: now,
    }
}

impl TenantKeys {
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        self.public.iter().find(|k| k.kid == kid)
    }

    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.public.iter().map(PublicJwk::to_json).collect::<Vec<_>>() })
    }
}
