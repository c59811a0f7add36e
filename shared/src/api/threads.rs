//! Threads: an agent's conversations and their messages.

use serde::{Deserialize, Serialize};

wire_enum! {
    /// What started a thread.
    pub enum ThreadKind {
        /// A person chatting.
        Chat,
        /// The agent's schedule.
        Scheduled,
        /// "Run now".
        Manual,
        /// A webhook trigger.
        Webhook,
        /// The agent's turns in a room: what each turn saw and answered.
        Room,
    }
}

/// A thread as the API shows it.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thread {
    /// The thread's id.
    pub id: String,
    /// The agent it belongs to.
    pub agent_id: String,
    /// Its title.
    pub title: String,
    /// What started it.
    pub kind: ThreadKind,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
}

/// `POST /api/agents/{id}/threads`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewThread {
    /// A title, 1–200 characters (default "New chat").
    #[serde(default)]
    pub title: Option<String>,
}

/// `PATCH /api/threads/{id}`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadPatch {
    /// The new title, 1–200 characters.
    pub title: String,
}

wire_enum! {
    /// Who wrote a message.
    pub enum MessageRole {
        /// Instructions to the model.
        System,
        /// A person.
        User,
        /// The model.
        Assistant,
        /// A tool's result.
        Tool,
    }
}

/// A tool call made by the model, as stored with its message.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallView {
    /// The provider's id of the call.
    pub id: String,
    /// The tool called.
    pub name: String,
    /// Its arguments, JSON text.
    pub arguments: String,
}

/// A message of a thread.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadMessage {
    /// The message's id.
    pub id: String,
    /// Its thread.
    pub thread_id: String,
    /// Who wrote it.
    pub role: MessageRole,
    /// Its text.
    pub content: String,
    /// The tools an assistant message calls.
    #[serde(default)]
    pub tool_calls: Vec<ToolCallView>,
    /// On a tool message: the call it answers.
    pub tool_call_id: Option<String>,
    /// On a tool message: the tool.
    pub tool_name: Option<String>,
    /// Prompt tokens of the step that wrote it (assistant messages).
    pub prompt_tokens: Option<u64>,
    /// Completion tokens of the step that wrote it (assistant messages).
    pub completion_tokens: Option<u64>,
    /// The reply was cut off (cancelled or failed mid-stream).
    pub cut_off: bool,
    /// When it was written (RFC 3339, UTC).
    pub created_at: String,
}
