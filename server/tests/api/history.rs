//! Run history and usage over a known data set: pages newest first, every filter, who sees
//! what, aggregates per day, agent and model, and the query plan of an agent's runs.

use chrono::{DateTime, Utc};
use hatchery_server::store::{RunEnd, RunFilter};
use hatchery_shared::api::{
    Page,
    runs::{Run, RunStatus, RunTrigger},
    usage::Usage,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{SqlParam, TestApp, spawn_app};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

/// A run as the data set has it.
struct Seed<'a> {
    thread: (&'a str, &'a str),
    trigger: RunTrigger,
    status: RunStatus,
    model: &'a str,
    tokens: (u64, u64),
    cost_micros: u64,
    created_at: &'a str,
}

/// Stores `seed` through the store (a run started and ended as the runner would) and moves
/// its creation to `created_at`; returns its id.
async fn seed(app: &TestApp, seed: Seed<'_>) -> String {
    let (agent, thread) = seed.thread;
    let run = app
        .stored_run(agent, thread, seed.trigger, seed.model, "go")
        .await;
    let end = RunEnd {
        status: seed.status,
        prompt_tokens: seed.tokens.0,
        completion_tokens: seed.tokens.1,
        cost_micros: seed.cost_micros,
        error: None,
    };
    app.store.finish_run(&run.id, &end).await.unwrap();
    app.data
        .execute(
            "UPDATE runs SET created_at = $1 WHERE id = $2",
            &[SqlParam::Time(at(seed.created_at)), SqlParam::Text(&run.id)],
        )
        .await;
    run.id
}

/// The data set: alice's agents "Writer" (r1–r4) and "Reader" (r5, r6), bob's (r7).
struct DataSet {
    writer: String,
    reader: String,
    runs: Vec<String>,
}

async fn data_set(app: &TestApp) -> DataSet {
    let writer = app.agent_with_thread("alice", "Writer").await;
    let reader = app.agent_with_thread("alice", "Reader").await;
    let bobs = app.agent_with_thread("bob", "Bob's").await;
    let w = (writer.0.as_str(), writer.1.as_str());
    let r = (reader.0.as_str(), reader.1.as_str());
    let b = (bobs.0.as_str(), bobs.1.as_str());
    use RunStatus::*;
    use RunTrigger::*;
    let rows = [
        (
            w,
            Chat,
            Succeeded,
            "m-small",
            (100, 50),
            1_000,
            "2026-11-01T10:00:00Z",
        ),
        (
            w,
            Manual,
            Failed,
            "m-small",
            (200, 0),
            2_000,
            "2026-11-01T18:00:00Z",
        ),
        (
            w,
            Chat,
            Succeeded,
            "m-large",
            (300, 100),
            30_000,
            "2026-11-02T09:00:00Z",
        ),
        (
            w,
            Schedule,
            Succeeded,
            "m-small",
            (50, 50),
            500,
            "2026-11-03T12:00:00Z",
        ),
        (
            r,
            Webhook,
            Succeeded,
            "m-large",
            (1_000, 500),
            60_000,
            "2026-11-02T23:59:59Z",
        ),
        (
            r,
            Chat,
            Cancelled,
            "m-small",
            (10, 0),
            100,
            "2026-11-03T00:00:00Z",
        ),
        (
            b,
            Chat,
            Succeeded,
            "m-large",
            (999, 999),
            99_999,
            "2026-11-02T08:00:00Z",
        ),
    ];
    let mut runs = Vec::new();
    for (thread, trigger, status, model, tokens, cost_micros, created_at) in rows {
        let seeded = Seed {
            thread,
            trigger,
            status,
            model,
            tokens,
            cost_micros,
            created_at,
        };
        runs.push(seed(app, seeded).await);
    }
    DataSet {
        writer: writer.0,
        reader: reader.0,
        runs,
    }
}

/// The ids of a page's runs, by their number in the data set (`r1` is `runs[0]`).
fn names(data: &DataSet, page: &Page<Run>) -> Vec<String> {
    page.items
        .iter()
        .map(|run| {
            let n = data.runs.iter().position(|id| *id == run.id).unwrap();
            format!("r{}", n + 1)
        })
        .collect()
}

