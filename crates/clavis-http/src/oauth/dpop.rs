//! The `DPoP` request header (RFC 9449 §4.1) as the endpoints that take it read it, and
//! the `DPoP-Nonce` they answer with. The proof's checks are the service's.

use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::Response;
use clavis_core::TenantId;
use clavis_service::dpop::DpopInput;
use clavis_service::OAuthError;

use super::DPOP_NONCE;
use crate::{AppState, ListenerUrl};

/// The request's proof, if it has one, with the method and URL it must name: the URL
/// clients reach the endpoint at (the public URL and the request's path, as the issuer is
/// built; on the mutual-TLS listener its URL). More than one `DPoP` header is refused (§4.3 item 1).
pub(crate) fn dpop_input(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    listener: Option<&ListenerUrl>,
) -> Result<Option<DpopInput>, OAuthError> {
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(OAuthError::InvalidDpopProof("send one DPoP header".into()));
    }
    let proof = value.to_str().map_err(|_| OAuthError::InvalidDpopProof("the DPoP header is not a JWT".into()))?;
    let base = listener.map_or(st.services.settings.public_url.as_str(), |l| l.0.as_str());
    let url = format!("{base}{}", uri.path());
    Ok(Some(DpopInput { proof: proof.trim().to_owned(), method: method.as_str().to_owned(), url }))
}

/// Adds the tenant's current nonce (§8.2) to a response to a DPoP request: clients keep
/// it for their next proof. A failure to read it leaves the response as it is.
pub(crate) async fn with_nonce(st: &AppState, tenant: &TenantId, mut resp: Response) -> Response {
    if let Ok(nonce) = st.services.dpop_nonce(tenant).await {
        set_nonce(resp.headers_mut(), &nonce);
    }
    resp
}

/// Puts `nonce` in the response's `DPoP-Nonce` (§8.1).
pub(crate) fn set_nonce(headers: &mut HeaderMap, nonce: &str) {
    if let Ok(v) = HeaderValue::from_str(nonce) {
        headers.insert(DPOP_NONCE, v);
    }
}
