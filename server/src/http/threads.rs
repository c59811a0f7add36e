//! Threads of an agent: list, create, rename, delete, and their messages. Access follows
//! the agent: its owner and admins; anyone else gets "not found".

use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    routing::{get, patch},
};
use hatchery_shared::api::{
    Page,
    runs::{NewMessage, Posted},
    threads::{NewThread, Thread, ThreadMessage, ThreadPatch},
};

use super::{ApiError, AppJson, AppState, owned::Owned, page::PageQuery};
use crate::{
    agents::Agents,
    store::{Actor, AgentRow, Store, ThreadRow},
};

/// Routes of threads and messages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/agents/{id}/threads", get(list).post(create))
        .route("/api/threads/{id}", patch(rename).delete(remove))
        .route(
            "/api/threads/{id}/messages",
            get(messages).post(post_message),
        )
}

/// `GET /api/agents/{id}/threads?limit=&cursor=`: newest first.
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
async fn remove(
    actor: Actor,
    State(agents): State<Agents>,
    Owned(thread): Owned<ThreadRow>,
) -> Result<StatusCode, ApiError> {
    agents.delete_thread(&actor, &thread).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/threads/{id}/messages?limit=&cursor=`: oldest first.
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
async fn post_message(
    State(agents): State<Agents>,
    Owned(thread): Owned<ThreadRow>,
    AppJson(body): AppJson<NewMessage>,
) -> Result<(StatusCode, Json<Posted>), ApiError> {
    let started = agents.post_message(&thread, body.content).await?;
    Ok((StatusCode::ACCEPTED, Json(started.posted())))
}
