//! The OAuth client: its fields, the rules that make a client valid, and how an input
//! (create or partial update) is applied to one.

use serde::Deserialize;
use url::Url;

use crate::client_extras::{AccessTokenStrategy, ClientExtras};
use crate::scope::is_valid_scope_token;
use crate::{TenantId, ValidationError};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

string_enum!(
    /// A grant type a client may be registered for.
    GrantType {
        AuthorizationCode = "authorization_code",
        ClientCredentials = "client_credentials",
        RefreshToken = "refresh_token",
        DeviceCode = "urn:ietf:params:oauth:grant-type:device_code",
        TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange",
        JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer",
    }
);

string_enum!(
    /// A token endpoint authentication method (RFC 7591 names).
    AuthMethod {
        ClientSecretBasic = "client_secret_basic",
        ClientSecretPost = "client_secret_post",
        ClientSecretJwt = "client_secret_jwt",
        PrivateKeyJwt = "private_key_jwt",
        TlsClientAuth = "tls_client_auth",
        SelfSignedTlsClientAuth = "self_signed_tls_client_auth",
        None = "none",
    }
);

string_enum!(
    ClientStatus { Active = "active", Suspended = "suspended" }
);

string_enum!(
    FapiProfile { None = "", Fapi1 = "fapi1", Fapi2 = "fapi2" }
);

impl FapiProfile {
    /// The JWS algorithms the profile allows (FAPI 1.0 Advanced §8.6: PS256 and ES256;
    /// FAPI 2.0 Security Profile §5.4: PS256, ES256 and EdDSA over Ed25519); every
    /// algorithm without a profile.
    pub fn allows_alg(self, alg: &str) -> bool {
        match self {
            FapiProfile::None => true,
            FapiProfile::Fapi1 => matches!(alg, "PS256" | "ES256"),
            FapiProfile::Fapi2 => matches!(alg, "PS256" | "ES256" | "EdDSA" | "Ed25519"),
        }
    }

    /// What the server signs with for such a client when it chose no algorithm (instead
    /// of the RS256 default, which neither profile allows).
    pub fn default_alg(self) -> Option<crate::jose::Alg> {
        (self != FapiProfile::None).then_some(crate::jose::Alg::Ps256)
    }
}

impl AuthMethod {
    /// Methods that authenticate with a shared secret, which a confidential client is issued.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt)
    }
}

/// A registered client, as stored. Secrets live apart (see `secret` and the store).
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    /// Internal ULID.
    pub id: String,
    pub tenant_id: TenantId,
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub auth_methods: Vec<AuthMethod>,
    pub is_confidential: bool,
    /// A JWK Set as JSON text, or empty.
    pub jwks: String,
    pub jwks_uri: String,
    pub fapi_profile: FapiProfile,
    pub logo_url: String,
    pub privacy_policy: String,
    pub terms_url: String,
    pub website: String,
    /// Derived from `redirect_uris` on every write; never set directly.
    pub cors_origins: Vec<String>,
    pub secret_last_four: String,
    pub status: ClientStatus,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    /// Hydra's `owner` (filterable, so a column of its own).
    pub owner: String,
    /// Settings beyond the seed fields (see `client_extras`).
    pub extras: ClientExtras,
}