async fn runs(app: &TestApp, who: &str, path: &str) -> Page<Run> {
    let response = app.call(Method::GET, path, Some(who), None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn runs_are_listed_newest_first_a_page_at_a_time() {
    let app = spawn_app().await;
    let data = data_set(&app).await;

    let all = runs(&app, "alice", "/api/runs").await;
    assert_eq!(names(&data, &all), ["r4", "r6", "r5", "r3", "r2", "r1"]);
    assert_eq!(all.next_cursor, None);

    let first = runs(&app, "alice", "/api/runs?limit=4").await;
    assert_eq!(names(&data, &first), ["r4", "r6", "r5", "r3"]);
    let cursor = first.next_cursor.expect("a second page");
    let second = runs(&app, "alice", &format!("/api/runs?limit=4&cursor={cursor}")).await;
    assert_eq!(names(&data, &second), ["r2", "r1"]);
    assert_eq!(second.next_cursor, None);

    let writer = runs(
        &app,
        "alice",
        &format!("/api/agents/{}/runs?limit=3", data.writer),
    )
    .await;
    assert_eq!(names(&data, &writer), ["r4", "r3", "r2"]);
    let cursor = writer.next_cursor.expect("a second page");
    let rest = format!("/api/agents/{}/runs?limit=3&cursor={cursor}", data.writer);
    assert_eq!(names(&data, &runs(&app, "alice", &rest).await), ["r1"]);

    // A run links to its thread, and says what it cost.
    let r5 = &all.items[2];
    assert_eq!(r5.trigger, RunTrigger::Webhook);
    assert!((r5.cost_usd - 0.06).abs() < 1e-9);
    assert_eq!(r5.created_at, "2026-11-02T23:59:59.000Z");
}

#[tokio::test]
async fn runs_are_filtered_by_status_trigger_agent_and_time() {
    let app = spawn_app().await;
    let data = data_set(&app).await;
    let cases = [
        ("/api/runs?status=failed".to_owned(), vec!["r2"]),
        ("/api/runs?trigger=chat".to_owned(), vec!["r6", "r3", "r1"]),
        (format!("/api/runs?agent={}", data.reader), vec!["r6", "r5"]),
        (
            // `from` counts, `to` does not: r6 was created at exactly `to`.
            "/api/runs?from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z".to_owned(),
            vec!["r5", "r3"],
        ),
        (
            format!(
                "/api/agents/{}/runs?status=succeeded&trigger=chat",
                data.writer
            ),
            vec!["r3", "r1"],
        ),
        ("/api/runs?status=running".to_owned(), vec![]),
    ];
    for (path, expected) in cases {
        assert_eq!(
            names(&data, &runs(&app, "alice", &path).await),
            expected,
            "{path}"
        );
    }
}

#[tokio::test]
async fn runs_are_shown_to_their_owner_and_admins_only() {
    let app = spawn_app().await;
    let data = data_set(&app).await;
    assert_eq!(names(&data, &runs(&app, "bob", "/api/runs").await), ["r7"]);
    // Another user's agent filter finds nothing of theirs; their agent's list is a 404.
    let path = format!("/api/runs?agent={}", data.writer);
    assert!(runs(&app, "bob", &path).await.items.is_empty());
    let writer = format!("/api/agents/{}/runs", data.writer);
    let response = app.call(Method::GET, &writer, Some("bob"), None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(runs(&app, "admin", &writer).await.items.len(), 4);

    let everyone = app
        .call(Method::GET, "/api/runs?scope=all", Some("alice"), None)
        .await;
    assert_eq!(everyone.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        runs(&app, "admin", "/api/runs?scope=all").await.items.len(),
        7
    );
    let anonymous = app.call(Method::GET, "/api/runs", None, None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_list_parameters_are_refused_with_a_reason() {
    let app = spawn_app().await;
    for path in [
        "/api/runs?status=exploded",
        "/api/runs?trigger=telepathy",
        "/api/runs?cursor=not-a-cursor",
        "/api/runs?from=yesterday",
        "/api/runs?from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z",
        "/api/usage?group_by=week",
        "/api/usage?days=0",
        "/api/usage?days=400",
    ] {
        let response = app.call(Method::GET, path, Some("alice"), None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = response.json().await.unwrap();
        assert!(
            !body["error"]["message"].as_str().unwrap().is_empty(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn usage_over_the_last_days_starts_at_midnight_utc_that_many_days_back() {
    let app = spawn_app().await;
    let response = app
        .call(
            Method::GET,
            "/api/usage?days=7&to=2026-11-30T15:00:00Z",
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let usage: Usage = response.json().await.unwrap();
    assert_eq!(usage.from, "2026-11-24T00:00:00.000Z");
    assert_eq!(usage.to, "2026-11-30T15:00:00.000Z");
}

/// `(key, label, runs, prompt tokens, completion tokens, cost)` of each bucket.
fn buckets(usage: &Usage) -> Vec<(String, String, u64, u64, u64, f64)> {
    usage
        .buckets
        .iter()
        .map(|bucket| {
            let figures = bucket.figures;
            let cost = (figures.cost_usd * 1e6).round() / 1e6;
            let (key, label) = (bucket.key.clone(), bucket.label.clone());
            (
                key,
                label,
                figures.runs,
                figures.prompt_tokens,
                figures.completion_tokens,
                cost,
            )
        })
        .collect()
}

async fn usage(app: &TestApp, who: &str, query: &str) -> Usage {
    let path = format!("/api/usage?from=2026-11-01T00:00:00Z&to=2026-11-04T00:00:00Z&{query}");
    let response = app.call(Method::GET, &path, Some(who), None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

fn bucket(
    key: &str,
    label: &str,
    figures: (u64, u64, u64, f64),
) -> (String, String, u64, u64, u64, f64) {
    (
        key.into(),
        label.into(),
        figures.0,
        figures.1,
        figures.2,
        figures.3,
    )
}

#[tokio::test]
async fn usage_adds_up_runs_tokens_and_cost_per_day_agent_and_model() {
    let app = spawn_app().await;
    let data = data_set(&app).await;

    let by_day = usage(&app, "alice", "group_by=day").await;
    assert_eq!(
        buckets(&by_day),
        [
            bucket("2026-11-01", "2026-11-01", (2, 300, 50, 0.003)),
            bucket("2026-11-02", "2026-11-02", (2, 1_300, 600, 0.09)),
            bucket("2026-11-03", "2026-11-03", (2, 60, 50, 0.0006)),
        ]
    );
    assert_eq!(by_day.total.runs, 6);
    assert_eq!(by_day.total.prompt_tokens, 1_660);
    assert_eq!(by_day.total.completion_tokens, 700);
    assert!((by_day.total.cost_usd - 0.0936).abs() < 1e-9);

    let by_agent = usage(&app, "alice", "group_by=agent").await;
    assert_eq!(
        buckets(&by_agent),
        [
            bucket(&data.reader, "Reader", (2, 1_010, 500, 0.0601)),
            bucket(&data.writer, "Writer", (4, 650, 200, 0.0335)),
        ]
    );

    let by_model = usage(&app, "alice", "group_by=model").await;
    assert_eq!(
        buckets(&by_model),
        [
            bucket("m-large", "m-large", (2, 1_300, 600, 0.09)),
            bucket("m-small", "m-small", (4, 360, 100, 0.0036)),
        ]
    );

    // Everyone's, for an admin: bob's run joins the large model.
    let all = usage(&app, "admin", "group_by=model&scope=all").await;
    assert_eq!(
        buckets(&all)[0],
        bucket("m-large", "m-large", (3, 2_299, 1_599, 0.189999))
    );
    let response = app
        .call(Method::GET, "/api/usage?scope=all", Some("alice"), None)
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // A narrower range counts only its runs.
    let path = "/api/usage?group_by=day&from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z";
    let one_day: Usage = app.json(Method::GET, path, Some("alice"), None).await;
    assert_eq!(
        buckets(&one_day),
        [bucket("2026-11-02", "2026-11-02", (2, 1_300, 600, 0.09))]
    );
}

#[tokio::test]
async fn the_usage_of_nothing_is_zero() {
    let app = spawn_app().await;
    let empty: Usage = app.json(Method::GET, "/api/usage", Some("bob"), None).await;
    assert!(empty.buckets.is_empty());
    assert_eq!(empty.total.runs, 0);
    assert_eq!(empty.total.cost_usd, 0.0);
}

#[tokio::test]
async fn run_history_is_read_through_its_indexes() {
    let app = spawn_app().await;
    let (_, busy) = app.agent_with_thread("alice", "Busy").await;
    let (quiet, quiet_thread) = app.agent_with_thread("alice", "Quiet").await;
    // Enough runs that a planner with statistics prefers an index to a scan and a sort.
    for (thread, count) in [(&busy, 20_000), (&quiet_thread, 500)] {
        app.data
            .execute(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3) \
                 INSERT INTO runs (id, agent_id, thread_id, status, triggered_by, model, \
                                   created_at, owner_id) \
                 SELECT $2 || '-' || i, t.agent_id, t.id, 'succeeded', 'chat', 'm', $1, \
                        a.owner_id \
                 FROM n, threads t JOIN agents a ON a.id = t.agent_id WHERE t.id = $2",
                &[
                    SqlParam::Time(at("2026-11-01T00:00:00Z")),
                    SqlParam::Text(thread),
                    SqlParam::Int(count),
                ],
            )
            .await;
    }
    app.data.execute("ANALYZE", &[]).await;
    let of_agent = RunFilter {
        agent_id: Some(quiet),
        ..RunFilter::default()
    };
    let plan = app.store.runs_plan(&of_agent).await.unwrap();
    assert!(plan.contains("runs_agent_created"), "{plan}");
    let everyone = app.store.runs_plan(&RunFilter::default()).await.unwrap();
    assert!(everyone.contains("runs_created"), "{everyone}");
    let mine = RunFilter {
        owner_id: Some("alice".into()),
        ..RunFilter::default()
    };
    let mine = app.store.runs_plan(&mine).await.unwrap();
    // All these runs are alice's: the owner's index or the one by time, read in order.
    assert!(
        mine.contains("runs_owner_created") || mine.contains("runs_created"),
        "{mine}"
    );
    // Read in order from the index: no sort of the whole table.
    for plan in [plan, everyone, mine] {
        assert!(
            !plan.contains("Sort") && !plan.contains("TEMP B-TREE"),
            "{plan}"
        );
    }
}
