//! How an authorization response (or error) reaches the client's redirect URI: OAuth 2.0
//! Multiple Response Type Encoding Practices (`query`, `fragment`) and OAuth 2.0 Form Post
//! Response Mode (`form_post`). Every response carries `iss` (RFC 9207).
//!
//! Decisions: with `response_type=code` all three are allowed, `query` being the default.
//! The hybrid `code id_token` (OpenID Connect Core §3.3) defaults to `fragment` and refuses
//! `query`, which would put an ID token in URLs that servers log (Multiple Response Types
//! §2.1 and §5). The JWT-secured modes (JARM) are not served yet and are refused as
//! unsupported.

use serde::{Deserialize, Serialize};

use crate::OAuthError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    pub const NAMES: &'static [&'static str] = &["query", "fragment", "form_post"];

    /// The `response_mode` parameter for a `hybrid` (`code id_token`) request or not;
    /// absent is the response type's default.
    pub(crate) fn parse(v: Option<&str>, hybrid: bool) -> Result<Self, OAuthError> {
        match v {
            None if hybrid => Ok(Self::Fragment),
            Some("query") if hybrid => {
                Err(OAuthError::InvalidRequest("response_mode query cannot carry an ID token; use fragment or form_post".into()))
            }
            None | Some("query") => Ok(Self::Query),
            Some("fragment") => Ok(Self::Fragment),
            Some("form_post") => Ok(Self::FormPost),
            Some(other) => {
                Err(OAuthError::InvalidRequest(format!("response_mode {other:?} is not supported; use one of {}", Self::NAMES.join(", "))))
            }
        }
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

/// The response `params` at `redirect_uri`, delivered in `mode`.
pub(crate) fn deliver(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> Navigation {
    match mode {
        ResponseMode::Query => Navigation::Redirect(crate::flows::with_params(redirect_uri, params)),
        ResponseMode::Fragment => {
            // A registered redirect URI has no fragment (RFC 6749 §3.1.2), so this one is ours.
            let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
            Navigation::Redirect(format!("{redirect_uri}#{encoded}"))
        }
        ResponseMode::FormPost => {
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
        assert_eq!(deliver("https://rp.example/cb?x=1", ResponseMode::Query, &p).target(), "https://rp.example/cb?x=1&code=a+b&state=s%261");
        assert_eq!(deliver("https://rp.example/cb", ResponseMode::Fragment, &p).target(), "https://rp.example/cb#code=a+b&state=s%261");
        let Navigation::FormPost { action, params } = deliver("https://rp.example/cb", ResponseMode::FormPost, &p) else { panic!() };
        assert_eq!((action.as_str(), params[1].1.as_str()), ("https://rp.example/cb", "s&1"));
        assert!(ResponseMode::parse(Some("jwt"), false).is_err() && ResponseMode::parse(Some("Query"), false).is_err());
        assert_eq!(ResponseMode::parse(None, false).unwrap(), ResponseMode::Query);
        assert_eq!(ResponseMode::parse(None, true).unwrap(), ResponseMode::Fragment);
        assert!(ResponseMode::parse(Some("query"), true).is_err());
        assert_eq!(normalize_response_type("id_token code").as_deref(), Some("code id_token"));
        assert_eq!(normalize_response_type("code  id_token"), None);
        assert_eq!(normalize_response_type("code code"), None);
    }
}
