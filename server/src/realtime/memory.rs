//! The in-memory broker: per-topic sequence numbers, bounded history and fan-out inside one
//! process. A restart loses history, which a fresh random epoch tells clients.
//!
//! History is bounded per topic (events, bytes, age) and across topics (bytes): every kept
//! event is also listed in publish order, so that the oldest of all can be forgotten when
//! the whole is over its limit, however many topics there are.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
    time::Instant,
};

use hatchery_shared::realtime::{
    Envelope, Message, Published, StreamPosition, Subscribed, Topic, TopicEvents,
};

use super::{
    broker::{Broker, ConnId, HistoryLimits, Recovery, Subscription},
    frame,
    metrics::RealtimeMetrics,
    outbox::Outbox,
    wire::WireFrame,
};

/// The in-memory broker.
#[derive(Debug)]
pub struct MemoryBroker {
    topics: Mutex<HashMap<Topic, Arc<Mutex<Channel>>>>,
    /// Every event kept in a history, oldest first (with entries for events their topic
    /// has forgotten since, skipped when reached); at most [`MAX_KEPT`] entries.
    kept: Mutex<VecDeque<Kept>>,
    limits: HistoryLimits,
    metrics: Arc<RealtimeMetrics>,
}

/// One topic's stream.
#[derive(Debug)]
struct Channel {
    epoch: Arc<str>,
    /// The sequence number of the newest event (0 before the first).
    seq: u64,
    /// The newest events, oldest first, with consecutive sequence numbers ending at `seq`.
    history: VecDeque<Stored>,
    /// Bytes of the frames in `history`.
    bytes: usize,
    subscribers: Vec<(ConnId, Arc<Outbox>)>,
}

#[derive(Debug)]
struct Stored {
    seq: u64,
    at: Instant,
    /// The event as sent, encoded; the history endpoint parses it back (a rare read, so the
    /// event is kept once, as it goes on the wire).
    frame: WireFrame,
}

/// Room kept for the `subscribed` reply when checking whether a replay fits.
const SUBSCRIBED_FRAME_BYTES: usize = 512;

/// An event kept in the history of a topic.
#[derive(Debug)]
struct Kept {
    channel: Weak<Mutex<Channel>>,
    seq: u64,
}

/// Entries of the broker-wide list of kept events, which bounds the events kept in all.
const MAX_KEPT: usize = 200_000;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryBroker {
    /// An empty broker.
    pub fn new(limits: HistoryLimits, metrics: Arc<RealtimeMetrics>) -> Self {
        Self {
            topics: Mutex::default(),
            kept: Mutex::default(),
            limits,
            metrics,
        }
    }

    /// Lists a newly kept event, then forgets the oldest events of all topics while the
    /// whole history is over its limits. Called without any topic's lock held.
    fn kept(&self, channel: &Arc<Mutex<Channel>>, seq: u64) {
        let mut kept = lock(&self.kept);
        kept.push_back(Kept {
            channel: Arc::downgrade(channel),
            seq,
        });
        while kept.len() > MAX_KEPT
            || usize::try_from(self.metrics.history_bytes.get())
                .is_ok_and(|bytes| bytes > self.limits.total_bytes)
        {
            let Some(oldest) = kept.pop_front() else {
                break;
            };
            if let Some(channel) = oldest.channel.upgrade() {
                let mut channel = lock(&channel);
                while channel
                    .history
                    .front()
                    .is_some_and(|stored| stored.seq <= oldest.seq)
                {
                    channel.forget_oldest(&self.metrics);
                }
            }
        }
    }

    fn channel(&self, topic: &Topic) -> Arc<Mutex<Channel>> {
        let mut topics = lock(&self.topics);
        if let Some(channel) = topics.get(topic) {
            return channel.clone();
        }
        let channel = Arc::new(Mutex::new(Channel {
            epoch: uuid::Uuid::new_v4().simple().to_string()[..12].into(),
            seq: 0,
            history: VecDeque::new(),
            bytes: 0,
            subscribers: Vec::new(),
        }));
        topics.insert(topic.clone(), channel.clone());
        channel
    }
}

impl Channel {
    /// Forgets the oldest events while the topic is over a limit of its own.
    fn forget_old(&mut self, limits: HistoryLimits, metrics: &RealtimeMetrics) {
        while self.history.len() > limits.events
            || self.bytes > limits.topic_bytes
            || self
                .history
                .front()
                .is_some_and(|oldest| oldest.at.elapsed() > limits.max_age)
        {
            self.forget_oldest(metrics);
        }
    }

    fn forget_oldest(&mut self, metrics: &RealtimeMetrics) {
        if let Some(oldest) = self.history.pop_front() {
            self.bytes -= oldest.frame.wire_len();
            metrics.history_bytes.sub(oldest.frame.wire_len() as i64);
            metrics.history_events.dec();
        }
    }

    fn keep(&mut self, stored: Stored, metrics: &RealtimeMetrics) {
        self.bytes += stored.frame.wire_len();
        metrics.history_bytes.add(stored.frame.wire_len() as i64);
        metrics.history_events.inc();
        self.history.push_back(stored);
    }

