//! An example login & consent app for Clavis. Clavis (like Ory Hydra) does not show any
//! page itself: `/oauth2/auth` sends the browser here with a `login_challenge`, this app
//! authenticates the user against a users file and accepts the challenge through Clavis's
//! admin API, then does the same for the `consent_challenge`.
//!
//! The binary is `main.rs`; tests build the same [`router`] and [`serve`] it on a listener
//! of their own.

pub mod admin_api;
mod claims;
mod csrf;
pub mod pages;
mod routes;
pub mod users;

use std::future::Future;
use std::sync::Arc;

use admin_api::AdminApi;
use users::Users;

/// Behaviour settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// `remember_for` (seconds) when the user ticks "remember me" / "remember this decision".
    pub remember_for: i64,
    /// Mark the CSRF cookie `Secure` (when the app is served over HTTPS).
    pub secure_cookies: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { remember_for: 3600, secure_cookies: false }
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    admin: AdminApi,
    users: Arc<Users>,
    csrf: csrf::Csrf,
    options: Options,
}

impl AppState {
    pub fn new(admin: AdminApi, users: Users, options: Options) -> Self {
        Self(Arc::new(Inner { admin, users: Arc::new(users), csrf: csrf::Csrf::default(), options }))
    }

    pub fn admin(&self) -> &AdminApi {
        &self.0.admin
    }
}

/// The app's routes: `/login`, `/consent` (GET shows, POST submits) and `/healthz`.
pub fn router(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serves `router` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
