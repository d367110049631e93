//! The life of issued tokens after the token endpoint: introspection (RFC 7662),
//! revocation (RFC 7009), UserInfo, and revoking what a grant or consent issued.

use clavis_core::jose::Alg;
use clavis_core::{secret, Client, TenantId};
use clavis_store::StoreError;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::token::GrantData;
use crate::tokens::{AccessClaims, PresentedToken, TokenRejection};
use crate::{OAuthError, Services};

/// RFC 7662 response.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// A string or an array of strings.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub aud: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_use: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub ext: Option<Value>,
    /// The acting party of a delegated (exchanged) token, RFC 8693 §4.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub act: Option<Value>,
    /// The key a sender-constrained token is bound to (RFC 9449 §6.2: `{"jkt": …}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub cnf: Option<Value>,
    /// RFC 9396 §9.2: the authorization details the token carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub authorization_details: Option<Value>,
}

/// A UserInfo response: JSON claims, or a signed JWT (`application/jwt`).
#[derive(Debug)]
pub enum Userinfo {
    Claims(Value),
    Signed(String),
}

impl Services {
    /// The claims of `token` if it is a live access token of tenant `t`; `None` if it is
    /// not one (whatever the reason); an error only if the check could not be made.
    async fn live_access_token(&self, token: &str, t: &TenantId) -> Result<Option<(TenantId, AccessClaims)>, OAuthError> {
        match self.check_access_token(token, Some(t)).await {
            Ok(found) => Ok(Some(found)),
            Err(TokenRejection::Store(e)) => Err(e.into()),
            Err(_) => Ok(None),
        }
    }

    /// Hydra's `DELETE /admin/oauth2/auth/sessions/consent`: forgets the subject's
    /// remembered consents (for one client, or all) and revokes the refresh tokens granted
    /// to it, with the access tokens issued alongside them.
    pub async fn revoke_consent_sessions(&self, t: &TenantId, subject: &str, client_id: Option<&str>) -> Result<(), crate::ServiceError> {
        let now = self.now();
        self.store.delete_consents(t, subject, client_id).await?;
        for family in self.store.live_families(t, subject, client_id).await? {
            self.revoke_family(t, &family, now).await?;
        }
        Ok(())
    }

    /// Revokes every refresh token of a family and the access tokens issued with them.
    pub(crate) async fn revoke_family(&self, t: &TenantId, family: &str, now: i64) -> Result<(), StoreError> {
        self.store.revoke_family(t, family, now).await?;
        for row in self.store.family_tokens(t, family).await? {
            if let Some((jti, exp)) = serde_json::from_str::<GrantData>(&row.data).ok().and_then(|g| g.issued_jti) {
                if exp > now {
                    self.store.revoke_jti(t, &jti, exp).await?;
                }
            }
        }
        Ok(())
    }

    /// RFC 7662: what a token of tenant `t` is, if it is active.
    pub async fn introspect(&self, t: &TenantId, token: &str) -> Result<Introspection, OAuthError> {
        if let Some((_, c)) = self.live_access_token(token, t).await? {
            let token_type = if c.jkt().is_some() { "DPoP" } else { "Bearer" };
            return Ok(Introspection {
                active: true,
                scope: Some(c.scope),
                client_id: Some(c.client_id),
                sub: Some(c.sub),
                exp: Some(c.exp),
                iat: Some(c.iat),
                iss: Some(c.iss),
                aud: Some(c.aud),
                jti: Some(c.jti),
                token_type: Some(token_type),
                token_use: Some("access_token"),
                ext: c.ext,
                act: c.act,
                cnf: c.cnf,
                authorization_details: c.authorization_details,
            });
        }
        if token.len() <= 128 {
            let now = self.now();
            if let Some(row) = self.store.find_refresh(t, &secret::hash(token)).await? {
                let live = row.used_at.is_none() && row.revoked_at.is_none() && row.expires_at > now;
                let client_live =
                    self.clients.load(&self.store, t, &row.client_id).await?.is_some_and(|e| e.client.status == clavis_core::ClientStatus::Active);
                if live && client_live {
                    let g: GrantData = serde_json::from_str(&row.data).map_err(|e| OAuthError::server_caused("refresh data", e))?;
                    return Ok(Introspection {
                        active: true,
                        scope: Some(g.scope.join(" ")),
                        client_id: Some(row.client_id),
                        sub: Some(row.subject),
                        exp: Some(row.expires_at),
                        iat: Some(row.created_at),
                        iss: Some(g.issuer),
                        token_use: Some("refresh_token"),
                        ..Default::default()
                    });
                }
            }
        }
        Ok(Introspection::default())
    }

