//! Client authentication (RFC 6749 §2.3, RFC 7523 §2.2): the one entry every endpoint that
//! authenticates clients calls (token, introspection, revocation, PAR). It reads the
//! request's credentials, picks the method, and owns the defences that must hold on all
//! endpoints alike:
//!
//! - failure accounting ([`failures`]): decided before any secret is hashed;
//! - a bound on concurrent argon2id verifications, each in a memory block lent from a
//!   fixed pool ([`kdf`]): beyond it the request is answered at once, never queued;
//! - one answer for every failure (`invalid_client`, "client authentication failed"), no
//!   earlier than the failure floor after the attempt began, whichever check failed and
//!   whether the id exists; the reason goes to the log only.
//!
//! One file per method: [`secret`] (`client_secret_basic`, `client_secret_post`), [`none`]
//! (public clients), [`assertion`] (`private_key_jwt`, `client_secret_jwt`),
//! [`certificate`] (`tls_client_auth`, `self_signed_tls_client_auth`). A new method is a
//! new file, a `Credentials` variant read in [`Credentials::from_request`], and one arm in
//! [`Services::authenticate`].

mod assertion;
mod certificate;
pub(crate) mod failures;
pub(crate) mod kdf;
mod none;
mod secret;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clavis_core::assertion::ClientAssertion;
use clavis_core::certificate::ClientCertificate;
use clavis_core::{AuthMethod, ClientStatus, TenantId};

pub use secret::parse_basic;

use crate::cache::CachedClient;
use crate::{ClientRef, OAuthError, Services};

/// What a request carries that may authenticate its client: the `Authorization` header
/// and the form parameters (each at most once), as the HTTP layer read them.
pub struct ClientAuthRequest<'a> {
    pub authorization: Option<&'a str>,
    pub params: &'a [(String, String)],
    /// The client certificate of the connection (mutual TLS), if any.
    pub certificate: Option<&'a ClientCertificate>,
}

impl ClientAuthRequest<'_> {
    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    fn get(&self, name: &str) -> Option<&str> {
        clavis_core::form::param(self.params, name)
    }
}

