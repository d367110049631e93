//! `authorization_code` (RFC 6749 §4.1.3) with PKCE (RFC 7636): the code a login and
//! consent flow ended with, redeemed once by the client it was issued to. A second use
//! revokes what the first issued (RFC 9700 §4.5).

use clavis_core::jose::pkce_s256;
use clavis_core::{ids, secret, GrantType, TenantId};
use clavis_store::{CodeRow, Spend, StoreError};

use super::issue::IssuedBy;
use super::{Grant, GrantContext, GrantData, GrantFuture};
use crate::{OAuthError, Services};

pub(crate) struct AuthorizationCode;

impl Grant for AuthorizationCode {
    fn grant_type(&self) -> &'static str {
        "authorization_code"
    }

    fn registered_as(&self) -> GrantType {
        GrantType::AuthorizationCode
    }

    fn exchange<'a>(&'a self, s: &'a Services, ctx: &'a GrantContext<'a>) -> GrantFuture<'a> {
        Box::pin(s.redeem_code(ctx))
    }
}

/// Codes are `ids::random_token(32)`: anything longer is not one of ours.
const MAX_CODE_LEN: usize = 128;

fn invalid_grant(m: &str) -> OAuthError {
    OAuthError::InvalidGrant(m.to_owned())
}

impl Services {
    /// A new code for a finished flow, valid `auth_code_ttl_secs` (at most 60 s for fapi2).
    pub(crate) async fn new_code(&self, t: &TenantId, client_id: &str, grant: &GrantData) -> Result<String, StoreError> {
        let code = ids::random_token(32);
        let now = self.now();
        let fapi2 = self.clients.load(&self.store, t, client_id).await?.is_some_and(|e| e.client.fapi_profile == clavis_core::FapiProfile::Fapi2);
        let ttl = if fapi2 { self.settings.auth_code_ttl_secs.min(crate::flows::FAPI2_MAX_CODE_SECS) } else { self.settings.auth_code_ttl_secs };
        let row = CodeRow {
            code_hash: secret::hash(&code),
            client_id: client_id.to_owned(),
            data: serde_json::to_string(grant).expect("grant serializes"),
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
        };
        self.store.insert_code(t, &row).await?;
        Ok(code)
    }

    async fn redeem_code(&self, ctx: &GrantContext<'_>) -> Result<super::TokenSet, OAuthError> {
        let (t, client) = (ctx.tenant(), ctx.client);
        let code = ctx.param("code").ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
        if code.len() > MAX_CODE_LEN {
            return Err(invalid_grant("unknown code"));
        }
        let now = self.now();
        let code_hash = secret::hash(code);
        // Everything that can be checked is checked before the code is spent, so that a
        // request by another client (or with a wrong verifier) cannot burn the owner's code.
        let row = self.store.find_code(t, &code_hash).await?.ok_or_else(|| invalid_grant("unknown code"))?;
        if row.client_id != client.client_id {
            return Err(invalid_grant("the code was issued to another client"));
        }
        let mut grant: GrantData = serde_json::from_str(&row.data).map_err(|e| OAuthError::server_caused("code data", e))?;
        if row.used_at.is_none() {
            if row.expires_at <= now {
                return Err(invalid_grant("the code has expired"));
            }
            if let Some(expected) = &grant.redirect_uri {
                if ctx.param("redirect_uri") != Some(expected.as_str()) {
                    return Err(invalid_grant("redirect_uri does not match the authorization request"));
                }
            }
            match (&grant.code_challenge, ctx.param("code_verifier")) {
                (Some(challenge), Some(verifier)) => {
                    if !(43..=128).contains(&verifier.len()) || pkce_s256(verifier) != *challenge {
                        return Err(invalid_grant("code_verifier does not match the code_challenge"));
                    }
                }
                (Some(_), None) => return Err(invalid_grant("code_verifier is required")),
                // A verifier for a code issued without a challenge: a downgrade attempt.
                (None, Some(_)) => return Err(invalid_grant("code_verifier given, but the authorization request had no code_challenge")),
                (None, None) => {}
            }
            ctx.binding.require_key(grant.dpop_jkt.as_deref(), "authorization code")?;
        }
        match self.store.spend_code(t, &code_hash, now).await? {
            Spend::Fresh(_) => {}
            Spend::Replayed(row) => {
                if let Ok(g) = serde_json::from_str::<GrantData>(&row.data) {
                    self.revoke_grant(t, &g, now).await?;
                }
                return Err(invalid_grant("the code was already used; the tokens it issued are revoked"));
            }
            Spend::Unknown => return Err(invalid_grant("unknown code")),
        }
        let (tokens, jti, refresh) = self.issue_user_tokens(t, client, ctx.binding, &grant, None, IssuedBy::AuthorizationCode).await?;
        if let Some(row) = &refresh {
            self.store.insert_refresh(t, row).await?;
        }
        grant.issued_jti = Some(jti);
        grant.family_id = refresh.map(|r| r.family_id);
        self.store.set_code_data(t, &code_hash, &serde_json::to_string(&grant).expect("grant serializes")).await?;
        Ok(tokens)
    }

    /// Revokes the access token and refresh family a code issued.
    async fn revoke_grant(&self, t: &TenantId, g: &GrantData, now: i64) -> Result<(), StoreError> {
        if let Some((jti, exp)) = &g.issued_jti {
            self.store.revoke_jti(t, jti, *exp).await?;
        }
        if let Some(family) = &g.family_id {
            self.revoke_family(t, family, now).await?;
        }
        Ok(())
    }
}
