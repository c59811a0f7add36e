//! The system log: the server's warnings and errors (and chosen information), kept in the
//! database for `GET /api/logs` and tailed live on the `logs` topic. Admins only.

use serde::{Deserialize, Serialize};

wire_enum! {
    /// How serious a record is, most serious first.
    pub enum LogLevel {
        /// Something failed.
        Error,
        /// Something went wrong and was coped with, or may soon fail.
        Warn,
        /// Something worth knowing happened (kept for chosen categories only).
        Info,
    }
}

impl LogLevel {
    /// The levels at least as serious as this one: `warn` → error and warn.
    pub fn and_above(self) -> &'static [LogLevel] {
        match self {
            Self::Error => &[Self::Error],
            Self::Warn => &[Self::Error, Self::Warn],
            Self::Info => &[Self::Error, Self::Warn, Self::Info],
        }
    }
}

wire_enum! {
    /// Which part of the server a record comes from.
    pub enum LogCategory {
        /// Agent runs, providers and tools.
        Runner,
        /// Schedules.
        Scheduler,
        /// Webhook triggers and their deliveries.
        Webhooks,
        /// Sign-in, sessions and tokens.
        Auth,
        /// The real-time hub and its sockets.
        Realtime,
        /// HTTP requests and the server itself.
        Http,
        /// The database.
        Store,
        /// Agents and their files.
        Agents,
        /// Rooms.
        Rooms,
        /// Anything else.
        Server,
    }
}

/// One record of the system log.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// The record's id (UUIDv7: records sort by it as by time).
    pub id: String,
    /// When it was logged (RFC 3339, UTC).
    pub at: String,
    /// How serious it is.
    pub level: LogLevel,
    /// Where it comes from.
    pub category: LogCategory,
    /// What happened.
    pub message: String,
    /// The record's other fields, by name (`error`, `agent`, …).
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The request it happened in, if any (`X-Request-Id`).
    pub request_id: Option<String>,
    /// The run it happened in, if any.
    pub run_id: Option<String>,
}

/// `GET /api/logs` filters, all optional: records matching every one given, newest first.
#[cfg_attr(feature = "schema", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Only records at least this serious.
    pub level: Option<LogLevel>,
    /// Only records of this category.
    pub category: Option<LogCategory>,
    /// Only records whose message contains this text (any case).
    pub text: Option<String>,
    /// Only records of this run.
    pub run: Option<String>,
    /// Only records of this request.
    pub request: Option<String>,
    /// Only records at or after this time (RFC 3339).
    pub from: Option<String>,
    /// Only records before this time (RFC 3339).
    pub to: Option<String>,
    /// Page size (1–200, default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A batch of new records, as the `logs` topic sends them (`log_records`).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecords {
    /// The records, oldest first.
    pub records: Vec<LogRecord>,
    /// How many records written just before these the tail leaves out (under a flood,
    /// only the newest of each batch are sent).
    pub left_out: u64,
}
