//! The two error types of the service: [`ServiceError`] for the admin use cases (each
//! admin surface maps it to its envelope in one place) and [`OAuthError`] for the
//! protocol endpoints (RFC 6749 §5.2). Both keep the underlying error as `source`, say
//! their HTTP status, and tell an outage (503, retry) from a fault (500).

use std::error::Error;
use std::sync::Arc;

use clavis_core::ValidationError;
use clavis_store::StoreError;

/// The error and its causes, `outer: inner: innermost`, for the log.
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

/// Outcome of a registry use case that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// The request is well-formed but the client's state forbids it.
    #[error("{0}")]
    Refused(String),
    /// The database is unreachable or did not answer in time: 503, worth a retry.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// A fault of ours; the text and the cause go to the log only.
    #[error("internal error: {detail}")]
    Internal {
        detail: String,
        #[source]
        source: Option<StoreError>,
    },
}

impl ServiceError {
    pub(crate) fn store(what: &'static str) -> impl Fn(StoreError) -> ServiceError {
        move |e| match e {
            StoreError::NotFound => ServiceError::NotFound(what),
            StoreError::Conflict => ServiceError::Conflict(format!("{what} already exists")),
            StoreError::Refused(m) => ServiceError::Conflict(m.to_owned()),
            other if other.is_unavailable() => ServiceError::Unavailable(other),
            other => ServiceError::Internal { detail: "database error".into(), source: Some(other) },
        }
    }

    /// A fault of ours without an underlying error.
    pub fn internal(detail: impl Into<String>) -> Self {
        ServiceError::Internal { detail: detail.into(), source: None }
    }

    /// The HTTP status every admin surface answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(_) | Self::Refused(_) => 400,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Unavailable(_) => 503,
            Self::Internal { .. } => 500,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::store("client")(e)
    }
}

/// RFC 6749 §5.2 error codes, with a description safe to show the caller
/// ([`OAuthError::description`]), the detail for the log (the `Display`, with the cause as
/// `source`), and the status ([`OAuthError::status`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(String),
    #[error("access_denied: {0}")]
    AccessDenied(String),
    #[error("login_required: {0}")]
    LoginRequired(String),
    #[error("consent_required: {0}")]
    ConsentRequired(String),
    #[error("unsupported_token_type: {0}")]
    UnsupportedTokenType(String),
    /// RFC 9449 §5: the DPoP proof is missing where required, or fails a check.
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(String),
    /// RFC 9449 §8: prove again with this server nonce (sent as `DPoP-Nonce`).
    #[error("use_dpop_nonce")]
    UseDpopNonce { nonce: String },
    /// Too many attempts, or no capacity now: 429 with `Retry-After` (seconds).
    #[error("temporarily_unavailable: retry after {0}s")]
    RateLimited(u64),
    /// An error a login/consent app chose when rejecting (code and description are its own).
    #[error("{0}: {1}")]
    Custom(String, String),
    /// A fault of ours; `detail` and the cause go to the log only.
    #[error("server_error: {detail}")]
    ServerError {
        detail: String,
        #[source]
        source: Option<Arc<dyn Error + Send + Sync>>,
    },
    /// The database is unreachable or did not answer in time: 503, retry later.
    #[error("temporarily_unavailable: the database is unavailable")]
    Unavailable(#[source] Arc<StoreError>),
}

impl OAuthError {
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::AccessDenied(_) => "access_denied",
            Self::LoginRequired(_) => "login_required",
            Self::ConsentRequired(_) => "consent_required",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::UseDpopNonce { .. } => "use_dpop_nonce",
            Self::RateLimited(_) => "temporarily_unavailable",
            Self::Custom(code, _) => code,
            Self::ServerError { .. } => "server_error",
            Self::Unavailable(_) => "temporarily_unavailable",
        }
    }

    pub fn description(&self) -> &str {
        match self {
            Self::ServerError { .. } => "the server could not complete the request",
            Self::Unavailable(_) => "the service is temporarily unavailable; retry later",
            // The reason stays in the log: the caller learns neither which check failed
            // nor whether the client exists.
            Self::InvalidClient(_) => "client authentication failed",
            Self::RateLimited(_) => "too many attempts; retry later",
            Self::UseDpopNonce { .. } => "a DPoP proof with the server's nonce (DPoP-Nonce) is required",
            Self::InvalidRequest(m)
            | Self::InvalidGrant(m)
            | Self::UnauthorizedClient(m)
            | Self::UnsupportedGrantType(m)
            | Self::InvalidScope(m)
            | Self::UnsupportedResponseType(m)
            | Self::AccessDenied(m)
            | Self::LoginRequired(m)
            | Self::ConsentRequired(m)
            | Self::UnsupportedTokenType(m)
            | Self::InvalidDpopProof(m)
            | Self::Custom(_, m) => m,
        }
    }
}

impl OAuthError {
    /// A fault of ours without an underlying error.
    pub fn server(detail: impl Into<String>) -> Self {
        OAuthError::ServerError { detail: detail.into(), source: None }
    }

    /// A fault of ours, caused by `source`.
    pub fn server_caused(detail: impl Into<String>, source: impl Error + Send + Sync + 'static) -> Self {
        OAuthError::ServerError { detail: detail.into(), source: Some(Arc::new(source)) }
    }

    /// The HTTP status of this error at the protocol endpoints: 401 for a client that
    /// failed to authenticate (RFC 6749 §5.2), 429 rate limited, 500 fault, 503 outage,
    /// else 400.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidClient(_) => 401,
            Self::RateLimited(_) => 429,
            Self::ServerError { .. } => 500,
            Self::Unavailable(_) => 503,
            _ => 400,
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            OAuthError::Unavailable(Arc::new(e))
        } else {
            OAuthError::server_caused("database error", e)
        }
    }
}

impl From<ServiceError> for OAuthError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unavailable(e) => OAuthError::Unavailable(Arc::new(e)),
            other => OAuthError::server_caused("use case failed", other),
        }
    }
}
