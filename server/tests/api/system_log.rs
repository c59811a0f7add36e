//! The system log on a real database: the writer writes at most its pace a second, and
//! what the queue took is written in the end rather than lost; a search finds text
//! anywhere in a message through the index, and pruned records leave it.

use std::time::{Duration, Instant};

use hatchery_server::{
    audit::system_log::{self, SystemLogConfig},
    store::LogFilter,
};
use hatchery_shared::api::logs::{LogCategory, LogLevel, LogRecord};
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

    // Batches of 25 (a twentieth of a second's records) are written 50 ms apart.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let early = written().await;
    assert!(
        (1..=600).contains(&early),
        "{early} records written in the first second, at 500 a second"
    );
    eventually("every queued record is written", async || {
        (written().await == 3_000).then_some(())
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "3,000 records at 500 a second take 6 s"
    );
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_search_finds_text_anywhere_in_any_case_and_forgets_pruned_records() {
    let app = spawn_app().await;
    let record = |message: &str| LogRecord {
        id: hatchery_server::store::new_id(),
        at: hatchery_server::store::rfc3339(chrono::Utc::now()),
        level: LogLevel::Warn,
        category: LogCategory::Runner,
        message: message.to_owned(),
        fields: serde_json::Map::new(),
        request_id: None,
        run_id: None,
    };
    let older = [
        record("Disk FULL on /var"),
        record("100% of the \"quota\" used"),
        record("an ok line"),
    ];
    app.store.write_log_records(&older).await.unwrap();
    let found = async |text: &str| {
        let filter = LogFilter {
            text: Some(text.to_owned()),
            ..LogFilter::default()
        };
        let records = app.store.log_records(&filter, None, 50).await.unwrap();
        records
            .into_iter()
            .map(|record| record.message)
            .collect::<Vec<_>>()
    };
    assert_eq!(found("disk full").await, ["Disk FULL on /var"]);
    assert_eq!(found("SK FU").await, ["Disk FULL on /var"], "inside words");
    assert_eq!(found("100%").await, ["100% of the \"quota\" used"]);
    assert_eq!(found("\"QUOTA\"").await, ["100% of the \"quota\" used"]);
    assert_eq!(found("ok").await, ["an ok line"], "shorter than a trigram");
    assert!(found("1_0").await.is_empty(), "_ is no wildcard");
    assert!(found("disk empty").await.is_empty());

    tokio::time::sleep(Duration::from_millis(5)).await;
    let cut = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.store
        .write_log_records(&[record("disk full again")])
        .await
        .unwrap();
    assert_eq!(app.store.prune_log_records(cut).await.unwrap(), 3);
    assert_eq!(found("DISK FULL").await, ["disk full again"]);
    assert!(found("quota").await.is_empty());
    app.shutdown().await;
}
