//! The client certificate of a request (RFC 8705): from the mutual-TLS listener's
//! handshake, or — behind a TLS-terminating proxy — from RFC 9440's `Client-Cert` (and
//! `Client-Cert-Chain`) header, believed only when the TCP peer is one of
//! `CLAVIS_TRUSTED_PROXIES`. From anyone else the header is ignored.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clavis_core::certificate::{ClientCertificate, MAX_CERT_BYTES};

use crate::AppState;

/// The URL clients reach a listener at when it is not the public URL (the mutual-TLS
/// listener): what a DPoP proof's `htu` names there.
#[derive(Debug, Clone)]
pub struct ListenerUrl(pub String);

/// How the request arrived: the listener's URL if it is not the public one, and the
/// client certificate, if any.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    pub listener: Option<ListenerUrl>,
    pub certificate: Option<ClientCertificate>,
}

impl FromRequestParts<AppState> for Transport {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let listener = parts.extensions.get::<ListenerUrl>().cloned();
        if let Some(c) = parts.extensions.get::<ClientCertificate>() {
            return Ok(Self { listener, certificate: Some(c.clone()) });
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let trusted = peer.is_some_and(|ip| state.trusted_proxies.contains(ip));
        Ok(Self { listener, certificate: if trusted { from_headers(&parts.headers) } else { None } })
    }
}

/// RFC 9440 §2: `Client-Cert: :<base64 DER>:` (a structured-field byte sequence), and the
/// intermediates as a list of them in `Client-Cert-Chain`. A malformed header is no
/// certificate.
fn from_headers(headers: &HeaderMap) -> Option<ClientCertificate> {
    let mut values = headers.get_all("client-cert").iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let der = byte_sequence(value.to_str().ok()?)?;
    let mut intermediates = Vec::new();
    for line in headers.get_all("client-cert-chain") {
        for item in line.to_str().ok()?.split(',') {
            intermediates.push(byte_sequence(item)?);
            if intermediates.len() > 10 {
                return None;
            }
        }
    }
    Some(ClientCertificate { der, intermediates })
}

fn byte_sequence(item: &str) -> Option<Vec<u8>> {
    let inner = item.trim().strip_prefix(':')?.strip_suffix(':')?;
    if inner.len() > MAX_CERT_BYTES * 4 / 3 + 4 {
        return None;
    }
    STANDARD.decode(inner).ok().filter(|d| !d.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_an_sf_byte_sequence() {
        let mut h = HeaderMap::new();
        h.insert("client-cert", ":AQID:".parse().unwrap());
        h.insert("client-cert-chain", ":BAU=:, :Bg==:".parse().unwrap());
        let c = from_headers(&h).unwrap();
        assert_eq!((c.der, c.intermediates), (vec![1, 2, 3], vec![vec![4, 5], vec![6]]));
        for bad in ["AQID", ":AQID", "::", ":%%%:"] {
            let mut h = HeaderMap::new();
            h.insert("client-cert", bad.parse().unwrap());
            assert!(from_headers(&h).is_none(), "{bad}");
        }
    }
}
