//! The runner end to end, against the fake provider over real sockets: a streamed reply
//! stored once, no provider, 409 while replying, cancellation, concurrent tool calls fed
//! back, the step limit, retries before the first token, the concurrency limit, shutdown
//! and restart recovery.

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use hatchery_server::{
    config::Config,
    runner::{Price, provider::OpenAiConfig},
    store::NewMessageRow,
};
use hatchery_shared::{
    api::{
        Page,
        runs::{Posted, Run, RunStatus, RunTrigger, StreamChunk},
        threads::{MessageRole, ThreadMessage},
    },
    realtime::{Message, MessageType},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    fake_llm::{FakeLlm, Scripted, content_chunk, tool_call_chunk, usage_chunk},
    helpers::{TestApp, spawn_app, spawn_app_configured, spawn_app_on},
};

/// A server whose provider is `fake`, with `tune` applied.
async fn with_llm(fake: &FakeLlm, tune: impl FnOnce(&mut Config)) -> TestApp {
    with_provider_at(&fake.base_url, tune).await
}

/// A server whose provider is the OpenAI-compatible API at `base_url`, with `tune` applied.
pub(crate) async fn with_provider_at(base_url: &str, tune: impl FnOnce(&mut Config)) -> TestApp {
    let base_url = base_url.to_owned();
    spawn_app_configured(move |config| {
        config.runner.provider = Some(OpenAiConfig {
            base_url,
            api_key: Some("sk-test".to_owned().into()),
            timeout: Duration::from_secs(5),
        });
        tune(config);
    })
    .await
}

/// Creates an agent of alice's with `body` and a chat thread; returns both ids.
pub(crate) async fn agent_and_thread(app: &TestApp, body: Value) -> (String, String) {
    let agent: Value = app
        .json(Method::POST, "/api/agents", Some("alice"), Some(body))
        .await;
    let agent = agent["id"].as_str().unwrap().to_owned();
    let thread = new_thread(app, &agent).await;
    (agent, thread)
}

/// Stops run `id` as alice and checks that it ended as cancelled within a second.
pub(crate) async fn cancelled_within_a_second(app: &TestApp, id: &str) -> Run {
    let stop = Instant::now();
    assert_eq!(cancel(app, id).await, 202);
    let run = ended(app, id).await;
    assert!(
        stop.elapsed() < Duration::from_secs(1),
        "{:?}",
        stop.elapsed()
    );
    assert_eq!(run.status, RunStatus::Cancelled);
    run
}

/// Creates another chat thread of alice's agent `agent`; returns its id.
pub(crate) async fn new_thread(app: &TestApp, agent: &str) -> String {
    let thread: Value = app
        .json(
            Method::POST,
            &format!("/api/agents/{agent}/threads"),
            Some("alice"),
            Some(json!({})),
        )
        .await;
    thread["id"].as_str().unwrap().to_owned()
}

/// Asks, as alice, to stop run `id`; the answer's status.
pub(crate) async fn cancel(app: &TestApp, id: &str) -> reqwest::StatusCode {
    app.call(
        Method::POST,
        &format!("/api/runs/{id}/cancel"),
        Some("alice"),
        None,
    )
    .await
    .status()
}

async fn post(app: &TestApp, thread: &str, text: &str) -> reqwest::Response {
    app.call(
        Method::POST,
        &format!("/api/threads/{thread}/messages"),
        Some("alice"),
        Some(json!({ "content": text })),
    )
    .await
}

pub(crate) async fn posted(app: &TestApp, thread: &str, text: &str) -> Posted {
    let response = post(app, thread, text).await;
    assert_eq!(response.status(), 202);
    response.json().await.unwrap()
}

pub(crate) async fn run(app: &TestApp, id: &str) -> Run {
    app.json(Method::GET, &format!("/api/runs/{id}"), Some("alice"), None)
        .await
}

/// Alice's agent `id` as the API shows it.
async fn alices_agent(app: &TestApp, id: &str) -> Value {
    app.json(
        Method::GET,
        &format!("/api/agents/{id}"),
        Some("alice"),
        None,
    )
    .await
}

