//! The authorization matrix: every endpoint that acts on something, as an anonymous caller,
//! another user, the owner and an admin, against the status each must get.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Who calls: no credential, bob (not the owner), alice (the owner), root (admin).
const CALLERS: [Option<&str>; 4] = [None, Some("bob"), Some("alice"), Some("admin")];

/// Creates an agent of alice's and returns its id.
async fn alices_agent(app: &TestApp) -> String {
    let response = app
        .call(
            Method::POST,
            "/api/agents",
            Some("alice"),
            Some(json!({"name": "owned"})),
        )
        .await;
    let agent: Value = response.json().await.unwrap();
    agent["id"].as_str().unwrap().to_owned()
}

/// Creates a thread of a new agent of alice's and returns its id.
async fn alices_thread(app: &TestApp) -> String {
    let agent = alices_agent(app).await;
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

/// Starts a run in a new thread of alice's and returns its id.
async fn alices_run(app: &TestApp) -> String {
    let thread = alices_thread(app).await;
    let posted: Value = app
        .json(
            Method::POST,
            &format!("/api/threads/{thread}/messages"),
            Some("alice"),
            Some(json!({"content": "hello"})),
        )
        .await;
    posted["run"]["id"].as_str().unwrap().to_owned()
}

/// Creates a webhook trigger of a new agent of alice's and returns its id.
async fn alices_trigger(app: &TestApp) -> String {
    let agent = alices_agent(app).await;
    let created: Value = app
        .json(
            Method::POST,
            &format!("/api/agents/{agent}/triggers"),
            Some("alice"),
            Some(json!({})),
        )
        .await;
    created["trigger"]["id"].as_str().unwrap().to_owned()
}

/// Creates an API token of alice's (from her browser session) and returns its id.
async fn alices_token(app: &TestApp) -> String {
    let cookie = app.session_cookie("alice@example.com").await;
    let response = app
        .send(
            app.client
                .post(app.url("/api/tokens"))
                .header("cookie", cookie)
                .json(&json!({"name": "t"})),
        )
        .await
        .unwrap();
    let created: Value = response.json().await.unwrap();
    created["token"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_endpoint_answers_each_caller_as_expected() {
    let app = spawn_app().await;
    let account = |email: &str| json!({"email": email, "display_name": "New", "password": "long enough password"});
    // (method, path with {agent}/{token}, body, [anonymous, other, owner, admin])
    let cases: Vec<(Method, &str, Option<Value>, [u16; 4])> = vec![
        (Method::GET, "/api/agents", None, [401, 200, 200, 200]),
        (
            Method::GET,
            "/api/agents?scope=all",
            None,
            [401, 403, 403, 200],
        ),
        (
            Method::POST,
            "/api/agents",
            Some(json!({"name": "n"})),
            [401, 201, 201, 201],
        ),
        (
            Method::GET,
            "/api/agents/{agent}",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::PATCH,
            "/api/agents/{agent}",
            Some(json!({"name": "m"})),
            [401, 404, 200, 200],
        ),
        (
            Method::DELETE,
            "/api/agents/{agent}",
            None,
            [401, 404, 204, 204],
        ),
        (
            Method::GET,
            "/api/agents/{agent}/threads",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::POST,
            "/api/agents/{agent}/threads",
            Some(json!({})),
            [401, 404, 201, 201],
        ),
        (
            Method::PATCH,
            "/api/threads/{thread}",
            Some(json!({"title": "t"})),
            [401, 404, 200, 200],
        ),
        (
            Method::DELETE,
            "/api/threads/{thread}",
            None,
            [401, 404, 204, 204],
        ),
        (
            Method::GET,
            "/api/threads/{thread}/messages",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::POST,
            "/api/threads/{thread}/messages",
            Some(json!({"content": "hi"})),
            [401, 404, 202, 202],
        ),
        (Method::GET, "/api/runs/{run}", None, [401, 404, 200, 200]),
        // The agent has no task instructions: its owner learns that; others learn nothing.
        (
            Method::POST,
            "/api/agents/{agent}/run",
            None,
            [401, 404, 422, 422],
        ),
        (Method::GET, "/api/runs", None, [401, 200, 200, 200]),
        (
            Method::GET,
            "/api/runs?scope=all",
            None,
            [401, 403, 403, 200],
        ),
        (
            Method::GET,
            "/api/agents/{agent}/runs",
            None,
            [401, 404, 200, 200],
        ),
        (Method::GET, "/api/usage", None, [401, 200, 200, 200]),
        (Method::GET, "/api/usage/caps", None, [401, 200, 200, 200]),
        (
            Method::GET,
            "/api/usage/caps?agent={agent}",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::GET,
            "/api/usage?scope=all",
            None,
            [401, 403, 403, 200],
        ),
        (
            Method::GET,
            "/api/agents/{agent}/schedule",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::GET,
            "/api/schedule/preview?schedule=@daily",
            None,
            [401, 200, 200, 200],
        ),
        (
            Method::GET,
            "/api/agents/{agent}/triggers",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::POST,
            "/api/agents/{agent}/triggers",
            Some(json!({})),
            [401, 404, 201, 201],
        ),
        (
            Method::GET,
            "/api/triggers/{trigger}",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::POST,
            "/api/triggers/{trigger}/rotate",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::DELETE,
            "/api/triggers/{trigger}",
            None,
            [401, 404, 204, 204],
        ),
        (
            Method::GET,
            "/api/triggers/{trigger}/deliveries",
            None,
            [401, 404, 200, 200],
        ),
        (Method::GET, "/api/tokens", None, [401, 200, 200, 200]),
        // Tokens are created from browser sessions, never with a token.
        (
            Method::POST,
            "/api/tokens",
            Some(json!({"name": "n"})),
            [401, 403, 403, 403],
        ),
        (
            Method::PATCH,
            "/api/users/alice",
            Some(json!({"disabled": false})),
            [401, 403, 403, 200],
        ),
        (
            Method::DELETE,
            "/api/tokens/{token}",
            None,
            [401, 404, 204, 404],
        ),
        (Method::GET, "/api/users", None, [401, 403, 403, 200]),
        (
            Method::POST,
            "/api/users",
            Some(account("{who}@new.example")),
            [401, 403, 403, 201],
        ),
        (
            Method::POST,
            "/api/auth/sign-out",
            None,
            [401, 204, 204, 204],
        ),
        (
            Method::GET,
            "/api/topics/agent:{agent}/events?epoch=x&after=0",
            None,
            [401, 404, 200, 200],
        ),
        (
            Method::GET,
            "/api/topics/user:alice/events?epoch=x&after=0",
            None,
            [401, 403, 200, 403],
        ),
        (
            Method::POST,
            "/api/topics/user:alice/events",
            Some(json!({"type": "notice", "data": {"level": "info", "text": "hi"}})),
            [401, 403, 403, 202],
        ),
    ];
    let mut failures = Vec::new();
    for (method, template, body, expected) in &cases {
        for (caller, want) in CALLERS.iter().zip(expected) {
            // A fresh target per call, so deletes do not affect later callers.
            let mut path = template.to_string();
            for (placeholder, id) in [
                ("{agent}", alices_agent(&app).await),
                ("{token}", alices_token(&app).await),
                ("{thread}", alices_thread(&app).await),
                ("{run}", alices_run(&app).await),
                ("{trigger}", alices_trigger(&app).await),
            ] {
                path = path.replace(placeholder, &id);
            }
            let body = body.as_ref().map(|body| {
                let who = caller.unwrap_or("anonymous");
                serde_json::from_str(&body.to_string().replace("{who}", who)).unwrap()
            });
            let got = app
                .call(method.clone(), &path, *caller, body)
                .await
                .status();
            if got != *want {
                failures.push(format!(
                    "{method} {template} as {caller:?}: {got}, want {want}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
