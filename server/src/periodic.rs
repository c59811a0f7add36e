//! Housekeeping that repeats: a tracked task that runs a job at a fixed interval (the
//! first time at once) until it is told to stop, and logs what each run did.

use std::{future::Future, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// Spawns on `tasks` a job that runs every `every` until `stop`: `job` answers how many
/// things it removed (logged as `what` when more than none) or why it failed (logged as an
/// error; the next run tries again).
pub fn every<F, Fut, E>(
    tasks: &TaskTracker,
    stop: CancellationToken,
    every: Duration,
    what: &'static str,
    mut job: F,
) where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<u64, E>> + Send,
    E: std::fmt::Display,
{
    tasks.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            match job().await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "{what}"),
                Err(err) => tracing::error!(error = %err, "{what}: failed"),
            }
        }
    });
}