/// The writable fields of a client, as the authms API's create and update bodies carry
/// them. `None` means "not given": on update the field keeps its value.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ClientInput {
    /// Required on create: 1 to 255 printable characters (trimmed).
    #[schema(max_length = 255)]
    pub name: Option<String>,
    /// Required on create: 1 to 100 absolute URIs of at most 2000 characters, without
    /// fragment or credentials: `https`, `http` on loopback hosts, or a private-use scheme
    /// such as `com.example.app:/cb` (only `https` with a FAPI profile).
    #[schema(max_items = 100)]
    pub redirect_uris: Option<Vec<String>>,
    /// Any of `client_secret_basic`, `client_secret_post`, `client_secret_jwt`,
    /// `private_key_jwt`, `tls_client_auth`, `none` [default: `client_secret_basic`, or
    /// `none` for a public client].
    pub client_auth_methods: Option<Vec<String>>,
    /// `""`, `fapi1` or `fapi2`.
    pub fapi_profile: Option<String>,
    /// Any of `authorization_code`, `client_credentials`, `refresh_token`,
    /// `urn:ietf:params:oauth:grant-type:device_code`,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` and
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (both for confidential clients) [default:
    /// `authorization_code`, `refresh_token`].
    pub grant_types: Option<Vec<String>>,
    /// Confidential clients get a secret [default: true].
    pub is_confidential: Option<bool>,
    /// A JSON Web Key Set (as a string) of public keys, for `private_key_jwt`; at most 64 KiB.
    pub jwks: Option<String>,
    /// An `https` URL of the client's JWKS (exclusive with `jwks`).
    pub jwks_uri: Option<String>,
    /// An `http(s)` URL or empty; at most 2000 characters.
    pub logo_url: Option<String>,
    /// An `http(s)` URL or empty.
    pub privacy_policy: Option<String>,
    /// Scope tokens (RFC 6749 §3.3 characters) [default: `openid`].
    #[schema(max_items = 100)]
    pub scopes: Option<Vec<String>>,
    /// An `http(s)` URL or empty.
    pub terms_url: Option<String>,
    /// An `http(s)` URL or empty.
    pub website: Option<String>,
    /// Update only: `active` or `suspended`.
    pub status: Option<String>,
    /// Clavis extension: where RP-initiated logout may return to (rules as `redirect_uris`).
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Clavis extension: `jwt` (default) or `opaque`.
    pub access_token_strategy: Option<String>,
    /// Clavis extension: per-grant token lifespans with Hydra's names and Go durations,
    /// e.g. `{"client_credentials_grant_access_token": "30m"}`; at most one year.
    #[schema(value_type = Option<Object>)]
    pub token_lifespans: Option<serde_json::Map<String, serde_json::Value>>,
    /// Clavis extension: may introspect every token of the tenant, whatever the tenant's
    /// `introspection` policy (a resource server) [default: false]. Confidential clients only.
    pub introspector: Option<bool>,
    /// Clavis extension: mutual TLS (RFC 8705) metadata — the certificate `tls_client_auth`
    /// expects (exactly one of `tls_client_auth_subject_dn`, `…_san_dns`, `…_san_uri`,
    /// `…_san_ip`, `…_san_email`) and `tls_client_certificate_bound_access_tokens`.
    pub mtls: Option<crate::MtlsMetadata>,
}

impl ClientInput {
    /// Names of the fields this input sets (for the audit log of a create).
    pub fn present_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        macro_rules! present {
            ($($field:ident),+) => { $( if self.$field.is_some() { out.push(stringify!($field)); } )+ };
        }
        present!(
            name,
            redirect_uris,
            client_auth_methods,
            fapi_profile,
            grant_types,
            is_confidential,
            jwks,
            jwks_uri,
            logo_url,
            privacy_policy,
            scopes,
            terms_url,
            website,
            status,
            post_logout_redirect_uris,
            access_token_strategy,
            token_lifespans,
            introspector,
            mtls
        );
        out
    }
}

pub const MAX_LIST_ITEMS: usize = 100;
const MAX_URL_LEN: usize = 2000;
const MAX_JWKS_LEN: usize = 64 * 1024;

