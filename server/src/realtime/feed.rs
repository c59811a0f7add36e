//! A topic's stream inside one process: its sequence numbers, its recent events encoded once,
//! and the connections that follow it, each reading from a cursor of its own.
//!
//! Publishing appends an event once and wakes only the writers that wait for one; a busy
//! writer finds the new events the next time it looks, so fan-out costs nothing per
//! follower that is already awake. The same events serve recovery (replays and the REST
//! history), bounded per topic by the history limits.
//!
//! A follower that falls too far behind — more events or bytes than its connection's queue
//! limits, or past what the history keeps — is closed as a slow consumer (4409): no follower
//! holds events back, and none makes a publisher wait.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Instant,
};

use hatchery_shared::realtime::{
    CloseCode, Envelope, Message, Published, StreamPosition, Subscribed, Topic, TopicEvents,
};

use super::{
    broker::{ConnId, HistoryLimits, Recovery, Subscription},
    frame,
    metrics::RealtimeMetrics,
    outbox::{Outbox, QueueLimits},
    wire::WireFrame,
};

/// Room kept for the `subscribed` reply when checking whether a replay fits.
const SUBSCRIBED_FRAME_BYTES: usize = 512;

/// How much a feed keeps, and how far a follower may fall behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLimits {
    /// What the history keeps.
    pub history: HistoryLimits,
    /// How far behind the newest event a follower may fall (the connection queue's limits).
    pub lag: QueueLimits,
}

/// One topic's stream.
#[derive(Debug)]
pub struct Feed {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    epoch: Arc<str>,
    log: Log,
    followers: HashMap<ConnId, Follower>,
    /// Numbers each subscription, so that a cursor of a replaced one finds itself gone.
    subscriptions: u64,
    /// At most the oldest `next` of all followers: while it is within the limits, every
    /// follower is, and publishing need not look at them.
    slowest: u64,
}

/// The events kept, with consecutive sequence numbers ending at `seq`.
#[derive(Debug, Default)]
struct Log {
    /// The sequence number of the newest event (0 before the first).
    seq: u64,
    events: VecDeque<Stored>,
    /// Bytes of the frames in `events`.
    bytes: usize,
    /// Bytes of every frame ever published (where the next one starts).
    end: u64,
}

#[derive(Debug)]
struct Stored {
    seq: u64,
    at: Instant,
    /// The event as sent, encoded; the history endpoint parses it back (a rare read, so the
    /// event is kept once, as it goes on the wire).
    frame: WireFrame,
    /// [`Log::end`] once this event was appended.
    end: u64,
}

/// A connection following the feed.
#[derive(Debug)]
struct Follower {
    subscription: u64,
    outbox: Arc<Outbox>,
    /// The sequence number of the next event to send it.
    next: u64,
    /// Its writer found nothing new and waits to be woken by the next event.
    waiting: bool,
}

/// Where a connection's writer reads one topic's events from. It finds itself gone once
/// the subscription ended or was replaced.
#[derive(Debug)]
pub struct Cursor {
    feed: Arc<Feed>,
    conn: ConnId,
    subscription: u64,
}

