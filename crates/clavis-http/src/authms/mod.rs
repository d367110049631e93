//! The authms client API (seeds 000–003): `{code,message,data,timestamp}` on every
//! response, errors without `data`.

mod clients;
mod keys;
mod secrets;
mod tenant;
mod tokens;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use clavis_service::ServiceError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{AppState, ADMIN_BODY_LIMIT};

/// The authms routes; the OpenAPI document is built from the same list.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(clients::create, clients::list))
        .routes(routes!(clients::get, clients::update, clients::delete))
        .routes(routes!(clients::clone))
        .routes(routes!(secrets::rotate))
        .routes(routes!(secrets::list, secrets::add))
        .routes(routes!(secrets::delete))
        .routes(routes!(secrets::audit))
        .routes(routes!(tokens::list, tokens::revoke))
        .routes(routes!(tenant::get, tenant::update))
        .routes(routes!(keys::list))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::retire))
        .routes(routes!(clients::create_internal))
}

/// The answers of the admin listener outside its routes: in Hydra's error format under
/// Hydra's paths, as authms errors elsewhere.
pub fn fallbacks(router: Router<AppState>) -> Router<AppState> {
    router
        .fallback(|uri: axum::http::Uri| async move {
            match crate::hydra::is_hydra_path(uri.path()) {
                true => crate::hydra::HydraError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response(),
                false => ApiError::NotFound("no such route".into()).into_response(),
            }
        })
        .method_not_allowed_fallback(|uri: axum::http::Uri| async move {
            match crate::hydra::is_hydra_path(uri.path()) {
                true => crate::hydra::HydraError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed").into_response(),
                false => ApiError::MethodNotAllowed.into_response(),
            }
        })
}

/// A successful authms response.
#[derive(Serialize, ToSchema)]
pub(crate) struct Envelope<T> {
    /// The HTTP status.
    code: u16,
    message: String,
    data: T,
    /// RFC 3339.
    timestamp: String,
}

/// An authms error: the envelope without `data`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ErrorEnvelope {
    /// The HTTP status.
    code: u16,
    /// What was wrong, naming the field (`redirect_uris[0]: must be an absolute URI`).
    message: String,
    /// RFC 3339.
    timestamp: String,
}

fn timestamp() -> String {
    clavis_core::time::rfc3339(clavis_core::time::now_unix())
}

fn envelope<T: Serialize>(status: StatusCode, message: &str, data: T) -> Response {
    let body = Envelope { code: status.as_u16(), message: message.to_owned(), data, timestamp: timestamp() };
    (status, Json(body)).into_response()
}

pub(crate) fn ok<T: Serialize>(data: T) -> Response {
    envelope(StatusCode::OK, "success", data)
}

/// The seeds' `SimpleResponse`: the envelope without `data`.
pub(crate) fn simple(status: StatusCode, message: &str) -> Response {
    (status, Json(ErrorEnvelope { code: status.as_u16(), message: message.to_owned(), timestamp: timestamp() })).into_response()
}

pub(crate) fn created<T: Serialize>(data: T) -> Response {
    envelope(StatusCode::CREATED, "created", data)
}

/// Every way an authms call can fail, mapped to a status in one place.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    MethodNotAllowed,
    Conflict(String),
    PayloadTooLarge,
    UnsupportedMediaType,
    /// The database is unavailable: 503, retry later.
    Unavailable,
    /// A fault of ours; the text (with its causes) goes to the log only.
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into()),
            Self::Conflict(m) => (StatusCode::CONFLICT, m),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, format!("request body larger than {ADMIN_BODY_LIMIT} bytes")),
            Self::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json".into()),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "the service is temporarily unavailable; retry later".into()),
            Self::Internal(cause) => {
                // The cause goes to the log only; it may name tables or values.
                tracing::error!(%cause, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal server error".into())
            }
        };
        let body = ErrorEnvelope { code: status.as_u16(), message, timestamp: timestamp() };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let chain = clavis_service::error_chain(&e);
        match e {
            ServiceError::Invalid(v) => ApiError::BadRequest(v.to_string()),
            ServiceError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            ServiceError::Conflict(m) => ApiError::Conflict(m),
            ServiceError::Refused(m) => ApiError::BadRequest(m),
            ServiceError::Unavailable(_) => {
                tracing::error!(error = %chain, "database unavailable");
                ApiError::Unavailable
            }
            ServiceError::Internal { .. } => ApiError::Internal(chain),
        }
    }
}

