//! Ory Hydra's view of a client (`OAuth2Client`), and the rules that turn a Hydra client
//! body — on the Hydra admin API and in dynamic registration — into a [`Client`]. A body
//! is applied over the current client, so that what Hydra does not know (the authms
//! status, FAPI profile, extra auth methods, secrets) is kept. No HTTP here: a refusal is
//! a [`ClientMetadataError`], which each API maps to its wire format.

use crate::response_mode::{normalize_response_type, RESPONSE_TYPES};
use clavis_core::json_patch::{self, Operation};
use clavis_core::{time, AccessTokenStrategy, AuthMethod, Client, GrantType, Lifespans, TenantId, ValidationError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// Hydra's defaults for what a request leaves out.
const DEFAULT_SCOPE: &str = "offline_access offline openid";

/// Fields the server manages: a PATCH may not touch them.
const SERVER_MANAGED: &[&str] =
    &["/client_id", "/created_at", "/updated_at", "/registration_access_token", "/registration_client_uri", "/client_secret_expires_at"];

/// The largest `metadata` a client may carry (as compact JSON), on every API that sets it.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Why client metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientMetadataError {
    /// A field's value is refused. Hydra answers `invalid_redirect_uri` when the field is
    /// a redirect URI list, else `invalid_client_metadata`.
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    /// The metadata as a whole is refused (`invalid_client_metadata`), e.g. a dynamic
    /// registration setting what only an admin may set.
    #[error("{0}")]
    Metadata(String),
    /// The request is malformed (`invalid_request`), e.g. a JSON Patch that does not apply.
    #[error("{0}")]
    Request(String),
}

impl ClientMetadataError {
    pub fn field(field: &str, message: &str) -> Self {
        Self::Field { field: field.to_owned(), message: message.to_owned() }
    }
}

impl From<ValidationError> for ClientMetadataError {
    fn from(e: ValidationError) -> Self {
        Self::Field { field: e.field, message: e.message }
    }
}

fn invalid(field: &str, message: &str) -> ClientMetadataError {
    ClientMetadataError::field(field, message)
}

/// A client as Ory Hydra shows it (`OAuth2Client`). As a request body (create, replace,
/// dynamic registration) every field is optional: absent ones get Hydra's defaults.
#[derive(Serialize, ToSchema)]
pub struct HydraClient {
    /// 1 to 128 printable ASCII characters without `/ ? # %` [default: generated].
    pub client_id: String,
    pub client_name: String,
    /// Only in the answer that sets it (create, or a replace that gives one): 6 to 512 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// When the client's current secret stops working (unix seconds); 0: it does not expire.
    pub client_secret_expires_at: i64,
    /// Dynamic registration only (RFC 7592).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    /// Dynamic registration only: in the registration answer, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// [default: `authorization_code`]
    pub grant_types: Vec<&'static str>,
    /// `code` or `code id_token` (the implicit types are refused) [default: `code`].
    pub response_types: Vec<String>,
    /// Space-separated scope tokens [default: `offline_access offline openid`].
    pub scope: String,
    pub audience: Vec<String>,
    /// At most 255 characters.
    pub owner: String,
    pub policy_uri: String,
    pub tos_uri: String,
    pub client_uri: String,
    pub logo_uri: String,
    /// Origins like `https://app.example.com`.
    pub allowed_cors_origins: Vec<String>,
    pub contacts: Vec<String>,
    /// Only `public`.
    pub subject_type: String,
    pub sector_identifier_uri: String,
    /// A JSON Web Key Set of public keys; `{}` if none.
    #[schema(value_type = Object)]
    pub jwks: Value,
    pub jwks_uri: String,
    /// [default: `client_secret_basic`]
    pub token_endpoint_auth_method: &'static str,
    pub token_endpoint_auth_signing_alg: String,
    pub request_object_signing_alg: String,
    pub request_uris: Vec<String>,
    /// Authorization requests must be signed request objects, by value, by reference or
    /// pushed (RFC 9101 §10.5; not in Hydra's model, so shown only when set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signed_request_object: bool,
    /// `none` or empty: plain JSON; else the algorithm userinfo is signed with (`application/jwt`).
    pub userinfo_signed_response_alg: String,
    /// The ID token's algorithm: `RS256`, `PS256`, `ES256` or `EdDSA`; absent: the tenant's
    /// default. (OpenID Connect Registration; not in Hydra's model, so shown only when set.)
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id_token_signed_response_alg: String,
    /// JWT access tokens' algorithm, as `id_token_signed_response_alg` (a Clavis extension).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access_token_signed_response_alg: String,
    pub frontchannel_logout_uri: String,
    pub frontchannel_logout_session_required: bool,
    pub backchannel_logout_uri: String,
    pub backchannel_logout_session_required: bool,
    /// JARM §3 and RFC 9701 §6: the algorithms of its JWT-secured authorization responses and
    /// signed introspection responses (not in Hydra's model, so shown only when set; RS256 if not).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub authorization_signed_response_alg: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub introspection_signed_response_alg: String,
    /// RFC 9396 §10 (not in Hydra's model, so shown only when set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_details_types: Vec<String>,
    /// RFC 9449 §5.2: only DPoP-bound access tokens (not in Hydra's model, so shown only when set).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2 and §3.4 (not in Hydra's model, so shown only when set).
    #[serde(flatten)]
    pub mtls: MtlsView,
    /// Free-form JSON, kept as given.
    #[schema(value_type = Value)]
    pub metadata: Value,
    pub skip_consent: bool,
    pub skip_logout_consent: bool,
    pub access_token_strategy: AccessTokenStrategy,
    pub created_at: String,
    pub updated_at: String,
    #[serde(flatten)]
    pub lifespans: HydraLifespans,
}