/// What a [`Cursor::read`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Events were taken, or there was no room to take any.
    Taken,
    /// Nothing new: the writer is woken by the next event.
    Waiting,
    /// The subscription is over: drop the cursor.
    Gone,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Log {
    /// How far behind `next` is, in events and bytes; `None` when some of what it has not
    /// been sent is no longer kept.
    fn behind(&self, next: u64) -> Option<(u64, u64)> {
        if next > self.seq {
            return Some((0, 0));
        }
        let stored = &self.events[self.index_of(next)?];
        let start = stored.end - stored.frame.wire_len() as u64;
        Some((self.seq + 1 - next, self.end - start))
    }

    /// Where event `seq` is in `events`, if it is kept.
    fn index_of(&self, seq: u64) -> Option<usize> {
        let oldest = self.events.front()?.seq;
        usize::try_from(seq.checked_sub(oldest)?)
            .ok()
            .filter(|index| *index < self.events.len())
    }

    /// Whether a follower at `next` is further behind than `lag` allows.
    fn too_far(&self, next: u64, lag: QueueLimits) -> bool {
        self.behind(next)
            .is_none_or(|(events, bytes)| events > lag.frames as u64 || bytes > lag.bytes as u64)
    }

    /// The stored events after `since`, if the log covers every one of them.
    fn events_after(&self, since: u64) -> Option<impl Iterator<Item = &Stored>> {
        if since > self.seq {
            return None;
        }
        let first_missed = since + 1;
        let covered = first_missed > self.seq
            || self
                .events
                .front()
                .is_some_and(|oldest| oldest.seq <= first_missed);
        covered.then(|| self.events.iter().filter(move |stored| stored.seq > since))
    }

    fn append(&mut self, frame: WireFrame, metrics: &RealtimeMetrics) -> u64 {
        self.seq += 1;
        let bytes = frame.wire_len();
        self.end += bytes as u64;
        self.bytes += bytes;
        metrics.history_bytes.add(bytes as i64);
        metrics.history_events.inc();
        self.events.push_back(Stored {
            seq: self.seq,
            at: Instant::now(),
            frame,
            end: self.end,
        });
        self.seq
    }

    fn forget_oldest(&mut self, metrics: &RealtimeMetrics) {
        if let Some(oldest) = self.events.pop_front() {
            self.bytes -= oldest.frame.wire_len();
            metrics.history_bytes.sub(oldest.frame.wire_len() as i64);
            metrics.history_events.dec();
        }
    }

    /// Forgets the oldest events while the topic is over a history limit of its own.
    fn forget_old(&mut self, limits: HistoryLimits, metrics: &RealtimeMetrics) {
        while self.events.len() > limits.events
            || self.bytes > limits.topic_bytes
            || self
                .events
                .front()
                .is_some_and(|oldest| oldest.at.elapsed() > limits.max_age)
        {
            self.forget_oldest(metrics);
        }
    }
}

impl State {
    /// Closes, as slow consumers, the followers further behind than `lag` allows.
    fn cut_laggards(&mut self, lag: QueueLimits, metrics: &RealtimeMetrics) {
        if !self.log.too_far(self.slowest, lag) {
            return;
        }
        let Self { log, followers, .. } = self;
        let mut slowest = log.seq + 1;
        followers.retain(|_, follower| {
            if log.too_far(follower.next, lag) {
                follower.outbox.close(CloseCode::SlowConsumer);
                metrics.slow_consumer_closes.inc();
                false
            } else {
                slowest = slowest.min(follower.next);
                true
            }
        });
        self.slowest = slowest;
    }

    /// Forgets what the history limits no longer keep, and the followers who still needed it.
    fn trim(&mut self, limits: FeedLimits, metrics: &RealtimeMetrics) {
        self.log.forget_old(limits.history, metrics);
        self.cut_laggards(limits.lag, metrics);
    }
}

impl Default for Feed {
    /// An empty feed with a fresh random epoch.
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                epoch: uuid::Uuid::new_v4().simple().to_string()[..12].into(),
                log: Log::default(),
                followers: HashMap::new(),
                subscriptions: 0,
                slowest: 1,
            }),
        }
    }
}

