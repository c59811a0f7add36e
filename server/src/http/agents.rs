//! `/api/agents`: list, create, read, change, delete and export agents. Each change is
//! published as an event on `agent:{id}` and `user:{owner}` once it is committed.
//! `/api/models`: which models answer them.

use axum::{
    Json,
    extract::{Query, State},
    http::{StatusCode, header},
    response::IntoResponse,
};
use hatchery_shared::api::{
    Page,
    agents::{Agent, AgentPatch, Models, NewAgent},
};
use serde::Deserialize;

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppJson, AppState, owned::Owned, page::PageQuery, scope::Scope};
use crate::{
    agents::{self, Agents},
    auth::Identity,
    runner::Runner,
    store::{Actor, AgentFilter, AgentRow, Store},
};

/// Routes of agents.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(export))
        .routes(routes!(models))
}

/// `GET /api/models`: the provider and the built-in model, for any signed-in user.
#[utoipa::path(
    get,
    path = "/api/models",
    tag = "agents",
    operation_id = "agents_models",
    responses(
        (status = 200, description = "The provider's models and the built-in one.", body = Models),
    ),
)]
async fn models(_: Identity, State(runner): State<Runner>) -> Json<Models> {
    Json(runner.models())
}

/// `?scope=&limit=&cursor=` of the list. (Not a flattened [`PageQuery`]: flattening loses
/// the number types of a query string.)
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[serde(default)]
    #[param(inline)]
    scope: Scope,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/agents?scope=mine|all&limit=&cursor=`: agents, newest first.
#[utoipa::path(
    get,
    path = "/api/agents",
    tag = "agents",
    operation_id = "agents_list",
    params(ListQuery),
    responses(
        (status = 200, description = "Agents, newest first.", body = Page<Agent>),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/agents",
    tag = "agents",
    operation_id = "agents_create",
    request_body = NewAgent,
    responses(
        (status = 201, description = "The new agent.", body = Agent),
    ),
)]
async fn create(
    identity: Identity,
    actor: Actor,
    State(agents): State<Agents>,
    AppJson(body): AppJson<NewAgent>,
) -> Result<(StatusCode, Json<Agent>), ApiError> {
    let agent = agents.create(&actor, &identity.user_id, body).await?;
    Ok((StatusCode::CREATED, Json(agent)))
}

/// `GET /api/agents/{id}`.
#[utoipa::path(
    get,
    path = "/api/agents/{id}",
    tag = "agents",
    operation_id = "agents_read",
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The agent.", body = Agent),
    ),
)]
async fn read(Owned(row): Owned<AgentRow>) -> Json<Agent> {
    Json(agents::view(&row))
}

/// `PATCH /api/agents/{id}`: changes the fields given.
#[utoipa::path(
    patch,
    path = "/api/agents/{id}",
    tag = "agents",
    operation_id = "agents_update",
    params(("id" = String, Path, description = "The agent's id.")),
    request_body = AgentPatch,
    responses(
        (status = 200, description = "The agent as changed.", body = Agent),
    ),
)]
async fn update(
    actor: Actor,
    State(agents): State<Agents>,
    Owned(current): Owned<AgentRow>,
    AppJson(patch): AppJson<AgentPatch>,
) -> Result<Json<Agent>, ApiError> {
    Ok(Json(agents.update(&actor, &current, patch).await?))
}

/// `DELETE /api/agents/{id}` (its runs in progress stop).
#[utoipa::path(
    delete,
    path = "/api/agents/{id}",
    tag = "agents",
    operation_id = "agents_remove",
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 204, description = "Deleted; its runs in progress stop."),
    ),
)]
async fn remove(
    actor: Actor,
    State(agents): State<Agents>,
    Owned(row): Owned<AgentRow>,
) -> Result<StatusCode, ApiError> {
    agents.delete(&actor, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/agents/{id}/export`: the agent as a Markdown file for the agents directory
/// (`HATCHERY_AGENTS_DIR`), downloaded as `{name}.md`.
#[utoipa::path(
    get,
    path = "/api/agents/{id}/export",
    tag = "agents",
    operation_id = "agents_export",
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The agent as a Markdown file for the agents directory.", body = String, content_type = "text/markdown"),
    ),
)]
async fn export(Owned(row): Owned<AgentRow>) -> impl IntoResponse {
    let disposition = format!(
        "attachment; filename=\"{}.md\"",
        file_name(&row.change.name)
    );
    (
        [
            (
                header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        agents::export(&row),
    )
}

/// `name` as a file name that any system and header takes: lower-case ASCII letters and
/// digits, with a dash for every run of anything else.
fn file_name(name: &str) -> String {
    let mut file = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            file.push(c.to_ascii_lowercase());
        } else if !file.is_empty() && !file.ends_with('-') {
            file.push('-');
        }
    }
    let file = file.trim_end_matches('-');
    if file.is_empty() {
        "agent".to_owned()
    } else {
        file.to_owned()
    }
}
