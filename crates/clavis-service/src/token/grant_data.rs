//! What a code or refresh token stands for: the consent behind it, stored as JSON with
//! the (hashed) code or token.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// The DPoP key the grant is bound to (RFC 9449): a code's `dpop_jkt` (§10), a public
    /// client's refresh token's key (§5). The token request must prove it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// RFC 9396: the authorization details the consent granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<serde_json::Value>,
}
