//! The broker interface: sequence numbers, bounded history and live fan-out per topic.
//!
//! The in-memory broker ([`super::memory::MemoryBroker`]) serves one process; a shared
//! broker (such as Redis) can implement the same trait so that several processes share
//! topics. Callers publish through [`super::Realtime`] and never see which one runs.

use std::{future::Future, sync::Arc};

use hatchery_shared::realtime::{Message, Published, StreamPosition, Topic, TopicEvents};

use super::outbox::Outbox;

/// A connection's id, unique within the process.
pub type ConnId = u64;

/// How much of the topics' events is kept for recovery, and for how long. The oldest
/// events are forgotten first when any limit is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Events kept per topic.
    pub events: usize,
    /// Bytes of events kept per topic.
    pub topic_bytes: usize,
    /// Bytes of events kept across all topics.
    pub total_bytes: usize,
    /// The age after which an event is forgotten.
    pub max_age: std::time::Duration,
}

/// A connection asking for a topic's events.
#[derive(Debug)]
pub struct Subscription<'a> {
    /// The connection.
    pub conn: ConnId,
    /// Where its frames go.
    pub outbox: &'a Arc<Outbox>,
    /// The topic.
    pub topic: &'a Topic,
    /// The last event the client saw, to replay what came after.
    pub since: Option<&'a StreamPosition>,
    /// The request id to echo on the `subscribed` reply.
    pub req: Option<&'a str>,
}

/// What happened to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// No `since` was given.
    NotAsked,
    /// Every missed event was replayed.
    Recovered,
    /// History did not cover the gap (or the epoch changed): the client must refetch.
    Lost,
}

/// Sequence numbers, history and fan-out for topics. Asynchronous, because a shared broker
/// talks to another process; the in-memory one never waits. The hub holds its broker by
/// type rather than behind `dyn`, so that publishing stays a direct call with no boxed
/// future (several brokers would be one enum delegating to each).
pub trait Broker: Send + Sync + 'static {
    /// Gives `message` the topic's next sequence number, keeps it in history and queues it
    /// for every subscriber, serialised once.
    fn publish(&self, topic: &Topic, message: Message) -> impl Future<Output = Published> + Send;

    /// Registers the subscription (replacing an earlier one of the same connection) and
    /// queues, atomically with respect to publishes on the topic: the `subscribed` reply,
    /// then the replayed events, then live events — no gap, duplicate or reordering.
    fn subscribe(&self, subscription: Subscription<'_>) -> impl Future<Output = Recovery> + Send;

    /// Stops sending the topic's events to the connection.
    fn unsubscribe(&self, topic: &Topic, conn: ConnId) -> impl Future<Output = ()> + Send;

    /// Up to `limit` events after `since`, for the REST history endpoint.
    fn history(
        &self,
        topic: &Topic,
        since: &StreamPosition,
        limit: usize,
    ) -> impl Future<Output = TopicEvents> + Send;

    /// Forgets topics that have no subscribers and no history left.
    fn sweep(&self) -> impl Future<Output = ()> + Send;
}
