//! The `http_request` tool over real sockets: private and special addresses refused (also
//! behind a name), allowed networks reached, the response cut at its cap, the timeout kept.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, routing::get};
use hatchery_server::runner::tools::{
    ToolError,
    http_request::{HttpRequest, HttpToolConfig, send},
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
