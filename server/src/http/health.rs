//! `GET /healthz` (the process answers) and `GET /readyz` (the database answers too).

use std::time::{Duration, Instant};

use axum::{Json, extract::State, http::StatusCode};
use hatchery_shared::health::{CheckStatus, DatabaseCheck, Health, Readiness};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::AppState;
use crate::store::Store;

/// How long the readiness check waits for the database before calling it unavailable.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// Routes of the health endpoints.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "health_healthz",
    security(()),
    responses((status = 200, description = "The process answers.", body = Health)),
)]
async fn healthz() -> Json<Health> {
    Json(Health {
        status: CheckStatus::Ok,
        version: hatchery_shared::VERSION.to_owned(),
    })
}

/// `GET /readyz`.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "health_readyz",
    security(()),
    responses(
        (status = 200, description = "The process and its database answer.", body = Readiness),
        (status = 503, description = "The database does not answer.", body = Readiness),
    ),
)]
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
