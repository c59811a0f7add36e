//! `/api/runs/{id}`: a run's state, and stopping it.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use hatchery_shared::api::runs::Run;

use super::ApiError;
use crate::{
    application::AppState,
    auth::Identity,
    runner::Runner,
    store::{RunRow, Store},
};

/// Routes of runs.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/runs/{id}", get(read))
        .route("/api/runs/{id}/cancel", post(cancel))
}

/// The run `id`, if the caller may see its agent.
async fn visible(store: &Store, identity: &Identity, id: &str) -> Result<RunRow, ApiError> {
    let not_found = || ApiError::NotFound(format!("there is no run {id}"));
    let run = store.run(id).await?.ok_or_else(not_found)?;
    match store.agent(&run.agent_id).await? {
        Some(agent) if identity.may_manage(&agent.owner_id) => Ok(run),
        _ => Err(not_found()),
    }
}

/// `GET /api/runs/{id}`.
async fn read(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<Run>, ApiError> {
    Ok(Json(visible(&store, &identity, &id).await?.view()))
}

/// `POST /api/runs/{id}/cancel`: asks the run to stop (202); it records `cancelled`, with
/// the text written so far kept and marked as cut off. 409 once it has ended.
async fn cancel(
    identity: Identity,
    State(store): State<Store>,
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let run = visible(&store, &identity, &id).await?;
    if run.status.is_final() || !runner.cancel(&id) {
        return Err(ApiError::Conflict(format!(
            "the run has already ended ({})",
            run.status.as_str()
        )));
    }
    Ok(StatusCode::ACCEPTED)
}
