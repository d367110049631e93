//! Hydra's trust API (`/admin/trust/grants/jwt-bearer/issuers`): which issuer's key may
//! assert which subject, for which scopes, until when. The grant that reads it is
//! [`crate::token`]'s `jwt_bearer`.

use clavis_core::jose::PublicJwk;
use clavis_core::scope::is_valid_scope_token;
use clavis_core::{TenantId, ValidationError};
use clavis_store::TrustedIssuer;
use serde_json::Value;

use crate::{ServiceError, Services};

/// At most this many scopes per relationship.
const MAX_SCOPES: usize = 100;

/// A relationship to create, as Hydra's `trustOAuth2JwtGrantIssuer` body has it.
#[derive(Debug, Default)]
pub struct TrustRequest {
    pub issuer: String,
    pub subject: String,
    pub allow_any_subject: bool,
    pub scope: Vec<String>,
    pub jwk: Value,
    pub expires_at: i64,
}

fn invalid(field: &str, message: &str) -> ServiceError {
    ValidationError::new(field, message).into()
}

impl Services {
    pub async fn trust_issuer(&self, t: &TenantId, r: TrustRequest) -> Result<TrustedIssuer, ServiceError> {
        if r.issuer.is_empty() || r.issuer.len() > 2000 {
            return Err(invalid("issuer", "is required (at most 2000 characters)"));
        }
        match (r.subject.is_empty(), r.allow_any_subject) {
            (true, false) => return Err(invalid("subject", "is required unless allow_any_subject is true")),
            (false, true) => return Err(invalid("subject", "must be empty when allow_any_subject is true")),
            _ if r.subject.len() > 256 => return Err(invalid("subject", "has at most 256 characters")),
            _ => {}
        }
        if r.scope.len() > MAX_SCOPES || !r.scope.iter().all(|s| is_valid_scope_token(s)) {
            return Err(invalid("scope", "at most 100 scopes, each 1 to 128 characters without spaces or quotes"));
        }
        let private = clavis_core::jose::PRIVATE_MEMBERS.iter().any(|m| r.jwk.get(*m).is_some());
        if private {
            return Err(invalid("jwk", "must be the issuer's public key only"));
        }
        let key = PublicJwk::from_json(&r.jwk)
            .filter(|k| !k.kid.is_empty() && k.kid.len() <= 128)
            .ok_or_else(|| invalid("jwk", "must be a public RSA (RS256, PS256), EC P-256 or Ed25519 key with a kid"))?;
        let now = self.now();
        if r.expires_at <= now {
            return Err(invalid("expires_at", "must be in the future"));
        }
        let mut scopes = r.scope;
        scopes.dedup();
        let trusted = TrustedIssuer {
            id: clavis_core::ids::ulid(),
            issuer: r.issuer,
            subject: r.subject,
            allow_any_subject: r.allow_any_subject,
            scopes: serde_json::to_string(&scopes).expect("strings serialize"),
            kid: key.kid.clone(),
            public_jwk: key.to_json().to_string(),
            expires_at: r.expires_at,
            created_at: now,
        };
        self.store.insert_trusted_issuer(t, &trusted).await.map_err(|e| match e {
            clavis_store::StoreError::Conflict => ServiceError::Conflict("this issuer already trusts this key for this subject".into()),
            other => ServiceError::store("trusted issuer")(other),
        })?;
        Ok(trusted)
    }

    pub async fn trusted_issuer(&self, t: &TenantId, id: &str) -> Result<TrustedIssuer, ServiceError> {
        self.store.trusted_issuer(t, id).await?.ok_or(ServiceError::NotFound("trusted issuer"))
    }

    /// One page (ids after `after`), of one issuer if given; expired relationships too.
    pub async fn trusted_issuers(&self, t: &TenantId, issuer: Option<&str>, after: &str, limit: i64) -> Result<Vec<TrustedIssuer>, ServiceError> {
        Ok(self.store.list_trusted_issuers(t, issuer, after, limit).await?)
    }

    /// Ends the relationship: its key's assertions are refused from now on (tokens already
    /// issued run out on their own).
    pub async fn distrust_issuer(&self, t: &TenantId, id: &str) -> Result<(), ServiceError> {
        self.store.delete_trusted_issuer(t, id).await.map_err(ServiceError::store("trusted issuer"))
    }
}

/// The scopes of a relationship as stored.
pub(crate) fn scopes_of(t: &TrustedIssuer) -> Vec<String> {
    serde_json::from_str(&t.scopes).unwrap_or_default()
}
