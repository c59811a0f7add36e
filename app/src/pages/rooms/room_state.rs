//! What the room page shows of one room, as a plain state machine: the room (state,
//! members, counters), its stored messages, and the replies streaming in — several at once,
//! kept apart by their runs. Loads and real-time events are applied in whatever order they
//! arrive; the components only read it. Tested natively, without a browser.

use hatchery_shared::{
    api::{
        rooms::{MemberActivity, Room, RoomMessage, RoomMessageKind},
        runs::StreamChunk,
    },
    realtime::Message,
};

/// The most replies shown streaming at once; more (which a room of 32 agents could start)
/// wait for their stored messages.
const MAX_STREAMS: usize = 64;

/// One room as its page shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomView {
    room: Option<Room>,
    /// The stored messages, oldest first, each once.
    messages: Vec<RoomMessage>,
    /// Goes up each time `messages` changes, so a view can follow the messages alone.
    revision: u64,
    /// The replies streaming in, in the order they started.
    streams: Vec<LiveReply>,
}

/// A reply streaming in: whose, its run, and its text so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveReply {
    /// The run writing it.
    pub run_id: String,
    /// The agent.
    pub agent_id: String,
    /// The text so far.
    pub text: String,
    /// Whether its run's step has ended (its message is on its way).
    pub ended: bool,
}

impl RoomView {
    /// The room as last loaded or announced.
    pub fn room(&self) -> Option<&Room> {
        self.room.as_ref()
    }

    /// The stored messages, oldest first.
    pub fn messages(&self) -> &[RoomMessage] {
        &self.messages
    }

    /// A number that changes exactly when the stored messages do (not with each token).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The replies streaming now, with some text, in the order they started.
    pub fn streaming(&self) -> impl Iterator<Item = &LiveReply> {
        self.streams.iter().filter(|reply| !reply.text.is_empty())
    }

    /// How many agents' turns are in flight (a message sent now interrupts them).
    pub fn replies_in_flight(&self) -> usize {
        self.room.as_ref().map_or(0, |room| {
            room.members
                .iter()
                .filter(|member| member.activity == MemberActivity::Thinking)
                .count()
        })
    }

    /// What the member `agent_id` is doing: `speaking` while its reply streams, else what
    /// the room says (`thinking`, `passed`, `idle`).
    pub fn activity(&self, agent_id: &str) -> &'static str {
        let speaking = self
            .streaming()
            .any(|reply| reply.agent_id == agent_id && !reply.ended);
        let said = self
            .room
            .as_ref()
            .and_then(|room| room.members.iter().find(|m| m.agent_id == agent_id))
            .map_or(MemberActivity::Idle, |member| member.activity);
        if speaking { "speaking" } else { said.as_str() }
    }

    /// The critiques of the message `id`, oldest first.
    pub fn critiques_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a RoomMessage> {
        self.messages
            .iter()
            .filter(move |message| message.critique_of.as_deref() == Some(id))
    }

    /// The room's messages as loaded (again) over REST, oldest first: they replace what
    /// was shown, keeping the messages that events brought meanwhile.
    pub fn loaded(&mut self, room: Room, messages: Vec<RoomMessage>) {
        let newer: Vec<RoomMessage> = self
            .messages
            .drain(..)
            .filter(|shown| !messages.iter().any(|m| m.id == shown.id))
            .collect();
        self.room = Some(room);
        self.messages = messages;
        self.revision += 1;
        for message in newer {
            self.add(message);
        }
    }

    /// Applies an event of the room's topic.
    pub fn apply(&mut self, message: &Message) {
        match message {
            Message::RoomUpdated(room) => {
                // A turn that is over no longer streams, whether or not it said anything.
                let done: Vec<&str> = room
                    .members
                    .iter()
                    .filter(|member| member.activity != MemberActivity::Thinking)
                    .map(|member| member.agent_id.as_str())
                    .collect();
                self.streams
                    .retain(|reply| !(reply.ended && done.contains(&reply.agent_id.as_str())));
                self.room = Some(room.clone());
            }
            Message::RoomMessageCreated(message) | Message::CritiqueCreated(message) => {
                self.add(message.clone());
            }
            Message::StreamStart(step) => {
                if let Some(reply) = self.streams.iter_mut().find(|r| r.run_id == step.run_id) {
                    reply.ended = false;
                } else if self.streams.len() < MAX_STREAMS {
                    self.streams.push(LiveReply {
                        run_id: step.run_id.clone(),
                        agent_id: step.agent_id.clone(),
                        text: String::new(),
                        ended: false,
                    });
                }
            }
            Message::StreamChunk(StreamChunk::AssistantToken { run_id, text }) => {
                if let Some(reply) = self.streams.iter_mut().find(|r| &r.run_id == run_id) {
                    reply.text.push_str(text);
                }
            }
            Message::StreamEnd(step) => {
                if let Some(reply) = self.streams.iter_mut().find(|r| r.run_id == step.run_id) {
                    reply.ended = true;
                }
            }
            _ => {}
        }
    }

    /// Adds a stored message once, in time order; the reply that wrote it stops streaming.
    fn add(&mut self, message: RoomMessage) {
        if let Some(run) = &message.run_id {
            self.streams.retain(|reply| &reply.run_id != run);
        }
        if self.messages.iter().any(|m| m.id == message.id) {
            return;
        }
        let at = self
            .messages
            .iter()
            .rposition(|m| {
                (m.created_at.as_str(), m.id.as_str()) <= (&message.created_at, &message.id)
            })
            .map_or(0, |i| i + 1);
        self.messages.insert(at, message);
        self.revision += 1;
    }

    /// Whether `message` is shown on its own (critiques are shown under what they judge).
    pub fn is_top_level(message: &RoomMessage) -> bool {
        message.kind != RoomMessageKind::Critique
    }
}

