//! Webhook triggers over real HTTP: a signed request starts a run with its body as input;
//! bad, stale, future, unsigned, replayed, oversized, binary and over-the-rate requests
//! are refused and start nothing; rotation keeps the old secret for its grace period only;
//! a trigger of a deleted or disabled agent is not found; every delivery is logged.

use std::time::{Duration, Instant};

use chrono::Utc;
use hatchery_server::{config::Config, webhooks::adapter};
use hatchery_shared::api::{
    Page,
    runs::{Run, RunTrigger},
    threads::{Thread, ThreadKind, ThreadMessage},
    triggers::{Delivery, DeliveryAccepted, DeliveryOutcome, Trigger, TriggerWithSecret},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, spawn_app, spawn_app_configured};

/// An agent of alice's with a task, and a trigger of it.
async fn agent_with_trigger(app: &TestApp) -> (String, TriggerWithSecret) {
    let agent: Value = app
        .json(
            Method::POST,
            "/api/agents",
            Some("alice"),
            Some(json!({"name": "Hooked", "task_instructions": "Triage this issue."})),
        )
        .await;
    let agent = agent["id"].as_str().unwrap().to_owned();
    let response = app
        .call(
            Method::POST,
            &format!("/api/agents/{agent}/triggers"),
            Some("alice"),
            Some(json!({"name": "GitHub"})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    (agent, response.json().await.unwrap())
}

/// Sends `body` to the trigger, signed with `secret` at `timestamp` (Unix seconds).
async fn send(
    app: &TestApp,
    trigger: &Trigger,
    secret: &str,
    timestamp: i64,
    body: &str,
) -> reqwest::Response {
    let timestamp = timestamp.to_string();
    app.send(
        app.client
            .post(app.url(&trigger.path))
            .header("X-Hatchery-Timestamp", &timestamp)
            .header(
                "X-Hatchery-Signature",
                adapter::hatchery_signature(secret, &timestamp, body.as_bytes()),
            )
            .header("Content-Type", "application/json")
            .body(body.to_owned()),
    )
    .await
    .unwrap()
}

fn now() -> i64 {
    Utc::now().timestamp()
}

async fn runs_of(app: &TestApp, agent: &str) -> Vec<Run> {
    let page: Page<Run> = app
        .json(
            Method::GET,
            &format!("/api/agents/{agent}/runs"),
            Some("alice"),
            None,
        )
        .await;
    page.items
}

async fn deliveries(app: &TestApp, trigger: &Trigger) -> Vec<Delivery> {
    let page: Page<Delivery> = app
        .json(
            Method::GET,
            &format!("/api/triggers/{}/deliveries", trigger.id),
            Some("alice"),
            None,
        )
        .await;
    page.items
}

#[tokio::test]
async fn a_signed_request_starts_a_run_with_its_body_as_input() {
    let app = spawn_app().await;
    let (agent, created) = agent_with_trigger(&app).await;
    assert!(created.secret.starts_with("whsec_"));
    assert_eq!(
        created.trigger.path,
        format!("/api/hooks/{}", created.trigger.id)
    );

    let body = r#"{"issue": 42, "title": "Crash on start"}"#;
    let response = send(&app, &created.trigger, &created.secret, now(), body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: DeliveryAccepted = response.json().await.unwrap();

    let runs = runs_of(&app, &agent).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, accepted.run_id);
    assert_eq!(runs[0].trigger, RunTrigger::Webhook);
    let threads: Page<Thread> = app
        .json(
            Method::GET,
            &format!("/api/agents/{agent}/threads"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(threads.items[0].kind, ThreadKind::Webhook);
    let messages: Page<ThreadMessage> = app
        .json(
            Method::GET,
            &format!("/api/threads/{}/messages", runs[0].thread_id),
            Some("alice"),
            None,
        )
        .await;
    let input = &messages.items[0].content;
    assert!(input.starts_with("Triage this issue."), "{input}");
    assert!(input.ends_with(body), "{input}");

    let log = deliveries(&app, &created.trigger).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].outcome, DeliveryOutcome::Accepted);
    assert_eq!(log[0].status_code, 202);
    assert_eq!(log[0].run_id.as_deref(), Some(accepted.run_id.as_str()));
}

#[tokio::test]
async fn the_secret_is_shown_once_and_sealed_at_rest() {
    let app = spawn_app().await;
    let (agent, created) = agent_with_trigger(&app).await;
    let listed = app
        .call(
            Method::GET,
            &format!("/api/agents/{agent}/triggers"),
            Some("alice"),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains(&created.trigger.id));
    assert!(!listed.contains(&created.secret));
    let stored = app
        .store
        .trigger(&created.trigger.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.sealed_secret.contains(&created.secret[6..]));
}

#[tokio::test]
async fn unsigned_badly_signed_stale_and_future_requests_are_refused() {
    let app = spawn_app().await;
    let (agent, created) = agent_with_trigger(&app).await;
    let trigger = &created.trigger;
    let body = r#"{"x": 1}"#;
    let cases = [
        (
            "wrong secret",
            send(&app, trigger, "whsec_wrong", now(), body).await,
        ),
        (
            "stale",
            send(&app, trigger, &created.secret, now() - 301, body).await,
        ),
        (
            "future",
            send(&app, trigger, &created.secret, now() + 301, body).await,
        ),
        (
            "no headers",
            app.send(app.client.post(app.url(&trigger.path)).body(body))
                .await
                .unwrap(),
        ),
        (
            "a signature of another body",
            app.send(
                app.client
                    .post(app.url(&trigger.path))
                    .header("X-Hatchery-Timestamp", now().to_string())
                    .header(
                        "X-Hatchery-Signature",
                        adapter::hatchery_signature(&created.secret, &now().to_string(), b"other"),
                    )
                    .body(body),
            )
            .await
            .unwrap(),
        ),
    ];
    for (what, response) in cases {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"]["message"].is_string(), "{what}");
    }
    assert!(runs_of(&app, &agent).await.is_empty(), "nothing ran");
    let log = deliveries(&app, trigger).await;
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|delivery| delivery.status_code == 401
        && delivery.outcome == DeliveryOutcome::Refused
        && delivery.run_id.is_none()));
}

