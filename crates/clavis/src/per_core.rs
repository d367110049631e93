//! The public listener served by one thread per core, each with a single-threaded runtime
//! and its own socket on the same address (`SO_REUSEPORT`: the kernel spreads connections
//! over the sockets). A connection stays on the thread that accepted it, so a request is
//! read, answered and written without waking another thread: on the token endpoint that
//! handoff (futex wake-ups, context switches, work stealing) cost more CPU than parsing and
//! JSON together. The admin and mutual-TLS listeners and the background tasks stay on the
//! main multi-threaded runtime.
//!
//! What runs on these threads: the connections and what their requests spawn. Database
//! connections opened by a request belong to the runtime of that request's thread, which is
//! why the threads keep their runtimes until [`PerCore::release`], after the store closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::{oneshot, watch};

/// How many threads serve the public listener: one per core the process may use (its
/// CPU quota, in a container). Linux balances a `SO_REUSEPORT` group's connections; other
/// systems give them all to one socket, so they get one thread.
pub fn threads() -> usize {
    if cfg!(target_os = "linux") {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    }
}

/// The public listener's sockets, bound and listening, not yet served.
pub struct Bound {
    pub addr: SocketAddr,
    sockets: Vec<std::net::TcpListener>,
}

/// The threads serving the public listener.
pub struct PerCore {
    /// Each thread's end of serving (after its in-flight requests finished).
    pub served: Vec<oneshot::Receiver<std::io::Result<()>>>,
    release: watch::Sender<bool>,
}

/// Binds `threads` sockets to `addr` (the first picks the port when it is 0).
pub fn bind(addr: SocketAddr, threads: usize) -> anyhow::Result<Bound> {
    let context = || format!("binding public listener {addr}");
    // Every socket of a SO_REUSEPORT group may bind a port that another of the group
    // holds, so a second server started on this port would silently take half of its
    // connections. A plain bind first fails as any server's would when the port is taken.
    if addr.port() != 0 {
        drop(std::net::TcpListener::bind(addr).with_context(context)?);
    }
    let mut sockets = vec![reuseport_listener(addr).with_context(context)?];
    let addr = sockets[0].local_addr()?;
    for _ in 1..threads {
        sockets.push(reuseport_listener(addr).with_context(context)?);
    }
    Ok(Bound { addr, sockets })
}

fn reuseport_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

impl Bound {
    /// Serves `router` on a thread per socket until `stopped` turns true.
    pub fn serve(
        self,
        router: axum::Router,
        header_read_timeout: Duration,
        tls: Option<Arc<rustls::ServerConfig>>,
        stopped: watch::Receiver<bool>,
    ) -> anyhow::Result<PerCore> {
        let (release, released) = watch::channel(false);
        let mut served = Vec::with_capacity(self.sockets.len());
        for (index, socket) in self.sockets.into_iter().enumerate() {
            let (served_tx, served_rx) = oneshot::channel();
            let (router, tls, stopped, mut released) = (router.clone(), tls.clone(), stopped.clone(), released.clone());
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting a listener runtime")?;
            std::thread::Builder::new()
                .name(format!("clavis-public-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let result = match tokio::net::TcpListener::from_std(socket) {
                            Ok(listener) => crate::serve::serve(listener, router, header_read_timeout, tls, stopped).await,
                            Err(e) => Err(e),
                        };
                        let _ = served_tx.send(result);
                        // Also ends when the server is dropped without a shutdown.
                        let _ = released.wait_for(|r| *r).await;
                    })
                })
                .context("starting a listener thread")?;
            served.push(served_rx);
        }
        Ok(PerCore { served, release })
    }
}

impl PerCore {
    /// Lets the threads end (their runtimes drop what the requests left).
    pub fn release(&self) {
        let _ = self.release.send(true);
    }
}
