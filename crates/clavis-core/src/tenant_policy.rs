//! What a tenant allows the clients nobody vetted: the registration policy for dynamically
//! registered clients (RFC 7591), and who may introspect which tokens (RFC 7662).

use serde::{Deserialize, Serialize};

use crate::client::{dedupe, MAX_LIST_ITEMS};
use crate::scope::is_valid_scope_token;
use crate::{Client, GrantType, ValidationError};

/// The scopes and grant types a self-registered client may ask for. The defaults are
/// what a sign-in-with-us relying party needs, and nothing that reaches data without a
/// user (`client_credentials`) or that an admin has not named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DcrPolicy {
    /// Scope tokens; never `admin`.
    pub allowed_scopes: Vec<String>,
    /// Grant type names, from the grant types a client may have.
    pub allowed_grant_types: Vec<String>,
}

impl Default for DcrPolicy {
    fn default() -> Self {
        Self {
            // `offline` is Hydra's name for `offline_access`, and part of Hydra's default
            // client scope, which a registration without `scope` gets.
            allowed_scopes: ["openid", "offline_access", "offline", "profile", "email"].map(String::from).to_vec(),
            allowed_grant_types: [GrantType::AuthorizationCode, GrantType::RefreshToken].map(|g| g.as_str().to_owned()).to_vec(),
        }
    }
}

impl DcrPolicy {
    /// Checks a policy an admin sets (`field` names it in errors) and drops duplicates.
    pub fn normalized(self, field: &str) -> Result<Self, ValidationError> {
        let scopes_field = format!("{field}.allowed_scopes");
        let grants_field = format!("{field}.allowed_grant_types");
        for (name, list) in [(&scopes_field, &self.allowed_scopes), (&grants_field, &self.allowed_grant_types)] {
            if list.len() > MAX_LIST_ITEMS {
                return Err(ValidationError::new(name, format!("at most {MAX_LIST_ITEMS} entries")));
            }
        }
        for (i, s) in self.allowed_scopes.iter().enumerate() {
            if !is_valid_scope_token(s) {
                return Err(ValidationError::new(format!("{scopes_field}[{i}]"), "must be a scope token (no spaces, quotes or backslashes)"));
            }
            // The admin API's own scope stays out of reach of self-registration, whatever
            // the policy says.
            if s == "admin" {
                return Err(ValidationError::new(format!("{scopes_field}[{i}]"), "admin can never be registered dynamically"));
            }
        }
        for (i, g) in self.allowed_grant_types.iter().enumerate() {
            if GrantType::parse(g).is_none() {
                let all: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
                return Err(ValidationError::new(format!("{grants_field}[{i}]"), format!("unknown value; allowed: {}", all.join(", "))));
            }
        }
        Ok(Self { allowed_scopes: dedupe(&self.allowed_scopes), allowed_grant_types: dedupe(&self.allowed_grant_types) })
    }

    /// Whether a dynamically registered `client` stays within the policy; the error names
    /// the RFC 7591 field (`scope`, `grant_types`). Scope values are not echoed: they are
    /// caller text.
    pub fn check(&self, client: &Client) -> Result<(), ValidationError> {
        if client.scopes.iter().any(|s| !self.allowed_scopes.contains(s)) {
            return Err(ValidationError::new("scope", "includes a scope this tenant does not allow for dynamically registered clients"));
        }
        if let Some(g) = client.grant_types.iter().find(|g| !self.allowed_grant_types.iter().any(|a| a == g.as_str())) {
            return Err(ValidationError::new(
                "grant_types",
                format!("{} is not allowed for dynamically registered clients of this tenant", g.as_str()),
            ));
        }
        Ok(())
    }
}

/// The algorithms a tenant signs with where a client names none: ID tokens RS256 (OIDC
/// Discovery §3 requires relying parties to accept it; Hydra's default), JWT access
/// tokens ES256 (an RSA signature costs about twenty times the CPU of an ECDSA one, and
/// the token endpoint is the hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SigningDefaults {
    #[schema(value_type = String, example = "RS256")]
    pub id_token: crate::jose::Alg,
    #[schema(value_type = String, example = "ES256")]
    pub access_token: crate::jose::Alg,
}

impl Default for SigningDefaults {
    fn default() -> Self {
        Self { id_token: crate::jose::Alg::Rs256, access_token: crate::jose::Alg::Es256 }
    }
}

/// Which confidential clients may introspect the tokens of other clients of the tenant.
/// The others see only their own; self-registered clients always only their own unless an
/// admin marked them (`introspector`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntrospectionPolicy {
    /// Every confidential client an admin created (the behaviour before policies existed).
    #[default]
    AnyConfidential,
    /// Only clients an admin marked as `introspector`.
    MarkedOnly,
}

impl IntrospectionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnyConfidential => "any_confidential",
            Self::MarkedOnly => "marked_only",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::AnyConfidential, Self::MarkedOnly].into_iter().find(|p| p.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_checks_what_admins_set() {
        let p = DcrPolicy { allowed_scopes: vec!["read".into(), "read".into()], allowed_grant_types: vec!["client_credentials".into()] };
        assert_eq!(p.normalized("dcr").unwrap().allowed_scopes, ["read"]);
        let admin = DcrPolicy { allowed_scopes: vec!["admin".into()], ..DcrPolicy::default() };
        assert_eq!(admin.normalized("dcr").unwrap_err().field, "dcr.allowed_scopes[0]");
        let odd = DcrPolicy { allowed_grant_types: vec!["implicit".into()], ..DcrPolicy::default() };
        assert_eq!(odd.normalized("dcr").unwrap_err().field, "dcr.allowed_grant_types[0]");
        assert_eq!(IntrospectionPolicy::parse("marked_only"), Some(IntrospectionPolicy::MarkedOnly));
        assert_eq!(IntrospectionPolicy::parse("any"), None);
    }
}
