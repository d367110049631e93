//! `POST /credentials` (Hydra's createVerifiableCredential): a verifiable credential for
//! the bearer access token's user. What is checked and signed is the service's
//! ([`clavis_service::CredentialError`]); this handler parses and maps.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use clavis_service::{CredentialError, PresentedToken, TokenRejection};
use serde::{Deserialize, Serialize};

use super::{Issuer, OAuthErrorBody, OAuthResponseError};
use crate::AppState;

/// Hydra's `CreateVerifiableCredentialRequestBody`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CredentialRequest {
    /// `jwt_vc_json`.
    format: String,
    /// Asked-for types (the credential is always `VerifiableCredential`, `UserInfoCredential`).
    #[serde(default)]
    #[allow(dead_code)]
    types: Vec<String>,
    /// Omitted on the first request, which is answered with a `c_nonce`.
    proof: Option<CredentialProof>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CredentialProof {
    /// `jwt`.
    proof_type: String,
    /// Signed with the holder's key, which its header carries as `jwk`; claims `nonce`.
    jwt: String,
}

/// Hydra's `VerifiableCredentialResponse`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CredentialResponse {
    credential_draft_00: String,
    format: &'static str,
}

/// Hydra's `VerifiableCredentialPrimingResponse` (status 400): `missing_proof` with a
/// `c_nonce`, or `invalid_request` without one.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CredentialPriming {
    error: &'static str,
    error_description: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    c_nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    c_nonce_expires_in: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<&'static str>,
}

fn invalid(why: &'static str) -> Response {
    let body = CredentialPriming { error: "invalid_request", error_description: why, c_nonce: None, c_nonce_expires_in: None, format: None };
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// A signed `jwt_vc_json` credential about the access token's user (scope `openid`),
/// whose subject is the holder key proven by `proof`.
#[utoipa::path(post, path = "/credentials", operation_id = "createVerifiableCredential", tag = "oauth2", security(("access_token" = [])),
    request_body = CredentialRequest,
    responses((status = 200, body = CredentialResponse), (status = 400, body = CredentialPriming, description = "missing_proof with a c_nonce, or invalid_request"),
              (status = 401, body = OAuthErrorBody)))]
pub async fn create(State(st): State<AppState>, issuer: Issuer, headers: HeaderMap, body: Bytes) -> Response {
    let mut resp = answer(&st, &issuer, &headers, &body).await;
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn answer(st: &AppState, issuer: &Issuer, headers: &HeaderMap, body: &[u8]) -> Response {
    let Some(token) = crate::auth::bearer_token(headers) else {
        return unauthorized("a bearer access token is required");
    };
    let Ok(request) = serde_json::from_slice::<CredentialRequest>(body) else {
        return invalid("the body must be a JSON credential request");
    };
    let proof = request.proof.as_ref().map(|p| (p.proof_type.as_str(), p.jwt.as_str()));
    match st.services.create_credential(&issuer.tenant, &PresentedToken::bearer(token), &request.format, proof).await {
        Ok(credential) => Json(CredentialResponse { credential_draft_00: credential, format: "jwt_vc_json" }).into_response(),
        Err(CredentialError::MissingProof { c_nonce, expires_in }) => {
            let description = "prove the holder key: send proof.jwt with this c_nonce as its nonce";
            let body = CredentialPriming {
                error: "missing_proof",
                error_description: description,
                c_nonce: Some(c_nonce),
                c_nonce_expires_in: Some(expires_in),
                format: Some("jwt_vc"),
            };
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
        Err(CredentialError::Invalid(why)) => invalid(why),
        Err(CredentialError::Token(TokenRejection::Store(e))) => OAuthResponseError(e.into()).into_response(),
        Err(CredentialError::Token(other)) => unauthorized(&other.to_string()),
    }
}

fn unauthorized(why: &str) -> Response {
    let mut resp = (StatusCode::UNAUTHORIZED, OAuthErrorBody::json("invalid_token", why)).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    resp
}
