//! A small client of Clavis's Hydra-compatible admin API
//! (`/admin/oauth2/auth/requests/{login,consent}[/accept|/reject]`), authenticated with
//! an access token of the admin client (client_credentials), refreshed before it expires.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use tokio::sync::Mutex;

/// Where Clavis is and who this app is there.
#[derive(Clone)]
pub struct AdminApiConfig {
    /// Base URL of the admin listener, e.g. `http://127.0.0.1:4445`.
    pub admin_url: String,
    /// Token endpoint of the admin client's tenant, e.g. `http://127.0.0.1:4444/oauth2/token`.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for AdminApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApiConfig")
            .field("admin_url", &self.admin_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

pub struct AdminApi {
    http: reqwest::Client,
    config: AdminApiConfig,
    token: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

#[derive(Debug)]
pub enum AdminError {
    /// Clavis answered with an error (`{"error","error_description","status_code"}`).
    Api { status: u16, error: String, description: String },
    /// Clavis could not be reached, or answered something unexpected.
    Other(String),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Api { status, error, description } => write!(f, "HTTP {status} {error}: {description}"),
            AdminError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for AdminError {}

fn other(context: &str) -> impl FnOnce(reqwest::Error) -> AdminError + '_ {
    move |e| AdminError::Other(format!("{context}: {e}"))
}

/// `null` reads as the default (Hydra sends `null` for some empty lists).
fn null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientInfo {
    #[serde(default, deserialize_with = "null_default")]
    pub client_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub client_name: String,
}

impl ClientInfo {
    /// The name to show the user.
    pub fn display_name(&self) -> &str {
        if self.client_name.is_empty() {
            &self.client_id
        } else {
            &self.client_name
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct OidcContext {
    #[serde(default, deserialize_with = "null_default")]
    pub login_hint: String,
    /// The `claims` request parameter (OpenID Connect Core §5.5), if the request had one.
    #[serde(default)]
    pub claims: Value,
}

/// `GET …/login` (Hydra's `OAuth2LoginRequest`, the fields this app uses).
#[derive(Debug, Clone, Deserialize)]
pub struct LoginRequest {
    #[serde(default, deserialize_with = "null_default")]
    pub client: ClientInfo,
    #[serde(default, deserialize_with = "null_default")]
    pub requested_scope: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub skip: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub subject: String,
    #[serde(default, deserialize_with = "null_default")]
    pub oidc_context: OidcContext,
}

/// `GET …/consent` (Hydra's `OAuth2ConsentRequest`, the fields this app uses).
#[derive(Debug, Clone, Deserialize)]
pub struct ConsentRequest {
    #[serde(default, deserialize_with = "null_default")]
    pub client: ClientInfo,
    #[serde(default, deserialize_with = "null_default")]
    pub oidc_context: OidcContext,
    #[serde(default, deserialize_with = "null_default")]
    pub requested_scope: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub requested_access_token_audience: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub skip: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub subject: String,
}

/// `GET …/logout` (Hydra's `OAuth2LogoutRequest`, the fields this app uses).
#[derive(Debug, Clone, Deserialize)]
pub struct LogoutRequest {
    #[serde(default, deserialize_with = "null_default")]
    pub subject: String,
    /// The application that asked, if it said.
    #[serde(default)]
    pub client: Option<ClientInfo>,
}

#[derive(Deserialize)]
struct RedirectTo {
    redirect_to: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Clone, Copy)]
pub enum Kind {
    Login,
    Consent,
    Logout,
    Device,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Login => "login",
            Kind::Consent => "consent",
            Kind::Logout => "logout",
            Kind::Device => "device",
        }
    }

    fn param(self) -> &'static str {
        match self {
            Kind::Login => "login_challenge",
            Kind::Consent => "consent_challenge",
            Kind::Logout => "logout_challenge",
            Kind::Device => "device_challenge",
        }
    }
}

impl AdminApi {
    pub fn new(config: AdminApiConfig) -> anyhow::Result<Self> {
        for (name, u) in [("admin URL", &config.admin_url), ("token URL", &config.token_url)] {
            let parsed = url::Url::parse(u).map_err(|e| anyhow::anyhow!("Clavis {name} {u:?}: {e}"))?;
            anyhow::ensure!(matches!(parsed.scheme(), "http" | "https"), "Clavis {name} {u:?} must be http(s)");
        }
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Self { http, config, token: Mutex::new(None) })
    }

    pub async fn login_request(&self, challenge: &str) -> Result<LoginRequest, AdminError> {
        self.call(reqwest::Method::GET, Kind::Login, "", challenge, None).await
    }

    pub async fn consent_request(&self, challenge: &str) -> Result<ConsentRequest, AdminError> {
        self.call(reqwest::Method::GET, Kind::Consent, "", challenge, None).await
    }

    pub async fn logout_request(&self, challenge: &str) -> Result<LogoutRequest, AdminError> {
        self.call(reqwest::Method::GET, Kind::Logout, "", challenge, None).await
    }

    /// `PUT …/logout/reject`: the user stays signed in (Clavis answers 204, no redirect).
    pub async fn reject_logout(&self, challenge: &str) -> Result<(), AdminError> {
        self.call(reqwest::Method::PUT, Kind::Logout, "/reject", challenge, None).await
    }

    /// `PUT …/{login,consent,logout}/accept`; returns where to send the browser.
    pub async fn accept(&self, kind: Kind, challenge: &str, body: &Value) -> Result<String, AdminError> {
        let r: RedirectTo = self.call(reqwest::Method::PUT, kind, "/accept", challenge, Some(body)).await?;
        Ok(r.redirect_to)
    }

    /// `PUT …/{login,consent}/reject`; returns where to send the browser.
    pub async fn reject(&self, kind: Kind, challenge: &str, body: &Value) -> Result<String, AdminError> {
        let r: RedirectTo = self.call(reqwest::Method::PUT, kind, "/reject", challenge, Some(body)).await?;
        Ok(r.redirect_to)
    }

    /// `PUT …/device/accept`: the user typed `user_code` on the device page; returns where
    /// to send the browser (on to login and consent).
    pub async fn accept_user_code(&self, challenge: &str, user_code: &str) -> Result<String, AdminError> {
        let body = serde_json::json!({ "user_code": user_code });
        let r: RedirectTo = self.call(reqwest::Method::PUT, Kind::Device, "/accept", challenge, Some(&body)).await?;
        Ok(r.redirect_to)
    }

    /// Gets an admin token once, to report a misconfiguration early.
    pub async fn check(&self) -> Result<(), AdminError> {
        self.token().await.map(drop)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        kind: Kind,
        suffix: &str,
        challenge: &str,
        body: Option<&Value>,
    ) -> Result<T, AdminError> {
        let base = self.config.admin_url.trim_end_matches('/');
        let mut url = url::Url::parse(&format!("{base}/admin/oauth2/auth/requests/{}{suffix}", kind.path()))
            .map_err(|e| AdminError::Other(format!("admin URL: {e}")))?;
        url.query_pairs_mut().append_pair(kind.param(), challenge);
        // One retry with a fresh token if Clavis no longer accepts ours (e.g. it restarted
        // with new signing keys).
        for attempt in 0..2 {
            let token = self.token().await?;
            let mut req = self.http.request(method.clone(), url.clone()).bearer_auth(&token);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = req.send().await.map_err(other("calling the Clavis admin API"))?;
            let status = resp.status();
            if status == reqwest::StatusCode::NO_CONTENT {
                return serde_json::from_value(Value::Null).map_err(|e| AdminError::Other(format!("expected a body: {e}")));
            }
            if status.is_success() {
                return resp.json().await.map_err(other("reading the Clavis admin API response"));
            }
            if status == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                self.token.lock().await.take();
                continue;
            }
            return Err(api_error(status, resp).await);
        }
        unreachable!("the loop returns")
    }

    /// A cached admin access token, or a new one (client_credentials).
    async fn token(&self) -> Result<String, AdminError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.refresh_at) {
            return Ok(t.value.clone());
        }
        let resp = self
            .http
            .post(&self.config.token_url)
            .basic_auth(form_encode(&self.config.client_id), Some(form_encode(&self.config.client_secret)))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .map_err(other("calling the Clavis token endpoint"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(api_error(status, resp).await);
        }
        let t: TokenResponse = resp.json().await.map_err(other("reading the Clavis token response"))?;
        // Refresh a minute early (or halfway, for short-lived tokens).
        let lifetime = t.expires_in.unwrap_or(300);
        let refresh_at = Instant::now() + Duration::from_secs(lifetime - (lifetime / 2).min(60));
        *cached = Some(CachedToken { value: t.access_token.clone(), refresh_at });
        Ok(t.access_token)
    }
}

/// RFC 6749 §2.3.1: client credentials in Basic auth are form-urlencoded first.
fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn api_error(status: reqwest::StatusCode, resp: reqwest::Response) -> AdminError {
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let field = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    AdminError::Api { status: status.as_u16(), error: field("error"), description: field("error_description") }
}
