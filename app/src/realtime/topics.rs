//! The client's topic manager: reference-counted interest per topic, the last position seen
//! in each stream, and the filter that drops events already seen.
//!
//! Pure logic (no browser APIs), so it is tested natively; the socket code asks it what to
//! send and whom to call.

use std::{collections::HashMap, rc::Rc};

use hatchery_shared::realtime::{Envelope, StreamPosition, SubscribeTopic, Subscribed};

/// Called with each new event of a topic.
pub type EventHandler = Rc<dyn Fn(&Envelope)>;
/// Called when missed events could not be recovered: refetch the topic's state over REST.
pub type ResyncHandler = Rc<dyn Fn()>;

/// When an interest's resync handler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resync {
    /// After a gap that could not be recovered only.
    OnGap,
    /// For state read at this position: the topic is followed from there (if nothing else
    /// follows it yet), so the events since are replayed; after a gap only, as `OnGap`.
    After(StreamPosition),
    /// Also once the topic's first subscription is confirmed: for state loaded over REST
    /// while the subscription was not live yet, which misses what happened in between.
    AlsoWhenSubscribed,
}

/// Identifies one registered interest, to remove it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterestId(u64);

struct Interest {
    id: InterestId,
    on_event: EventHandler,
    on_resync: ResyncHandler,
    resync: Resync,
}

#[derive(Default)]
struct TopicState {
    interests: Vec<Interest>,
    /// The last event seen (or the position given by `subscribed`).
    position: Option<StreamPosition>,
}

/// Interest in topics and positions in their streams.
#[derive(Default)]
pub struct TopicManager {
    topics: HashMap<String, TopicState>,
    next_id: u64,
}

impl TopicManager {
    /// Registers interest in `topic`, with `on_resync` called as `resync` says. Returns its
    /// id and, on the first interest in that topic, the subscription to send.
    pub fn add(
        &mut self,
        topic: &str,
        on_event: EventHandler,
        on_resync: ResyncHandler,
        resync: Resync,
    ) -> (InterestId, Option<SubscribeTopic>) {
        self.next_id += 1;
        let id = InterestId(self.next_id);
        let state = self.topics.entry(topic.to_owned()).or_default();
        if let (Resync::After(position), None) = (&resync, &state.position) {
            state.position = Some(position.clone());
        }
        state.interests.push(Interest {
            id,
            on_event,
            on_resync,
            resync,
        });
        let subscribe = (state.interests.len() == 1).then(|| SubscribeTopic {
            topic: topic.to_owned(),
            since: state.position.clone(),
        });
        (id, subscribe)
    }

    /// Removes an interest. Returns the topic to unsubscribe when it was the last one.
    pub fn remove(&mut self, id: InterestId) -> Option<String> {
        let (topic, state) = self
            .topics
            .iter_mut()
            .find(|(_, state)| state.interests.iter().any(|interest| interest.id == id))?;
        state.interests.retain(|interest| interest.id != id);
        if !state.interests.is_empty() {
            return None;
        }
        let topic = topic.clone();
        self.topics.remove(&topic);
        Some(topic)
    }

    /// Every topic with interest, each with the position to recover from: what to send
    /// after a (re)connect.
    pub fn subscriptions(&self) -> Vec<SubscribeTopic> {
        let mut topics: Vec<SubscribeTopic> = self
            .topics
            .iter()
            .map(|(topic, state)| SubscribeTopic {
                topic: topic.clone(),
                since: state.position.clone(),
            })
            .collect();
        topics.sort_by(|a, b| a.topic.cmp(&b.topic));
        topics
    }

    /// Takes a `subscribed` reply: records the stream's position and returns the resync
    /// handlers to call: every interest's when events were missed and could not be
    /// recovered; on the topic's first subscription, those that asked for it.
    pub fn on_subscribed(&mut self, subscribed: &Subscribed) -> Vec<ResyncHandler> {
        let Some(state) = self.topics.get_mut(subscribed.topic.as_str()) else {
            return Vec::new();
        };
        let had_position = state.position.is_some();
        let current = StreamPosition {
            epoch: subscribed.epoch.clone(),
            seq: subscribed.seq,
        };
        if subscribed.recovered {
            // The replayed events follow and move the position forward one by one.
            return Vec::new();
        }
        let missed_none = state
            .position
            .as_ref()
            .is_some_and(|known| known.epoch == current.epoch && known.seq >= current.seq);
        if missed_none {
            // Already where the stream is (say, the server's own subscription at connect).
            return Vec::new();
        }
        state.position = Some(current);
        state
            .interests
            .iter()
            .filter(|interest| had_position || interest.resync == Resync::AlsoWhenSubscribed)
            .map(|interest| interest.on_resync.clone())
            .collect()
    }

