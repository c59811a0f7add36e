//! Bodies of the health (`/healthz`) and readiness (`/readyz`) endpoints.

use serde::{Deserialize, Serialize};

/// Whether a component can serve requests.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The component answered in time.
    Ok,
    /// The component failed or did not answer in time.
    Unavailable,
}

/// The body of `GET /healthz`: the process is alive and serving HTTP.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always [`CheckStatus::Ok`] when the process answers at all.
    pub status: CheckStatus,
    /// The server's version.
    pub version: String,
}

/// The body of `GET /readyz`: whether every dependency the server needs answers.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// [`CheckStatus::Ok`] only when every check is.
    pub status: CheckStatus,
    /// The database check.
    pub database: DatabaseCheck,
}

/// The outcome of the database readiness check.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseCheck {
    /// Whether the database answered.
    pub status: CheckStatus,
    /// How long the check took, in milliseconds.
    pub latency_ms: u64,
    /// The newest migration applied, when the database answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_round_trips_through_json_with_snake_case_statuses() {
        let ready = Readiness {
            status: CheckStatus::Unavailable,
            database: DatabaseCheck {
                status: CheckStatus::Unavailable,
                latency_ms: 2001,
                schema_version: None,
            },
        };
        let json = serde_json::to_string(&ready).unwrap();
        assert_eq!(
            json,
            r#"{"status":"unavailable","database":{"status":"unavailable","latency_ms":2001}}"#
        );
        assert_eq!(serde_json::from_str::<Readiness>(&json).unwrap(), ready);
    }
}
