//! Client authentication (RFC 6749 §2.3, RFC 7523 §2.2): the one entry every endpoint that
//! authenticates clients calls. It owns the defences that must hold on all of them alike:
//!
//! - failure accounting ([`crate::auth_failures`]): decided before any secret is hashed;
//! - a bound on concurrent argon2id verifications, each in a memory block lent from a
//!   fixed pool ([`Kdf`]): beyond it the request is answered at once, never queued;
//! - one answer for every failure (`invalid_client`, "client authentication failed"), no
//!   earlier than [`Services::failure_floor`] after the attempt began, whichever check
//!   failed and whether the id exists; the reason goes to the log only.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clavis_core::assertion::ClientAssertion;
use clavis_core::{secret, AuthMethod, ClientStatus, TenantId};
use tokio::sync::Semaphore;

use crate::{ClientRef, OAuthError, Services};

/// How a client says who it is.
pub enum Credentials<'a> {
    /// A shared secret, by `client_secret_basic` or `client_secret_post`.
    Secret { client_id: &'a str, secret: &'a str, method: AuthMethod },
    /// A public client: its id alone (method `none`).
    Public { client_id: &'a str },
    /// `private_key_jwt` or `client_secret_jwt`; `audiences` are the values its `aud` may
    /// name (the issuer and the endpoint URLs that authenticate clients).
    Assertion { client_id: Option<&'a str>, assertion: &'a str, audiences: Vec<String> },
}

/// argon2id verifications that may run at once (each holds 19 MiB).
const KDF_CONCURRENCY: usize = 2;

/// The argon2id verifications of this node: at most [`KDF_CONCURRENCY`] at a time, each
/// in a memory block from a pool that never grows past that number.
pub(crate) struct Kdf {
    permits: Arc<Semaphore>,
    pool: Arc<Mutex<Vec<secret::KdfMemory>>>,
    /// How long one verification took when measured (the failure floor's basis).
    measured: tokio::sync::OnceCell<Duration>,
}

/// No KDF slot was free.
pub(crate) struct Busy;

impl Kdf {
    pub fn new() -> Self {
        Self { permits: Arc::new(Semaphore::new(KDF_CONCURRENCY)), pool: Arc::default(), measured: Default::default() }
    }

    /// Runs `f` with a memory block off the async threads; `Err(Busy)` at once when every
    /// slot is taken and `wait` is false. The slot and the block stay taken until `f` has
    /// returned, even if the caller is cancelled.
    pub async fn run<R: Send + 'static>(&self, wait: bool, f: impl FnOnce(&mut secret::KdfMemory) -> R + Send + 'static) -> Result<R, Busy> {
        let permit = if wait {
            self.permits.clone().acquire_owned().await.map_err(|_| Busy)?
        } else {
            self.permits.clone().try_acquire_owned().map_err(|_| Busy)?
        };
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut mem = pool.lock().expect("kdf pool").pop().unwrap_or_default();
            let out = f(&mut mem);
            pool.lock().expect("kdf pool").push(mem);
            drop(permit);
            out
        })
        .await
        .map_err(|_| Busy)
    }

    /// What one verification costs on this machine, measured once.
    async fn cost(&self) -> Duration {
        *self
            .measured
            .get_or_init(|| async {
                // Hashing does the same work as verifying, with the same parameters.
                let started = Instant::now();
                match self.run(true, |mem| secret::hash_supplied("calibration", mem)).await {
                    Ok(_) => started.elapsed(),
                    Err(Busy) => Duration::from_millis(50),
                }
            })
            .await
    }
}

/// The reason logged when no such client exists (then the claimed id is not logged).
pub(crate) const UNKNOWN_CLIENT: &str = "unknown client";

/// The failure floor never goes below this, whatever the measurement said.
const MIN_FAILURE_FLOOR: Duration = Duration::from_millis(20);

