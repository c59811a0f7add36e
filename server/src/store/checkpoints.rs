//! Moving SQLite's write-ahead log into the database file off the request path.
//!
//! By default SQLite checkpoints inside whichever commit fills the log past 1,000 pages, so
//! one request in every few hundred waits for the copy and its `fsync`. Hatchery turns that
//! off on its connections and runs a passive checkpoint in a background task instead, a
//! second after commits happen; a passive checkpoint never blocks readers or writers. With
//! no commits the task sleeps. After each checkpoint the log's size on disk is published as
//! a gauge, and a log past 32 MiB that a passive checkpoint could not copy whole (readers
//! held it back) is emptied with a truncating one. The task is supervised: if it ever
//! fails, it is started again.

use std::{path::PathBuf, sync::Arc, time::Duration};

use prometheus::IntGauge;
use sqlx::SqlitePool;
use tokio::sync::Notify;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// How long after a commit the checkpoint runs, so that a burst of commits shares one.
const AFTER_COMMIT: Duration = Duration::from_secs(1);

/// The largest log SQLite keeps on disk after a checkpoint has emptied it, in bytes.
pub const LOG_SIZE_LIMIT: &str = "33554432";

/// The log size past which a truncating checkpoint runs, in bytes, when the passive one
/// could not copy the whole log (readers held it back). A truncating checkpoint waits for
/// readers and holds writers up, so it is not run while passive ones keep up: under a
/// steady 500 writes a second the log passes 32 MiB between them, and truncating there
/// tripled the tail latency of webhook intake.
const TRUNCATE_ABOVE: u64 = 32 << 20;

/// How long the supervisor waits before starting a failed checkpoint task again.
const RESTART_AFTER: Duration = Duration::from_secs(1);

/// Wakes the checkpoint task on every commit. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Commits(Arc<Notify>);

impl Commits {
    /// Tells the checkpoint task a transaction committed; called by SQLite's commit hook.
    pub fn committed(&self) {
        self.0.notify_one();
    }

    /// Starts the tracked task that checkpoints `pool`'s log (the file `log`) after commits
    /// and sets `log_bytes` to its size, until `stop`; started again if it fails.
    pub fn start(
        self,
        pool: SqlitePool,
        log: PathBuf,
        log_bytes: IntGauge,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) {
        tasks.spawn(supervise(stop.clone(), move || {
            self.clone()
                .run(pool.clone(), log.clone(), log_bytes.clone(), stop.clone())
        }));
    }

    async fn run(
        self,
        pool: SqlitePool,
        log: PathBuf,
        log_bytes: IntGauge,
        stop: CancellationToken,
    ) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.0.notified() => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(AFTER_COMMIT) => {}
            }
            let kept_up = checkpoint(&pool, "PASSIVE").await;
            let mut size = log_size(&log).await;
            if size > TRUNCATE_ABOVE && !kept_up {
                tracing::warn!(
                    bytes = size,
                    "the write-ahead log is over its limit; truncating it"
                );
                checkpoint(&pool, "TRUNCATE").await;
                size = log_size(&log).await;
            }
            log_bytes.set(i64::try_from(size).unwrap_or(i64::MAX));
        }
    }
}

/// Runs the task `start` makes until it returns or `stop` is cancelled; when the task
/// panics, logs it and makes a new one a moment later.
async fn supervise<F>(stop: CancellationToken, start: impl Fn() -> F)
where
    F: Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(start()).await {
            Ok(()) => return,
            Err(err) => {
                tracing::error!(error = %err, "the checkpoint task failed; starting it again");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RESTART_AFTER) => {}
        }
    }
}

/// Runs a checkpoint; returns whether it copied every frame of the log into the database
/// (so that the next write starts the log over).
async fn checkpoint(pool: &SqlitePool, mode: &str) -> bool {
    // (whether it was blocked, frames in the log, frames copied)
    match sqlx::query_as::<_, (i64, i64, i64)>(&format!("PRAGMA wal_checkpoint({mode})"))
        .fetch_one(pool)
        .await
    {
        Ok((blocked, frames, copied)) => blocked == 0 && copied >= frames,
        Err(err) => {
            tracing::warn!(error = %err, mode, "cannot checkpoint the write-ahead log");
            false
        }
    }
}

/// The size of the log file, 0 when there is none.
async fn log_size(log: &PathBuf) -> u64 {
    tokio::fs::metadata(log)
        .await
        .map_or(0, |metadata| metadata.len())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_is_started_again_until_it_ends() {
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = starts.clone();
        supervise(CancellationToken::new(), move || {
            let start = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(start >= 2, "the task breaks on its first two starts");
            }
        })
        .await;
        assert_eq!(starts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_the_supervision_of_a_failing_task() {
        let stop = CancellationToken::new();
        let starts = Arc::new(AtomicUsize::new(0));
        let counted = starts.clone();
        let supervised = tokio::spawn(supervise(stop.clone(), move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { panic!("the task always breaks") }
        }));
        tokio::time::sleep(RESTART_AFTER * 3 / 2).await;
        stop.cancel();
        supervised.await.unwrap();
        assert_eq!(starts.load(Ordering::SeqCst), 2);
    }
}
