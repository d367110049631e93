//! The token endpoint (RFC 6749 §3.2), as one pipeline:
//!
//! parse (HTTP) → authenticate ([`crate::client_auth`]) → **grant** → **bind** → **sign** → respond (HTTP)
//!
//! - **grant**: one file per grant type, each implementing [`Grant`]; [`GRANTS`] lists
//!   them. A grant reads its own parameters, checks and spends what it redeems, and says
//!   what the tokens stand for.
//! - **bind**: [`binding`] says how the access token is tied to its holder (Bearer or
//!   DPoP; mTLS plugs in there) and what `cnf` it carries.
//! - **sign**: [`issue`] mints the access token (JWT or opaque), the ID token and the
//!   refresh token.
//!
//! Adding a grant (device code, token exchange, JWT bearer) is one new file here and one
//! line in [`GRANTS`].

mod authorization_code;
pub(crate) mod binding;
mod client_credentials;
mod device_code;
mod grant_data;
pub(crate) mod issue;
pub(crate) mod jwt_bearer;
mod refresh_token;
mod token_exchange;

use std::future::Future;
use std::pin::Pin;

use clavis_core::certificate::ClientCertificate;
use clavis_core::{Client, GrantType, TenantId};

pub(crate) use grant_data::GrantData;
pub use issue::TokenSet;

use crate::dpop::DpopInput;
use crate::{OAuthError, Services};

/// Every grant type the token endpoint serves, by its `grant_type` value.
static GRANTS: &[&dyn Grant] = &[
    &authorization_code::AuthorizationCode,
    &client_credentials::ClientCredentials,
    &refresh_token::RefreshToken,
    &device_code::DeviceCode,
    &token_exchange::TokenExchange,
    &jwt_bearer::JwtBearer,
];

/// A token request: the form parameters (each at most once) and the issuer it came
/// through. Its client authenticates separately, with the same parameters.
pub struct TokenRequest<'a> {
    pub tenant: &'a TenantId,
    /// The issuer URL the request came through (`iss` of what is issued).
    pub issuer: &'a str,
    pub grant_type: &'a str,
    pub params: &'a [(String, String)],
    /// The request's `DPoP` proof (RFC 9449), if it has one.
    pub dpop: Option<DpopInput>,
    /// The client certificate of the connection (RFC 8705), if any.
    pub certificate: Option<ClientCertificate>,
}

impl<'a> TokenRequest<'a> {
    /// Checked before the client authenticates: a request without `grant_type` is
    /// malformed whoever sends it.
    pub fn new(tenant: &'a TenantId, issuer: &'a str, params: &'a [(String, String)]) -> Result<Self, OAuthError> {
        let grant_type = clavis_core::form::param(params, "grant_type").ok_or_else(|| OAuthError::InvalidRequest("grant_type is required".into()))?;
        Ok(Self { tenant, issuer, grant_type, params, dpop: None, certificate: None })
    }

    /// The request with its `DPoP` proof and its connection's client certificate.
    pub fn with_proofs(self, dpop: Option<DpopInput>, certificate: Option<ClientCertificate>) -> Self {
        Self { dpop, certificate, ..self }
    }

    /// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        clavis_core::form::param(self.params, name)
    }
}

/// What a grant works with: the request, its authenticated client, and the binding the
/// tokens will carry.
pub(crate) struct GrantContext<'a> {
    pub request: &'a TokenRequest<'a>,
    pub client: &'a Client,
    pub binding: &'a binding::Binding,
}

impl GrantContext<'_> {
    pub fn tenant(&self) -> &TenantId {
        self.request.tenant
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.request.get(name)
    }
}

pub(crate) type GrantFuture<'a> = Pin<Box<dyn Future<Output = Result<TokenSet, OAuthError>> + Send + 'a>>;

/// One grant type of the token endpoint (RFC 6749 §4, and its extensions).
pub(crate) trait Grant: Sync {
    /// The `grant_type` value it answers to.
    fn grant_type(&self) -> &'static str;
    /// The registration a client needs to use it.
    fn registered_as(&self) -> GrantType;
    /// Redeems the request's grant for tokens.
    fn exchange<'a>(&'a self, s: &'a Services, ctx: &'a GrantContext<'a>) -> GrantFuture<'a>;
}

/// The grant types served, for discovery (`grant_types_supported`).
pub fn supported_grant_types() -> impl Iterator<Item = &'static str> {
    GRANTS.iter().map(|g| g.grant_type())
}

impl Services {
    /// Issues tokens for an authenticated client (RFC 6749 §3.2): the grant its
    /// `grant_type` names, bound and signed.
    pub async fn token(&self, req: &TokenRequest<'_>, client: &Client) -> Result<TokenSet, OAuthError> {
        let grant_type = req.grant_type;
        let grant = GRANTS
            .iter()
            .find(|g| g.grant_type() == grant_type)
            .ok_or_else(|| OAuthError::UnsupportedGrantType(format!("grant_type {grant_type:?} is not supported")))?;
        if !client.grant_types.contains(&grant.registered_as()) {
            return Err(OAuthError::UnauthorizedClient(format!("the client is not registered for {grant_type}")));
        }
        let binding = self.binding_for(req, client).await?;
        grant.exchange(self, &GrantContext { request: req, client, binding: &binding }).await
    }
}
