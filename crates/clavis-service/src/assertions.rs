//! Client authentication by assertion: `private_key_jwt` (keys from the client's `jwks`
//! or its fetched and cached `jwks_uri`) and `client_secret_jwt` (HMAC with the client's
//! sealed secret). Every assertion is single use until it expires, on every node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use clavis_core::assertion::{AssertionKind, ClientAssertion};
use clavis_core::{secret, time, AuthMethod, Client, ClientStatus, TenantId};
use serde_json::Value;

use crate::registry::seal_aad;
use crate::{ClientRef, OAuthError, Services};

/// The longest an assertion may live: `exp` at most this far ahead. One hour, because
/// common client libraries (authlib) sign assertions for exactly that long.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 3600;
const CLOCK_SKEW_SECS: i64 = 30;
/// A fetched `jwks_uri` is used this long; an unknown key re-fetches it (at most every
/// `JWKS_REFETCH_MIN`).
const JWKS_TTL: Duration = Duration::from_secs(300);
const JWKS_REFETCH_MIN: Duration = Duration::from_secs(30);
const JWKS_MAX_BYTES: usize = 64 * 1024;

/// (tenant, client_id, jwks_uri) → the fetched key set and when it was fetched.
type JwksCache = HashMap<(TenantId, String, String), (Arc<Value>, Instant)>;

pub(crate) struct JwksFetcher {
    http: reqwest::Client,
    /// Keyed by tenant, client and URI: a changed `jwks_uri` is fetched at once.
    cache: RwLock<JwksCache>,
}

impl JwksFetcher {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self { http, cache: RwLock::default() }
    }

    /// The client's key set from its `jwks_uri`; `refresh` re-fetches unless the cached
    /// copy is very fresh.
    async fn get(&self, t: &TenantId, client: &Client, refresh: bool) -> Result<Arc<Value>, String> {
        let key = (t.clone(), client.client_id.clone(), client.jwks_uri.clone());
        if let Some((jwks, at)) = self.cache.read().expect("jwks lock").get(&key) {
            let fresh = if refresh { at.elapsed() < JWKS_REFETCH_MIN } else { at.elapsed() < JWKS_TTL };
            if fresh {
                return Ok(jwks.clone());
            }
        }
        let resp = self.http.get(&client.jwks_uri).send().await.map_err(|e| format!("fetching jwks_uri: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("jwks_uri answered {}", resp.status()));
        }
        if resp.content_length().is_some_and(|n| n as usize > JWKS_MAX_BYTES) {
            return Err("jwks_uri document is too large".into());
        }
        let body = resp.bytes().await.map_err(|e| format!("reading jwks_uri: {e}"))?;
        if body.len() > JWKS_MAX_BYTES {
            return Err("jwks_uri document is too large".into());
        }
        let text = String::from_utf8(body.to_vec()).map_err(|_| "jwks_uri document is not UTF-8".to_owned())?;
        clavis_core::client::check_jwks(&text).map_err(|e| format!("jwks_uri document: {e}"))?;
        let jwks: Arc<Value> = Arc::new(serde_json::from_str(&text).map_err(|_| "jwks_uri document is not JSON".to_owned())?);
        let mut cache = self.cache.write().expect("jwks lock");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, (jwks.clone(), Instant::now()));
        Ok(jwks)
    }
}

impl Services {
    /// Authenticates a client by its `client_assertion` (RFC 7523 §2.2). `audiences` are
    /// the values `aud` may name: the issuer and its token endpoint URLs.
    pub(crate) async fn authenticate_assertion(
        &self,
        t: &TenantId,
        audiences: &[String],
        client_id_param: Option<&str>,
        a: &ClientAssertion<'_>,
    ) -> Result<ClientRef, OAuthError> {
        let denied = |why: &str| OAuthError::InvalidClient(format!("client assertion refused: {why}"));
        let c = &a.claims;
        if c.iss != c.sub {
            return Err(denied("iss and sub must both be the client_id"));
        }
        if client_id_param.is_some_and(|id| id != c.sub) {
            return Err(denied("client_id differs from the assertion's subject"));
        }
        if !clavis_core::ids::is_plausible_id(&c.sub) || c.jti.is_empty() || c.jti.len() > 256 {
            return Err(denied("malformed sub or jti"));
        }
        if !c.audiences().iter().any(|aud| audiences.iter().any(|ok| ok == aud)) {
            return Err(denied("aud must be the token endpoint or the issuer"));
        }
        let now = time::now_unix();
        if c.exp <= now - CLOCK_SKEW_SECS {
            return Err(denied("expired"));
        }
        if c.exp > now + MAX_ASSERTION_LIFETIME_SECS + CLOCK_SKEW_SECS {
            return Err(denied("exp is too far ahead (at most 1 hour)"));
        }
        if c.nbf.is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECS) || c.iat.is_some_and(|iat| iat > now + CLOCK_SKEW_SECS) {
            return Err(denied("not valid yet"));
        }
        let entry = self.clients.load(&self.store, t, &c.sub).await?.ok_or_else(|| denied(crate::client_auth::UNKNOWN_CLIENT))?;
        let client = &entry.client;
        let method = match a.kind() {
            AssertionKind::PrivateKey => AuthMethod::PrivateKeyJwt,
            AssertionKind::SharedSecret => AuthMethod::ClientSecretJwt,
        };
        if client.status != ClientStatus::Active || !client.auth_methods.contains(&method) {
            return Err(denied("the client is not registered for this method"));
        }
        let verified = match a.kind() {
            AssertionKind::PrivateKey => self.verify_private_key_assertion(t, client, a).await?,
            AssertionKind::SharedSecret => {
                let key = self.settings.secret_sealing_key.as_ref();
                entry.secrets.iter().filter(|s| s.is_valid_at(now)).any(|s| {
                    let value = key.zip(s.sealed.as_deref()).and_then(|(k, sealed)| {
                        secret::unseal(k, sealed, &seal_aad(t, &client.client_id, &s.secret_id))
                    });
                    value.is_some_and(|v| a.verify_with_secret(v.as_bytes()))
                })
            }
        };
        if !verified {
            return Err(denied("bad signature"));
        }
        // Single use, recorded in the database so that no node accepts it twice.
        if !self.store.use_jti(t, &client.client_id, &c.jti, c.exp + CLOCK_SKEW_SECS).await? {
            return Err(denied("this assertion (jti) was used before"));
        }
        Ok(ClientRef(entry))
    }

    async fn verify_private_key_assertion(&self, t: &TenantId, client: &Client, a: &ClientAssertion<'_>) -> Result<bool, OAuthError> {
        if !client.jwks.is_empty() {
            let jwks: Value = serde_json::from_str(&client.jwks).unwrap_or_default();
            return Ok(a.verify_with_jwks(&jwks));
        }
        if client.jwks_uri.is_empty() {
            return Ok(false);
        }
        let fetch = |refresh| self.jwks_fetcher.get(t, client, refresh);
        let jwks = fetch(false).await.map_err(|e| OAuthError::InvalidClient(format!("client assertion refused: {e}")))?;
        if a.verify_with_jwks(&jwks) {
            return Ok(true);
        }
        // The client may have rotated its keys: look again (rate-limited).
        let jwks = fetch(true).await.map_err(|e| OAuthError::InvalidClient(format!("client assertion refused: {e}")))?;
        Ok(a.verify_with_jwks(&jwks))
    }
}
