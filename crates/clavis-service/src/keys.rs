//! Per-tenant signing keys, one active key per algorithm (RS256, PS256, ES256, EdDSA):
//! created on first use, persisted, parsed once and kept in memory with the tenant's
//! default algorithms.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clavis_core::jose::{Alg, PublicJwk, SigningKey};
use clavis_core::time::Clock;
use clavis_core::{Client, SigningDefaults, TenantId};
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
    /// The keys new tokens are signed with, in the order of [`Alg::ALL`].
    signers: Vec<SigningKey>,
    /// Every key whose tokens verify, published in the JWKS.
    pub public: Vec<PublicJwk>,
    /// The tenant's algorithms where a client names none.
    pub defaults: SigningDefaults,
    /// When this set was read (clock seconds).
    loaded: i64,
}

#[derive(Clone)]
pub struct Keys {
    store: Store,
    clock: Arc<dyn Clock>,
    cache: Arc<RwLock<HashMap<TenantId, Arc<TenantKeys>>>>,
    /// Held while a tenant's missing keys are made, so concurrent first requests make
    /// them once (an RSA key costs tens of milliseconds of CPU).
    creating: Arc<tokio::sync::Mutex<()>>,
}

impl Keys {
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock, cache: Arc::default(), creating: Arc::default() }
    }

    fn age(&self, keys: &TenantKeys) -> i64 {
        self.clock.now_unix() - keys.loaded
    }

    /// The tenant's keys, creating the keys it lacks.
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

    /// Re-reads the tenant's keys and defaults (after a change of its settings).
    pub async fn reload(&self, tenant: &TenantId) -> Result<Arc<TenantKeys>, StoreError> {
        let mut stored = self.store.active_signing_keys(tenant).await?;
        if missing(&stored).next().is_some() {
            let _one_at_a_time = self.creating.lock().await;
            stored = self.store.active_signing_keys(tenant).await?;
            for key in new_keys(missing(&stored).collect(), self.clock.now_unix()).await {
                self.store.insert_signing_key(tenant, &key).await?;
            }
            // Another node may have raced us: the oldest key wins everywhere.
            stored = self.store.active_signing_keys(tenant).await?;
        }
        let defaults = self.store.tenant_settings(tenant).await?.signing.unwrap_or_default();
        let loaded = Arc::new(Self::load(&stored, defaults, self.clock.now_unix())?);
        self.cache.write().expect("keys lock").insert(tenant.clone(), loaded.clone());
        Ok(loaded)
    }

    /// A new signing key for `alg`, or for every algorithm; the previous ones keep
    /// verifying until retired. Returns the new kids.
    pub async fn rotate(&self, tenant: &TenantId, alg: Option<Alg>) -> Result<Vec<String>, StoreError> {
        self.for_tenant(tenant).await?;
        let mut kids = Vec::new();
        for key in new_keys(alg.map_or(Alg::ALL.to_vec(), |a| vec![a]), self.clock.now_unix()).await {
            self.store.rotate_signing_key(tenant, &key).await?;
            kids.push(key.kid);
        }
        self.reload(tenant).await?;
        Ok(kids)
    }

    /// Makes `key` (with its PKCS#8 document) the active key of its algorithm; the
    /// previous one keeps verifying until retired.
    pub async fn install(&self, tenant: &TenantId, key: &SigningKey, pkcs8: &[u8]) -> Result<(), StoreError> {
        self.for_tenant(tenant).await?;
        let stored = StoredKey {
            kid: key.kid().to_owned(),
            alg: key.alg().as_str().into(),
            private_pkcs8: B64.encode(pkcs8),
            public_jwk: key.public_jwk().to_json().to_string(),
            status: "active".into(),
            created_at: self.clock.now_unix(),
        };
        self.store.rotate_signing_key(tenant, &stored).await?;
        self.reload(tenant).await?;
        Ok(())
    }

    /// Stops publishing a verify-only key; a signing key cannot be retired.
    pub async fn retire(&self, tenant: &TenantId, kid: &str) -> Result<(), crate::ServiceError> {
        let keys = self.store.list_signing_keys(tenant).await?;
        match keys.iter().find(|k| k.kid == kid) {
            None => return Err(crate::ServiceError::NotFound("key")),
            Some(k) if k.status == "active" => return Err(crate::ServiceError::Refused("a signing key cannot be retired; rotate first".into())),
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

    fn load(stored: &[StoredKey], defaults: SigningDefaults, now: i64) -> Result<TenantKeys, StoreError> {
        let corrupt = |kid: &str| StoreError::Corrupt(format!("signing key {kid}"));
        let signers = Alg::ALL
            .iter()
            .map(|alg| {
                let signer = stored.iter().find(|k| k.status == "active" && k.alg == alg.as_str()).ok_or_else(|| corrupt(alg.as_str()))?;
                let pkcs8 = B64.decode(&signer.private_pkcs8).map_err(|_| corrupt(&signer.kid))?;
                SigningKey::from_pkcs8(*alg, &pkcs8).map(|k| k.with_kid(&signer.kid)).map_err(|_| corrupt(&signer.kid))
            })
            .collect::<Result<_, _>>()?;
        let public = stored
            .iter()
            .map(|k| serde_json::from_str(&k.public_jwk).ok().and_then(|v| PublicJwk::from_json(&v)).ok_or_else(|| corrupt(&k.kid)))
            .collect::<Result<_, _>>()?;
        Ok(TenantKeys { signers, public, defaults, loaded: now })
    }
}

/// The algorithms without an active key in `stored`.
fn missing(stored: &[StoredKey]) -> impl Iterator<Item = Alg> + '_ {
    Alg::ALL.into_iter().filter(|a| !stored.iter().any(|k| k.status == "active" && k.alg == a.as_str()))
}

