//! Hydra's JSON Web Key API mapped onto the tenant's signing keys.
//!
//! Clavis keeps one pool of signing keys per tenant, one active key per algorithm, and
//! signs ID tokens and JWT access tokens from it with the tenant's default algorithm for
//! each. Hydra's two key sets are two views of that pool: `hydra.openid.id-token` lists
//! the key ID tokens are signed with first, `hydra.jwt.access-token` the key of access
//! tokens. Putting a key into a set (made here or brought as a private JWK) makes it the
//! active key of its algorithm and that algorithm the set's default. Deleting a key ends
//! it at once (an active one is replaced by a new key first); deleting a set replaces
//! every key. Private parts never leave Clavis, and no other key sets are kept.

use clavis_core::jose::{Alg, PublicJwk, SigningKey};
use clavis_core::{TenantId, ValidationError};
use serde_json::Value;

use crate::{ServiceError, Services, SigningChange, TenantSettingsChange};

/// Hydra's names of the key sets that sign tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySet {
    IdToken,
    AccessToken,
}

impl KeySet {
    pub const NAMES: [&'static str; 2] = ["hydra.openid.id-token", "hydra.jwt.access-token"];

    /// The set called `name`; other sets do not exist in Clavis.
    pub fn parse(name: &str) -> Result<Self, ServiceError> {
        match name {
            "hydra.openid.id-token" => Ok(KeySet::IdToken),
            "hydra.jwt.access-token" => Ok(KeySet::AccessToken),
            _ => Err(ServiceError::NotFound("key set (Clavis keeps hydra.openid.id-token and hydra.jwt.access-token)")),
        }
    }

    fn change(self, alg: Alg) -> SigningChange {
        let name = Some(alg.as_str().to_owned());
        match self {
            KeySet::IdToken => SigningChange { id_token: name, access_token: None },
            KeySet::AccessToken => SigningChange { id_token: None, access_token: name },
        }
    }
}

fn invalid(field: &str, message: &str) -> ServiceError {
    ValidationError::new(field, message).into()
}

/// An admin's `kid`: printable ASCII, at most 128 characters.
fn check_kid(kid: &str) -> Result<(), ServiceError> {
    if kid.is_empty() || kid.len() > 128 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid("kid", "must be 1 to 128 printable ASCII characters"));
    }
    Ok(())
}

impl Services {
    /// The set's published keys: the one the set signs with first, then the other active
    /// keys, then those that only verify.
    pub async fn key_set(&self, t: &TenantId, set: KeySet) -> Result<Vec<PublicJwk>, ServiceError> {
        let keys = self.keys.for_tenant(t).await?;
        let first = match set {
            KeySet::IdToken => keys.defaults.id_token,
            KeySet::AccessToken => keys.defaults.access_token,
        };
        let active: Vec<&str> = std::iter::once(first).chain(Alg::ALL.into_iter().filter(|a| *a != first)).map(|a| keys.signer(a).kid()).collect();
        let mut out: Vec<PublicJwk> = active.iter().filter_map(|kid| keys.find(kid).cloned()).collect();
        out.extend(keys.public.iter().filter(|k| !active.contains(&k.kid.as_str())).cloned());
        Ok(out)
    }

    /// One published key of the set.
    pub async fn key_in_set(&self, t: &TenantId, set: KeySet, kid: &str) -> Result<PublicJwk, ServiceError> {
        self.key_set(t, set).await?.into_iter().find(|k| k.kid == kid).ok_or(ServiceError::NotFound("key"))
    }

    /// A new key of `alg` for the set (Hydra's createJsonWebKeySet); `kid` empty names it
    /// by its thumbprint.
    pub async fn create_set_key(&self, t: &TenantId, set: KeySet, alg: &str, kid: &str, key_use: &str) -> Result<PublicJwk, ServiceError> {
        let alg = Alg::parse(alg).ok_or_else(|| invalid("alg", "must be RS256, PS256, ES256 or EdDSA"))?;
        if !matches!(key_use, "" | "sig") {
            return Err(invalid("use", "Clavis keeps signing keys only (use: sig)"));
        }
        let (key, pkcs8) = tokio::task::spawn_blocking(move || SigningKey::generate(alg)).await.expect("key generation does not panic");
        let key = if kid.is_empty() {
            key
        } else {
            check_kid(kid)?;
            key.with_kid(kid)
        };
        self.install_set_keys(t, set, vec![(key, pkcs8)]).await.map(|mut v| v.remove(0))
    }

    /// Keys brought as private JWKs (setJsonWebKey, setJsonWebKeySet): each becomes the
    /// active key of its algorithm, all or none. `path_kid` is the kid the path names.
    pub async fn import_set_keys(&self, t: &TenantId, set: KeySet, jwks: &[Value], path_kid: Option<&str>) -> Result<Vec<PublicJwk>, ServiceError> {
        if jwks.is_empty() || jwks.len() > Alg::ALL.len() {
            return Err(invalid("keys", "must hold one key per algorithm, at most four"));
        }
        let mut keys: Vec<(SigningKey, Vec<u8>)> = Vec::with_capacity(jwks.len());
        for jwk in jwks {
            let (key, pkcs8) = clavis_core::private_jwk::from_private_jwk(jwk).map_err(|m| invalid("keys", m))?;
            check_kid(key.kid())?;
            if path_kid.is_some_and(|p| p != key.kid()) {
                return Err(invalid("kid", "must be the kid of the path"));
            }
            if keys.iter().any(|(k, _)| k.alg() == key.alg()) {
                return Err(invalid("keys", "one key per algorithm: each becomes that algorithm's active key"));
            }
            keys.push((key, pkcs8));
        }
        self.install_set_keys(t, set, keys).await
    }

    async fn install_set_keys(&self, t: &TenantId, set: KeySet, keys: Vec<(SigningKey, Vec<u8>)>) -> Result<Vec<PublicJwk>, ServiceError> {
        let first_alg = keys[0].0.alg();
        let mut out = Vec::with_capacity(keys.len());
        for (key, pkcs8) in keys {
            out.push(key.public_jwk());
            self.keys.install(t, &key, &pkcs8).await.map_err(ServiceError::store("key"))?;
        }
        self.change_tenant_settings(t, TenantSettingsChange { signing: Some(set.change(first_alg)), ..Default::default() }).await?;
        Ok(out)
    }

    /// Ends one key at once: tokens it signed stop verifying. An active key is first
    /// replaced by a new key of its algorithm.
    pub async fn delete_set_key(&self, t: &TenantId, kid: &str) -> Result<(), ServiceError> {
        let keys = self.keys.list(t).await?;
        let key = keys.iter().find(|k| k.kid == kid && k.status != "retired").ok_or(ServiceError::NotFound("key"))?;
        if key.status == "active" {
            let alg = Alg::parse(&key.alg).ok_or_else(|| ServiceError::Internal { detail: format!("key {kid} has no algorithm"), source: None })?;
            self.keys.rotate(t, Some(alg)).await?;
        }
        self.keys.retire(t, kid).await
    }

    /// Replaces every key of the tenant at once (both sets are one pool): every token
    /// signed so far stops verifying.
    pub async fn delete_key_sets(&self, t: &TenantId) -> Result<(), ServiceError> {
        self.keys.rotate(t, None).await?;
        self.store.retire_verify_keys(t).await?;
        self.keys.reload(t).await?;
        Ok(())
    }
}