/// Per-grant token lifespans as Go durations (`"1h30m0s"`, from 1s to 8784h); absent:
/// the server's default.
#[derive(Serialize, Deserialize, Default, ToSchema)]
pub struct HydraLifespans {
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_code_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_code_grant_id_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization_code_grant_refresh_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_credentials_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_grant_id_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_grant_refresh_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    implicit_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    implicit_grant_id_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwt_bearer_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_grant_access_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_grant_id_token_lifespan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_grant_refresh_token_lifespan: Option<String>,
}

/// RFC 7591 §3.2.1's `client_secret_expires_at` is the server's to say: a body may repeat
/// the value shown (`shown`; 0 for a new client) but not set another. A secret gets an
/// expiry through the authms secrets API (`expires_at`) or a rotation's grace period.
pub fn check_secret_expires_at(body: &Map<String, Value>, shown: i64) -> Result<(), ClientMetadataError> {
    match body.get("client_secret_expires_at") {
        None | Some(Value::Null) => Ok(()),
        Some(v) if v.as_i64() == Some(0) || v.as_i64() == Some(shown) => Ok(()),
        Some(_) => Err(invalid(
            "client_secret_expires_at",
            "is set by the server (when the client's secret stops working); give a secret an expiry with POST /admin/oauth/clients/{id}/secrets",
        )),
    }
}

impl crate::Services {
    /// A client as Hydra shows it, with the expiry of its current secret.
    pub async fn hydra_view(&self, t: &TenantId, c: &Client) -> Result<HydraClient, clavis_store::StoreError> {
        Ok(HydraClient { client_secret_expires_at: self.secret_expires_at(t, &c.client_id).await?, ..view(c) })
    }
}