/// Waits (up to 10 s) until the run has ended.
pub(crate) async fn ended(app: &TestApp, id: &str) -> Run {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = run(app, id).await;
        if run.status.is_final() {
            return run;
        }
        assert!(Instant::now() < deadline, "the run did not end: {run:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub(crate) async fn messages(app: &TestApp, thread: &str) -> Vec<ThreadMessage> {
    let page: Page<ThreadMessage> = app
        .json(
            Method::GET,
            &format!("/api/threads/{thread}/messages"),
            Some("alice"),
            None,
        )
        .await;
    page.items
}

#[tokio::test]
async fn a_message_gets_a_streamed_reply_that_is_stored_once() {
    let fake = FakeLlm::start(vec![Scripted::tokens(
        &["Hello", ", ", "Alice"],
        Duration::from_millis(30),
    )])
    .await;
    let app = with_llm(&fake, |config| {
        config.runner.prices.insert(
            "test-model".into(),
            Price {
                input: 1.0,
                output: 2.0,
            },
        );
    })
    .await;
    let (agent, thread) = agent_and_thread(
        &app,
        json!({"name": "greeter", "model": "test-model", "system_instructions": "Be kind."}),
    )
    .await;
    // An admin follows the thread, so that alice's own topic does not interleave.
    let mut ws = app.ws("admin").await;
    ws.subscribe(&[(&format!("thread:{thread}"), None)]).await;
    ws.expect(MessageType::Subscribed).await;

    let posted = posted(&app, &thread, "Hi!").await;
    assert_eq!(posted.message.role, MessageRole::User);
    assert_eq!(posted.run.trigger, RunTrigger::Chat);

    ws.expect(MessageType::ThreadMessageCreated).await;
    ws.expect(MessageType::StreamStart).await;
    let mut streamed = String::new();
    for _ in 0..3 {
        let chunk = ws.expect(MessageType::StreamChunk).await;
        let Message::StreamChunk(StreamChunk::AssistantToken { text, .. }) = chunk.message else {
            panic!("a token: {chunk:?}");
        };
        streamed.push_str(&text);
    }
    assert_eq!(streamed, "Hello, Alice");
    ws.expect(MessageType::StreamEnd).await;
    let stored = ws.expect(MessageType::ThreadMessageCreated).await;
    let Message::ThreadMessageCreated(reply) = stored.message else {
        unreachable!()
    };
    assert_eq!(reply.content, "Hello, Alice");

    let run = ended(&app, &posted.run.id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!((run.prompt_tokens, run.completion_tokens), (11, 3));
    assert!((run.cost_usd - 0.000_017).abs() < 1e-9, "{}", run.cost_usd);
    assert!(run.duration_ms.is_some());

    let stored = messages(&app, &thread).await;
    assert_eq!(stored.len(), 2, "each message stored once: {stored:?}");
    assert_eq!(stored[1].role, MessageRole::Assistant);
    let sent = &fake.received()[0].1;
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][0]["content"], "Be kind.");
    assert_eq!(sent["messages"][1]["content"], "Hi!");
    let agent: Value = alices_agent(&app, &agent).await;
    assert_eq!(agent["status"], "idle");
    assert!(agent["last_run_at"].is_string());
}

#[tokio::test]
async fn without_a_provider_or_a_model_file_the_run_fails_saying_what_to_set() {
    let app = spawn_app().await;
    let (agent, thread) = agent_and_thread(&app, json!({"name": "offline"})).await;
    let posted = posted(&app, &thread, "Anyone there?").await;
    let run = ended(&app, &posted.run.id).await;
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap();
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains("HATCHERY_LOCAL_MODEL"), "{error}");
    let agent: Value = alices_agent(&app, &agent).await;
    assert_eq!(agent["status"], "error");
    assert!(
        agent["last_error"]
            .as_str()
            .unwrap()
            .contains("the local model cannot answer")
    );
    assert_eq!(messages(&app, &thread).await.len(), 1, "no fake answer");
}