    /// OpenID Connect UserInfo: the subject and the ID token claims of the consent
    /// session, for an active access token with scope `openid`; a JWT signed with the
    /// client's `userinfo_signed_response_alg` if it registered one (§5.3.2: with `iss`
    /// and `aud`).
    pub async fn userinfo(&self, t: &TenantId, presented: &PresentedToken) -> Result<Userinfo, TokenRejection> {
        let (c, client, mut claims) = self.user_claims(t, presented).await?;
        let Some(alg) = Alg::parse(&client.extras.hydra.userinfo_signed_response_alg) else {
            return Ok(Userinfo::Claims(Value::Object(claims)));
        };
        claims.insert("iss".into(), json!(c.iss));
        claims.insert("aud".into(), json!(c.client_id));
        claims.insert("iat".into(), json!(self.now()));
        Ok(Userinfo::Signed(self.keys.for_tenant(t).await?.signer(alg).sign_jwt(&claims)))
    }

    /// The user's claims for `token` as JSON, never signed (the authms `GET /oauth/userinfo`).
    pub async fn userinfo_claims(&self, t: &TenantId, presented: &PresentedToken) -> Result<Value, TokenRejection> {
        Ok(Value::Object(self.user_claims(t, presented).await?.2))
    }

    /// The access token `token` of a user (scope `openid`), its client, and the user's
    /// claims with the `sub` the client's ID tokens carry (OpenID Connect Core §5.3.2).
    pub(crate) async fn user_claims(
        &self,
        t: &TenantId,
        presented: &PresentedToken,
    ) -> Result<(AccessClaims, Client, Map<String, Value>), TokenRejection> {
        let (_, c) = self.accept_access_token(presented, Some(t)).await?;
        if !c.scope.split(' ').any(|s| s == "openid") {
            return Err(TokenRejection::Invalid("the access token lacks scope openid"));
        }
        let data = self.store.find_userinfo(t, &c.jti).await?.ok_or(TokenRejection::Invalid("no user behind this token"))?;
        let mut claims: Map<String, Value> = serde_json::from_str(&data).unwrap_or_default();
        let client = self.clients.load(&self.store, t, &c.client_id).await?.ok_or(TokenRejection::Invalid("the client is gone"))?;
        claims.insert("sub".into(), json!(self.subject_for(t, &client.client, &c.sub).await?));
        Ok((c, client.client.clone(), claims))
    }

    /// RFC 7009: the owning client revokes a refresh token (with its family and their
    /// access tokens) or an access token. Unknown tokens are not an error.
    pub async fn revoke(&self, t: &TenantId, client: &Client, token: &str, token_type_hint: Option<&str>) -> Result<(), OAuthError> {
        match token_type_hint {
            None | Some("access_token") | Some("refresh_token") => {}
            Some(other) => return Err(OAuthError::UnsupportedTokenType(format!("token_type_hint {other:?} is not supported"))),
        }
        let now = self.now();
        if token.len() <= 128 {
            if let Some(row) = self.store.find_refresh(t, &secret::hash(token)).await? {
                if row.client_id != client.client_id {
                    return Err(OAuthError::UnauthorizedClient("the token was issued to another client".into()));
                }
                self.revoke_family(t, &row.family_id, now).await?;
                return Ok(());
            }
        }
        if let Some((_, c)) = self.live_access_token(token, t).await? {
            if c.client_id != client.client_id {
                return Err(OAuthError::UnauthorizedClient("the token was issued to another client".into()));
            }
            self.store.revoke_jti(t, &c.jti, c.exp).await?;
        }
        Ok(())
    }
}
