//! Threads of an agent: list, create, rename, delete, and their messages. Access follows
//! the agent: its owner and admins; anyone else gets "not found".

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{get, patch},
};
use hatchery_shared::api::{
    Page,
    runs::{NewMessage, Posted, RunTrigger},
    threads::{NewThread, Thread, ThreadKind, ThreadMessage, ThreadPatch},
};

use super::{ApiError, AppJson, page::PageQuery};
use crate::{
    application::AppState,
    auth::Identity,
    runner::Runner,
    store::{Store, ThreadRow},
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

/// The longest thread title, in characters.
const MAX_TITLE_CHARS: usize = 200;

fn title(text: Option<String>) -> Result<String, ApiError> {
    let text = text.unwrap_or_else(|| "New chat".into()).trim().to_owned();
    if text.is_empty() || text.chars().count() > MAX_TITLE_CHARS {
        return Err(ApiError::validation(
            "title",
            format!("enter a title of 1 to {MAX_TITLE_CHARS} characters"),
        ));
    }
    Ok(text)
}

/// The agent `id`'s owner, if the caller may see that agent.
async fn agent_owner(store: &Store, identity: &Identity, id: &str) -> Result<(), ApiError> {
    match store.agent(id).await? {
        Some(agent) if identity.may_manage(&agent.owner_id) => Ok(()),
        _ => Err(ApiError::NotFound(format!("there is no agent {id}"))),
    }
}

/// The thread `id`, if the caller may see its agent.
async fn visible(store: &Store, identity: &Identity, id: &str) -> Result<ThreadRow, ApiError> {
    match store.thread(id).await? {
        Some(thread) if identity.may_manage(&thread.owner_id) => Ok(thread),
        _ => Err(ApiError::NotFound(format!("there is no thread {id}"))),
    }
}

/// `GET /api/agents/{id}/threads?limit=&cursor=`: newest first.
async fn list(
    identity: Identity,
    State(store): State<Store>,
    Path(agent_id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Thread>>, ApiError> {
    agent_owner(&store, &identity, &agent_id).await?;
    let rows = store
        .threads(&agent_id, page.cursor.as_deref(), page.fetch())
        .await?;
    Ok(Json(page.page(rows, |row| row.id.clone(), ThreadRow::view)))
}

/// `POST /api/agents/{id}/threads {title?}`: a new chat thread.
async fn create(
    identity: Identity,
    State(store): State<Store>,
    Path(agent_id): Path<String>,
    AppJson(body): AppJson<NewThread>,
) -> Result<(StatusCode, Json<Thread>), ApiError> {
    agent_owner(&store, &identity, &agent_id).await?;
    let title = title(body.title)?;
    let thread = store
        .create_thread(&agent_id, &title, ThreadKind::Chat)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no agent {agent_id}")))?;
    Ok((StatusCode::CREATED, Json(thread.view())))
}

/// `PATCH /api/threads/{id} {title}`.
async fn rename(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
    AppJson(body): AppJson<ThreadPatch>,
) -> Result<Json<Thread>, ApiError> {
    visible(&store, &identity, &id).await?;
    let title = title(Some(body.title))?;
    store.rename_thread(&id, &title).await?;
    let thread = visible(&store, &identity, &id).await?;
    Ok(Json(thread.view()))
}

/// `DELETE /api/threads/{id}`: the thread and its messages (a reply in progress stops).
async fn remove(
    identity: Identity,
    State(store): State<Store>,
    State(runner): State<Runner>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    visible(&store, &identity, &id).await?;
    runner.cancel_runs_of(None, Some(&id));
    if store.delete_thread(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("there is no thread {id}")))
    }
}

/// `GET /api/threads/{id}/messages?limit=&cursor=`: oldest first.
async fn messages(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<ThreadMessage>>, ApiError> {
    visible(&store, &identity, &id).await?;
    let rows = store
        .messages(&id, page.cursor.as_deref(), page.fetch())
        .await?;
    Ok(Json(page.page(
        rows,
        |message| message.id.clone(),
        Clone::clone,
    )))
}

/// The longest message accepted, in characters.
const MAX_MESSAGE_CHARS: usize = 100_000;

/// `POST /api/threads/{id}/messages {content}`: stores the message and starts a run that
/// replies (202 with both); 409 while the thread is already replying.
async fn post_message(
    identity: Identity,
    State(store): State<Store>,
    State(runner): State<Runner>,
    Path(id): Path<String>,
    AppJson(body): AppJson<NewMessage>,
) -> Result<(StatusCode, Json<Posted>), ApiError> {
    let thread = visible(&store, &identity, &id).await?;
    let length = body.content.trim().chars().count();
    if length == 0 || length > MAX_MESSAGE_CHARS {
        return Err(ApiError::validation(
            "content",
            format!("write 1 to {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    let (message, run) = runner
        .post_message(&thread, body.content, RunTrigger::Chat)
        .await
        .map_err(super::runs::start_error)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Posted {
            message,
            run: run.view(),
        }),
    ))
}
