//! The real-time hub: one WebSocket per browser tab at `/api/ws`, topics, recovery by
//! sequence number, heartbeats and back-pressure (the contract is in
//! `hatchery_shared::realtime`).
//!
//! Callers publish typed events through [`Realtime::publish`]; they never see sockets. The
//! `/api/ws` route hands each upgraded socket to [`Realtime::serve`].

pub mod broker;
mod connection;
pub mod feed;

pub use connection::Socket;
mod frame;
mod memory;
pub mod metrics;
pub mod outbox;
mod policy;
pub mod wire;

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use hatchery_shared::realtime::{
    CloseCode, Message, Published, StreamPosition, SubscribeErrorCode, Topic, TopicEvents,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::{
    broker::{Broker, ConnId, HistoryLimits},
    feed::FeedLimits,
    memory::MemoryBroker,
    metrics::RealtimeMetrics,
    outbox::{Outbox, QueueLimits},
};
use crate::store::Store;

/// Who a connection belongs to, as the hub needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The user (their own topic is `user:{id}`).
    pub user_id: String,
    /// Admins may follow every topic.
    pub is_admin: bool,
    /// What authenticated the connection (such as a session), as a key that
    /// [`Realtime::disconnect`] matches when that credential ends.
    pub credential: String,
}

/// Settings of the real-time hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealtimeConfig {
    /// How often the server pings (`HATCHERY_WS_HEARTBEAT_MS`, default 25 s).
    pub heartbeat: Duration,
    /// How much longer than `heartbeat` a silent connection is kept (10 s).
    pub idle_grace: Duration,
    /// Topics per connection (256).
    pub max_topics: usize,
    /// Each connection's outbound queue of replies and replays, and how far behind a topic's
    /// newest event it may fall (500 frames or 1 MiB); more closes it with 4409.
    pub queue: QueueLimits,
    /// History kept: per topic 1,000 events, 512 KiB (`HATCHERY_WS_HISTORY_TOPIC_BYTES`) and
    /// 5 minutes; 64 MiB across topics (`HATCHERY_WS_HISTORY_TOTAL_BYTES`).
    pub history: HistoryLimits,
    /// The largest inbound frame; larger ones close the socket with 1009 (64 KiB).
    pub max_frame_bytes: usize,
    /// Origins allowed besides the server's own (`HATCHERY_ALLOWED_ORIGINS`, comma-separated).
    pub allowed_origins: Vec<String>,
    /// Open connections one user may hold; more are closed with 4429
    /// (`HATCHERY_WS_MAX_CONNECTIONS_PER_USER`, default 100).
    pub max_connections_per_user: usize,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(25),
            idle_grace: Duration::from_secs(10),
            max_topics: 256,
            queue: QueueLimits {
                frames: 500,
                bytes: 1 << 20,
            },
            history: HistoryLimits {
                events: 1000,
                topic_bytes: 512 << 10,
                total_bytes: 64 << 20,
                max_age: Duration::from_secs(300),
            },
            max_frame_bytes: 64 << 10,
            allowed_origins: Vec::new(),
            max_connections_per_user: 100,
        }
    }
}

/// The hub: publish events, serve connections. Cheap to clone.
#[derive(Clone)]
pub struct Realtime {
    inner: Arc<Inner>,
}