impl Client {
    /// A new client from a create request: `name` and `redirect_uris` are required; the
    /// rest default (confidential, `client_secret_basic`, `authorization_code` +
    /// `refresh_token`, scope `openid`).
    pub fn create(tenant_id: TenantId, id: String, client_id: String, input: &ClientInput, now: i64) -> Result<Self, ValidationError> {
        if input.name.is_none() {
            return Err(ValidationError::new("name", "is required"));
        }
        if input.redirect_uris.is_none() {
            return Err(ValidationError::new("redirect_uris", "is required"));
        }
        if input.status.is_some() {
            return Err(ValidationError::new("status", "cannot be set on create; a new client is active"));
        }
        let mut client = Client {
            id,
            scopes: vec!["openid".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            created_at: now,
            updated_at: now,
            ..Client::blank(tenant_id, client_id)
        };
        client.apply(input)?;
        Ok(client)
    }

    /// A confidential, active client with nothing set: the starting point of the builders
    /// of each API surface, which fill in their own defaults.
    pub fn blank(tenant_id: TenantId, client_id: String) -> Self {
        Client {
            id: String::new(),
            tenant_id,
            client_id,
            name: String::new(),
            redirect_uris: vec![],
            scopes: vec![],
            grant_types: vec![],
            auth_methods: vec![],
            is_confidential: true,
            jwks: String::new(),
            jwks_uri: String::new(),
            fapi_profile: FapiProfile::None,
            logo_url: String::new(),
            privacy_policy: String::new(),
            terms_url: String::new(),
            website: String::new(),
            cors_origins: vec![],
            secret_last_four: String::new(),
            status: ClientStatus::Active,
            created_at: 0,
            updated_at: 0,
            deleted_at: None,
            owner: String::new(),
            extras: ClientExtras::default(),
        }
    }

    /// Applies the fields present in `input`, then checks the whole client. Returns the
    /// names of the fields whose value changed (for the audit log).
    pub fn apply(&mut self, input: &ClientInput) -> Result<Vec<&'static str>, ValidationError> {
        let before = self.clone();
        if let Some(v) = &input.name {
            // The authms API requires a name; Hydra's (which builds clients directly) does not.
            if v.trim().is_empty() {
                return Err(ValidationError::new("name", "must be 1 to 255 printable characters"));
            }
            self.name = v.trim().to_owned();
        }
        if let Some(v) = &input.redirect_uris {
            if v.is_empty() {
                return Err(ValidationError::new("redirect_uris", "must contain at least one URI"));
            }
            self.redirect_uris = v.clone();
        }
        if let Some(v) = &input.scopes {
            self.scopes = dedupe(v);
        }
        if let Some(v) = &input.grant_types {
            self.grant_types = parse_list(v, "grant_types", GrantType::parse, GrantType::ALL, GrantType::as_str)?;
        }
        if let Some(v) = input.is_confidential {
            self.is_confidential = v;
        }
        if let Some(v) = &input.client_auth_methods {
            self.auth_methods = parse_list(v, "client_auth_methods", AuthMethod::parse, AuthMethod::ALL, AuthMethod::as_str)?;
        } else if !self.is_confidential {
            self.auth_methods = vec![AuthMethod::None];
        } else if self.auth_methods.is_empty() || self.auth_methods == [AuthMethod::None] {
            self.auth_methods = vec![AuthMethod::ClientSecretBasic];
        }
        if let Some(v) = &input.fapi_profile {
            self.fapi_profile =
                FapiProfile::parse(v).ok_or_else(|| ValidationError::new("fapi_profile", "must be one of \"\", \"fapi1\", \"fapi2\""))?;
        }
        if let Some(v) = &input.jwks {
            self.jwks = v.trim().to_owned();
        }
        if let Some(v) = &input.jwks_uri {
            self.jwks_uri = v.trim().to_owned();
        }
        for (field, value, target) in [
            ("logo_url", &input.logo_url, &mut self.logo_url),
            ("privacy_policy", &input.privacy_policy, &mut self.privacy_policy),
            ("terms_url", &input.terms_url, &mut self.terms_url),
            ("website", &input.website, &mut self.website),
        ] {
            if let Some(v) = value {
                let v = v.trim();
                if !v.is_empty() {
                    check_web_url(field, v)?;
                }
                *target = v.to_owned();
            }
        }
        if let Some(v) = &input.status {
            self.status = ClientStatus::parse(v).ok_or_else(|| ValidationError::new("status", "must be \"active\" or \"suspended\""))?;
        }
        if let Some(v) = &input.post_logout_redirect_uris {
            self.extras.post_logout_redirect_uris = v.clone();
        }
        if let Some(v) = &input.access_token_strategy {
            self.extras.access_token_strategy = match v.as_str() {
                "jwt" => AccessTokenStrategy::Jwt,
                "opaque" => AccessTokenStrategy::Opaque,
                _ => return Err(ValidationError::new("access_token_strategy", "must be \"jwt\" or \"opaque\"")),
            };
        }
        if let Some(v) = &input.token_lifespans {
            self.extras.lifespans.apply(v, "token_lifespans")?;
        }
        if let Some(v) = input.introspector {
            self.extras.introspector = v;
        }
        if let Some(v) = &input.mtls {
            self.extras.mtls = v.clone();
        }
        self.validate()?;
        self.derive_cors_origins();
        Ok(self.changed_fields(&before))
    }

    /// A FAPI profile's algorithm limits on every algorithm the client chose.
    fn check_fapi_algorithms(&self) -> Result<(), ValidationError> {
        let h = &self.extras.hydra;
        let p = self.fapi_profile;
        for (field, alg) in [
            ("id_token_signed_response_alg", &h.id_token_signed_response_alg),
            ("userinfo_signed_response_alg", &h.userinfo_signed_response_alg),
            ("authorization_signed_response_alg", &h.authorization_signed_response_alg),
            ("introspection_signed_response_alg", &h.introspection_signed_response_alg),
            ("access_token_signed_response_alg", &h.access_token_signed_response_alg),
            ("request_object_signing_alg", &h.request_object_signing_alg),
            ("token_endpoint_auth_signing_alg", &h.token_endpoint_auth_signing_alg),
        ] {
            if !alg.is_empty() && !p.allows_alg(alg) {
                let allowed = if p == FapiProfile::Fapi1 { "PS256 or ES256" } else { "PS256, ES256 or EdDSA" };
                return Err(ValidationError::new(field, format!("{alg} is not allowed with fapi_profile {} ({allowed})", p.as_str())));
            }
        }
        Ok(())
    }

