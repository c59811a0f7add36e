//! The real-time protocol: envelope, message types, topics and close codes.
#![doc = include_str!("../../realtime-protocol.md")]

mod close;
mod envelope;
mod message;
mod topic;

pub use close::{CloseCode, Reconnect};
pub use envelope::{Envelope, FrameError, PROTOCOL_VERSION, parse_frame};
pub use message::*;
pub use topic::{InvalidTopic, MAX_TOPIC_ID_LEN, Topic, TopicKind};

use serde::{Deserialize, Serialize};

/// The answer to `POST /api/topics/{topic}/events`: where the event landed.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The topic.
    pub topic: Topic,
    /// The stream's epoch.
    pub epoch: String,
    /// The event's sequence number.
    pub seq: u64,
}

/// The answer to `GET /api/topics/{topic}/events?epoch=&after=`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicEvents {
    /// The topic.
    pub topic: Topic,
    /// The stream's current epoch.
    pub epoch: String,
    /// The topic's current sequence number.
    pub seq: u64,
    /// Whether `events` holds every event after `after` (up to `limit`); when false, the
    /// caller refetches the topic's state instead.
    pub recovered: bool,
    /// The events, oldest first, as they were sent on the socket.
    pub events: Vec<Envelope>,
    /// Whether more events follow the last one returned (ask again with its `seq`).
    pub has_more: bool,
}