/// A client as Hydra shows it, without what lives beside the client (its secret's expiry:
/// see [`crate::Services::hydra_view`]).
pub fn view(c: &Client) -> HydraClient {
    let h = &c.extras.hydra;
    let jwks = if c.jwks.is_empty() { json!({}) } else { serde_json::from_str(&c.jwks).unwrap_or_else(|_| json!({})) };
    HydraClient {
        client_id: c.client_id.clone(),
        client_name: c.name.clone(),
        client_secret: None,
        client_secret_expires_at: 0,
        registration_client_uri: None,
        registration_access_token: None,
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.extras.post_logout_redirect_uris.clone(),
        grant_types: c.grant_types.iter().map(|g| g.as_str()).collect(),
        // Hydra's defaults for clients it never wrote (created through the authms API).
        response_types: if h.response_types.is_empty() { vec!["code".to_owned()] } else { h.response_types.clone() },
        scope: c.scopes.join(" "),
        audience: h.audience.clone(),
        owner: c.owner.clone(),
        policy_uri: c.privacy_policy.clone(),
        tos_uri: c.terms_url.clone(),
        client_uri: c.website.clone(),
        logo_uri: c.logo_url.clone(),
        allowed_cors_origins: h.allowed_cors_origins.clone(),
        contacts: h.contacts.clone(),
        subject_type: h.subject_type().into(),
        sector_identifier_uri: h.sector_identifier_uri.clone(),
        jwks,
        jwks_uri: c.jwks_uri.clone(),
        token_endpoint_auth_method: c.auth_methods.first().map(|m| m.as_str()).unwrap_or("client_secret_basic"),
        token_endpoint_auth_signing_alg: h.token_endpoint_auth_signing_alg.clone(),
        request_object_signing_alg: h.request_object_signing_alg.clone(),
        request_uris: h.request_uris.clone(),
        require_signed_request_object: h.require_signed_request_object,
        userinfo_signed_response_alg: h.userinfo_signed_response_alg.clone(),
        id_token_signed_response_alg: h.id_token_signed_response_alg.clone(),
        access_token_signed_response_alg: h.access_token_signed_response_alg.clone(),
        frontchannel_logout_uri: h.frontchannel_logout_uri.clone(),
        frontchannel_logout_session_required: h.frontchannel_logout_session_required,
        backchannel_logout_uri: h.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: h.backchannel_logout_session_required,
        authorization_signed_response_alg: h.authorization_signed_response_alg.clone(),
        introspection_signed_response_alg: h.introspection_signed_response_alg.clone(),
        authorization_details_types: h.authorization_details_types.clone(),
        dpop_bound_access_tokens: h.dpop_bound_access_tokens,
        mtls: MtlsView::from(&c.extras.mtls),
        metadata: if h.metadata.is_null() { json!({}) } else { h.metadata.clone() },
        skip_consent: h.skip_consent,
        skip_logout_consent: h.skip_logout_consent,
        access_token_strategy: c.extras.access_token_strategy,
        created_at: time::rfc3339(c.created_at),
        updated_at: time::rfc3339(c.updated_at),
        lifespans: serde_json::from_value(c.extras.lifespans.to_json()).unwrap_or_default(),
    }
}

