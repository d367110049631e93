//! Configuration: defaults < `clavis.toml` < `CLAVIS_*` environment < command-line flags.
//!
//! Every setting is declared once, in the `settings!` table below: its key (the TOML key;
//! `--key-with-dashes` as a flag, `CLAVIS_KEY` in the environment), type, default and help.
//! The flags, the file's keys, the environment variables, `clavis config show` and the
//! sample file (`clavis.example.toml`) are all derived from it. A secret setting can also be
//! read from a file (`…_file`, `--…-file`, `CLAVIS_…_FILE`), as container secrets are.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// A setting's value type: how it is read from a flag or variable, and from TOML.
pub trait SettingValue: Sized + Clone {
    /// What the sample file shows it as (`quoted` strings, bare numbers and booleans).
    const QUOTED: bool;
    const IS_BOOL: bool = false;
    fn parse(text: &str) -> Result<Self, String>;
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::String(s) => Self::parse(s),
            toml::Value::Integer(i) => Self::parse(&i.to_string()),
            toml::Value::Boolean(b) => Self::parse(&b.to_string()),
            // A list setting may be written as a TOML array of strings.
            toml::Value::Array(items) => {
                let items: Option<Vec<&str>> = items.iter().map(toml::Value::as_str).collect();
                Self::parse(&items.ok_or("a list must hold strings")?.join(","))
            }
            other => Err(format!("a {} is not a value of this setting", other.type_str())),
        }
    }
    fn show(&self) -> String;
}

impl SettingValue for String {
    const QUOTED: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn show(&self) -> String {
        self.clone()
    }
}

