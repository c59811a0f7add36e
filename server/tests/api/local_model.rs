//! The built-in local model answering runs when no provider is set: the real default model
//! file, as the test command fetches it (`HATCHERY_LOCAL_MODEL` names another).

use std::{path::PathBuf, time::Duration};

use hatchery_server::runner::{local::provider::LocalConfig, provider::OpenAiConfig};
use hatchery_shared::{
    api::{
        agents::{LOCAL_MODEL, Models},
        runs::{RunStatus, StreamChunk},
    },
    realtime::{Message, MessageType},
};
use reqwest::Method;
use serde_json::json;

use crate::{
    fake_llm::{FakeLlm, Scripted},
    helpers::{TestApp, spawn_app_configured},
    runs::{agent_and_thread, cancel, cancelled_within_a_second, ended, new_thread, posted, run},
};

/// The default model's file.
fn model_file() -> PathBuf {
    std::env::var_os("HATCHERY_LOCAL_MODEL")
        .map_or_else(|| LocalConfig::default().model_file, PathBuf::from)
}

/// A server with no provider, whose local model is `file`, replies capped at `max_tokens`.
async fn with_local_model(file: PathBuf, max_tokens: usize) -> TestApp {
    spawn_app_configured(move |config| {
        config.runner.local.model_file = file;
        config.runner.local.max_tokens = max_tokens;
    })
    .await
}

#[tokio::test]
async fn with_no_provider_the_local_model_answers_token_by_token_at_no_cost() {
    let app = with_local_model(model_file(), 64).await;
    let (_, thread) = agent_and_thread(
        &app,
        // Greedy: the same answer every time.
        json!({"name": "local", "system_instructions": "Answer in one sentence.", "temperature": 0}),
    )
    .await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("thread:{thread}"), None)]).await;
    ws.expect(MessageType::Subscribed).await;

    let posted = posted(&app, &thread, "What is the capital of France?").await;

    ws.skip_until(MessageType::StreamStart).await;
    let mut streamed = Vec::new();
    loop {
        let frame = ws
            .next_within(Duration::from_secs(10))
            .await
            .expect("the reply goes on");
        match frame.message {
            Message::StreamChunk(StreamChunk::AssistantToken { text, .. }) => streamed.push(text),
            Message::StreamEnd(_) => break,
            _ => {}
        }
    }
    assert!(streamed.len() > 2, "tokens one by one: {streamed:?}");
    let text = streamed.concat();
    assert!(text.contains("Paris"), "{text}");
    assert!(!text.contains('\u{fffd}') && !text.contains("<|im_end|>"));
    let run = ended(&app, &posted.run.id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert!(run.prompt_tokens > 10 && run.completion_tokens as usize >= streamed.len());
    assert!(run.completion_tokens < 64, "it ended its turn");
    assert_eq!(run.cost_usd, 0.0);
}

#[tokio::test]
async fn with_a_provider_set_an_agent_on_the_local_model_is_answered_inside_the_server() {
    let fake = FakeLlm::start(vec![Scripted::tokens(&["remote"], Duration::ZERO)]).await;
    let base_url = fake.base_url.clone();
    let app = spawn_app_configured(move |config| {
        config.runner.provider = Some(OpenAiConfig {
            base_url,
            api_key: None,
            timeout: Duration::from_secs(10),
        });
        config.runner.local.model_file = model_file();
        config.runner.local.max_tokens = 16;
    })
    .await;
    let models: Models = app
        .json(Method::GET, "/api/models", Some("alice"), None)
        .await;
    assert_eq!(models.provider.as_deref(), Some("127.0.0.1"));
    assert_eq!(models.local, LOCAL_MODEL);

    let (_, local) = agent_and_thread(&app, json!({"name": "inside", "model": LOCAL_MODEL})).await;
    let (_, remote) = agent_and_thread(&app, json!({"name": "outside"})).await;
    let local = posted(&app, &local, "Say hello.").await;
    let remote = posted(&app, &remote, "Say hello.").await;

    let local = ended(&app, &local.run.id).await;
    let remote = ended(&app, &remote.run.id).await;
    assert_eq!(
        (local.status, remote.status),
        (RunStatus::Succeeded, RunStatus::Succeeded)
    );
    assert_eq!(local.model, LOCAL_MODEL);
    assert_eq!(remote.model, models.default_model);
    let asked = fake.received();
    assert_eq!(
        asked.len(),
        1,
        "only the other agent's run asks the provider"
    );
    assert_eq!(asked[0].1["model"], models.default_model.as_str());
}

#[tokio::test]
async fn without_a_provider_the_models_say_the_built_in_one_answers() {
    let app = with_local_model(model_file(), 16).await;

    let models: Models = app
        .json(Method::GET, "/api/models", Some("alice"), None)
        .await;

    assert_eq!(models.provider, None);
    assert_eq!(models.local, LOCAL_MODEL);
    assert_eq!(
        app.get("/api/models").await.status(),
        401,
        "for signed-in users"
    );
}

#[tokio::test]
async fn a_local_reply_stops_within_a_second_when_cancelled() {
    let app = with_local_model(model_file(), 4000).await;
    let (_, thread) = agent_and_thread(&app, json!({"name": "storyteller"})).await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("thread:{thread}"), None)]).await;
    ws.expect(MessageType::Subscribed).await;
    let posted = posted(&app, &thread, "Write a very long story about a lighthouse.").await;
    ws.skip_until(MessageType::StreamChunk).await;

    cancelled_within_a_second(&app, &posted.run.id).await;
}

#[tokio::test]
async fn with_one_generation_at_a_time_a_second_run_waits_as_queued() {
    let app = with_local_model(model_file(), 4000).await;
    // Greedy, so that the second reply is short every time.
    let (agent, first_thread) =
        agent_and_thread(&app, json!({"name": "busy", "temperature": 0})).await;
    let second_thread = new_thread(&app, &agent).await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("thread:{first_thread}"), None)])
        .await;
    ws.expect(MessageType::Subscribed).await;
    let first = posted(&app, &first_thread, "Write a very long story.").await;
    ws.skip_until(MessageType::StreamChunk).await;

    let second = posted(&app, &second_thread, "Say hello.").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run(&app, &second.run.id).await.status, RunStatus::Queued);

    assert_eq!(cancel(&app, &first.run.id).await, 202);
    assert_eq!(
        ended(&app, &first.run.id).await.status,
        RunStatus::Cancelled
    );
    // The slot freed, the second run goes (how long its reply takes depends on the machine).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = run(&app, &second.run.id).await.status;
        if status != RunStatus::Queued {
            assert!(
                matches!(status, RunStatus::Running | RunStatus::Succeeded),
                "{status:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second run stayed queued"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    cancel(&app, &second.run.id).await;
    ended(&app, &second.run.id).await;
}

#[tokio::test]
async fn a_file_that_is_not_a_model_fails_runs_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.gguf");
    std::fs::write(&file, b"GGUF but not really a model").unwrap();
    let app = with_local_model(file, 64).await;
    let (_, thread) = agent_and_thread(&app, json!({"name": "broken"})).await;

    let posted = posted(&app, &thread, "Hello?").await;
    let run = ended(&app, &posted.run.id).await;

    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap();
    assert!(error.contains("is not a readable GGUF file"), "{error}");
}
