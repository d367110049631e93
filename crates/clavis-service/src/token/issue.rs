//! Signing what a grant decided: the access token (a JWT, or an opaque handle whose
//! claims are stored), the ID token (scope `openid`) and the refresh token (scope
//! `offline_access`), with the lifetimes the client's registration sets.

use clavis_core::jose::half_hash;
use clavis_core::{ids, secret, AccessTokenStrategy, Client, GrantType, TenantId};
use clavis_store::RefreshRow;
use serde_json::{json, Map, Value};

use super::binding::Binding;
use super::GrantData;
use crate::tokens::AccessClaims;
use crate::{OAuthError, Services};

/// A token response (RFC 6749 §5.1).
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: String,
    /// `Bearer` (or the binding's type).
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    /// RFC 8693 §2.2.1: what the token exchange issued (other grants: none).
    pub issued_token_type: Option<&'static str>,
    /// RFC 9396 §7: the authorization details granted (user grants only).
    pub authorization_details: Option<Value>,
}

/// Claims a consent app may not set on an ID token: the server decides these.
const RESERVED_ID_CLAIMS: &[&str] =
    &["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "s_hash", "acr", "amr", "sid", "azp", "jti", "nbf"];

/// An ID token for `grant` about `sub` (the client's view of the subject): the consent
/// app's claims, then the server's (which win), and the hashes that bind it to what it
/// travels with (`at_hash`, `c_hash`, `s_hash`).
#[allow(clippy::too_many_arguments)]
fn id_token(
    signer: &clavis_core::jose::SigningKey,
    client: &Client,
    grant: &GrantData,
    sub: &str,
    now: i64,
    ttl: i64,
    with_nonce: bool,
    hashes: &[(&str, String)],
) -> String {
    let mut c: Map<String, Value> = grant.id_claims.as_object().cloned().unwrap_or_default();
    c.retain(|k, _| !RESERVED_ID_CLAIMS.contains(&k.as_str()));
    c.insert("iss".into(), json!(grant.issuer));
    c.insert("sub".into(), json!(sub));
    c.insert("aud".into(), json!([client.client_id]));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + ttl));
    c.insert("auth_time".into(), json!(grant.auth_time));
    for (name, hash) in hashes {
        c.insert((*name).into(), json!(hash));
    }
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
    signer.sign_jwt(&Value::Object(c))
}

/// Which grant issues: it picks the client's lifespans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IssuedBy {
    AuthorizationCode,
    DeviceCode,
    RefreshToken,
}

