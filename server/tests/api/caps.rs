//! Daily cost caps: once today's finished runs reach a user's or an agent's cap, new runs
//! are refused with 429 and a reason, a notice goes to the owner, and the caps endpoint
//! shows what is left.

use std::time::Duration;

use futures_util::future::join_all;
use hatchery_server::{
    config::Config,
    runner::{Price, provider::OpenAiConfig},
    store::RunEnd,
};
use hatchery_shared::api::{
    audit::AuditAction,
    runs::{RunStatus, RunTrigger},
    threads::ThreadKind,
    usage::Caps,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{
    fake_llm::{FakeLlm, Scripted},
    helpers::{self, TestApp, spawn_app, spawn_app_configured},
};

/// A server with a $0.05 daily cap per user and $0.03 per agent, every model priced.
async fn capped() -> TestApp {
    spawn_app_configured(|config: &mut Config| {
        config.runner.caps.per_user = Some(50_000);
        config.runner.caps.per_agent = Some(30_000);
        config.runner.default_price = Some(Price {
            input: 0.15,
            output: 0.6,
        });
    })
    .await
}

/// Records a finished run that cost `cost_micros`, now, in a thread of its own.
async fn spend(app: &TestApp, agent: &str, cost_micros: u64) {
    let thread = app
        .store
        .create_thread(
            agent,
            "spent",
            ThreadKind::Chat,
            &helpers::by_tests(AuditAction::ThreadCreated),
        )
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

#[tokio::test]
async fn with_caps_a_model_without_a_price_does_not_run() {
    let app = spawn_app_configured(|config: &mut Config| {
        config.runner.caps.per_user = Some(50_000);
        // A provider's model (the local one costs nothing); the run is refused before any
        // call to it.
        config.runner.provider = Some(OpenAiConfig {
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: None,
            timeout: Duration::from_secs(1),
        });
    })
    .await;
    let (_, thread) = app.agent_with_thread("alice", "Unpriced").await;
    let refused = post(&app, &thread).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("HATCHERY_LLM_PRICES"), "{message}");
}

/// A server whose provider answers slowly, so that runs stay in flight for a while.
async fn slow_provider(runs: usize, tune: impl FnOnce(&mut Config)) -> (FakeLlm, TestApp) {
    let fake = FakeLlm::start(
        (0..runs)
            .map(|_| Scripted::tokens(&["slow"], Duration::from_secs(2)))
            .collect(),
    )
    .await;
    let base_url = fake.base_url.clone();
    let app = spawn_app_configured(move |config: &mut Config| {
        config.runner.provider = Some(OpenAiConfig {
            base_url,
            api_key: None,
            timeout: Duration::from_secs(10),
        });
        tune(config);
    })
    .await;
    (fake, app)
}

#[tokio::test]
async fn a_burst_cannot_pass_a_cap_by_starting_before_any_run_ends() {
    let (_fake, app) = slow_provider(10, |config| {
        config.runner.caps.per_user = Some(50_000);
        config.runner.default_price = Some(Price {
            input: 0.15,
            output: 0.6,
        });
        config.runner.admission.run_estimate_micros = 10_000;
    })
    .await;
    let mut threads = Vec::new();
    for n in 0..10 {
        threads.push(
            app.agent_with_thread("alice", &format!("Burst {n}"))
                .await
                .1,
        );
    }
    let statuses: Vec<u16> = join_all(threads.iter().map(|thread| post(&app, thread)))
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    let started = statuses.iter().filter(|status| **status == 202).count();
    assert_eq!(
        started, 5,
        "$0.05 holds five runs expected at $0.01: {statuses:?}"
    );
    assert!(statuses.iter().all(|status| [202, 429].contains(status)));
}

#[tokio::test]
async fn one_user_cannot_take_every_run_slot() {
    let (_fake, app) = slow_provider(4, |config| {
        config.runner.admission.max_runs_per_user = 2;
    })
    .await;
    let mut threads = Vec::new();
    for n in 0..3 {
        threads.push(app.agent_with_thread("alice", &format!("Busy {n}")).await.1);
    }
    assert_eq!(post(&app, &threads[0]).await.status(), StatusCode::ACCEPTED);
    assert_eq!(post(&app, &threads[1]).await.status(), StatusCode::ACCEPTED);
    let third = post(&app, &threads[2]).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = third.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 runs in progress")
    );
    let (_, bobs) = app.agent_with_thread("bob", "Bob's").await;
    let bob = app
        .call(
            Method::POST,
            &format!("/api/threads/{bobs}/messages"),
            Some("bob"),
            Some(json!({"content": "hello"})),
        )
        .await;
    assert_eq!(bob.status(), StatusCode::ACCEPTED, "others still run");
}
