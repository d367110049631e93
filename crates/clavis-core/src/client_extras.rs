//! Client settings beyond the authms seed fields: post-logout redirect URIs, the access
//! token format, per-client token lifespans, and (later) the rest of Ory Hydra's client
//! metadata. Stored as one JSON document next to the client's columns.

use serde::{Deserialize, Serialize};

use crate::assertion::{HMAC_ALGS as CLIENT_SECRET_ALGS, PRIVATE_KEY_ALGS as CLIENT_KEY_ALGS};
use crate::ValidationError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenStrategy {
    /// RFC 9068 JWTs, verifiable offline against the JWKS.
    #[default]
    Jwt,
    /// Random handles, verifiable only by introspection; revocation is immediate.
    Opaque,
}

/// Per-client token lifespans in seconds (Hydra's names without `_lifespan`); `None`
/// uses the server's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Lifespans {
    pub authorization_code_grant_access_token: Option<i64>,
    pub authorization_code_grant_id_token: Option<i64>,
    pub authorization_code_grant_refresh_token: Option<i64>,
    pub client_credentials_grant_access_token: Option<i64>,
    pub refresh_token_grant_access_token: Option<i64>,
    pub refresh_token_grant_id_token: Option<i64>,
    pub refresh_token_grant_refresh_token: Option<i64>,
    pub implicit_grant_access_token: Option<i64>,
    pub implicit_grant_id_token: Option<i64>,
    pub jwt_bearer_grant_access_token: Option<i64>,
    pub device_authorization_grant_access_token: Option<i64>,
    pub device_authorization_grant_id_token: Option<i64>,
    pub device_authorization_grant_refresh_token: Option<i64>,
}

/// The longest lifespan a client may ask for: one year.
pub const MAX_LIFESPAN_SECS: i64 = 366 * 24 * 3600;