struct Inner {
    config: RealtimeConfig,
    broker: MemoryBroker,
    metrics: RealtimeMetrics,
    connections: Mutex<HashMap<ConnId, Open>>,
    store: Store,
    /// Open connections per user id.
    per_user: Mutex<HashMap<String, usize>>,
    next_conn: AtomicU64,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// An open connection as the hub sees it.
struct Open {
    outbox: Arc<Outbox>,
    /// What authenticated it ([`Peer::credential`]): revoking that closes the connection.
    credential: String,
}

impl std::fmt::Debug for Realtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Realtime")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The longest time between two sweeps, which forget events past their age and topics
/// without subscribers or history. Short history ages are swept four times per age.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl Realtime {
    /// A hub with the in-memory broker, its metrics registered in `registry`, asking
    /// `store` who owns what when a topic's policy needs it. Starts the tracked task that
    /// forgets idle topics; [`Realtime::shutdown`] stops it.
    pub fn new(
        config: RealtimeConfig,
        registry: &prometheus::Registry,
        store: Store,
    ) -> prometheus::Result<Self> {
        let metrics = RealtimeMetrics::register(registry)?;
        let limits = FeedLimits {
            history: config.history,
            lag: config.queue,
        };
        let broker = MemoryBroker::new(limits, Arc::new(metrics.clone()));
        let realtime = Self {
            inner: Arc::new(Inner {
                config,
                broker,
                metrics,
                connections: Mutex::default(),
                store,
                per_user: Mutex::default(),
                next_conn: AtomicU64::new(1),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        };
        let sweeper = realtime.clone();
        realtime.inner.tasks.spawn(async move {
            let mut every = tokio::time::interval(
                (sweeper.inner.config.history.max_age / 4)
                    .clamp(Duration::from_millis(250), SWEEP_EVERY),
            );
            loop {
                tokio::select! {
                    () = sweeper.inner.shutdown.cancelled() => break,
                    _ = every.tick() => sweeper.inner.broker.sweep().await,
                }
            }
        });
        Ok(realtime)
    }

    /// Publishes an event to a topic's subscribers and history. Call it after the change
    /// the event describes is committed.
    pub async fn publish(&self, topic: &Topic, message: Message) -> Published {
        self.inner.broker.publish(topic, message).await
    }

    /// Publishes an event about an agent (a change to it, or to one of its runs) on the
    /// agent's topic and its owner's, where the agent's page and the owner's lists follow
    /// it. Each topic numbers its own events.
    pub async fn publish_about_agent(&self, agent_id: &str, owner_id: &str, message: Message) {
        self.publish(&Topic::agent(agent_id), message.clone()).await;
        self.publish(&Topic::user(owner_id), message).await;
    }

    /// Up to `limit` events of `topic` after `since`.
    pub async fn history(
        &self,
        topic: &Topic,
        since: &StreamPosition,
        limit: usize,
    ) -> TopicEvents {
        self.inner.broker.history(topic, since, limit).await
    }

    /// The hub's settings.
    pub fn config(&self) -> &RealtimeConfig {
        &self.inner.config
    }

    /// Brings gauges that are computed rather than counted up to date (call before reading
    /// the metrics).
    pub fn refresh_gauges(&self) {
        let queued: usize = self
            .connections()
            .values()
            .map(|open| open.outbox.depth())
            .sum();
        let depth = (queued as u64).saturating_add(self.inner.broker.unsent());
        self.inner
            .metrics
            .queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Closes every connection with 1001 (going away) and waits, up to `grace`, for their
    /// tasks and the hub's own to finish.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.shutdown.cancel();
        // Each connection's writer hears it from its own queue, so that it waits on nothing
        // else while it runs.
        for open in self.connections().values() {
            open.outbox.close(CloseCode::GoingAway);
        }
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some WebSocket connections did not close within the grace period");
        }
    }

    /// Serves a socket upgraded for `peer` until either side closes it or the hub shuts
    /// down; the hub tracks the returned future's work.
    pub fn serve<S: Socket>(&self, socket: S, peer: Peer) -> impl Future<Output = ()> + use<S> {
        self.inner
            .tasks
            .track_future(connection::serve(socket, peer, self.clone()))
    }

    /// Closes a socket upgraded for a client that was refused, with `code` and nothing
    /// else (a browser cannot read a refused handshake's status, but it reads a close code).
    pub fn refuse<S: Socket>(
        &self,
        mut socket: S,
        code: CloseCode,
    ) -> impl Future<Output = ()> + use<S> {
        tracing::info!(code = code.code(), "WebSocket refused");
        self.inner.tasks.track_future(async move {
            connection::close_at_once(&mut socket, code).await;
        })
    }

    /// Whether `peer` may follow `topic` (as for a subscription), or the code and message
    /// to refuse with.
    pub async fn may_follow(
        &self,
        peer: &Peer,
        topic: &Topic,
    ) -> Result<(), (SubscribeErrorCode, String)> {
        policy::may_follow(&self.inner.store, peer, topic).await
    }

    /// Closes with 4401 every connection opened with a credential that `ended` says no
    /// longer holds (after a sign-out, a revoked token or expired sessions).
    pub fn disconnect(&self, ended: impl Fn(&str) -> bool) {
        for open in self.connections().values() {
            if ended(&open.credential) {
                open.outbox.close(CloseCode::NotAuthenticated);
            }
        }
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Open>> {
        self.inner
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection of `peer`: its id and its outbound queue, or `None`
    /// when the user already holds the most connections allowed.
    fn open_connection(&self, peer: &Peer) -> Option<(ConnId, Arc<Outbox>)> {
        let user = peer.user_id.as_str();
        {
            let mut per_user = self
                .inner
                .per_user
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let open = per_user.entry(user.to_owned()).or_default();
            if *open >= self.inner.config.max_connections_per_user {
                return None;
            }
            *open += 1;
        }
        let conn = self.inner.next_conn.fetch_add(1, Ordering::Relaxed);
        let outbox = Arc::new(Outbox::new(self.inner.config.queue));
        {
            let mut connections = self.connections();
            connections.insert(
                conn,
                Open {
                    outbox: outbox.clone(),
                    credential: peer.credential.clone(),
                },
            );
            // Opened while the hub shuts down, after it closed the others (see `shutdown`).
            if self.inner.shutdown.is_cancelled() {
                outbox.close(CloseCode::GoingAway);
            }
        }
        self.inner.metrics.connections.inc();
        self.inner.metrics.connections_opened.inc();
        Some((conn, outbox))
    }

    async fn close_connection(
        &self,
        conn: ConnId,
        user: &str,
        topics: impl Iterator<Item = Topic>,
        reason: &str,
    ) {
        {
            let mut per_user = self
                .inner
                .per_user
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(open) = per_user.get_mut(user) {
                *open -= 1;
                if *open == 0 {
                    per_user.remove(user);
                }
            }
        }
        for topic in topics {
            self.inner.broker.unsubscribe(&topic, conn).await;
            self.inner.metrics.subscriptions.dec();
        }
        self.connections().remove(&conn);
        self.inner.metrics.connections.dec();
        self.inner
            .metrics
            .connections_closed
            .with_label_values(&[reason])
            .inc();
    }
}