    /// The rules of DESIGN.md that span several fields.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.name.chars().count() > 255 || self.name.chars().any(char::is_control) {
            return Err(ValidationError::new("name", "must be at most 255 printable characters"));
        }
        if self.redirect_uris.len() > MAX_LIST_ITEMS {
            return Err(ValidationError::new("redirect_uris", format!("at most {MAX_LIST_ITEMS} URIs")));
        }
        let fapi = self.fapi_profile != FapiProfile::None;
        for (i, uri) in self.redirect_uris.iter().enumerate() {
            check_redirect_uri(uri, fapi).map_err(|m| ValidationError::new(format!("redirect_uris[{i}]"), m))?;
        }
        let logout_uris = &self.extras.post_logout_redirect_uris;
        if logout_uris.len() > MAX_LIST_ITEMS {
            return Err(ValidationError::new("post_logout_redirect_uris", format!("at most {MAX_LIST_ITEMS} URIs")));
        }
        for (i, uri) in logout_uris.iter().enumerate() {
            check_redirect_uri(uri, fapi).map_err(|m| ValidationError::new(format!("post_logout_redirect_uris[{i}]"), m))?;
        }
        if self.scopes.len() > MAX_LIST_ITEMS {
            return Err(ValidationError::new("scopes", format!("at most {MAX_LIST_ITEMS} scopes")));
        }
        if let Some((i, _)) = self.scopes.iter().enumerate().find(|(_, s)| !is_valid_scope_token(s)) {
            return Err(ValidationError::new(format!("scopes[{i}]"), "must be 1 to 128 characters, without spaces, quotes or backslashes"));
        }
        let has_method = |m: AuthMethod| self.auth_methods.contains(&m);
        let has_grant = |g: GrantType| self.grant_types.contains(&g);
        if self.is_confidential {
            if has_method(AuthMethod::None) {
                return Err(ValidationError::new("client_auth_methods", "\"none\" is only for public clients (is_confidential=false)"));
            }
        } else {
            if self.auth_methods != [AuthMethod::None] {
                return Err(ValidationError::new("client_auth_methods", "a public client must use [\"none\"]"));
            }
            if has_grant(GrantType::ClientCredentials) {
                return Err(ValidationError::new("grant_types", "client_credentials needs a confidential client"));
            }
            if has_grant(GrantType::JwtBearer) {
                return Err(ValidationError::new("grant_types", "the jwt-bearer grant needs a confidential client"));
            }
            if has_grant(GrantType::TokenExchange) {
                return Err(ValidationError::new("grant_types", "token exchange needs a confidential client"));
            }
            if self.extras.introspector {
                return Err(ValidationError::new("introspector", "public clients cannot introspect"));
            }
        }
        if !self.jwks.is_empty() && !self.jwks_uri.is_empty() {
            return Err(ValidationError::new("jwks", "jwks and jwks_uri are mutually exclusive"));
        }
        if !self.jwks.is_empty() {
            check_jwks(&self.jwks)?;
        }
        if !self.jwks_uri.is_empty() {
            check_jwks_uri(&self.jwks_uri)?;
        }
        if has_method(AuthMethod::PrivateKeyJwt) && self.jwks.is_empty() && self.jwks_uri.is_empty() {
            return Err(ValidationError::new("jwks", "private_key_jwt needs jwks or jwks_uri"));
        }
        self.extras.hydra.check_algorithms(&self.auth_methods)?;
        let h = &self.extras.hydra;
        check_subject_type(h, &self.redirect_uris)?;
        if h.request_uris.len() > MAX_LIST_ITEMS {
            return Err(ValidationError::new("request_uris", format!("at most {MAX_LIST_ITEMS} entries")));
        }
        for uri in &h.request_uris {
            check_request_uri(uri)?;
        }
        check_logout_uris(h, &self.redirect_uris)?;
        if h.require_signed_request_object {
            if h.request_object_signing_alg == "none" {
                return Err(ValidationError::new("require_signed_request_object", "contradicts request_object_signing_alg \"none\""));
            }
            if self.jwks.is_empty() && self.jwks_uri.is_empty() {
                return Err(ValidationError::new("require_signed_request_object", "needs the client's keys (jwks or jwks_uri)"));
            }
        }
        self.extras.mtls.check(&self.auth_methods, !self.jwks.is_empty() || !self.jwks_uri.is_empty())?;
        if fapi {
            self.check_fapi_algorithms()?;
            if self.fapi_profile == FapiProfile::Fapi2 && self.extras.hydra.response_types.iter().any(|t| t != "code") {
                return Err(ValidationError::new("response_types", "fapi2 allows response_type code only (FAPI 2.0 §5.3.2.2)"));
            }
            if !self.is_confidential {
                return Err(ValidationError::new("fapi_profile", "FAPI clients must be confidential"));
            }
            let allowed = |m: &AuthMethod| matches!(m, AuthMethod::PrivateKeyJwt | AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth);
            if let Some(m) = self.auth_methods.iter().find(|m| !allowed(m)) {
                return Err(ValidationError::new(
                    "client_auth_methods",
                    format!(
                        "{} is not allowed with a FAPI profile (private_key_jwt, tls_client_auth or self_signed_tls_client_auth only)",
                        m.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// `cors_origins`: the origins of the redirect URIs, plus Hydra's explicit
    /// `allowed_cors_origins`.
    pub fn derive_cors_origins(&mut self) {
        let mut origins = cors_origins(&self.redirect_uris);
        for o in &self.extras.hydra.allowed_cors_origins {
            if !origins.contains(o) {
                origins.push(o.clone());
            }
        }
        self.cors_origins = origins;
    }

    /// Whether this client holds shared secrets (and so is issued one).
    pub fn needs_secret(&self) -> bool {
        self.is_confidential && self.auth_methods.iter().any(|m| m.uses_secret())
    }

    /// The names of the fields that differ from `before` (for the audit log).
    pub fn changed_fields(&self, before: &Client) -> Vec<&'static str> {
        let mut out = Vec::new();
        macro_rules! cmp {
            ($($field:ident => $name:literal),+) => { $( if self.$field != before.$field { out.push($name); } )+ };
        }
        cmp!(name => "name", redirect_uris => "redirect_uris", scopes => "scopes", grant_types => "grant_types",
             auth_methods => "client_auth_methods", is_confidential => "is_confidential", jwks => "jwks",
             jwks_uri => "jwks_uri", fapi_profile => "fapi_profile", logo_url => "logo_url",
             privacy_policy => "privacy_policy", terms_url => "terms_url", website => "website",
             status => "status");
        if self.extras.post_logout_redirect_uris != before.extras.post_logout_redirect_uris {
            out.push("post_logout_redirect_uris");
        }
        if self.extras.access_token_strategy != before.extras.access_token_strategy {
            out.push("access_token_strategy");
        }
        if self.extras.lifespans != before.extras.lifespans {
            out.push("token_lifespans");
        }
        if self.extras.mtls != before.extras.mtls {
            out.push("mtls");
        }
        if self.extras.introspector != before.extras.introspector {
            out.push("introspector");
        }
        out
    }
}

pub(crate) fn dedupe(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

fn parse_list<T: PartialEq + Copy>(
    raw: &[String],
    field: &str,
    parse: fn(&str) -> Option<T>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>, ValidationError> {
    if raw.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    let mut out = Vec::with_capacity(raw.len());
    for (i, s) in raw.iter().enumerate() {
        let v = parse(s).ok_or_else(|| {
            let allowed: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            ValidationError::new(format!("{field}[{i}]"), format!("unknown value; allowed: {}", allowed.join(", ")))
        })?;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether an authorization request's `redirect_uri` is the registered one: the same
/// string (RFC 6749 §3.1.2.3, simple string comparison), or, for an `http` loopback URI
/// (`127.0.0.1`, `[::1]`, `localhost`), the same but for the port. A native app listens on
/// whatever port the system gives it (RFC 8252 §7.3).
pub fn redirect_uri_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    // Before any parsing (this runs for every registered URI of an unauthenticated
    // request): only loopback http can match otherwise, and never a longer URI than
    // registration allows.
    let http = |u: &str| u.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("http://"));
    if requested.len() > MAX_URL_LEN || !http(registered) || !http(requested) {
        return false;
    }
    let (Ok(r), Ok(q)) = (Url::parse(registered), Url::parse(requested)) else { return false };
    r.scheme() == "http"
        && q.scheme() == "http"
        && is_loopback_host(&r)
        && r.host() == q.host()
        && r.path() == q.path()
        && r.query() == q.query()
        && q.username().is_empty()
        && q.password().is_none()
        && q.fragment().is_none()
        && !requested.contains('#')
}

/// RFC 6749 §3.1.2 and RFC 8252: absolute, no fragment, no credentials; `https`, or
/// `http` on a loopback host, or a private-use scheme with a dot (`com.example.app:/cb`).
pub fn check_redirect_uri(uri: &str, https_only: bool) -> Result<(), String> {
    if uri.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let url = Url::parse(uri).map_err(|_| "must be an absolute URI".to_owned())?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err("must not contain a fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".into());
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if !https_only && is_loopback_host(&url) => Ok(()),
        "http" if https_only => Err("must use https with a FAPI profile".into()),
        "http" => Err("http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1]); use https".into()),
        "https" => Err("must have a host".into()),
        _ if https_only => Err("must use https with a FAPI profile".into()),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err("must use https, loopback http, or a private-use scheme such as com.example.app".into()),
    }
}

fn check_web_url(field: &str, v: &str) -> Result<(), ValidationError> {
    let ok = v.len() <= MAX_URL_LEN && Url::parse(v).map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some()).unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(field, "must be an absolute http(s) URL"))
    }
}

fn check_jwks_uri(v: &str) -> Result<(), ValidationError> {
    let url = Url::parse(v).map_err(|_| ValidationError::new("jwks_uri", "must be an absolute URL"))?;
    let ok = v.len() <= MAX_URL_LEN
        && url.fragment().is_none()
        && (url.scheme() == "https" && url.host().is_some() || url.scheme() == "http" && is_loopback_host(&url));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("jwks_uri", "must be an https URL without fragment (http only on loopback)"))
    }
}

