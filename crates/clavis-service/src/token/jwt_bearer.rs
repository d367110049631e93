//! The JWT bearer grant (RFC 7523 §2.1, §3): an authenticated client trades a JWT that a
//! trusted issuer signed (see [`crate::trusted_issuers`]) for an access token for the
//! JWT's subject. The JWT must name this issuer or its token endpoint as `aud`, carry
//! `exp` (at most an hour ahead) and a `jti`, and is single use. Requested scopes must be
//! both the client's and the relationship's; none requested grants none (as Hydra). No
//! refresh token, no ID token.

use clavis_core::assertion::{AssertionKind, ClientAssertion};
use clavis_core::{scope, GrantType};
use serde_json::{json, Value};

use super::{Grant, GrantContext, GrantFuture, TokenSet};
use crate::tokens::AccessClaims;
use crate::trusted_issuers::scopes_of;
use crate::{OAuthError, Services};

/// The longest a grant assertion may live: `exp` at most this far ahead.
pub const MAX_GRANT_ASSERTION_LIFETIME_SECS: i64 = 3600;
const CLOCK_SKEW_SECS: i64 = 30;

pub(crate) struct JwtBearer;

impl Grant for JwtBearer {
    fn grant_type(&self) -> &'static str {
        GrantType::JwtBearer.as_str()
    }

    fn registered_as(&self) -> GrantType {
        GrantType::JwtBearer
    }

    fn exchange<'a>(&'a self, s: &'a Services, ctx: &'a GrantContext<'a>) -> GrantFuture<'a> {
        Box::pin(s.redeem_jwt_bearer(ctx))
    }
}

fn refused(why: &str) -> OAuthError {
    OAuthError::InvalidGrant(format!("assertion refused: {why}"))
}

impl Services {
    async fn redeem_jwt_bearer(&self, ctx: &GrantContext<'_>) -> Result<TokenSet, OAuthError> {
        let (client, issuer, t) = (ctx.client, ctx.request.issuer, ctx.tenant());
        let raw = ctx.param("assertion").ok_or_else(|| OAuthError::InvalidRequest("assertion is required".into()))?;
        let a = ClientAssertion::parse(raw).map_err(|e| refused(&e.replace("the client assertion", "the assertion")))?;
        if a.kind() != AssertionKind::PrivateKey {
            return Err(refused("it must be signed with the issuer's public-key algorithm, not an HMAC"));
        }
        let c = &a.claims;
        if c.sub.is_empty() || c.sub.len() > 256 || c.jti.is_empty() || c.jti.len() > 256 {
            return Err(refused("sub and jti are required (at most 256 characters)"));
        }
        let token_endpoint = format!("{issuer}/oauth2/token");
        if !c.audiences().iter().any(|aud| *aud == issuer || *aud == token_endpoint) {
            return Err(refused("aud must be the issuer or its token endpoint"));
        }
        let now = self.now();
        if c.exp <= now - CLOCK_SKEW_SECS {
            return Err(refused("expired"));
        }
        if c.exp > now + MAX_GRANT_ASSERTION_LIFETIME_SECS + CLOCK_SKEW_SECS {
            return Err(refused("exp is too far ahead (at most 1 hour)"));
        }
        if c.nbf.is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECS) || c.iat.is_some_and(|iat| iat > now + CLOCK_SKEW_SECS) {
            return Err(refused("not valid yet"));
        }
        let candidates = self.store.trusted_for(t, &c.iss, &c.sub, now).await?;
        let trusted = candidates
            .iter()
            .filter(|r| a.kid.as_ref().is_none_or(|kid| *kid == r.kid))
            .find(|r| {
                let key: Value = serde_json::from_str(&r.public_jwk).unwrap_or_default();
                a.verify_with_jwks(&json!({ "keys": [key] }))
            })
            .ok_or_else(|| refused("no trusted key of its issuer for its subject signed it"))?;
        let allowed = scopes_of(trusted);
        let scopes = match ctx.param("scope") {
            None => Vec::new(),
            Some(raw) => scope::parse_scope_param(raw).ok_or_else(|| OAuthError::InvalidScope("the scope parameter is malformed".into()))?,
        };
        if let Some(extra) = scopes.iter().find(|s| !client.scopes.contains(s) || !allowed.contains(s)) {
            return Err(OAuthError::InvalidScope(format!("scope {extra:?} is not both the client's and the trusted issuer's")));
        }
        let audience: Vec<String> = ctx.param("audience").unwrap_or("").split(' ').filter(|a| !a.is_empty()).map(str::to_owned).collect();
        crate::flows::check_audience(client, &audience)?;
        // Single use on every node, remembered per issuer until the assertion expires.
        if !self.store.use_jti(t, &format!("jwt-bearer {}", c.iss), &c.jti, c.exp + CLOCK_SKEW_SECS).await? {
            return Err(refused("this assertion (jti) was used before"));
        }
        let ttl = client.extras.lifespans.jwt_bearer_grant_access_token.unwrap_or(self.settings.access_token_ttl_secs);
        let scope = scopes.join(" ");
        let claims = AccessClaims {
            iss: issuer.to_owned(),
            sub: c.sub.clone(),
            aud: if audience.is_empty() { Value::String(issuer.to_owned()) } else { json!(audience) },
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            iat: now,
            exp: now + ttl,
            jti: clavis_core::ids::random_token(16),
            ext: None,
            cnf: ctx.binding.confirmation(),
            act: None,
            authorization_details: None,
        };
        let access_token = self.mint_access_token(t, client, &claims).await?;
        Ok(TokenSet {
            access_token,
            token_type: ctx.binding.token_type(),
            expires_in: ttl,
            scope,
            id_token: None,
            refresh_token: None,
            issued_token_type: None,
            authorization_details: None,
        })
    }
}
