//! Webhook triggers: signed HTTP requests that start an agent's run, and their deliveries.

use serde::{Deserialize, Serialize};

/// The header that carries the request's time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Hatchery-Timestamp";
/// The header that carries `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`.
pub const SIGNATURE_HEADER: &str = "X-Hatchery-Signature";

/// A webhook trigger as the API shows it (never with its secret).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    /// The trigger's id.
    pub id: String,
    /// The agent it runs.
    pub agent_id: String,
    /// What to call it.
    pub name: String,
    /// Where to send requests: `/api/hooks/{id}` on this server.
    pub path: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When its secret was last rotated.
    pub rotated_at: Option<String>,
    /// Until when the secret before the last rotation is still accepted.
    pub previous_secret_valid_until: Option<String>,
}

/// `POST /api/agents/{id}/triggers`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTrigger {
    /// What to call it, 1–100 characters (default "Webhook").
    #[serde(default)]
    pub name: Option<String>,
}

/// The answer to creating a trigger or rotating its secret: the only time the secret is
/// shown.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerWithSecret {
    /// The trigger.
    pub trigger: Trigger,
    /// The signing secret, in full.
    pub secret: String,
}

wire_enum! {
    /// How a delivery ended.
    pub enum DeliveryOutcome {
        /// Verified; a run started.
        Accepted,
        /// Refused (see the status code and error).
        Refused,
    }
}

/// One request received by a trigger.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The delivery's id.
    pub id: String,
    /// When it arrived (RFC 3339, UTC).
    pub received_at: String,
    /// Accepted or refused.
    pub outcome: DeliveryOutcome,
    /// The status code it was answered with.
    pub status_code: u16,
    /// The run it started.
    pub run_id: Option<String>,
    /// Why it was refused.
    pub error: Option<String>,
}

/// The answer to an accepted delivery (202).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAccepted {
    /// The delivery.
    pub delivery_id: String,
    /// The run it started.
    pub run_id: String,
}
