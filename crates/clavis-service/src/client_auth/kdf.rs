//! The argon2id verifications of this node: at most [`KDF_CONCURRENCY`] at a time, each
//! in a memory block of its own, allocated for it and freed after (19 MiB that an idle
//! server does not keep resident; the allocation costs little beside the hash). Beyond that a
//! verification is refused at once (the caller answers 429), never queued. A client holds
//! at most one slot at a time, so requests naming one client (say, an attacker's wrong
//! secrets against a costly imported hash) leave the other slots to other clients.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clavis_core::secret;
use tokio::sync::Semaphore;

use crate::Services;

/// argon2id verifications that may run at once (each holds 19 MiB).
const KDF_CONCURRENCY: usize = 2;

pub(crate) struct Kdf {
    permits: Arc<Semaphore>,
    /// The clients whose verification holds a slot now.
    owners: Arc<Mutex<HashSet<String>>>,
    /// How long one verification took when measured (the failure floor's basis).
    measured: tokio::sync::OnceCell<Duration>,
}

/// No KDF slot was free.
pub(crate) struct Busy;

impl Kdf {
    pub fn new() -> Self {
        Self { permits: Arc::new(Semaphore::new(KDF_CONCURRENCY)), owners: Arc::default(), measured: Default::default() }
    }

    /// Runs `f` with a memory block off the async threads; `Err(Busy)` at once when every
    /// slot is taken and `wait` is false. The slot stays taken until `f` has returned and
    /// its block is freed, even if the caller is cancelled.
    pub async fn run<R: Send + 'static>(&self, wait: bool, f: impl FnOnce(&mut secret::KdfMemory) -> R + Send + 'static) -> Result<R, Busy> {
        let permit = if wait {
            self.permits.clone().acquire_owned().await.map_err(|_| Busy)?
        } else {
            self.permits.clone().try_acquire_owned().map_err(|_| Busy)?
        };
        tokio::task::spawn_blocking(move || {
            let mut mem = secret::KdfMemory::new();
            let out = f(&mut mem);
            drop(mem);
            drop(permit);
            out
        })
        .await
        .map_err(|_| Busy)
    }

    /// As `run` without waiting, for a verification of `owner`'s secret: `Err(Busy)` at once
    /// also when `owner` already holds a slot.
    pub async fn run_for<R: Send + 'static>(&self, owner: String, f: impl FnOnce(&mut secret::KdfMemory) -> R + Send + 'static) -> Result<R, Busy> {
        if !self.owners.lock().expect("kdf owners").insert(owner.clone()) {
            return Err(Busy);
        }
        // Released when `f` has run (or was never started), even if the caller is cancelled.
        struct Release(Arc<Mutex<HashSet<String>>>, String);
        impl Drop for Release {
            fn drop(&mut self) {
                self.0.lock().expect("kdf owners").remove(&self.1);
            }
        }
        let release = Release(self.owners.clone(), owner);
        self.run(false, move |mem| {
            let out = f(mem);
            drop(release);
            out
        })
        .await
    }

    /// What one verification costs on this machine, measured once.
    pub async fn cost(&self) -> Duration {
        *self
            .measured
            .get_or_init(|| async {
                // Hashing does the same work as verifying, with the same parameters.
                let started = Instant::now();
                match self.run(true, |mem| secret::hash_supplied("calibration", mem)).await {
                    Ok(_) => started.elapsed(),
                    Err(Busy) => Duration::from_millis(50),
                }
            })
            .await
    }
}

impl Services {
    /// Hashes a caller-chosen secret (argon2id) through the KDF bound, waiting for a slot:
    /// only authenticated admin calls choose secrets.
    pub(crate) async fn hash_supplied_secret(&self, value: &str) -> Result<String, crate::ServiceError> {
        let v = value.to_owned();
        self.kdf.run(true, move |mem| secret::hash_supplied(&v, mem)).await.map_err(|Busy| crate::ServiceError::internal("hashing failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_holds_at_most_one_slot() {
        let kdf = Arc::new(Kdf::new());
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let (finish_tx, finish_rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let kdf = kdf.clone();
            tokio::spawn(async move {
                kdf.run_for("t/slow".into(), move |_| {
                    started_tx.send(()).unwrap();
                    finish_rx.recv().unwrap();
                })
                .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap()).await.unwrap();
        assert!(kdf.run_for("t/slow".into(), |_| ()).await.is_err(), "the same client: refused at once");
        assert!(kdf.run_for("t/other".into(), |_| ()).await.is_ok(), "another client gets the other slot");
        finish_tx.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        assert!(kdf.run_for("t/slow".into(), |_| ()).await.is_ok(), "the slot is released");
    }
}