impl Lifespans {
    /// Hydra's field names (`…_lifespan`) with a mutable reference to each value.
    pub fn fields_mut(&mut self) -> [(&'static str, &mut Option<i64>); 13] {
        [
            ("authorization_code_grant_access_token_lifespan", &mut self.authorization_code_grant_access_token),
            ("authorization_code_grant_id_token_lifespan", &mut self.authorization_code_grant_id_token),
            ("authorization_code_grant_refresh_token_lifespan", &mut self.authorization_code_grant_refresh_token),
            ("client_credentials_grant_access_token_lifespan", &mut self.client_credentials_grant_access_token),
            ("refresh_token_grant_access_token_lifespan", &mut self.refresh_token_grant_access_token),
            ("refresh_token_grant_id_token_lifespan", &mut self.refresh_token_grant_id_token),
            ("refresh_token_grant_refresh_token_lifespan", &mut self.refresh_token_grant_refresh_token),
            ("implicit_grant_access_token_lifespan", &mut self.implicit_grant_access_token),
            ("implicit_grant_id_token_lifespan", &mut self.implicit_grant_id_token),
            ("jwt_bearer_grant_access_token_lifespan", &mut self.jwt_bearer_grant_access_token),
            ("device_authorization_grant_access_token_lifespan", &mut self.device_authorization_grant_access_token),
            ("device_authorization_grant_id_token_lifespan", &mut self.device_authorization_grant_id_token),
            ("device_authorization_grant_refresh_token_lifespan", &mut self.device_authorization_grant_refresh_token),
        ]
    }

    /// As Hydra shows them: Go durations (`"1h0m0s"`), absent when unset.
    pub fn to_json(&self) -> serde_json::Value {
        let mut copy = self.clone();
        let mut map = serde_json::Map::new();
        for (name, v) in copy.fields_mut() {
            if let Some(secs) = v {
                map.insert(name.to_owned(), serde_json::Value::String(crate::duration::format_go(*secs)));
            }
        }
        serde_json::Value::Object(map)
    }

    /// Sets lifespans from Hydra-named fields with Go durations (`""`/`null` unsets).
    pub fn apply(&mut self, input: &serde_json::Map<String, serde_json::Value>, field: &str) -> Result<(), ValidationError> {
        for (key, value) in input {
            let path = format!("{field}.{key}");
            let Some((_, slot)) = self.fields_mut().into_iter().find(|(name, _)| name == key) else {
                return Err(ValidationError::new(path, "unknown lifespan"));
            };
            *slot = match value {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) if s.is_empty() => None,
                serde_json::Value::String(_) if key.starts_with("implicit_grant_") => {
                    return Err(ValidationError::new(path, "the implicit grant is not served (RFC 9700 §2.1.2), so it has no lifespan"));
                }
                serde_json::Value::String(s) => Some(
                    crate::duration::parse_seconds(s)
                        .filter(|n| (1..=MAX_LIFESPAN_SECS).contains(n))
                        .ok_or_else(|| ValidationError::new(&path, "must be a duration from 1s to 8784h, like \"1h\""))?,
                ),
                _ => return Err(ValidationError::new(path, "must be a duration string like \"1h30m\"")),
            };
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientExtras {
    pub post_logout_redirect_uris: Vec<String>,
    pub access_token_strategy: AccessTokenStrategy,
    pub lifespans: Lifespans,
    /// Ory Hydra's client metadata that the authms API does not know; kept as given.
    pub hydra: HydraMetadata,
    /// Registered through dynamic registration (RFC 7591), so nobody vetted its metadata:
    /// it may introspect only its own tokens. Set by registration only; a clone, made by
    /// an admin, is not.
    pub self_registered: bool,
    /// An admin marked it as a resource server that may introspect every token of the
    /// tenant, whatever the tenant's introspection policy. Never set through registration.
    pub introspector: bool,
    /// Mutual TLS (RFC 8705 §2.1.2, §3.4).
    pub mtls: MtlsMetadata,
}

/// A client's mutual-TLS metadata (RFC 8705 §2.1.2 and §3.4), with RFC 7591 names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MtlsMetadata {
    /// The subject DN (RFC 4514) of the certificate `tls_client_auth` expects.
    pub tls_client_auth_subject_dn: String,
    /// A dNSName SAN it must carry.
    pub tls_client_auth_san_dns: String,
    /// A uniformResourceIdentifier SAN.
    pub tls_client_auth_san_uri: String,
    /// An iPAddress SAN (IPv4 or IPv6).
    pub tls_client_auth_san_ip: String,
    /// An rfc822Name SAN.
    pub tls_client_auth_san_email: String,
    /// Access tokens bound to the client's certificate (`cnf.x5t#S256`).
    pub tls_client_certificate_bound_access_tokens: bool,
}

impl MtlsMetadata {
    /// The certificate names set, by field name.
    pub fn names(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("tls_client_auth_subject_dn", self.tls_client_auth_subject_dn.as_str()),
            ("tls_client_auth_san_dns", self.tls_client_auth_san_dns.as_str()),
            ("tls_client_auth_san_uri", self.tls_client_auth_san_uri.as_str()),
            ("tls_client_auth_san_ip", self.tls_client_auth_san_ip.as_str()),
            ("tls_client_auth_san_email", self.tls_client_auth_san_email.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
    }

    /// RFC 8705 §2.1.2: `tls_client_auth` names exactly one expected name, and names are
    /// only for it; `self_signed_tls_client_auth` needs the client's keys (their `x5c`).
    pub fn check(&self, methods: &[crate::AuthMethod], has_keys: bool) -> Result<(), ValidationError> {
        let names: Vec<(&str, &str)> = self.names().collect();
        let tls = methods.contains(&crate::AuthMethod::TlsClientAuth);
        match (tls, names.as_slice()) {
            (true, [(field, value)]) => {
                if value.len() > 1024 {
                    return Err(ValidationError::new(*field, "must be at most 1024 characters"));
                }
                if *field == "tls_client_auth_subject_dn" && crate::certificate::parse_dn(value).is_none_or(|dn| dn.is_empty()) {
                    return Err(ValidationError::new(*field, "must be an RFC 4514 distinguished name, e.g. CN=client,O=Example"));
                }
                if *field == "tls_client_auth_san_ip" && value.parse::<std::net::IpAddr>().is_err() {
                    return Err(ValidationError::new(*field, "must be an IPv4 or IPv6 address"));
                }
            }
            (true, _) => {
                return Err(ValidationError::new(
                    "tls_client_auth_subject_dn",
                    "tls_client_auth needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email",
                ))
            }
            (false, [(field, _), ..]) => return Err(ValidationError::new(*field, "is only for clients that use tls_client_auth")),
            (false, []) => {}
        }
        if methods.contains(&crate::AuthMethod::SelfSignedTlsClientAuth) && !has_keys {
            return Err(ValidationError::new("jwks", "self_signed_tls_client_auth needs jwks or jwks_uri with the certificate (x5c)"));
        }
        Ok(())
    }
}

/// Hydra client fields without an authms counterpart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HydraMetadata {
    pub response_types: Vec<String>,
    pub audience: Vec<String>,
    pub allowed_cors_origins: Vec<String>,
    pub contacts: Vec<String>,
    /// Raw JSON, as Hydra stores it.
    pub metadata: serde_json::Value,
    /// Consent is accepted without asking (admin-only; never through dynamic registration).
    pub skip_consent: bool,
    pub skip_logout_consent: bool,
    /// `""` (stored by clients made before subject types existed), `public` or `pairwise`;
    /// read it through [`HydraMetadata::subject_type`].
    pub subject_type: String,
    pub sector_identifier_uri: String,
    pub request_uris: Vec<String>,
    /// `""` (any alg the client's keys allow), `none` (unsigned objects accepted) or an
    /// asymmetric JOSE algorithm name.
    pub request_object_signing_alg: String,
    /// Authorization requests must come as signed request objects (RFC 9101 §10.5).
    pub require_signed_request_object: bool,
    /// `""` (any), or the one algorithm the client's assertions must use.
    pub token_endpoint_auth_signing_alg: String,
    /// `""` / `none` (plain JSON) or one of Clavis's signing algorithms.
    pub userinfo_signed_response_alg: String,
    /// `""` (the tenant's default) or one of Clavis's signing algorithms.
    pub id_token_signed_response_alg: String,
    /// JWT access tokens: `""` (the tenant's default) or one of Clavis's signing algorithms.
    pub access_token_signed_response_alg: String,
    pub frontchannel_logout_uri: String,
    pub frontchannel_logout_session_required: bool,
    pub backchannel_logout_uri: String,
    pub backchannel_logout_session_required: bool,
    /// JARM §3: the algorithm of its JWT-secured authorization responses (`""`: RS256).
    pub authorization_signed_response_alg: String,
    /// RFC 9701 §6: the algorithm of its signed introspection responses (`""`: RS256).
    pub introspection_signed_response_alg: String,
    /// RFC 9396 §10: the authorization details types the client may request.
    pub authorization_details_types: Vec<String>,
    /// RFC 9449 §5.2: every access token of the client is DPoP-bound (a token request
    /// without a proof is refused).
    pub dpop_bound_access_tokens: bool,
    /// SHA-256 of the RFC 7592 registration access token of a dynamically registered client.
    pub registration_token_hash: Option<String>,
}

impl HydraMetadata {
    /// `public` or `pairwise` (OIDC Core §8); an empty field is `public`.
    pub fn subject_type(&self) -> &str {
        if self.subject_type.is_empty() {
            "public"
        } else {
            &self.subject_type
        }
    }

    pub fn is_pairwise(&self) -> bool {
        self.subject_type == "pairwise"
    }

    /// The algorithm fields name algorithms Clavis has, and fit the client's
    /// authentication methods (`private_key_jwt` for asymmetric assertions,
    /// `client_secret_jwt` for HMAC ones).
    pub fn check_algorithms(&self, auth_methods: &[crate::AuthMethod]) -> Result<(), ValidationError> {
        let server_alg = |field: &str, v: &str, none_ok: bool| {
            if v.is_empty() || (none_ok && v == "none") || crate::jose::Alg::NAMES.contains(&v) {
                Ok(())
            } else {
                let extra = if none_ok { "none, " } else { "" };
                Err(ValidationError::new(field, format!("must be {extra}{}", crate::jose::Alg::NAMES.join(", "))))
            }
        };
        server_alg("id_token_signed_response_alg", &self.id_token_signed_response_alg, false)?;
        server_alg("access_token_signed_response_alg", &self.access_token_signed_response_alg, false)?;
        server_alg("userinfo_signed_response_alg", &self.userinfo_signed_response_alg, true)?;
        if self.authorization_details_types.len() > 100
            || self.authorization_details_types.iter().any(|t| t.is_empty() || t.len() > 256 || t.chars().any(char::is_control))
        {
            return Err(ValidationError::new("authorization_details_types", "at most 100 types of 1 to 256 printable characters"));
        }
        server_alg("authorization_signed_response_alg", &self.authorization_signed_response_alg, false)?;
        server_alg("introspection_signed_response_alg", &self.introspection_signed_response_alg, false)?;
        let ro = self.request_object_signing_alg.as_str();
        if !(ro.is_empty() || ro == "none" || CLIENT_KEY_ALGS.contains(&ro)) {
            return Err(ValidationError::new("request_object_signing_alg", format!("must be none or one of {}", CLIENT_KEY_ALGS.join(", "))));
        }
        // It binds the JWT methods only: with neither, it waits for one to be added (and
        // is checked again then); with one JWT method it must be of that method's kind.
        let te = self.token_endpoint_auth_signing_alg.as_str();
        let (asymmetric, hmac) = (CLIENT_KEY_ALGS.contains(&te), CLIENT_SECRET_ALGS.contains(&te));
        if !te.is_empty() && !asymmetric && !hmac {
            let all = [CLIENT_KEY_ALGS, CLIENT_SECRET_ALGS].concat().join(", ");
            return Err(ValidationError::new("token_endpoint_auth_signing_alg", format!("must be one of {all}")));
        }
        let has = |m| auth_methods.contains(&m);
        let (key_jwt, secret_jwt) = (has(crate::AuthMethod::PrivateKeyJwt), has(crate::AuthMethod::ClientSecretJwt));
        if asymmetric && secret_jwt && !key_jwt {
            return Err(ValidationError::new("token_endpoint_auth_signing_alg", format!("{te} is for private_key_jwt, not client_secret_jwt")));
        }
        if hmac && key_jwt && !secret_jwt {
            return Err(ValidationError::new("token_endpoint_auth_signing_alg", format!("{te} is for client_secret_jwt, not private_key_jwt")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifespans_round_trip_in_hydra_notation() {
        let mut l = Lifespans::default();
        let input =
            serde_json::json!({"client_credentials_grant_access_token_lifespan": "90m", "refresh_token_grant_refresh_token_lifespan": "720h"});
        l.apply(input.as_object().unwrap(), "token_lifespans").unwrap();
        assert_eq!(l.client_credentials_grant_access_token, Some(5400));
        assert_eq!(l.to_json()["client_credentials_grant_access_token_lifespan"], "1h30m0s");
        let bad = serde_json::json!({"nope_lifespan": "1h"});
        assert_eq!(l.apply(bad.as_object().unwrap(), "token_lifespans").unwrap_err().field, "token_lifespans.nope_lifespan");
        let bad = serde_json::json!({"client_credentials_grant_access_token_lifespan": "0s"});
        assert!(l.apply(bad.as_object().unwrap(), "x").is_err());
        let unset = serde_json::json!({"client_credentials_grant_access_token_lifespan": null});
        l.apply(unset.as_object().unwrap(), "x").unwrap();
        assert_eq!(l.client_credentials_grant_access_token, None);
    }

    #[test]
    fn algorithm_fields_name_what_exists_and_fit_the_auth_method() {
        use crate::AuthMethod::*;
        let with = |f: fn(&mut HydraMetadata)| {
            let mut h = HydraMetadata::default();
            f(&mut h);
            h
        };
        assert!(HydraMetadata::default().check_algorithms(&[ClientSecretBasic]).is_ok());
        let ok = with(|h| {
            h.id_token_signed_response_alg = "PS256".into();
            h.access_token_signed_response_alg = "EdDSA".into();
            h.userinfo_signed_response_alg = "none".into();
            h.request_object_signing_alg = "ES384".into();
            h.token_endpoint_auth_signing_alg = "RS512".into();
        });
        assert!(ok.check_algorithms(&[PrivateKeyJwt]).is_ok());
        assert_eq!(ok.check_algorithms(&[ClientSecretJwt]).unwrap_err().field, "token_endpoint_auth_signing_alg");
        let hs = with(|h| h.token_endpoint_auth_signing_alg = "HS256".into());
        assert!(hs.check_algorithms(&[ClientSecretJwt]).is_ok());
        assert!(hs.check_algorithms(&[PrivateKeyJwt]).is_err());
        assert!(hs.check_algorithms(&[ClientSecretBasic]).is_ok(), "binds once a JWT method is added");
        for (field, f) in [
            ("id_token_signed_response_alg", (|h: &mut HydraMetadata| h.id_token_signed_response_alg = "none".into()) as fn(&mut HydraMetadata)),
            ("id_token_signed_response_alg", |h| h.id_token_signed_response_alg = "HS256".into()),
            ("access_token_signed_response_alg", |h| h.access_token_signed_response_alg = "RS512".into()),
            ("userinfo_signed_response_alg", |h| h.userinfo_signed_response_alg = "ES384".into()),
            ("request_object_signing_alg", |h| h.request_object_signing_alg = "HS256".into()),
            ("token_endpoint_auth_signing_alg", |h| h.token_endpoint_auth_signing_alg = "none".into()),
        ] {
            assert_eq!(with(f).check_algorithms(&[PrivateKeyJwt, ClientSecretJwt]).unwrap_err().field, field);
        }
    }
}
