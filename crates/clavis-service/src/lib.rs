//! Clavis use cases over the store: the client registry (clients, secrets, audit), client
//! authentication, signing keys and access tokens. No HTTP types appear here; each API
//! surface maps [`ServiceError`] and [`OAuthError`] to its own wire format.

mod authorization_details;
mod browser_binding;
mod cache;
mod client_auth;
mod client_loader;
mod client_tokens;
mod client_transfer;
mod consent_sessions;
mod credentials;
mod dcr;
mod device;
pub mod dpop;
mod error;
mod fetched;
mod flows;
pub mod hydra_client;
pub mod hydra_rows;
mod introspection;
mod key_sets;
pub(crate) mod keys;
mod lifecycle;
mod logout;
pub mod outbound;
mod registry;
mod request_object;
mod response_mode;
mod session_logout;
mod subject;
mod token;
mod tokens;
mod trusted_issuers;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

pub use browser_binding::{CsrfCookie, CSRF_COOKIE_PREFIX};
pub use cache::ClientRef;
pub use clavis_store::{AuditEntry, ClientFilter, SecretRecord, SecretStatus, Store, TenantSettings};
pub use clavis_store::{ImportItem, ImportOutcome};
pub use clavis_store::{RevokedCounts, StoreError, TrustedIssuer};
pub use client_auth::{parse_basic, ClientAuthRequest};
pub use client_tokens::{ClientToken, MAX_REVOCATION_GRACE_SECS};
pub use client_transfer::ImportReport;
pub use consent_sessions::{ConsentSessionView, UserConsent};
pub use credentials::{CredentialError, NONCE_LIFETIME_SECS};
pub use dcr::{registration_from_body, registration_update_from_body};
pub use device::{DeviceAuthorization, UserCodeError, DEVICE_CODE_TTL_SECS, POLL_INTERVAL_SECS};
pub use error::{error_chain, OAuthError, ServiceError};
pub use flows::{AuthorizeError, AuthorizeStep, ConsentAccept, ConsentRequestView, LoginAccept, LoginRequestView, RejectRequest};
pub use hydra_client::ClientMetadataError;
pub use introspection::{Introspector, SIGNED_INTROSPECTION_TYPE};
pub use key_sets::KeySet;
pub use keys::{KeyInfo, Keys};
pub use lifecycle::{Introspection, Userinfo};
pub use logout::{LogoutOutcome, LogoutRequestView};
pub use registry::{Actor, Page};
pub use response_mode::{normalize_response_type, Navigation, ResponseMode, RESPONSE_TYPES};
pub use session_logout::{BACKCHANNEL_LOGOUT_EVENT, DELIVERY_LIFETIME_SECS, RETRY_DELAYS};

pub use token::{supported_grant_types, TokenRequest, TokenSet};
pub use tokens::{AccessClaims, PresentedToken, Principal, TokenRejection};
pub use trusted_issuers::TrustRequest;

use cache::ClientCache;
use clavis_core::jose::Alg;
use clavis_core::time::{Clock, SystemClock};
use clavis_core::{TenantId, ValidationError};