/// `subject_type` and `sector_identifier_uri` (OpenID Connect Core §8.1, Registration §2);
/// the document the URI names is checked by the service, which can fetch it.
fn check_subject_type(h: &crate::client_extras::HydraMetadata, redirect_uris: &[String]) -> Result<(), ValidationError> {
    let uri = h.sector_identifier_uri.as_str();
    match h.subject_type.as_str() {
        "" | "public" if uri.is_empty() => Ok(()),
        "" | "public" => Err(ValidationError::new("sector_identifier_uri", "is for subject_type pairwise")),
        "pairwise" if !uri.is_empty() => {
            let ok = uri.len() <= MAX_URL_LEN
                && Url::parse(uri).is_ok_and(|u| {
                    u.fragment().is_none() && (u.scheme() == "https" && u.host().is_some() || u.scheme() == "http" && is_loopback_host(&u))
                });
            if ok {
                Ok(())
            } else {
                Err(ValidationError::new("sector_identifier_uri", "must be an https URL without fragment (http only on loopback)"))
            }
        }
        "pairwise" => {
            let hosts: std::collections::BTreeSet<Option<String>> =
                redirect_uris.iter().map(|r| Url::parse(r).ok().and_then(|u| u.host_str().map(str::to_owned))).collect();
            match hosts.len() {
                0 => Err(ValidationError::new("subject_type", "pairwise needs redirect_uris or a sector_identifier_uri (the sector)")),
                1 => Ok(()),
                _ => {
                    Err(ValidationError::new("sector_identifier_uri", "is required for pairwise subjects when the redirect URIs have several hosts"))
                }
            }
        }
        _ => Err(ValidationError::new("subject_type", "must be public or pairwise")),
    }
}

