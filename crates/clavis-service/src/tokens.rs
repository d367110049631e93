//! Access tokens as resource servers and the admin API see them: their claims (RFC 9068)
//! and the checks a presented token passes.

use clavis_core::jose::UnverifiedJwt;
use clavis_core::{secret, ClientStatus, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use clavis_core::certificate::ClientCertificate;

use crate::dpop::DpopInput;
use crate::Services;

/// RFC 9068 access token claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    /// The issuer (a string), or the granted audiences (an array).
    pub aud: Value,
    pub client_id: String,
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// Claims the consent app added for access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext: Option<Value>,
    /// Confirmation of a bound token (RFC 7800); absent for bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Value>,
    /// The acting party of a delegated token (RFC 8693 §4.1), prior actors nested in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Value>,
    /// RFC 9396 §9.1: the authorization details granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<Value>,
}

impl AccessClaims {
    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`, RFC 9449 §6).
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().and_then(|c| c.get("jkt")).and_then(Value::as_str)
    }

    /// The thumbprint of the client certificate the token is bound to (`cnf.x5t#S256`,
    /// RFC 8705 §3.1).
    pub fn x5t(&self) -> Option<&str> {
        self.cnf.as_ref().and_then(|c| c.get("x5t#S256")).and_then(Value::as_str)
    }

    /// Refuses unless `certificate` is the one a certificate-bound token is bound to.
    pub(crate) fn check_certificate(&self, certificate: Option<&ClientCertificate>) -> Result<(), &'static str> {
        match self.x5t() {
            Some(x5t) if certificate.map(ClientCertificate::thumbprint).as_deref() != Some(x5t) => {
                Err("the access token is bound to a client certificate: present it over mutual TLS with that certificate")
            }
            _ => Ok(()),
        }
    }
}

/// Who an accepted access token speaks for.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: TenantId,
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl Principal {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }
}

/// Why a presented access token is not accepted.
#[derive(Debug, thiserror::Error)]
pub enum TokenRejection {
    /// Not a live token of this server; the reason suits the log and `error_description`.
    #[error("{0}")]
    Invalid(&'static str),
    /// The DPoP proof presented with the token fails a check (`invalid_dpop_proof`).
    #[error("{0}")]
    Dpop(String),
    /// Prove again with this server nonce (`use_dpop_nonce`, RFC 9449 §9).
    #[error("a DPoP proof with the server's nonce is required")]
    UseDpopNonce(String),
    /// The check could not be made: the database failed (an outage is 503, never a
    /// refusal of the token).
    #[error("the token could not be checked")]
    Store(#[from] clavis_store::StoreError),
}

impl From<&'static str> for TokenRejection {
    fn from(why: &'static str) -> Self {
        TokenRejection::Invalid(why)
    }
}

/// Leeway for clocks of other nodes when checking `iat`.
const CLOCK_SKEW_SECS: i64 = 60;

/// An access token as a resource endpoint received it: `Authorization: Bearer`, or
/// `Authorization: DPoP` with the request's proof (RFC 9449 §7.1).
#[derive(Debug, Clone)]
pub struct PresentedToken {
    pub token: String,
    pub dpop: Option<DpopInput>,
    /// The client certificate of the connection (RFC 8705 §3), if any.
    pub certificate: Option<ClientCertificate>,
}

impl PresentedToken {
    pub fn bearer(token: &str) -> Self {
        Self { token: token.to_owned(), dpop: None, certificate: None }
    }
}

impl Services {
    /// Accepts an access token for the admin API: see [`Services::accept_access_token`].
    pub async fn verify_access_token(&self, presented: &PresentedToken) -> Result<Principal, TokenRejection> {
        let (tenant, claims) = self.accept_access_token(presented, None).await?;
        let scopes = claims.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        Ok(Principal { tenant, client_id: claims.client_id, scopes })
    }

    /// Accepts a presented access token ([`Services::check_access_token`]) as its binding
    /// wants: a bearer token as Bearer; a DPoP-bound one only with the DPoP scheme and a
    /// proof by its key over this request and this token (RFC 9449 §7). The proof's `jti`
    /// is spent only once the token is known good.
    pub async fn accept_access_token(
        &self,
        presented: &PresentedToken,
        expected: Option<&TenantId>,
    ) -> Result<(TenantId, AccessClaims), TokenRejection> {
        let (tenant, claims) = self.check_access_token(&presented.token, expected).await?;
        match (claims.jkt(), &presented.dpop) {
            (None, None) => {}
            (Some(jkt), Some(input)) => {
                let proof = self.prove_dpop(&tenant, input, Some(&presented.token)).await?;
                if proof.jkt != jkt {
                    return Err(TokenRejection::Dpop("the DPoP proof is not signed by the key the access token is bound to".into()));
                }
            }
            (Some(_), None) => return Err("the access token is DPoP-bound: present it with the DPoP scheme and a proof".into()),
            (None, Some(_)) => return Err("the access token is not DPoP-bound: present it as a Bearer token".into()),
        }
        claims.check_certificate(presented.certificate.as_ref())?;
        Ok((tenant, claims))
    }

