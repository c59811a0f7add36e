//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers too).

use std::time::{Duration, Instant};

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use hatchery_shared::health::{CheckStatus, DatabaseCheck, Health, Readiness};

use super::AppState;
use crate::store::Store;

/// How long the readiness check waits for the database before calling it unavailable.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// Routes of the health endpoints.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: CheckStatus::Ok,
        version: hatchery_shared::VERSION.to_owned(),
    })
}

async fn readyz(State(store): State<Store>) -> (StatusCode, Json<Readiness>) {
    let database = check_database(&store).await;
    let status = database.status;
    let code = match status {
        CheckStatus::Ok => StatusCode::OK,
        CheckStatus::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    (code, Json(Readiness { status, database }))
}

async fn check_database(store: &Store) -> DatabaseCheck {
    let started = Instant::now();
    let outcome = tokio::time::timeout(DATABASE_TIMEOUT, store.installation()).await;
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok(Ok(installation)) => DatabaseCheck {
            status: CheckStatus::Ok,
            latency_ms,
            schema_version: Some(installation.schema_version),
        },
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: the database check failed");
            unavailable(latency_ms)
        }
        Err(_) => {
            tracing::warn!(
                ?DATABASE_TIMEOUT,
                "readiness: the database did not answer in time"
            );
            unavailable(latency_ms)
        }
    }
}

fn unavailable(latency_ms: u64) -> DatabaseCheck {
    DatabaseCheck {
        status: CheckStatus::Unavailable,
        latency_ms,
        schema_version: None,
    }
}