impl From<clavis_service::StoreError> for ApiError {
    fn from(e: clavis_service::StoreError) -> Self {
        ApiError::from(ServiceError::from(e))
    }
}

/// A JSON object body whose errors name the offending field (`redirect_uris[0]: invalid
/// type…`). The body is required.
pub struct ApiJson<T>(pub T);

/// As [`ApiJson`], for bodies whose every field is optional: a missing body (or `null`)
/// reads as `{}`.
pub struct OptionalApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_object(req, state, false).await.map(ApiJson)
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for OptionalApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        read_object(req, state, true).await.map(OptionalApiJson)
    }
}

async fn read_object<T: DeserializeOwned>(req: Request, state: &AppState, may_be_empty: bool) -> Result<T, ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("could not read the request body".into())
        }
    })?;
    let body: &[u8] = match body.iter().all(u8::is_ascii_whitespace) {
        true if may_be_empty => b"{}",
        true => return Err(ApiError::BadRequest("a JSON object body is required".into())),
        false => &body,
    };
    if let Some(ct) = content_type {
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if mime != "application/json" && !mime.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ApiError::BadRequest("invalid request body: malformed JSON".into()))?;
    if may_be_empty && value.is_null() {
        value = serde_json::Value::Object(Default::default());
    }
    if !value.is_object() {
        // serde would read a struct from an array of its fields; nobody means that.
        return Err(ApiError::BadRequest("invalid request body: must be a JSON object".into()));
    }
    if has_nul(&value) {
        // Valid JSON, but no database stores it and no legitimate value needs it.
        return Err(ApiError::BadRequest("invalid request body: strings must not contain NUL characters".into()));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let what = e.into_inner().to_string();
        if path == "." || path.is_empty() {
            ApiError::BadRequest(format!("invalid request body: {what}"))
        } else {
            ApiError::BadRequest(format!("{path}: {what}"))
        }
    })
}

/// A nested struct that must be given as a JSON object. serde's derive also reads structs
/// from arrays of their fields (`[null, null]`), which would pass a malformed body off as a
/// valid one (found by schemathesis); this reads maps only, and keeps the error path
/// (`dcr.allowed_scopes: …`).
pub(crate) struct JsonObject<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for JsonObject<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData)).map(JsonObject)
    }
}

/// Whether any string (or key) of a JSON value holds a NUL character.
pub(crate) fn has_nul(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// `page` (from 1) and `page_size` (1–100, default 20) from a query string.
pub(crate) struct Paging {
    pub page: i64,
    pub page_size: i64,
}

pub(crate) const MAX_PAGE_SIZE: i64 = 100;

impl Paging {
    pub fn parse(params: &[(String, String)]) -> Result<Self, ApiError> {
        let int = |name: &str, default: i64, max: i64| -> Result<i64, ApiError> {
            match params.iter().find(|(k, _)| k == name) {
                None => Ok(default),
                Some((_, v)) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| ApiError::BadRequest(format!("{name}: must be an integer from 1 to {max}"))),
            }
        };
        Ok(Self { page: int("page", 1, 1_000_000)?, page_size: int("page_size", 20, MAX_PAGE_SIZE)? })
    }
}

/// The pairs of a query string (see [`crate::params`] for the limits).
pub(crate) fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    crate::params::parse(raw.unwrap_or("").as_bytes(), false).map_err(|e| ApiError::BadRequest(e.to_string()))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PageBody<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub page_size: i64,
}

/// Client ids and secret ids are short; anything longer cannot exist.
pub(crate) fn check_id(id: &str) -> Result<(), ApiError> {
    if !clavis_core::ids::is_plausible_id(id) {
        return Err(ApiError::NotFound("client not found".into()));
    }
    Ok(())
}
