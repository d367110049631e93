//! Token exchange (RFC 8693): an authenticated client trades a token it was given for
//! one of its own, narrowed — "on behalf of" (impersonation) or, with an `actor_token`,
//! delegation (the `act` claim).
//!
//! Decisions (docs/api.md, "Token exchange"):
//! - Subject and actor tokens are this tenant's live access tokens (JWT or opaque), and
//!   nothing else: a refresh token is its client's credential and is never handed on, so
//!   it is never exchanged; foreign tokens would need a trust model (the JWT bearer grant
//!   has one).
//! - Policy: a client registered for the grant may exchange a token issued to it, or one
//!   whose `aud` names it (a resource server exchanging the token it was called with).
//!   Anything else is `invalid_request` (RFC 8693 §2.2.2).
//! - Narrowing: the scopes are at most the subject token's and the client's registered
//!   ones (none asked: that intersection); `audience` (space-separated) and `resource`
//!   must be in the client's registered audiences; the new token never outlives the
//!   subject token.

use clavis_core::{scope, AccessTokenStrategy, GrantType};
use serde_json::{json, Value};

use super::{Grant, GrantContext, GrantFuture, TokenSet};
use crate::tokens::{AccessClaims, TokenRejection};
use crate::{OAuthError, Services};

pub(crate) struct TokenExchange;

impl Grant for TokenExchange {
    fn grant_type(&self) -> &'static str {
        GrantType::TokenExchange.as_str()
    }

    fn registered_as(&self) -> GrantType {
        GrantType::TokenExchange
    }

    fn exchange<'a>(&'a self, s: &'a Services, ctx: &'a GrantContext<'a>) -> GrantFuture<'a> {
        Box::pin(s.exchange_token(ctx))
    }
}

pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

fn invalid(m: impl Into<String>) -> OAuthError {
    OAuthError::InvalidRequest(m.into())
}

/// Only access tokens are exchanged; a JWT access token may be named either way.
fn check_type(what: &str, token_type: &str) -> Result<(), OAuthError> {
    match token_type {
        ACCESS_TOKEN_TYPE | JWT_TOKEN_TYPE => Ok(()),
        other => Err(invalid(format!("{what}_type {other:?} is not supported: only access tokens of this issuer are exchanged"))),
    }
}

impl Services {
    /// `token` as a live access token of the tenant that `client_id` may exchange.
    /// A sender-constrained token is exchanged only by its holder: the request's DPoP
    /// proof must be by the token's key.
    async fn exchangeable(&self, ctx: &GrantContext<'_>, what: &str, token: &str) -> Result<AccessClaims, OAuthError> {
        let (t, client_id) = (ctx.tenant(), ctx.client.client_id.as_str());
        let (_, c) = self.check_access_token(token, Some(t)).await.map_err(|e| match e {
            TokenRejection::Store(e) => e.into(),
            _ => invalid(format!("the {what} is not an active access token of this issuer")),
        })?;
        ctx.binding.require_key(c.jkt(), what)?;
        c.check_certificate(ctx.request.certificate.as_ref()).map_err(|m| invalid(format!("{what}: {m}")))?;
        let audience_names_client = match &c.aud {
            Value::String(a) => a == client_id,
            Value::Array(a) => a.iter().any(|v| v.as_str() == Some(client_id)),
            _ => false,
        };
        if c.client_id != client_id && !audience_names_client {
            return Err(invalid(format!("the {what} was issued to another client and does not name this one in its aud")));
        }
        Ok(c)
    }

    async fn exchange_token(&self, ctx: &GrantContext<'_>) -> Result<TokenSet, OAuthError> {
        let (t, client, issuer) = (ctx.tenant(), ctx.client, ctx.request.issuer);
        let subject_token = ctx.param("subject_token").ok_or_else(|| invalid("subject_token is required"))?;
        check_type("subject_token", ctx.param("subject_token_type").ok_or_else(|| invalid("subject_token_type is required"))?)?;
        let issued_token_type = match ctx.param("requested_token_type") {
            None | Some(ACCESS_TOKEN_TYPE) => ACCESS_TOKEN_TYPE,
            Some(JWT_TOKEN_TYPE) if client.extras.access_token_strategy == AccessTokenStrategy::Jwt => JWT_TOKEN_TYPE,
            Some(other) => return Err(invalid(format!("requested_token_type {other:?} cannot be issued to this client"))),
        };
        let subject = self.exchangeable(ctx, "subject_token", subject_token).await?;
        let actor = match (ctx.param("actor_token"), ctx.param("actor_token_type")) {
            (None, None) => None,
            (Some(token), Some(token_type)) => {
                check_type("actor_token", token_type)?;
                Some(self.exchangeable(ctx, "actor_token", token).await?)
            }
            _ => return Err(invalid("actor_token and actor_token_type go together")),
        };

        let held: Vec<&str> = subject.scope.split(' ').filter(|s| !s.is_empty() && client.scopes.iter().any(|c| c == s)).collect();
        let scopes: Vec<String> = match ctx.param("scope") {
            None => held.iter().map(|s| s.to_string()).collect(),
            Some(raw) => {
                let asked = scope::parse_scope_param(raw).ok_or_else(|| OAuthError::InvalidScope("the scope parameter is malformed".into()))?;
                if let Some(extra) = asked.iter().find(|s| !held.contains(&s.as_str())) {
                    return Err(OAuthError::InvalidScope(format!("scope {extra:?} is not both the subject token's and the client's")));
                }
                asked
            }
        };
        let mut audience: Vec<String> = ctx.param("audience").unwrap_or("").split(' ').filter(|a| !a.is_empty()).map(str::to_owned).collect();
        if let Some(resource) = ctx.param("resource") {
            if url::Url::parse(resource).is_err() || resource.contains('#') {
                return Err(OAuthError::Custom("invalid_target".into(), "resource must be an absolute URI without a fragment".into()));
            }
            audience.push(resource.to_owned());
        }
        crate::flows::check_audience(client, &audience).map_err(|e| OAuthError::Custom("invalid_target".into(), e.description().to_owned()))?;

        // RFC 8693 §4.1: the actor, with the prior actors (of the subject token) nested.
        let act = match actor {
            Some(a) => {
                let mut act = json!({ "sub": a.sub });
                if let Some(prior) = subject.act.clone() {
                    act["act"] = prior;
                }
                Some(act)
            }
            None => subject.act.clone(),
        };
        let now = self.now();
        let exp = (now + self.settings.access_token_ttl_secs).min(subject.exp);
        let scope = scopes.join(" ");
        let claims = AccessClaims {
            iss: issuer.to_owned(),
            sub: subject.sub,
            aud: if audience.is_empty() { Value::String(issuer.to_owned()) } else { json!(audience) },
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            iat: now,
            exp,
            jti: clavis_core::ids::random_token(16),
            ext: subject.ext,
            cnf: ctx.binding.confirmation(),
            act,
            // What the subject token's grant allowed, no more.
            authorization_details: subject.authorization_details,
        };
        let access_token = self.mint_access_token(t, client, &claims).await?;
        Ok(TokenSet {
            access_token,
            token_type: ctx.binding.token_type(),
            expires_in: exp - now,
            scope,
            id_token: None,
            refresh_token: None,
            issued_token_type: Some(issued_token_type),
            authorization_details: None,
        })
    }
}
