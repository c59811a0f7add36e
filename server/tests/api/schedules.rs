//! The scheduler in the real server, its clock started a moment before a minute turns:
//! scheduled runs in the agent's `scheduled` thread, disabling and deleting, back-off after
//! failures (no provider is configured, so every run fails), the missed-time policy across a
//! restart, and the schedule preview.

use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use hatchery_server::{
    config::Config, runner::provider::OpenAiConfig, scheduler::Clock, store::RunEnd,
};
use hatchery_shared::api::{
    Page,
    agents::{AgentSchedule, SchedulePreview},
    runs::{Run, RunStatus, RunTrigger},
    threads::{Thread, ThreadKind, ThreadMessage},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    fake_llm::{FakeLlm, Scripted},
    helpers::{TestApp, TestData, eventually, spawn_app_configured, spawn_app_on_configured},
};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

/// A server whose scheduler's clock starts at `start`, with `tune` applied.
async fn starting_at(start: &str, tune: impl FnOnce(&mut Config)) -> TestApp {
    let start = at(start);
    spawn_app_configured(move |config| {
        config.scheduler.clock = Clock::starting_at(start);
        tune(config);
    })
    .await
}

async fn create_agent(app: &TestApp, body: Value) -> String {
    let response = app
        .call(Method::POST, "/api/agents", Some("alice"), Some(body))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let agent: Value = response.json().await.unwrap();
    agent["id"].as_str().unwrap().to_owned()
}

async fn agent(app: &TestApp, id: &str) -> Value {
    app.json(
        Method::GET,
        &format!("/api/agents/{id}"),
        Some("alice"),
        None,
    )
    .await
}

async fn scheduled_runs(app: &TestApp, agent: &str) -> Vec<Run> {
    let path = format!("/api/agents/{agent}/runs?trigger=schedule");
    let page: Page<Run> = app.json(Method::GET, &path, Some("alice"), None).await;
    page.items
}

#[tokio::test]
async fn a_scheduled_run_sees_only_its_thread_s_last_runs() {
    let fake = FakeLlm::start(vec![Scripted::tokens(&["Done"], Duration::ZERO)]).await;
    let base_url = fake.base_url.clone();
    let app = starting_at("2026-11-24T10:59:58Z", move |config| {
        config.runner.provider = Some(OpenAiConfig {
            base_url,
            api_key: None,
            timeout: Duration::from_secs(5),
        });
    })
    .await;
    let body = json!({
        "name": "Reporter", "schedule": "* * * * *", "task_instructions": "Report",
        "schedule_memory_runs": 1,
    });
    let id = create_agent(&app, body).await;
    assert_eq!(agent(&app, &id).await["schedule_memory_runs"], 1);
    // Three earlier scheduled runs in the agent's scheduled thread.
    let thread = app.store.scheduled_thread(&id).await.unwrap().unwrap();
    for n in 0..3 {
        let run = app
            .stored_run(
                &id,
                &thread.id,
                RunTrigger::Schedule,
                "m",
                &format!("earlier {n}"),
            )
            .await;
        let end = RunEnd {
            status: RunStatus::Succeeded,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_micros: 0,
            error: None,
        };
        app.store.finish_run(&run.id, &end).await.unwrap();
    }

    eventually("the scheduled run's model call", async || {
        fake.received().into_iter().next()
    })
    .await;
    let sent = fake.received()[0].1["messages"].clone();
    let asked: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "user")
        .map(|message| message["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        asked,
        ["earlier 2", "Report"],
        "the last run before it, and its own"
    );
}