impl Feed {
    /// Gives `message` the topic's next sequence number, encodes it once, keeps it and
    /// wakes the followers waiting for it.
    pub fn publish(
        &self,
        topic: &Topic,
        message: Message,
        limits: FeedLimits,
        metrics: &RealtimeMetrics,
    ) -> Published {
        let mut state = lock(&self.state);
        let envelope = frame::event(topic, state.log.seq + 1, message);
        let text = WireFrame::text(envelope.to_json());
        let seq = state.log.append(text, metrics);
        tracing::debug!(%topic, epoch = %state.epoch, seq, r#type = envelope.message.message_type().as_str(), "publish");
        state.trim(limits, metrics);
        for follower in state.followers.values_mut() {
            if follower.waiting {
                follower.waiting = false;
                follower.outbox.wake();
            }
        }
        Published {
            topic: topic.clone(),
            epoch: state.epoch.to_string(),
            seq,
        }
    }

    /// Subscribes a connection (replacing its earlier subscription, if any) and queues on
    /// its outbox, atomically with respect to publishes: the `subscribed` reply, the
    /// replayed events, then the cursor its writer reads live events from.
    pub fn subscribe(
        self: &Arc<Self>,
        subscription: Subscription<'_>,
        limits: FeedLimits,
        metrics: &RealtimeMetrics,
    ) -> Recovery {
        let Subscription {
            conn,
            outbox,
            topic,
            since,
            req,
        } = subscription;
        let mut state = lock(&self.state);
        state.trim(limits, metrics);
        // What the subscription it replaces has not sent yet goes before the new reply, as
        // it would have had the writer been quicker.
        if let Some(replaced) = state.followers.remove(&conn)
            && let Some(start) = state.log.index_of(replaced.next)
        {
            for stored in state.log.events.range(start..) {
                outbox.push(&stored.frame);
            }
        }
        let (recovery, replay): (Recovery, Vec<WireFrame>) = match since {
            None => (Recovery::NotAsked, Vec::new()),
            Some(since) => match state.events_after(since) {
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
            epoch: state.epoch.to_string(),
            seq: state.log.seq,
            recovered: recovery == Recovery::Recovered,
            replayed: replay.len() as u64,
        }));
        reply.topic = Some(topic.clone());
        reply.req = req.map(str::to_owned);
        outbox.push(&WireFrame::text(reply.to_json()));
        for event in &replay {
            outbox.push(event);
        }
        state.subscriptions += 1;
        let subscription = state.subscriptions;
        let next = state.log.seq + 1;
        state.followers.insert(
            conn,
            Follower {
                subscription,
                outbox: outbox.clone(),
                next,
                waiting: false,
            },
        );
        outbox.follow(Cursor {
            feed: self.clone(),
            conn,
            subscription,
        });
        recovery
    }

    /// Stops sending the topic's events to the connection.
    pub fn unsubscribe(&self, conn: ConnId) {
        lock(&self.state).followers.remove(&conn);
    }

    /// Up to `limit` events after `since`, for the REST history endpoint.
    pub fn history(
        &self,
        topic: &Topic,
        since: &StreamPosition,
        limit: usize,
        limits: FeedLimits,
        metrics: &RealtimeMetrics,
    ) -> TopicEvents {
        let mut state = lock(&self.state);
        state.trim(limits, metrics);
        let (recovered, events, has_more) = match state.events_after(since) {
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
            epoch: state.epoch.to_string(),
            seq: state.log.seq,
            recovered,
            events,
            has_more,
        }
    }

    /// Forgets the events up to `seq` (the oldest of all topics, when the history as a
    /// whole is over its limits), and the followers who still needed them.
    pub fn forget_through(&self, seq: u64, lag: QueueLimits, metrics: &RealtimeMetrics) {
        let mut state = lock(&self.state);
        while state
            .log
            .events
            .front()
            .is_some_and(|stored| stored.seq <= seq)
        {
            state.log.forget_oldest(metrics);
        }
        state.cut_laggards(lag, metrics);
    }

    /// Forgets what the limits no longer keep; whether anything is left (followers or
    /// history) that makes the feed worth keeping.
    pub fn sweep(&self, limits: FeedLimits, metrics: &RealtimeMetrics) -> bool {
        let mut state = lock(&self.state);
        state.trim(limits, metrics);
        !state.followers.is_empty() || !state.log.events.is_empty()
    }

    /// Events published but not yet taken by the followers' writers, over all followers.
    pub fn unsent(&self) -> u64 {
        let state = lock(&self.state);
        state
            .followers
            .values()
            .map(|follower| (state.log.seq + 1).saturating_sub(follower.next))
            .sum()
    }
}

impl State {
    /// The stored events after `since`, if they are of this epoch and the log covers them.
    fn events_after(&self, since: &StreamPosition) -> Option<impl Iterator<Item = &Stored>> {
        if *since.epoch != *self.epoch {
            return None;
        }
        self.log.events_after(since.seq)
    }
}