/// A Hydra client body (create, replace, patch result, dynamic registration). Every field
/// is optional and `null` counts as absent; fields of the client's view that the server
/// manages (`created_at`, …) are ignored.
#[derive(Deserialize, Default, ToSchema)]
#[serde(default)]
pub struct HydraClientRequest {
    /// 1 to 128 printable ASCII characters without `/ ? # %` [default: generated]; on
    /// replace, if given, the client's own.
    client_id: Option<String>,
    client_name: Option<String>,
    /// 6 to 512 characters [default: generated, for confidential clients]; on replace, a
    /// new secret.
    client_secret: Option<String>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    /// [default: `authorization_code`]
    grant_types: Option<Vec<String>>,
    /// `code` or `code id_token` (the implicit types are refused) [default: `code`].
    response_types: Option<Vec<String>>,
    /// Space-separated scope tokens [default: `offline_access offline openid`].
    scope: Option<String>,
    audience: Option<Vec<String>>,
    /// At most 255 characters.
    owner: Option<String>,
    policy_uri: Option<String>,
    tos_uri: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    /// Origins like `https://app.example.com`.
    allowed_cors_origins: Option<Vec<String>>,
    contacts: Option<Vec<String>>,
    /// `public` (default) or `pairwise` (OpenID Connect Core §8.1).
    subject_type: Option<String>,
    /// For `pairwise`: an https URL of a JSON array listing every redirect URI; its host is
    /// the sector. Without it, the redirect URIs must share one host.
    sector_identifier_uri: Option<String>,
    /// A JSON Web Key Set of public keys.
    #[schema(value_type = Option<Object>)]
    jwks: Option<Map<String, Value>>,
    jwks_uri: Option<String>,
    /// [default: `client_secret_basic`]
    token_endpoint_auth_method: Option<String>,
    token_endpoint_auth_signing_alg: Option<String>,
    request_object_signing_alg: Option<String>,
    /// https URLs of request objects (`request_uri`), fragments ignored when matched.
    request_uris: Option<Vec<String>>,
    /// Authorization requests must be signed request objects (RFC 9101 §10.5) [default: false].
    require_signed_request_object: Option<bool>,
    /// `none` or empty: plain JSON; else `RS256`, `PS256`, `ES256` or `EdDSA`.
    userinfo_signed_response_alg: Option<String>,
    /// `RS256`, `PS256`, `ES256` or `EdDSA` [default: the tenant's, RS256 unless changed].
    id_token_signed_response_alg: Option<String>,
    /// For JWT access tokens, as `id_token_signed_response_alg` [default: the tenant's, ES256 unless changed].
    access_token_signed_response_alg: Option<String>,
    frontchannel_logout_uri: Option<String>,
    frontchannel_logout_session_required: Option<bool>,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: Option<bool>,
    /// JARM: `RS256`, `PS256`, `ES256` or `EdDSA` for `response_mode=jwt` responses [default: RS256].
    authorization_signed_response_alg: Option<String>,
    /// RFC 9701: the algorithm of signed introspection responses to it [default: RS256].
    introspection_signed_response_alg: Option<String>,
    /// RFC 9449 §5.2: every access token DPoP-bound; a token request without a proof is refused [default: false].
    dpop_bound_access_tokens: Option<bool>,
    /// RFC 9396: the `authorization_details` types the client may request.
    authorization_details_types: Option<Vec<String>>,
    /// RFC 8705 §2.1.2: for `tls_client_auth`, exactly one of the certificate's expected subject DN or SANs.
    tls_client_auth_subject_dn: Option<String>,
    tls_client_auth_san_dns: Option<String>,
    tls_client_auth_san_uri: Option<String>,
    tls_client_auth_san_ip: Option<String>,
    tls_client_auth_san_email: Option<String>,
    /// RFC 8705 §3.4: access tokens bound to the client's certificate [default: false].
    tls_client_certificate_bound_access_tokens: Option<bool>,
    /// Free-form JSON, kept as given.
    #[schema(value_type = Value)]
    metadata: Option<Value>,
    skip_consent: Option<bool>,
    skip_logout_consent: Option<bool>,
    /// `jwt` or `opaque` [default: `jwt`].
    access_token_strategy: Option<String>,
    #[serde(flatten)]
    lifespans: HydraLifespans,
}

impl HydraClientRequest {
    /// Reads a body; a field of the wrong type is `invalid_client_metadata` naming it.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ClientMetadataError> {
        serde_path_to_error::deserialize(Value::Object(body.clone())).map_err(|e| {
            let path = e.path().to_string();
            invalid(&path, &e.into_inner().to_string())
        })
    }
}