/// Settings the use cases need; the binary fills them from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Issuer base, e.g. `http://127.0.0.1:4444` (no trailing slash).
    pub public_url: String,
    pub access_token_ttl_secs: i64,
    /// How long another node may keep serving a stale client (suspension, deletion,
    /// rotation made elsewhere). Writes on this node invalidate at once.
    pub client_cache_ttl_secs: u64,
    /// Default grace period of a rotated secret.
    pub rotation_grace_secs: i64,
    /// Where users are sent to log in / consent / log out (the login & consent app);
    /// `None` until configured.
    pub login_url: Option<String>,
    pub consent_url: Option<String>,
    pub logout_url: Option<String>,
    /// The device verification page (RFC 8628; the login app's), where
    /// `/oauth2/device/verify` sends users with a `device_challenge`.
    pub device_verification_url: Option<String>,
    /// Where browsers are sent with an error that cannot go to a client (Hydra's
    /// `urls.error`); `None`: Clavis's own error page.
    pub error_url: Option<String>,
    pub auth_code_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    /// The absolute lifetime of a refresh family: rotation never extends a grant past
    /// this long after its code was exchanged.
    pub refresh_family_ttl_secs: i64,
    pub id_token_ttl_secs: i64,
    /// How long a login/consent flow may take from start to code.
    pub flow_ttl_secs: i64,
    /// How long a pushed authorization request's request_uri stays usable (RFC 9126).
    pub par_ttl_secs: i64,
    /// Dynamic client registration (`/oauth2/register`): off unless enabled; with an initial
    /// access token, registering needs it as a bearer token.
    pub dcr_enabled: bool,
    pub dcr_initial_access_token: Option<String>,
    /// Key that seals secrets of client_secret_jwt clients (`CLAVIS_SECRET_ENCRYPTION_KEY`);
    /// without it such clients cannot be registered.
    pub secret_sealing_key: Option<[u8; 32]>,
    /// Special-purpose destinations (loopback, private, …) that fetches made for clients
    /// (`jwks_uri`, …) may reach nonetheless (`CLAVIS_OUTBOUND_ALLOW`).
    pub outbound_allow: outbound::Allowlist,
    /// Every DPoP proof must carry a server nonce (RFC 9449 §8), `CLAVIS_DPOP_REQUIRE_NONCE`.
    pub dpop_require_nonce: bool,
    /// The mutual-TLS listener's URL (`mtls_endpoint_aliases`), if there is one.
    pub mtls_url: Option<String>,
    /// DER certificates of the CAs trusted for `tls_client_auth` (`CLAVIS_MTLS_CLIENT_CA`).
    pub mtls_client_cas: Vec<Vec<u8>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:4444".into(),
            access_token_ttl_secs: 3600,
            client_cache_ttl_secs: 2,
            rotation_grace_secs: 4 * 3600,
            login_url: None,
            consent_url: None,
            logout_url: None,
            device_verification_url: None,
            error_url: None,
            auth_code_ttl_secs: 600,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            refresh_family_ttl_secs: 90 * 24 * 3600,
            id_token_ttl_secs: 3600,
            flow_ttl_secs: 3600,
            par_ttl_secs: 90,
            secret_sealing_key: None,
            dcr_enabled: false,
            dcr_initial_access_token: None,
            outbound_allow: outbound::Allowlist::default(),
            dpop_require_nonce: false,
            mtls_url: None,
            mtls_client_cas: Vec::new(),
        }
    }
}

/// A change of a tenant's settings: `None` keeps a field; an empty URL removes the
/// tenant's own (the server's applies again).
#[derive(Debug, Default)]
pub struct TenantSettingsChange {
    pub login_url: Option<String>,
    pub consent_url: Option<String>,
    pub logout_url: Option<String>,
    pub dcr: Option<DcrPolicyChange>,
    /// `any_confidential` or `marked_only`.
    pub introspection: Option<String>,
    pub signing: Option<SigningChange>,
}

/// A change of the tenant's default signing algorithms: `None` keeps one.
#[derive(Debug, Default)]
pub struct SigningChange {
    pub id_token: Option<String>,
    pub access_token: Option<String>,
}

/// A change of the tenant's DCR policy: `None` keeps a list.
#[derive(Debug, Default)]
pub struct DcrPolicyChange {
    pub allowed_scopes: Option<Vec<String>>,
    pub allowed_grant_types: Option<Vec<String>>,
}

/// Everything the HTTP layer calls. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    pub settings: Arc<Settings>,
    /// Private: every use of the database is a use case here, which takes the tenant.
    store: Store,
    clock: Arc<dyn Clock>,
    pub keys: Keys,
    clients: Arc<ClientCache>,
    known_tenants: Arc<RwLock<HashSet<TenantId>>>,
    jwks_fetcher: Arc<fetched::Fetcher>,
    request_uri_fetcher: Arc<fetched::Fetcher>,
    outbound: Arc<outbound::Outbound>,
    pairwise_salts: Arc<subject::PairwiseSalts>,
    logout_in_flight: Arc<session_logout::InFlight>,
    auth_failures: Arc<client_auth::failures::AuthFailures>,
    kdf: Arc<client_auth::kdf::Kdf>,
}

