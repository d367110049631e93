//! `client_credentials` (RFC 6749 §4.4): a token for the client itself. Requested scopes
//! must be registered for it (none requested means all registered); requested audiences
//! likewise. No refresh token, no ID token.

use clavis_core::{scope, GrantType};
use serde_json::Value;

use super::{Grant, GrantContext, GrantFuture, TokenSet};
use crate::tokens::AccessClaims;
use crate::{OAuthError, Services};

pub(crate) struct ClientCredentials;

impl Grant for ClientCredentials {
    fn grant_type(&self) -> &'static str {
        "client_credentials"
    }

    fn registered_as(&self) -> GrantType {
        GrantType::ClientCredentials
    }

    fn exchange<'a>(&'a self, s: &'a Services, ctx: &'a GrantContext<'a>) -> GrantFuture<'a> {
        Box::pin(s.issue_client_token(ctx))
    }
}

impl Services {
    async fn issue_client_token(&self, ctx: &GrantContext<'_>) -> Result<TokenSet, OAuthError> {
        let (client, issuer) = (ctx.client, ctx.request.issuer);
        let scopes = match ctx.param("scope") {
            None => client.scopes.clone(),
            Some(raw) => {
                let requested = scope::parse_scope_param(raw).ok_or_else(|| OAuthError::InvalidScope("the scope parameter is malformed".into()))?;
                if let Some(extra) = requested.iter().find(|s| !client.scopes.contains(s)) {
                    return Err(OAuthError::InvalidScope(format!("scope {extra:?} is not registered for this client")));
                }
                if requested.is_empty() {
                    client.scopes.clone()
                } else {
                    requested
                }
            }
        };
        let audience: Vec<String> = ctx.param("audience").unwrap_or("").split(' ').filter(|a| !a.is_empty()).map(str::to_owned).collect();
        crate::flows::check_audience(client, &audience)?;
        let now = self.now();
        let ttl = client.extras.lifespans.client_credentials_grant_access_token.unwrap_or(self.settings.access_token_ttl_secs);
        let scope = scopes.join(" ");
        let claims = AccessClaims {
            iss: issuer.to_owned(),
            sub: client.client_id.clone(),
            aud: if audience.is_empty() { Value::String(issuer.to_owned()) } else { serde_json::json!(audience) },
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
        let access_token = self.mint_access_token(ctx.tenant(), client, &claims).await?;
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
