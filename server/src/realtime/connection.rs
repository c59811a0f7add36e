//! One WebSocket connection: a writer (the connection's task) that writes the queued frames,
//! already encoded, with one vectored write per batch and closes with the right code, and a
//! reader task that reads the client's frames (with tungstenite) and handles them and the
//! heartbeat. The reader is only woken when the socket has data, so a busy writer never
//! pays for polling the read side; it stops reading while the connection's queue is over
//! half full, so a client that does not read cannot make it grow.

use std::{
    collections::HashSet,
    io::{self, IoSlice},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::StreamExt;
use hatchery_shared::realtime::{
    CloseCode, Empty, ErrorBody, ErrorCode, Hello, Message, SubscribeError, SubscribeErrorCode,
    SubscribeTopic, Topic, Unsubscribed, parse_frame,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf},
    time::Instant,
};
use tokio_tungstenite::WebSocketStream;
use tungstenite::{
    Message as WsMessage,
    protocol::{Role, WebSocketConfig},
};

use super::{
    Peer, Realtime,
    broker::{Broker, ConnId, Recovery, Subscription},
    frame,
    outbox::{Batch, Ending, Outbox},
    policy,
    wire::WireFrame,
};

/// How long a close frame may take to reach a client before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Buffer for reading from a socket: small, because it is zero-filled on every read and held
/// by every connection, idle or not. Clients send small frames (subscribe, ping); a larger
/// one (up to `max_frame_bytes`) grows it for as long as it takes to read.
const READ_BUFFER_BYTES: usize = 1 << 10;

/// The most frames one vectored write hands to the kernel.
const FRAMES_PER_WRITE: usize = 64;

/// A socket's byte stream, as the HTTP server hands it over after the handshake.
pub trait Socket: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> Socket for S {}

/// Serves an upgraded socket until either side closes it or the server shuts down.
pub(super) async fn serve(mut socket: impl Socket, peer: Peer, realtime: Realtime) {
    let Some((conn, outbox)) = realtime.open_connection(&peer) else {
        tracing::info!(user = %peer.user_id, "too many connections for this user");
        close_at_once(&mut socket, CloseCode::TooManyConnections).await;
        return;
    };
    let user = peer.user_id.clone();
    let config = realtime.config();
    let reading = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(config.max_frame_bytes))
        .max_frame_size(Some(config.max_frame_bytes));
    let mut session = Session {
        conn,
        outbox: outbox.clone(),
        peer,
        topics: HashSet::new(),
        realtime: realtime.clone(),
    };
    tracing::debug!(conn, %user, "connected");
    let (read_half, mut write_half) = tokio::io::split(socket);
    let client = ClientSide {
        socket: read_half,
        outbox: outbox.clone(),
        written: Vec::new(),
    };
    let stream = WebSocketStream::from_raw_socket(client, Role::Server, Some(reading)).await;
    Box::pin(session.greet()).await;

    let reader = realtime.inner.tasks.spawn(read(stream, session));
    let ending = write(&mut write_half, &outbox, &realtime).await;
    let reason = match ending {
        Ending::Close(code) => code.name(),
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

/// Sends queued frames until the connection ends, then the close frame if it ends with a
/// code; returns how it ended.
async fn write(
    socket: &mut (impl AsyncWrite + Unpin),
    outbox: &Outbox,
    realtime: &Realtime,
) -> Ending {
    // Made once, not per batch: registering a waiter on a token takes its lock.
    let closing = outbox.closing();
    tokio::pin!(closing);
    // Grown by the batches that come (an idle connection's stays small).
    let mut batch = Batch::default();
    // The rest of a frame whose writing was interrupted: it goes out before the close frame,
    // or the client would read the close frame as part of it.
    let mut unfinished = None;
    loop {
        // Shutting down closes every queue too (see `Realtime::shutdown`).
        if let Some(ending) = outbox.next_batch(&mut batch).await {
            if let Ending::Close(code) = ending {
                Box::pin(close(socket, code, unfinished)).await;
            }
            return ending;
        }
        let mut written = 0;
        tokio::select! {
            biased;
            result = write_batch(socket, &batch.frames, &mut written, realtime) => {
                batch.frames.clear();
                if result.is_err() {
                    return Ending::ClientGone;
                }
            },
            // A writer stuck on a client that stopped reading is interrupted here.
            () = &mut closing => {
                unfinished = rest_of_frame(&batch.frames, written);
                batch.frames.clear();
            }
        }
    }
}

/// What is left to write of the frame that `written` bytes into `frames` cut, if any.
fn rest_of_frame(frames: &[WireFrame], written: usize) -> Option<WireFrame> {
    let mut start = 0;
    for frame in frames {
        let end = start + frame.wire_len();
        if written < end {
            return (written > start).then(|| frame.after(written - start));
        }
        start = end;
    }
    None
}

/// Writes a batch of frames, adding the bytes to `written` as they go, and counts it.
async fn write_batch(
    socket: &mut (impl AsyncWrite + Unpin),
    batch: &[WireFrame],
    written: &mut usize,
    realtime: &Realtime,
) -> io::Result<()> {
    write_frames(socket, batch, written).await?;
    let metrics = &realtime.inner.metrics;
    metrics.frames_sent.inc_by(batch.len() as u64);
    metrics.bytes_sent.inc_by(*written as u64);
    Ok(())
}

/// Writes `frames` in order, in as few vectored writes as the kernel takes, then flushes;
/// adds the bytes to `written` as they are written.
async fn write_frames(
    socket: &mut (impl AsyncWrite + Unpin),
    frames: &[WireFrame],
    written: &mut usize,
) -> io::Result<()> {
    for chunk in frames.chunks(FRAMES_PER_WRITE) {
        let mut slices: [IoSlice<'_>; FRAMES_PER_WRITE] =
            std::array::from_fn(|i| IoSlice::new(chunk.get(i).map_or(&[], WireFrame::as_bytes)));
        let mut unwritten = &mut slices[..chunk.len()];
        while !unwritten.is_empty() {
            let bytes = socket.write_vectored(unwritten).await?;
            if bytes == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            *written += bytes;
            IoSlice::advance_slices(&mut unwritten, bytes);
        }
    }
    socket.flush().await
}

/// Handles the client's frames and the heartbeat until the connection ends; returns the
/// session (with its topics, for the clean-up).
async fn read<S: Socket>(
    mut stream: WebSocketStream<ClientSide<ReadHalf<S>>>,
    mut session: Session,
) -> Session {
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
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {}
                    Some(Ok(WsMessage::Close(_))) | None => outbox.end(Ending::ClientGone),
                    Some(Err(tungstenite::Error::Capacity(_))) => outbox.close(CloseCode::TooLarge),
                    Some(Err(_)) => outbox.end(Ending::ClientGone),
                }
            }
            _ = ping.tick() => session.send(frame::envelope(Message::Ping(Empty {}))),
            () = &mut idle => outbox.close(CloseCode::HeartbeatTimeout),
        }
    }
    session
}

