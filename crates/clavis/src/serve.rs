//! Serving one listener. This is what `axum::serve` does, plus what it cannot set: a
//! timer for hyper, so that a client that trickles its headers (slowloris) or keeps an
//! idle keep-alive connection open is cut off after `header_read_timeout`, and TLS
//! (`crate::tls`): a handshake must finish within the same time, and the client
//! certificate it carried reaches every request of the connection as an extension.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clavis_core::certificate::{ClientCertificate, MAX_CERT_BYTES};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service;

/// The largest request head (line and headers) read; a larger one is answered 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Serves `router` until `stopped` turns true, then lets in-flight requests finish; over
/// TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_read_timeout).max_header_size(MAX_HEAD_BYTES);
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(async move {
        let _ = stopped.wait_for(|s| *s).await;
    });
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept:
                    // back off rather than spin, and keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Responses are small and written whole: do not hold them back for Nagle.
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = move |certificate: Option<ClientCertificate>| {
            hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
                if let Some(c) = &certificate {
                    req.extensions_mut().insert(c.clone());
                }
                router.clone().call(req)
            })
        };
        match &tls {
            None => {
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service(None)));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let (acceptor, http, watcher) = (acceptor.clone(), http.clone(), graceful.watcher());
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(header_read_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => return tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => return tracing::debug!("TLS handshake timed out"),
                    };
                    let certificate = stream.get_ref().1.peer_certificates().and_then(client_certificate);
                    if let Err(e) = watcher.watch(http.serve_connection(TokioIo::new(stream), service(certificate))).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The client's certificate and intermediates from the handshake, if it sent one of a
/// sane size.
fn client_certificate(chain: &[rustls_pki_types::CertificateDer<'_>]) -> Option<ClientCertificate> {
    let (first, rest) = chain.split_first()?;
    if chain.len() > 10 || chain.iter().any(|c| c.len() > MAX_CERT_BYTES) {
        return None;
    }
    Some(ClientCertificate { der: first.to_vec(), intermediates: rest.iter().map(|c| c.to_vec()).collect() })
}
