//! Runs: the history (`/api/runs`, `/api/agents/{id}/runs`), one run's state, stopping
//! it, and "Run now".

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use hatchery_shared::api::{
    Page,
    runs::{Posted, Run, RunStatus, RunTrigger},
};
use serde::Deserialize;

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppState, owned::Owned, page::PageQuery, scope::Scope};
use crate::{
    agents::Agents,
    auth::Identity,
    runner::Runner,
    store::{Actor, AgentRow, RunCursor, RunFilter, RunRow, Store},
};

/// Routes of runs.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(list_of_agent))
        .routes(routes!(read))
        .routes(routes!(cancel))
        .routes(routes!(run_now))
}

/// `?status=&trigger=&agent=&from=&to=&scope=&limit=&cursor=` of the run lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[serde(default)]
    #[param(inline)]
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
#[utoipa::path(
    get,
    path = "/api/runs",
    tag = "runs",
    operation_id = "runs_list",
    params(ListQuery),
    responses(
        (status = 200, description = "Runs, newest first.", body = Page<Run>),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/agents/{id}/runs",
    tag = "runs",
    operation_id = "runs_list_of_agent",
    params(("id" = String, Path, description = "The agent's id."), ListQuery),
    responses(
        (status = 200, description = "The agent's runs, newest first.", body = Page<Run>),
    ),
)]
async fn list_of_agent(
    State(store): State<Store>,
    Owned(agent): Owned<AgentRow>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Run>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    page_of_runs(&store, query, None, Some(agent.id)).await
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

/// `GET /api/runs/{id}`.
#[utoipa::path(
    get,
    path = "/api/runs/{id}",
    tag = "runs",
    operation_id = "runs_read",
    params(("id" = String, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The run.", body = Run),
    ),
)]
async fn read(Owned(run): Owned<RunRow>) -> Json<Run> {
    Json(run.view())
}

/// `POST /api/runs/{id}/cancel`: asks the run to stop (202); it records `cancelled`, with
/// the text written so far kept and marked as cut off. 409 once it has ended.
#[utoipa::path(
    post,
    path = "/api/runs/{id}/cancel",
    tag = "runs",
    operation_id = "runs_cancel",
    params(("id" = String, Path, description = "The run's id.")),
    responses(
        (status = 202, description = "The run was asked to stop; it records `cancelled`."),
    ),
)]
async fn cancel(
    actor: Actor,
    State(runner): State<Runner>,
    Owned(run): Owned<RunRow>,
) -> Result<StatusCode, ApiError> {
    if !runner.cancel_as(&actor, &run).await? {
        return Err(ApiError::Conflict(format!(
            "the run has already ended ({})",
            run.status.as_str()
        )));
    }
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/agents/{id}/run` ("Run now"): runs the agent's task instructions in a new
/// `manual` thread (202 with the message and the run).
#[utoipa::path(
    post,
    path = "/api/agents/{id}/run",
    tag = "runs",
    operation_id = "runs_run_now",
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 202, description = "The task message and the run started for it.", body = Posted),
    ),
)]
async fn run_now(
    actor: Actor,
    State(agents): State<Agents>,
    Owned(agent): Owned<AgentRow>,
) -> Result<(StatusCode, Json<Posted>), ApiError> {
    let started = agents.run_now(&actor, agent).await?;
    Ok((StatusCode::ACCEPTED, Json(started.posted())))
}