    /// Checks an access token issued by this server: signature by a key of the tenant its
    /// issuer names (and that tenant is `expected`, if given), `at+jwt`, unexpired, not
    /// revoked, and its client still live and active.
    pub async fn check_access_token(&self, token: &str, expected: Option<&TenantId>) -> Result<(TenantId, AccessClaims), TokenRejection> {
        let (tenant, claims) = match token.split_once('~') {
            Some((tenant, handle)) if handle.len() <= 64 => {
                let tenant = TenantId::parse(tenant).ok_or(TokenRejection::Invalid("malformed token"))?;
                if expected.is_some_and(|e| *e != tenant) {
                    return Err("token of another tenant".into());
                }
                let json = self.store.find_opaque_token(&tenant, &secret::hash(token), self.now()).await?.ok_or("unknown token")?;
                let claims: AccessClaims =
                    serde_json::from_str(&json).map_err(|e| clavis_store::StoreError::Corrupt(format!("opaque token claims: {e}")))?;
                (tenant, claims)
            }
            Some(_) => return Err("malformed token".into()),
            None => self.verify_jwt_access_token(token, expected).await?,
        };
        let now = self.now();
        if claims.exp <= now || claims.iat > now + CLOCK_SKEW_SECS {
            return Err("expired or not yet valid".into());
        }
        let entry = self.clients.load(&self.store, &tenant, &claims.client_id).await?.ok_or("client no longer exists")?;
        if entry.client.status != ClientStatus::Active || claims.iat < entry.client.created_at {
            return Err("client is not active".into());
        }
        // All the client's tokens were revoked: those issued until then (in the same
        // second included, to be safe) end when the revocation takes effect.
        if entry.revocation.is_some_and(|r| claims.iat <= r.at && now >= r.effective) {
            return Err("revoked".into());
        }
        if self.store.is_revoked(&tenant, &claims.jti).await? {
            return Err("revoked".into());
        }
        Ok((tenant, claims))
    }

    async fn verify_jwt_access_token(&self, token: &str, expected: Option<&TenantId>) -> Result<(TenantId, AccessClaims), TokenRejection> {
        let jwt = UnverifiedJwt::parse(token).map_err(|_| TokenRejection::Invalid("malformed token"))?;
        if jwt.typ.as_deref() != Some("at+jwt") {
            return Err("not an access token".into());
        }
        #[derive(Deserialize)]
        struct Iss {
            iss: String,
        }
        let Iss { iss } = jwt.unverified_claims().map_err(|_| TokenRejection::Invalid("malformed token"))?;
        let tenant = self.tenant_of_issuer(&iss).ok_or("unknown issuer")?;
        if expected.is_some_and(|e| *e != tenant) {
            return Err("token of another tenant".into());
        }
        if !self.tenant_exists(&tenant).await? {
            return Err("unknown issuer".into());
        }
        let key = self.keys.find(&tenant, &jwt.kid).await?.ok_or("unknown signing key")?;
        let claims: AccessClaims = jwt.verify(&key).map_err(|_| TokenRejection::Invalid("invalid signature"))?;
        Ok((tenant, claims))
    }

    /// Whether the tenant exists. Tenants are never removed, so a yes is remembered.
    pub async fn tenant_exists(&self, tenant: &TenantId) -> clavis_store::Result<bool> {
        if self.known_tenants.read().expect("tenants lock").contains(tenant) {
            return Ok(true);
        }
        let exists = self.store.tenant_exists(tenant).await?;
        if exists {
            self.known_tenants.write().expect("tenants lock").insert(tenant.clone());
        }
        Ok(exists)
    }

    /// Creates the tenant if new (internal API, CLI).
    pub async fn ensure_tenant(&self, tenant: &TenantId) -> clavis_store::Result<()> {
        if !self.tenant_exists(tenant).await? {
            self.store.ensure_tenant(tenant, self.now()).await?;
            self.known_tenants.write().expect("tenants lock").insert(tenant.clone());
        }
        Ok(())
    }
}