impl Services {
    pub fn new(settings: Settings, store: Store) -> Self {
        Self::with_clock(settings, store, Arc::new(SystemClock))
    }

    /// With the time read from `clock` (tests move it to reach expiry branches).
    pub fn with_clock(settings: Settings, store: Store, clock: Arc<dyn Clock>) -> Self {
        let keys = Keys::new(store.clone(), clock.clone());
        let clients = Arc::new(ClientCache::new(settings.client_cache_ttl_secs));
        let outbound = Arc::new(outbound::Outbound::new(settings.outbound_allow.clone()));
        Self {
            settings: Arc::new(settings),
            store,
            clock,
            keys,
            clients,
            known_tenants: Arc::default(),
            jwks_fetcher: Arc::new(fetched::Fetcher::new(fetched::Document::Jwks, outbound.clone())),
            request_uri_fetcher: Arc::new(fetched::Fetcher::new(fetched::Document::RequestObject, outbound.clone())),
            outbound,
            pairwise_salts: Arc::default(),
            logout_in_flight: Arc::default(),
            auth_failures: Arc::default(),
            kdf: Arc::new(client_auth::kdf::Kdf::new()),
        }
    }

    /// The current time (unix seconds) by the injected clock.
    pub fn now(&self) -> i64 {
        self.clock.now_unix()
    }

    /// The database backend in use (`sqlite`, `postgres`), for the start-up log.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> clavis_store::Result<()> {
        self.store.ping().await
    }

    /// (open, idle) connections of the pool, for the metrics.
    pub fn pool_stats(&self) -> (u32, usize) {
        self.store.pool_stats()
    }

    /// Writes the secrets' `last_used_at` queued since the last call, in one transaction.
    /// The server calls it every second and at shutdown; reading a client's secrets calls
    /// it first, so this node's own uses show at once.
    pub async fn write_touches(&self) -> clavis_store::Result<usize> {
        let touches = self.clients.take_touches();
        if !touches.is_empty() {
            self.store.touch_secrets(&touches).await?;
        }
        Ok(touches.len())
    }

    /// Writes what is queued and closes the database pool (at shutdown).
    pub async fn close(&self) {
        if let Err(e) = self.write_touches().await {
            tracing::warn!(error = %e, "could not record secrets' last_used_at at shutdown");
        }
        self.store.close().await
    }

    /// The issuer of `tenant`. The default tenant is also served at the root; `at_root`
    /// says which of its two issuers a request came through.
    pub fn issuer(&self, tenant: &TenantId, at_root: bool) -> String {
        if at_root && tenant.is_default() {
            self.settings.public_url.clone()
        } else {
            format!("{}/t/{}", self.settings.public_url, tenant)
        }
    }

    /// Whether a browser at `origin` may call the tenant's public endpoints: it must be
    /// the origin of a redirect URI of one of the tenant's active clients.
    pub async fn cors_allowed(&self, tenant: &TenantId, origin: &str) -> bool {
        match self.clients.origins(&self.store, tenant).await {
            Ok(list) => list.iter().any(|o| o == origin),
            Err(e) => {
                tracing::warn!(error = %e, "could not read CORS origins");
                false
            }
        }
    }

    /// The tenant an issuer URL names, if it is one of ours.
    pub fn tenant_of_issuer(&self, iss: &str) -> Option<TenantId> {
        let rest = iss.strip_prefix(self.settings.public_url.as_str())?;
        if rest.is_empty() {
            return Some(TenantId::default_tenant());
        }
        TenantId::parse(rest.strip_prefix("/t/")?)
    }
}

impl Services {
    /// Removes what has expired, tenant by tenant (see `Store::purge_expired`); the
    /// binary runs it periodically. `now` is a parameter so tests can look ahead.
    pub async fn purge_expired(&self, now: i64) -> clavis_store::Result<u64> {
        /// Expired secrets stay listed (as `expired`) this long.
        const KEEP_EXPIRED_SECRETS: i64 = 30 * 24 * 3600;
        let mut total = 0;
        for tenant in self.store.list_tenants().await? {
            // Expired sessions tell their clients before they go; stalled deliveries resume.
            self.notify_expired_sessions(&tenant, now).await?;
            self.resume_logout_deliveries(&tenant, now).await?;
            total += self.store.purge_expired(&tenant, now, KEEP_EXPIRED_SECRETS).await?;
        }
        Ok(total)
    }
}

