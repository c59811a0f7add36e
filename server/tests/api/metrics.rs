//! `GET /metrics` after real traffic: every family of the server is there, with the
//! samples the traffic made, labelled by route template rather than raw path.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{eventually, spawn_app};

/// Every metric family the server exports (the system log's is tested with the binary).
const FAMILIES: &[&str] = &[
    "hatchery_http_requests_total",
    "hatchery_http_request_duration_seconds",
    "hatchery_runs_started_total",
    "hatchery_runs_ended_total",
    "hatchery_run_duration_seconds",
    "hatchery_run_tokens_total",
    "hatchery_run_cost_micros_total",
    "hatchery_provider_first_token_seconds",
    "hatchery_provider_errors_total",
    "hatchery_tool_calls_total",
    "hatchery_schedule_lag_seconds",
    "hatchery_schedule_skips_total",
    "hatchery_webhook_deliveries_total",
    "hatchery_db_connections",
    "hatchery_db_query_errors_total",
    "hatchery_ws_connections",
    "hatchery_sqlite_wal_bytes",
];

#[tokio::test]
async fn every_family_is_scraped_with_what_the_traffic_did() {
    let app = spawn_app().await;
    let agent: Value = app
        .json(
            Method::POST,
            "/api/agents",
            Some("alice"),
            Some(json!({ "name": "Counted", "task_instructions": "go" })),
        )
        .await;
    let id = agent["id"].as_str().unwrap();
    let read = app
        .call(
            Method::GET,
            &format!("/api/agents/{id}"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(read.status(), 200);
    let started = app
        .call(
            Method::POST,
            &format!("/api/agents/{id}/run"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(started.status(), 202);
    let hook = app
        .call(
            Method::POST,
            "/api/hooks/no-such-trigger",
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(hook.status(), 404);

    // No model file here: the run fails on the local model.
    let failed = r#"hatchery_runs_ended_total{status="failed",trigger="manual"}"#;
    eventually("the run's end is counted", async || {
        (app.metric(failed).await == 1.0).then_some(())
    })
    .await;
    let text = app
        .call(Method::GET, "/metrics", Some("admin"), None)
        .await
        .text()
        .await
        .unwrap();
    for family in FAMILIES {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} is missing from /metrics"
        );
    }
    for (sample, at_least) in [
        (r#"hatchery_runs_started_total{trigger="manual"}"#, 1.0),
        (
            r#"hatchery_provider_errors_total{kind="local_model",provider="local"}"#,
            1.0,
        ),
        (
            r#"hatchery_webhook_deliveries_total{outcome="not_found"}"#,
            1.0,
        ),
        (
            r#"hatchery_http_requests_total{method="GET",route="/api/agents/{id}",status="200"}"#,
            1.0,
        ),
        (
            r#"hatchery_http_requests_total{method="POST",route="/api/agents",status="201"}"#,
            1.0,
        ),
        (
            r#"hatchery_run_duration_seconds_count{trigger="manual"}"#,
            1.0,
        ),
    ] {
        let value = app.metric(sample).await;
        assert!(value >= at_least, "{sample} is {value}");
    }
    assert!(
        !text.contains(&format!("route=\"/api/agents/{id}\"")),
        "routes are templates, never raw paths"
    );
}
