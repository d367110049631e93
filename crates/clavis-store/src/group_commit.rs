//! Group commit for SQLite's hot writes (refresh-token rotation, the rows issued with a
//! token). SQLite commits one transaction at a time and each commit is an fsync
//! (`synchronous = FULL`), so one commit per write caps throughput at the disk's fsync rate.
//! Here one task owns the writing: it takes every write waiting, runs each in a savepoint of
//! one transaction (a write that fails is rolled back alone), commits once, and only then
//! answers each caller. So a write is durable before its caller hears of it, as with a
//! commit of its own, while the fsync is shared by every request that arrived meanwhile.
//! PostgreSQL does not need this: concurrent commits share WAL flushes there already.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::{Result, StoreError};

/// Writes one transaction holds at most.
const MAX_BATCH: usize = 256;
/// Writes waiting for the writer at most; callers beyond wait for room.
const QUEUE: usize = 4096;

/// A write as the writer runs it: the op in its savepoint, then, once the transaction's
/// fate is known, the answer to its caller.
/// The connection goes in and comes back out (an owned value keeps the futures `'static`).
type Job = Box<dyn FnOnce(Conn) -> BoxFuture<'static, (Conn, Answer)> + Send>;
type Conn = PoolConnection<Sqlite>;
type Answer = Box<dyn FnOnce(Option<String>) + Send>;

#[derive(Clone)]
pub(crate) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer on `pool`; it takes `write_lock` for each transaction, as every
    /// other SQLite writer does.
    pub fn start(pool: SqlitePool, write_lock: Arc<Mutex<()>>) -> Self {
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let _w = write_lock.lock().await;
                let failure = match pool.acquire().await {
                    Ok(conn) => run_batch(conn, &mut batch).await,
                    Err(e) => {
                        // Dropping a job drops its caller's reply: the caller gets an error.
                        batch.clear();
                        Err(e.to_string())
                    }
                };
                if let Err(why) = failure {
                    tracing::warn!(error = %why, "a group commit failed");
                }
            }
        });
        Self { jobs }
    }

    /// Runs `op` in the next group transaction and returns its result once that committed.
    pub async fn run<T: Send + 'static>(&self, op: impl FnOnce(Conn) -> BoxFuture<'static, (Conn, Result<T>)> + Send + 'static) -> Result<T> {
        let (reply, answer) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |mut conn: Conn| {
            Box::pin(async move {
                let result = match exec(&mut conn, "SAVEPOINT grouped").await {
                    Err(e) => Err(StoreError::from(e)),
                    Ok(_) => {
                        let (back, r) = op(conn).await;
                        conn = back;
                        let undone = match r.is_ok() {
                            true => Ok(()),
                            false => exec(&mut conn, "ROLLBACK TO grouped").await,
                        };
                        match undone.and(exec(&mut conn, "RELEASE grouped").await) {
                            Ok(()) => r,
                            Err(e) => Err(StoreError::from(e)),
                        }
                    }
                };
                let answer: Answer = Box::new(move |failed: Option<String>| {
                    let result = match failed {
                        None => result,
                        Some(why) => Err(StoreError::Database(sqlx::Error::Protocol(format!("group commit failed: {why}")))),
                    };
                    let _ = reply.send(result);
                });
                (conn, answer)
            })
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        answer.await.map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }
}

/// One transaction of `batch`'s writes; every caller is answered, committed or not.
async fn run_batch(mut conn: Conn, batch: &mut Vec<Job>) -> std::result::Result<(), String> {
    if let Err(e) = exec(&mut conn, "BEGIN IMMEDIATE").await {
        batch.clear();
        return Err(e.to_string());
    }
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let (back, answer) = job(conn).await;
        conn = back;
        answers.push(answer);
    }
    match exec(&mut conn, "COMMIT").await {
        Ok(_) => {
            answers.into_iter().for_each(|a| a(None));
            Ok(())
        }
        Err(e) => {
            let why = e.to_string();
            let _ = exec(&mut conn, "ROLLBACK").await;
            answers.into_iter().for_each(|a| a(Some(why.clone())));
            Err(why)
        }
    }
}

/// Runs statements without results (named, so that the futures above stay `Send` for every
/// lifetime of the connection's borrow).
fn exec<'a>(conn: &'a mut Conn, sql: &'static str) -> BoxFuture<'a, sqlx::Result<()>> {
    Box::pin(async move { sqlx::query(sql).execute(&mut **conn).await.map(|_| ()) })
}

/// Runs a write body on `conn`: on SQLite in the next group commit (see `group_commit`), on
/// PostgreSQL on a connection of the pool, committed on its own. The body returns a `Result`.
macro_rules! grouped {
    ($store:expr, $conn:ident => $body:expr) => {
        match &$store.group {
            Some(group) => {
                group
                    .run(move |mut c| {
                        Box::pin(async move {
                            let r = async {
                                let $conn: &mut sqlx::SqliteConnection = &mut *c;
                                $body
                            }
                            .await;
                            (c, r)
                        })
                    })
                    .await
            }
            // PostgreSQL (every SQLite store has a group).
            None => $crate::db::on_pool!($store, pool => {
                let mut c = pool.acquire().await?;
                let $conn = &mut *c;
                $body
            }),
        }
    };
}
pub(crate) use grouped;
