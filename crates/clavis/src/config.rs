//! Configuration: defaults < `clavis.toml` < `CLAVIS_*` environment < command-line flags.
//! Defaults live in [`Config::resolve`] only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// Settings as flags and environment variables (clap reads both; flags win).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ConfigArgs {
    /// Configuration file; a missing default file is fine.
    #[arg(long, env = "CLAVIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Public (OAuth) listener [default: 127.0.0.1:4444].
    #[arg(long, env = "CLAVIS_PUBLIC_ADDR")]
    pub public_addr: Option<String>,
    /// Admin listener [default: 127.0.0.1:4445].
    #[arg(long, env = "CLAVIS_ADMIN_ADDR")]
    pub admin_addr: Option<String>,
    /// Issuer base URL [default: http://{public addr}].
    #[arg(long, env = "CLAVIS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Data directory for the default SQLite database [default: ./clavis-data].
    #[arg(long, env = "CLAVIS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `postgres://…` or `sqlite://…` [default: SQLite in the data directory].
    #[arg(long, env = "CLAVIS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Comma-separated keys for `X-API-Key` on `/internal/*`.
    #[arg(long, env = "CLAVIS_INTERNAL_API_KEYS", hide_env_values = true)]
    pub internal_api_keys: Option<String>,
    /// Client id of the admin client ensured at start (tenant `default`).
    #[arg(long, env = "CLAVIS_BOOTSTRAP_CLIENT_ID")]
    pub bootstrap_client_id: Option<String>,
    /// Its secret (at least 32 characters).
    #[arg(long, env = "CLAVIS_BOOTSTRAP_CLIENT_SECRET", hide_env_values = true)]
    pub bootstrap_client_secret: Option<String>,
    /// Log filter, e.g. `info` or `clavis=debug` [default: info].
    #[arg(long, env = "CLAVIS_LOG")]
    pub log: Option<String>,
    /// `text` or `json` [default: text].
    #[arg(long, env = "CLAVIS_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Access token lifetime, e.g. `1h`, `900s` [default: 1h].
    #[arg(long, env = "CLAVIS_ACCESS_TOKEN_TTL")]
    pub access_token_ttl: Option<String>,
    /// How stale another node's client changes may be here, e.g. `2s` [default: 2s].
    #[arg(long, env = "CLAVIS_CLIENT_CACHE_TTL")]
    pub client_cache_ttl: Option<String>,
    /// The login app: `/oauth2/auth` sends users here with `login_challenge`.
    #[arg(long, env = "CLAVIS_LOGIN_URL")]
    pub login_url: Option<String>,
    /// The consent app: users arrive with `consent_challenge`.
    #[arg(long, env = "CLAVIS_CONSENT_URL")]
    pub consent_url: Option<String>,
    /// The logout page of the login app.
    #[arg(long, env = "CLAVIS_LOGOUT_URL")]
    pub logout_url: Option<String>,
    /// The device verification page of the login app (RFC 8628): users arrive with
    /// `device_challenge` and type their user code.
    #[arg(long, env = "CLAVIS_DEVICE_VERIFICATION_URL")]
    pub device_verification_url: Option<String>,
    /// Where browsers go when an authorization or logout request cannot be answered to
    /// the client (Hydra's `urls.error`) [default: a page of Clavis].
    #[arg(long, env = "CLAVIS_ERROR_URL")]
    pub error_url: Option<String>,
    /// Refresh token lifetime, e.g. `720h` [default: 720h].
    #[arg(long, env = "CLAVIS_REFRESH_TOKEN_TTL")]
    pub refresh_token_ttl: Option<String>,
    /// Absolute lifetime of a refresh token family (rotation does not extend it), e.g.
    /// `2160h` [default: 2160h = 90 days].
    #[arg(long, env = "CLAVIS_REFRESH_FAMILY_TTL")]
    pub refresh_family_ttl: Option<String>,
    /// 32 bytes, base64: seals the secrets of client_secret_jwt clients (which the server
    /// must be able to read). Without it, client_secret_jwt cannot be registered.
    #[arg(long, env = "CLAVIS_SECRET_ENCRYPTION_KEY", hide_env_values = true)]
    pub secret_encryption_key: Option<String>,
    /// How often expired codes, tokens, jtis and sessions are deleted, e.g. `10m` [default: 10m].
    #[arg(long, env = "CLAVIS_CLEANUP_INTERVAL")]
    pub cleanup_interval: Option<String>,
    /// How long a connection may take to send a request's headers, and how long an idle
    /// keep-alive connection stays open, e.g. `10s` [default: 10s].
    #[arg(long, env = "CLAVIS_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<String>,
    /// Token endpoint requests per second per client (burst: the same number); 0 = no limit.
    #[arg(long, env = "CLAVIS_TOKEN_RATE_PER_CLIENT")]
    pub token_rate_per_client: Option<u32>,
    /// Token endpoint requests per second per client IP address; 0 = no limit.
    #[arg(long, env = "CLAVIS_TOKEN_RATE_PER_IP")]
    pub token_rate_per_ip: Option<u32>,
    /// Enable dynamic client registration at /oauth2/register [default: false].
    #[arg(long, env = "CLAVIS_DCR_ENABLED")]
    pub dcr_enabled: Option<bool>,
    /// Require a server nonce in every DPoP proof (RFC 9449 §8) [default: false].
    #[arg(long, env = "CLAVIS_DPOP_REQUIRE_NONCE")]
    pub dpop_require_nonce: Option<bool>,
    /// If set, registering a client needs this bearer token (RFC 7591 initial access token).
    #[arg(long, env = "CLAVIS_DCR_INITIAL_ACCESS_TOKEN", hide_env_values = true)]
    pub dcr_initial_access_token: Option<String>,
    /// Comma-separated CIDRs and host names that fetches made for clients (jwks_uri) may
    /// reach although they are loopback, private or link-local [default: none].
    #[arg(long, env = "CLAVIS_OUTBOUND_ALLOW")]
    pub outbound_allow: Option<String>,
    /// Comma-separated IPs and CIDRs of the reverse proxies in front of the public listener:
    /// for requests from them the client's address is read from CLAVIS_CLIENT_IP_HEADER
    /// [default: none, the TCP peer is the client].
    #[arg(long, env = "CLAVIS_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// The header those proxies set: `x-forwarded-for` or `forwarded` (RFC 7239)
    /// [default: x-forwarded-for].
    #[arg(long, env = "CLAVIS_CLIENT_IP_HEADER")]
    pub client_ip_header: Option<String>,
    /// PEM certificate chain: the public and admin listeners serve HTTPS (with CLAVIS_TLS_KEY).
    #[arg(long, env = "CLAVIS_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of CLAVIS_TLS_CERT. Both files are read again when they change.
    #[arg(long, env = "CLAVIS_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// A third public listener, HTTPS, that asks clients for certificates (RFC 8705 mTLS).
    #[arg(long, env = "CLAVIS_MTLS_ADDR")]
    pub mtls_addr: Option<String>,
    /// Its URL as clients reach it, for `mtls_endpoint_aliases` [default: https://{mtls addr}].
    #[arg(long, env = "CLAVIS_MTLS_URL")]
    pub mtls_url: Option<String>,
    /// Its certificate chain [default: CLAVIS_TLS_CERT].
    #[arg(long, env = "CLAVIS_MTLS_CERT")]
    pub mtls_cert: Option<PathBuf>,
    /// Its private key [default: CLAVIS_TLS_KEY].
    #[arg(long, env = "CLAVIS_MTLS_KEY")]
    pub mtls_key: Option<PathBuf>,
    /// PEM bundle of the CAs trusted for `tls_client_auth` [default: none: only
    /// `self_signed_tls_client_auth` can succeed].
    #[arg(long, env = "CLAVIS_MTLS_CLIENT_CA")]
    pub mtls_client_ca: Option<PathBuf>,
}

