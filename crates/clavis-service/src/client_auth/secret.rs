//! `client_secret_basic` and `client_secret_post` (RFC 6749 §2.3.1): a shared secret in
//! the `Authorization: Basic` header or in the body. Generated secrets are stored as
//! SHA-256 (they are long and random); chosen ones as argon2id, verified through the
//! node's KDF bound ([`super::kdf`]).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use clavis_core::{secret, AuthMethod, TenantId};

use super::kdf::Busy;
use crate::{ClientRef, OAuthError, Services};

/// The id and secret of an `Authorization` header, which must be Basic.
pub(super) fn from_basic_header(value: &str) -> Result<(String, String), OAuthError> {
    let invalid = |m: &str| OAuthError::InvalidClient(m.to_owned());
    if !value.split_once(' ').is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("basic")) {
        return Err(invalid("only Basic authentication is accepted in the Authorization header"));
    }
    parse_basic(value).ok_or_else(|| invalid("malformed Basic credentials"))
}

/// `Basic base64(urlencode(id):urlencode(secret))` → `(id, secret)` (RFC 6749 §2.3.1).
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((url_decode(id)?, url_decode(secret)?))
}

fn url_decode(s: &str) -> Option<String> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned().into_bytes())?;
    String::from_utf8(bytes).ok()
}

impl Services {
    pub(super) async fn authenticate_secret(
        &self,
        t: &TenantId,
        client_id: &str,
        presented: &str,
        method: AuthMethod,
    ) -> Result<ClientRef, OAuthError> {
        let entry = self.client_for_method(t, client_id, method, presented).await?;
        let now = self.now();
        // Check every candidate, so timing does not tell how many secrets the client has
        // or which one matched.
        let mut matched = None;
        for (index, s) in entry.secrets.iter().enumerate().filter(|(_, s)| s.is_valid_at(now)) {
            let ok = if secret::is_slow(&s.secret_hash) {
                self.verify_slow_secret(t, client_id, &s.secret_id, presented, &s.secret_hash).await?
            } else {
                secret::verify(presented, &s.secret_hash)
            };
            if ok && matched.is_none() {
                matched = Some((index, s.secret_id.as_str()));
            }
        }
        let (index, secret_id) = matched.ok_or_else(|| OAuthError::InvalidClient("wrong secret".into()))?;
        // Once a minute per secret at most, and written behind (within a second, see
        // `Services::write_touches`): the response never waits for this bookkeeping.
        if let Some(previous) = entry.touch_due(index, now) {
            if !self.clients.queue_touch(t, secret_id, now) {
                entry.untouch(index, previous);
            }
        }
        Ok(ClientRef(entry))
    }

    /// argon2id (or an imported Hydra hash) verified through the KDF bound, remembered once
    /// it succeeded. An imported hash that verified is replaced by an argon2id one in the
    /// same KDF slot, so a Hydra secret is re-hashed on its first successful use.
    async fn verify_slow_secret(&self, t: &TenantId, client_id: &str, secret_id: &str, presented: &str, stored: &str) -> Result<bool, OAuthError> {
        if self.clients.verified_before(secret_id, presented) {
            return Ok(true);
        }
        let (p, h) = (presented.to_owned(), stored.to_owned());
        let (ok, rehashed) = self
            .kdf
            .run_for(format!("{t}/{client_id}"), move |mem| {
                let ok = secret::verify_slow(&p, &h, mem);
                let rehashed = (ok && secret::needs_rehash(&h)).then(|| secret::hash_supplied(&p, mem));
                (ok, rehashed)
            })
            .await
            .map_err(|Busy| OAuthError::RateLimited(1))?;
        if let Some(new_hash) = rehashed {
            // Conditional on the old hash, so concurrent first uses (or nodes) write once;
            // a failure leaves the imported hash, which still verifies, for the next use.
            match self.store.rehash_secret(t, client_id, secret_id, stored, &new_hash, &secret::last_four(presented)).await {
                Ok(true) => {
                    tracing::info!(client_id, secret_id, "imported secret hash replaced by argon2id");
                    self.clients.invalidate(t, client_id);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "could not re-hash an imported secret"),
            }
        }
        if ok {
            self.clients.remember_verified(secret_id, presented);
        }
        Ok(ok)
    }
}