#[tokio::test]
async fn the_same_request_again_is_a_replay() {
    let app = spawn_app().await;
    let (agent, created) = agent_with_trigger(&app).await;
    let sent_at = now();
    let first = send(&app, &created.trigger, &created.secret, sent_at, "{}").await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let again = send(&app, &created.trigger, &created.secret, sent_at, "{}").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(runs_of(&app, &agent).await.len(), 1);
}

#[tokio::test]
async fn a_correctly_signed_body_that_is_not_text_is_refused_and_logged() {
    let app = spawn_app().await;
    let (agent, created) = agent_with_trigger(&app).await;
    let body = vec![0xff, 0xfe, 0x00, 0x80];
    let timestamp = now().to_string();
    let response = app
        .send(
            app.client
                .post(app.url(&created.trigger.path))
                .header("X-Hatchery-Timestamp", &timestamp)
                .header(
                    "X-Hatchery-Signature",
                    adapter::hatchery_signature(&created.secret, &timestamp, &body),
                )
                .header("Content-Type", "application/octet-stream")
                .body(body),
        )
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("UTF-8")),
        "{error}"
    );
    assert!(runs_of(&app, &agent).await.is_empty());
    let log = deliveries(&app, &created.trigger).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status_code, 400);
    assert!(log[0].run_id.is_none());
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_read() {
    let app = spawn_app().await;
    let (agent, created) = agent_with_trigger(&app).await;
    // Announce 10 MiB, send 1 KiB of it, and expect the answer without sending the rest.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         X-Hatchery-Timestamp: {}\r\nX-Hatchery-Signature: sha256={}\r\n\
         Content-Length: {}\r\n\r\n",
        created.trigger.path,
        app.addr,
        now(),
        "0".repeat(64),
        10 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&[b' '; 1024]).await.unwrap();
    let started = Instant::now();
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut answer))
        .await
        .expect("an answer before the body is sent")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(runs_of(&app, &agent).await.is_empty());
}

