//! Per-tenant ES256 signing keys: created on first use, persisted, cached in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clavis_core::jose::{PublicJwk, SigningKey};
use clavis_core::TenantId;
use clavis_store::{Store, StoreError, StoredKey};

/// Key sets are re-read at least this often, so a key added on another node is seen.
const KEY_SET_TTL: Duration = Duration::from_secs(60);

pub struct TenantKeys {
    /// The key new tokens are signed with.
    pub signing: SigningKey,
    /// Every key whose tokens verify, published in the JWKS.
    pub public: Vec<PublicJwk>,
    loaded: Instant,
}

#[derive(Clone)]
pub struct Keys {
    store: Store,
    cache: Arc<RwLock<HashMap<TenantId, Arc<TenantKeys>>>>,
}

impl Keys {
    pub fn new(store: Store) -> Self {
        Self { store, cache: Arc::default() }
    }

    /// The tenant's keys, creating its first key if it has none.
    pub async fn for_tenant(&self, tenant: &TenantId) -> Result<Arc<TenantKeys>, StoreError> {
        if let Some(k) = self.cache.read().expect("keys lock").get(tenant) {
            if k.loaded.elapsed() < KEY_SET_TTL {
                return Ok(k.clone());
            }
        }
        let mut stored = self.store.active_signing_keys(tenant).await?;
        if stored.is_empty() {
            let (key, pkcs8) = SigningKey::generate();
            let record = StoredKey {
                kid: key.kid().to_owned(),
                alg: "ES256".into(),
                private_pkcs8: B64.encode(pkcs8),
                public_jwk: key.public_jwk().to_json().to_string(),
                status: "active".into(),
                created_at: clavis_core::time::now_unix(),
            };
            self.store.insert_signing_key(tenant, &record).await?;
            // Another node may have raced us: the oldest key wins everywhere.
            stored = self.store.active_signing_keys(tenant).await?;
        }
        let loaded = Self::load(&stored)?;
        let loaded = Arc::new(loaded);
        self.cache.write().expect("keys lock").insert(tenant.clone(), loaded.clone());
        Ok(loaded)
    }

    fn load(stored: &[StoredKey]) -> Result<TenantKeys, StoreError> {
        let corrupt = |kid: &str| StoreError::Corrupt(format!("signing key {kid}"));
        let first = stored.first().ok_or_else(|| corrupt("(none)"))?;
        let pkcs8 = B64.decode(&first.private_pkcs8).map_err(|_| corrupt(&first.kid))?;
        let signing = SigningKey::from_pkcs8(&pkcs8).map_err(|_| corrupt(&first.kid))?;
        let public = stored
            .iter()
            .map(|k| {
                serde_json::from_str(&k.public_jwk).ok().and_then(|v| PublicJwk::from_json(&v)).ok_or_else(|| corrupt(&k.kid))
            })
            .collect::<Result<_, _>>()?;
        Ok(TenantKeys { signing, public, loaded: Instant::now() })
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