fn check_request_uri(v: &str) -> Result<(), ValidationError> {
    let ok = v.len() <= MAX_URL_LEN
        && Url::parse(v).is_ok_and(|url| url.scheme() == "https" && url.host().is_some() || url.scheme() == "http" && is_loopback_host(&url));
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new("request_uris", format!("{v:?} must be an https URL (http only on loopback)")))
    }
}

/// `backchannel_logout_uri` (Back-Channel Logout §2.2: absolute, no fragment; https, or
/// http on loopback) and `frontchannel_logout_uri` (Front-Channel Logout §2: also the
/// scheme, host and port of a registered redirect URI, since the logout page frames it).
fn check_logout_uris(h: &crate::client_extras::HydraMetadata, redirect_uris: &[String]) -> Result<(), ValidationError> {
    let parsed = |field: &str, v: &str| {
        let url = Url::parse(v).ok().filter(|u| {
            v.len() <= MAX_URL_LEN
                && u.fragment().is_none()
                && u.username().is_empty()
                && (u.scheme() == "https" && u.host().is_some() || u.scheme() == "http" && is_loopback_host(u))
        });
        url.ok_or_else(|| ValidationError::new(field, "must be an https URL without fragment or credentials (http only on loopback)"))
    };
    if !h.backchannel_logout_uri.is_empty() {
        parsed("backchannel_logout_uri", &h.backchannel_logout_uri)?;
    }
    if !h.frontchannel_logout_uri.is_empty() {
        let origin = parsed("frontchannel_logout_uri", &h.frontchannel_logout_uri)?.origin();
        if !redirect_uris.iter().filter_map(|r| Url::parse(r).ok()).any(|r| r.origin() == origin) {
            return Err(ValidationError::new("frontchannel_logout_uri", "must have the scheme, host and port of a registered redirect URI"));
        }
    }
    Ok(())
}

