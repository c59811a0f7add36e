//! The server-rendered site: pages with the layout, and the HTML 404 page.

use std::time::Duration;

use hatchery_shared::api::runs::RunTrigger;
use reqwest::{Method, StatusCode};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_dashboard_is_rendered_on_the_server_with_the_navigation_and_version() {
    let app = spawn_app().await;

    let response = app.get("/").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    for label in ["Dashboard", "Agents", "Runs", "Rooms", "Logs"] {
        assert!(
            html.contains(&format!(">{label}</a>")),
            "no {label} link in the navigation"
        );
    }
    assert!(html.contains(concat!("v", env!("CARGO_PKG_VERSION"))));
    assert!(
        html.contains("/pkg/hatchery.js"),
        "the page loads the bundle"
    );
}

#[tokio::test]
async fn the_logs_page_arrives_with_the_audit_records() {
    let app = spawn_app().await;
    let (agent, _) = app.agent_with_thread("admin", "Audited").await;

    let response = app
        .call(
            Method::GET,
            "/logs?tab=audit&action=agent_created",
            Some("admin"),
            None,
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("data-action=\"agent_created\""), "{html}");
    assert!(html.contains(&format!("agent {agent}")), "{html}");
}

#[tokio::test]
async fn an_unknown_page_is_a_404_with_the_layout() {
    let app = spawn_app().await;

    let response = app.get("/no/such/page").await;

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(
        html.contains(">Dashboard</a>"),
        "the 404 page keeps the navigation"
    );
}

#[tokio::test]
async fn pages_allow_only_their_own_scripts_and_no_framing() {
    let app = spawn_app().await;

    let response = app.get("/agents").await;

    let headers = response.headers().clone();
    let policy = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "frame-ancestors 'none'",
        "object-src 'none'",
        "'wasm-unsafe-eval'",
        "connect-src 'self'",
    ] {
        assert!(
            policy.contains(directive),
            "{directive} missing from {policy}"
        );
    }
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap();
    let html = response.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the page's own scripts carry the policy's nonce"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["x-frame-options"], "DENY");

    let other = app.get("/agents").await;
    assert_ne!(
        other.headers()["content-security-policy"].to_str().unwrap(),
        policy,
        "a new nonce for every page"
    );
    let api = app.get("/api/agents").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
}

/// Every page arrives whole, with its data: none of many renders in a row is left waiting
/// for data that came, or shows a part still loading.
#[tokio::test]
async fn every_page_arrives_whole_every_time() {
    let app = spawn_app().await;
    let (agent, thread) = app.agent_with_thread("admin", "rendered").await;
    let run = app
        .stored_run(&agent, &thread, RunTrigger::Chat, "m", "hello")
        .await;
    let pages = [
        "/".to_owned(),
        "/agents".to_owned(),
        format!("/agents/{agent}"),
        format!("/agents/{agent}?tab=schedule"),
        format!("/agents/{agent}?tab=triggers"),
        format!("/agents/{agent}?tab=runs"),
        format!("/agents/{agent}/chat?thread={thread}"),
        "/runs".to_owned(),
        format!("/runs/{}", run.id),
        "/usage".to_owned(),
        "/account/tokens".to_owned(),
        "/admin/users".to_owned(),
        "/logs".to_owned(),
        format!("/logs?tab=system&run={}", run.id),
        "/api-docs".to_owned(),
    ];

    let mut unfinished = Vec::new();
    for _ in 0..100 {
        for page in &pages {
            let render = async {
                let response = app.call(Method::GET, page, Some("admin"), None).await;
                (response.status(), response.text().await.unwrap())
            };
            match tokio::time::timeout(Duration::from_secs(5), render).await {
                Ok((status, html)) => {
                    assert_eq!(status, StatusCode::OK, "{page}");
                    assert!(
                        html.contains("</body></html>"),
                        "{page} is cut short: {html}"
                    );
                    assert!(
                        !html.contains("aria-busy"),
                        "{page} is still loading: {html}"
                    );
                }
                Err(_) => unfinished.push(page.as_str()),
            }
        }
    }
    assert!(
        unfinished.is_empty(),
        "renders that never finished: {unfinished:?}"
    );
}