/// A client from a Hydra body. With `current` (PUT, PATCH) every Hydra field is replaced
/// — absent ones get Hydra's defaults — and the rest is kept. Returns the client and the
/// `client_secret` the body set, if any.
pub fn build(body: &Map<String, Value>, current: Option<&Client>, t: &TenantId) -> Result<(Client, Option<String>), ClientMetadataError> {
    let r = HydraClientRequest::parse(body)?;
    let mut c = match current {
        Some(c) => {
            if r.client_id.as_ref().is_some_and(|id| *id != c.client_id) {
                return Err(invalid("client_id", "cannot be changed"));
            }
            c.clone()
        }
        None => {
            let client_id = match r.client_id.filter(|s| !s.is_empty()) {
                Some(id) => {
                    if id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) || id.contains(['/', '?', '#', '%']) {
                        return Err(invalid("client_id", "must be 1 to 128 printable ASCII characters without / ? # %"));
                    }
                    id
                }
                None => clavis_core::ids::new_client_id(),
            };
            Client::blank(t.clone(), client_id)
        }
    };
    c.name = r.client_name.unwrap_or_default();
    c.redirect_uris = r.redirect_uris.unwrap_or_default();
    c.extras.post_logout_redirect_uris = r.post_logout_redirect_uris.unwrap_or_default();
    let grants = r.grant_types.filter(|g| !g.is_empty()).unwrap_or_else(|| vec!["authorization_code".into()]);
    c.grant_types = grants
        .iter()
        .map(|g| GrantType::parse(g).ok_or_else(|| invalid("grant_types", &format!("{g:?} is not supported"))))
        .collect::<Result<_, _>>()?;
    c.grant_types.dedup();
    let scope = r.scope.unwrap_or_else(|| DEFAULT_SCOPE.into());
    c.scopes = clavis_core::scope::parse_scope_param(&scope).ok_or_else(|| invalid("scope", "must be space-separated scope tokens"))?;
    let method_name = r.token_endpoint_auth_method.filter(|m| !m.is_empty()).unwrap_or_else(|| "client_secret_basic".into());
    let method = AuthMethod::parse(&method_name).ok_or_else(|| invalid("token_endpoint_auth_method", "is not supported"))?;
    // Hydra has one method; keep the authms list when its first entry is unchanged.
    if c.auth_methods.first() != Some(&method) {
        c.auth_methods = vec![method];
    }
    c.is_confidential = method != AuthMethod::None;
    if !c.is_confidential {
        c.fapi_profile = clavis_core::FapiProfile::None;
    }
    c.jwks = match r.jwks {
        Some(m) if m.get("keys").is_some_and(|k| !k.is_null()) => Value::Object(m).to_string(),
        _ => String::new(),
    };
    c.jwks_uri = r.jwks_uri.unwrap_or_default();
    c.logo_url = r.logo_uri.unwrap_or_default();
    c.privacy_policy = r.policy_uri.unwrap_or_default();
    c.terms_url = r.tos_uri.unwrap_or_default();
    c.website = r.client_uri.unwrap_or_default();
    c.owner = r.owner.unwrap_or_default();
    if c.owner.chars().count() > 255 {
        return Err(invalid("owner", "must be at most 255 characters"));
    }
    c.extras.access_token_strategy = match r.access_token_strategy.as_deref() {
        None | Some("") | Some("jwt") => AccessTokenStrategy::Jwt,
        Some("opaque") => AccessTokenStrategy::Opaque,
        Some(_) => return Err(invalid("access_token_strategy", "must be jwt or opaque")),
    };
    let mut lifespans = Lifespans::default();
    let given = match serde_json::to_value(&r.lifespans) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    lifespans.apply(&given, "lifespan")?;
    c.extras.lifespans = lifespans;

    let h = &mut c.extras.hydra;
    h.response_types = Vec::new();
    for rt in r.response_types.filter(|r| !r.is_empty()).unwrap_or_else(|| vec!["code".into()]) {
        let ok = rt.split(' ').all(|p| matches!(p, "code" | "token" | "id_token" | "none"));
        let normalized = normalize_response_type(&rt).filter(|_| ok);
        let Some(normalized) = normalized else {
            return Err(invalid("response_types", &format!("{rt:?} is not a response type")));
        };
        // Registration accepts only what the authorization endpoint does.
        if !RESPONSE_TYPES.contains(&normalized.as_str()) {
            return Err(invalid(
                "response_types",
                &format!("{rt:?} is not supported: only \"code\" and \"code id_token\" (implicit flows are refused, RFC 9700 §2.1.2)"),
            ));
        }
        if !h.response_types.contains(&normalized) {
            h.response_types.push(normalized);
        }
    }
    h.audience = r.audience.unwrap_or_default();
    h.allowed_cors_origins = r.allowed_cors_origins.unwrap_or_default();
    for o in &h.allowed_cors_origins {
        let ok = url::Url::parse(o).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == *o);
        if !ok {
            return Err(invalid("allowed_cors_origins", &format!("{o:?} is not an origin like https://app.example.com")));
        }
    }
    h.contacts = r.contacts.unwrap_or_default();
    h.metadata = r.metadata.unwrap_or(Value::Null);
    if json_patch::json_size(&h.metadata, MAX_METADATA_BYTES) > MAX_METADATA_BYTES {
        return Err(invalid("metadata", "must be at most 64 KiB as JSON"));
    }
    h.skip_consent = r.skip_consent.unwrap_or(false);
    h.skip_logout_consent = r.skip_logout_consent.unwrap_or(false);
    h.subject_type = r.subject_type.filter(|s| !s.is_empty()).unwrap_or_else(|| "public".into());
    h.sector_identifier_uri = r.sector_identifier_uri.unwrap_or_default();
    h.request_uris = r.request_uris.unwrap_or_default();
    h.request_object_signing_alg = r.request_object_signing_alg.unwrap_or_default();
    h.require_signed_request_object = r.require_signed_request_object.unwrap_or(false);
    h.token_endpoint_auth_signing_alg = r.token_endpoint_auth_signing_alg.unwrap_or_default();
    h.userinfo_signed_response_alg = r.userinfo_signed_response_alg.unwrap_or_default();
    h.id_token_signed_response_alg = r.id_token_signed_response_alg.unwrap_or_default();
    h.access_token_signed_response_alg = r.access_token_signed_response_alg.unwrap_or_default();
    h.frontchannel_logout_uri = r.frontchannel_logout_uri.unwrap_or_default();
    h.frontchannel_logout_session_required = r.frontchannel_logout_session_required.unwrap_or(false);
    h.backchannel_logout_uri = r.backchannel_logout_uri.unwrap_or_default();
    h.backchannel_logout_session_required = r.backchannel_logout_session_required.unwrap_or(false);
    h.dpop_bound_access_tokens = r.dpop_bound_access_tokens.unwrap_or(false);
    h.authorization_details_types = r.authorization_details_types.unwrap_or_default();
    c.extras.mtls = clavis_core::MtlsMetadata {
        tls_client_auth_subject_dn: r.tls_client_auth_subject_dn.unwrap_or_default(),
        tls_client_auth_san_dns: r.tls_client_auth_san_dns.unwrap_or_default(),
        tls_client_auth_san_uri: r.tls_client_auth_san_uri.unwrap_or_default(),
        tls_client_auth_san_ip: r.tls_client_auth_san_ip.unwrap_or_default(),
        tls_client_auth_san_email: r.tls_client_auth_san_email.unwrap_or_default(),
        tls_client_certificate_bound_access_tokens: r.tls_client_certificate_bound_access_tokens.unwrap_or(false),
    };
    h.authorization_signed_response_alg = r.authorization_signed_response_alg.unwrap_or_default();
    h.introspection_signed_response_alg = r.introspection_signed_response_alg.unwrap_or_default();

    let secret = r.client_secret.filter(|s| !s.is_empty());
    if let Some(s) = &secret {
        let n = s.chars().count();
        if !(clavis_core::secret::MIN_SUPPLIED_LEN..=clavis_core::secret::MAX_SUPPLIED_LEN).contains(&n) {
            return Err(invalid("client_secret", "must be 6 to 512 characters"));
        }
    }
    c.validate()?;
    Ok((c, secret))
}

