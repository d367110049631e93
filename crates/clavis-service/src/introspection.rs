//! Who may introspect which tokens (RFC 7662 §4: the server decides what a caller may
//! learn). An admin token sees every token of its tenant. A confidential client sees every
//! token of the tenant when an admin marked it `introspector`, or when it is an admin's
//! client and the tenant's policy is `any_confidential`; otherwise — a self-registered
//! client, or any unmarked client under `marked_only` — only the tokens issued to itself.
//! A token it may not see answers `{"active": false}`, exactly like an unknown one.

use clavis_core::jose::Alg;
use clavis_core::{Client, IntrospectionPolicy, TenantId};
use serde_json::json;

use crate::{ClientRef, Introspection, OAuthError, Principal, Services};

/// RFC 9701 §4: the media type a caller accepts to get the answer as a signed JWT.
pub const SIGNED_INTROSPECTION_TYPE: &str = "application/token-introspection+jwt";

/// The authenticated caller of the introspection endpoint.
pub enum Introspector {
    /// The holder of a verified access token (an admin token, if it may introspect).
    Bearer(Principal),
    /// A client that authenticated as at the token endpoint.
    Client(ClientRef),
}

/// How far a caller sees.
enum Reach {
    Tenant,
    OwnTokens,
}

impl Services {
    /// RFC 7662 for `caller`: what `token` is, if it is active and the caller may know.
    pub async fn introspect_as(&self, t: &TenantId, caller: &Introspector, token: &str) -> Result<Introspection, OAuthError> {
        let (reach, caller_id) = match caller {
            Introspector::Bearer(p) => {
                if p.tenant != *t || !p.has_scope("admin") {
                    return Err(OAuthError::InvalidClient("the bearer token may not introspect here".into()));
                }
                (Reach::Tenant, p.client_id.as_str())
            }
            Introspector::Client(c) => (self.client_reach(t, c).await?, c.client_id.as_str()),
        };
        let found = self.introspect(t, token).await?;
        match reach {
            Reach::OwnTokens if found.client_id.as_deref() != Some(caller_id) => Ok(Introspection::default()),
            _ => Ok(found),
        }
    }

    /// RFC 9701 §5: the answer as a JWT signed by the issuer for the caller: `iss`, `aud`
    /// (the caller's client id), `iat`, and the answer under `token_introspection`. The
    /// algorithm is the calling client's `introspection_signed_response_alg` (RS256 if none).
    pub async fn sign_introspection(&self, t: &TenantId, issuer: &str, caller: &Introspector, answer: &Introspection) -> Result<String, OAuthError> {
        let client_id = match caller {
            Introspector::Bearer(p) => p.client_id.as_str(),
            Introspector::Client(c) => c.client_id.as_str(),
        };
        let alg = match caller {
            Introspector::Client(c) => Alg::parse(&c.extras.hydra.introspection_signed_response_alg).or(c.fapi_profile.default_alg()),
            Introspector::Bearer(p) => self
                .clients
                .load(&self.store, t, &p.client_id)
                .await?
                .and_then(|e| Alg::parse(&e.client.extras.hydra.introspection_signed_response_alg)),
        };
        let claims = json!({"iss": issuer, "aud": client_id, "iat": self.now(), "token_introspection": answer});
        Ok(self.keys.for_tenant(t).await?.signer(alg.unwrap_or(Alg::Rs256)).sign_typed("token-introspection+jwt", &claims))
    }

    async fn client_reach(&self, t: &TenantId, c: &Client) -> Result<Reach, OAuthError> {
        if !c.is_confidential {
            // As slow as any failed authentication, so the answer does not tell a public
            // client's id from an unknown one.
            self.sleep_failure_floor().await;
            return Err(OAuthError::InvalidClient("public clients may not introspect".into()));
        }
        if c.extras.introspector {
            return Ok(Reach::Tenant);
        }
        if c.extras.self_registered {
            return Ok(Reach::OwnTokens);
        }
        // Read only for the clients it concerns (one primary-key read).
        Ok(match self.store.tenant_settings(t).await?.introspection.unwrap_or_default() {
            IntrospectionPolicy::AnyConfidential => Reach::Tenant,
            IntrospectionPolicy::MarkedOnly => Reach::OwnTokens,
        })
    }
}
