//! Threads of an agent: list, create, rename, delete, and their messages. Access follows
//! the agent: its owner and admins; anyone else gets "not found".

use axum::{
    Json,
    extract::{Query, State},
    http::StatusCode,
};
use hatchery_shared::api::{
    Page,
    runs::{NewMessage, Posted},
    threads::{NewThread, Thread, ThreadMessage, ThreadPatch},
};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppJson, AppState, owned::Owned, page::PageQuery};
use crate::{
    agents::Agents,
    store::{Actor, AgentRow, Store, ThreadRow},
};

/// Routes of threads and messages.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(rename, remove))
        .routes(routes!(messages, post_message))
}

/// `GET /api/agents/{id}/threads?limit=&cursor=`: newest first.
#[utoipa::path(
    get,
    path = "/api/agents/{id}/threads",
    tag = "threads",
    operation_id = "threads_list",
    params(("id" = String, Path, description = "The agent's id."), PageQuery),
    responses(
        (status = 200, description = "The agent's threads, newest first.", body = Page<Thread>),
    ),
)]
async fn list(
    State(store): State<Store>,
    Owned(agent): Owned<AgentRow>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Thread>>, ApiError> {
    let rows = store
        .threads(&agent.id, page.cursor.as_deref(), page.fetch())
        .await?;
    Ok(Json(page.page(rows, |row| row.id.clone(), ThreadRow::view)))
}

/// `POST /api/agents/{id}/threads {title?}`: a new chat thread.
#[utoipa::path(
    post,
    path = "/api/agents/{id}/threads",
    tag = "threads",
    operation_id = "threads_create",
    params(("id" = String, Path, description = "The agent's id.")),
    request_body = NewThread,
    responses(
        (status = 201, description = "The new thread.", body = Thread),
    ),
)]
async fn create(
    actor: Actor,
    State(agents): State<Agents>,
    Owned(agent): Owned<AgentRow>,
    AppJson(body): AppJson<NewThread>,
) -> Result<(StatusCode, Json<Thread>), ApiError> {
    let thread = agents.create_thread(&actor, &agent, body.title).await?;
    Ok((StatusCode::CREATED, Json(thread.view())))
}

/// `PATCH /api/threads/{id} {title}`.
#[utoipa::path(
    patch,
    path = "/api/threads/{id}",
    tag = "threads",
    operation_id = "threads_rename",
    params(("id" = String, Path, description = "The thread's id.")),
    request_body = ThreadPatch,
    responses(
        (status = 200, description = "The thread as renamed.", body = Thread),
    ),
)]
async fn rename(
    actor: Actor,
    State(agents): State<Agents>,
    Owned(thread): Owned<ThreadRow>,
    AppJson(body): AppJson<ThreadPatch>,
) -> Result<Json<Thread>, ApiError> {
    let renamed = agents.rename_thread(&actor, &thread, body.title).await?;
    Ok(Json(renamed.view()))
}

/// `DELETE /api/threads/{id}`: the thread and its messages (a reply in progress stops).
#[utoipa::path(
    delete,
    path = "/api/threads/{id}",
    tag = "threads",
    operation_id = "threads_remove",
    params(("id" = String, Path, description = "The thread's id.")),
    responses(
        (status = 204, description = "Deleted with its messages."),
    ),
)]
async fn remove(
    actor: Actor,
    State(agents): State<Agents>,
    Owned(thread): Owned<ThreadRow>,
) -> Result<StatusCode, ApiError> {
    agents.delete_thread(&actor, &thread).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/threads/{id}/messages?limit=&cursor=`: oldest first.
#[utoipa::path(
    get,
    path = "/api/threads/{id}/messages",
    tag = "threads",
    operation_id = "threads_messages",
    params(("id" = String, Path, description = "The thread's id."), PageQuery),
    responses(
        (status = 200, description = "The thread's messages, oldest first.", body = Page<ThreadMessage>),
    ),
)]
async fn messages(
    State(store): State<Store>,
    Owned(thread): Owned<ThreadRow>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<ThreadMessage>>, ApiError> {
    let rows = store
        .messages(&thread.id, page.cursor.as_deref(), page.fetch())
        .await?;
    Ok(Json(page.page_of(rows, |item| item.id.clone())))
}

/// `POST /api/threads/{id}/messages {content}`: stores the message and starts a run that
/// replies (202 with both); 409 while the thread is already replying.
#[utoipa::path(
    post,
    path = "/api/threads/{id}/messages",
    tag = "threads",
    operation_id = "threads_post_message",
    params(("id" = String, Path, description = "The thread's id.")),
    request_body = NewMessage,
    responses(
        (status = 202, description = "The message is stored and the agent's run started.", body = Posted),
    ),
)]
async fn post_message(
    State(agents): State<Agents>,
    Owned(thread): Owned<ThreadRow>,
    AppJson(body): AppJson<NewMessage>,
) -> Result<(StatusCode, Json<Posted>), ApiError> {
    let started = agents.post_message(&thread, body.content).await?;
    Ok((StatusCode::ACCEPTED, Json(started.posted())))
}
