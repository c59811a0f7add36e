//! `/api/rooms`: list, create, read, change and delete rooms and their members; read a
//! room's messages, speak in it, and pause, resume or stop its conversation. What happens is
//! published on `room:{id}`.

use axum::{
    Json, Router,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
    routing::{delete, get, post},
};
use hatchery_shared::api::{
    Page,
    rooms::{NewMember, NewRoom, NewRoomMessage, Room, RoomMessage, RoomPatch},
};
use serde::Deserialize;

use super::{ApiError, AppJson, AppState, owned::Owned, page::PageQuery, scope::Scope};
use crate::{
    auth::Identity,
    rooms::Rooms,
    store::{Actor, RoomRow, Store},
};

/// Routes of rooms.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/rooms", get(list).post(create))
        .route("/api/rooms/{id}", get(read).patch(update).delete(remove))
        .route("/api/rooms/{id}/members", post(put_member))
        .route("/api/rooms/{id}/members/{agent_id}", delete(remove_member))
        .route("/api/rooms/{id}/messages", get(messages).post(speak))
        .route("/api/rooms/{id}/pause", post(pause))
        .route("/api/rooms/{id}/resume", post(resume))
        .route("/api/rooms/{id}/stop", post(stop))
}

/// `?scope=&limit=&cursor=` of the list.
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    scope: Scope,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/rooms?scope=mine|all&limit=&cursor=`: rooms, newest first.
async fn list(
    identity: Identity,
    State(store): State<Store>,
    State(rooms): State<Rooms>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Room>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let owner = query.scope.owner(&identity, "rooms")?;
    let rows = store
        .rooms(owner.as_deref(), page.cursor.as_deref(), page.fetch())
        .await?;
    Ok(Json(page.page(
        rows,
        |row| row.id.clone(),
        |row| rooms.view(row),
    )))
}

/// `POST /api/rooms`: a new room owned by the caller, with its first members.
async fn create(
    actor: Actor,
    identity: Identity,
    State(rooms): State<Rooms>,
    AppJson(body): AppJson<NewRoom>,
) -> Result<(StatusCode, Json<Room>), ApiError> {
    let room = rooms.create(&actor, &identity.user_id, body).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

/// `GET /api/rooms/{id}`: the room with its members and what they are doing.
async fn read(State(rooms): State<Rooms>, Owned(row): Owned<RoomRow>) -> Json<Room> {
    Json(rooms.view(&row))
}

/// `PATCH /api/rooms/{id}`: changes the fields given.
async fn update(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
    AppJson(patch): AppJson<RoomPatch>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.update(&actor, &row, patch).await?))
}

/// `DELETE /api/rooms/{id}`: its turns in flight stop, then it goes with its messages.
async fn remove(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
) -> Result<StatusCode, ApiError> {
    rooms.delete(&actor, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/rooms/{id}/members`: adds one of the owner's agents, or changes its role or
/// place.
async fn put_member(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
    AppJson(member): AppJson<NewMember>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.put_member(&actor, &row, member).await?))
}

/// `DELETE /api/rooms/{id}/members/{agent_id}`: takes an agent out; what it said stays.
async fn remove_member(
    actor: Actor,
    identity: Identity,
    State(store): State<Store>,
    State(rooms): State<Rooms>,
    Path((id, agent_id)): Path<(String, String)>,
) -> Result<Json<Room>, ApiError> {
    let row = match store.room(&id).await? {
        Some(row) if identity.may_manage(&row.owner_id) => row,
        _ => return Err(ApiError::NotFound(format!("there is no room {id}"))),
    };
    Ok(Json(rooms.remove_member(&actor, &row, &agent_id).await?))
}

/// `GET /api/rooms/{id}/messages?limit=&cursor=`: the room's messages, newest first.
async fn messages(
    State(store): State<Store>,
    Owned(row): Owned<RoomRow>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<Page<RoomMessage>>, ApiError> {
    let Query(page) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let rows = store
        .room_messages(&row.id, page.cursor.as_ref(), page.fetch())
        .await?;
    Ok(Json(page.page_of(rows, |item| item.id.clone())))
}

/// `POST /api/rooms/{id}/messages`: the caller speaks (201 with the message as stored);
/// replies in flight are cut off and a new round starts.
async fn speak(
    identity: Identity,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
    AppJson(body): AppJson<NewRoomMessage>,
) -> Result<(StatusCode, Json<RoomMessage>), ApiError> {
    let message = rooms.speak(&row, &identity.user_id, body.content).await?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// `POST /api/rooms/{id}/pause`: the turns in flight finish; no new one starts. 409 unless
/// the room is in motion.
async fn pause(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.pause(&actor, &row).await?))
}

/// `POST /api/rooms/{id}/resume`: goes on where the room paused. 409 unless it is paused.
async fn resume(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.resume(&actor, &row).await?))
}

/// `POST /api/rooms/{id}/stop`: replies in flight are cut off; no new round starts.
async fn stop(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.stop(&actor, &row).await?))
}
