//! The one HTTP client for every URL Clavis fetches on behalf of a client: `jwks_uri`,
//! `sector_identifier_uri`, `request_uri`, and the logout tokens POSTed to
//! `backchannel_logout_uri`.
//!
//! Such URLs are chosen by whoever registers a client, so a fetch must not become a probe
//! of the operator's network: destinations that resolve to loopback, private, link-local
//! and other special-purpose addresses are refused unless `CLAVIS_OUTBOUND_ALLOW` lists
//! them. The check is made on the resolved addresses and the connection goes to a checked
//! address (the resolver below drops the others), so DNS rebinding gains nothing. No
//! redirects, no proxies, time and size limits. Errors carry the detail for the log;
//! callers answer their own callers with a generic error.

mod allow;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use allow::{is_special_purpose, Allowlist};

/// A TCP (and TLS) connection must be up within this time …
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// … and the whole exchange, body included, done within this one.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a fetch failed. For the log only: its text names addresses and statuses, which
/// would make a port scanner of the server if shown to the caller.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("not an absolute http(s) URL")]
    BadUrl,
    #[error("destination {0} is not allowed (special-purpose address; see CLAVIS_OUTBOUND_ALLOW)")]
    Refused(String),
    #[error("timed out")]
    Timeout,
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    #[error("body is not JSON")]
    NotJson,
    #[error("request failed: {0}")]
    Http(String),
}

/// Shared by the client and its resolver.
#[derive(Debug)]
struct Policy {
    allow: Allowlist,
}

impl Policy {
    /// Whether `ip`, reached through host name `host` (if any), may be fetched from.
    fn permits(&self, host: Option<&str>, ip: IpAddr) -> bool {
        !is_special_purpose(ip) || self.allow.contains_ip(ip) || host.is_some_and(|h| self.allow.contains_host(h))
    }
}

/// The error the resolver returns when every address of a name is refused; found again
/// in reqwest's error chain to report `Refused` rather than a connection error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RefusedDestination(String);

/// Resolves with the system resolver (through tokio) and keeps only the permitted
/// addresses: hyper connects to what this returns, so a name cannot resolve to a public
/// address for a check and to a private one for the connection.
struct CheckedResolver(Arc<Policy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = all.iter().copied().filter(|a| policy.permits(Some(&host), a.ip())).collect();
            if ok.is_empty() {
                let shown = all.first().map_or_else(|| host.clone(), |a| format!("{host} ({})", a.ip()));
                return Err(Box::new(RefusedDestination(shown)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The outbound HTTP client. Cheap to share (`Arc`); one per server.
pub struct Outbound {
    http: reqwest::Client,
    policy: Arc<Policy>,
}

impl Outbound {
    pub fn new(allow: Allowlist) -> Self {
        let policy = Arc::new(Policy { allow });
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            // HTTP(S)_PROXY from the environment would send these requests, and the
            // address check, somewhere else.
            .no_proxy()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            // Fetches are rare (cached, rate-limited); idle sockets to hosts chosen by
            // clients are not worth keeping.
            .pool_max_idle_per_host(0)
            .user_agent(concat!("clavis/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client");
        Self { http, policy }
    }

    /// GET `url` and return its body if the answer is a 2xx of at most `max_bytes`. The
    /// body is read chunk by chunk and the connection dropped as soon as it passes the
    /// limit, whatever Content-Length said (or did not say).
    pub async fn get_limited(&self, url: &str, max_bytes: usize, accept: &str) -> Result<Vec<u8>, OutboundError> {
        let parsed = self.checked(url)?;
        // reqwest's timeout covers the body too; this one also bounds our own reading.
        match tokio::time::timeout(TOTAL_TIMEOUT, self.fetch(parsed, max_bytes, accept)).await {
            Ok(result) => result,
            Err(_) => Err(OutboundError::Timeout),
        }
    }

    /// POST `form` to `url` (a notification such as a logout token): `Ok` on a 2xx. The
    /// answer's body is not read.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(), OutboundError> {
        let parsed = self.checked(url)?;
        let send = self.http.post(parsed).header("cache-control", "no-store").form(form).send();
        match tokio::time::timeout(TOTAL_TIMEOUT, send).await {
            Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
            Ok(Ok(resp)) => Err(OutboundError::Status(resp.status().as_u16())),
            Ok(Err(e)) => Err(classify(e)),
            Err(_) => Err(OutboundError::Timeout),
        }
    }

    /// `url` parsed, if it is http(s) and not an IP literal the policy refuses (reqwest
    /// does not call the resolver for those, so they are checked here).
    fn checked(&self, url: &str) -> Result<url::Url, OutboundError> {
        let parsed = url::Url::parse(url).map_err(|_| OutboundError::BadUrl)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(OutboundError::BadUrl);
        }
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(OutboundError::BadUrl),
        };
        match literal.filter(|ip| !self.policy.permits(None, *ip)) {
            Some(ip) => Err(OutboundError::Refused(ip.to_string())),
            None => Ok(parsed),
        }
    }

    /// As [`Outbound::get_limited`], parsed as JSON.
    pub async fn get_json_limited(&self, url: &str, max_bytes: usize) -> Result<serde_json::Value, OutboundError> {
        let body = self.get_limited(url, max_bytes, "application/json").await?;
        serde_json::from_slice(&body).map_err(|_| OutboundError::NotJson)
    }

    async fn fetch(&self, url: url::Url, max_bytes: usize, accept: &str) -> Result<Vec<u8>, OutboundError> {
        let mut resp = self.http.get(url).header("accept", accept).send().await.map_err(classify)?;
        if !resp.status().is_success() {
            return Err(OutboundError::Status(resp.status().as_u16()));
        }
        if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(OutboundError::TooLarge(max_bytes));
        }
        let mut body = Vec::with_capacity(resp.content_length().map_or(8192, |n| n as usize));
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > max_bytes {
                // Dropping the response closes the connection: nothing more is read.
                return Err(OutboundError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A URL as it may be logged: without user info, query or fragment (a client might have
/// put a credential there).
pub fn loggable(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}://{}{}", u.scheme(), u.host_str().unwrap_or(""), u.port().map(|p| format!(":{p}")).unwrap_or_default()) + u.path(),
        Err(_) => "<not a URL>".into(),
    }
}

fn classify(e: reqwest::Error) -> OutboundError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<RefusedDestination>() {
            return OutboundError::Refused(refused.0.clone());
        }
        source = s.source();
    }
    if e.is_timeout() {
        OutboundError::Timeout
    } else if e.is_connect() {
        // The innermost cause says most ("connection refused", "no such host").
        let mut inner: &dyn std::error::Error = &e;
        while let Some(s) = inner.source() {
            inner = s;
        }
        OutboundError::Connect(inner.to_string())
    } else {
        OutboundError::Http(e.to_string())
    }
}
