//! The HTTP server's own limits, over raw sockets: a client that sends its headers too
//! slowly is disconnected, a request whose body does not arrive in time is answered 408,
//! connections beyond the limit wait until one closes, and a WebSocket opens over HTTP/2.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hatchery_shared::realtime::{Envelope, Message, Subscribe, SubscribeTopic, parse_frame};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite;

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

/// Reads text frames from `ws` until one of type `kind` arrives.
async fn next_of<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>, kind: &str) -> Envelope
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let read = async {
        while let Some(frame) = ws.next().await {
            if let tungstenite::Message::Text(text) = frame.expect("a frame") {
                let envelope = parse_frame(&text).expect("a protocol frame");
                if envelope.message.message_type().as_str() == kind {
                    return envelope;
                }
            }
        }
        panic!("the socket ended before a {kind} frame");
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("the frame arrives")
}

#[tokio::test]
async fn a_websocket_opens_over_http2_and_carries_replies_and_events() {
    let app = crate::helpers::spawn_app().await;
    let io = hyper_util::rt::TokioIo::new(connect(&app).await);
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
            .await
            .expect("an HTTP/2 connection");
    tokio::spawn(connection);
    let request = axum::http::Request::builder()
        .method(axum::http::Method::CONNECT)
        .uri(format!("http://{}/api/ws", app.addr))
        .version(axum::http::Version::HTTP_2)
        .header("sec-websocket-version", "13")
        .header("authorization", format!("Bearer {}", app.bearer("admin")))
        .extension(hyper::ext::Protocol::from_static("websocket"))
        .body(axum::body::Body::empty())
        .unwrap();

    let response = sender.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 200);
    let upgraded = hyper::upgrade::on(response)
        .await
        .expect("the stream is open");
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
        hyper_util::rt::TokioIo::new(upgraded),
        tungstenite::protocol::Role::Client,
        None,
    )
    .await;

    next_of(&mut ws, "hello").await;
    next_of(&mut ws, "subscribed").await;
    let mut subscribe = Envelope::new(
        Message::Subscribe(Subscribe {
            topics: vec![SubscribeTopic {
                topic: "ops".into(),
                since: None,
            }],
        }),
        String::new(),
        None,
    );
    subscribe.req = Some("s1".into());
    ws.send(tungstenite::Message::Text(subscribe.to_json().into()))
        .await
        .unwrap();
    assert_eq!(
        next_of(&mut ws, "subscribed").await.req.as_deref(),
        Some("s1")
    );
    assert_eq!(
        app.publish_notice("admin", "ops", "over h2").await.status(),
        202
    );
    let Message::Notice(notice) = next_of(&mut ws, "notice").await.message else {
        unreachable!("next_of returns a notice");
    };
    assert_eq!(notice.text, "over h2");
}

#[tokio::test]
async fn a_request_to_the_websocket_that_is_not_a_handshake_is_a_400_saying_why() {
    let app = crate::helpers::spawn_app().await;
    let cases = [
        (vec![], "Connection header"),
        (
            vec![("connection", "upgrade"), ("upgrade", "websocket")],
            "Sec-WebSocket-Key",
        ),
        (
            vec![
                ("connection", "keep-alive, Upgrade"),
                ("upgrade", "websocket"),
                ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                ("sec-websocket-version", "8"),
            ],
            "Sec-WebSocket-Version",
        ),
    ];
    for (headers, why) in cases {
        let mut request = app
            .client
            .get(app.url("/api/ws"))
            .bearer_auth(app.bearer("alice"));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = app.send(request).await.unwrap();
        assert_eq!(response.status(), 400, "{why}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("not a WebSocket request") && body.contains(why),
            "{body}"
        );
    }
}
