//! Runs: the history (`/api/runs`, `/api/agents/{id}/runs`), one run's state, stopping
//! it, and "Run now".

use axum::{
    Json, Router,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
    routing::{get, post},
};
use chrono::{DateTime, Utc};
use hatchery_shared::api::{
    Page,
    runs::{Posted, Run, RunStatus, RunTrigger},
    threads::ThreadKind,
};
use serde::Deserialize;

use super::{ApiError, page::PageQuery, scope::Scope};
use crate::{
    application::AppState,
    auth::Identity,
    runner::{Runner, StartError, caps},
    store::{RunCursor, RunFilter, RunRow, Store},
};

/// Routes of runs.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/runs", get(list))
        .route("/api/agents/{id}/runs", get(list_of_agent))
        .route("/api/runs/{id}", get(read))
        .route("/api/runs/{id}/cancel", post(cancel))
        .route("/api/agents/{id}/run", post(run_now))
}

/// `?status=&trigger=&agent=&from=&to=&scope=&limit=&cursor=` of the run lists.
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    scope: Scope,
    agent: Option<String>,
    status: Option<RunStatus>,
    trigger: Option<RunTrigger>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/runs`: the caller's runs (everyone's with `scope=all`, for admins), newest
/// first, filtered by status, trigger, agent and creation time (`from` inclusive, `to`
/// exclusive, RFC 3339).
async fn list(
    identity: Identity,
    State(store): State<Store>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Run>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let owner_id = query.scope.owner(&identity, "runs")?;
    let agent_id = query.agent.clone();
    page_of_runs(&store, query, owner_id, agent_id).await
}

/// `GET /api/agents/{id}/runs`: one agent's runs, with the filters of `GET /api/runs`.
async fn list_of_agent(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Run>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    match store.agent(&id).await? {
        Some(agent) if identity.may_manage(&agent.owner_id) => {}
        _ => return Err(ApiError::NotFound(format!("there is no agent {id}"))),
    }
    page_of_runs(&store, query, None, Some(id)).await
}

async fn page_of_runs(
    store: &Store,
    query: ListQuery,
    owner_id: Option<String>,
    agent_id: Option<String>,
) -> Result<Json<Page<Run>>, ApiError> {
    check_range(query.from, query.to)?;
    let after = query
        .cursor
        .as_deref()
        .map(|text| {
            RunCursor::parse(text).ok_or_else(|| {
                ApiError::BadRequest("the cursor is not one this list handed out".into())
            })
        })
        .transpose()?;
    let filter = RunFilter {
        owner_id,
        agent_id,
        status: query.status,
        trigger: query.trigger,
        from: query.from,
        to: query.to,
    };
    let page = PageQuery {
        limit: query.limit,
        cursor: None,
    };
    let rows = store.runs(&filter, after.as_ref(), page.fetch()).await?;
    Ok(Json(page.page(rows, RunCursor::after, RunRow::view)))
}

/// Refuses a time range that ends before it starts.
pub fn check_range(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<(), ApiError> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => {
            Err(ApiError::BadRequest("`from` must not be after `to`".into()))
        }
        _ => Ok(()),
    }
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
    let title = format!("Run of {}", Utc::now().format("%Y-%m-%d %H:%M UTC"));
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
        StartError::CapReached(message) => {
            let (_, midnight) = caps::today(Utc::now());
            ApiError::TooManyRequests {
                message,
                retry_after: (midnight - Utc::now()).to_std().unwrap_or_default(),
            }
        }
        other => ApiError::Conflict(other.to_string()),
    }
}