/// A client's view with the secret the answer shows (once).
pub fn with_secret(c: &Client, secret: Option<String>) -> HydraClient {
    HydraClient { client_secret: secret, ..view(c) }
}

/// RFC 6902 JSON Patch over the client as Hydra shows it, then applied as a body (a
/// `replace /client_secret` rotates the secret). The patched document may be at most
/// `max_bytes` large, as a body could be.
pub fn patch(current: &Client, ops: &[Operation], max_bytes: usize) -> Result<(Client, Option<String>), ClientMetadataError> {
    for op in ops {
        for path in std::iter::once(&op.path).chain(op.from.as_ref()) {
            if SERVER_MANAGED.iter().any(|m| path == m || path.starts_with(&format!("{m}/"))) {
                return Err(ClientMetadataError::Request(format!("{path} is managed by the server and cannot be patched")));
            }
        }
    }
    // As in Hydra, the patched document has a `client_secret` (empty: "keep the secret"),
    // so that `replace /client_secret` rotates it.
    let doc = serde_json::to_value(HydraClient { client_secret: Some(String::new()), ..view(current) })
        .expect("a client view serializes (string keys only)");
    let patched = json_patch::apply(&doc, ops, max_bytes).map_err(|e| ClientMetadataError::Request(e.to_string()))?;
    match patched {
        Value::Object(body) => build(&body, Some(current), &current.tenant_id),
        _ => Err(ClientMetadataError::Request("the body must be a JSON object".into())),
    }
}

