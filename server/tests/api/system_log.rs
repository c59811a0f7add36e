//! The system log's writer, on a real database: it writes at most its pace a second, and
//! what the queue took is written in the end rather than lost.

use std::time::{Duration, Instant};

use hatchery_server::{
    audit::system_log::{self, SystemLogConfig},
    store::LogFilter,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing_subscriber::{Layer, filter::filter_fn, layer::SubscriberExt};

use crate::helpers::{eventually, spawn_app};

#[tokio::test]
async fn a_burst_is_written_at_the_writers_pace_and_nothing_queued_is_lost() {
    let app = spawn_app().await;
    let config = SystemLogConfig {
        max_per_second: 500,
        ..SystemLogConfig::default()
    };
    let (layer, intake) = system_log::channel(&config);
    let tasks = TaskTracker::new();
    let stop = CancellationToken::new();
    system_log::start_writer(
        intake,
        app.store.clone(),
        app.realtime.clone(),
        config.max_per_second,
        &tasks,
        stop.clone(),
    );
    let keeper = layer.keeper();
    let subscriber = tracing_subscriber::registry().with(layer.with_filter(filter_fn(keeper)));
    tracing::subscriber::with_default(subscriber, || {
        for n in 0..3_000 {
            tracing::warn!(target: "hatchery_server::runner", n, "a burst of warnings");
        }
    });
    let started = Instant::now();
    let written = || async {
        app.store
            .log_records(&LogFilter::default(), None, 10_000)
            .await
            .unwrap()
            .len()
    };

    // A batch of at most 1,000 is written, then the writer waits 2 s (1,000 at 500 a
    // second) before the next.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let early = written().await;
    assert!(
        (1..=1_000).contains(&early),
        "{early} records written in the first second, at 500 a second"
    );
    eventually("every queued record is written", async || {
        (written().await == 3_000).then_some(())
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "3,000 records at 500 a second go in batches 2 s apart"
    );
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    app.shutdown().await;
}