/// How a client says who it is.
pub(crate) enum Credentials<'a> {
    /// A shared secret, by `client_secret_basic` or `client_secret_post`.
    Secret { client_id: String, secret: String, method: AuthMethod },
    /// A public client: its id alone (method `none`).
    Public { client_id: &'a str },
    /// `private_key_jwt` or `client_secret_jwt`.
    Assertion { client_id: Option<&'a str>, assertion: &'a str },
    /// `tls_client_auth` or `self_signed_tls_client_auth`: its id and the certificate.
    Certificate { client_id: &'a str, certificate: &'a ClientCertificate },
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The endpoints of an issuer that authenticate clients: what an assertion's `aud` may
/// name, besides the issuer itself (RFC 7523 §3, RFC 9126 §2).
const CLIENT_AUTH_PATHS: &[&str] =
    &["", "/oauth2/token", "/oauth/token", "/oauth2/introspect", "/oauth/introspect", "/oauth2/revoke", "/oauth/revoke", "/oauth2/par"];

impl<'a> Credentials<'a> {
    /// Which method the request uses: an assertion, `Authorization: Basic`, a secret in
    /// the body, or a client id alone. Two methods at once are refused.
    fn from_request(req: &ClientAuthRequest<'a>) -> Result<Self, OAuthError> {
        let two = || OAuthError::InvalidRequest("use one client authentication method, not two".into());
        let params = req.params;
        let get = |name: &str| clavis_core::form::param(params, name);
        if let Some(assertion) = get("client_assertion") {
            if get("client_assertion_type") != Some(JWT_BEARER) {
                return Err(OAuthError::InvalidRequest(format!("client_assertion_type must be {JWT_BEARER}")));
            }
            if req.authorization.is_some() || req.get("client_secret").is_some() {
                return Err(two());
            }
            return Ok(Self::Assertion { client_id: get("client_id"), assertion });
        }
        if let Some(header) = req.authorization {
            let (client_id, secret) = secret::from_basic_header(header)?;
            if req.get("client_secret").is_some() {
                return Err(two());
            }
            if req.get("client_id").is_some_and(|body_id| body_id != client_id) {
                return Err(OAuthError::InvalidRequest("client_id in the body differs from the authenticated client".into()));
            }
            return Ok(Self::Secret { client_id, secret, method: AuthMethod::ClientSecretBasic });
        }
        match (get("client_id"), get("client_secret")) {
            (Some(id), Some(secret)) => {
                Ok(Self::Secret { client_id: id.to_owned(), secret: secret.to_owned(), method: AuthMethod::ClientSecretPost })
            }
            (Some(id), None) => match req.certificate {
                Some(certificate) => Ok(Self::Certificate { client_id: id, certificate }),
                // A public client identifies itself only (RFC 6749 §2.3, method "none").
                None => Ok(Self::Public { client_id: id }),
            },
            _ => Err(OAuthError::InvalidClient("client authentication is required".into())),
        }
    }
}

/// The reason logged when no such client exists (then the claimed id is not logged).
pub(crate) const UNKNOWN_CLIENT: &str = "unknown client";

/// The failure floor never goes below this, whatever the measurement said.
const MIN_FAILURE_FLOOR: Duration = Duration::from_millis(20);

impl Services {
    /// Authenticates the client of a token, introspection, revocation or PAR request at
    /// `issuer` (the URL an assertion's `aud` may name). Every failure is the same
    /// `invalid_client`; a client id in backoff, or a KDF that is busy, is `RateLimited`.
    pub async fn authenticate_request(&self, t: &TenantId, issuer: &str, req: ClientAuthRequest<'_>) -> Result<ClientRef, OAuthError> {
        let credentials = Credentials::from_request(&req)?;
        let client = self.authenticate(t, issuer, credentials).await?;
        tracing::Span::current().record("client", client.client_id.as_str());
        Ok(client)
    }

    /// The failure accounting around the method that `credentials` name.
    async fn authenticate(&self, t: &TenantId, issuer: &str, credentials: Credentials<'_>) -> Result<ClientRef, OAuthError> {
        let started = Instant::now();
        let parsed = match &credentials {
            Credentials::Assertion { assertion, .. } => Some(ClientAssertion::parse(assertion)),
            _ => None,
        };
        let claimed: Option<String> = match (&credentials, &parsed) {
            (Credentials::Secret { client_id, .. }, _) => Some(client_id.clone()),
            (Credentials::Public { client_id } | Credentials::Certificate { client_id, .. }, _) => Some((*client_id).to_owned()),
            (Credentials::Assertion { client_id, .. }, Some(Ok(a))) => Some(client_id.unwrap_or(a.claims.sub.as_str()).to_owned()),
            (Credentials::Assertion { client_id, .. }, _) => client_id.map(str::to_owned),
        };
        // Only ids that could exist are counted: they are short, so the table's memory is
        // bounded (an id of 60 KiB in a Basic header must not be kept 100,000 times).
        let key = claimed.as_deref().filter(|id| clavis_core::ids::is_plausible_id(id)).map(|id| format!("{t}/{id}"));
        let attempt = match &key {
            Some(k) => Some(
                self.auth_failures.begin(k, Instant::now()).map_err(|wait| OAuthError::RateLimited(wait.as_millis().div_ceil(1000).max(1) as u64))?,
            ),
            None => None,
        };
        let result = match (credentials, parsed) {
            (Credentials::Secret { client_id, secret, method }, _) => self.authenticate_secret(t, &client_id, &secret, method).await,
            (Credentials::Public { client_id }, _) => self.identify_public(t, client_id).await,
            (Credentials::Certificate { client_id, certificate }, _) => self.authenticate_certificate(t, client_id, certificate).await,
            (Credentials::Assertion { client_id, .. }, Some(Ok(a))) => {
                let audiences: Vec<String> = CLIENT_AUTH_PATHS.iter().map(|path| format!("{issuer}{path}")).collect();
                self.authenticate_assertion(t, &audiences, client_id, &a).await
            }
            (Credentials::Assertion { .. }, _) => Err(OAuthError::InvalidClient("the client assertion is malformed".into())),
        };
        // The outcome is recorded before the attempt lets the next one in.
        match result {
            Ok(client) => {
                if let Some(k) = &key {
                    self.auth_failures.succeeded(k);
                }
                Ok(client)
            }
            Err(OAuthError::InvalidClient(reason)) => {
                // The id only if it names a client: a secret pasted into the id field must
                // not reach the log.
                let client_id = if reason.contains(UNKNOWN_CLIENT) { "" } else { claimed.as_deref().unwrap_or("") };
                tracing::info!(tenant = %t, client_id, %reason, "client authentication failed");
                let floor = self.failure_floor().await;
                tokio::time::sleep(floor.saturating_sub(started.elapsed())).await;
                // Recorded as the answer leaves, so a backoff window starts then; the
                // attempt held the id's place until now.
                if let Some(k) = &key {
                    self.auth_failures.failed(k, Instant::now());
                }
                drop(attempt);
                Err(OAuthError::InvalidClient(reason))
            }
            Err(other) => Err(other),
        }
    }

    /// The client `client_id` if it is active and registered for `method`; the refusal
    /// otherwise (an unknown id costs a dummy verification, as a known one would).
    async fn client_for_method(&self, t: &TenantId, client_id: &str, method: AuthMethod, presented: &str) -> Result<Arc<CachedClient>, OAuthError> {
        let refused = |why: &str| OAuthError::InvalidClient(why.to_owned());
        let entry = match clavis_core::ids::is_plausible_id(client_id) {
            true => self.clients.load(&self.store, t, client_id).await?,
            false => None,
        };
        let Some(entry) = entry else {
            clavis_core::secret::dummy_verify(presented);
            return Err(refused(UNKNOWN_CLIENT));
        };
        if entry.client.status != ClientStatus::Active {
            return Err(refused("the client is not active"));
        }
        if !entry.client.auth_methods.contains(&method) {
            return Err(refused("the client is not registered for this method"));
        }
        Ok(entry)
    }

    /// Measures the KDF once (tens of milliseconds), for the failure floor: call it at start.
    pub async fn calibrate_failure_floor(&self) {
        self.kdf.cost().await;
    }

    /// Waits as long as a failed authentication does (for refusals made after one succeeded).
    pub(crate) async fn sleep_failure_floor(&self) {
        tokio::time::sleep(self.failure_floor().await).await;
    }

    /// The least time a failed authentication takes to answer: above the slowest
    /// verification (argon2id), so timing tells neither which check failed nor whether
    /// the id exists. It is a sleep, which costs the server no CPU.
    async fn failure_floor(&self) -> Duration {
        (self.kdf.cost().await * 3 / 2).max(MIN_FAILURE_FLOOR)
    }
}
