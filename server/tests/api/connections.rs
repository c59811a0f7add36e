//! The HTTP server's own limits, over raw sockets: a client that sends its headers too
//! slowly is disconnected, a request whose body does not arrive in time is answered 408,
//! and connections beyond the limit wait until one closes.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{TestApp, spawn_app_configured};

/// Reads what the server sends until it closes the connection or `wait` passes; `None` if
/// it was still open then.
async fn read_to_close(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut answer = Vec::new();
    tokio::time::timeout(wait, stream.read_to_end(&mut answer))
        .await
        .ok()
        .map(|_| String::from_utf8_lossy(&answer).into_owned())
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.unwrap()
}

#[tokio::test]
async fn a_client_slow_to_send_its_headers_is_disconnected() {
    let app = spawn_app_configured(|config| {
        config.serve.header_timeout = Duration::from_millis(500);
    })
    .await;
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut slow, Duration::from_secs(5)).await;
    assert!(answer.is_some(), "the connection was closed");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(app.healthz().await.status(), 200, "others are served");
}

#[tokio::test]
async fn a_request_whose_body_does_not_arrive_in_time_gets_408() {
    let app = spawn_app_configured(|config| {
        config.serve.request_timeout = Duration::from_millis(500);
    })
    .await;
    let mut slow = connect(&app).await;
    slow.write_all(
        b"POST /api/auth/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let answer = read_to_close(&mut slow, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_one_to_close() {
    let app = spawn_app_configured(|config| config.serve.max_connections = 2).await;
    let mut held = vec![connect(&app).await, connect(&app).await];
    // Both are accepted before the third arrives.
    for stream in &mut held {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
    }

    let mut third = connect(&app).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_to_close(&mut third, Duration::from_millis(500)).await,
        None,
        "not served while two are open"
    );

    held.pop();
    let answer = read_to_close(&mut third, Duration::from_secs(5))
        .await
        .expect("served once one closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