/// The same settings in `clavis.toml` (snake_case keys); unknown keys are an error.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    public_addr: Option<String>,
    admin_addr: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    internal_api_keys: Option<String>,
    bootstrap_client_id: Option<String>,
    bootstrap_client_secret: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    access_token_ttl: Option<String>,
    client_cache_ttl: Option<String>,
    login_url: Option<String>,
    consent_url: Option<String>,
    logout_url: Option<String>,
    device_verification_url: Option<String>,
    error_url: Option<String>,
    refresh_token_ttl: Option<String>,
    refresh_family_ttl: Option<String>,
    secret_encryption_key: Option<String>,
    dcr_enabled: Option<bool>,
    dpop_require_nonce: Option<bool>,
    dcr_initial_access_token: Option<String>,
    cleanup_interval: Option<String>,
    header_read_timeout: Option<String>,
    token_rate_per_client: Option<u32>,
    token_rate_per_ip: Option<u32>,
    outbound_allow: Option<String>,
    trusted_proxies: Option<String>,
    client_ip_header: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    mtls_addr: Option<String>,
    mtls_url: Option<String>,
    mtls_cert: Option<PathBuf>,
    mtls_key: Option<PathBuf>,
    mtls_client_ca: Option<PathBuf>,
}

/// Resolved configuration. Its `Debug` shows no secrets.
#[derive(Clone)]
pub struct Config {
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    database_url: Option<String>,
    pub internal_api_keys: Vec<String>,
    pub bootstrap: Option<(String, String)>,
    pub log: String,
    pub log_json: bool,
    pub access_token_ttl_secs: i64,
    pub client_cache_ttl_secs: u64,
    pub login_url: Option<String>,
    pub consent_url: Option<String>,
    pub logout_url: Option<String>,
    pub device_verification_url: Option<String>,
    pub error_url: Option<String>,
    pub refresh_token_ttl_secs: i64,
    pub refresh_family_ttl_secs: i64,
    pub secret_encryption_key: Option<[u8; 32]>,
    pub dcr_enabled: bool,
    pub dpop_require_nonce: bool,
    pub dcr_initial_access_token: Option<String>,
    pub cleanup_interval_secs: u64,
    pub header_read_timeout_secs: u64,
    pub token_rate_per_client: u32,
    pub token_rate_per_ip: u32,
    pub outbound_allow: clavis_service::outbound::Allowlist,
    pub trusted_proxies: clavis_http::client_ip::TrustedProxies,
    /// HTTPS for the public and admin listeners.
    pub tls: Option<crate::tls::TlsFiles>,
    /// The mutual-TLS listener.
    pub mtls: Option<MtlsListener>,
    /// DER certificates of the CAs trusted for `tls_client_auth` (over the mTLS listener or
    /// from a trusted proxy's `Client-Cert`).
    pub mtls_client_cas: Vec<Vec<u8>>,
}

