//! Discovery (OpenID Connect Discovery 1.0, RFC 8414) and the JWKS. The metadata lists
//! only what this server implements today.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_core::assertion::{HMAC_ALGS, PRIVATE_KEY_ALGS};
use clavis_core::jose::Alg;
use serde_json::{json, Value};

use super::{Issuer, OAuthResponseError};
use crate::AppState;

/// The client authentication methods, `none` last (introspection takes all but it).
const AUTH_METHODS: &[&str] =
    &["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "tls_client_auth", "self_signed_tls_client_auth", "none"];

fn metadata(issuer: &Issuer, settings: &clavis_service::Settings) -> Value {
    let dcr = settings.dcr_enabled;
    let url = &issuer.url;
    let mut v = json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/oauth2/auth"),
        "token_endpoint": format!("{url}/oauth2/token"),
        "introspection_endpoint": format!("{url}/oauth2/introspect"),
        "pushed_authorization_request_endpoint": format!("{url}/oauth2/par"),
        "require_pushed_authorization_requests": false,
        "revocation_endpoint": format!("{url}/oauth2/revoke"),
        "userinfo_endpoint": format!("{url}/userinfo"),
        // Hydra's verifiable credentials (OpenID4VCI draft 00), as Hydra advertises them.
        "credentials_endpoint_draft_00": format!("{url}/credentials"),
        "credentials_supported_draft_00": [{
            "format": "jwt_vc_json", "types": ["VerifiableCredential", "UserInfoCredential"],
            "cryptographic_binding_methods_supported": ["jwk"],
            "cryptographic_suites_supported": PRIVATE_KEY_ALGS,
        }],
        "end_session_endpoint": format!("{url}/oauth2/sessions/logout"),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "jwks_uri": format!("{url}/.well-known/jwks.json"),
        "grant_types_supported": clavis_service::supported_grant_types().collect::<Vec<_>>(),
        "response_types_supported": ["code", "code id_token"],
        "response_modes_supported": clavis_service::ResponseMode::NAMES,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ([PRIVATE_KEY_ALGS, HMAC_ALGS].concat()),
        "introspection_endpoint_auth_methods_supported": &AUTH_METHODS[..AUTH_METHODS.len() - 1],
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        // The standard scopes of OpenID Connect Core §5.4: their claims come from the consent
        // app's session (Hydra's model), which decides them per granted scope.
        "scopes_supported": ["openid", "offline_access", "offline", "profile", "email", "address", "phone"],
        "subject_types_supported": ["public", "pairwise"],
        // RS256 first: OpenID Connect Discovery §3 requires it, and it is the default.
        "id_token_signing_alg_values_supported": Alg::NAMES,
        "userinfo_signing_alg_values_supported": Alg::NAMES,
        "access_token_signing_alg_values_supported": Alg::NAMES,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid",
            "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile", "picture",
            "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at", "email", "email_verified", "address",
            "phone_number", "phone_number_verified"],
        // The `claims` request parameter (§5.5) reaches the login and consent apps.
        "claims_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": true,
        "request_object_signing_alg_values_supported": ([PRIVATE_KEY_ALGS, &["none"]].concat()),
        // By reference: pushed requests (RFC 9126) and the client's registered request_uris.
        "request_uri_parameter_supported": true,
        "require_request_uri_registration": true,
        "require_signed_request_object": false,
    });
    // Outside the literal above, which is at json!'s recursion limit.
    v["device_authorization_endpoint"] = json!(format!("{url}/oauth2/device/auth"));
    // Hydra's own names, which its SDK's `OidcConfiguration` requires.
    v["id_token_signed_response_alg"] = json!(Alg::NAMES);
    v["userinfo_signed_response_alg"] = json!(Alg::NAMES);
    // JARM §4, RFC 9701 §7: what signs JWT-secured authorization and introspection responses.
    v["authorization_signing_alg_values_supported"] = json!(Alg::NAMES);
    v["introspection_signing_alg_values_supported"] = json!(Alg::NAMES);
    // RFC 8705 §3.3, §5: certificate-bound tokens, and the mutual-TLS listener's endpoints.
    v["tls_client_certificate_bound_access_tokens"] = json!(true);
    if let Some(base) = &settings.mtls_url {
        let m = format!("{base}{}", url.strip_prefix(&settings.public_url).unwrap_or(""));
        v["mtls_endpoint_aliases"] = json!({
            "token_endpoint": format!("{m}/oauth2/token"),
            "introspection_endpoint": format!("{m}/oauth2/introspect"),
            "revocation_endpoint": format!("{m}/oauth2/revoke"),
            "pushed_authorization_request_endpoint": format!("{m}/oauth2/par"),
            "userinfo_endpoint": format!("{m}/userinfo"),
            "device_authorization_endpoint": format!("{m}/oauth2/device/auth"),
        });
    }
    // RFC 9449 §5.1: DPoP at the token endpoint, PAR and userinfo.
    v["dpop_signing_alg_values_supported"] = json!(clavis_core::dpop::DPOP_ALGS);
    if dcr {
        v["registration_endpoint"] = json!(format!("{url}/oauth2/register"));
    }
    v
}

/// OpenID Connect Discovery 1.0 metadata of the issuer.
#[utoipa::path(get, path = "/.well-known/openid-configuration", operation_id = "discoverOidcConfiguration", tag = "discovery", responses((status = 200, body = Object)))]
pub async fn openid_configuration(State(st): State<AppState>, issuer: Issuer) -> Json<Value> {
    Json(metadata(&issuer, &st.services.settings))
}

/// RFC 8414 metadata (the same document).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", operation_id = "discoverOAuth2AuthorizationServer", tag = "discovery", responses((status = 200, body = Object)))]
pub async fn authorization_server(State(st): State<AppState>, issuer: Issuer) -> Json<Value> {
    Json(metadata(&issuer, &st.services.settings))
}

/// The issuer's public signing keys (RFC 7517), including keys that only verify.
#[utoipa::path(get, path = "/.well-known/jwks.json", operation_id = "discoverJsonWebKeys", tag = "discovery", responses((status = 200, description = "A JSON Web Key Set", body = Object)))]
pub async fn jwks(State(st): State<AppState>, issuer: Issuer) -> Result<Response, OAuthResponseError> {
    let keys = st.services.keys.for_tenant(&issuer.tenant).await.map_err(|e| OAuthResponseError(e.into()))?;
    let mut resp = Json(keys.jwks()).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(resp)
}