/// Closes a socket that is refused before anything else is sent on it.
pub(super) async fn close_at_once(socket: &mut (impl AsyncWrite + Unpin), code: CloseCode) {
    close(socket, code, None).await;
}

/// Sends the rest of an `unfinished` frame, then the close frame for `code`, and ends the
/// stream, waiting at most [`CLOSE_TIMEOUT`] for the client to take them.
async fn close(
    socket: &mut (impl AsyncWrite + Unpin),
    code: CloseCode,
    unfinished: Option<WireFrame>,
) {
    let frames: Vec<WireFrame> = unfinished
        .into_iter()
        .chain([WireFrame::close(code)])
        .collect();
    let close = async {
        write_frames(socket, &frames, &mut 0).await?;
        socket.shutdown().await
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, close).await;
}

/// The socket as tungstenite sees it: it reads the client's frames from the socket, and
/// what it writes (its answer to a ping, the echo of a close) goes into the connection's
/// queue as encoded frames, in order with everything else the writer sends.
struct ClientSide<R> {
    socket: R,
    outbox: Arc<Outbox>,
    /// Bytes tungstenite wrote since its last flush.
    written: Vec<u8>,
}

impl<R: AsyncRead + Unpin> AsyncRead for ClientSide<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for ClientSide<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.written.is_empty() {
            let frames = std::mem::take(&mut this.written);
            this.outbox.push(&WireFrame::encoded(frames.into()));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
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
        if !self.outbox.push(&WireFrame::text(envelope.to_json())) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_write_leaves_the_rest_of_the_frame_it_cut() {
        let frames = [
            WireFrame::text("abc".into()),
            WireFrame::text("defg".into()),
        ];
        let (first, second) = (frames[0].as_bytes(), frames[1].as_bytes());

        assert_eq!(rest_of_frame(&frames, 0), None, "nothing was started");
        assert_eq!(rest_of_frame(&frames, 2).unwrap().as_bytes(), &first[2..]);
        assert_eq!(
            rest_of_frame(&frames, first.len()),
            None,
            "a frame ended there"
        );
        let cut = first.len() + 1;
        assert_eq!(
            rest_of_frame(&frames, cut).unwrap().as_bytes(),
            &second[1..]
        );
        assert_eq!(rest_of_frame(&frames, first.len() + second.len()), None);
    }
}
