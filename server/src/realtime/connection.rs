//! One WebSocket connection: a writer (the connection's task) that sends queued frames in
//! batches and closes with the right code, and a reader task that handles the client's
//! frames and the heartbeat. The reader is only woken when the socket has data, so a busy
//! writer never pays for polling the read side; it stops reading while the connection's
//! queue is over half full, so a client that does not read cannot make it grow.

use std::{collections::HashSet, sync::Arc, time::Duration};

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket};
use futures_util::{Sink, SinkExt, StreamExt, stream::SplitStream};
use hatchery_shared::realtime::{
    CloseCode, Empty, ErrorBody, ErrorCode, Hello, Message, SubscribeError, SubscribeErrorCode,
    SubscribeTopic, Topic, Unsubscribed, parse_frame,
};
use tokio::time::Instant;

use super::{
    Peer, Realtime,
    broker::{Broker, ConnId, Recovery, Subscription},
    frame,
    outbox::{Ending, Outbox},
    policy,
};

/// How long a close frame may take to reach a client before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves an upgraded socket until either side closes it or the server shuts down.
pub(super) async fn serve(mut socket: WebSocket, peer: Peer, realtime: Realtime) {
    let Some((conn, outbox)) = realtime.open_connection(&peer) else {
        tracing::info!(user = %peer.user_id, "too many connections for this user");
        close_at_once(&mut socket, CloseCode::TooManyConnections).await;
        return;
    };
    let user = peer.user_id.clone();
    let mut session = Session {
        conn,
        outbox: outbox.clone(),
        peer,
        topics: HashSet::new(),
        realtime: realtime.clone(),
    };
    tracing::debug!(conn, %user, "connected");
    let (mut sink, stream) = socket.split();
    Box::pin(session.greet()).await;

    let reader = realtime.inner.tasks.spawn(read(stream, session));
    let ending = write(&mut sink, &outbox, &realtime).await;
    let reason = match ending {
        Ending::Close(code) => {
            let closed = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(close_frame(code)));
            let _ = Box::pin(closed).await;
            code.name()
        }
        Ending::ClientGone => "client",
    };
    outbox.end(ending);
    let topics = match reader.await {
        Ok(session) => session.topics,
        Err(err) => {
            tracing::error!(conn, error = %err, "the connection's reader failed");
            HashSet::new()
        }
    };
    tracing::debug!(conn, reason, "disconnected");
    Box::pin(realtime.close_connection(conn, &user, topics.into_iter(), reason)).await;
}

/// Sends queued frames until the connection ends; returns how it ended.
async fn write(
    sink: &mut (impl Sink<WsMessage, Error = axum::Error> + Unpin),
    outbox: &Outbox,
    realtime: &Realtime,
) -> Ending {
    // Made once, not per batch: registering a waiter on a token takes its lock.
    let closing = outbox.closing();
    tokio::pin!(closing);
    // Grown by the batches that come (an idle connection's stays small).
    let mut batch = Vec::new();
    loop {
        // Shutting down closes every queue too (see `Realtime::shutdown`).
        if let Some(ending) = outbox.next_batch(&mut batch).await {
            return ending;
        }
        tokio::select! {
            biased;
            written = write_batch(sink, &mut batch, realtime) => if written.is_err() {
                return Ending::ClientGone;
            },
            // A writer stuck on a client that stopped reading is interrupted here.
            () = &mut closing => batch.clear(),
        }
    }
}

/// Handles the client's frames and the heartbeat until the connection ends; returns the
/// session (with its topics, for the clean-up).
async fn read(mut stream: SplitStream<WebSocket>, mut session: Session) -> Session {
    let outbox = session.outbox.clone();
    let config = session.realtime.config().clone();
    let idle_limit = config.heartbeat + config.idle_grace;
    let mut ping = tokio::time::interval_at(Instant::now() + config.heartbeat, config.heartbeat);
    let idle = tokio::time::sleep(idle_limit);
    tokio::pin!(idle);
    let closing = outbox.closing();
    tokio::pin!(closing);
    loop {
        // The client's next request is read only once earlier replies have room to go out.
        let may_read = outbox.has_room();
        tokio::select! {
            biased;
            () = &mut closing => break,
            () = outbox.room(), if !may_read => {}
            inbound = stream.next(), if may_read => {
                idle.as_mut().reset(Instant::now() + idle_limit);
                match inbound {
                    Some(Ok(WsMessage::Text(text))) => Box::pin(session.handle(&text)).await,
                    Some(Ok(WsMessage::Binary(_))) => session.reply_error(
                        ErrorCode::BadJson,
                        "binary frames are not part of the protocol; send JSON text".into(),
                        None,
                    ),
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
                    Some(Ok(WsMessage::Close(_))) | None => outbox.end(Ending::ClientGone),
                    Some(Err(err)) if too_large(&err) => outbox.close(CloseCode::TooLarge),
                    Some(Err(_)) => outbox.end(Ending::ClientGone),
                }
            }
            _ = ping.tick() => session.send(frame::envelope(Message::Ping(Empty {}))),
            () = &mut idle => outbox.close(CloseCode::HeartbeatTimeout),
        }
    }
    session
}