/// Whether `uri` is one of the `registered` request_uris. Fragments are ignored on both
/// sides: OpenID Connect Core §6.2 has clients put a hash of the document there to tell
/// versions apart, so the registered value cannot be expected to carry it.
pub fn request_uri_registered(registered: &[String], uri: &str) -> bool {
    let base = |u: &str| u.split('#').next().unwrap_or(u).to_owned();
    let wanted = base(uri);
    registered.iter().any(|r| base(r) == wanted)
}

/// A JWK Set of public keys only: `{"keys":[…]}` with 1–20 keys, each EC/RSA/OKP, with
/// no private or symmetric members.
pub fn check_jwks(text: &str) -> Result<(), ValidationError> {
    let err = |m: &str| ValidationError::new("jwks", m);
    if text.len() > MAX_JWKS_LEN {
        return Err(err("must be at most 64 KiB"));
    }
    let v: serde_json::Value = serde_json::from_str(text).map_err(|_| err("must be a JWK Set as a JSON string"))?;
    let keys = v.get("keys").and_then(|k| k.as_array()).ok_or_else(|| err("must be an object with a \"keys\" array"))?;
    if keys.is_empty() || keys.len() > 20 {
        return Err(err("must hold 1 to 20 keys"));
    }
    let mut kids = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let field = format!("jwks.keys[{i}]");
        let obj = key.as_object().ok_or_else(|| ValidationError::new(&field, "must be an object"))?;
        let s = |name: &str| obj.get(name).and_then(|v| v.as_str());
        let b64 = |name: &str| s(name).is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        for &private in crate::jose::PRIVATE_MEMBERS {
            if obj.contains_key(private) {
                return Err(ValidationError::new(&field, format!("must be a public key (has \"{private}\")")));
            }
        }
        // Decoded length of a base64url member, if it is one.
        let len = |name: &str| {
            s(name).filter(|_| b64(name)).and_then(|v| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v).ok().map(|b| b.len())
            })
        };
        let ok = match s("kty") {
            // RFC 7518 §6.2.1.2: coordinates are exactly the curve's size, leading zeros kept.
            Some("EC") => {
                let size = match s("crv") {
                    Some("P-256") => 32,
                    Some("P-384") => 48,
                    Some("P-521") => 66,
                    _ => 0,
                };
                size > 0 && len("x") == Some(size) && len("y") == Some(size)
            }
            // At least 2048-bit moduli (RFC 7518 §3.3), as verification requires.
            Some("RSA") => len("n").is_some_and(|n| n >= 256) && len("e").is_some(),
            Some("OKP") => match s("crv") {
                Some("Ed25519") => len("x") == Some(32),
                Some("Ed448") => len("x") == Some(57),
                _ => false,
            },
            _ => false,
        };
        if !ok {
            return Err(ValidationError::new(
                &field,
                "must be an EC (full-length coordinates), RSA (≥ 2048 bits) or OKP public key with its parameters",
            ));
        }
        if let Some(kid) = s("kid") {
            if kids.contains(&kid) {
                return Err(ValidationError::new(&field, "duplicate kid"));
            }
            kids.push(kid);
        }
    }
    Ok(())
}