#[cfg(test)]
mod tests {
    use hatchery_shared::api::{
        rooms::{AuthorKind, MemberRole, RoomMember, RoomSettings, RoomState},
        runs::StreamStep,
    };

    use super::*;

    fn room(activity: MemberActivity) -> Room {
        Room {
            id: "r".into(),
            owner_id: "u".into(),
            name: "Debate".into(),
            description: String::new(),
            state: RoomState::Running,
            settings: RoomSettings::default(),
            members: vec![RoomMember {
                agent_id: "a".into(),
                name: "Ada".into(),
                role: MemberRole::Participant,
                position: 0,
                activity,
            }],
            turns_taken: 0,
            round: 1,
            cost_today_usd: 0.0,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn said(id: &str, run: Option<&str>, at: &str) -> RoomMessage {
        RoomMessage {
            id: id.into(),
            room_id: "r".into(),
            author_kind: AuthorKind::Agent,
            author_id: Some("a".into()),
            author_name: "Ada".into(),
            kind: RoomMessageKind::Message,
            content: "hello".into(),
            run_id: run.map(str::to_owned),
            critique_of: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            interrupted: false,
            created_at: at.into(),
        }
    }

    fn step(run: &str, agent: &str) -> StreamStep {
        StreamStep {
            run_id: run.into(),
            agent_id: agent.into(),
            step: 1,
        }
    }

    fn token(run: &str, text: &str) -> Message {
        Message::StreamChunk(StreamChunk::AssistantToken {
            run_id: run.into(),
            text: text.into(),
        })
    }

    #[test]
    fn two_replies_stream_at_once_apart_and_end_with_their_messages() {
        let mut view = RoomView::default();
        view.loaded(room(MemberActivity::Thinking), Vec::new());
        view.apply(&Message::StreamStart(step("r1", "a")));
        view.apply(&Message::StreamStart(step("r2", "b")));
        view.apply(&token("r1", "Hel"));
        view.apply(&token("r2", "Bo"));
        view.apply(&token("r1", "lo"));
        let texts: Vec<_> = view
            .streaming()
            .map(|r| (r.agent_id.as_str(), r.text.as_str()))
            .collect();
        assert_eq!(texts, [("a", "Hello"), ("b", "Bo")]);
        assert_eq!(view.activity("a"), "speaking");

        view.apply(&Message::StreamEnd(step("r1", "a")));
        view.apply(&Message::RoomMessageCreated(said("m1", Some("r1"), "2")));
        assert_eq!(view.streaming().count(), 1, "Ada's reply is now a message");
        assert_eq!(view.messages().len(), 1);
        view.apply(&Message::RoomMessageCreated(said("m1", Some("r1"), "2")));
        assert_eq!(view.messages().len(), 1, "each message once");
    }

    #[test]
    fn a_turn_that_passed_stops_streaming_when_the_room_says_it_is_over() {
        let mut view = RoomView::default();
        view.loaded(room(MemberActivity::Thinking), Vec::new());
        view.apply(&Message::StreamStart(step("r1", "a")));
        view.apply(&token("r1", "PASS"));
        view.apply(&Message::StreamEnd(step("r1", "a")));
        assert_eq!(view.streaming().count(), 1);
        view.apply(&Message::RoomUpdated(room(MemberActivity::Passed)));
        assert_eq!(view.streaming().count(), 0);
        assert_eq!(view.activity("a"), "passed");
        assert_eq!(view.replies_in_flight(), 0);
    }

    #[test]
    fn a_reload_keeps_messages_that_came_meanwhile_in_time_order() {
        let mut view = RoomView::default();
        view.apply(&Message::RoomMessageCreated(said("m3", None, "3")));
        view.loaded(
            room(MemberActivity::Idle),
            vec![said("m1", None, "1"), said("m2", None, "2")],
        );
        let ids: Vec<_> = view.messages().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2", "m3"]);
    }
}
