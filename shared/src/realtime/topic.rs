//! Topics: the named streams a connection subscribes to, such as `thread:42` or `ops`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The kinds of topic; the part before the `:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum TopicKind {
    /// `user:{id}`: one user's own stream.
    User,
    /// `agent:{id}`: one agent's updates, status and runs.
    Agent,
    /// `thread:{id}`: one chat thread's messages and token streams.
    Thread,
    /// `room:{id}`: one room's conversation.
    Room,
    /// `ops`: the live operations feed, for admins. Has no id.
    Ops,
    /// `logs`: the system log as it is written, for admins. Has no id.
    Logs,
}

/// The longest id a topic may carry.
pub const MAX_TOPIC_ID_LEN: usize = 64;

/// A validated topic name: `kind:id` (id of 1–64 letters, digits, `_` or `-`) or `ops`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Topic(String);

/// Why a string is not a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTopic(pub String);

impl fmt::Display for InvalidTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidTopic {}

impl Topic {
    /// Parses and validates a topic name.
    pub fn parse(text: &str) -> Result<Self, InvalidTopic> {
        let (kind, id) = match text.split_once(':') {
            Some((kind, id)) => (kind, Some(id)),
            None => (text, None),
        };
        let kind: TopicKind = kind
            .parse()
            .map_err(|_| InvalidTopic(format!("unknown topic kind in {text:?}")))?;
        match (kind, id) {
            (TopicKind::Ops | TopicKind::Logs, None) => {}
            (TopicKind::Ops | TopicKind::Logs, Some(_)) => {
                let kind: &str = kind.into();
                return Err(InvalidTopic(format!("the {kind} topic takes no id")));
            }
            (_, None) => {
                return Err(InvalidTopic(format!(
                    "{text:?} needs an id, as in {text}:42"
                )));
            }
            (_, Some(id)) => {
                let valid = !id.is_empty()
                    && id.len() <= MAX_TOPIC_ID_LEN
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if !valid {
                    return Err(InvalidTopic(format!(
                        "the id in {text:?} must be 1 to {MAX_TOPIC_ID_LEN} letters, digits, _ or -"
                    )));
                }
            }
        }
        Ok(Self(text.to_owned()))
    }

    /// `user:{id}`: the user's own stream. Ids come from Hatchery (UUIDs and the built-in
    /// `dev`), which are valid topic ids; ids from outside go through [`Topic::parse`].
    pub fn user(id: &str) -> Self {
        Self::of(TopicKind::User, id)
    }

    /// `agent:{id}`: an agent's updates, status and runs.
    pub fn agent(id: &str) -> Self {
        Self::of(TopicKind::Agent, id)
    }

    /// `thread:{id}`: a thread's messages and token streams.
    pub fn thread(id: &str) -> Self {
        Self::of(TopicKind::Thread, id)
    }

    /// `room:{id}`: a room's conversation, its state and its agents' streaming replies.
    pub fn room(id: &str) -> Self {
        Self::of(TopicKind::Room, id)
    }

    /// `ops`: the live operations feed, for admins.
    pub fn ops() -> Self {
        Self(<&str>::from(TopicKind::Ops).to_owned())
    }

    /// `logs`: the system log as it is written, for admins.
    pub fn logs() -> Self {
        Self(<&str>::from(TopicKind::Logs).to_owned())
    }

    fn of(kind: TopicKind, id: &str) -> Self {
        let topic = Self(format!("{}:{id}", <&str>::from(kind)));
        debug_assert!(Self::parse(&topic.0).is_ok(), "{id:?} is not a topic id");
        topic
    }

    /// The kind of this topic.
    pub fn kind(&self) -> TopicKind {
        let kind = self.0.split(':').next().unwrap_or_default();
        kind.parse().expect("a validated topic has a known kind")
    }

    /// The id after the `:`, if the kind takes one.
    pub fn id(&self) -> Option<&str> {
        self.0.split_once(':').map(|(_, id)| id)
    }

    /// The topic as written on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Topic {
    type Error = InvalidTopic;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Topic> for String {
    fn from(topic: Topic) -> Self {
        topic.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_topics_parse_into_kind_and_id() {
        let topic = Topic::parse("thread:42").unwrap();
        assert_eq!(topic.kind(), TopicKind::Thread);
        assert_eq!(topic.id(), Some("42"));
        assert_eq!(Topic::parse("ops").unwrap().kind(), TopicKind::Ops);
        assert_eq!(Topic::parse("ops").unwrap().id(), None);
        assert_eq!(Topic::parse("user:dev").unwrap().as_str(), "user:dev");
        assert!(Topic::parse(&format!("agent:{}", "a".repeat(MAX_TOPIC_ID_LEN))).is_ok());
    }

    #[test]
    fn topics_built_from_ids_are_the_ones_parsed_from_their_names() {
        assert_eq!(Topic::user("dev"), Topic::parse("user:dev").unwrap());
        assert_eq!(Topic::agent("0192-ab").kind(), TopicKind::Agent);
        assert_eq!(Topic::thread("42").id(), Some("42"));
    }

    #[test]
    fn bad_topics_are_refused() {
        for bad in [
            "",
            "thread",
            "thread:",
            "thread:4 2",
            "thread:42:1",
            "widget:1",
            "ops:1",
            "Thread:1",
            &format!("agent:{}", "a".repeat(MAX_TOPIC_ID_LEN + 1)),
        ] {
            assert!(Topic::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn topics_travel_as_plain_strings_and_are_checked_on_the_way_in() {
        let topic: Topic = serde_json::from_str(r#""agent:7""#).unwrap();
        assert_eq!(serde_json::to_string(&topic).unwrap(), r#""agent:7""#);
        assert!(serde_json::from_str::<Topic>(r#""agent:""#).is_err());
    }
}