#[tokio::test]
async fn a_reply_in_progress_refuses_a_second_message_and_stops_within_a_second() {
    let tokens: Vec<String> = (0..200).map(|n| format!("w{n} ")).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let fake = FakeLlm::start(vec![Scripted::tokens(&tokens, Duration::from_millis(20))]).await;
    let app = with_llm(&fake, |_| {}).await;
    let (_, thread) = agent_and_thread(&app, json!({"name": "talker"})).await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("thread:{thread}"), None)]).await;
    ws.expect(MessageType::Subscribed).await;
    let posted = posted(&app, &thread, "Talk").await;
    ws.skip_until(MessageType::StreamChunk).await;

    let second = post(&app, &thread, "Me too").await;
    assert_eq!(second.status(), 409);
    let body: Value = second.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already replying")
    );

    let run = cancelled_within_a_second(&app, &posted.run.id).await;
    assert_eq!(run.error.as_deref(), Some("stopped by the user"));
    let stored = messages(&app, &thread).await;
    let partial = stored.last().unwrap();
    assert!(
        partial.cut_off && partial.content.starts_with("w0 "),
        "{partial:?}"
    );
    assert!(!partial.content.contains("w199"));
    assert_eq!(cancel(&app, &posted.run.id).await, 409);
}

/// A local server whose `/slow` answers after 500 ms.
async fn slow_server() -> std::net::SocketAddr {
    let app = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "slow answer"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn the_tool_calls_of_a_step_run_at_once_and_feed_the_next_step() {
    let slow = slow_server().await;
    let args = |tag: &str| json!({"url": format!("http://{slow}/slow?{tag}")}).to_string();
    let fake = FakeLlm::start(vec![
        Scripted::Stream {
            chunks: vec![
                (
                    Duration::ZERO,
                    tool_call_chunk(0, Some("call_a"), Some("http_request"), &args("a")),
                ),
                (
                    Duration::ZERO,
                    tool_call_chunk(1, Some("call_b"), Some("http_request"), &args("b")),
                ),
                (Duration::ZERO, usage_chunk(30, 10)),
            ],
            done: true,
        },
        Scripted::tokens(&["Both ", "answered."], Duration::ZERO),
    ])
    .await;
    let app = with_llm(&fake, |config| {
        config.runner.tools.http.allow = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let (_, thread) =
        agent_and_thread(&app, json!({"name": "fetcher", "tools": ["http_request"]})).await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("thread:{thread}"), None)]).await;
    ws.expect(MessageType::Subscribed).await;
    let posted = posted(&app, &thread, "Fetch both").await;

    let mut step_one_ended = None;
    let mut outputs = 0;
    loop {
        let frame = ws
            .next_within(Duration::from_secs(5))
            .await
            .expect("a frame");
        match frame.message {
            Message::StreamEnd(step) if step.step == 1 => step_one_ended = Some(Instant::now()),
            Message::StreamChunk(StreamChunk::ToolOutput { output, .. }) => {
                assert!(output.contains("slow answer"), "{output}");
                outputs += 1;
            }
            Message::StreamStart(step) if step.step == 2 => {
                let took = step_one_ended.expect("step 1 ended").elapsed();
                assert!(
                    took < Duration::from_millis(900),
                    "two 500 ms tools took {took:?}"
                );
                break;
            }
            _ => {}
        }
    }
    assert_eq!(outputs, 2);
    let run = ended(&app, &posted.run.id).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.prompt_tokens, 30 + 11);
    let roles: Vec<_> = messages(&app, &thread)
        .await
        .iter()
        .map(|m| m.role)
        .collect();
    assert_eq!(
        roles,
        [
            MessageRole::User,
            MessageRole::Assistant,
            MessageRole::Tool,
            MessageRole::Tool,
            MessageRole::Assistant
        ]
    );
    let second = &fake.received()[1].1["messages"];
    assert_eq!(
        second[1]["tool_calls"][0]["function"]["name"],
        "http_request"
    );
    assert_eq!(second[2]["role"], "tool");
    assert_eq!(second[2]["tool_call_id"], "call_a");
}

