//! Mutual-TLS client authentication (RFC 8705 §2): the client sends its `client_id` and
//! presents a certificate in the TLS handshake (or through a trusted proxy).
//!
//! - `tls_client_auth` (§2.1, PKI): the certificate chains to a CA of
//!   `CLAVIS_MTLS_CLIENT_CA` for client authentication, and carries the one name the
//!   client registered (subject DN, or a DNS, URI, IP or e-mail SAN).
//! - `self_signed_tls_client_auth` (§2.2): the certificate is one of the client's own, the
//!   first `x5c` entry of a key in its `jwks` (or `jwks_uri`'s keys).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clavis_core::certificate::ClientCertificate;
use clavis_core::{AuthMethod, Client, ClientStatus, TenantId};
use serde_json::Value;

use super::UNKNOWN_CLIENT;
use crate::{ClientRef, OAuthError, Services};

impl Services {
    /// The client `client_id` if `certificate` authenticates it by a method it registered.
    /// A public client is identified as by method `none`: a certificate does not stop it.
    pub(super) async fn authenticate_certificate(
        &self,
        t: &TenantId,
        client_id: &str,
        certificate: &ClientCertificate,
    ) -> Result<ClientRef, OAuthError> {
        let refused = |why: &str| OAuthError::InvalidClient(format!("client certificate refused: {why}"));
        let entry = match clavis_core::ids::is_plausible_id(client_id) {
            true => self.clients.load(&self.store, t, client_id).await?,
            false => None,
        };
        let Some(entry) = entry else { return Err(OAuthError::InvalidClient(UNKNOWN_CLIENT.into())) };
        let c = &entry.client;
        if c.status != ClientStatus::Active {
            return Err(refused("the client is not active"));
        }
        let has = |m| c.auth_methods.contains(&m);
        if has(AuthMethod::None) {
            return self.identify_public(t, client_id).await;
        }
        if has(AuthMethod::TlsClientAuth) && self.pki_matches(c, certificate) {
            return Ok(ClientRef(entry));
        }
        if has(AuthMethod::SelfSignedTlsClientAuth) && self.is_clients_own(t, c, certificate).await? {
            return Ok(ClientRef(entry));
        }
        if has(AuthMethod::TlsClientAuth) || has(AuthMethod::SelfSignedTlsClientAuth) {
            return Err(refused("the certificate is not the one registered for the client"));
        }
        Err(OAuthError::InvalidClient("the client is not registered for this method".into()))
    }

    /// §2.1: a trusted chain and the registered name.
    fn pki_matches(&self, c: &Client, certificate: &ClientCertificate) -> bool {
        if !certificate.chains_to(&self.settings.mtls_client_cas, self.now()) {
            return false;
        }
        let Some(names) = certificate.names() else { return false };
        let m = &c.extras.mtls;
        let eq = |list: &[String], want: &str| list.iter().any(|n| n.eq_ignore_ascii_case(want));
        match m.names().next() {
            Some(("tls_client_auth_subject_dn", dn)) => names.subject_is(dn),
            Some(("tls_client_auth_san_dns", dns)) => eq(&names.dns, dns),
            Some(("tls_client_auth_san_uri", uri)) => names.uris.iter().any(|u| u == uri),
            Some(("tls_client_auth_san_ip", ip)) => ip.parse().is_ok_and(|ip: std::net::IpAddr| names.ips.contains(&ip)),
            Some(("tls_client_auth_san_email", email)) => eq(&names.emails, email),
            _ => false,
        }
    }

    /// §2.2: the certificate is the first `x5c` entry of one of the client's keys.
    async fn is_clients_own(&self, t: &TenantId, c: &Client, certificate: &ClientCertificate) -> Result<bool, OAuthError> {
        let holds = |jwks: &Value| {
            jwks.get("keys").and_then(Value::as_array).is_some_and(|keys| {
                keys.iter().filter_map(|k| k.get("x5c")?.get(0)?.as_str()).any(|x5c| STANDARD.decode(x5c).is_ok_and(|der| der == certificate.der))
            })
        };
        if !c.jwks.is_empty() {
            return Ok(holds(&serde_json::from_str(&c.jwks).unwrap_or_default()));
        }
        if c.jwks_uri.is_empty() {
            return Ok(false);
        }
        let unavailable = |_| OAuthError::InvalidClient("client certificate refused: the jwks_uri keys could not be had".into());
        let jwks = self.jwks_fetcher.get(t, &c.client_id, &c.jwks_uri, false).await.map_err(unavailable)?;
        if holds(&jwks) {
            return Ok(true);
        }
        let again = self.jwks_fetcher.get(t, &c.client_id, &c.jwks_uri, true).await.map_err(unavailable)?;
        Ok(!std::sync::Arc::ptr_eq(&jwks, &again) && holds(&again))
    }
}
