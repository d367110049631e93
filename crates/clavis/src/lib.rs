//! The Clavis server as a library: configuration, and starting both listeners. The
//! `clavis` binary and the integration tests both start servers through [`start`].

pub mod config;
pub mod logging;
mod serve;
pub mod tls;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clavis_core::TenantId;
use clavis_http::AppState;
use clavis_service::{Actor, Services, Settings, Store};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::Config;

/// A running server. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// The mutual-TLS listener's address, if it is configured.
    pub mtls_addr: Option<SocketAddr>,
    pub public_url: String,
    pub services: Services,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

/// Opens the database (creating and migrating it), then returns a connected store.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    }
    let store = Store::connect(&url).await.with_context(|| format!("connecting to {}", config.redacted_database_url()))?;
    store.migrate().await.context("running migrations")?;
    store.ensure_tenant(&TenantId::default_tenant(), clavis_core::time::now_unix()).await?;
    Ok(store)
}

/// Binds both listeners, prepares the database and starts serving.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    let store = open_store(&config).await?;
    let public =
        tokio::net::TcpListener::bind(config.public_addr).await.with_context(|| format!("binding public listener {}", config.public_addr))?;
    let admin = tokio::net::TcpListener::bind(config.admin_addr).await.with_context(|| format!("binding admin listener {}", config.admin_addr))?;
    let public_addr = public.local_addr()?;
    let admin_addr = admin.local_addr()?;
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let public_url = config.public_url.clone().unwrap_or_else(|| format!("{scheme}://{public_addr}"));
    let tls = config.tls.as_ref().map(|files| tls::server_config(files, false)).transpose().context("CLAVIS_TLS_CERT / CLAVIS_TLS_KEY")?;
    let mtls = match &config.mtls {
        None => None,
        Some(m) => {
            let listener = tokio::net::TcpListener::bind(m.addr).await.with_context(|| format!("binding mTLS listener {}", m.addr))?;
            let url = m.url.clone().unwrap_or_else(|| format!("https://{}", listener.local_addr().expect("bound")));
            Some((listener, url, tls::server_config(&m.files, true).context("CLAVIS_MTLS_CERT / CLAVIS_MTLS_KEY")?))
        }
    };
    let settings = Settings {
        public_url: public_url.trim_end_matches('/').to_owned(),
        access_token_ttl_secs: config.access_token_ttl_secs,
        client_cache_ttl_secs: config.client_cache_ttl_secs,
        login_url: config.login_url.clone(),
        consent_url: config.consent_url.clone(),
        logout_url: config.logout_url.clone(),
        device_verification_url: config.device_verification_url.clone(),
        error_url: config.error_url.clone(),
        refresh_token_ttl_secs: config.refresh_token_ttl_secs,
        refresh_family_ttl_secs: config.refresh_family_ttl_secs,
        auth_code_ttl_secs: config.auth_code_ttl_secs,
        id_token_ttl_secs: config.id_token_ttl_secs,
        flow_ttl_secs: config.flow_ttl_secs,
        par_ttl_secs: config.par_ttl_secs,
        rotation_grace_secs: config.rotation_grace_secs,
        secret_sealing_key: config.secret_encryption_key,
        dcr_enabled: config.dcr_enabled,
        dpop_require_nonce: config.dpop_require_nonce,
        dcr_initial_access_token: config.dcr_initial_access_token.clone(),
        outbound_allow: config.outbound_allow.clone(),
        mtls_url: mtls.as_ref().map(|(_, url, _)| url.clone()),
        mtls_client_cas: config.mtls_client_cas.clone(),
    };
    let services = Services::new(settings, store);
    // Measured now, on an idle machine, rather than at the first failure under load.
    services.calibrate_failure_floor().await;
    if let Some((id, secret)) = &config.bootstrap {
        services
            .ensure_admin_client(&TenantId::default_tenant(), id, secret, &Actor("bootstrap".into()))
            .await
            .map_err(|e| anyhow::anyhow!("bootstrap client: {e}"))?;
    }
    let state = AppState::new(clavis_http::AppParts {
        services: services.clone(),
        internal_api_keys: Arc::new(config.internal_api_keys.clone()),
        metrics: Arc::default(),
        limits: Arc::new(clavis_http::oauth::Limits::new(config.token_rate_per_client, config.token_rate_per_ip)),
        trusted_proxies: config.trusted_proxies.clone(),
    });
    let (stop, stopped) = watch::channel(false);
    let header_read_timeout = std::time::Duration::from_secs(config.header_read_timeout_secs);
    let serve = |listener: tokio::net::TcpListener, router: axum::Router, tls: Option<Arc<rustls::ServerConfig>>| {
        tokio::spawn(serve::serve(listener, router, header_read_timeout, tls, stopped.clone()))
    };
    let mut tasks =
        vec![serve(public, clavis_http::public_router(state.clone()), tls.clone()), serve(admin, clavis_http::admin_router(state.clone()), tls)];
    let mut mtls_addr = None;
    if let Some((listener, url, config)) = mtls {
        mtls_addr = Some(listener.local_addr()?);
        // The same endpoints; a DPoP proof there names this listener's URL.
        let router = clavis_http::public_router(state).layer(axum::Extension(clavis_http::ListenerUrl(url)));
        tasks.push(serve(listener, router, Some(config)));
    }
    tasks.push(spawn_cleanup(services.clone(), config.cleanup_interval_secs, stopped.clone()));
    tasks.push(spawn_touch_writer(services.clone(), stopped.clone()));
    tracing::info!(%public_addr, %admin_addr, ?mtls_addr, %public_url, backend = services.backend(), "clavis listening");
    Ok(Server { public_addr, admin_addr, mtls_addr, public_url, services, stop, tasks })
}

/// Runs `work` every `interval` seconds, one interval from now, until the server stops.
fn spawn_every<F, Fut>(interval: u64, mut stopped: watch::Receiver<bool>, work: F) -> JoinHandle<std::io::Result<()>>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval.max(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate; start one interval from now
        loop {
            // Wait first, then work: the select's output holds no lock across the work.
            let stop = tokio::select! {
                _ = tick.tick() => false,
                _ = stopped.wait_for(|s| *s) => true,
            };
            if stop {
                return Ok(());
            }
            work().await;
        }
    })
}

/// Deletes expired rows every `interval` seconds until the server stops.
fn spawn_cleanup(services: Services, interval: u64, stopped: watch::Receiver<bool>) -> JoinHandle<std::io::Result<()>> {
    spawn_every(interval, stopped, move || {
        let services = services.clone();
        async move {
            match services.purge_expired(clavis_core::time::now_unix()).await {
                Ok(n) => tracing::debug!(rows = n, "expired rows removed"),
                Err(e) => tracing::warn!(error = %e, "cleanup failed"),
            }
        }
    })
}

/// Writes the secrets' queued `last_used_at` every second until the server stops (the last
/// ones are written by `Services::close`).
fn spawn_touch_writer(services: Services, stopped: watch::Receiver<bool>) -> JoinHandle<std::io::Result<()>> {
    spawn_every(1, stopped, move || {
        let services = services.clone();
        async move {
            if let Err(e) = services.write_touches().await {
                tracing::warn!(error = %e, "could not record secrets' last_used_at");
            }
        }
    })
}

impl Server {
    /// Stops accepting connections, finishes in-flight requests, closes the database.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.services.close().await;
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}