#[tokio::test]
async fn a_rotated_secret_keeps_working_for_its_grace_period_only() {
    let app = spawn_app_configured(|config: &mut Config| {
        config.webhooks.rotation_grace = Duration::from_secs(2);
    })
    .await;
    let (agent, created) = agent_with_trigger(&app).await;
    let rotated: TriggerWithSecret = app
        .json(
            Method::POST,
            &format!("/api/triggers/{}/rotate", created.trigger.id),
            Some("alice"),
            None,
        )
        .await;
    assert_ne!(rotated.secret, created.secret);
    assert!(rotated.trigger.previous_secret_valid_until.is_some());
    let trigger = &created.trigger;
    let new = send(&app, trigger, &rotated.secret, now(), r#"{"n": 1}"#).await;
    assert_eq!(new.status(), StatusCode::ACCEPTED);
    let old = send(&app, trigger, &created.secret, now(), r#"{"n": 2}"#).await;
    assert_eq!(
        old.status(),
        StatusCode::ACCEPTED,
        "the old secret, within its grace"
    );
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let old = send(&app, trigger, &created.secret, now(), r#"{"n": 3}"#).await;
    assert_eq!(
        old.status(),
        StatusCode::UNAUTHORIZED,
        "the old secret, after it"
    );
    let new = send(&app, trigger, &rotated.secret, now(), r#"{"n": 4}"#).await;
    assert_eq!(new.status(), StatusCode::ACCEPTED);
    assert_eq!(runs_of(&app, &agent).await.len(), 3);
}

#[tokio::test]
async fn a_trigger_of_a_deleted_or_disabled_agent_is_not_found() {
    let app = spawn_app().await;
    let (disabled, of_disabled) = agent_with_trigger(&app).await;
    let (deleted, of_deleted) = agent_with_trigger(&app).await;
    app.disable_agent(&disabled).await;
    app.delete_agent(&deleted).await;
    for created in [&of_disabled, &of_deleted] {
        let response = send(&app, &created.trigger, &created.secret, now(), "{}").await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let unknown = app
        .send(
            app.client
                .post(app.url("/api/hooks/no-such-trigger"))
                .body("{}"),
        )
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(runs_of(&app, &disabled).await.is_empty());
}

#[tokio::test]
async fn requests_over_the_rate_get_429_with_retry_after() {
    let app = spawn_app_configured(|config: &mut Config| {
        config.webhooks.rate_per_minute = std::num::NonZeroU32::new(2).unwrap();
    })
    .await;
    let (agent, created) = agent_with_trigger(&app).await;
    for n in 0..2 {
        let body = format!(r#"{{"n": {n}}}"#);
        let response = send(&app, &created.trigger, &created.secret, now(), &body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let response = send(
        &app,
        &created.trigger,
        &created.secret,
        now(),
        r#"{"n": 9}"#,
    )
    .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(runs_of(&app, &agent).await.len(), 2);
}

#[tokio::test]
async fn unsigned_requests_cannot_keep_the_real_sender_out() {
    let app = spawn_app_configured(|config: &mut Config| {
        config.webhooks.rate_per_minute = std::num::NonZeroU32::new(5).unwrap();
        config.auth.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let (agent, created) = agent_with_trigger(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..80 {
        let response = app
            .send(
                app.client
                    .post(app.url(&created.trigger.path))
                    .header("X-Forwarded-For", "203.0.113.9")
                    .body("{}"),
            )
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(&statuses[..5], [401; 5]);
    assert!(
        statuses[5..].iter().all(|status| *status == 429),
        "the guessing address waits: {statuses:?}"
    );

    let timestamp = now().to_string();
    let body = r#"{"real": true}"#;
    let real = app
        .send(
            app.client
                .post(app.url(&created.trigger.path))
                .header("X-Forwarded-For", "198.51.100.4")
                .header("X-Hatchery-Timestamp", &timestamp)
                .header(
                    "X-Hatchery-Signature",
                    adapter::hatchery_signature(&created.secret, &timestamp, body.as_bytes()),
                )
                .body(body),
        )
        .await
        .unwrap();
    assert_eq!(
        real.status(),
        StatusCode::ACCEPTED,
        "the sender's rate is untouched"
    );
    assert_eq!(runs_of(&app, &agent).await.len(), 1);
}

#[tokio::test]
async fn the_curl_example_of_the_triggers_tab_is_accepted() {
    let app = spawn_app().await;
    let (agent, created) = agent_with_trigger(&app).await;
    let url = app.url(&created.trigger.path);
    let example = hatchery_app::curl_example(&url, &created.secret);
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!("{example} -s -o /dev/null -w '%{{http_code}}'"))
        .output()
        .await
        .expect("bash runs");
    let status = String::from_utf8_lossy(&output.stdout);
    assert_eq!(status, "202", "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(runs_of(&app, &agent).await.len(), 1);
}

#[tokio::test]
async fn deliveries_older_than_the_retention_are_deleted() {
    let app = spawn_app().await;
    let (_, created) = agent_with_trigger(&app).await;
    let response = send(&app, &created.trigger, &created.secret, now(), "{}").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(deliveries(&app, &created.trigger).await.len(), 1);
    let kept = app
        .store
        .prune_deliveries(Utc::now() - chrono::Duration::days(7))
        .await
        .unwrap();
    assert_eq!(kept, 0, "a delivery within the retention stays");
    let pruned = app
        .store
        .prune_deliveries(Utc::now() + chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert!(deliveries(&app, &created.trigger).await.is_empty());
}