/// The close frame for `code`, its name as the reason.
fn close_frame(code: CloseCode) -> WsMessage {
    WsMessage::Close(Some(CloseFrame {
        code: code.code(),
        reason: Utf8Bytes::from_static(code.name()),
    }))
}

/// Closes a socket that is refused before anything else is sent on it.
pub(super) async fn close_at_once(socket: &mut WebSocket, code: CloseCode) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(close_frame(code))).await;
}

/// Writes every frame of the batch, then flushes once.
async fn write_batch(
    sink: &mut (impl Sink<WsMessage, Error = axum::Error> + Unpin),
    batch: &mut Vec<Utf8Bytes>,
    realtime: &Realtime,
) -> Result<(), axum::Error> {
    let frames = batch.len() as u64;
    let mut bytes = 0;
    for frame in batch.drain(..) {
        bytes += frame.len() as u64;
        sink.feed(WsMessage::Text(frame)).await?;
    }
    sink.flush().await?;
    realtime.inner.metrics.frames_sent.inc_by(frames);
    realtime.inner.metrics.bytes_sent.inc_by(bytes);
    Ok(())
}

/// Whether a read failed because the client's frame was over the size limit.
fn too_large(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(err) = source {
        if let Some(tungstenite::Error::Capacity(_)) = err.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Why a subscribe frame is refused as a whole.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("a subscribe frame may name at most {0} topics")]
    FrameTooLarge(usize),
    #[error("the subscribe frame names {0} twice")]
    Twice(String),
    #[error("a connection may follow at most {0} topics")]
    TooManyTopics(usize),
}

/// What the connection knows about itself.
struct Session {
    conn: ConnId,
    outbox: Arc<Outbox>,
    peer: Peer,
    /// The topics subscribed to (the hub keeps the other direction of the index).
    topics: HashSet<Topic>,
    realtime: Realtime,
}

impl Session {
    /// Sends `hello` and subscribes the user's own topic.
    async fn greet(&mut self) {
        let config = self.realtime.config();
        self.send(frame::envelope(Message::Hello(Hello {
            conn_id: self.conn.to_string(),
            user_id: self.peer.user_id.clone(),
            heartbeat_ms: u64::try_from(config.heartbeat.as_millis()).unwrap_or(u64::MAX),
            max_topics: u32::try_from(config.max_topics).unwrap_or(u32::MAX),
            server_version: hatchery_shared::VERSION.into(),
        })));
        let own = SubscribeTopic {
            topic: format!("user:{}", self.peer.user_id),
            since: None,
        };
        self.subscribe(&own, None).await;
    }

    /// Queues a reply, logging its id.
    fn send(&self, envelope: hatchery_shared::realtime::Envelope) {
        tracing::debug!(
            conn = self.conn,
            id = %envelope.id,
            topic = envelope.topic.as_ref().map(Topic::as_str),
            r#type = envelope.message.message_type().as_str(),
            "send"
        );
        if !self.outbox.push(&envelope.to_json().into()) {
            self.realtime.inner.metrics.slow_consumer_closes.inc();
        }
    }

    fn reply(&self, message: Message, topic: Option<Topic>, req: Option<&str>) {
        let mut envelope = frame::envelope(message);
        envelope.topic = topic;
        envelope.req = req.map(str::to_owned);
        self.send(envelope);
    }

    fn reply_error(&self, code: ErrorCode, message: String, req: Option<&str>) {
        self.reply(Message::Error(ErrorBody { code, message }), None, req);
    }

