//! The `hatchery` binary as an operator runs it: configuration errors, JSON logs, and a
//! graceful stop on SIGTERM.

use std::{process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt, BufReader, Lines},
    process::{Child, ChildStdout, Command},
    time::timeout,
};

use crate::helpers::TestData;

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