/// New keys of `algs`, made in parallel off the async runtime (an RSA key takes a CPU
/// core some 100–300 ms).
async fn new_keys(algs: Vec<Alg>, now: i64) -> Vec<StoredKey> {
    let jobs: Vec<_> = algs.into_iter().map(|alg| tokio::task::spawn_blocking(move || SigningKey::generate(alg))).collect();
    let mut keys = Vec::with_capacity(jobs.len());
    for job in jobs {
        let (key, pkcs8) = job.await.expect("key generation does not panic");
        keys.push(StoredKey {
            kid: key.kid().to_owned(),
            alg: key.alg().as_str().into(),
            private_pkcs8: B64.encode(pkcs8),
            public_jwk: key.public_jwk().to_json().to_string(),
            status: "active".into(),
            created_at: now,
        });
    }
    keys
}

impl TenantKeys {
    pub fn find(&self, kid: &str) -> Option<&PublicJwk> {
        self.public.iter().find(|k| k.kid == kid)
    }

    /// The active key of `alg`.
    pub fn signer(&self, alg: Alg) -> &SigningKey {
        let i = Alg::ALL.iter().position(|a| *a == alg).expect("every algorithm is in ALL");
        &self.signers[i]
    }

    /// The key for the client's ID tokens: its `id_token_signed_response_alg`, else the
    /// tenant's default.
    pub fn id_token_signer(&self, client: &Client) -> &SigningKey {
        let chosen = Alg::parse(&client.extras.hydra.id_token_signed_response_alg).or(client.fapi_profile.default_alg());
        self.signer(chosen.unwrap_or(self.defaults.id_token))
    }

    /// The key for the client's JWT access tokens.
    pub fn access_token_signer(&self, client: &Client) -> &SigningKey {
        self.signer(Alg::parse(&client.extras.hydra.access_token_signed_response_alg).unwrap_or(self.defaults.access_token))
    }

    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.public.iter().map(PublicJwk::to_json).collect::<Vec<_>>() })
    }
}
