//! Agents over the API: validation, defaults, schedules, pagination, ownership, and the
//! events published after each committed change (and never for a failed one).

use std::{collections::HashSet, time::Duration};

use chrono::{Datelike, Timelike};

use hatchery_shared::{
    api::{Page, agents::Agent},
    realtime::{Message, MessageType},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn create(app: &TestApp, who: &str, body: Value) -> Agent {
    let response = app
        .call(Method::POST, "/api/agents", Some(who), Some(body))
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// The field errors of alice's refused attempt to create `body`.
/// Alice sets the model of the agent at `path`.
async fn set_model(app: &TestApp, path: &str, model: &str) {
    let response = app
        .call(
            Method::PATCH,
            path,
            Some("alice"),
            Some(json!({ "model": model })),
        )
        .await;
    assert_eq!(response.status(), 200);
}

async fn refused(app: &TestApp, body: Value) -> Value {
    field_errors(
        app.call(Method::POST, "/api/agents", Some("alice"), Some(body))
            .await,
    )
    .await
}

async fn field_errors(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "validation_failed");
    body["error"]["fields"].clone()
}

#[tokio::test]
async fn a_new_agent_gets_defaults_and_its_schedule_in_words() {
    let app = spawn_app().await;
    let plain = create(&app, "alice", json!({"name": "  Researcher  "})).await;
    assert_eq!(plain.name, "Researcher");
    assert_eq!(plain.owner_id, "alice");
    assert_eq!(plain.status.as_str(), "idle");
    assert_eq!(plain.time_zone, "UTC");
    assert!(plain.next_run_at.is_none() && plain.schedule.is_none());
    assert!(plain.created_at.ends_with('Z'));

    let scheduled = create(
        &app,
        "alice",
        json!({
            "name": "Morning digest",
            "model": "llama3",
            "temperature": 0.2,
            "tools": ["http_request", "calculator", "calculator"],
            "schedule": "0 9 * * 1-5",
            "time_zone": "Europe/Paris",
        }),
    )
    .await;
    assert_eq!(scheduled.tools.len(), 2, "duplicates are dropped");
    assert_eq!(
        scheduled.schedule_description.as_deref(),
        Some("At 09:00 AM, Monday through Friday")
    );
    let next = scheduled
        .clone()
        .next_run_at
        .expect("a scheduled agent has a next run");
    let next = chrono::DateTime::parse_from_rfc3339(&next).unwrap();
    assert!(next > chrono::Utc::now());
    let in_paris = next.with_timezone(&chrono_tz::Europe::Paris);
    assert!(
        in_paris.weekday().number_from_monday() <= 5,
        "a weekday: {in_paris}"
    );
    assert_eq!(
        (in_paris.hour(), in_paris.minute()),
        (9, 0),
        "09:00 in Paris"
    );

    let read = app
        .call(
            Method::GET,
            &format!("/api/agents/{}", scheduled.id),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(read.json::<Agent>().await.unwrap(), scheduled);
}

#[tokio::test]
async fn bad_fields_are_named_and_nothing_is_created() {
    let app = spawn_app().await;
    let fields = refused(
        &app,
        json!({
            "name": "",
            "temperature": 2.5,
            "schedule": "61 * * * *",
            "time_zone": "Mars/Olympus",
            "schedule_memory_runs": 101,
        }),
    )
    .await;
    for field in ["name", "temperature", "time_zone", "schedule_memory_runs"] {
        assert!(fields[field].is_string(), "{field}: {fields}");
    }
    let fields = refused(&app, json!({"name": "x", "schedule": "every day"})).await;
    assert!(
        fields["schedule"].as_str().unwrap().contains("five fields"),
        "{fields}"
    );
    let fields = refused(&app, json!({"name": "x", "tools": ["shell"]})).await;
    assert!(
        fields["tools"].as_str().unwrap().contains("shell"),
        "{fields}"
    );
    let fields = refused(&app, json!({"name": "x".repeat(101)})).await;
    assert!(fields["name"].is_string());

    let page: Page<Agent> = app
        .json(Method::GET, "/api/agents", Some("alice"), None)
        .await;
    assert!(page.items.is_empty(), "no bad input created anything");
}

#[tokio::test]
async fn patching_changes_only_the_given_fields_and_reschedules() {
    let app = spawn_app().await;
    let agent = create(
        &app,
        "alice",
        json!({"name": "a", "schedule": "@hourly", "system_instructions": "be brief"}),
    )
    .await;
    assert!(agent.next_run_at.is_some());
    let path = format!("/api/agents/{}", agent.id);

    let patched: Agent = app
        .json(
            Method::PATCH,
            &path,
            Some("alice"),
            Some(json!({"name": "b", "schedule": null})),
        )
        .await;
    assert_eq!(patched.name, "b");
    assert_eq!(patched.system_instructions, "be brief");
    assert!(patched.schedule.is_none() && patched.next_run_at.is_none());

    let bad = app
        .call(
            Method::PATCH,
            &path,
            Some("alice"),
            Some(json!({"schedule": "* * *"})),
        )
        .await;
    assert!(field_errors(bad).await["schedule"].is_string());
    // A field the API does not know is refused, not silently dropped.
    let unknown = app
        .call(
            Method::PATCH,
            &path,
            Some("alice"),
            Some(json!({"name": "c", "status": "disabled"})),
        )
        .await;
    let fields = field_errors(unknown).await;
    assert!(
        fields["status"].as_str().unwrap().contains("unknown field"),
        "{fields}"
    );
    let unchanged: Agent = app.json(Method::GET, &path, Some("alice"), None).await;
    assert_eq!(unchanged, patched, "a refused change changes nothing");

    let disabled: Agent = app
        .json(
            Method::PATCH,
            &path,
            Some("alice"),
            Some(json!({"schedule": "*/5 * * * *", "disabled": true})),
        )
        .await;
    assert_eq!(disabled.status.as_str(), "disabled");
    assert!(
        disabled.next_run_at.is_none(),
        "a disabled agent is not scheduled"
    );
}

#[tokio::test]
async fn lists_are_paginated_newest_first_and_scoped() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(
            create(&app, "alice", json!({"name": format!("a{n}")}))
                .await
                .id,
        );
    }
    create(&app, "bob", json!({"name": "bob's"})).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/agents?limit=2&cursor={cursor}"),
            None => "/api/agents?limit=2".into(),
        };
        let page: Page<Agent> = app.json(Method::GET, &path, Some("alice"), None).await;
        pages += 1;
        seen.extend(page.items.into_iter().map(|agent| agent.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    created.reverse();
    assert_eq!(seen, created, "all of alice's, newest first, each once");

    let all: Page<Agent> = app
        .json(
            Method::GET,
            "/api/agents?scope=all&limit=1000",
            Some("admin"),
            None,
        )
        .await;
    let owners: HashSet<_> = all.items.iter().map(|a| a.owner_id.as_str()).collect();
    assert_eq!(all.items.len(), 6);
    assert_eq!(owners, HashSet::from(["alice", "bob"]));
    let bad_scope = app
        .call(
            Method::GET,
            "/api/agents?scope=everything",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(bad_scope.status(), 400);
}

#[tokio::test]
async fn changes_are_published_after_commit_to_the_agent_and_its_owner() {
    let app = spawn_app().await;
    let mut owner = app.ws("alice").await;
    let agent = create(&app, "alice", json!({"name": "watched"})).await;
    let created = owner.expect(MessageType::AgentCreated).await;
    assert_eq!(created.topic.unwrap().as_str(), "user:alice");
    assert_eq!(created.message, Message::AgentCreated(agent.clone()));

    // An admin following the agent's topic (and not alice's own).
    let mut follower = app.ws("admin").await;
    follower
        .subscribe(&[(&format!("agent:{}", agent.id), None)])
        .await;
    follower.expect(MessageType::Subscribed).await;
    let path = format!("/api/agents/{}", agent.id);
    set_model(&app, &path, "m2").await;
    for ws in [&mut owner, &mut follower] {
        let updated = ws.expect(MessageType::AgentUpdated).await;
        let Message::AgentUpdated(updated) = updated.message else {
            unreachable!()
        };
        assert_eq!(updated.model, "m2");
    }

    // Refused changes publish nothing.
    app.call(
        Method::PATCH,
        &path,
        Some("alice"),
        Some(json!({"temperature": 9})),
    )
    .await;
    app.call(
        Method::PATCH,
        &path,
        Some("bob"),
        Some(json!({"name": "stolen"})),
    )
    .await;
    owner.expect_none(Duration::from_millis(300)).await;

    app.call(Method::DELETE, &path, Some("alice"), None).await;
    let deleted = follower.expect(MessageType::AgentDeleted).await;
    assert_eq!(
        deleted.topic.unwrap().as_str(),
        format!("agent:{}", agent.id)
    );
    owner.expect(MessageType::AgentDeleted).await;
    let gone = app.call(Method::GET, &path, Some("alice"), None).await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn events_of_an_agent_with_long_instructions_stay_small() {
    let app = spawn_app().await;
    let long = "Be thorough. ".repeat(7_000);
    let agent = create(
        &app,
        "alice",
        json!({"name": "verbose", "system_instructions": long, "task_instructions": long}),
    )
    .await;
    assert_eq!(agent.system_instructions, long, "the API shows them whole");
    assert!(!agent.instructions_trimmed);

    let mut owner = app.ws("alice").await;
    let path = format!("/api/agents/{}", agent.id);
    set_model(&app, &path, "m2").await;
    let event = owner.expect(MessageType::AgentUpdated).await;
    assert!(
        event.to_json().len() < 16 * 1024,
        "{} bytes",
        event.to_json().len()
    );
    let Message::AgentUpdated(updated) = event.message else {
        unreachable!()
    };
    assert!(updated.instructions_trimmed);
    assert!(long.starts_with(&updated.task_instructions));
    assert_eq!(updated.model, "m2");
    let whole: Agent = app.json(Method::GET, &path, Some("alice"), None).await;
    assert_eq!(whole.task_instructions, long);
}

#[tokio::test]
async fn a_request_that_fails_in_the_database_publishes_nothing() {
    let app = spawn_app().await;
    let mut owner = app.ws("alice").await;
    let token = app.bearer("alice").to_owned();
    app.store.close().await;
    let response = app
        .send(
            app.client
                .post(app.url("/api/agents"))
                .bearer_auth(token)
                .json(&json!({"name": "never stored"})),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "internal");
    owner.expect_none(Duration::from_millis(300)).await;
}
