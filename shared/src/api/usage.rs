//! Usage: runs, tokens and cost added up per day, agent or model, and the daily cost caps.

use serde::{Deserialize, Serialize};

wire_enum! {
    /// How `GET /api/usage` groups runs.
    pub enum UsageGroup {
        /// One bucket per UTC day.
        Day,
        /// One bucket per agent.
        Agent,
        /// One bucket per model.
        Model,
    }
}

/// The answer to `GET /api/usage?group_by=&from=&to=`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// How the buckets are grouped.
    pub group_by: UsageGroup,
    /// The first instant counted (RFC 3339, UTC).
    pub from: String,
    /// The instant after the last one counted.
    pub to: String,
    /// One per day (oldest first), agent or model (costliest first); empty groups are left
    /// out.
    pub buckets: Vec<UsageBucket>,
    /// All buckets together.
    pub total: UsageFigures,
}

/// One group's figures.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageBucket {
    /// The day (`2026-11-24`), agent id or model name.
    pub key: String,
    /// What to call it: the day, the agent's name, or the model.
    pub label: String,
    /// What the group adds up to.
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// Runs, tokens and cost.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageFigures {
    /// How many runs.
    pub runs: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cost in US dollars.
    pub cost_usd: f64,
}

/// The answer to `GET /api/usage/caps?agent=`: today's spending against the daily cost caps
/// (UTC days).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Caps {
    /// The day counted (`2026-11-24`).
    pub day: String,
    /// When the count starts again (RFC 3339, UTC midnight).
    pub resets_at: String,
    /// The caller's cap over all their agents; `None` when there is none.
    pub user: Option<CapStatus>,
    /// The cap of the agent asked about; `None` when there is none or none was asked.
    pub agent: Option<CapStatus>,
}

/// One cap and how much of it is used.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CapStatus {
    /// The cap, in US dollars a day.
    pub cap_usd: f64,
    /// Spent today.
    pub spent_usd: f64,
    /// Left today (never below zero).
    pub left_usd: f64,
}