impl Services {
    /// Access token, ID token (scope `openid`) and refresh token (scope `offline_access`
    /// and grant `refresh_token`). Returns the tokens, the access token's `(jti, exp)`,
    /// and the refresh token's row, which the caller stores (with the write that spends
    /// what the tokens were issued for, where it can).
    pub(crate) async fn issue_user_tokens(
        &self,
        t: &TenantId,
        client: &Client,
        binding: &Binding,
        grant: &GrantData,
        family: Option<String>,
        by: IssuedBy,
    ) -> Result<(TokenSet, (String, i64), Option<RefreshRow>), OAuthError> {
        let from_code = by == IssuedBy::AuthorizationCode;
        let keys = self.keys.for_tenant(t).await?;
        let now = self.now();
        let l = &client.extras.lifespans;
        let s = &self.settings;
        let (ttl, id_ttl, refresh_ttl) = match by {
            IssuedBy::AuthorizationCode => (
                l.authorization_code_grant_access_token.unwrap_or(s.access_token_ttl_secs),
                l.authorization_code_grant_id_token.unwrap_or(s.id_token_ttl_secs),
                l.authorization_code_grant_refresh_token.unwrap_or(s.refresh_token_ttl_secs),
            ),
            IssuedBy::DeviceCode => (
                l.device_authorization_grant_access_token.unwrap_or(s.access_token_ttl_secs),
                l.device_authorization_grant_id_token.unwrap_or(s.id_token_ttl_secs),
                l.device_authorization_grant_refresh_token.unwrap_or(s.refresh_token_ttl_secs),
            ),
            IssuedBy::RefreshToken => (
                l.refresh_token_grant_access_token.unwrap_or(s.access_token_ttl_secs),
                l.refresh_token_grant_id_token.unwrap_or(s.id_token_ttl_secs),
                l.refresh_token_grant_refresh_token.unwrap_or(s.refresh_token_ttl_secs),
            ),
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
            cnf: binding.confirmation(),
            act: None,
            authorization_details: grant.authorization_details.clone(),
        };
        let access_token = self.mint_access_token(t, client, &claims).await?;

        let openid = grant.scope.iter().any(|s| s == "openid");
        if openid {
            let mut userinfo: Map<String, Value> = grant.id_claims.as_object().cloned().unwrap_or_default();
            userinfo.retain(|k, _| !RESERVED_ID_CLAIMS.contains(&k.as_str()));
            let data = Value::Object(userinfo).to_string();
            self.store.insert_userinfo(t, &jti, &grant.subject, &client.client_id, &data, now + ttl).await?;
        }
        let sub = if openid { self.subject_for(t, client, &grant.subject).await? } else { String::new() };
        let id_token = openid.then(|| {
            let signer = keys.id_token_signer(client);
            let at_hash = half_hash(signer.alg(), &access_token);
            id_token(signer, client, grant, &sub, now, id_ttl, with_nonce, &[("at_hash", at_hash)])
        });

        let offline = grant.scope.iter().any(|s| s == "offline_access" || s == "offline");
        let mut refresh_row = None;
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
            // RFC 9449 §5: a public client's refresh token is bound to the DPoP key it was
            // issued under (a confidential client's is bound by its authentication).
            data.dpop_jkt = if client.is_confidential { None } else { binding.jkt().map(str::to_owned) };
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
            refresh_row = Some(row);
            Some(token)
        } else {
            None
        };
        let tokens = TokenSet {
            access_token,
            token_type: binding.token_type(),
            expires_in: ttl,
            scope,
            id_token,
            refresh_token,
            issued_token_type: None,
            authorization_details: grant.authorization_details.clone(),
        };
        Ok((tokens, (jti, now + ttl), refresh_row))
    }

    /// The ID token of a hybrid response (`code id_token`, OpenID Connect Core §3.3.2.11),
    /// sent with the code: `c_hash` and `s_hash` bind it to them, the `nonce` is required.
    pub(crate) async fn front_channel_id_token(
        &self,
        t: &TenantId,
        client: &Client,
        grant: &GrantData,
        code: &str,
        state: &str,
    ) -> Result<String, OAuthError> {
        let keys = self.keys.for_tenant(t).await?;
        let signer = keys.id_token_signer(client);
        let ttl = client.extras.lifespans.authorization_code_grant_id_token.unwrap_or(self.settings.id_token_ttl_secs);
        let hashes = [("c_hash", half_hash(signer.alg(), code)), ("s_hash", half_hash(signer.alg(), state))];
        let sub = self.subject_for(t, client, &grant.subject).await?;
        Ok(id_token(signer, client, grant, &sub, self.now(), ttl, true, &hashes))
    }

    /// The access token for `claims` in the client's format: a signed JWT, or an opaque
    /// handle `{tenant}~{random}` whose claims are stored (hashed handle) until expiry.
    pub(crate) async fn mint_access_token(
        &self,
        tenant: &TenantId,
        client: &Client,
        claims: &AccessClaims,
    ) -> Result<String, clavis_store::StoreError> {
        match client.extras.access_token_strategy {
            AccessTokenStrategy::Jwt => Ok(self.keys.for_tenant(tenant).await?.access_token_signer(client).sign_access_token(claims)),
            AccessTokenStrategy::Opaque => {
                let token = format!("{tenant}~{}", clavis_core::ids::random_token(32));
                let json = serde_json::to_string(claims).expect("claims serialize");
                self.store.insert_opaque_token(tenant, &client.client_id, &secret::hash(&token), &json, claims.iat, claims.exp).await?;
                Ok(token)
            }
        }
    }
}
