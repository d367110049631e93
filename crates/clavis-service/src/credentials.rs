//! Hydra's verifiable credentials endpoint (`POST /credentials`, OpenID for Verifiable
//! Credential Issuance draft 00 as Hydra serves it): a user's access token (scope
//! `openid`) gets a `jwt_vc_json` credential about its user, bound to a holder key that a
//! `proof` JWT shows the caller holds.
//!
//! A first request without `proof` is answered `missing_proof` with a `c_nonce`; the
//! proof JWT carries that nonce, is signed with the key in its header's `jwk`, and the
//! credential's subject is that key (`did:jwk:…`). The nonce is an HMAC of the access
//! token's `jti` and its expiry under the tenant's secret: bound to that token, valid for
//! an hour, nothing stored (Hydra's nonces are not single use either).

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use clavis_core::assertion::{AssertionKind, ClientJws};
use clavis_core::TenantId;
use ring::hmac;
use serde_json::{json, Value};

use crate::tokens::{PresentedToken, TokenRejection};
use crate::Services;

/// How long a `c_nonce` is good for (Hydra's default).
pub const NONCE_LIFETIME_SECS: i64 = 3600;
/// A credential lives this long.
const CREDENTIAL_LIFETIME_SECS: i64 = 3600;
/// The largest proof JWT read.
const PROOF_MAX_BYTES: usize = 16 * 1024;

/// Why no credential was issued.
#[derive(Debug)]
pub enum CredentialError {
    /// The access token does not do (401).
    Token(TokenRejection),
    /// The request is wrong (400 `invalid_request`).
    Invalid(&'static str),
    /// No proof, or a stale nonce: prove the key with this nonce (400 `missing_proof`).
    MissingProof { c_nonce: String, expires_in: i64 },
}

impl From<TokenRejection> for CredentialError {
    fn from(e: TokenRejection) -> Self {
        CredentialError::Token(e)
    }
}

impl From<clavis_store::StoreError> for CredentialError {
    fn from(e: clavis_store::StoreError) -> Self {
        CredentialError::Token(TokenRejection::Store(e))
    }
}

impl Services {
    /// A signed credential for the token's user, in `format` (only `jwt_vc_json`), bound to
    /// the key of `proof` (`proof_type` `jwt` and the JWT).
    pub async fn create_credential(
        &self,
        t: &TenantId,
        token: &PresentedToken,
        format: &str,
        proof: Option<(&str, &str)>,
    ) -> Result<String, CredentialError> {
        let (access, client, claims) = self.user_claims(t, token).await?;
        if format != "jwt_vc_json" {
            return Err(CredentialError::Invalid("format must be jwt_vc_json"));
        }
        let now = self.now();
        let missing = || async {
            let expires_at = now + NONCE_LIFETIME_SECS;
            let mac = self.nonce_mac(t, &access.jti, expires_at).await?;
            Ok::<_, CredentialError>(CredentialError::MissingProof { c_nonce: format!("{expires_at}.{mac}"), expires_in: NONCE_LIFETIME_SECS })
        };
        let Some((proof_type, jwt)) = proof else { return Err(missing().await?) };
        if proof_type != "jwt" {
            return Err(CredentialError::Invalid("proof_type must be jwt"));
        }
        let jws = ClientJws::parse(jwt, PROOF_MAX_BYTES, false).map_err(|_| CredentialError::Invalid("the proof is not a signed JWT"))?;
        if jws.kind() != AssertionKind::PrivateKey {
            return Err(CredentialError::Invalid("the proof must be signed with the holder's key"));
        }
        let holder = proof_jwk(jws.header()).ok_or(CredentialError::Invalid("the proof's header must carry the holder's public key (jwk)"))?;
        let mut key = holder.clone();
        if let Some(kid) = &jws.kid {
            key["kid"] = json!(kid);
        }
        if !jws.verify_with_jwks(&json!({ "keys": [key] })) {
            return Err(CredentialError::Invalid("the proof is not signed with the key in its header"));
        }
        let nonce: Option<String> = jws.claims::<Value>().and_then(|c| c.get("nonce").and_then(Value::as_str).map(str::to_owned));
        let nonce = nonce.ok_or(CredentialError::Invalid("the proof has no nonce"))?;
        if !self.nonce_is_valid(t, &access.jti, &nonce, now).await? {
            return Err(missing().await?);
        }
        // did:jwk (https://github.com/quartzjer/did-jwk): the holder's key itself.
        let did = format!("did:jwk:{}", B64.encode(holder.to_string()));
        let mut subject = claims;
        subject.insert("id".into(), json!(did));
        let credential = json!({
            "iss": access.iss, "sub": did, "iat": now, "nbf": now, "exp": now + CREDENTIAL_LIFETIME_SECS,
            "jti": clavis_core::ids::random_token(16),
            "vc": {
                "@context": ["https://www.w3.org/2018/credentials/v1"],
                "type": ["VerifiableCredential", "UserInfoCredential"],
                "credentialSubject": subject,
            },
        });
        Ok(self.keys.for_tenant(t).await?.id_token_signer(&client).sign_jwt(&credential))
    }

    async fn nonce_mac(&self, t: &TenantId, jti: &str, expires_at: i64) -> Result<String, clavis_store::StoreError> {
        Ok(B64.encode(hmac::sign(&self.nonce_key(t).await?, &nonce_input(jti, expires_at)).as_ref()))
    }

    async fn nonce_is_valid(&self, t: &TenantId, jti: &str, nonce: &str, now: i64) -> Result<bool, clavis_store::StoreError> {
        let Some((expires_at, mac)) = nonce.split_once('.').and_then(|(e, m)| Some((e.parse::<i64>().ok()?, B64.decode(m).ok()?))) else {
            return Ok(false);
        };
        if expires_at <= now || expires_at > now + NONCE_LIFETIME_SECS {
            return Ok(false);
        }
        Ok(hmac::verify(&self.nonce_key(t).await?, &nonce_input(jti, expires_at), &mac).is_ok())
    }

    async fn nonce_key(&self, t: &TenantId) -> Result<hmac::Key, clavis_store::StoreError> {
        self.tenant_key(t, b"clavis credential nonce").await
    }
}

fn nonce_input(jti: &str, expires_at: i64) -> Vec<u8> {
    [jti.as_bytes(), &[0], expires_at.to_string().as_bytes()].concat()
}

/// The public key in the proof's JOSE header, without private members.
fn proof_jwk(header: &Value) -> Option<Value> {
    let jwk = header.get("jwk")?.as_object()?;
    let private = clavis_core::jose::PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m));
    (!private && jwk.get("kty").is_some_and(Value::is_string)).then(|| Value::Object(jwk.clone()))
}
