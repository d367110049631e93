//! The user-facing grants at the token endpoint (authorization code with PKCE, refresh
//! token with rotation), the tokens they issue (access, ID, refresh), and the token
//! lifecycle: introspection (RFC 7662) and revocation (RFC 7009).

use clavis_core::jose::{half_hash, pkce_s256};
use clavis_core::{ids, scope, secret, Client, GrantType, TenantId};
use clavis_store::{CodeRow, RefreshRow, Spend, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::tokens::AccessClaims;
use crate::{OAuthError, Services};

/// What a code or refresh token stands for; stored as JSON with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GrantData {
    pub issuer: String,
    pub subject: String,
    pub scope: Vec<String>,
    pub audience: Vec<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub sid: String,
    /// Extra access token claims (`ext`) and ID token claims from the consent session.
    pub access_claims: Value,
    pub id_claims: Value,
    /// Code only: the redirect URI the token request must repeat, the PKCE challenge, nonce.
    pub redirect_uri: Option<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    /// The access token issued with this code / refresh token: `(jti, exp)`.
    pub issued_jti: Option<(String, i64)>,
    /// The refresh family started by this code.
    pub family_id: Option<String>,
    /// When the refresh family began (its code was exchanged): rotation never carries a
    /// family past `refresh_family_ttl_secs` from here. Absent in grants stored before.
    #[serde(default)]
    pub family_started_at: Option<i64>,
}

/// A token response.
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

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
}

fn invalid_grant(m: &str) -> OAuthError {
    OAuthError::InvalidGrant(m.to_owned())
}

