//! How an authorization response (or error) reaches the client's redirect URI: OAuth 2.0
//! Multiple Response Type Encoding Practices (`query`, `fragment`) and OAuth 2.0 Form Post
//! Response Mode (`form_post`), and their JWT-secured forms (JARM: `query.jwt`,
//! `fragment.jwt`, `form_post.jwt`, and `jwt` for the response type's default). Every
//! response carries `iss` (RFC 9207); a JARM response is one parameter, `response`, a JWT
//! the server signs whose claims are the parameters with `iss`, `aud` and `exp`.
//!
//! Decisions: with `response_type=code` all modes are allowed, `query` being the default.
//! The hybrid `code id_token` (OpenID Connect Core §3.3) defaults to `fragment` and refuses
//! `query` and `query.jwt`, which would put an ID token in URLs that servers log (Multiple
//! Response Types §2.1 and §5; JARM §2.3.1). JARM responses are signed, never encrypted.

use std::sync::Arc;

use clavis_core::jose::Alg;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::keys::TenantKeys;
use crate::OAuthError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    #[default]
    #[serde(rename = "query")]
    Query,
    #[serde(rename = "fragment")]
    Fragment,
    #[serde(rename = "form_post")]
    FormPost,
    #[serde(rename = "query.jwt")]
    QueryJwt,
    #[serde(rename = "fragment.jwt")]
    FragmentJwt,
    #[serde(rename = "form_post.jwt")]
    FormPostJwt,
}

impl ResponseMode {
    pub const NAMES: &'static [&'static str] = &["query", "fragment", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt"];

    /// The `response_mode` parameter for a `hybrid` (`code id_token`) request or not;
    /// absent is the response type's default.
    pub(crate) fn parse(v: Option<&str>, hybrid: bool) -> Result<Self, OAuthError> {
        match v {
            None if hybrid => Ok(Self::Fragment),
            Some("query" | "query.jwt") if hybrid => {
                Err(OAuthError::InvalidRequest("response_mode query cannot carry an ID token; use fragment, form_post or their .jwt forms".into()))
            }
            None | Some("query") => Ok(Self::Query),
            Some("fragment") => Ok(Self::Fragment),
            Some("form_post") => Ok(Self::FormPost),
            Some("jwt") if hybrid => Ok(Self::FragmentJwt),
            Some("jwt" | "query.jwt") => Ok(Self::QueryJwt),
            Some("fragment.jwt") => Ok(Self::FragmentJwt),
            Some("form_post.jwt") => Ok(Self::FormPostJwt),
            Some(other) => {
                Err(OAuthError::InvalidRequest(format!("response_mode {other:?} is not supported; use one of {}", Self::NAMES.join(", "))))
            }
        }
    }

    /// Whether the response is a JWT (JARM).
    pub fn is_jwt(self) -> bool {
        matches!(self, Self::QueryJwt | Self::FragmentJwt | Self::FormPostJwt)
    }

    /// How the parameters (or the JWT, for JARM) travel.
    fn carrier(self) -> Self {
        match self {
            Self::QueryJwt => Self::Query,
            Self::FragmentJwt => Self::Fragment,
            Self::FormPostJwt => Self::FormPost,
            plain => plain,
        }
    }
}

/// How long a JARM response is valid (JARM §2.1 recommends at most ten minutes).
pub const JARM_LIFETIME_SECS: i64 = 600;

/// What signs a JWT-secured response for one client: the tenant's key of the client's
/// `authorization_signed_response_alg` (RS256 if it has none, JARM §3).
pub(crate) struct ResponseSigner {
    pub keys: Arc<TenantKeys>,
    pub alg: Alg,
    pub client_id: String,
    pub now: i64,
}

impl ResponseSigner {
    /// The JARM JWT of `params`: they become claims, `iss` among them, with `aud` (the
    /// client) and `exp`.
    fn sign(&self, params: &[(&str, &str)]) -> String {
        let mut claims: Map<String, Value> = params.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
        claims.insert("aud".into(), json!(self.client_id));
        claims.insert("exp".into(), json!(self.now + JARM_LIFETIME_SECS));
        self.keys.signer(self.alg).sign_jwt(&Value::Object(claims))
    }
}

