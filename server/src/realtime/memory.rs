//! The in-memory broker: per-topic sequence numbers, bounded history and fan-out inside one
//! process, each topic a [`Feed`]. A restart loses history, which a fresh random epoch tells
//! clients.
//!
//! History is bounded per topic (events, bytes, age) and across topics (bytes): every kept
//! event is also listed in publish order, so that the oldest of all can be forgotten when
//! the whole is over its limit, however many topics there are.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
};

use hatchery_shared::realtime::{Message, Published, StreamPosition, Topic, TopicEvents};

use super::{
    broker::{Broker, ConnId, Recovery, Subscription},
    feed::{Feed, FeedLimits},
    metrics::RealtimeMetrics,
};

/// The in-memory broker.
#[derive(Debug)]
pub struct MemoryBroker {
    topics: Mutex<HashMap<Topic, Arc<Feed>>>,
    /// Every event kept in a history, oldest first (with entries for events their topic
    /// has forgotten since, skipped when reached); at most [`MAX_KEPT`] entries.
    kept: Mutex<VecDeque<Kept>>,
    limits: FeedLimits,
    metrics: Arc<RealtimeMetrics>,
}

/// An event kept in the history of a topic.
#[derive(Debug)]
struct Kept {
    feed: Weak<Feed>,
    seq: u64,
}

/// Entries of the broker-wide list of kept events, which bounds the events kept in all.
const MAX_KEPT: usize = 200_000;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new(limits: FeedLimits, metrics: Arc<RealtimeMetrics>) -> Self {
        Self {
            topics: Mutex::default(),
            kept: Mutex::default(),
            limits,
            metrics,
        }
    }

    /// Lists a newly kept event, then forgets the oldest events of all topics while the
    /// whole history is over its limits. Called without any topic's lock held.
    fn kept(&self, feed: &Arc<Feed>, seq: u64) {
        let mut kept = lock(&self.kept);
        kept.push_back(Kept {
            feed: Arc::downgrade(feed),
            seq,
        });
        while kept.len() > MAX_KEPT
            || usize::try_from(self.metrics.history_bytes.get())
                .is_ok_and(|bytes| bytes > self.limits.history.total_bytes)
        {
            let Some(oldest) = kept.pop_front() else {
                break;
            };
            if let Some(feed) = oldest.feed.upgrade() {
                feed.forget_through(oldest.seq, self.limits.lag, &self.metrics);
            }
        }
    }

    fn feed(&self, topic: &Topic) -> Arc<Feed> {
        lock(&self.topics).entry(topic.clone()).or_default().clone()
    }

    /// Live events published but not yet taken by the connections following them.
    pub fn unsent(&self) -> u64 {
        let feeds: Vec<Arc<Feed>> = lock(&self.topics).values().cloned().collect();
        feeds.iter().map(|feed| feed.unsent()).sum()
    }
}

impl Broker for MemoryBroker {
    async fn publish(&self, topic: &Topic, message: Message) -> Published {
        let feed = self.feed(topic);
        let published = feed.publish(topic, message, self.limits, &self.metrics);
        self.kept(&feed, published.seq);
        self.metrics.publishes.inc();
        published
    }

    async fn subscribe(&self, subscription: Subscription<'_>) -> Recovery {
        self.feed(subscription.topic)
            .subscribe(subscription, self.limits, &self.metrics)
    }

    async fn unsubscribe(&self, topic: &Topic, conn: ConnId) {
        let feed = lock(&self.topics).get(topic).cloned();
        if let Some(feed) = feed {
            feed.unsubscribe(conn);
        }
    }

    async fn history(&self, topic: &Topic, since: &StreamPosition, limit: usize) -> TopicEvents {
        self.feed(topic)
            .history(topic, since, limit, self.limits, &self.metrics)
    }

    async fn sweep(&self) {
        let mut topics = lock(&self.topics);
        topics.retain(|_, feed| {
            // A feed someone still holds (a publish under way, a cursor) is kept too.
            feed.sweep(self.limits, &self.metrics) || Arc::strong_count(feed) > 1
        });
    }
}
