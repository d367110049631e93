//! Client authentication by assertion: `private_key_jwt` (keys from the client's `jwks`
//! or its fetched and cached `jwks_uri`) and `client_secret_jwt` (HMAC with the client's
//! sealed secret). Every assertion is single use until it expires, on every node.

use clavis_core::assertion::{AssertionKind, ClientAssertion, ClientJws};
use clavis_core::{secret, AuthMethod, Client, ClientStatus, TenantId};
use serde_json::Value;

use crate::registry::seal_aad;
use crate::{ClientRef, OAuthError, Services};

/// The longest an assertion may live: `exp` at most this far ahead. One hour, because
/// common client libraries (authlib) sign assertions for exactly that long.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 3600;
const CLOCK_SKEW_SECS: i64 = 30;

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
        let now = self.now();
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
        // OpenID Connect Registration §2: with token_endpoint_auth_signing_alg registered,
        // assertions in any other algorithm are refused.
        let registered = client.extras.hydra.token_endpoint_auth_signing_alg.as_str();
        if !registered.is_empty() && !clavis_core::assertion::alg_allows(registered, &a.alg) {
            return Err(denied("the client assertion's alg is not the client's token_endpoint_auth_signing_alg"));
        }
        if !client.fapi_profile.allows_alg(&a.alg) {
            return Err(denied("the client assertion's alg is not allowed by the client's FAPI profile"));
        }
        let verified = match a.kind() {
            AssertionKind::PrivateKey => self.verify_with_client_keys(t, client, &a.jws).await?,
            AssertionKind::SharedSecret => {
                let key = self.settings.secret_sealing_key.as_ref();
                entry.secrets.iter().filter(|s| s.is_valid_at(now)).any(|s| {
                    let value =
                        key.zip(s.sealed.as_deref()).and_then(|(k, sealed)| secret::unseal(k, sealed, &seal_aad(t, &client.client_id, &s.secret_id)));
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

    /// Whether a JWS the client signed (an assertion, a request object) verifies with its
    /// `jwks`, or the keys at its `jwks_uri` (fetched again once if none fits).
    pub(crate) async fn verify_with_client_keys(&self, t: &TenantId, client: &Client, a: &ClientJws<'_>) -> Result<bool, OAuthError> {
        if !client.jwks.is_empty() {
            let jwks: Value = serde_json::from_str(&client.jwks).unwrap_or_default();
            return Ok(a.verify_with_jwks(&jwks));
        }
        if client.jwks_uri.is_empty() {
            return Ok(false);
        }
        // Why the keys could not be had (status, connection error, size) was logged; the
        // caller learns nothing of it, or the token endpoint would map the network
        // behind this server for whoever registers a jwks_uri.
        let unavailable = |_| OAuthError::InvalidClient("client assertion refused: the jwks_uri keys could not be had".into());
        let fetch = |refresh| self.jwks_fetcher.get(t, &client.client_id, &client.jwks_uri, refresh);
        let jwks = fetch(false).await.map_err(unavailable)?;
        if a.verify_with_jwks(&jwks) {
            return Ok(true);
        }
        // The client may have rotated its keys: look again (at most every `Document::Jwks.refetch_min()`).
        // The same set again (not re-fetched) is not worth a second round of verifications.
        let again = fetch(true).await.map_err(unavailable)?;
        Ok(!std::sync::Arc::ptr_eq(&jwks, &again) && a.verify_with_jwks(&again))
    }
}