    /// The stored events after `since`, if history covers every one of them.
    fn events_after(&self, since: &StreamPosition) -> Option<impl Iterator<Item = &Stored>> {
        if *since.epoch != *self.epoch || since.seq > self.seq {
            return None;
        }
        let first_missed = since.seq + 1;
        let covered = first_missed > self.seq
            || self
                .history
                .front()
                .is_some_and(|oldest| oldest.seq <= first_missed);
        covered.then(|| {
            self.history
                .iter()
                .filter(move |stored| stored.seq > since.seq)
        })
    }
}

impl Broker for MemoryBroker {
    async fn publish(&self, topic: &Topic, message: Message) -> Published {
        let channel_ref = self.channel(topic);
        let mut channel = lock(&channel_ref);
        channel.seq += 1;
        let envelope = frame::event(topic, channel.seq, message);
        let text = WireFrame::text(envelope.to_json());
        tracing::debug!(%topic, epoch = %channel.epoch, seq = channel.seq, r#type = envelope.message.message_type().as_str(), "publish");

        let mut overflowed = 0;
        for (_, outbox) in &channel.subscribers {
            if !outbox.push(&text) {
                overflowed += 1;
            }
        }
        let seq = channel.seq;
        channel.keep(
            Stored {
                seq,
                at: Instant::now(),
                frame: text,
            },
            &self.metrics,
        );
        channel.forget_old(self.limits, &self.metrics);
        let epoch = channel.epoch.to_string();
        drop(channel);
        self.kept(&channel_ref, seq);

        self.metrics.publishes.inc();
        self.metrics.slow_consumer_closes.inc_by(overflowed);
        Published {
            topic: topic.clone(),
            epoch,
            seq,
        }
    }

    async fn subscribe(&self, subscription: Subscription<'_>) -> Recovery {
        let Subscription {
            conn,
            outbox,
            topic,
            since,
            req,
        } = subscription;
        let channel = self.channel(topic);
        let mut channel = lock(&channel);
        channel.forget_old(self.limits, &self.metrics);
        let (recovery, replay): (Recovery, Vec<WireFrame>) = match since {
            None => (Recovery::NotAsked, Vec::new()),
            Some(since) => match channel.events_after(since) {
                Some(events) => {
                    let replay: Vec<WireFrame> =
                        events.map(|stored| stored.frame.clone()).collect();
                    let bytes = replay.iter().map(WireFrame::wire_len).sum::<usize>();
                    // A replay the connection's queue cannot take is not started: the client
                    // refetches instead of being closed, reconnecting and asking again.
                    if outbox.would_fit(replay.len() + 1, bytes + SUBSCRIBED_FRAME_BYTES) {
                        (Recovery::Recovered, replay)
                    } else {
                        (Recovery::Lost, Vec::new())
                    }
                }
                None => (Recovery::Lost, Vec::new()),
            },
        };

        let mut reply = frame::envelope(Message::Subscribed(Subscribed {
            topic: topic.clone(),
            epoch: channel.epoch.to_string(),
            seq: channel.seq,
            recovered: recovery == Recovery::Recovered,
            replayed: replay.len() as u64,
        }));
        reply.topic = Some(topic.clone());
        reply.req = req.map(str::to_owned);
        outbox.push(&WireFrame::text(reply.to_json()));
        for event in &replay {
            outbox.push(event);
        }
        channel.subscribers.retain(|(id, _)| *id != conn);
        channel.subscribers.push((conn, outbox.clone()));
        recovery
    }

    async fn unsubscribe(&self, topic: &Topic, conn: ConnId) {
        let Some(channel) = lock(&self.topics).get(topic).cloned() else {
            return;
        };
        let mut channel = lock(&channel);
        if let Some(index) = channel.subscribers.iter().position(|(id, _)| *id == conn) {
            channel.subscribers.swap_remove(index);
        }
    }

    async fn history(&self, topic: &Topic, since: &StreamPosition, limit: usize) -> TopicEvents {
        let channel = self.channel(topic);
        let mut channel = lock(&channel);
        channel.forget_old(self.limits, &self.metrics);
        let (recovered, events, has_more) = match channel.events_after(since) {
            Some(events) => {
                let mut events = events.filter_map(|stored| {
                    hatchery_shared::realtime::parse_frame(stored.frame.text_payload()?).ok()
                });
                let page: Vec<Envelope> = events.by_ref().take(limit).collect();
                (true, page, events.next().is_some())
            }
            None => (false, Vec::new(), false),
        };
        TopicEvents {
            topic: topic.clone(),
            epoch: channel.epoch.to_string(),
            seq: channel.seq,
            recovered,
            events,
            has_more,
        }
    }

    async fn sweep(&self) {
        let mut topics = lock(&self.topics);
        topics.retain(|_, channel| {
            // Someone between `channel()` and its lock still holds it: keep it.
            if Arc::strong_count(channel) > 1 {
                return true;
            }
            let mut channel = lock(channel);
            channel.forget_old(self.limits, &self.metrics);
            !channel.subscribers.is_empty() || !channel.history.is_empty()
        });
    }
}
