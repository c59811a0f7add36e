//! `/api/runs/{id}`: a run's state, and stopping it.

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use hatchery_shared::api::{
    runs::{Posted, Run, RunTrigger},
    threads::ThreadKind,
};

use super::ApiError;
use crate::{
    application::AppState,
    auth::Identity,
    runner::{Runner, StartError},
    store::{RunRow, Store},
};

/// Routes of runs.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/runs/{id}", get(read))
        .route("/api/runs/{id}/cancel", post(cancel))
        .route("/api/agents/{id}/run", post(run_now))
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

/// `POST /api/agents/{id}/run` ("Run now"): runs the agent's task instructions in a new
/// `manual` thread (202 with the message and the run).
async fn run_now(
    identity: Identity,
    State(store): State<Store>,
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Posted>), ApiError> {
    let not_found = || ApiError::NotFound(format!("there is no agent {id}"));
    let agent = match store.agent(&id).await? {
        Some(agent) if identity.may_manage(&agent.owner_id) => agent,
        _ => return Err(not_found()),
    };
    let task = agent.change.task_instructions.trim().to_owned();
    if task.is_empty() {
        return Err(ApiError::validation(
            "task_instructions",
            "the agent has no task instructions to run; write them first",
        ));
    }
    let title = format!("Run of {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"));
    let thread = store
        .create_thread(&agent.id, &title, ThreadKind::Manual)
        .await?
        .ok_or_else(not_found)?;
    let (message, run) = runner
        .post_message(&thread, task, RunTrigger::Manual)
        .await
        .map_err(start_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Posted {
            message,
            run: run.view(),
        }),
    ))
}

/// The API's answer to a run that could not start.
pub fn start_error(err: StartError) -> ApiError {
    match err {
        StartError::Store(err) => err.into(),
        StartError::ShuttingDown => ApiError::Unavailable(err.to_string()),
        other => ApiError::Conflict(other.to_string()),
    }
}