    /// Takes an event: returns the handlers to call, or none when the event was already seen
    /// (its `seq` is not newer than the last one in the same epoch) or nobody is interested.
    pub fn on_event(&mut self, envelope: &Envelope) -> Vec<EventHandler> {
        let (Some(topic), Some(seq)) = (&envelope.topic, envelope.seq) else {
            return Vec::new();
        };
        let Some(state) = self.topics.get_mut(topic.as_str()) else {
            return Vec::new();
        };
        match &mut state.position {
            Some(position) if position.seq >= seq => return Vec::new(),
            Some(position) => position.seq = seq,
            // An event before any `subscribed` reply cannot be placed in an epoch: skip it.
            None => return Vec::new(),
        }
        state
            .interests
            .iter()
            .map(|interest| interest.on_event.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use hatchery_shared::realtime::{Message, Notice, NoticeLevel, Topic};

    use super::*;

    fn event(topic: &str, seq: u64) -> Envelope {
        let mut envelope = Envelope::new(
            Message::Notice(Notice {
                level: NoticeLevel::Info,
                text: seq.to_string(),
            }),
            String::new(),
            None,
        );
        envelope.topic = Some(Topic::parse(topic).unwrap());
        envelope.seq = Some(seq);
        envelope
    }

    fn subscribed(topic: &str, epoch: &str, seq: u64, recovered: bool) -> Subscribed {
        Subscribed {
            topic: Topic::parse(topic).unwrap(),
            epoch: epoch.into(),
            seq,
            recovered,
            replayed: 0,
        }
    }

    fn ignore() -> (EventHandler, ResyncHandler) {
        (Rc::new(|_| {}), Rc::new(|| {}))
    }

    #[test]
    fn only_the_first_interest_subscribes_and_only_the_last_unsubscribes() {
        let mut topics = TopicManager::default();
        let (on_event, on_resync) = ignore();

        let (first, subscribe) = topics.add(
            "agent:7",
            on_event.clone(),
            on_resync.clone(),
            Resync::OnGap,
        );
        assert_eq!(subscribe.unwrap().topic, "agent:7");
        let (second, subscribe) = topics.add("agent:7", on_event, on_resync, Resync::OnGap);
        assert!(subscribe.is_none());

        assert_eq!(topics.remove(first), None);
        assert_eq!(topics.remove(second).as_deref(), Some("agent:7"));
        assert!(topics.subscriptions().is_empty());
    }

    #[test]
    fn events_reach_every_interest_once_and_old_seqs_are_dropped() {
        let mut topics = TopicManager::default();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let record = {
            let seen = seen.clone();
            Rc::new(move |e: &Envelope| seen.borrow_mut().push(e.seq.unwrap())) as EventHandler
        };
        topics.add("ops", record.clone(), Rc::new(|| {}), Resync::OnGap);
        topics.add("ops", record, Rc::new(|| {}), Resync::OnGap);
        topics.on_subscribed(&subscribed("ops", "e1", 4, false));

        for seq in [5, 5, 3, 6, 4, 7] {
            for handler in topics.on_event(&event("ops", seq)) {
                handler(&event("ops", seq));
            }
        }

        assert_eq!(*seen.borrow(), [5, 5, 6, 6, 7, 7]);
        assert!(
            topics.on_event(&event("agent:1", 9)).is_empty(),
            "no interest, no handler"
        );
    }

    #[test]
    fn after_a_reconnect_topics_resubscribe_from_the_last_seen_event() {
        let mut topics = TopicManager::default();
        let (on_event, on_resync) = ignore();
        topics.add("ops", on_event.clone(), on_resync.clone(), Resync::OnGap);
        topics.add("agent:2", on_event, on_resync, Resync::OnGap);
        topics.on_subscribed(&subscribed("ops", "e1", 0, false));
        topics.on_event(&event("ops", 1));
        topics.on_event(&event("ops", 2));

        let subscriptions = topics.subscriptions();

        assert_eq!(subscriptions[0].topic, "agent:2");
        assert_eq!(subscriptions[0].since, None);
        assert_eq!(
            subscriptions[1].since,
            Some(StreamPosition {
                epoch: "e1".into(),
                seq: 2
            })
        );
    }

    #[test]
    fn an_unrecovered_gap_calls_resync_and_a_recovered_one_does_not() {
        let mut topics = TopicManager::default();
        let resyncs = Rc::new(RefCell::new(0));
        let on_resync = {
            let resyncs = resyncs.clone();
            Rc::new(move || *resyncs.borrow_mut() += 1) as ResyncHandler
        };
        topics.add("ops", Rc::new(|_| {}), on_resync, Resync::OnGap);

        assert!(
            topics
                .on_subscribed(&subscribed("ops", "e1", 3, false))
                .is_empty(),
            "first subscription"
        );
        assert!(
            topics
                .on_subscribed(&subscribed("ops", "e1", 9, true))
                .is_empty()
        );
        for resync in topics.on_subscribed(&subscribed("ops", "e2", 0, false)) {
            resync();
        }

        assert_eq!(*resyncs.borrow(), 1);
        assert_eq!(
            topics.subscriptions()[0].since.as_ref().unwrap().epoch,
            "e2"
        );
        assert_eq!(
            topics.on_event(&event("ops", 1)).len(),
            1,
            "the new epoch's events flow"
        );
    }

    #[test]
    fn state_loaded_before_the_first_subscription_is_reloaded_once_it_is_live() {
        let mut topics = TopicManager::default();
        let counter = || {
            let count = Rc::new(RefCell::new(0));
            let handler = {
                let count = count.clone();
                Rc::new(move || *count.borrow_mut() += 1) as ResyncHandler
            };
            (count, handler)
        };
        let (state_reloads, reload_state) = counter();
        let (gap_resyncs, on_gap) = counter();
        topics.add(
            "agent:3",
            Rc::new(|_| {}),
            reload_state,
            Resync::AlsoWhenSubscribed,
        );
        topics.add("agent:3", Rc::new(|_| {}), on_gap, Resync::OnGap);

        let mut deliver = |subscribed: Subscribed| {
            for resync in topics.on_subscribed(&subscribed) {
                resync();
            }
        };
        deliver(subscribed("agent:3", "e1", 5, false));
        assert_eq!((*state_reloads.borrow(), *gap_resyncs.borrow()), (1, 0));
        deliver(subscribed("agent:3", "e1", 8, true));
        assert_eq!((*state_reloads.borrow(), *gap_resyncs.borrow()), (1, 0));
        deliver(subscribed("agent:3", "e2", 0, false));
        assert_eq!((*state_reloads.borrow(), *gap_resyncs.borrow()), (2, 1));
    }

    #[test]
    fn state_that_came_with_the_page_is_followed_from_its_position_without_a_reload() {
        let mut topics = TopicManager::default();
        let reloads = Rc::new(RefCell::new(0));
        let reload = {
            let reloads = reloads.clone();
            Rc::new(move || *reloads.borrow_mut() += 1) as ResyncHandler
        };
        let loaded_at = StreamPosition {
            epoch: "e1".into(),
            seq: 4,
        };
        let (_, subscribe) = topics.add(
            "user:u1",
            Rc::new(|_| {}),
            reload,
            Resync::After(loaded_at.clone()),
        );
        assert_eq!(subscribe.unwrap().since, Some(loaded_at));
        // The server's own subscription at connect says where the stream is: nothing missed.
        assert!(
            topics
                .on_subscribed(&subscribed("user:u1", "e1", 4, false))
                .is_empty()
        );

        // The events since the page was rendered are replayed: nothing to load again.
        assert!(
            topics
                .on_subscribed(&subscribed("user:u1", "e1", 6, true))
                .is_empty()
        );
        assert_eq!(topics.on_event(&event("user:u1", 5)).len(), 1);
        // Had they been lost, the state would load again.
        for resync in topics.on_subscribed(&subscribed("user:u1", "e2", 0, false)) {
            resync();
        }
        assert_eq!(*reloads.borrow(), 1);
    }

    #[test]
    fn a_topic_removed_and_added_again_starts_fresh() {
        let mut topics = TopicManager::default();
        let (on_event, on_resync) = ignore();
        let (id, _) = topics.add("ops", on_event.clone(), on_resync.clone(), Resync::OnGap);
        topics.on_subscribed(&subscribed("ops", "e1", 3, false));
        topics.remove(id);

        let (_, subscribe) = topics.add("ops", on_event, on_resync, Resync::OnGap);

        assert_eq!(subscribe.unwrap().since, None);
    }
}
