//! The `http_request` tool over real sockets: private and special addresses refused (also
//! behind a name), allowed networks reached, the response cut at its cap, the timeout kept,
//! and never a proxy from the environment.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, routing::get};
use hatchery_server::runner::tools::{
    ToolError,
    http_request::{HttpRequest, HttpToolConfig, send},
};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::{
    fake_llm::{FakeLlm, Scripted, tool_call_chunk},
    helpers::TestData,
    process::{hatchery, started},
};

fn get_request(url: &str) -> HttpRequest {
    HttpRequest {
        url: url.into(),
        method: None,
        body: None,
    }
}

/// A local server: `/big` answers 100 KiB, `/slow` answers after 5 s.
async fn local_server() -> SocketAddr {
    let app = Router::new()
        .route("/big", get(|| async { "x".repeat(100 * 1024) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn private_and_special_addresses_are_refused_before_any_request() {
    let addr = local_server().await;
    let config = HttpToolConfig::default();
    for url in [
        format!("http://{addr}/big"),
        "http://10.0.0.1/".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        format!("http://localhost:{}/big", addr.port()),
        "http://[::1]/".into(),
        // IPv6 forms that reach IPv4 addresses: NAT64, 6to4, IPv4-compatible.
        "http://[64:ff9b::7f00:1]/".into(),
        "http://[2002:7f00:1::1]/".into(),
        "http://[::127.0.0.1]/".into(),
    ] {
        let refused = send(get_request(&url), &config).await;
        assert!(
            matches!(refused, Err(ToolError::Refused(_))),
            "{url}: {refused:?}"
        );
    }
    let bad = send(get_request("file:///etc/passwd"), &config).await;
    assert!(matches!(bad, Err(ToolError::BadArguments(_))));
}

#[tokio::test]
async fn an_allowed_network_is_reached_with_the_size_cap_and_the_timeout() {
    let addr = local_server().await;
    let config = HttpToolConfig {
        timeout: Duration::from_millis(500),
        max_response_bytes: 1000,
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        ports: Vec::new(),
    };
    let big = send(get_request(&format!("http://{addr}/big")), &config)
        .await
        .unwrap();
    assert!(big.starts_with("HTTP 200 OK"));
    assert!(big.ends_with("[cut off after 1000 bytes]"));
    assert!(big.len() < 1100);
    let slow = send(get_request(&format!("http://{addr}/slow")), &config).await;
    assert_eq!(slow, Err(ToolError::TimedOut(Duration::from_millis(500))));
}

#[tokio::test]
async fn only_the_listed_ports_are_reached() {
    let addr = local_server().await;
    let url = format!("http://{addr}/big");
    let mut config = HttpToolConfig {
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        ports: vec![80, 443],
        ..HttpToolConfig::default()
    };
    let refused = send(get_request(&url), &config).await;
    assert!(
        matches!(&refused, Err(ToolError::Refused(why)) if why.contains("80, 443")),
        "{refused:?}"
    );
    config.ports.push(addr.port());
    assert!(send(get_request(&url), &config).await.is_ok());
}

/// The JSON answer to `request`.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// A proxy that counts the connections made to it and refuses every request.
async fn counting_proxy() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let _ = socket
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    (addr, connections)
}

#[tokio::test]
async fn the_tool_never_goes_through_a_proxy_named_in_the_environment() {
    if std::env::var_os("HATCHERY_TEST_POSTGRES").is_some() {
        return; // The binary runs on its own SQLite file: once is enough.
    }
    let target = local_server().await;
    let (proxy, proxied) = counting_proxy().await;
    let url = json!({"url": format!("http://{target}/big")}).to_string();
    let fake = FakeLlm::start(vec![
        Scripted::Stream {
            chunks: vec![(
                Duration::ZERO,
                tool_call_chunk(0, Some("call_1"), Some("http_request"), &url),
            )],
            done: true,
        },
        Scripted::tokens(&["Fetched."], Duration::ZERO),
    ])
    .await;
    let data = TestData::new();
    let mut command = hatchery(&data);
    command
        .env("HATCHERY_AUTH", "disabled")
        // The provider may use the proxy; `localhost` is exempt so that it reaches the fake.
        .env(
            "HATCHERY_LLM_BASE_URL",
            fake.base_url.replace("127.0.0.1", "localhost"),
        )
        .env("HATCHERY_HTTP_TOOL_ALLOW", "127.0.0.0/8")
        .env("HTTP_PROXY", format!("http://{proxy}"))
        .env("http_proxy", format!("http://{proxy}"))
        .env("ALL_PROXY", format!("http://{proxy}"))
        .env("NO_PROXY", "localhost");
    let (_child, mut lines, addr) = started(command).await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let client = reqwest::Client::new();
    let agent = json_of(
        client
            .post(format!("http://{addr}/api/agents"))
            .json(&json!({
                "name": "fetcher",
                "tools": ["http_request"],
                "task_instructions": "Fetch the page.",
            })),
    )
    .await;
    let posted = json_of(client.post(format!(
        "http://{addr}/api/agents/{}/run",
        agent["id"].as_str().unwrap()
    )))
    .await;
    let run_url = format!(
        "http://{addr}/api/runs/{}",
        posted["run"]["id"].as_str().unwrap()
    );
    let run = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let run = json_of(client.get(&run_url)).await;
            if !matches!(run["status"].as_str(), Some("queued" | "running")) {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the run ends");

    assert_eq!(run["status"], "succeeded", "{run}");
    let sent_back = &fake.received()[1].1["messages"];
    let output = sent_back
        .as_array()
        .unwrap()
        .iter()
        .find(|message| message["role"] == "tool")
        .expect("the tool's result goes back to the model");
    assert!(
        output["content"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 200 OK"),
        "{output}"
    );
    assert_eq!(
        proxied.load(Ordering::SeqCst),
        0,
        "nothing went through the proxy"
    );
}