impl Services {
    /// Authenticates the client of a request. Every failure is the same `invalid_client`;
    /// a client id in backoff, or a KDF that is busy, is `RateLimited` (429).
    pub async fn authenticate(&self, t: &TenantId, credentials: Credentials<'_>) -> Result<ClientRef, OAuthError> {
        let started = Instant::now();
        let parsed = match &credentials {
            Credentials::Assertion { assertion, .. } => Some(ClientAssertion::parse(assertion)),
            _ => None,
        };
        let claimed: Option<String> = match (&credentials, &parsed) {
            (Credentials::Secret { client_id, .. } | Credentials::Public { client_id }, _) => Some((*client_id).to_owned()),
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
            (Credentials::Secret { client_id, secret, method }, _) => self.by_secret(t, client_id, secret, method).await,
            (Credentials::Public { client_id }, _) => self.by_secret(t, client_id, "", AuthMethod::None).await,
            (Credentials::Assertion { client_id, audiences, .. }, Some(Ok(a))) => self.authenticate_assertion(t, &audiences, client_id, &a).await,
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

    /// Authentication by shared secret (`client_secret_basic`/`_post`), or identification
    /// alone for a public client (`none`).
    async fn by_secret(&self, t: &TenantId, client_id: &str, presented: &str, method: AuthMethod) -> Result<ClientRef, OAuthError> {
        let refused = |why: &str| OAuthError::InvalidClient(why.to_owned());
        let entry = match clavis_core::ids::is_plausible_id(client_id) {
            true => self.clients.load(&self.store, t, client_id).await?,
            false => None,
        };
        let Some(entry) = entry else {
            secret::dummy_verify(presented);
            return Err(refused(UNKNOWN_CLIENT));
        };
        let client = &entry.client;
        if client.status != ClientStatus::Active {
            return Err(refused("the client is not active"));
        }
        if !client.auth_methods.contains(&method) {
            return Err(refused("the client is not registered for this method"));
        }
        if method == AuthMethod::None {
            // A public client: identified, not authenticated (PKCE protects its codes).
            return Ok(ClientRef(entry));
        }
        let now = self.now();
        // Check every candidate, so timing does not tell how many secrets the client has
        // or which one matched.
        let mut matched = None;
        for s in entry.secrets.iter().filter(|s| s.is_valid_at(now)) {
            let ok = if secret::is_slow(&s.secret_hash) {
                self.verify_slow_secret(&s.secret_id, presented, &s.secret_hash).await?
            } else {
                secret::verify(presented, &s.secret_hash)
            };
            if ok && matched.is_none() {
                matched = Some(s.secret_id.clone());
            }
        }
        let secret_id = matched.ok_or_else(|| refused("wrong secret"))?;
        // Once a minute per secret at most, so awaiting it costs nothing measurable and
        // `last_used_at` is written before the response.
        if self.clients.touch_due(&secret_id, now) {
            if let Err(e) = self.store.touch_secret(t, &secret_id, now).await {
                tracing::warn!(error = %e, "could not record secret last_used_at");
            }
        }
        Ok(ClientRef(entry))
    }

    /// argon2id verification through the KDF bound, remembered once it succeeded.
    async fn verify_slow_secret(&self, secret_id: &str, presented: &str, stored: &str) -> Result<bool, OAuthError> {
        if self.clients.verified_before(secret_id, presented) {
            return Ok(true);
        }
        let (p, h) = (presented.to_owned(), stored.to_owned());
        let ok = self.kdf.run(false, move |mem| secret::verify_slow(&p, &h, mem)).await.map_err(|Busy| OAuthError::RateLimited(1))?;
        if ok {
            self.clients.remember_verified(secret_id, presented);
        }
        Ok(ok)
    }

    /// Hashes a caller-chosen secret (argon2id) through the KDF bound, waiting for a slot:
    /// only authenticated admin calls choose secrets.
    pub(crate) async fn hash_supplied_secret(&self, value: &str) -> Result<String, crate::ServiceError> {
        let v = value.to_owned();
        self.kdf.run(true, move |mem| secret::hash_supplied(&v, mem)).await.map_err(|Busy| crate::ServiceError::Internal("hashing failed".into()))
    }
}
