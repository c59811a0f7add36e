//! The provider and the runner against a third-party OpenAI-compatible server, `llm-katan`
//! from PyPI (installed by `scripts/setup.sh test`), whose echo backend needs no model: it
//! streams plain replies as SSE but answers a stream request that offers tools with one
//! JSON completion calling the first tool.

use std::{
    net::{Ipv4Addr, TcpListener},
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use hatchery_server::runner::provider::{OpenAiCompatible, OpenAiConfig};
use hatchery_shared::api::{agents::Tool, runs::RunStatus, threads::MessageRole};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::{
    provider::{read_all, request},
    runs::{agent_and_thread, ended, messages, posted, with_provider_at},
};

/// A running `llm-katan`, killed when dropped.
struct Katan {
    base_url: String,
    _process: Child,
}

impl Katan {
    /// Starts it on a free loopback port and waits until it answers.
    async fn start() -> Self {
        let program =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/tools/.venv/bin/llm-katan");
        assert!(
            program.exists(),
            "{} is missing: run scripts/setup.sh test",
            program.display()
        );
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new(program)
            .args(["-m", "echo-model", "-n", "gpt-4o-mini", "-b", "echo"])
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let base_url = format!("http://127.0.0.1:{port}/v1");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        loop {
            let models = client
                .get(format!("{base_url}/models"))
                .bearer_auth("sk-test")
                .send()
                .await;
            if models.is_ok_and(|response| response.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "llm-katan did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            base_url,
            _process: process,
        }
    }

    fn provider(&self) -> OpenAiCompatible {
        OpenAiCompatible::new(OpenAiConfig {
            base_url: self.base_url.clone(),
            api_key: Some("sk-test".to_owned().into()),
            timeout: Duration::from_secs(10),
        })
    }
}

#[tokio::test]
async fn its_streamed_replies_and_its_json_tool_calls_are_read() {
    let katan = Katan::start().await;
    let provider = katan.provider();

    let (plain, _) = read_all(&provider, request(&[])).await.unwrap();
    assert!(!plain.text.is_empty(), "{plain:?}");
    assert!(plain.tool_calls().is_empty());
    assert!(
        plain.prompt_tokens > 0 && plain.completion_tokens > 0,
        "{plain:?}"
    );

    let tools = [Tool::CurrentTime, Tool::Calculator];
    let (with_tools, _) = read_all(&provider, request(&tools)).await.unwrap();
    let calls = with_tools.tool_calls();
    assert_eq!(calls.len(), 1, "{with_tools:?}");
    assert_eq!(calls[0].name, "current_time");
    assert!(!calls[0].id.is_empty());
    let arguments: Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert!(arguments["time_zone"].is_string(), "{arguments}");
}

#[tokio::test]
async fn runs_with_and_without_tools_go_through_it() {
    let katan = Katan::start().await;
    let app = with_provider_at(&katan.base_url, |config| config.runner.max_steps = 2).await;

    let (_, thread) = agent_and_thread(&app, json!({"name": "echo", "model": "gpt-4o-mini"})).await;
    let run = ended(&app, &posted(&app, &thread, "Hello").await.run.id).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(run.prompt_tokens > 0, "{run:?}");
    let reply = messages(&app, &thread).await;
    assert!(
        reply
            .iter()
            .any(|message| message.role == MessageRole::Assistant && !message.content.is_empty()),
        "{reply:?}"
    );

    // The echo backend calls the first tool on every step, so the run reaches the step
    // limit, having run the tool with what each JSON answer asked for (a made-up zone).
    let (_, thread) = agent_and_thread(
        &app,
        json!({"name": "clock", "model": "gpt-4o-mini", "tools": ["current_time"]}),
    )
    .await;
    let run = ended(
        &app,
        &posted(&app, &thread, "What time is it?").await.run.id,
    )
    .await;
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.error
            .as_deref()
            .unwrap_or_default()
            .contains("stopped after 2 steps"),
        "{run:?}"
    );
    let results: Vec<_> = messages(&app, &thread)
        .await
        .into_iter()
        .filter(|message| message.role == MessageRole::Tool)
        .collect();
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(
        results
            .iter()
            .all(|result| result.content.contains("test_time_zone")),
        "{results:?}"
    );
}