/// The mutual-TLS listener (RFC 8705): its address, URL and certificate.
#[derive(Debug, Clone)]
pub struct MtlsListener {
    pub addr: SocketAddr,
    pub url: Option<String>,
    pub files: crate::tls::TlsFiles,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("public_addr", &self.public_addr)
            .field("admin_addr", &self.admin_addr)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.redacted_database_url())
            .field("internal_api_keys", &format!("<{} keys>", self.internal_api_keys.len()))
            .field("bootstrap_client_id", &self.bootstrap.as_ref().map(|(id, _)| id))
            .field("log", &self.log)
            .finish_non_exhaustive()
    }
}

pub const MIN_BOOTSTRAP_SECRET_LEN: usize = 32;

impl Config {
    pub fn resolve(args: &ConfigArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None if Path::new("clavis.toml").exists() => load_file(Path::new("clavis.toml"))?,
            None => FileConfig::default(),
        };
        macro_rules! pick {
            ($field:ident) => {
                args.$field.clone().or(file.$field.clone())
            };
        }
        let addr = |v: Option<String>, default: &str, name: &str| -> anyhow::Result<SocketAddr> {
            let v = v.unwrap_or_else(|| default.to_owned());
            v.parse().with_context(|| format!("{name}: {v:?} is not an address like 127.0.0.1:4444"))
        };
        let duration = |v: Option<String>, default: i64, name: &str| -> anyhow::Result<i64> {
            match v {
                None => Ok(default),
                Some(s) => clavis_core::duration::parse_seconds(&s).with_context(|| format!("{name}: {s:?} is not a duration like 1h or 900s")),
            }
        };
        let bootstrap = match (pick!(bootstrap_client_id), pick!(bootstrap_client_secret)) {
            (None, None) => None,
            (Some(id), Some(secret)) => {
                if id.is_empty() || id.len() > 128 {
                    bail!("CLAVIS_BOOTSTRAP_CLIENT_ID must be 1 to 128 characters");
                }
                if secret.len() < MIN_BOOTSTRAP_SECRET_LEN {
                    bail!("CLAVIS_BOOTSTRAP_CLIENT_SECRET must be at least {MIN_BOOTSTRAP_SECRET_LEN} characters");
                }
                Some((id, secret))
            }
            _ => bail!("CLAVIS_BOOTSTRAP_CLIENT_ID and CLAVIS_BOOTSTRAP_CLIENT_SECRET go together"),
        };
        let access_token_ttl_secs = duration(pick!(access_token_ttl), 3600, "access_token_ttl")?;
        if !(1..=7 * 24 * 3600).contains(&access_token_ttl_secs) {
            bail!("access_token_ttl must be between 1s and 168h");
        }
        let log_format = pick!(log_format).unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            bail!("log_format must be text or json");
        }
        Ok(Self {
            public_addr: addr(pick!(public_addr), "127.0.0.1:4444", "public_addr")?,
            admin_addr: addr(pick!(admin_addr), "127.0.0.1:4445", "admin_addr")?,
            public_url: pick!(public_url).filter(|s| !s.is_empty()),
            data_dir: pick!(data_dir).unwrap_or_else(|| PathBuf::from("./clavis-data")),
            database_url: pick!(database_url).filter(|s| !s.is_empty()),
            internal_api_keys: pick!(internal_api_keys)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
            bootstrap,
            log: pick!(log).unwrap_or_else(|| "info".into()),
            log_json: log_format == "json",
            access_token_ttl_secs,
            client_cache_ttl_secs: duration(pick!(client_cache_ttl), 2, "client_cache_ttl")? as u64,
            login_url: app_url(pick!(login_url), "login_url")?,
            consent_url: app_url(pick!(consent_url), "consent_url")?,
            logout_url: app_url(pick!(logout_url), "logout_url")?,
            device_verification_url: app_url(pick!(device_verification_url), "device_verification_url")?,
            error_url: app_url(pick!(error_url), "error_url")?,
            refresh_token_ttl_secs: duration(pick!(refresh_token_ttl), 30 * 24 * 3600, "refresh_token_ttl")?,
            refresh_family_ttl_secs: duration(pick!(refresh_family_ttl), 90 * 24 * 3600, "refresh_family_ttl")?,
            secret_encryption_key: match pick!(secret_encryption_key).filter(|s| !s.is_empty()) {
                None => None,
                Some(s) => Some(decode_key(&s)?),
            },
            dcr_enabled: pick!(dcr_enabled).unwrap_or(false),
            dpop_require_nonce: pick!(dpop_require_nonce).unwrap_or(false),
            dcr_initial_access_token: pick!(dcr_initial_access_token).filter(|s| !s.is_empty()),
            cleanup_interval_secs: duration(pick!(cleanup_interval), 600, "cleanup_interval")?.max(1) as u64,
            header_read_timeout_secs: duration(pick!(header_read_timeout), 10, "header_read_timeout")?.max(1) as u64,
            token_rate_per_client: pick!(token_rate_per_client).unwrap_or(0),
            token_rate_per_ip: pick!(token_rate_per_ip).unwrap_or(0),
            outbound_allow: clavis_service::outbound::Allowlist::parse(&pick!(outbound_allow).unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("outbound_allow (CLAVIS_OUTBOUND_ALLOW): {e}"))?,
            trusted_proxies: {
                let header = clavis_http::client_ip::ForwardingHeader::parse(&pick!(client_ip_header).unwrap_or_default())
                    .map_err(|e| anyhow::anyhow!("client_ip_header (CLAVIS_CLIENT_IP_HEADER): {e}"))?;
                clavis_http::client_ip::TrustedProxies::parse(&pick!(trusted_proxies).unwrap_or_default(), header)
                    .map_err(|e| anyhow::anyhow!("trusted_proxies (CLAVIS_TRUSTED_PROXIES): {e}"))?
            },
            tls: match (pick!(tls_cert), pick!(tls_key)) {
                (None, None) => None,
                (Some(cert), Some(key)) => Some(crate::tls::TlsFiles { cert, key }),
                _ => bail!("tls_cert and tls_key (CLAVIS_TLS_CERT, CLAVIS_TLS_KEY) go together"),
            },
            mtls: match pick!(mtls_addr).filter(|a| !a.is_empty()) {
                None => None,
                Some(a) => {
                    let files = match (pick!(mtls_cert).or(pick!(tls_cert)), pick!(mtls_key).or(pick!(tls_key))) {
                        (Some(cert), Some(key)) => crate::tls::TlsFiles { cert, key },
                        _ => bail!(
                            "mtls_addr needs a certificate and key: CLAVIS_MTLS_CERT and CLAVIS_MTLS_KEY, or CLAVIS_TLS_CERT and CLAVIS_TLS_KEY"
                        ),
                    };
                    let url = pick!(mtls_url).filter(|u| !u.is_empty()).map(|u| u.trim_end_matches('/').to_owned());
                    Some(MtlsListener { addr: addr(Some(a), "", "mtls_addr")?, url, files })
                }
            },
            mtls_client_cas: match pick!(mtls_client_ca) {
                Some(path) => crate::tls::read_certificates(&path).context("mtls_client_ca (CLAVIS_MTLS_CLIENT_CA)")?,
                None => Vec::new(),
            },
        })
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("clavis.db").display()))
    }

    /// The database URL without its password, for logs and errors.
    pub fn redacted_database_url(&self) -> String {
        let url = self.database_url();
        match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let creds = &url[s + 3..at];
                match creds.split_once(':') {
                    Some((user, _)) => format!("{}://{user}:***@{}", &url[..s], &url[at + 1..]),
                    None => url,
                }
            }
            _ => url,
        }
    }

    /// Overrides the database (tests).
    pub fn with_database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }
}