/// Claims a consent app may not set on an ID token: the server decides these.
const RESERVED_ID_CLAIMS: &[&str] =
    &["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "acr", "amr", "sid", "azp", "jti", "nbf"];

impl Services {
    pub(crate) async fn new_code(&self, t: &TenantId, client_id: &str, grant: &GrantData) -> Result<String, StoreError> {
        let code = ids::random_token(32);
        let now = self.now();
        let row = CodeRow {
            code_hash: secret::hash(&code),
            client_id: client_id.to_owned(),
            data: serde_json::to_string(grant).expect("grant serializes"),
            created_at: now,
            expires_at: now + self.settings.auth_code_ttl_secs,
            used_at: None,
        };
        self.store.insert_code(t, &row).await?;
        Ok(code)
    }

    /// RFC 6749 §4.1.3 with PKCE (RFC 7636). A code works once; a second use revokes
    /// what the first issued (RFC 9700 §4.5).
    pub async fn grant_authorization_code(
        &self,
        t: &TenantId,
        client: &Client,
        code: Option<&str>,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> Result<TokenSet, OAuthError> {
        if !client.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(OAuthError::UnauthorizedClient("the client is not registered for authorization_code".into()));
        }
        let code = code.ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
        if code.len() > 128 {
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
        let mut grant: GrantData = serde_json::from_str(&row.data).map_err(|e| OAuthError::ServerError(format!("code data: {e}")))?;
        if row.used_at.is_none() {
            if row.expires_at <= now {
                return Err(invalid_grant("the code has expired"));
            }
            if let Some(expected) = &grant.redirect_uri {
                if redirect_uri != Some(expected.as_str()) {
                    return Err(invalid_grant("redirect_uri does not match the authorization request"));
                }
            }
            match (&grant.code_challenge, code_verifier) {
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
        let (tokens, jti, family) = self.issue_user_tokens(t, client, &grant, None, true).await?;
        grant.issued_jti = Some(jti);
        grant.family_id = family;
        self.store.set_code_data(t, &code_hash, &serde_json::to_string(&grant).expect("grant serializes")).await?;
        Ok(tokens)
    }

    /// RFC 6749 §6 with rotation: every use returns a new refresh token; using a rotated
    /// one revokes the whole family (RFC 9700 §4.14.2).
    pub async fn grant_refresh_token(
        &self,
        t: &TenantId,
        client: &Client,
        refresh_token: Option<&str>,
        requested_scope: Option<&str>,
    ) -> Result<TokenSet, OAuthError> {
        if !client.grant_types.contains(&GrantType::RefreshToken) {
            return Err(OAuthError::UnauthorizedClient("the client is not registered for refresh_token".into()));
        }
        let token = refresh_token.ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
        if token.len() > 128 {
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
        let mut grant: GrantData = serde_json::from_str(&row.data).map_err(|e| OAuthError::ServerError(format!("refresh data: {e}")))?;
        // What the admin has since removed from the registration is not issued again.
        grant.scope.retain(|s| client.scopes.contains(s));
        grant.audience.retain(|a| client.extras.hydra.audience.contains(a));
        grant.family_started_at.get_or_insert(row.created_at);
        if let Some(raw) = requested_scope {
            let requested = scope::parse_scope_param(raw).ok_or_else(|| OAuthError::InvalidScope("the scope parameter is malformed".into()))?;
            if let Some(extra) = requested.iter().find(|s| !grant.scope.contains(s)) {
                return Err(OAuthError::InvalidScope(format!("scope {extra:?} was not granted")));
            }
            if !requested.is_empty() {
                grant.scope = requested;
            }
        }
        let row = match self.store.spend_refresh(t, &token_hash, now).await? {
            Spend::Fresh(row) => row,
            Spend::Replayed(row) => {
                self.revoke_family(t, &row.family_id, now).await?;
                return Err(invalid_grant("the refresh token was already used or revoked; its family is revoked"));
            }
            Spend::Unknown => return Err(invalid_grant("unknown refresh token")),
        };
        let (tokens, _, _) = self.issue_user_tokens(t, client, &grant, Some(row.family_id), false).await?;
        Ok(tokens)
    }

    /// Access token, ID token (scope `openid`) and refresh token (scope `offline_access`
    /// and grant `refresh_token`). Returns the tokens, the access token's `(jti, exp)`,
    /// and the refresh family.
    async fn issue_user_tokens(
        &self,
        t: &TenantId,
        client: &Client,
        grant: &GrantData,
        family: Option<String>,
        from_code: bool,
    ) -> Result<(TokenSet, (String, i64), Option<String>), OAuthError> {
        let keys = self.keys.for_tenant(t).await?;
        let now = self.now();
        let l = &client.extras.lifespans;
        let s = &self.settings;
        let (ttl, id_ttl, refresh_ttl) = if from_code {
            (
                l.authorization_code_grant_access_token.unwrap_or(s.access_token_ttl_secs),
                l.authorization_code_grant_id_token.unwrap_or(s.id_token_ttl_secs),
                l.authorization_code_grant_refresh_token.unwrap_or(s.refresh_token_ttl_secs),
            )
        } else {
            (
                l.refresh_token_grant_access_token.unwrap_or(s.access_token_ttl_secs),
                l.refresh_token_grant_id_token.unwrap_or(s.id_token_ttl_secs),
                l.refresh_token_grant_refresh_token.unwrap_or(s.refresh_token_ttl_secs),
            )
        };
        let with_nonce = from_code;
        let scope = grant.scope.join(" ");
        let jti = ids::random_token(16);
        let aud = if grant.audience.is_empty() { json!(grant.issuer) } else { json!(grant.audience) };
        let ext = grant.access_claims.as_object().filter(|m| !m.is_empty()).map(|m| Value::Object(m.clone()));
        let claims = AccessClaims {
            iss: grant.issuer.clone(),
            sub: grant.subject.clone(),
            aud,
            client_id: client.client_id.clone(),
            scope: scope.clone(),
            iat: now,
            exp: now + ttl,
            jti: jti.clone(),
            ext,
        };
        let access_token = self.mint_access_token(t, client, &claims).await?;

        let openid = grant.scope.iter().any(|s| s == "openid");
        if openid {
            let mut userinfo: Map<String, Value> = grant.id_claims.as_object().cloned().unwrap_or_default();
            userinfo.retain(|k, _| !RESERVED_ID_CLAIMS.contains(&k.as_str()));
            let data = Value::Object(userinfo).to_string();
            self.store.insert_userinfo(t, &jti, &grant.subject, &client.client_id, &data, now + ttl).await?;
        }
        let id_token = openid.then(|| {
            let mut c: Map<String, Value> = grant.id_claims.as_object().cloned().unwrap_or_default();
            c.retain(|k, _| !RESERVED_ID_CLAIMS.contains(&k.as_str()));
            c.insert("iss".into(), json!(grant.issuer));
            c.insert("sub".into(), json!(grant.subject));
            c.insert("aud".into(), json!([client.client_id]));
            c.insert("iat".into(), json!(now));
            c.insert("exp".into(), json!(now + id_ttl));
            c.insert("auth_time".into(), json!(grant.auth_time));
            c.insert("at_hash".into(), json!(half_hash(&access_token)));
            c.insert("sid".into(), json!(grant.sid));
            c.insert("jti".into(), json!(ids::random_token(16)));
            if !grant.acr.is_empty() {
                c.insert("acr".into(), json!(grant.acr));
            }
            if !grant.amr.is_empty() {
                c.insert("amr".into(), json!(grant.amr));
            }
            if let (true, Some(nonce)) = (with_nonce, &grant.nonce) {
                c.insert("nonce".into(), json!(nonce));
            }
            keys.signing.sign_jwt(&Value::Object(c))
        });

        let offline = grant.scope.iter().any(|s| s == "offline_access" || s == "offline");
        let mut family_out = None;
        let refresh_token = if offline && client.grant_types.contains(&GrantType::RefreshToken) {
            let family_id = family.unwrap_or_else(ids::ulid);
            let token = ids::random_token(32);
            let mut data = grant.clone();
            let started = *data.family_started_at.get_or_insert(now);
            let expires_at = (now + refresh_ttl).min(started + s.refresh_family_ttl_secs);
            data.redirect_uri = None;
            data.code_challenge = None;
            data.nonce = None;
            data.issued_jti = Some((jti.clone(), now + ttl));
            data.family_id = Some(family_id.clone());
            let row = RefreshRow {
                token_hash: secret::hash(&token),
                family_id: family_id.clone(),
                client_id: client.client_id.clone(),
                subject: grant.subject.clone(),
                data: serde_json::to_string(&data).expect("grant serializes"),
                created_at: now,
                expires_at,
                used_at: None,
                revoked_at: None,
            };
            self.store.insert_refresh(t, &row).await?;
            family_out = Some(family_id);
            Some(token)
        } else {
            None
        };
        let tokens = TokenSet { access_token, expires_in: ttl, scope, id_token, refresh_token };
        Ok((tokens, (jti, now + ttl), family_out))
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
    async fn revoke_family(&self, t: &TenantId, family: &str, now: i64) -> Result<(), StoreError> {
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
        if let Ok((_, c)) = self.check_access_token(token, Some(t)).await {
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
                token_type: Some("Bearer"),
                token_use: Some("access_token"),
                ext: c.ext,
            });
        }
        if token.len() <= 128 {
            let now = self.now();
            if let Some(row) = self.store.find_refresh(t, &secret::hash(token)).await? {
                let live = row.used_at.is_none() && row.revoked_at.is_none() && row.expires_at > now;
                let client_live =
                    self.clients.load(&self.store, t, &row.client_id).await?.is_some_and(|e| e.client.status == clavis_core::ClientStatus::Active);
                if live && client_live {
                    let g: GrantData = serde_json::from_str(&row.data).map_err(|e| OAuthError::ServerError(format!("refresh data: {e}")))?;
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
    /// session, for an active access token with scope `openid`.
    pub async fn userinfo(&self, t: &TenantId, token: &str) -> Result<Value, &'static str> {
        let (_, c) = self.check_access_token(token, Some(t)).await?;
        if !c.scope.split(' ').any(|s| s == "openid") {
            return Err("the access token lacks scope openid");
        }
        let data = self.store.find_userinfo(t, &c.jti).await.map_err(|_| "unavailable")?.ok_or("no user behind this token")?;
        let mut claims: Map<String, Value> = serde_json::from_str(&data).unwrap_or_default();
        claims.insert("sub".into(), json!(c.sub));
        Ok(Value::Object(claims))
    }

    /// RFC 7009: the owning client revokes a refresh token (with its family and their
    /// access tokens) or an access token. Unknown tokens are not an error.
    pub async fn revoke(&self, t: &TenantId, client: &Client, token: &str) -> Result<(), OAuthError> {
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
        if let Ok((_, c)) = self.check_access_token(token, Some(t)).await {
            if c.client_id != client.client_id {
                return Err(OAuthError::UnauthorizedClient("the token was issued to another client".into()));
            }
            self.store.revoke_jti(t, &c.jti, c.exp).await?;
        }
        Ok(())
    }
}
