//! Daily cost caps: once today's finished runs reach a user's or an agent's cap, new runs
//! are refused with 429 and a reason, a notice goes to the owner, and the caps endpoint
//! shows what is left.

use hatchery_server::{config::Config, store::RunEnd};
use hatchery_shared::api::{
    runs::{RunStatus, RunTrigger},
    threads::ThreadKind,
    usage::Caps,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_configured};

/// A server with a $0.05 daily cap per user and $0.03 per agent.
async fn capped() -> TestApp {
    spawn_app_configured(|config: &mut Config| {
        config.runner.caps.per_user = Some(50_000);
        config.runner.caps.per_agent = Some(30_000);
    })
    .await
}

/// Records a finished run that cost `cost_micros`, now, in a thread of its own.
async fn spend(app: &TestApp, agent: &str, cost_micros: u64) {
    let thread = app
        .store
        .create_thread(agent, "spent", ThreadKind::Chat)
        .await
        .unwrap()
        .unwrap();
    let run = app
        .stored_run(agent, &thread.id, RunTrigger::Chat, "m", "go")
        .await;
    let end = RunEnd {
        status: RunStatus::Succeeded,
        prompt_tokens: 1,
        completion_tokens: 1,
        cost_micros,
        error: None,
    };
    app.store.finish_run(&run.id, &end).await.unwrap();
}

async fn post(app: &TestApp, thread: &str) -> reqwest::Response {
    app.call(
        Method::POST,
        &format!("/api/threads/{thread}/messages"),
        Some("alice"),
        Some(json!({"content": "hello"})),
    )
    .await
}

/// The texts of the notices on alice's topic.
async fn notices(app: &TestApp) -> Vec<String> {
    let current: Value = app
        .topic_events("alice", "user:alice", "epoch=unknown&after=0")
        .await
        .json()
        .await
        .unwrap();
    let epoch = current["epoch"].as_str().unwrap();
    let events: Value = app
        .topic_events("alice", "user:alice", &format!("epoch={epoch}&after=0"))
        .await
        .json()
        .await
        .unwrap();
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "notice")
        .map(|event| event["data"]["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn runs_past_an_agents_or_a_users_daily_cap_are_refused() {
    let app = capped().await;
    let (first, first_thread) = app.agent_with_thread("alice", "First").await;
    let (second, second_thread) = app.agent_with_thread("alice", "Second").await;

    spend(&app, &first, 30_000).await;
    let refused = post(&app, &first_thread).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("this agent's daily cost cap of $0.03"),
        "{message}"
    );
    assert!(
        notices(&app)
            .await
            .iter()
            .any(|text| text.contains("A run of First was refused")),
        "the owner is told"
    );

    // The user's cap still has $0.02: the other agent runs.
    assert_eq!(
        post(&app, &second_thread).await.status(),
        StatusCode::ACCEPTED
    );
    spend(&app, &second, 20_000).await;
    let refused = post(&app, &second_thread).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = refused.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("your daily cost cap of $0.05"),
        "{message}"
    );

    let caps: Caps = app
        .json(
            Method::GET,
            &format!("/api/usage/caps?agent={first}"),
            Some("alice"),
            None,
        )
        .await;
    let user = caps.user.expect("a user cap");
    assert!((user.cap_usd - 0.05).abs() < 1e-9);
    assert!((user.spent_usd - 0.05).abs() < 1e-9);
    assert_eq!(user.left_usd, 0.0);
    let agent = caps.agent.expect("an agent cap");
    assert!((agent.spent_usd - 0.03).abs() < 1e-9);
    assert!(caps.resets_at.ends_with("T00:00:00.000Z"));

    // Bob's spending is his own.
    let bobs: Caps = app
        .json(Method::GET, "/api/usage/caps", Some("bob"), None)
        .await;
    assert_eq!(bobs.user.unwrap().spent_usd, 0.0);
    let other = app
        .call(
            Method::GET,
            &format!("/api/usage/caps?agent={first}"),
            Some("bob"),
            None,
        )
        .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_caps_nothing_is_refused_and_none_is_shown() {
    let app = spawn_app().await;
    let (agent, thread) = app.agent_with_thread("alice", "Free").await;
    spend(&app, &agent, 5_000_000).await;
    assert_eq!(post(&app, &thread).await.status(), StatusCode::ACCEPTED);
    let caps: Caps = app
        .json(Method::GET, "/api/usage/caps", Some("alice"), None)
        .await;
    assert_eq!((caps.user, caps.agent), (None, None));
}
