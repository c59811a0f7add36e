//! The `hatchery` binary as an operator runs it: configuration errors, JSON logs, the
//! system log, and a graceful stop on SIGTERM.

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
    time::timeout,
};

use hatchery_shared::api::{
    Page,
    logs::{LogCategory, LogLevel, LogRecord},
    runs::Posted,
};

use crate::helpers::{TestData, eventually};

/// The binary on `data`, on a free loopback port, logging JSON lines to a pipe.
pub(crate) fn hatchery(data: &TestData) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hatchery"));
    command
        .env_clear()
        .env("HATCHERY_DATA_DIR", data.path())
        .env("HATCHERY_ADDR", "127.0.0.1:0")
        .env("HATCHERY_LOG_FORMAT", "json")
        .current_dir(data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn a_bad_config_value_stops_start_up_with_a_message_naming_the_variable() {
    let data = TestData::new();

    let output = timeout(
        Duration::from_secs(30),
        hatchery(&data).env("HATCHERY_LOG_FORMAT", "xml").output(),
    )
    .await
    .expect("the binary exits by itself")
    .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HATCHERY_LOG_FORMAT"), "stderr: {stderr}");
    assert!(stderr.contains("\"xml\""), "stderr: {stderr}");
    assert!(
        !data.path().join("hatchery.db").exists(),
        "nothing is created when the configuration is bad"
    );
}

/// Starts `command` and waits until the server logs that it listens; returns the process,
/// the rest of its log lines and its address.
pub(crate) async fn started(
    mut command: Command,
) -> (Child, Lines<BufReader<ChildStdout>>, String) {
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let entry: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
            if entry["message"] == "listening" {
                return entry["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!("the server exited before it listened");
    })
    .await
    .expect("the server listens within 30 s");
    (child, lines, addr)
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully_after_it_logged_json_lines() {
    let data = TestData::new();
    let (mut child, mut lines, addr) = started(hatchery(&data)).await;
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert!(health.status().is_success());

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());

    let status = timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the server stops within 15 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|line| line.contains("received SIGTERM")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|line| line.contains("\"stopped\"")),
        "{rest:?}"
    );
    assert!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_err(),
        "nothing listens after the stop"
    );
}

#[tokio::test]
async fn a_failed_run_is_in_the_system_log_with_its_run_and_request() {
    let data = TestData::new();
    let (_child, lines, addr) = started({
        let mut command = hatchery(&data);
        // Developer mode: every request acts as the built-in admin; no model to run.
        command
            .env("HATCHERY_AUTH", "disabled")
            .env("HATCHERY_LOCAL_MODEL", data.path().join("missing.gguf"));
        command
    })
    .await;
    // The server logs every request: read its lines, or it waits once the pipe is full.
    // Its warnings and errors are shown when the test fails.
    tokio::spawn(async move {
        let mut lines = lines;
        while let Ok(Some(line)) = lines.next_line().await {
            if !line.contains(r#""level":"INFO""#) {
                eprintln!("server: {line}");
            }
        }
    });
    let client = reqwest::Client::new();
    let api = |path: &str| format!("http://{addr}{path}");
    let agent: serde_json::Value = client
        .post(api("/api/agents"))
        .json(&serde_json::json!({ "name": "Doomed", "task_instructions": "go" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agent_id = agent["id"].as_str().unwrap();
    let started = client
        .post(api(&format!("/api/agents/{agent_id}/run")))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let request_id = started.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let posted: Posted = started.json().await.unwrap();

    // No model file and no provider: the run fails at once.
    let records: Page<LogRecord> = eventually("the failed run in the system log", async || {
        let page: Page<LogRecord> =
            get_json(&client, &api(&format!("/api/logs?run={}", posted.run.id))).await;
        (!page.items.is_empty()).then_some(page)
    })
    .await;
    let failed = &records.items[0];
    assert_eq!(failed.message, "the run failed");
    assert_eq!(failed.level, LogLevel::Warn);
    assert_eq!(failed.category, LogCategory::Runner);
    assert_eq!(failed.fields["agent"], agent_id);
    assert!(
        failed.fields["error"].as_str().unwrap().contains("model"),
        "{failed:?}"
    );
    assert_eq!(failed.request_id.as_deref(), Some(request_id.as_str()));

    let of_request: Page<LogRecord> = get_json(
        &client,
        &api(&format!("/api/logs?request={request_id}&category=runner")),
    )
    .await;
    assert!(of_request.items.iter().any(|record| record.id == failed.id));
    let errors_only: Page<LogRecord> = get_json(
        &client,
        &api(&format!("/api/logs?run={}&level=error", posted.run.id)),
    )
    .await;
    assert!(
        errors_only
            .items
            .iter()
            .all(|record| record.level == LogLevel::Error && record.id != failed.id),
        "a warning is not an error: {errors_only:?}"
    );
    let searched: Page<LogRecord> = get_json(&client, &api("/api/logs?text=RUN%20FAILED")).await;
    assert!(searched.items.iter().any(|record| record.id == failed.id));
    let metrics = client
        .get(api("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hatchery_system_log_dropped_total 0"),
        "nothing dropped, and it says so: {metrics}"
    );
}

/// The JSON answer to `GET url`.
async fn get_json<T: serde::de::DeserializeOwned>(client: &reqwest::Client, url: &str) -> T {
    client.get(url).send().await.unwrap().json().await.unwrap()
}