    /// Handles one text frame from the client.
    async fn handle(&mut self, text: &str) {
        let envelope = match parse_frame(text) {
            Ok(envelope) => envelope,
            Err(err) => return self.reply_error(err.code, err.message, err.req.as_deref()),
        };
        let req = envelope.req.as_deref();
        tracing::debug!(conn = self.conn, id = %envelope.id, r#type = envelope.message.message_type().as_str(), "receive");
        match &envelope.message {
            Message::Subscribe(subscribe) => {
                if let Err(refusal) = self.check_subscribe(&subscribe.topics) {
                    return self.refuse_subscribe(refusal, &subscribe.topics, req);
                }
                for topic in &subscribe.topics {
                    self.subscribe(topic, req).await;
                }
            }
            Message::Unsubscribe(unsubscribe) => {
                for name in &unsubscribe.topics {
                    self.unsubscribe(name, req).await;
                }
            }
            Message::Ping(_) => self.reply(Message::Pong(Empty {}), None, req),
            Message::Pong(_) => {}
            other => self.reply_error(
                ErrorCode::BadRequest,
                format!(
                    "{} is sent by the server, not by clients",
                    other.message_type().as_str()
                ),
                req,
            ),
        }
    }

    /// Checks a subscribe frame as a whole, before anything is looked up: no topic named
    /// twice, and no more topics than the connection may hold.
    fn check_subscribe(&self, requests: &[SubscribeTopic]) -> Result<(), Refusal> {
        let max = self.realtime.config().max_topics;
        if requests.len() > max {
            return Err(Refusal::FrameTooLarge(max));
        }
        let mut named = HashSet::with_capacity(requests.len());
        let mut new = 0;
        for request in requests {
            if !named.insert(request.topic.as_str()) {
                return Err(Refusal::Twice(request.topic.clone()));
            }
            if let Ok(topic) = Topic::parse(&request.topic)
                && !self.topics.contains(&topic)
            {
                new += 1;
            }
        }
        if self.topics.len() + new > max {
            return Err(Refusal::TooManyTopics(max));
        }
        Ok(())
    }

    /// Answers a subscribe frame refused as a whole: one `error` for a frame that is wrong
    /// in itself, a `subscribe_error` per topic when the connection could not hold them.
    fn refuse_subscribe(&self, refusal: Refusal, requests: &[SubscribeTopic], req: Option<&str>) {
        let message = refusal.to_string();
        match refusal {
            Refusal::FrameTooLarge(_) | Refusal::Twice(_) => {
                self.reply_error(ErrorCode::BadRequest, message, req);
            }
            Refusal::TooManyTopics(_) => {
                for request in requests {
                    let refused = Message::SubscribeError(SubscribeError {
                        topic: request.topic.clone(),
                        code: SubscribeErrorCode::TooManyTopics,
                        message: message.clone(),
                    });
                    self.reply(refused, Topic::parse(&request.topic).ok(), req);
                }
            }
        }
    }

    async fn subscribe(&mut self, request: &SubscribeTopic, req: Option<&str>) {
        let refuse = |code, message: String| {
            Message::SubscribeError(SubscribeError {
                topic: request.topic.clone(),
                code,
                message,
            })
        };
        let topic = match Topic::parse(&request.topic) {
            Ok(topic) => topic,
            Err(err) => {
                return self.reply(refuse(SubscribeErrorCode::InvalidTopic, err.0), None, req);
            }
        };
        let store = &self.realtime.inner.store;
        if let Err((code, message)) = policy::may_follow(store, &self.peer, &topic).await {
            return self.reply(refuse(code, message), Some(topic), req);
        }
        let recovery = self
            .realtime
            .inner
            .broker
            .subscribe(Subscription {
                conn: self.conn,
                outbox: &self.outbox,
                topic: &topic,
                since: request.since.as_ref(),
                req,
            })
            .await;
        let metrics = &self.realtime.inner.metrics;
        match recovery {
            Recovery::NotAsked => {}
            Recovery::Recovered => metrics.recoveries.with_label_values(&["recovered"]).inc(),
            Recovery::Lost => metrics.recoveries.with_label_values(&["lost"]).inc(),
        }
        if self.topics.insert(topic) {
            metrics.subscriptions.inc();
        }
    }

    async fn unsubscribe(&mut self, name: &str, req: Option<&str>) {
        if let Ok(topic) = Topic::parse(name)
            && self.topics.remove(&topic)
        {
            self.realtime
                .inner
                .broker
                .unsubscribe(&topic, self.conn)
                .await;
            self.realtime.inner.metrics.subscriptions.dec();
        }
        self.reply(
            Message::Unsubscribed(Unsubscribed { topic: name.into() }),
            Topic::parse(name).ok(),
            req,
        );
    }
}
