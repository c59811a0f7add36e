//! Rooms: several agents and people in one conversation — the room, its members and
//! settings, its messages, and what the live view of a room shows.

use serde::{Deserialize, Serialize};

wire_enum! {
    /// Where a room's conversation is.
    pub enum RoomState {
        /// Nobody is answering; the next person's message starts a round.
        Idle,
        /// Agents are taking their turns.
        Running,
        /// The turn in flight finishes and no new one starts until resumed.
        Paused,
    }
}

wire_enum! {
    /// In what order the participants of a round answer.
    pub enum TurnPolicy {
        /// Each participant once per round, one after another in their order, each seeing
        /// the replies before it.
        RoundRobin,
        /// Every participant at once, each seeing the messages from before the round.
        AllAtOnce,
    }
}

wire_enum! {
    /// What an agent does in a room.
    pub enum MemberRole {
        /// Takes turns in the conversation.
        Participant,
        /// Judges each participant's message; its verdicts are shown under the message.
        Critic,
    }
}

wire_enum! {
    /// What a room message is.
    pub enum RoomMessageKind {
        /// Something a person or a participant said.
        Message,
        /// A critic's verdict on a message (`critique_of`).
        Critique,
        /// What the room itself says: a cap reached, a turn refused, a round interrupted.
        System,
    }
}

wire_enum! {
    /// Who wrote a room message.
    pub enum AuthorKind {
        /// A person (`author_id` is the user).
        Person,
        /// An agent (`author_id` is the agent).
        Agent,
        /// The room itself.
        System,
    }
}

wire_enum! {
    /// What a member is doing right now, as the room's live view shows it.
    pub enum MemberActivity {
        /// Not taking a turn.
        Idle,
        /// Its turn is in flight (waiting for a slot or the model, or replying: its
        /// `stream_chunk` frames on the room's topic say when the text comes).
        Thinking,
        /// It passed in the current round.
        Passed,
    }
}

/// The longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 100;
/// The longest room description, in characters.
pub const MAX_ROOM_DESCRIPTION_CHARS: usize = 2_000;
/// The longest message a person may write in a room, in characters.
pub const MAX_ROOM_MESSAGE_CHARS: usize = 100_000;
/// The most agents a room may have.
pub const MAX_ROOM_MEMBERS: usize = 32;
/// The most rounds the agents may continue among themselves after a person speaks.
pub const MAX_ROUNDS_PER_MESSAGE: u32 = 20;

/// How a room's conversation runs.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomSettings {
    /// In what order participants answer (default `round_robin`).
    pub turn_policy: TurnPolicy,
    /// Rounds the agents may take after a person speaks, 1–20 (default 1).
    pub max_rounds_per_message: u32,
    /// Agent turns (participants' and critics') the room may take in all, at least 1
    /// (default 200); then it stops and says so.
    pub max_turns: u64,
    /// What the room's agents may spend per UTC day, in US dollars; none when absent.
    pub daily_cost_cap_usd: Option<f64>,
    /// A participant that answers exactly this (case and surrounding space ignored)
    /// passes: nothing is posted (default `PASS`).
    pub pass_marker: String,
    /// Whether participants see the critiques in their context (default false).
    pub critics_visible_to_agents: bool,
    /// Tokens of the conversation an agent's turn sees at most: the newest messages that
    /// fit, 200–100,000 (default 4,000).
    pub context_tokens: u32,
}

impl Default for RoomSettings {
    fn default() -> Self {
        Self {
            turn_policy: TurnPolicy::RoundRobin,
            max_rounds_per_message: 1,
            max_turns: 200,
            daily_cost_cap_usd: None,
            pass_marker: "PASS".into(),
            critics_visible_to_agents: false,
            context_tokens: 4_000,
        }
    }
}

/// An agent in a room.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomMember {
    /// The agent.
    pub agent_id: String,
    /// Its name.
    pub name: String,
    /// What it does in the room.
    pub role: MemberRole,
    /// Its place in the turn order, from 0.
    pub position: u32,
    /// What it is doing right now.
    pub activity: MemberActivity,
}

/// A room as the API shows it.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Room {
    /// The room's id.
    pub id: String,
    /// Who owns it.
    pub owner_id: String,
    /// Its name, unique among its owner's rooms.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Where its conversation is.
    pub state: RoomState,
    /// How its conversation runs.
    pub settings: RoomSettings,
    /// Its agents, in turn order (participants and critics).
    pub members: Vec<RoomMember>,
    /// Agent turns taken so far, against `settings.max_turns`.
    pub turns_taken: u64,
    /// Rounds taken since a person last spoke, against `settings.max_rounds_per_message`.
    pub round: u32,
    /// What its agents spent today (UTC), in US dollars.
    pub cost_today_usd: f64,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// `POST /api/rooms`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRoom {
    /// 1–100 characters, unique among the owner's rooms.
    pub name: String,
    /// Up to 2,000 characters.
    #[serde(default)]
    pub description: String,
    /// Defaults for whatever is left out.
    #[serde(default)]
    pub settings: RoomSettings,
    /// Its first agents, in turn order.
    #[serde(default)]
    pub members: Vec<NewMember>,
}

/// `PATCH /api/rooms/{id}`: only the fields present change.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomPatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New settings, whole (what is left out gets its default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<RoomSettings>,
}

/// `POST /api/rooms/{id}/members`: adds an agent, or changes its role or place.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    /// An agent of the room's owner.
    pub agent_id: String,
    /// What it does; when absent, the role its agent's file suggests (`room_role`), else
    /// `participant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MemberRole>,
    /// Its place in the turn order; after the others when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
}

/// A message in a room.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomMessage {
    /// The message's id.
    pub id: String,
    /// Its room.
    pub room_id: String,
    /// Who wrote it.
    pub author_kind: AuthorKind,
    /// The person or agent that wrote it (none for the room itself).
    pub author_id: Option<String>,
    /// Their name when they wrote it.
    pub author_name: String,
    /// What it is.
    pub kind: RoomMessageKind,
    /// The text.
    pub content: String,
    /// The run that wrote it, for an agent's message.
    pub run_id: Option<String>,
    /// For a critique: the message it judges.
    pub critique_of: Option<String>,
    /// Prompt tokens of the turn.
    pub prompt_tokens: u64,
    /// Completion tokens of the turn.
    pub completion_tokens: u64,
    /// What the turn cost, in US dollars.
    pub cost_usd: f64,
    /// Whether the reply was cut off by a person's message or a stop (its text is what had
    /// come until then).
    pub interrupted: bool,
    /// When it was stored (RFC 3339, UTC).
    pub created_at: String,
}

/// `POST /api/rooms/{id}/messages`: a person speaks.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRoomMessage {
    /// The text, 1–100,000 characters.
    pub content: String,
}
