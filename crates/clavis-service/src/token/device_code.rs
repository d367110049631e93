//! `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4, §3.5): the device
//! polls with its `device_code` until the user has decided. Answers, in order:
//! `invalid_grant` (unknown, another client's, or already redeemed), `expired_token`,
//! `access_denied`, `slow_down` (polled within its interval, which then grows by 5 s),
//! `authorization_pending`; once approved, the tokens of the grant the user gave, once.

use clavis_core::{secret, GrantType};

use super::issue::IssuedBy;
use super::{Grant, GrantContext, GrantData, GrantFuture, TokenSet};
use crate::{OAuthError, Services};

pub(crate) struct DeviceCode;

impl Grant for DeviceCode {
    fn grant_type(&self) -> &'static str {
        GrantType::DeviceCode.as_str()
    }

    fn registered_as(&self) -> GrantType {
        GrantType::DeviceCode
    }

    fn exchange<'a>(&'a self, s: &'a Services, ctx: &'a GrantContext<'a>) -> GrantFuture<'a> {
        Box::pin(s.redeem_device_code(ctx))
    }
}

/// How much `slow_down` adds to the interval (RFC 8628 §3.5).
const SLOW_DOWN_SECS: i64 = 5;

fn error(code: &str, description: &str) -> OAuthError {
    OAuthError::Custom(code.into(), description.into())
}

impl Services {
    async fn redeem_device_code(&self, ctx: &GrantContext<'_>) -> Result<TokenSet, OAuthError> {
        let (t, client) = (ctx.tenant(), ctx.client);
        let code = ctx.param("device_code").ok_or_else(|| OAuthError::InvalidRequest("device_code is required".into()))?;
        let unknown = || OAuthError::InvalidGrant("unknown device_code".into());
        if code.len() > 128 {
            return Err(unknown());
        }
        let row = self.store.device_code(t, &secret::hash(code)).await?.ok_or_else(unknown)?;
        if row.client_id != client.client_id {
            return Err(OAuthError::InvalidGrant("the device_code was issued to another client".into()));
        }
        let now = self.now();
        if row.status == "spent" {
            return Err(OAuthError::InvalidGrant("the device_code was already redeemed".into()));
        }
        if row.expires_at <= now {
            return Err(error("expired_token", "the device_code has expired; start again"));
        }
        match row.status.as_str() {
            "denied" => return Err(OAuthError::AccessDenied("the user denied the request".into())),
            "approved" => {}
            _ => {
                // Of two polls within the interval (or at once), one is told to slow down.
                let early = now - row.last_polled_at < row.interval_secs;
                let interval = if early { row.interval_secs + SLOW_DOWN_SECS } else { row.interval_secs };
                let recorded = self.store.record_device_poll(t, &row.id, row.last_polled_at, now, interval).await?;
                if early || !recorded {
                    return Err(error("slow_down", "polled too soon: wait longer between requests"));
                }
                return Err(error("authorization_pending", "the user has not decided yet"));
            }
        }
        if !self.store.set_device_status(t, &row.id, "approved", "spent", None, now).await? {
            return Err(OAuthError::InvalidGrant("the device_code was already redeemed".into()));
        }
        let grant: GrantData =
            serde_json::from_str(row.grant_data.as_deref().unwrap_or("")).map_err(|e| OAuthError::server_caused("device grant data", e))?;
        let (tokens, _, refresh) = self.issue_user_tokens(t, client, ctx.binding, &grant, None, IssuedBy::DeviceCode).await?;
        if let Some(row) = &refresh {
            self.store.insert_refresh(t, row).await?;
        }
        Ok(tokens)
    }
}