impl Services {
    /// The login, consent and logout app of a tenant: its own, else the server's.
    pub async fn app_urls(&self, t: &TenantId) -> clavis_store::Result<TenantSettings> {
        let own = self.store.tenant_settings(t).await?;
        Ok(TenantSettings {
            login_url: own.login_url.or_else(|| self.settings.login_url.clone()),
            consent_url: own.consent_url.or_else(|| self.settings.consent_url.clone()),
            logout_url: own.logout_url.or_else(|| self.settings.logout_url.clone()),
            ..own
        })
    }

    /// A tenant's own settings, without the server's fallbacks.
    pub async fn own_tenant_settings(&self, t: &TenantId) -> clavis_store::Result<TenantSettings> {
        self.store.tenant_settings(t).await
    }

    /// What a tenant lets dynamically registered clients ask for: its policy, else the defaults.
    pub async fn dcr_policy(&self, t: &TenantId) -> clavis_store::Result<clavis_core::DcrPolicy> {
        Ok(self.store.tenant_settings(t).await?.dcr_policy.unwrap_or_default())
    }

    /// Changes what `change` names, keeping the rest: all or nothing.
    pub async fn change_tenant_settings(&self, t: &TenantId, change: TenantSettingsChange) -> Result<(), ServiceError> {
        let mut s = self.store.tenant_settings(t).await?;
        for (given, slot) in [(change.login_url, &mut s.login_url), (change.consent_url, &mut s.consent_url), (change.logout_url, &mut s.logout_url)]
        {
            if let Some(v) = given {
                *slot = Some(v).filter(|v| !v.is_empty());
            }
        }
        if let Some(d) = change.dcr {
            let mut policy = s.dcr_policy.unwrap_or_default();
            policy.allowed_scopes = d.allowed_scopes.unwrap_or(policy.allowed_scopes);
            policy.allowed_grant_types = d.allowed_grant_types.unwrap_or(policy.allowed_grant_types);
            s.dcr_policy = Some(policy);
        }
        if let Some(v) = change.introspection {
            let policy = clavis_core::IntrospectionPolicy::parse(&v)
                .ok_or_else(|| clavis_core::ValidationError::new("introspection", "must be \"any_confidential\" or \"marked_only\""))?;
            s.introspection = Some(policy);
        }
        if let Some(change) = change.signing {
            let mut d = s.signing.unwrap_or_default();
            for (field, given, slot) in
                [("signing.id_token", change.id_token, &mut d.id_token), ("signing.access_token", change.access_token, &mut d.access_token)]
            {
                if let Some(name) = given {
                    *slot = name.parse::<Alg>().map_err(|e| ValidationError::new(field, e.to_string()))?;
                }
            }
            s.signing = Some(d);
        }
        self.set_tenant_settings(t, &s).await
    }

    /// Sets a tenant's own app URLs (`None` falls back to the server's) and policies
    /// (`None`: the defaults), all or nothing.
    pub async fn set_tenant_settings(&self, t: &TenantId, s: &TenantSettings) -> Result<(), ServiceError> {
        let mut s = s.clone();
        s.dcr_policy = s.dcr_policy.map(|p| p.normalized("dcr")).transpose()?;
        for (field, url) in [("login_url", &s.login_url), ("consent_url", &s.consent_url), ("logout_url", &s.logout_url)] {
            if let Some(u) = url {
                let ok = u.len() <= 2000 && url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
                if !ok {
                    return Err(clavis_core::ValidationError::new(field, "must be an absolute http(s) URL").into());
                }
            }
        }
        self.store.set_tenant_settings(t, &s).await?;
        // This node signs with the new defaults at once; others within the key set's TTL.
        self.keys.reload(t).await?;
        Ok(())
    }
}
