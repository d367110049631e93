//! Clavis persistence. One [`Store`] serves SQLite and PostgreSQL with the same portable
//! SQL (runtime queries, `$N` placeholders); the few dialect differences stay in this
//! crate. Every method that touches tenant data takes the [`TenantId`] first, so no
//! query can forget the tenant.

mod audit;
mod client_entry;
mod client_listing;
mod client_tokens;
mod client_transfer;
mod clients;
mod db;
mod device_codes;
mod grants;
mod group_commit;
mod hydra_db;
mod keys;
mod logouts;
mod name_search;
mod secrets;
mod tenants;
mod trusted_issuers;

pub use audit::AuditEntry;
pub use client_entry::{ClientEntry, MAX_ENTRIES_PER_READ};
pub use client_listing::ClientFilter;
pub use client_tokens::{RevokedCounts, StoredToken, TokenRevocation};
pub use client_transfer::{ImportItem, ImportOutcome};
pub use db::Store;
pub use device_codes::DeviceCodeRow;
pub use grants::{CodeRow, FlowHandle, FlowRow, LogoutRow, RefreshRow, SessionRow, Spend};
pub use hydra_db::HydraDb;
pub use keys::StoredKey;
pub use logouts::{LogoutDelivery, SessionClient};
pub use secrets::{SecretRecord, SecretStatus};
pub use tenants::TenantSettings;
pub use trusted_issuers::TrustedIssuer;

use clavis_core::TenantId;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key is taken (e.g. a `client_id`).
    #[error("already exists")]
    Conflict,
    /// A rule checked inside the transaction refused the write; the text says which.
    #[error("{0}")]
    Refused(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A database to import from is not what it should be (see `hydra_db`).
    #[error("{0}")]
    Unusable(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// The database could not be reached, or did not answer in time: an outage to retry
    /// (503), not a fault of the request or of the code.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else { return false };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
            // PostgreSQL: class 08 (connection exception), 57P01-03 (shutting down, cannot
            // connect now). SQLite: SQLITE_BUSY (5) after the busy timeout.
            sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "5")),
            _ => false,
        }
    }
}

/// Maps a unique-key violation to [`StoreError::Conflict`] (SQLite reports no constraint
/// names, so the kind is all we can go by).
pub(crate) fn on_unique(e: sqlx::Error) -> StoreError {
    match e.as_database_error() {
        Some(d) if d.is_unique_violation() => StoreError::Conflict,
        _ => StoreError::Database(e),
    }
}

pub(crate) fn tenant_from_row(s: &str) -> Result<TenantId> {
    TenantId::parse(s).ok_or_else(|| StoreError::Corrupt(format!("tenant id {s:?}")))
}
