//! `/api/rooms`: list, create, read, change and delete rooms and their members; read a
//! room's messages, speak in it, and pause, resume or stop its conversation. What happens is
//! published on `room:{id}`.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::StatusCode,
};
use hatchery_shared::api::{
    Page,
    rooms::{NewMember, NewRoom, NewRoomMessage, Room, RoomMessage, RoomPatch},
};
use serde::Deserialize;

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppJson, AppState, owned::Owned, page::PageQuery, scope::Scope};
use crate::{
    auth::Identity,
    rooms::Rooms,
    store::{Actor, RoomRow, Store},
};

/// Routes of rooms.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, update, remove))
        .routes(routes!(put_member))
        .routes(routes!(remove_member))
        .routes(routes!(messages, speak))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(stop))
}

/// `?scope=&limit=&cursor=` of the list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[serde(default)]
    #[param(inline)]
    scope: Scope,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// `GET /api/rooms?scope=mine|all&limit=&cursor=`: rooms, newest first.
#[utoipa::path(
    get,
    path = "/api/rooms",
    tag = "rooms",
    operation_id = "rooms_list",
    params(ListQuery),
    responses(
        (status = 200, description = "Rooms, newest first.", body = Page<Room>),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/rooms",
    tag = "rooms",
    operation_id = "rooms_create",
    request_body = NewRoom,
    responses(
        (status = 201, description = "The new room.", body = Room),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/rooms/{id}",
    tag = "rooms",
    operation_id = "rooms_read",
    params(("id" = String, Path, description = "The room's id.")),
    responses(
        (status = 200, description = "The room with its members and what they are doing.", body = Room),
    ),
)]
async fn read(State(rooms): State<Rooms>, Owned(row): Owned<RoomRow>) -> Json<Room> {
    Json(rooms.view(&row))
}

/// `PATCH /api/rooms/{id}`: changes the fields given.
#[utoipa::path(
    patch,
    path = "/api/rooms/{id}",
    tag = "rooms",
    operation_id = "rooms_update",
    params(("id" = String, Path, description = "The room's id.")),
    request_body = RoomPatch,
    responses(
        (status = 200, description = "The room as changed.", body = Room),
    ),
)]
async fn update(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
    AppJson(patch): AppJson<RoomPatch>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.update(&actor, &row, patch).await?))
}

/// `DELETE /api/rooms/{id}`: its turns in flight stop, then it goes with its messages.
#[utoipa::path(
    delete,
    path = "/api/rooms/{id}",
    tag = "rooms",
    operation_id = "rooms_remove",
    params(("id" = String, Path, description = "The room's id.")),
    responses(
        (status = 204, description = "Deleted with its messages; its turns in flight stop."),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/rooms/{id}/members",
    tag = "rooms",
    operation_id = "rooms_put_member",
    params(("id" = String, Path, description = "The room's id.")),
    request_body = NewMember,
    responses(
        (status = 200, description = "The room with the member added or changed.", body = Room),
    ),
)]
async fn put_member(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
    AppJson(member): AppJson<NewMember>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.put_member(&actor, &row, member).await?))
}

/// `DELETE /api/rooms/{id}/members/{agent_id}`: takes an agent out; what it said stays.
#[utoipa::path(
    delete,
    path = "/api/rooms/{id}/members/{agent_id}",
    tag = "rooms",
    operation_id = "rooms_remove_member",
    params(("id" = String, Path, description = "The room's id."), ("agent_id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The room without the member.", body = Room),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/api/rooms/{id}/messages",
    tag = "rooms",
    operation_id = "rooms_messages",
    params(("id" = String, Path, description = "The room's id."), PageQuery),
    responses(
        (status = 200, description = "The room's messages, newest first.", body = Page<RoomMessage>),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/rooms/{id}/messages",
    tag = "rooms",
    operation_id = "rooms_speak",
    params(("id" = String, Path, description = "The room's id.")),
    request_body = NewRoomMessage,
    responses(
        (status = 201, description = "The caller's message as stored.", body = RoomMessage),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/rooms/{id}/pause",
    tag = "rooms",
    operation_id = "rooms_pause",
    params(("id" = String, Path, description = "The room's id.")),
    responses(
        (status = 200, description = "The room, pausing.", body = Room),
    ),
)]
async fn pause(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.pause(&actor, &row).await?))
}

/// `POST /api/rooms/{id}/resume`: goes on where the room paused. 409 unless it is paused.
#[utoipa::path(
    post,
    path = "/api/rooms/{id}/resume",
    tag = "rooms",
    operation_id = "rooms_resume",
    params(("id" = String, Path, description = "The room's id.")),
    responses(
        (status = 200, description = "The room, running again.", body = Room),
    ),
)]
async fn resume(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.resume(&actor, &row).await?))
}

/// `POST /api/rooms/{id}/stop`: replies in flight are cut off; no new round starts.
#[utoipa::path(
    post,
    path = "/api/rooms/{id}/stop",
    tag = "rooms",
    operation_id = "rooms_stop",
    params(("id" = String, Path, description = "The room's id.")),
    responses(
        (status = 200, description = "The room, stopped.", body = Room),
    ),
)]
async fn stop(
    actor: Actor,
    State(rooms): State<Rooms>,
    Owned(row): Owned<RoomRow>,
) -> Result<Json<Room>, ApiError> {
    Ok(Json(rooms.stop(&actor, &row).await?))
}
