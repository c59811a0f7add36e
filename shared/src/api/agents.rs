//! Agents: what an agent is, and the bodies that create and change one.

use serde::{Deserialize, Serialize};

use super::{absent_null_or_value, rooms::MemberRole};

wire_enum! {
    /// What an agent is doing.
    pub enum AgentStatus {
        /// Waiting for a message, a schedule or a trigger.
        Idle,
        /// A run is in progress.
        Running,
        /// The last runs failed; `last_error` says why.
        Error,
        /// Turned off: nothing triggers it.
        Disabled,
    }
}

wire_enum! {
    /// A built-in tool an agent may be allowed to call.
    pub enum Tool {
        /// The current date and time in a time zone.
        CurrentTime,
        /// An HTTP GET or POST to a public address.
        HttpRequest,
        /// Arithmetic on an expression.
        Calculator,
    }
}

/// An agent as the API shows it.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The agent's id.
    pub id: String,
    /// The user who owns it.
    pub owner_id: String,
    /// Its name, 1–100 characters.
    pub name: String,
    /// The system prompt of every run.
    pub system_instructions: String,
    /// What a scheduled or manual run asks it to do.
    pub task_instructions: String,
    /// The model to call.
    pub model: String,
    /// Sampling temperature, 0–2.
    pub temperature: f64,
    /// The tools it may call.
    pub tools: Vec<Tool>,
    /// A cron expression (five fields, or `@daily` and the like), if it runs on a schedule.
    pub schedule: Option<String>,
    /// The schedule in words, such as "At 09:00 AM, Monday through Friday".
    pub schedule_description: Option<String>,
    /// The IANA time zone the schedule is read in, such as `Europe/Paris`.
    pub time_zone: String,
    /// How many earlier scheduled runs a scheduled run sees of its thread (0: each starts
    /// afresh): a rolling context, so that a schedule's cost does not grow run after run.
    #[serde(default = "default_schedule_memory_runs")]
    pub schedule_memory_runs: u32,
    /// What it is doing.
    pub status: AgentStatus,
    /// Why the last run failed, if it did.
    pub last_error: Option<String>,
    /// When it last ran (RFC 3339, UTC).
    pub last_run_at: Option<String>,
    /// When its schedule next fires (RFC 3339, UTC).
    pub next_run_at: Option<String>,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// True on a topic event whose instructions were cut to their first
    /// [`EVENT_INSTRUCTIONS_CHARS`] characters, to keep events small: the whole agent is at
    /// `GET /api/agents/{id}`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub instructions_trimmed: bool,
    /// The file that defines the agent, for an agent kept as a file in the server's agents
    /// directory (`HATCHERY_AGENTS_DIR`): such an agent is changed by editing its file, and
    /// the API refuses to change or delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<AgentFile>,
}

/// Where an agent kept as a file comes from, and how its last reading went.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFile {
    /// The file's path on the server.
    pub path: String,
    /// Why the file's current content is not in force (it does not parse, or it was
    /// deleted); `None` when the agent is the file's current content.
    pub error: Option<String>,
    /// The role the agent takes when added to a room without one (the file's `room_role`).
    pub room_role: Option<MemberRole>,
}

/// The most characters of each instruction field that an agent's topic event carries.
pub const EVENT_INSTRUCTIONS_CHARS: usize = 2_000;

/// `POST /api/agents`: a new agent. Only `name` is required; an unknown field is an error.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// Its name, 1–100 characters.
    pub name: String,
    /// The system prompt (default empty).
    #[serde(default)]
    pub system_instructions: String,
    /// The task of scheduled and manual runs (default empty).
    #[serde(default)]
    pub task_instructions: String,
    /// The model (default: the server's default model, `HATCHERY_LLM_MODEL`).
    #[serde(default)]
    pub model: Option<String>,
    /// Sampling temperature, 0–2 (default 0.7).
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Allowed tools (default none).
    #[serde(default)]
    pub tools: Vec<Tool>,
    /// A cron expression, or none.
    #[serde(default)]
    pub schedule: Option<String>,
    /// The schedule's IANA time zone (default `UTC`).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Earlier scheduled runs a scheduled run sees, 0–100 (default 10).
    #[serde(default)]
    pub schedule_memory_runs: Option<u32>,
    /// Create it disabled (default false).
    #[serde(default)]
    pub disabled: bool,
}

/// `PATCH /api/agents/{id}`: the fields to change; absent fields stay as they are, and an
/// unknown field is an error.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    /// A new name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New system instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_instructions: Option<String>,
    /// New task instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_instructions: Option<String>,
    /// A new model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A new temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// A new list of tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// A new schedule (`null` removes it).
    #[serde(
        default,
        deserialize_with = "absent_null_or_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub schedule: Option<Option<String>>,
    /// A new time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// How many earlier scheduled runs a scheduled run sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_memory_runs: Option<u32>,
    /// Turn the agent off (`true`) or back on (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// The payload of `agent_deleted`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDeleted {
    /// The deleted agent's id.
    pub id: String,
    /// Its owner.
    pub owner_id: String,
}

/// The model a new agent gets when none is given and the server names none
/// (`HATCHERY_LLM_MODEL`).
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// The built-in local model, which answers when the server has no provider set.
pub const LOCAL_MODEL: &str = "local/smollm2-135m";
/// `GET /api/models`: which models answer agents on this server.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Models {
    /// The host of the OpenAI-compatible provider that answers agents of every other model,
    /// such as `api.openai.com`; `None`: no provider is set, and the built-in model
    /// ([`Models::local`]) answers every agent whatever model it names.
    pub provider: Option<String>,
    /// The built-in model, which runs inside the server.
    pub local: String,
    /// The model a new agent gets when it names none.
    pub default_model: String,
}

/// The temperature a new agent gets when none is given.
pub const DEFAULT_TEMPERATURE: f64 = 0.7;
/// How many earlier scheduled runs a new agent's scheduled runs see.
pub const DEFAULT_SCHEDULE_MEMORY_RUNS: u32 = 10;

fn default_schedule_memory_runs() -> u32 {
    DEFAULT_SCHEDULE_MEMORY_RUNS
}
/// The longest agent name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// `GET /api/agents/{id}/schedule`: when the agent runs next and which times it skipped.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSchedule {
    /// The cron expression; `None` when the agent has no schedule.
    pub schedule: Option<String>,
    /// The schedule in words.
    pub description: Option<String>,
    /// The time zone it is read in.
    pub time_zone: String,
    /// The next five run times (RFC 3339, UTC); empty when disabled or unscheduled.
    pub upcoming: Vec<String>,
    /// The latest times that came round without a run, newest first.
    pub skipped: Vec<SkippedTime>,
}

/// A scheduled time that did not run.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedTime {
    /// The time (RFC 3339, UTC).
    pub due_at: String,
    /// Why it did not run.
    pub reason: String,
}

/// `GET /api/schedule/preview?schedule=&time_zone=`: a schedule in words and its next five
/// times, before it is saved.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulePreview {
    /// The schedule in words.
    pub description: Option<String>,
    /// The next five run times (RFC 3339, UTC).
    pub upcoming: Vec<String>,
}
