//! Serving one listener. This is what `axum::serve` does, plus what it cannot set: a
//! timer for hyper, so that a client that trickles its headers (slowloris) or keeps an
//! idle keep-alive connection open is cut off after `header_read_timeout`.

use std::net::SocketAddr;
use std::time::Duration;

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

/// Serves `router` until `stopped` turns true, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, router: Router, header_read_timeout: Duration, mut stopped: watch::Receiver<bool>) -> std::io::Result<()> {
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
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
            router.clone().call(req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