/// The response types served, in the normalized order (parts sorted).
pub const RESPONSE_TYPES: &[&str] = &["code", "code id_token"];

/// A `response_type` value as a set (OAuth 2.0 Multiple Response Types §2: the order of
/// the space-separated parts does not matter), written in sorted order; `None` if a part
/// is empty or repeated.
pub fn normalize_response_type(v: &str) -> Option<String> {
    let mut parts: Vec<&str> = v.split(' ').collect();
    parts.sort_unstable();
    let n = parts.len();
    parts.dedup();
    (parts.len() == n && !parts.iter().any(|p| p.is_empty())).then(|| parts.join(" "))
}

/// Where the browser goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Navigation {
    /// A 303 to this URL.
    Redirect(String),
    /// A page whose form posts `params` to `action` at once (Form Post Response Mode §2).
    FormPost { action: String, params: Vec<(String, String)> },
}

impl Navigation {
    /// The URL a redirect goes to, or a form posts to.
    pub fn target(&self) -> &str {
        match self {
            Navigation::Redirect(url) | Navigation::FormPost { action: url, .. } => url,
        }
    }
}

/// The response `params` at `redirect_uri`, delivered in `mode` (for JARM, signed by
/// `signer` into the one parameter `response`).
pub(crate) fn deliver(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)], signer: &ResponseSigner) -> Navigation {
    if mode.is_jwt() {
        let response = signer.sign(params);
        return deliver_plain(redirect_uri, mode.carrier(), &[("response", &response)]);
    }
    deliver_plain(redirect_uri, mode, params)
}

fn deliver_plain(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> Navigation {
    match mode.carrier() {
        ResponseMode::Query => Navigation::Redirect(crate::flows::with_params(redirect_uri, params)),
        ResponseMode::Fragment => {
            // A registered redirect URI has no fragment (RFC 6749 §3.1.2), so this one is ours.
            let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
            Navigation::Redirect(format!("{redirect_uri}#{encoded}"))
        }
        _ => {
            Navigation::FormPost { action: redirect_uri.to_owned(), params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_puts_the_parameters_where_it_says() {
        let p = [("code", "a b"), ("state", "s&1")];
        assert_eq!(deliver_plain("https://rp.example/cb?x=1", ResponseMode::Query, &p).target(), "https://rp.example/cb?x=1&code=a+b&state=s%261");
        assert_eq!(deliver_plain("https://rp.example/cb", ResponseMode::Fragment, &p).target(), "https://rp.example/cb#code=a+b&state=s%261");
        let Navigation::FormPost { action, params } = deliver_plain("https://rp.example/cb", ResponseMode::FormPost, &p) else { panic!() };
        assert_eq!((action.as_str(), params[1].1.as_str()), ("https://rp.example/cb", "s&1"));
        assert!(ResponseMode::parse(Some("jwt.query"), false).is_err() && ResponseMode::parse(Some("Query"), false).is_err());
        assert_eq!(ResponseMode::parse(Some("jwt"), false).unwrap(), ResponseMode::QueryJwt);
        assert_eq!(ResponseMode::parse(Some("jwt"), true).unwrap(), ResponseMode::FragmentJwt);
        assert!(ResponseMode::parse(Some("query.jwt"), true).is_err());
        assert_eq!(ResponseMode::parse(None, false).unwrap(), ResponseMode::Query);
        assert_eq!(ResponseMode::parse(None, true).unwrap(), ResponseMode::Fragment);
        assert!(ResponseMode::parse(Some("query"), true).is_err());
        assert_eq!(normalize_response_type("id_token code").as_deref(), Some("code id_token"));
        assert_eq!(normalize_response_type("code  id_token"), None);
        assert_eq!(normalize_response_type("code code"), None);
    }
}
