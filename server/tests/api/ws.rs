//! `WsHarness`: a real WebSocket client for tests, with helpers to send frames and to
//! expect (or not) what the server sends.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hatchery_shared::realtime::{Envelope, Message, MessageType, StreamPosition, parse_frame};
use tokio::{net::TcpStream, time::timeout};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

use crate::{conformance, helpers::TestApp};

/// How long `expect` waits by default.
pub const WAIT: Duration = Duration::from_secs(5);

/// One test client connection.
pub struct WsHarness {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_req: u32,
}

/// What a client sees next.
#[derive(Debug)]
pub enum Next {
    /// A frame (pings aside).
    Frame(Box<Envelope>),
    /// The connection ended.
    Ended(Ended),
    /// Nothing within the wait.
    Silent,
}

/// How a connection ended, as the client saw it.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// A close frame with this code.
    Closed(u16),
    /// The connection dropped without a close frame.
    Dropped,
}

async fn connect(request: tungstenite::handshake::client::Request) -> WsHarness {
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket upgrade succeeds");
    WsHarness { ws, next_req: 0 }
}

impl TestApp {
    /// Opens `/api/ws` with the token of `token` (see [`TestApp::bearer`]; or none) and, if given, an `Origin` header.
    pub async fn ws_with(&self, token: Option<&str>, origin: Option<&str>) -> WsHarness {
        let mut request = format!("ws://{}/api/ws", self.addr)
            .into_client_request()
            .unwrap();
        if let Some(token) = token {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {}", self.bearer(token)).parse().unwrap(),
            );
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        }
        connect(request).await
    }

    /// Opens `/api/ws` with a session cookie (`name=value`), as a script would (no `Origin`).
    pub async fn ws_with_cookie(&self, cookie: &str) -> WsHarness {
        let mut request = format!("ws://{}/api/ws", self.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
        connect(request).await
    }

    /// Opens `/api/ws` as the holder of `token` and reads `hello` and the `subscribed`
    /// reply for the user's own topic.
    pub async fn ws(&self, token: &str) -> WsHarness {
        let mut ws = self.ws_with(Some(token), None).await;
        ws.expect(MessageType::Hello).await;
        ws.expect(MessageType::Subscribed).await;
        ws
    }
}

impl WsHarness {
    /// Sends a text frame as it is.
    pub async fn send_raw(&mut self, text: impl Into<String>) {
        self.ws
            .send(tungstenite::Message::Text(text.into().into()))
            .await
            .expect("the frame is sent");
    }

    /// Sends `message` in an envelope with a new `req`, and returns that `req`.
    pub async fn send(&mut self, message: Message) -> String {
        self.next_req += 1;
        let req = format!("r{}", self.next_req);
        let mut envelope = Envelope::new(message, String::new(), None);
        envelope.req = Some(req.clone());
        let frame = envelope.to_json();
        conformance::check_frame(&frame);
        self.send_raw(frame).await;
        req
    }

    /// Subscribes to topics, each with an optional recovery point; returns the `req`.
    pub async fn subscribe(&mut self, topics: &[(&str, Option<StreamPosition>)]) -> String {
        let topics = topics
            .iter()
            .map(|(topic, since)| hatchery_shared::realtime::SubscribeTopic {
                topic: (*topic).into(),
                since: since.clone(),
            })
            .collect();
        self.send(Message::Subscribe(hatchery_shared::realtime::Subscribe {
            topics,
        }))
        .await
    }

    /// Sends a text frame as it is; false when the connection is already gone.
    pub async fn try_send_raw(&mut self, text: impl Into<String>) -> bool {
        self.ws
            .send(tungstenite::Message::Text(text.into().into()))
            .await
            .is_ok()
    }

    /// What comes next, a server `ping` included, within `wait`.
    async fn next_any(&mut self, wait: Duration) -> Next {
        loop {
            let Ok(frame) = timeout(wait, self.ws.next()).await else {
                return Next::Silent;
            };
            return match frame {
                Some(Ok(tungstenite::Message::Text(text))) => {
                    conformance::check_frame(&text);
                    Next::Frame(Box::new(
                        parse_frame(&text).expect("the server sends valid frames"),
                    ))
                }
                Some(Ok(tungstenite::Message::Close(Some(frame)))) => {
                    Next::Ended(Ended::Closed(u16::from(frame.code)))
                }
                Some(Ok(tungstenite::Message::Close(None))) => {
                    Next::Ended(Ended::Closed(u16::from(CloseCode::Status)))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => Next::Ended(Ended::Dropped),
            };
        }
    }

    /// What comes next other than a server `ping`, within `wait`.
    pub async fn next_or_end(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_any(left).await {
                Next::Frame(frame) if frame.message.message_type() == MessageType::Ping => {}
                next => return next,
            }
        }
    }

    /// The next frame other than a server `ping`, within `wait`; `None` if none came.
    /// Panics if the connection ends.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Envelope> {
        match self.next_or_end(wait).await {
            Next::Frame(envelope) => Some(*envelope),
            Next::Silent => None,
            Next::Ended(ended) => panic!("the connection ended: {ended:?}"),
        }
    }

    /// The next frame (pings aside), which must be of type `expected`.
    pub async fn expect(&mut self, expected: MessageType) -> Envelope {
        let frame = self
            .next_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("no {} within {WAIT:?}", expected.as_str()));
        assert_eq!(frame.message.message_type(), expected, "got {frame:?}");
        frame
    }

    /// Skips frames until one of type `wanted` arrives (within [`WAIT`]) and returns it.
    pub async fn skip_until(&mut self, wanted: MessageType) -> Envelope {
        loop {
            let frame = self
                .next_within(WAIT)
                .await
                .unwrap_or_else(|| panic!("no {} within {WAIT:?}", wanted.as_str()));
            if frame.message.message_type() == wanted {
                return frame;
            }
        }
    }

    /// Asserts that nothing but pings arrives for `wait`.
    pub async fn expect_none(&mut self, wait: Duration) {
        if let Some(frame) = self.next_within(wait).await {
            panic!("expected nothing, got {frame:?}");
        }
    }

    /// Reads (and returns) every frame until the connection ends, then how it ended.
    pub async fn read_until_end(&mut self, wait: Duration) -> (Vec<Envelope>, Ended) {
        let deadline = tokio::time::Instant::now() + wait;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_any(left).await {
                Next::Frame(frame) => frames.push(*frame),
                Next::Ended(ended) => return (frames, ended),
                Next::Silent => panic!("the connection did not end within {wait:?}"),
            }
        }
    }

    /// Reads until the connection ends and returns the close code, asserting that no frame
    /// other than pings came first.
    pub async fn expect_close(&mut self, wait: Duration) -> Ended {
        let (frames, ended) = self.read_until_end(wait).await;
        let frames: Vec<_> = frames
            .into_iter()
            .filter(|frame| frame.message.message_type() != MessageType::Ping)
            .collect();
        assert!(frames.is_empty(), "frames before the close: {frames:?}");
        ended
    }
}
