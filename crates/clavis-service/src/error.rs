use clavis_core::ValidationError;
use clavis_store::StoreError;

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
    #[error("internal error")]
    Internal(String),
}

impl ServiceError {
    pub(crate) fn store(what: &'static str) -> impl Fn(StoreError) -> ServiceError {
        move |e| match e {
            StoreError::NotFound => ServiceError::NotFound(what),
            StoreError::Conflict => ServiceError::Conflict(format!("{what} already exists")),
            StoreError::Refused(m) => ServiceError::Conflict(m.to_owned()),
            other => ServiceError::Internal(other.to_string()),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::store("client")(e)
    }
}

/// RFC 6749 §5.2 error codes, with a description safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    /// Too many attempts, or no capacity now: 429 with `Retry-After` (seconds).
    #[error("temporarily_unavailable: retry after {0}s")]
    RateLimited(u64),
    /// An error a login/consent app chose when rejecting (code and description are its own).
    #[error("{0}: {1}")]
    Custom(String, String),
    #[error("server_error")]
    ServerError(String),
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
            Self::RateLimited(_) => "temporarily_unavailable",
            Self::Custom(code, _) => code,
            Self::ServerError(_) => "server_error",
        }
    }

    pub fn description(&self) -> &str {
        match self {
            Self::ServerError(_) => "the server could not complete the request",
            // The reason stays in the log: the caller learns neither which check failed
            // nor whether the client exists.
            Self::InvalidClient(_) => "client authentication failed",
            Self::RateLimited(_) => "too many attempts; retry later",
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
            | Self::Custom(_, m) => m,
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        OAuthError::ServerError(e.to_string())
    }
}