impl Cursor {
    /// Takes the events after the cursor, while `frames` holds fewer than `max`; marks the
    /// writer as waiting when there are none.
    pub fn read(&self, frames: &mut Vec<WireFrame>, max: usize) -> Read {
        let mut state = lock(&self.feed.state);
        let State { log, followers, .. } = &mut *state;
        let Some(follower) = followers.get_mut(&self.conn) else {
            return Read::Gone;
        };
        if follower.subscription != self.subscription {
            return Read::Gone;
        }
        if follower.next > log.seq {
            follower.waiting = true;
            return Read::Waiting;
        }
        // Forgetting an event closes the followers that still needed it, so the cursor's
        // next event is kept; were it not, the connection could not go on without a gap.
        let Some(start) = log.index_of(follower.next) else {
            follower.outbox.close(CloseCode::SlowConsumer);
            return Read::Gone;
        };
        let take = max
            .saturating_sub(frames.len())
            .min(log.events.len() - start);
        frames.extend(
            log.events
                .range(start..start + take)
                .map(|stored| stored.frame.clone()),
        );
        follower.next += take as u64;
        Read::Taken
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hatchery_shared::realtime::{Notice, NoticeLevel};

    use super::*;
    use crate::realtime::outbox::{Batch, Ending};

    const LIMITS: FeedLimits = FeedLimits {
        history: HistoryLimits {
            events: 100,
            topic_bytes: 1 << 20,
            total_bytes: 1 << 30,
            max_age: Duration::from_secs(300),
        },
        lag: QueueLimits {
            frames: 5,
            bytes: 1 << 20,
        },
    };

    /// A feed of topic `ops` and what it needs.
    struct Fixture {
        feed: Arc<Feed>,
        topic: Topic,
        limits: FeedLimits,
        metrics: RealtimeMetrics,
    }

    impl Fixture {
        fn new(limits: FeedLimits) -> Self {
            Self {
                feed: Arc::new(Feed::default()),
                topic: Topic::parse("ops").unwrap(),
                limits,
                metrics: RealtimeMetrics::register(&prometheus::Registry::new()).unwrap(),
            }
        }

        /// A connection's outbox, subscribed.
        fn follower(&self, conn: ConnId) -> Arc<Outbox> {
            let outbox = Arc::new(Outbox::new(QueueLimits {
                frames: 100,
                bytes: 1 << 20,
            }));
            self.subscribe(conn, &outbox, None);
            outbox
        }

        /// A connection's outbox, subscribed, and its writer's batch once it sent the reply.
        async fn caught_up_follower(&self, conn: ConnId) -> (Arc<Outbox>, Batch) {
            let outbox = self.follower(conn);
            let mut batch = Batch::default();
            next(&outbox, &mut batch).await.unwrap();
            (outbox, batch)
        }

        fn subscribe(&self, conn: ConnId, outbox: &Arc<Outbox>, since: Option<u64>) -> Recovery {
            let epoch = lock(&self.feed.state).epoch.to_string();
            let since = since.map(|seq| StreamPosition { epoch, seq });
            self.feed.subscribe(
                Subscription {
                    conn,
                    outbox,
                    topic: &self.topic,
                    since: since.as_ref(),
                    req: None,
                },
                self.limits,
                &self.metrics,
            )
        }

        fn publish(&self, count: u64) {
            for _ in 0..count {
                let notice = Message::Notice(Notice {
                    level: NoticeLevel::Info,
                    text: "hello".into(),
                });
                self.feed
                    .publish(&self.topic, notice, self.limits, &self.metrics);
            }
        }
    }

    /// What the writer of `outbox` sends next: each frame's type and `seq`.
    async fn next(
        outbox: &Outbox,
        batch: &mut Batch,
    ) -> Result<Vec<(String, Option<u64>)>, Ending> {
        if let Some(ending) = outbox.next_batch(batch).await {
            return Err(ending);
        }
        let sent = batch
            .frames
            .drain(..)
            .map(|frame| {
                let envelope =
                    hatchery_shared::realtime::parse_frame(frame.text_payload().unwrap()).unwrap();
                (
                    envelope.message.message_type().as_str().to_owned(),
                    envelope.seq,
                )
            })
            .collect();
        Ok(sent)
    }

    fn events(seqs: std::ops::RangeInclusive<u64>) -> Vec<(String, Option<u64>)> {
        seqs.map(|seq| ("notice".to_owned(), Some(seq))).collect()
    }

    #[tokio::test]
    async fn live_events_follow_the_reply_in_order_each_once() {
        let fixture = Fixture::new(LIMITS);
        fixture.publish(2);
        let outbox = fixture.follower(1);
        fixture.publish(3);
        let mut batch = Batch::default();

        let mut expected = vec![("subscribed".to_owned(), None)];
        expected.extend(events(3..=5));
        assert_eq!(next(&outbox, &mut batch).await, Ok(expected));
        fixture.publish(1);
        assert_eq!(next(&outbox, &mut batch).await, Ok(events(6..=6)));
        assert_eq!(fixture.feed.unsent(), 0);
    }

    #[tokio::test]
    async fn a_waiting_writer_is_woken_by_the_next_event() {
        let fixture = Fixture::new(LIMITS);
        let (outbox, mut batch) = fixture.caught_up_follower(1).await;
        let writer = {
            let outbox = outbox.clone();
            tokio::spawn(async move { next(&outbox, &mut batch).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!writer.is_finished(), "nothing to send yet");

        fixture.publish(1);

        assert_eq!(writer.await.unwrap(), Ok(events(1..=1)));
    }

    #[tokio::test]
    async fn a_follower_too_far_behind_is_closed_as_a_slow_consumer_while_others_go_on() {
        let fixture = Fixture::new(LIMITS);
        let (quick, slow) = (fixture.follower(1), fixture.follower(2));
        let mut batch = Batch::default();
        next(&quick, &mut batch).await.unwrap();

        fixture.publish(5);
        assert_eq!(
            fixture.feed.unsent(),
            10,
            "both are 5 behind: still within the limit"
        );
        assert_eq!(next(&quick, &mut batch).await, Ok(events(1..=5)));
        fixture.publish(1);

        assert_eq!(
            next(&slow, &mut Batch::default()).await,
            Err(Ending::Close(CloseCode::SlowConsumer))
        );
        assert_eq!(next(&quick, &mut batch).await, Ok(events(6..=6)));
        assert_eq!(fixture.metrics.slow_consumer_closes.get(), 1);
    }

    #[tokio::test]
    async fn a_follower_whose_next_event_the_history_forgot_is_closed() {
        let mut limits = LIMITS;
        limits.history.events = 2;
        let fixture = Fixture::new(limits);
        let outbox = fixture.follower(1);

        fixture.publish(3);

        assert_eq!(
            next(&outbox, &mut Batch::default()).await,
            Err(Ending::Close(CloseCode::SlowConsumer))
        );
    }

    #[tokio::test]
    async fn resubscribing_sends_what_the_old_subscription_owed_then_the_new_reply() {
        let fixture = Fixture::new(LIMITS);
        let (outbox, mut batch) = fixture.caught_up_follower(1).await;
        fixture.publish(2);

        assert_eq!(fixture.subscribe(1, &outbox, Some(1)), Recovery::Recovered);
        fixture.publish(1);

        let mut expected = events(1..=2);
        expected.push(("subscribed".to_owned(), None));
        expected.extend(events(2..=3));
        assert_eq!(
            next(&outbox, &mut batch).await,
            Ok(expected),
            "owed events, the reply, the replay asked for, then live events once"
        );
    }

    #[tokio::test]
    async fn an_unsubscribed_connection_gets_no_more_events() {
        let fixture = Fixture::new(LIMITS);
        let (outbox, mut batch) = fixture.caught_up_follower(1).await;

        fixture.feed.unsubscribe(1);
        fixture.publish(1);

        let writer = tokio::spawn(async move { next(&outbox, &mut batch).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!writer.is_finished(), "nothing was sent");
        writer.abort();
        assert_eq!(fixture.feed.unsent(), 0);
    }
}
