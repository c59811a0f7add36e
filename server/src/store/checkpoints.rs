//! Moving SQLite's write-ahead log into the database file off the request path.
//!
//! By default SQLite checkpoints inside whichever commit fills the log past 1,000 pages, so
//! one request in every few hundred waits for the copy and its `fsync`. Hatchery turns that
//! off on its connections and runs a passive checkpoint in a background task instead, a
//! second after commits happen; a passive checkpoint never blocks readers or writers. With
//! no commits the task sleeps.

use std::{sync::Arc, time::Duration};

use sqlx::SqlitePool;
use tokio::sync::Notify;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// How long after a commit the checkpoint runs, so that a burst of commits shares one.
const AFTER_COMMIT: Duration = Duration::from_secs(1);

/// The largest log SQLite keeps on disk after a checkpoint has emptied it, in bytes.
pub const LOG_SIZE_LIMIT: &str = "33554432";

/// Wakes the checkpoint task on every commit. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Commits(Arc<Notify>);

impl Commits {
    /// Tells the checkpoint task a transaction committed; called by SQLite's commit hook.
    pub fn committed(&self) {
        self.0.notify_one();
    }

    /// Starts the tracked task that checkpoints `pool`'s log after commits, until `stop`.
    pub fn start(self, pool: SqlitePool, tasks: &TaskTracker, stop: CancellationToken) {
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = self.0.notified() => {}
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(AFTER_COMMIT) => {}
                }
                if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %err, "cannot checkpoint the write-ahead log");
                }
            }
        });
    }
}
