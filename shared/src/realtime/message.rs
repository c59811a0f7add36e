//! Every message type of the protocol with its typed payload (the envelope's `data`).

use serde::{Deserialize, Serialize};

use super::topic::Topic;
use crate::api::{
    agents::{Agent, AgentDeleted},
    logs::LogRecords,
    rooms::{Room, RoomMessage},
    runs::{Run, StreamChunk, StreamStep},
    threads::ThreadMessage,
};

/// A message: the envelope's `type` and `data` together.
///
/// Serialized adjacently tagged, `{"type":"subscribe","data":{…}}`, which the
/// [`Envelope`](super::Envelope) flattens into the frame.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
#[strum_discriminants(
    name(MessageType),
    doc = "The name of a message type, as in the envelope's `type` field.",
    derive(
        Hash,
        Serialize,
        Deserialize,
        strum::EnumString,
        strum::IntoStaticStr,
        strum::EnumIter
    ),
    serde(rename_all = "snake_case"),
    strum(serialize_all = "snake_case")
)]
pub enum Message {
    /// Server → client, first frame of every connection.
    Hello(Hello),
    /// Client → server: start receiving topics, optionally recovering missed events.
    Subscribe(Subscribe),
    /// Server → client: one topic's subscription succeeded.
    Subscribed(Subscribed),
    /// Server → client: one topic's subscription was refused.
    SubscribeError(SubscribeError),
    /// Client → server: stop receiving topics.
    Unsubscribe(Unsubscribe),
    /// Server → client: one topic is no longer received.
    Unsubscribed(Unsubscribed),
    /// Either way: are you there?
    Ping(Empty),
    /// Either way: the answer to a ping.
    Pong(Empty),
    /// Server → client: a frame could not be handled; the socket stays open.
    Error(ErrorBody),
    /// Domain event: a notice for people to read, published by an admin or a script.
    Notice(Notice),
    /// An agent was created (on `agent:{id}` and `user:{owner}`).
    AgentCreated(Agent),
    /// An agent changed (on `agent:{id}` and `user:{owner}`).
    AgentUpdated(Agent),
    /// An agent was deleted (on `agent:{id}` and `user:{owner}`).
    AgentDeleted(AgentDeleted),
    /// A run was created (on `agent:{id}`).
    RunCreated(Run),
    /// A run changed status or ended (on `agent:{id}`).
    RunUpdated(Run),
    /// A message was stored (on `thread:{id}`).
    ThreadMessageCreated(ThreadMessage),
    /// A step of a run begins streaming (on `thread:{id}`).
    StreamStart(StreamStep),
    /// A piece of a step's output (on `thread:{id}`).
    StreamChunk(StreamChunk),
    /// A step of a run ended (on `thread:{id}`).
    StreamEnd(StreamStep),
    /// A room changed: its state, settings, members, their activity or its counters (on
    /// `room:{id}`).
    RoomUpdated(Room),
    /// A person, an agent or the room itself said something (on `room:{id}`).
    RoomMessageCreated(RoomMessage),
    /// A critic judged a message (on `room:{id}`; `critique_of` names the message).
    CritiqueCreated(RoomMessage),
    /// Records were written to the system log (on `logs`).
    LogRecords(LogRecords),
}

impl Message {
    /// This message's type.
    pub fn message_type(&self) -> MessageType {
        self.into()
    }
}

impl MessageType {
    /// The name on the wire, e.g. `subscribe_error`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether clients may send this type (everything else is server → client).
    pub fn is_client_message(self) -> bool {
        matches!(
            self,
            Self::Subscribe | Self::Unsubscribe | Self::Ping | Self::Pong
        )
    }

    /// Whether this is a domain event, published to a topic (and so through the publish API).
    pub fn is_event(self) -> bool {
        matches!(
            self,
            Self::Notice
                | Self::AgentCreated
                | Self::AgentUpdated
                | Self::AgentDeleted
                | Self::RunCreated
                | Self::RunUpdated
                | Self::ThreadMessageCreated
                | Self::StreamStart
                | Self::StreamChunk
                | Self::StreamEnd
                | Self::RoomUpdated
                | Self::RoomMessageCreated
                | Self::CritiqueCreated
        )
    }
}

/// A payload with no fields (`{}`).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The first frame the server sends on a connection.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// This connection's id (also in the server's logs).
    pub conn_id: String,
    /// Who the connection is authenticated as.
    pub user_id: String,
    /// How often the server pings; silence for this plus 10 s closes the socket.
    pub heartbeat_ms: u64,
    /// The most topics one connection may subscribe to.
    pub max_topics: u32,
    /// The server's version.
    pub server_version: String,
}

/// Subscribe to topics; one reply per topic.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribe {
    /// The topics, each with an optional recovery point.
    pub topics: Vec<SubscribeTopic>,
}

/// One topic in a [`Subscribe`]. The topic is a plain string here so that an invalid one
/// gets its own `subscribe_error` instead of failing the whole frame.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeTopic {
    /// The topic name.
    pub topic: String,
    /// The last event seen, to recover what came after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<StreamPosition>,
}

/// A position in a topic's stream: its epoch and a sequence number.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamPosition {
    /// The stream's epoch; a new one means its history was lost.
    pub epoch: String,
    /// A sequence number in that epoch.
    pub seq: u64,
}

/// A topic subscription succeeded.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    /// The topic.
    pub topic: Topic,
    /// The stream's current epoch.
    pub epoch: String,
    /// The topic's current sequence number (0 before the first event).
    pub seq: u64,
    /// Whether every event after `since` was replayed (false also when no `since` was given).
    pub recovered: bool,
    /// How many missed events follow this reply.
    pub replayed: u64,
}

/// A topic subscription was refused.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeError {
    /// The topic as the client wrote it.
    pub topic: String,
    /// Why, for programs.
    pub code: SubscribeErrorCode,
    /// Why, for people.
    pub message: String,
}

/// Why a subscription was refused.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscribeErrorCode {
    /// The connection's user may not see this topic.
    Forbidden,
    /// The thing the topic is about does not exist.
    NotFound,
    /// The topic name is malformed.
    InvalidTopic,
    /// The connection already has the most topics allowed.
    TooManyTopics,
}

/// Unsubscribe from topics; one `unsubscribed` reply per topic.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribe {
    /// The topic names.
    pub topics: Vec<String>,
}

/// A topic is no longer received.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribed {
    /// The topic as the client wrote it.
    pub topic: String,
}

/// A frame the server could not handle.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Why, for programs.
    pub code: ErrorCode,
    /// Why, for people.
    pub message: String,
}

/// Why a frame could not be handled.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not a JSON envelope.
    BadJson,
    /// The envelope's `v` is not 1.
    UnsupportedVersion,
    /// The envelope's `type` is not one the protocol knows.
    UnknownType,
    /// The type is known but its `data` does not fit, or clients may not send it.
    BadRequest,
}

/// A notice for people to read.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// How much attention it needs.
    pub level: NoticeLevel,
    /// The text.
    pub text: String,
}

/// How much attention a [`Notice`] needs.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    /// For information.
    Info,
    /// Something may need attention.
    Warning,
    /// Something went wrong.
    Error,
}