impl SettingValue for PathBuf {
    const QUOTED: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        Ok(PathBuf::from(text))
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl SettingValue for u32 {
    const QUOTED: bool = false;
    fn parse(text: &str) -> Result<Self, String> {
        text.trim().parse().map_err(|_| format!("{text:?} is not a whole number"))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl SettingValue for bool {
    const QUOTED: bool = false;
    const IS_BOOL: bool = true;
    fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(format!("{text:?} is not a boolean (true/false, 1/0, yes/no, on/off)")),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// One declared setting, for help, `config show` and the sample file.
#[derive(Debug)]
pub struct Setting {
    pub key: &'static str,
    pub help: &'static str,
    /// The default as written in the file; `None` when there is none or it depends on others.
    pub default: Option<&'static str>,
    pub quoted: bool,
    /// The key of the file holding the value, for a secret (its value is never shown).
    pub secret_file: Option<&'static str>,
}

impl Setting {
    pub fn env(key: &str) -> String {
        format!("CLAVIS_{}", key.to_ascii_uppercase())
    }
    pub fn flag(key: &str) -> String {
        key.replace('_', "-")
    }
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env,
    Flag,
}

/// A setting's key, the key its value was read under (itself or its `…_file`), and where.
pub type Sourced = (&'static str, &'static str, Source);

/// One layer of values read from where it is read (flags, environment, file).
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

macro_rules! settings {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty $(= $default:literal)? $(, secret $file:ident)? ;)*) => {
        /// Settings of one layer (and the flags): `None` is "not set here".
        #[derive(Debug, Default, Clone)]
        pub struct ConfigArgs {
            /// Configuration file; a missing default `./clavis.toml` is fine.
            pub config: Option<PathBuf>,
            $( pub $name: Option<$ty>, )*
            $( $( pub $file: Option<PathBuf>, )? )*
        }

        /// Every setting, in the order of the table.
        pub const SETTINGS: &[Setting] = &[$(Setting {
            key: stringify!($name),
            help: concat!($($doc, " "),*),
            default: { #[allow(unused_mut, unused_assignments)] let mut d = None; $( d = Some($default); )? d },
            quoted: <$ty as SettingValue>::QUOTED,
            secret_file: { #[allow(unused_mut, unused_assignments)] let mut f = None; $( f = Some(stringify!($file)); )? f },
        },)*];

        impl ConfigArgs {
            /// The layer that `lookup(key)` gives (a key of [`SETTINGS`] or a `…_file` key).
            fn read(lookup: Lookup<'_>, describe: &dyn Fn(&str) -> String) -> anyhow::Result<Self> {
                let mut layer = Self::default();
                $(
                    if let Some(text) = lookup(stringify!($name)) {
                        layer.$name = Some(<$ty as SettingValue>::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", describe(stringify!($name))))?);
                    }
                    $( layer.$file = lookup(stringify!($file)).map(PathBuf::from); )?
                )*
                Ok(layer)
            }

            /// The `clavis.toml` layer; an unknown key is an error naming it.
            fn from_toml(table: &toml::Table, path: &Path) -> anyhow::Result<Self> {
                let mut layer = Self::default();
                for (key, value) in table {
                    match key.as_str() {
                        $(
                            stringify!($name) => layer.$name = Some(<$ty as SettingValue>::from_toml(value).map_err(|e| anyhow::anyhow!("{}: {key}: {e}", path.display()))?),
                            $( stringify!($file) => layer.$file = Some(PathBuf::from(value.as_str().ok_or_else(|| anyhow::anyhow!("{}: {key} must be a path", path.display()))?)), )?
                        )*
                        _ => bail!("{}: unknown setting {key:?} (`clavis config sample` lists them all)", path.display()),
                    }
                }
                Ok(layer)
            }

            /// The values of the highest layer that has each, `…_file` ones read, and where each
            /// came from; then the declared defaults.
            fn merge(layers: &[(&ConfigArgs, Source)]) -> anyhow::Result<(ConfigArgs, Vec<Sourced>)> {
                let mut out = ConfigArgs::default();
                let mut sources = Vec::new();
                $(
                    'found: {
                        for (layer, source) in layers {
                            $( if let Some(path) = &layer.$file {
                                if layer.$name.is_some() {
                                    bail!("{} and {} are both set: give one", stringify!($name), stringify!($file));
                                }
                                let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read {}", stringify!($file), path.display()))?;
                                // A file's trailing newline is not part of the secret.
                                let text = text.strip_suffix('\n').unwrap_or(&text);
                                let text = text.strip_suffix('\r').unwrap_or(text);
                                out.$name = Some(<$ty as SettingValue>::parse(text).map_err(|e| anyhow::anyhow!("{}: {e}", stringify!($file)))?);
                                sources.push((stringify!($name), stringify!($file), source.clone()));
                                break 'found;
                            } )?
                            if let Some(v) = &layer.$name {
                                out.$name = Some(v.clone());
                                sources.push((stringify!($name), stringify!($name), source.clone()));
                                break 'found;
                            }
                        }
                        $( out.$name = Some(<$ty as SettingValue>::parse($default).expect("declared defaults parse")); )?
                        sources.push((stringify!($name), stringify!($name), Source::Default));
                    }
                )*
                Ok((out, sources))
            }

            /// The effective value of `key` as text (`None`: unset).
            fn shown(&self, key: &str) -> Option<String> {
                match key {
                    $( stringify!($name) => self.$name.as_ref().map(SettingValue::show), )*
                    _ => None,
                }
            }
        }

        impl clap::FromArgMatches for ConfigArgs {
            fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
                let mut args = Self::default();
                args.update_from_arg_matches(m)?;
                Ok(args)
            }
            fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
                let flag = |key: &str| m.try_get_one::<String>(key).ok().flatten().cloned();
                if let Some(c) = flag("config") {
                    self.config = Some(PathBuf::from(c));
                }
                let layer = ConfigArgs::read(&flag, &|key| format!("--{}", Setting::flag(key)))
                    .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("{e}\n")))?;
                $(
                    if layer.$name.is_some() { self.$name = layer.$name; }
                    $( if layer.$file.is_some() { self.$file = layer.$file; } )?
                )*
                Ok(())
            }
        }

        impl clap::Args for ConfigArgs {
            fn augment_args(cmd: clap::Command) -> clap::Command {
                let arg = |key: &'static str, help: String| {
                    clap::Arg::new(key).long(Setting::flag(key)).help(help).value_name("VALUE").global(true).help_heading("Settings (also CLAVIS_* variables and clavis.toml keys)")
                };
                let mut cmd = cmd.arg(arg("config", "Configuration file [env: CLAVIS_CONFIG] [default: ./clavis.toml if it exists]".into()).value_name("FILE"));
                $(
                    let help = format!("{} [env: {}]{}", concat!($($doc, " "),*).trim(), Setting::env(stringify!($name)),
                        { #[allow(unused_mut, unused_assignments)] let mut d = String::new(); $( d = format!(" [default: {}]", $default); )? d });
                    let mut a = arg(stringify!($name), help);
                    if <$ty as SettingValue>::IS_BOOL {
                        a = a.num_args(0..=1).default_missing_value("true").value_name("BOOL");
                    }
                    cmd = cmd.arg(a);
                    $( cmd = cmd.arg(arg(stringify!($file), format!("Read {} from this file [env: {}]", stringify!($name), Setting::env(stringify!($file)))).value_name("FILE")); )?
                )*
                cmd
            }
            fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
                Self::augment_args(cmd)
            }
        }
    };
}

