//! `refresh_token` (RFC 6749 §6) with rotation: every use returns a new refresh token;
//! using a rotated one revokes the whole family (RFC 9700 §4.14.2). A family never
//! outlives `refresh_family_ttl_secs` from its code's exchange, and never carries scopes
//! or audiences the registration has since lost.

use clavis_core::{scope, secret, GrantType};
use clavis_store::Spend;

use super::issue::IssuedBy;
use super::{Grant, GrantContext, GrantData, GrantFuture, TokenSet};
use crate::{OAuthError, Services};

pub(crate) struct RefreshToken;

impl Grant for RefreshToken {
    fn grant_type(&self) -> &'static str {
        "refresh_token"
    }

    fn registered_as(&self) -> GrantType {
        GrantType::RefreshToken
    }

    fn exchange<'a>(&'a self, s: &'a Services, ctx: &'a GrantContext<'a>) -> GrantFuture<'a> {
        Box::pin(s.rotate_refresh_token(ctx))
    }
}

/// Refresh tokens are `ids::random_token(32)`: anything longer is not one of ours.
const MAX_REFRESH_TOKEN_LEN: usize = 128;

fn invalid_grant(m: &str) -> OAuthError {
    OAuthError::InvalidGrant(m.to_owned())
}

impl Services {
    async fn rotate_refresh_token(&self, ctx: &GrantContext<'_>) -> Result<TokenSet, OAuthError> {
        let (t, client) = (ctx.tenant(), ctx.client);
        let token = ctx.param("refresh_token").ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
        if token.len() > MAX_REFRESH_TOKEN_LEN {
            return Err(invalid_grant("unknown refresh token"));
        }
        let now = self.now();
        let token_hash = secret::hash(token);
        // Checked before the token is spent: another client's attempt must not rotate
        // (and so, at the owner's next use, revoke) the owner's refresh token.
        let row = self.store.find_refresh(t, &token_hash).await?.ok_or_else(|| invalid_grant("unknown refresh token"))?;
        if row.client_id != client.client_id {
            return Err(invalid_grant("the refresh token was issued to another client"));
        }
        if row.used_at.is_none() && row.revoked_at.is_none() && row.expires_at <= now {
            return Err(invalid_grant("the refresh token has expired"));
        }
        let mut grant: GrantData = serde_json::from_str(&row.data).map_err(|e| OAuthError::server_caused("refresh data", e))?;
        ctx.binding.require_key(grant.dpop_jkt.as_deref(), "refresh token")?;
        // What the admin has since removed from the registration is not issued again.
        grant.scope.retain(|s| client.scopes.contains(s));
        grant.audience.retain(|a| client.extras.hydra.audience.contains(a));
        grant.family_started_at.get_or_insert(row.created_at);
        if let Some(raw) = ctx.param("scope") {
            let requested = scope::parse_scope_param(raw).ok_or_else(|| OAuthError::InvalidScope("the scope parameter is malformed".into()))?;
            if let Some(extra) = requested.iter().find(|s| !grant.scope.contains(s)) {
                return Err(OAuthError::InvalidScope(format!("scope {extra:?} was not granted")));
            }
            if !requested.is_empty() {
                grant.scope = requested;
            }
        }
        // The new tokens are made first, so that spending the old refresh token and storing
        // the new one are one write (one commit); they are thrown away if it was spent.
        let (tokens, _, next) = self.issue_user_tokens(t, client, ctx.binding, &grant, Some(row.family_id), IssuedBy::RefreshToken).await?;
        match self.store.rotate_refresh(t, &token_hash, now, next).await? {
            Spend::Fresh(_) => Ok(tokens),
            Spend::Replayed(row) => {
                self.revoke_family(t, &row.family_id, now).await?;
                Err(invalid_grant("the refresh token was already used or revoked; its family is revoked"))
            }
            Spend::Unknown => Err(invalid_grant("unknown refresh token")),
        }
    }
}
