//! Clavis domain: the types every layer shares, their validation rules, and the
//! cryptography of secrets and tokens. Nothing here does I/O.

pub mod assertion;
pub mod certificate;
pub mod client;
pub mod client_extras;
pub mod dpop;
pub mod duration;
pub mod form;
pub mod ids;
pub mod imported_hash;
pub mod jose;
pub mod json_patch;
pub mod private_jwk;
pub mod scope;
pub mod secret;
pub mod tenant;
pub mod tenant_policy;
pub mod time;

pub use client::{AuthMethod, Client, ClientInput, ClientStatus, FapiProfile, GrantType};
pub use client_extras::{AccessTokenStrategy, ClientExtras, HydraMetadata, Lifespans, MtlsMetadata};
pub use tenant::TenantId;
pub use tenant_policy::{DcrPolicy, IntrospectionPolicy, SigningDefaults};

/// A rule broken by caller input, naming the field so the caller can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}