/// A 32-byte key in standard or URL-safe base64.
fn decode_key(s: &str) -> anyhow::Result<[u8; 32]> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()))
        .map_err(|_| anyhow::anyhow!("secret_encryption_key must be base64"))?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("secret_encryption_key must be 32 bytes (e.g. openssl rand -base64 32)"))
}

/// An absolute http(s) URL of the login/consent app, or nothing.
fn app_url(v: Option<String>, name: &str) -> anyhow::Result<Option<String>> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) if s.starts_with("https://") || s.starts_with("http://") => Ok(Some(s)),
        Some(s) => bail!("{name}: {s:?} must be an absolute http(s) URL"),
    }
}

fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_redaction() {
        let c = Config::resolve(&ConfigArgs { config: Some("/nonexistent".into()), ..Default::default() });
        assert!(c.is_err(), "an explicitly named missing file is an error");
        let c = Config::resolve(&ConfigArgs::default()).unwrap();
        assert_eq!(c.public_addr.to_string(), "127.0.0.1:4444");
        assert_eq!(c.admin_addr.to_string(), "127.0.0.1:4445");
        assert_eq!(c.database_url(), "sqlite://./clavis-data/clavis.db");
        assert_eq!(c.access_token_ttl_secs, 3600);
        let c = c.with_database_url("postgres://clavis:hunter2@db:5432/clavis");
        assert_eq!(c.redacted_database_url(), "postgres://clavis:***@db:5432/clavis");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn flags_beat_file_and_short_bootstrap_secrets_are_refused() {
        let dir = std::env::temp_dir().join(format!("clavis-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("clavis.toml");
        std::fs::write(&file, "public_addr = \"127.0.0.1:7000\"\nadmin_addr = \"127.0.0.1:7001\"\n").unwrap();
        let args = ConfigArgs { config: Some(file.clone()), admin_addr: Some("127.0.0.1:9001".into()), ..Default::default() };
        let c = Config::resolve(&args).unwrap();
        assert_eq!(c.public_addr.to_string(), "127.0.0.1:7000");
        assert_eq!(c.admin_addr.to_string(), "127.0.0.1:9001");
        std::fs::write(&file, "no_such_key = 1\n").unwrap();
        assert!(Config::resolve(&args).is_err());
        let args = ConfigArgs { bootstrap_client_id: Some("admin".into()), bootstrap_client_secret: Some("short".into()), ..Default::default() };
        assert!(Config::resolve(&args).is_err());
        std::fs::write(&file, "outbound_allow = \"10.0.0.0/8, jwks.internal.example\"\n").unwrap();
        let c = Config::resolve(&ConfigArgs { config: Some(file.clone()), ..Default::default() }).unwrap();
        assert!(c.outbound_allow.contains_ip("10.1.2.3".parse().unwrap()));
        assert!(c.outbound_allow.contains_host("jwks.internal.example"));
        let args = ConfigArgs { outbound_allow: Some("127.0.0.1, 10.0.0.0/40".into()), ..Default::default() };
        let err = Config::resolve(&args).unwrap_err().to_string();
        assert!(err.contains("CLAVIS_OUTBOUND_ALLOW") && err.contains("10.0.0.0/40"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn trusted_proxies_are_none_by_default_and_checked() {
        use clavis_http::client_ip::{ForwardingHeader, TrustedProxies};
        assert!(Config::resolve(&ConfigArgs::default()).unwrap().trusted_proxies.is_empty());
        let args = ConfigArgs { trusted_proxies: Some("10.0.0.0/8, ::1".into()), client_ip_header: Some("Forwarded".into()), ..Default::default() };
        let c = Config::resolve(&args).unwrap();
        assert_eq!(c.trusted_proxies, TrustedProxies::parse("10.0.0.0/8,::1", ForwardingHeader::Forwarded).unwrap());
        let err = Config::resolve(&ConfigArgs { trusted_proxies: Some("lb.internal".into()), ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("CLAVIS_TRUSTED_PROXIES") && err.contains("lb.internal"), "{err}");
        let err = Config::resolve(&ConfigArgs { client_ip_header: Some("x-real-ip".into()), ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("CLAVIS_CLIENT_IP_HEADER"), "{err}");
    }
}
