//! `/api/agents`: list, create, read, change and delete agents. Each change is published
//! as an event on `agent:{id}` and `user:{owner}` once it is committed.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::get,
};
use hatchery_shared::{
    api::{
        Page,
        agents::{Agent, AgentDeleted, AgentPatch, NewAgent},
    },
    realtime::Message,
};
use serde::Deserialize;

use super::{ApiError, AppJson, page::PageQuery, scope::Scope};
use crate::{
    agents,
    application::AppState,
    auth::Identity,
    realtime::Realtime,
    runner::Runner,
    scheduler::Scheduler,
    store::{AgentFilter, AgentRow, Store},
};

/// Routes of agents.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/agents", get(list).post(create))
        .route("/api/agents/{id}", get(read).patch(update).delete(remove))
}

/// `?scope=&limit=&cursor=` of the list. (Not a flattened [`PageQuery`]: flattening loses
/// the number types of a query string.)
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    scope: Scope,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/agents?scope=mine|all&limit=&cursor=`: agents, newest first.
async fn list(
    identity: Identity,
    State(store): State<Store>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<Agent>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let filter = AgentFilter {
        owner_id: query.scope.owner(&identity, "agents")?,
    };
    let rows = store
        .agents(&filter, page.cursor.as_ref(), page.fetch())
        .await?;
    Ok(Json(page.page(rows, |row| row.id.clone(), agents::view)))
}

/// `POST /api/agents`: a new agent owned by the caller.
async fn create(
    identity: Identity,
    State(store): State<Store>,
    State(realtime): State<Realtime>,
    State(runner): State<Runner>,
    State(scheduler): State<Scheduler>,
    AppJson(body): AppJson<NewAgent>,
) -> Result<(StatusCode, Json<Agent>), ApiError> {
    let change = agents::new_change(body, runner.default_model()).map_err(ApiError::Validation)?;
    let row = store.create_agent(&identity.user_id, &change).await?;
    scheduler.agent_changed(&row.id);
    let agent = agents::view(&row);
    agents::announce(&realtime, &row, Message::AgentCreated(agent.clone())).await;
    Ok((StatusCode::CREATED, Json(agent)))
}

/// `GET /api/agents/{id}`.
async fn read(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<Agent>, ApiError> {
    let row = visible(&store, &identity, &id).await?;
    Ok(Json(agents::view(&row)))
}

/// `PATCH /api/agents/{id}`: changes the fields given.
async fn update(
    identity: Identity,
    State(store): State<Store>,
    State(realtime): State<Realtime>,
    State(scheduler): State<Scheduler>,
    Path(id): Path<String>,
    AppJson(patch): AppJson<AgentPatch>,
) -> Result<Json<Agent>, ApiError> {
    let current = visible(&store, &identity, &id).await?;
    let change = agents::patched(&current, patch).map_err(ApiError::Validation)?;
    let row = store
        .update_agent(&id, &change)
        .await?
        .ok_or_else(|| not_found(&id))?;
    scheduler.agent_changed(&id);
    let agent = agents::view(&row);
    agents::announce(&realtime, &row, Message::AgentUpdated(agent.clone())).await;
    Ok(Json(agent))
}

/// `DELETE /api/agents/{id}` (its runs in progress stop).
async fn remove(
    identity: Identity,
    State(store): State<Store>,
    State(realtime): State<Realtime>,
    State(runner): State<Runner>,
    State(scheduler): State<Scheduler>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let row = visible(&store, &identity, &id).await?;
    runner.cancel_runs_of(Some(&id), None);
    if !store.delete_agent(&id).await? {
        return Err(not_found(&id));
    }
    scheduler.agent_changed(&id);
    let deleted = Message::AgentDeleted(AgentDeleted {
        id: row.id.clone(),
        owner_id: row.owner_id.clone(),
    });
    agents::announce(&realtime, &row, deleted).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The agent `id` if the caller may see it; another user's agent is "not found".
async fn visible(store: &Store, identity: &Identity, id: &str) -> Result<AgentRow, ApiError> {
    match store.agent(id).await? {
        Some(row) if identity.may_manage(&row.owner_id) => Ok(row),
        _ => Err(not_found(id)),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no agent {id}"))
}
