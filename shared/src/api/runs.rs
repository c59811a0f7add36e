//! Runs: one execution of an agent, its status, usage and cost, and the stream of a reply
//! as it is written.

use serde::{Deserialize, Serialize};

wire_enum! {
    /// Where a run is.
    pub enum RunStatus {
        /// Waiting for a free slot.
        Queued,
        /// Calling the model and tools.
        Running,
        /// Ended with a final answer.
        Succeeded,
        /// Ended with an error (`error` says why).
        Failed,
        /// Stopped by a person or by shutdown.
        Cancelled,
    }
}

impl RunStatus {
    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

wire_enum! {
    /// What started a run.
    pub enum RunTrigger {
        /// A message in a chat thread.
        Chat,
        /// "Run now".
        Manual,
        /// The agent's schedule.
        Schedule,
        /// A webhook trigger.
        Webhook,
        /// A script through the API.
        Api,
        /// A turn in a room.
        Room,
    }
}

/// A run as the API shows it.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The run's id.
    pub id: String,
    /// The agent that ran.
    pub agent_id: String,
    /// The thread it wrote to.
    pub thread_id: String,
    /// Where it is.
    pub status: RunStatus,
    /// What started it.
    pub trigger: RunTrigger,
    /// The model called.
    pub model: String,
    /// Prompt tokens over all steps.
    pub prompt_tokens: u64,
    /// Completion tokens over all steps.
    pub completion_tokens: u64,
    /// What the tokens cost, in US dollars, from the configured price table (0 when the
    /// model has no price).
    pub cost_usd: f64,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it started running.
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// How long it ran, in milliseconds, once ended.
    pub duration_ms: Option<u64>,
}

/// `POST /api/threads/{id}/messages`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessage {
    /// The text, 1–100,000 characters.
    pub content: String,
}

/// The answer to `POST /api/threads/{id}/messages` (202): the stored message and the run
/// that replies to it.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Posted {
    /// The user's message as stored.
    pub message: super::threads::ThreadMessage,
    /// The run started for it.
    pub run: Run,
}

/// `stream_start` / `stream_end` on `thread:{id}` (and, for a turn in a room, on
/// `room:{id}`): a step of a run begins or ends.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStep {
    /// The run.
    pub run_id: String,
    /// The agent whose run it is: what tells apart the replies that stream at once in a
    /// room.
    #[serde(default)]
    pub agent_id: String,
    /// The step, from 1.
    pub step: u32,
}

/// `stream_chunk` on `thread:{id}`: a piece of what a step is writing.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StreamChunk {
    /// The next piece of the reply's text.
    AssistantToken {
        /// The run.
        run_id: String,
        /// The text.
        text: String,
    },
    /// A piece of a tool call the model is writing.
    ToolCall {
        /// The run.
        run_id: String,
        /// Which call of the step.
        index: u32,
        /// The call's id (first piece).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        /// The tool (first piece).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The next piece of the arguments.
        arguments: String,
    },
    /// A tool call's result.
    ToolOutput {
        /// The run.
        run_id: String,
        /// The call answered.
        call_id: String,
        /// The tool.
        name: String,
        /// What it returned (or its error).
        output: String,
    },
}