#[tokio::test]
async fn a_thread_stays_valid_after_a_cancel_during_tools_or_a_reply_cut_off_in_a_call() {
    let slow = slow_server().await;
    let fetch = json!({"url": format!("http://{slow}/slow")}).to_string();
    let fake = FakeLlm::start(vec![
        Scripted::Stream {
            chunks: vec![(
                Duration::ZERO,
                tool_call_chunk(0, Some("call_slow"), Some("http_request"), &fetch),
            )],
            done: true,
        },
        // Dies after the start of a tool call.
        Scripted::Stream {
            chunks: vec![(
                Duration::ZERO,
                tool_call_chunk(0, Some("call_cut"), Some("calculator"), r#"{"expre"#),
            )],
            done: false,
        },
        Scripted::tokens(&["Still ", "here."], Duration::ZERO),
    ])
    .await;
    let app = with_llm(&fake, |config| {
        config.runner.tools.http.allow = vec!["127.0.0.0/8".parse().unwrap()];
        config.runner.attempts = 1;
    })
    .await;
    let (_, thread) = agent_and_thread(
        &app,
        json!({"name": "fetcher", "tools": ["http_request", "calculator"]}),
    )
    .await;
    let mut ws = app.ws("alice").await;
    ws.subscribe(&[(&format!("thread:{thread}"), None)]).await;
    ws.expect(MessageType::Subscribed).await;

    let first = posted(&app, &thread, "Fetch it").await;
    ws.skip_until(MessageType::StreamEnd).await;
    assert_eq!(cancel(&app, &first.run.id).await, 202);
    assert_eq!(
        ended(&app, &first.run.id).await.status,
        RunStatus::Cancelled
    );
    let stored = messages(&app, &thread).await;
    let result = stored
        .iter()
        .find(|message| message.tool_call_id.as_deref() == Some("call_slow"))
        .expect("the interrupted call has a result");
    assert!(result.content.contains("cancelled"), "{result:?}");

    let second = posted(&app, &thread, "Add something").await;
    assert_eq!(ended(&app, &second.run.id).await.status, RunStatus::Failed);
    let third = posted(&app, &thread, "Are you there?").await;
    assert_eq!(
        ended(&app, &third.run.id).await.status,
        RunStatus::Succeeded
    );

    // What the provider was last sent: every call answered, none half-written.
    let sent = fake.received()[2].1["messages"].as_array().unwrap().clone();
    let calls: Vec<String> = sent
        .iter()
        .flat_map(|message| {
            message["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|call| call["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(calls, ["call_slow"], "the cut-off call was not stored");
    assert!(
        sent.iter()
            .any(|message| message["role"] == "tool" && message["tool_call_id"] == "call_slow")
    );
}

#[tokio::test]
async fn a_step_runs_at_most_the_allowed_number_of_tool_calls() {
    let chunks = (0..5)
        .map(|index| {
            let id = format!("call_{index}");
            (
                Duration::ZERO,
                tool_call_chunk(
                    index,
                    Some(&id),
                    Some("calculator"),
                    r#"{"expression": "2*3"}"#,
                ),
            )
        })
        .collect();
    let fake = FakeLlm::start(vec![
        Scripted::Stream { chunks, done: true },
        Scripted::tokens(&["Done."], Duration::ZERO),
    ])
    .await;
    let app = with_llm(&fake, |config| config.runner.max_tool_calls = 2).await;
    let (_, thread) =
        agent_and_thread(&app, json!({"name": "eager", "tools": ["calculator"]})).await;
    let run = posted(&app, &thread, "Compute").await;
    assert_eq!(ended(&app, &run.run.id).await.status, RunStatus::Succeeded);
    let outputs: Vec<String> = messages(&app, &thread)
        .await
        .into_iter()
        .filter(|message| message.role == MessageRole::Tool)
        .map(|message| message.content)
        .collect();
    assert_eq!(outputs.len(), 5, "every call has a result");
    assert_eq!(&outputs[..2], ["6", "6"]);
    assert!(
        outputs[2..]
            .iter()
            .all(|output| output.contains("at most 2 tool calls")),
        "{outputs:?}"
    );
}

#[tokio::test]
async fn a_run_stops_at_the_step_limit() {
    let calc = |id: &str| Scripted::Stream {
        chunks: vec![(
            Duration::ZERO,
            tool_call_chunk(0, Some(id), Some("calculator"), r#"{"expression": "1+1"}"#),
        )],
        done: true,
    };
    let fake = FakeLlm::start(vec![calc("c1"), calc("c2"), calc("c3")]).await;
    let app = with_llm(&fake, |config| config.runner.max_steps = 2).await;
    let (_, thread) =
        agent_and_thread(&app, json!({"name": "looper", "tools": ["calculator"]})).await;
    let posted = posted(&app, &thread, "Loop").await;
    let run = ended(&app, &posted.run.id).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.error.unwrap().contains("stopped after 2 steps"));
    assert_eq!(fake.received().len(), 2);
}

#[tokio::test]
async fn provider_errors_are_retried_before_the_first_token_only_when_it_may_help() {
    let fake = FakeLlm::start(vec![
        Scripted::Error {
            status: 503,
            headers: vec![],
            body: "busy".into(),
        },
        Scripted::tokens(&["Recovered"], Duration::ZERO),
        Scripted::Error {
            status: 401,
            headers: vec![],
            body: r#"{"error": {"message": "bad key"}}"#.into(),
        },
        Scripted::Stream {
            chunks: vec![(Duration::ZERO, content_chunk("half"))],
            done: false,
        },
    ])
    .await;
    let app = with_llm(&fake, |_| {}).await;
    let (_, thread) = agent_and_thread(&app, json!({"name": "flaky"})).await;
    let first = posted(&app, &thread, "one").await;
    assert_eq!(
        ended(&app, &first.run.id).await.status,
        RunStatus::Succeeded
    );
    assert_eq!(fake.received().len(), 2, "the 503 was retried");

    let second = posted(&app, &thread, "two").await;
    let failed = ended(&app, &second.run.id).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert!(failed.error.unwrap().contains("HATCHERY_LLM_API_KEY"));
    assert_eq!(fake.received().len(), 3, "a refused key is not retried");

    let third = posted(&app, &thread, "three").await;
    let cut = ended(&app, &third.run.id).await;
    assert_eq!(cut.status, RunStatus::Failed);
    assert!(cut.error.unwrap().contains("malformed"));
    assert_eq!(fake.received().len(), 4, "after a token, no retry");
    let last = messages(&app, &thread).await.pop().unwrap();
    assert!(last.cut_off && last.content == "half");
}

#[tokio::test]
async fn runs_beyond_the_limit_wait_as_queued() {
    let fake = FakeLlm::start(vec![
        Scripted::tokens(&["a", "b", "c", "d"], Duration::from_millis(150)),
        Scripted::tokens(&["second"], Duration::ZERO),
    ])
    .await;
    let app = with_llm(&fake, |config| config.runner.max_concurrent_runs = 1).await;
    let (agent, first_thread) = agent_and_thread(&app, json!({"name": "busy"})).await;
    let second_thread: Value = app
        .json(
            Method::POST,
            &format!("/api/agents/{agent}/threads"),
            Some("alice"),
            Some(json!({"title": "other"})),
        )
        .await;
    let first = posted(&app, &first_thread, "first").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = posted(&app, second_thread["id"].as_str().unwrap(), "second").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(run(&app, &second.run.id).await.status, RunStatus::Queued);
    assert_eq!(
        ended(&app, &first.run.id).await.status,
        RunStatus::Succeeded
    );
    assert_eq!(
        ended(&app, &second.run.id).await.status,
        RunStatus::Succeeded
    );
}

#[tokio::test]
async fn shutdown_cancels_runs_and_a_restart_fails_what_a_crash_left() {
    let tokens: Vec<String> = (0..200).map(|n| format!("w{n} ")).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let fake = FakeLlm::start(vec![Scripted::tokens(&tokens, Duration::from_millis(20))]).await;
    let app = with_llm(&fake, |config| {
        config.shutdown_grace = Duration::from_millis(200)
    })
    .await;
    let (agent, thread) = agent_and_thread(&app, json!({"name": "long"})).await;
    let posted = posted(&app, &thread, "Go on").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // As if a crash had left this one behind: stored, never started by a runner.
    let other = new_thread(&app, &agent).await;
    let orphan = app
        .stored_run(&agent, &other, RunTrigger::Api, "m", "left behind")
        .await;

    let data = app.shutdown().await;
    let app = spawn_app_on(data).await;
    let cancelled = run(&app, &posted.run.id).await;
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(cancelled.error.as_deref(), Some("server shutdown"));
    let interrupted = run(&app, &orphan.id).await;
    assert_eq!(interrupted.status, RunStatus::Failed);
    assert_eq!(interrupted.error.as_deref(), Some("interrupted by restart"));
    let agent: Value = alices_agent(&app, &agent).await;
    assert_ne!(agent["status"], "running");
}

#[tokio::test]
async fn run_now_runs_the_task_in_a_manual_thread() {
    let fake = FakeLlm::start(vec![Scripted::tokens(&["Done."], Duration::ZERO)]).await;
    let app = with_llm(&fake, |_| {}).await;
    let (agent, _) = agent_and_thread(&app, json!({"name": "no task"})).await;
    let refused = app
        .call(
            Method::POST,
            &format!("/api/agents/{agent}/run"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(refused.status(), 422);
    let (agent, _) = agent_and_thread(
        &app,
        json!({"name": "digest", "task_instructions": "Summarise."}),
    )
    .await;
    let response = app
        .call(
            Method::POST,
            &format!("/api/agents/{agent}/run"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(response.status(), 202);
    let posted: Posted = response.json().await.unwrap();
    assert_eq!(posted.run.trigger, RunTrigger::Manual);
    assert_eq!(posted.message.content, "Summarise.");
    assert_eq!(
        ended(&app, &posted.run.id).await.status,
        RunStatus::Succeeded
    );
    let threads: Value = app
        .json(
            Method::GET,
            &format!("/api/agents/{agent}/threads"),
            Some("alice"),
            None,
        )
        .await;
    let manual = threads["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == posted.run.thread_id.as_str())
        .expect("the run's thread is listed");
    assert_eq!(manual["kind"], "manual");
}

#[tokio::test]
async fn threads_are_listed_renamed_and_deleted_with_their_messages() {
    let app = spawn_app().await;
    let (agent, thread) = agent_and_thread(&app, json!({"name": "a"})).await;
    posted(&app, &thread, "keep me?").await;
    let renamed: Value = app
        .json(
            Method::PATCH,
            &format!("/api/threads/{thread}"),
            Some("alice"),
            Some(json!({"title": "  Plans  "})),
        )
        .await;
    assert_eq!(renamed["title"], "Plans");
    let empty_title = app
        .call(
            Method::PATCH,
            &format!("/api/threads/{thread}"),
            Some("alice"),
            Some(json!({"title": " "})),
        )
        .await;
    assert_eq!(empty_title.status(), 422);
    let empty_message = post(&app, &thread, "   ").await;
    assert_eq!(empty_message.status(), 422);
    let listed: Value = app
        .json(
            Method::GET,
            &format!("/api/agents/{agent}/threads"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(listed["items"][0]["title"], "Plans");
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/threads/{thread}"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let gone = app
        .call(
            Method::GET,
            &format!("/api/threads/{thread}/messages"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn deleting_a_thread_stops_its_reply_and_frees_its_slot() {
    let tokens: Vec<String> = (0..500).map(|n| format!("w{n} ")).collect();
    let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let fake = FakeLlm::start(vec![
        Scripted::tokens(&tokens, Duration::from_millis(20)),
        Scripted::tokens(&["next"], Duration::ZERO),
    ])
    .await;
    let app = with_llm(&fake, |config| config.runner.max_concurrent_runs = 1).await;
    let (agent, thread) = agent_and_thread(&app, json!({"name": "one at a time"})).await;
    posted(&app, &thread, "long").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/threads/{thread}"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);

    let other = new_thread(&app, &agent).await;
    let next = posted(&app, &other, "next").await;
    let started = Instant::now();
    assert_eq!(ended(&app, &next.run.id).await.status, RunStatus::Succeeded);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the deleted thread's run gave up its slot"
    );
}

#[tokio::test]
async fn the_latest_messages_are_the_ones_a_step_sends() {
    let app = spawn_app().await;
    let (_, thread) = agent_and_thread(&app, json!({"name": "memory"})).await;
    let rows: Vec<NewMessageRow> = (0..5)
        .map(|n| NewMessageRow {
            content: format!("m{n}"),
            ..NewMessageRow::default()
        })
        .collect();
    app.store.store_messages(&thread, &rows).await.unwrap();
    let latest = app.store.latest_messages(&thread, 3, None).await.unwrap();
    let contents: Vec<_> = latest.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        contents,
        ["m2", "m3", "m4"],
        "the newest three, oldest first"
    );
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_the_provider_asks() {
    let fake = FakeLlm::start(vec![
        Scripted::Error {
            status: 429,
            headers: vec![("retry-after", "1".into())],
            body: "slow down".into(),
        },
        Scripted::tokens(&["Thanks for waiting."], Duration::ZERO),
    ])
    .await;
    let app = with_llm(&fake, |_| {}).await;
    let (_, thread) = agent_and_thread(&app, json!({"name": "patient"})).await;
    let started = Instant::now();
    let posted = posted(&app, &thread, "hi").await;
    assert_eq!(
        ended(&app, &posted.run.id).await.status,
        RunStatus::Succeeded
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the retry waited the second the provider asked for"
    );
    assert_eq!(fake.received().len(), 2);
}