#[tokio::test]
async fn a_scheduled_agent_runs_its_task_in_its_scheduled_thread() {
    let app = starting_at("2026-11-24T10:59:58Z", |_| {}).await;
    let id = create_agent(
        &app,
        json!({"name": "Reporter", "schedule": "* * * * *", "task_instructions": "Report"}),
    )
    .await;
    let runs = eventually("a scheduled run", async || {
        Some(scheduled_runs(&app, &id).await).filter(|runs| !runs.is_empty())
    })
    .await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].trigger, RunTrigger::Schedule);

    let threads: Page<Thread> = app
        .json(
            Method::GET,
            &format!("/api/agents/{id}/threads"),
            Some("alice"),
            None,
        )
        .await;
    let thread = threads
        .items
        .iter()
        .find(|thread| thread.id == runs[0].thread_id)
        .expect("the run's thread is listed");
    assert_eq!(thread.kind, ThreadKind::Scheduled);
    let messages: Page<ThreadMessage> = app
        .json(
            Method::GET,
            &format!("/api/threads/{}/messages", thread.id),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(messages.items[0].content, "Report");

    // The next time is planned and shown.
    let next = eventually("the next run time", async || {
        let next = agent(&app, &id).await["next_run_at"].clone();
        (next == json!("2026-11-24T11:01:00.000Z")).then_some(next)
    })
    .await;
    assert!(next.is_string());
    let schedule: AgentSchedule = app
        .json(
            Method::GET,
            &format!("/api/agents/{id}/schedule"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(schedule.upcoming.len(), 5);
    assert_eq!(schedule.upcoming[0], "2026-11-24T11:01:00.000Z");
    assert_eq!(schedule.upcoming[1], "2026-11-24T11:02:00.000Z");
    assert_eq!(schedule.description.as_deref(), Some("Every minute"));
}

#[tokio::test]
async fn a_disabled_or_deleted_agent_does_not_run() {
    let app = starting_at("2026-11-24T10:59:55Z", |_| {}).await;
    let body = json!({"name": "Quiet", "schedule": "* * * * *", "task_instructions": "Work"});
    let disabled = create_agent(&app, body.clone()).await;
    let deleted = create_agent(&app, body).await;
    app.disable_agent(&disabled).await;
    app.delete_agent(&deleted).await;

    // Past the minute, with time to spare.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let runs: Page<Run> = app
        .json(Method::GET, "/api/runs", Some("alice"), None)
        .await;
    assert!(runs.items.is_empty(), "{:?}", runs.items);
    assert_eq!(agent(&app, &disabled).await["next_run_at"], Value::Null);
    let schedule: AgentSchedule = app
        .json(
            Method::GET,
            &format!("/api/agents/{disabled}/schedule"),
            Some("alice"),
            None,
        )
        .await;
    assert!(schedule.upcoming.is_empty());
}

#[tokio::test]
async fn after_failures_in_a_row_the_schedule_backs_off_and_says_why() {
    // The back-off counts from when the failed run ended, as stored: this clock stays
    // within a minute of the system's, two seconds before a minute turns.
    let now = Utc::now();
    let minute =
        now.duration_trunc(chrono::Duration::minutes(1)).unwrap() + chrono::Duration::minutes(1);
    let start = minute - chrono::Duration::seconds(2);
    let app = spawn_app_configured(move |config| {
        config.scheduler.clock = Clock::starting_at(start);
        config.scheduler.max_failures = 1;
        config.scheduler.backoff = Duration::from_secs(600);
    })
    .await;
    let id = create_agent(
        &app,
        json!({"name": "Flaky", "schedule": "* * * * *", "task_instructions": "Try"}),
    )
    .await;
    // The run at `minute` fails (no provider): the next try waits about ten minutes.
    let agent = eventually("the back-off", async || {
        let agent = agent(&app, &id).await;
        let error = agent["last_error"].as_str().unwrap_or_default();
        error.contains("in a row").then_some(agent)
    })
    .await;
    assert_eq!(agent["status"], "error");
    let next = at(agent["next_run_at"].as_str().unwrap());
    assert!(
        next >= minute + chrono::Duration::minutes(9),
        "{next} after {minute}"
    );
    assert!(
        next <= minute + chrono::Duration::minutes(11),
        "{next} after {minute}"
    );
    assert_eq!(scheduled_runs(&app, &id).await.len(), 1);
}

#[tokio::test]
async fn after_a_restart_a_recent_missed_time_runs_once_and_an_old_one_is_skipped() {
    let data = TestData::new();
    let before = at("2026-11-24T10:59:00Z");
    let app = spawn_app_on_configured(data, |config| {
        config.scheduler.clock = Clock::starting_at(before);
    })
    .await;
    let recent = create_agent(
        &app,
        json!({"name": "Recent", "schedule": "*/5 * * * *", "task_instructions": "Go"}),
    )
    .await;
    let old = create_agent(
        &app,
        json!({"name": "Old", "schedule": "0 9 * * *", "task_instructions": "Go"}),
    )
    .await;
    eventually("the planned times", async || {
        let recent = agent(&app, &recent).await["next_run_at"].clone();
        let old = agent(&app, &old).await["next_run_at"].clone();
        (recent == json!("2026-11-24T11:00:00.000Z") && old == json!("2026-11-25T09:00:00.000Z"))
            .then_some(())
    })
    .await;
    let data = app.shutdown().await;

    // Back the next day at 10:02: 10:00 was missed 2 minutes ago, 09:00 62 minutes ago.
    let after = at("2026-11-25T10:02:00Z");
    let app = spawn_app_on_configured(data, |config| {
        config.scheduler.clock = Clock::starting_at(after);
    })
    .await;
    let runs = eventually("the catch-up run", async || {
        Some(scheduled_runs(&app, &recent).await).filter(|runs| !runs.is_empty())
    })
    .await;
    assert_eq!(runs.len(), 1, "one catch-up run, not one per missed time");
    let schedule: AgentSchedule = app
        .json(
            Method::GET,
            &format!("/api/agents/{old}/schedule"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(schedule.skipped.len(), 1);
    assert_eq!(schedule.skipped[0].due_at, "2026-11-25T09:00:00.000Z");
    assert_eq!(
        schedule.skipped[0].reason,
        "missed while the server was down"
    );
    assert!(scheduled_runs(&app, &old).await.is_empty());
    let data = app.shutdown().await;
    // A plain restart a minute later finds nothing more to catch up. (On its own clock: on
    // the real one, a five-minute mark could pass during the test and rightly run.)
    let app = spawn_app_on_configured(data, |config| {
        config.scheduler.clock = Clock::starting_at(at("2026-11-25T10:03:00Z"));
    })
    .await;
    assert_eq!(scheduled_runs(&app, &recent).await.len(), 1);
}

#[tokio::test]
async fn a_schedule_is_previewed_before_it_is_saved() {
    let app = spawn_app_configured(|_| {}).await;
    let preview: SchedulePreview = app
        .json(
            Method::GET,
            "/api/schedule/preview?schedule=0%209%20*%20*%201-5&time_zone=Europe/Paris",
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(preview.upcoming.len(), 5);
    assert!(preview.description.unwrap().contains("09:00"));
    for (query, field) in [
        ("schedule=61%20*%20*%20*%20*", "schedule"),
        (
            "schedule=*%20*%20*%20*%20*&time_zone=Mars/Olympus",
            "time_zone",
        ),
    ] {
        let response = app
            .call(
                Method::GET,
                &format!("/api/schedule/preview?{query}"),
                Some("alice"),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["fields"][field].is_string(), "{body}");
    }
}