settings! {
    /// Public (OAuth) listener
    public_addr: String = "127.0.0.1:4444";
    /// Admin listener
    admin_addr: String = "127.0.0.1:4445";
    /// Issuer base URL [default: http://{public addr}].
    public_url: String;
    /// Data directory for the default SQLite database
    data_dir: PathBuf = "./clavis-data";
    /// `postgres://…` or `sqlite://…` [default: SQLite in the data directory].
    database_url: String, secret database_url_file;
    /// Comma-separated keys for `X-API-Key` on `/internal/*`.
    internal_api_keys: String, secret internal_api_keys_file;
    /// Client id of the admin client ensured at start (tenant `default`).
    bootstrap_client_id: String;
    /// Its secret (at least 32 characters).
    bootstrap_client_secret: String, secret bootstrap_client_secret_file;
    /// Log filter, e.g. `info` or `clavis=debug`
    log: String = "info";
    /// `text` or `json`
    log_format: String = "text";
    /// Access token lifetime, e.g. `1h`, `900s`
    access_token_ttl: String = "1h";
    /// How stale another node's client changes may be here, e.g. `2s`
    client_cache_ttl: String = "2s";
    /// The login app: `/oauth2/auth` sends users here with `login_challenge`.
    login_url: String;
    /// The consent app: users arrive with `consent_challenge`.
    consent_url: String;
    /// The logout page of the login app.
    logout_url: String;
    /// The device verification page of the login app (RFC 8628): users arrive with `device_challenge` and type their user code.
    device_verification_url: String;
    /// Where browsers go when an authorization or logout request cannot be answered to the client (Hydra's `urls.error`) [default: a page of Clavis].
    error_url: String;
    /// Refresh token lifetime, e.g. `720h`
    refresh_token_ttl: String = "720h";
    /// Absolute lifetime of a refresh token family (rotation does not extend it), e.g. `2160h`
    refresh_family_ttl: String = "2160h";
    /// 32 bytes, base64: seals the secrets of client_secret_jwt clients (which the server must be able to read). Without it, client_secret_jwt cannot be registered.
    secret_encryption_key: String, secret secret_encryption_key_file;
    /// How often expired codes, tokens, jtis and sessions are deleted, e.g. `10m`
    cleanup_interval: String = "10m";
    /// How long a connection may take to send a request's headers, and how long an idle keep-alive connection stays open, e.g. `10s`
    header_read_timeout: String = "10s";
    /// Token endpoint requests per second per client (burst: the same number); 0 = no limit.
    token_rate_per_client: u32 = "0";
    /// Token endpoint requests per second per client IP address; 0 = no limit.
    token_rate_per_ip: u32 = "0";
    /// Enable dynamic client registration at /oauth2/register
    dcr_enabled: bool = "false";
    /// Require a server nonce in every DPoP proof (RFC 9449 §8)
    dpop_require_nonce: bool = "false";
    /// If set, registering a client needs this bearer token (RFC 7591 initial access token).
    dcr_initial_access_token: String, secret dcr_initial_access_token_file;
    /// Comma-separated CIDRs and host names that fetches made for clients (jwks_uri) may reach although they are loopback, private or link-local [default: none].
    outbound_allow: String;
    /// Comma-separated IPs and CIDRs of the reverse proxies in front of the public listener: for requests from them the client's address is read from CLAVIS_CLIENT_IP_HEADER [default: none, the TCP peer is the client].
    trusted_proxies: String;
    /// The header those proxies set: `x-forwarded-for` or `forwarded` (RFC 7239) [default: x-forwarded-for].
    client_ip_header: String;
    /// PEM certificate chain: the public and admin listeners serve HTTPS (with CLAVIS_TLS_KEY).
    tls_cert: PathBuf;
    /// PEM private key of CLAVIS_TLS_CERT. Both files are read again when they change.
    tls_key: PathBuf;
    /// A third public listener, HTTPS, that asks clients for certificates (RFC 8705 mTLS).
    mtls_addr: String;
    /// Its URL as clients reach it, for `mtls_endpoint_aliases` [default: https://{mtls addr}].
    mtls_url: String;
    /// Its certificate chain [default: CLAVIS_TLS_CERT].
    mtls_cert: PathBuf;
    /// Its private key [default: CLAVIS_TLS_KEY].
    mtls_key: PathBuf;
    /// PEM bundle of the CAs trusted for `tls_client_auth` [default: none: only `self_signed_tls_client_auth` can succeed].
    mtls_client_ca: PathBuf;
    /// Authorization code lifetime (RFC 6749 §4.1.2 recommends at most 10 minutes; fapi2 clients get at most 60 s).
    auth_code_ttl: String = "10m";
    /// ID token lifetime (a client's own lifespan wins).
    id_token_ttl: String = "1h";
    /// How long a login/consent (or device) flow may take from its start to the code.
    flow_ttl: String = "1h";
    /// How long a pushed authorization request's request_uri stays usable (RFC 9126; fapi2 clients at most 60 s).
    par_ttl: String = "90s";
    /// Default grace period of a rotated client secret (the old one keeps working this long).
    rotation_grace: String = "4h";
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
    pub auth_code_ttl_secs: i64,
    pub id_token_ttl_secs: i64,
    pub flow_ttl_secs: i64,
    pub par_ttl_secs: i64,
    pub rotation_grace_secs: i64,
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
    /// The configuration of these flags over the process's environment and file.
    pub fn resolve(flags: &ConfigArgs) -> anyhow::Result<Self> {
        Ok(Self::layered(flags, &|name| std::env::var(name).ok())?.0)
    }

    /// The configuration of these flags over this environment (`env(CLAVIS_…)`) and the
    /// file, and where each setting's value came from.
    pub fn layered(flags: &ConfigArgs, env: Lookup<'_>) -> anyhow::Result<(Self, Vec<Sourced>)> {
        let (merged, sources) = merged(flags, env)?;
        Ok((Self::from_settings(&merged)?, sources))
    }

    /// Each setting's effective value (secrets masked) and where it came from, for
    /// `clavis config show`; an error if the configuration is not valid.
    pub fn show(flags: &ConfigArgs, env: Lookup<'_>) -> anyhow::Result<Vec<(&'static str, String, String)>> {
        let (merged, sources) = merged(flags, env)?;
        Self::from_settings(&merged)?;
        Ok(sources
            .into_iter()
            .map(|(key, read_as, source)| {
                let secret = SETTINGS.iter().any(|s| s.key == key && s.secret_file.is_some());
                let value = match merged.shown(key) {
                    None => "(unset)".to_owned(),
                    Some(_) if secret => "***".to_owned(),
                    Some(v) => v,
                };
                let from = match source {
                    Source::Default => "default".to_owned(),
                    Source::File(path) => format!("file {} ({read_as})", path.display()),
                    Source::Env => format!("env {}", Setting::env(read_as)),
                    Source::Flag => format!("flag --{}", Setting::flag(read_as)),
                };
                (key, value, from)
            })
            .collect())
    }

    /// The configuration of merged settings: each value checked, the ones that depend on
    /// others derived.
    fn from_settings(args: &ConfigArgs) -> anyhow::Result<Self> {
        macro_rules! pick {
            ($field:ident) => {
                args.$field.clone()
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
        let bounded = |key: &str, v: Option<String>, default: i64, range: std::ops::RangeInclusive<i64>, shown: &str| -> anyhow::Result<i64> {
            let secs = duration(v, default, key)?;
            if !range.contains(&secs) {
                bail!("{key} must be between {shown}");
            }
            Ok(secs)
        };
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
            auth_code_ttl_secs: bounded("auth_code_ttl", pick!(auth_code_ttl), 600, 1..=3600, "1s and 1h")?,
            id_token_ttl_secs: bounded("id_token_ttl", pick!(id_token_ttl), 3600, 1..=7 * 24 * 3600, "1s and 168h")?,
            flow_ttl_secs: bounded("flow_ttl", pick!(flow_ttl), 3600, 60..=24 * 3600, "1m and 24h")?,
            par_ttl_secs: bounded("par_ttl", pick!(par_ttl), 90, 1..=3600, "1s and 1h")?,
            rotation_grace_secs: bounded("rotation_grace", pick!(rotation_grace), 4 * 3600, 0..=30 * 24 * 3600, "0s and 720h")?,
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

/// The layers merged: the flags, then the environment, then the file (`--config`,
/// `CLAVIS_CONFIG`, or `./clavis.toml` if it exists), then the defaults.
fn merged(flags: &ConfigArgs, env: Lookup<'_>) -> anyhow::Result<(ConfigArgs, Vec<Sourced>)> {
    let env_layer = ConfigArgs::read(&|key| env(&Setting::env(key)), &|key| Setting::env(key))?;
    let path = flags.config.clone().or_else(|| env("CLAVIS_CONFIG").filter(|p| !p.is_empty()).map(PathBuf::from));
    let file = match path {
        Some(path) => Some((load_file(&path)?, path)),
        None if Path::new("clavis.toml").exists() => Some((load_file(Path::new("clavis.toml"))?, PathBuf::from("clavis.toml"))),
        None => None,
    };
    let mut layers = vec![(flags, Source::Flag), (&env_layer, Source::Env)];
    if let Some((layer, path)) = &file {
        layers.push((layer, Source::File(path.clone())));
    }
    ConfigArgs::merge(&layers)
}

/// The commented sample configuration (`clavis config sample`, `clavis.example.toml`).
pub fn sample() -> String {
    let mut out = String::from(
        "# clavis.toml: every setting, commented out at its default (generated by `clavis config sample`).\n\
         # Order of precedence: defaults < this file < CLAVIS_* environment variables < command-line flags.\n\
         # Every key is also a variable (CLAVIS_ and the key in capitals) and a flag (--key-with-dashes).\n",
    );
    for s in SETTINGS {
        out.push('\n');
        for line in wrap(s.help.trim(), 96) {
            out.push_str(&format!("# {line}\n"));
        }
        let value = match (s.default, s.quoted) {
            (Some(d), true) => format!("{d:?}"),
            (Some(d), false) => d.to_owned(),
            (None, _) => "\"\"".to_owned(),
        };
        out.push_str(&format!("#{} = {value}\n", s.key));
        if let Some(file) = s.secret_file {
            out.push_str(&format!("# or read it from a file:\n#{file} = \"/run/secrets/{}\"\n", s.key));
        }
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_owned());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
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

fn load_file(path: &Path) -> anyhow::Result<ConfigArgs> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    ConfigArgs::from_toml(&table, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// These flags over no environment: the tests see none of the process's CLAVIS_*.
    fn resolve(flags: &ConfigArgs) -> anyhow::Result<Config> {
        Ok(Config::layered(flags, &|_| None)?.0)
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("clavis-cfg-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn layers_default_file_env_flag_each_win_over_the_one_before() {
        let dir = temp_dir("layers");
        let file = dir.join("clavis.toml");
        std::fs::write(&file, "public_addr = \"127.0.0.1:7000\"\nadmin_addr = \"127.0.0.1:7001\"\nlog = \"debug\"\nauth_code_ttl = \"5m\"\n")
            .unwrap();
        let env = |name: &str| match name {
            "CLAVIS_ADMIN_ADDR" => Some("127.0.0.1:8001".to_owned()),
            "CLAVIS_LOG" => Some("warn".to_owned()),
            "CLAVIS_PAR_TTL" => Some("30s".to_owned()),
            _ => None,
        };
        let flags = ConfigArgs { config: Some(file.clone()), log: Some("trace".into()), ..Default::default() };
        let (c, sources) = Config::layered(&flags, &env).unwrap();
        assert_eq!(c.public_addr.to_string(), "127.0.0.1:7000", "file over default");
        assert_eq!(c.admin_addr.to_string(), "127.0.0.1:8001", "environment over file");
        assert_eq!(c.log, "trace", "flag over environment");
        assert_eq!(
            (c.auth_code_ttl_secs, c.par_ttl_secs, c.flow_ttl_secs, c.id_token_ttl_secs, c.rotation_grace_secs),
            (300, 30, 3600, 3600, 4 * 3600)
        );
        let from = |key: &str| sources.iter().find(|(k, _, _)| *k == key).unwrap().2.clone();
        assert_eq!(from("public_addr"), Source::File(file.clone()));
        assert_eq!(from("admin_addr"), Source::Env);
        assert_eq!(from("log"), Source::Flag);
        assert_eq!(from("cleanup_interval"), Source::Default);
        let shown = Config::show(&flags, &env).unwrap();
        assert!(shown.iter().any(|(k, v, from)| *k == "par_ttl" && v == "30s" && from == "env CLAVIS_PAR_TTL"), "{shown:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn booleans_take_their_usual_spellings_and_refuse_others() {
        for (text, want) in [("true", true), ("1", true), ("YES", true), ("on", true), ("false", false), ("0", false), ("no", false), ("Off", false)]
        {
            let env = move |name: &str| (name == "CLAVIS_DCR_ENABLED").then(|| text.to_owned());
            assert_eq!(Config::layered(&ConfigArgs::default(), &env).unwrap().0.dcr_enabled, want, "{text}");
        }
        let env = |name: &str| (name == "CLAVIS_DCR_ENABLED").then(|| "maybe".to_owned());
        let err = Config::layered(&ConfigArgs::default(), &env).err().unwrap().to_string();
        assert!(err.contains("CLAVIS_DCR_ENABLED") && err.contains("maybe"), "{err}");
    }

    #[test]
    fn secrets_are_read_from_files_and_masked_when_shown() {
        let dir = temp_dir("secret-files");
        let secret = dir.join("bootstrap");
        std::fs::write(&secret, "a-bootstrap-secret-of-enough-length-0123\n").unwrap();
        let db = dir.join("db");
        std::fs::write(&db, "postgres://clavis:hunter2@db/clavis").unwrap();
        let env = |name: &str| match name {
            "CLAVIS_BOOTSTRAP_CLIENT_ID" => Some("admin".to_owned()),
            "CLAVIS_BOOTSTRAP_CLIENT_SECRET_FILE" => Some(secret.display().to_string()),
            _ => None,
        };
        let flags = ConfigArgs { config: Some(dir.join("none.toml")), ..Default::default() };
        std::fs::write(dir.join("none.toml"), format!("database_url_file = {:?}\n", db.display().to_string())).unwrap();
        let (c, _) = Config::layered(&flags, &env).unwrap();
        assert_eq!(c.bootstrap, Some(("admin".into(), "a-bootstrap-secret-of-enough-length-0123".into())), "without the file's newline");
        assert_eq!(c.database_url(), "postgres://clavis:hunter2@db/clavis");
        let shown = Config::show(&flags, &env).unwrap();
        assert!(!format!("{shown:?}").contains("hunter2") && !format!("{shown:?}").contains("enough-length"), "{shown:?}");
        assert!(shown.iter().any(|(k, v, from)| *k == "bootstrap_client_secret" && v == "***" && from == "env CLAVIS_BOOTSTRAP_CLIENT_SECRET_FILE"));
        let both = |name: &str| match name {
            "CLAVIS_DATABASE_URL" => Some("sqlite://x.db".to_owned()),
            "CLAVIS_DATABASE_URL_FILE" => Some(db.display().to_string()),
            _ => None,
        };
        assert!(Config::layered(&ConfigArgs::default(), &both).is_err(), "a value and a file for one setting in one layer");
        let missing = |name: &str| (name == "CLAVIS_DATABASE_URL_FILE").then(|| "/nonexistent/db".to_owned());
        assert!(Config::layered(&ConfigArgs::default(), &missing).err().unwrap().to_string().contains("/nonexistent/db"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_lifetimes_are_errors_that_name_them() {
        let dir = temp_dir("unknown");
        let file = dir.join("clavis.toml");
        std::fs::write(&file, "public_adr = \"127.0.0.1:1\"\n").unwrap();
        let err = resolve(&ConfigArgs { config: Some(file.clone()), ..Default::default() }).err().unwrap().to_string();
        assert!(err.contains("public_adr"), "{err}");
        std::fs::write(&file, "token_rate_per_ip = \"many\"\n").unwrap();
        let err = resolve(&ConfigArgs { config: Some(file.clone()), ..Default::default() }).err().unwrap().to_string();
        assert!(err.contains("token_rate_per_ip"), "{err}");
        std::fs::write(&file, "token_rate_per_ip = 5\ninternal_api_keys = [\"k1-0123456789\", \"k2-0123456789\"]\n").unwrap();
        let c = resolve(&ConfigArgs { config: Some(file.clone()), ..Default::default() }).unwrap();
        assert_eq!((c.token_rate_per_ip, c.internal_api_keys.len()), (5, 2), "TOML numbers and arrays");
        for (flags, key) in [
            (ConfigArgs { auth_code_ttl: Some("2h".into()), ..Default::default() }, "auth_code_ttl"),
            (ConfigArgs { par_ttl: Some("0s".into()), ..Default::default() }, "par_ttl"),
            (ConfigArgs { flow_ttl: Some("soon".into()), ..Default::default() }, "flow_ttl"),
            (ConfigArgs { rotation_grace: Some("9999h".into()), ..Default::default() }, "rotation_grace"),
        ] {
            let err = resolve(&flags).err().unwrap().to_string();
            assert!(err.contains(key), "{err}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The committed sample is what the declarations generate (`clavis config sample >
    /// clavis.example.toml` after changing a setting), and it is a valid configuration.
    #[test]
    fn the_sample_file_matches_the_declarations() {
        let committed = include_str!("../../../clavis.example.toml");
        assert!(committed == sample(), "clavis.example.toml is stale: run `cargo run -- config sample > clavis.example.toml`");
        let uncommented: String = sample()
            .lines()
            .filter_map(|l| l.strip_prefix('#').filter(|l| !l.starts_with(' ') && !l.contains("_file =") && !l.ends_with("= \"\"")))
            .map(|l| format!("{l}\n"))
            .collect();
        let table: toml::Table = toml::from_str(&uncommented).unwrap();
        assert!(table.len() > 15, "{uncommented}");
        let layer = ConfigArgs::from_toml(&table, Path::new("sample")).unwrap();
        Config::from_settings(&ConfigArgs::merge(&[(&layer, Source::File("sample".into()))]).unwrap().0).unwrap();
    }

    #[test]
    fn defaults_and_redaction() {
        let c = resolve(&ConfigArgs { config: Some("/nonexistent".into()), ..Default::default() });
        assert!(c.is_err(), "an explicitly named missing file is an error");
        let c = resolve(&ConfigArgs::default()).unwrap();
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
        let c = resolve(&args).unwrap();
        assert_eq!(c.public_addr.to_string(), "127.0.0.1:7000");
        assert_eq!(c.admin_addr.to_string(), "127.0.0.1:9001");
        std::fs::write(&file, "no_such_key = 1\n").unwrap();
        assert!(resolve(&args).is_err());
        let args = ConfigArgs { bootstrap_client_id: Some("admin".into()), bootstrap_client_secret: Some("short".into()), ..Default::default() };
        assert!(resolve(&args).is_err());
        std::fs::write(&file, "outbound_allow = \"10.0.0.0/8, jwks.internal.example\"\n").unwrap();
        let c = resolve(&ConfigArgs { config: Some(file.clone()), ..Default::default() }).unwrap();
        assert!(c.outbound_allow.contains_ip("10.1.2.3".parse().unwrap()));
        assert!(c.outbound_allow.contains_host("jwks.internal.example"));
        let args = ConfigArgs { outbound_allow: Some("127.0.0.1, 10.0.0.0/40".into()), ..Default::default() };
        let err = resolve(&args).unwrap_err().to_string();
        assert!(err.contains("CLAVIS_OUTBOUND_ALLOW") && err.contains("10.0.0.0/40"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn trusted_proxies_are_none_by_default_and_checked() {
        use clavis_http::client_ip::{ForwardingHeader, TrustedProxies};
        assert!(resolve(&ConfigArgs::default()).unwrap().trusted_proxies.is_empty());
        let args = ConfigArgs { trusted_proxies: Some("10.0.0.0/8, ::1".into()), client_ip_header: Some("Forwarded".into()), ..Default::default() };
        let c = resolve(&args).unwrap();
        assert_eq!(c.trusted_proxies, TrustedProxies::parse("10.0.0.0/8,::1", ForwardingHeader::Forwarded).unwrap());
        let err = resolve(&ConfigArgs { trusted_proxies: Some("lb.internal".into()), ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("CLAVIS_TRUSTED_PROXIES") && err.contains("lb.internal"), "{err}");
        let err = resolve(&ConfigArgs { client_ip_header: Some("x-real-ip".into()), ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("CLAVIS_CLIENT_IP_HEADER"), "{err}");
    }
}
