//! Subject identifiers (OpenID Connect Core §8): `public` clients see the login app's
//! subject as it is; `pairwise` clients see a `sub` of their own sector, stable for it and
//! different for every other sector, so that two relying parties cannot correlate a user.
//!
//! Decisions:
//! - The sector is the host of the client's `sector_identifier_uri`, or, without one, the
//!   host of its redirect URIs (registration requires them to share one host then).
//! - `sub` = base64url(HMAC-SHA256(tenant secret, sector ‖ 0x00 ‖ subject)). The secret is
//!   made on first use and kept with the tenant (schema v13), the same on every node.
//! - ID tokens (from the authorization and token endpoints) and userinfo carry the
//!   pairwise `sub`. Access tokens, introspection and the login, consent and logout apps
//!   keep the tenant's own subject: resource servers and those apps belong to the tenant
//!   and must know which user it is.
//! - The `sector_identifier_uri` document (a JSON array of URIs that must list every
//!   redirect URI, §8.1) is fetched through the outbound client when a pairwise client is
//!   registered or changed; a failure is refused without its cause (logged).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use clavis_core::{ids, Client, TenantId, ValidationError};
use ring::hmac;
use serde_json::Value;

use crate::outbound;
use crate::{ServiceError, Services};

/// The largest `sector_identifier_uri` document read.
const SECTOR_DOCUMENT_MAX_BYTES: usize = 64 * 1024;

/// The tenants' pairwise secrets, once read: they never change.
#[derive(Default)]
pub(crate) struct PairwiseSalts(Mutex<HashMap<TenantId, Arc<str>>>);

/// The host `client`'s pairwise identifiers are computed for.
pub(crate) fn sector_of(client: &Client) -> String {
    let host = |u: &str| url::Url::parse(u).ok().and_then(|u| u.host_str().map(str::to_owned));
    let h = &client.extras.hydra;
    let from =
        if h.sector_identifier_uri.is_empty() { client.redirect_uris.first().map(String::as_str) } else { Some(h.sector_identifier_uri.as_str()) };
    from.and_then(host).unwrap_or_default()
}

impl Services {
    /// The `sub` that ID tokens and userinfo show `client` for the tenant's `subject`.
    pub(crate) async fn subject_for(&self, t: &TenantId, client: &Client, subject: &str) -> Result<String, clavis_store::StoreError> {
        if !client.extras.hydra.is_pairwise() {
            return Ok(subject.to_owned());
        }
        let salt = self.pairwise_salt(t).await?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, salt.as_bytes());
        let mut mac = hmac::Context::with_key(&key);
        mac.update(sector_of(client).as_bytes());
        mac.update(&[0]);
        mac.update(subject.as_bytes());
        Ok(B64.encode(mac.sign().as_ref()))
    }

    pub(crate) async fn pairwise_salt(&self, t: &TenantId) -> Result<Arc<str>, clavis_store::StoreError> {
        if let Some(salt) = self.pairwise_salts.0.lock().expect("salts").get(t) {
            return Ok(salt.clone());
        }
        let stored = self.store.pairwise_salt(t, &ids::random_token(32)).await?;
        let salt: Arc<str> = stored.ok_or_else(|| clavis_store::StoreError::Corrupt(format!("tenant {t} has no row")))?.into();
        self.pairwise_salts.0.lock().expect("salts").insert(t.clone(), salt.clone());
        Ok(salt)
    }

    /// A key for `label`'s use, derived from the tenant's secret (its pairwise salt): the
    /// same on every node, and apart from every other use by its label.
    pub(crate) async fn tenant_key(&self, t: &TenantId, label: &[u8]) -> Result<ring::hmac::Key, clavis_store::StoreError> {
        use ring::hmac;
        let salt = self.pairwise_salt(t).await?;
        let derived = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, salt.as_bytes()), label);
        Ok(hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()))
    }

    /// A pairwise client with a `sector_identifier_uri`: the document there must be a JSON
    /// array listing every one of its redirect URIs (OpenID Connect Core §8.1).
    pub(crate) async fn check_sector_identifier(&self, client: &Client) -> Result<(), ServiceError> {
        let uri = &client.extras.hydra.sector_identifier_uri;
        if !client.extras.hydra.is_pairwise() || uri.is_empty() {
            return Ok(());
        }
        let refused = || ValidationError::new("sector_identifier_uri", "could not be fetched as a JSON array of URIs");
        let doc = match self.outbound.get_json_limited(uri, SECTOR_DOCUMENT_MAX_BYTES).await {
            Ok(doc) => doc,
            Err(e) => {
                tracing::warn!(client_id = %client.client_id, uri = %outbound::loggable(uri), error = %e, "sector_identifier_uri fetch failed");
                return Err(refused().into());
            }
        };
        let listed: Vec<&str> = match &doc {
            Value::Array(items) => items.iter().map(Value::as_str).collect::<Option<_>>().ok_or_else(refused)?,
            _ => return Err(refused().into()),
        };
        if let Some(missing) = client.redirect_uris.iter().find(|r| !listed.contains(&r.as_str())) {
            return Err(ValidationError::new("sector_identifier_uri", format!("does not list the redirect URI {missing}")).into());
        }
        Ok(())
    }
}