/// All lifespans at once (absent ones unset): a body of `*_lifespan` fields only.
pub fn lifespans(body: &Map<String, Value>) -> Result<Lifespans, ClientMetadataError> {
    if let Some(k) = body.keys().find(|k| !k.ends_with("_lifespan")) {
        return Err(invalid(k, "is not a lifespan"));
    }
    let mut lifespans = Lifespans::default();
    lifespans.apply(body, "lifespan")?;
    Ok(lifespans)
}

#[cfg(test)]
pub(crate) mod tests {
    use clavis_core::json_patch::Operation;
    use serde_json::json;

    use super::*;

    /// A `json!` object as a request body (also the DCR tests').
    pub(crate) fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test bodies are objects"),
        }
    }

    fn tenant() -> TenantId {
        TenantId::default_tenant()
    }

    fn ops(v: Value) -> Vec<Operation> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_empty_body_gets_hydras_defaults() {
        let (c, secret) = build(&Map::new(), None, &tenant()).unwrap();
        assert!(!c.client_id.is_empty(), "an id is generated");
        assert_eq!(c.grant_types, vec![GrantType::AuthorizationCode]);
        assert_eq!(c.scopes.join(" "), DEFAULT_SCOPE);
        assert_eq!(c.auth_methods, vec![AuthMethod::ClientSecretBasic]);
        assert!(c.is_confidential);
        assert_eq!(c.extras.hydra.response_types, vec!["code".to_owned()]);
        assert_eq!(c.extras.hydra.subject_type, "public");
        assert_eq!(secret, None, "the registry generates the secret");
        let v = view(&c);
        assert_eq!((v.token_endpoint_auth_method, v.scope.as_str(), v.jwks), ("client_secret_basic", DEFAULT_SCOPE, json!({})));
    }

    #[test]
    fn refusals_name_the_field() {
        let refused = |b: Value| build(&body(b), None, &tenant()).unwrap_err();
        let field = |e: ClientMetadataError| match e {
            ClientMetadataError::Field { field, .. } => field,
            other => panic!("not a field error: {other:?}"),
        };
        assert_eq!(field(refused(json!({"redirect_uris": "https://a.example/cb"}))), "redirect_uris", "wrong type");
        assert_eq!(field(refused(json!({"client_id": "a/b"}))), "client_id");
        assert_eq!(field(refused(json!({"grant_types": ["password"]}))), "grant_types");
        assert_eq!(field(refused(json!({"client_secret": "short"}))), "client_secret");
        assert_eq!(field(refused(json!({"subject_type": "ephemeral"}))), "subject_type");
        let two_hosts = json!({"subject_type": "pairwise", "redirect_uris": ["https://a.example/cb", "https://b.example/cb"]});
        assert_eq!(field(refused(two_hosts)), "sector_identifier_uri");
        assert_eq!(field(refused(json!({"sector_identifier_uri": "https://a.example/s.json"}))), "sector_identifier_uri", "public");
        assert_eq!(field(refused(json!({"allowed_cors_origins": ["https://a.example/path"]}))), "allowed_cors_origins");
        assert_eq!(field(refused(json!({"access_token_strategy": "magic"}))), "access_token_strategy");
        let e = refused(json!({"response_types": ["code bogus"]}));
        assert_eq!(e.to_string(), "response_types: \"code bogus\" is not a response type");
        for implicit in ["token", "id_token", "id_token token", "code id_token token", "code token", "none"] {
            let e = refused(json!({"response_types": ["code", implicit]}));
            assert!(e.to_string().contains("is not supported"), "{implicit}: {e}");
        }
        let big = "x".repeat(MAX_METADATA_BYTES);
        assert_eq!(field(refused(json!({"metadata": {"k": big}}))), "metadata");
    }

    #[test]
    fn a_body_over_a_client_replaces_hydras_fields_and_keeps_the_rest() {
        let given = json!({"client_name": "A", "client_secret": "a-secret-of-ours", "scope": "openid", "owner": "team"});
        let (mut current, secret) = build(&body(given), None, &tenant()).unwrap();
        assert_eq!(secret.as_deref(), Some("a-secret-of-ours"));
        current.auth_methods = vec![AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost];
        let (next, secret) = build(&body(json!({"client_id": current.client_id, "client_name": "B"})), Some(&current), &tenant()).unwrap();
        assert_eq!((next.name.as_str(), next.owner.as_str(), secret), ("B", "", None), "absent Hydra fields get defaults");
        assert_eq!(next.scopes.join(" "), DEFAULT_SCOPE);
        assert_eq!(next.auth_methods.len(), 2, "the authms methods stay while the first one is unchanged");
        let e = build(&body(json!({"client_id": "another"})), Some(&current), &tenant()).unwrap_err();
        assert_eq!(e, ClientMetadataError::field("client_id", "cannot be changed"));
        let (public, _) = build(&body(json!({"token_endpoint_auth_method": "none"})), Some(&current), &tenant()).unwrap();
        assert!(!public.is_confidential);
        assert_eq!(public.auth_methods, vec![AuthMethod::None]);
    }

    #[test]
    fn patches_apply_to_the_view_and_spare_server_fields() {
        let (current, _) = build(&body(json!({"client_name": "A"})), None, &tenant()).unwrap();
        let (next, secret) = patch(&current, &ops(json!([{"op": "replace", "path": "/client_name", "value": "B"}])), 1 << 20).unwrap();
        assert_eq!((next.name.as_str(), secret), ("B", None), "the empty client_secret of the document keeps the secret");
        let rotate = ops(json!([{"op": "replace", "path": "/client_secret", "value": "a-new-secret"}]));
        assert_eq!(patch(&current, &rotate, 1 << 20).unwrap().1.as_deref(), Some("a-new-secret"));
        for path in ["/client_id", "/created_at", "/registration_access_token/x"] {
            let e = patch(&current, &ops(json!([{"op": "remove", "path": path}])), 1 << 20).unwrap_err();
            assert_eq!(e, ClientMetadataError::Request(format!("{path} is managed by the server and cannot be patched")));
        }
        let moved = ops(json!([{"op": "copy", "from": "/updated_at", "path": "/client_name"}]));
        assert!(matches!(patch(&current, &moved, 1 << 20), Err(ClientMetadataError::Request(_))), "from counts too");
        let whole = ops(json!([{"op": "replace", "path": "", "value": 1}]));
        assert_eq!(patch(&current, &whole, 1 << 20).unwrap_err(), ClientMetadataError::Request("the body must be a JSON object".into()));
        let grow = ops(json!([{"op": "add", "path": "/metadata/k", "value": "x".repeat(2048)}]));
        assert!(matches!(patch(&current, &grow, 1024), Err(ClientMetadataError::Request(_))), "bounded document");
    }

    #[test]
    fn lifespans_take_lifespan_fields_only() {
        let l = lifespans(&body(json!({"client_credentials_grant_access_token_lifespan": "1h0m0s"}))).unwrap();
        assert_eq!(l.to_json()["client_credentials_grant_access_token_lifespan"], "1h0m0s");
        assert_eq!(lifespans(&body(json!({"scope": "x"}))).unwrap_err(), ClientMetadataError::field("scope", "is not a lifespan"));
        assert!(matches!(lifespans(&body(json!({"implicit_grant_id_token_lifespan": "soon"}))), Err(ClientMetadataError::Field { .. })));
    }
}

/// The mutual-TLS fields of a Hydra client, each shown only when set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MtlsView {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls_client_auth_subject_dn: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls_client_auth_san_dns: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls_client_auth_san_uri: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls_client_auth_san_ip: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls_client_auth_san_email: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
}

impl From<&clavis_core::MtlsMetadata> for MtlsView {
    fn from(m: &clavis_core::MtlsMetadata) -> Self {
        Self {
            tls_client_auth_subject_dn: m.tls_client_auth_subject_dn.clone(),
            tls_client_auth_san_dns: m.tls_client_auth_san_dns.clone(),
            tls_client_auth_san_uri: m.tls_client_auth_san_uri.clone(),
            tls_client_auth_san_ip: m.tls_client_auth_san_ip.clone(),
            tls_client_auth_san_email: m.tls_client_auth_san_email.clone(),
            tls_client_certificate_bound_access_tokens: m.tls_client_certificate_bound_access_tokens,
        }
    }
}