/// The distinct web origins of the redirect URIs (custom schemes have none).
pub fn cors_origins(redirect_uris: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for uri in redirect_uris {
        if let Ok(url) = Url::parse(uri) {
            if matches!(url.scheme(), "http" | "https") {
                let origin = url.origin().ascii_serialization();
                if !out.contains(&origin) {
                    out.push(origin);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> ClientInput {
        serde_json::from_str(json).unwrap()
    }

    fn create(json: &str) -> Result<Client, ValidationError> {
        Client::create(TenantId::default_tenant(), "id".into(), "cid".into(), &input(json), 1)
    }

    #[test]
    fn loopback_redirect_uris_match_with_any_port() {
        for (registered, requested) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:51004/cb"),
            ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9/cb"),
            ("http://[::1]/cb?x=1", "http://[::1]:4000/cb?x=1"),
            ("http://localhost:3000/cb", "http://localhost:3001/cb"),
            ("https://app.example/cb", "https://app.example/cb"),
        ] {
            assert!(redirect_uri_matches(registered, requested), "{registered} / {requested}");
        }
        for (registered, requested) in [
            ("http://127.0.0.1/cb", "http://127.0.0.1:5000/other"),
            ("http://127.0.0.1/cb", "http://127.0.0.2:5000/cb"),
            ("http://127.0.0.1/cb", "http://[::1]:5000/cb"),
            ("http://127.0.0.1/cb", "https://127.0.0.1:5000/cb"),
            ("http://127.0.0.1/cb?x=1", "http://127.0.0.1:5000/cb?x=2"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb#f"),
            ("http://127.0.0.1/cb", "http://u:p@127.0.0.1:5000/cb"),
            ("https://app.example/cb", "https://app.example:8443/cb"),
            ("http://localhost.evil.example/cb", "http://localhost.evil.example:81/cb"),
            ("com.example.app:/cb", "com.example.app:/cb2"),
        ] {
            assert!(!redirect_uri_matches(registered, requested), "{registered} / {requested}");
        }
    }

    #[test]
    fn defaults_and_cors_origins() {
        let c = create(r#"{"name":"App","redirect_uris":["https://a.example/cb","https://a.example/x","http://127.0.0.1:8080/cb"]}"#).unwrap();
        assert!(c.is_confidential);
        assert_eq!(c.auth_methods, vec![AuthMethod::ClientSecretBasic]);
        assert_eq!(c.cors_origins, vec!["https://a.example", "http://127.0.0.1:8080"]);
        assert!(c.needs_secret());
        let p = create(r#"{"name":"SPA","redirect_uris":["com.example.app:/cb"],"is_confidential":false}"#).unwrap();
        assert_eq!(p.auth_methods, vec![AuthMethod::None]);
        assert!(p.cors_origins.is_empty());
        assert!(!p.needs_secret());
    }

    #[test]
    fn rejects_bad_input_naming_the_field() {
        let cases = [
            (r#"{"redirect_uris":["https://a/cb"]}"#, "name"),
            (r#"{"name":"x"}"#, "redirect_uris"),
            (r#"{"name":" ","redirect_uris":["https://a/cb"]}"#, "name"),
            (r#"{"name":"x","redirect_uris":[]}"#, "redirect_uris"),
            (r#"{"name":"x","redirect_uris":["/relative"]}"#, "redirect_uris[0]"),
            (r#"{"name":"x","redirect_uris":["https://a/cb","https://a/cb#frag"]}"#, "redirect_uris[1]"),
            (r#"{"name":"x","redirect_uris":["http://evil.example/cb"]}"#, "redirect_uris[0]"),
            (r#"{"name":"x","redirect_uris":["javascript:alert(1)"]}"#, "redirect_uris[0]"),
            (r#"{"name":"x","redirect_uris":["https://u:p@a/cb"]}"#, "redirect_uris[0]"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"grant_types":["implicit"]}"#, "grant_types[0]"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"grant_types":[]}"#, "grant_types"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"client_auth_methods":["magic"]}"#, "client_auth_methods[0]"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"client_auth_methods":["none"]}"#, "client_auth_methods"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"fapi_profile":"fapi3"}"#, "fapi_profile"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"scopes":["a b"]}"#, "scopes[0]"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"jwks":"{\"keys\":[]}","jwks_uri":"https://a/j"}"#, "jwks"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"jwks":"not json"}"#, "jwks"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"jwks_uri":"ftp://a/j"}"#, "jwks_uri"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"client_auth_methods":["private_key_jwt"]}"#, "jwks"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"is_confidential":false,"grant_types":["client_credentials"]}"#, "grant_types"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"fapi_profile":"fapi1"}"#, "client_auth_methods"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"logo_url":"notaurl"}"#, "logo_url"),
            (r#"{"name":"x","redirect_uris":["https://a/cb"],"status":"active"}"#, "status"),
        ];
        for (json, field) in cases {
            let err = create(json).expect_err(json);
            assert_eq!(err.field, field, "{json}: {err}");
        }
    }

    #[test]
    fn jwks_must_be_public_keys() {
        let public = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}"#;
        assert!(check_jwks(public).is_ok());
        let private = public.replace(r#""kid":"k1""#, r#""kid":"k1","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI""#);
        assert_eq!(check_jwks(&private).unwrap_err().field, "jwks.keys[0]");
        assert!(check_jwks(r#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#).is_err());
    }

    #[test]
    fn update_applies_only_present_fields_and_reports_changes() {
        let mut c = create(r#"{"name":"App","redirect_uris":["https://a.example/cb"]}"#).unwrap();
        let changed = c.apply(&input(r#"{"name":"App 2","status":"suspended"}"#)).unwrap();
        assert_eq!(changed, vec!["name", "status"]);
        assert_eq!(c.redirect_uris, vec!["https://a.example/cb"]);
        assert_eq!(c.status, ClientStatus::Suspended);
        let changed = c.apply(&input(r#"{"is_confidential":false,"grant_types":["authorization_code"]}"#)).unwrap();
        assert_eq!(changed, vec!["grant_types", "client_auth_methods", "is_confidential"]);
        assert_eq!(c.auth_methods, vec![AuthMethod::None]);
    }
}
