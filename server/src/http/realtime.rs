//! The real-time hub's HTTP surface: the `/api/ws` upgrade, and a topic's events over REST
//! (publish and history).

use axum::{
    Json,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use hatchery_shared::{
    api::audit::AuditAction,
    realtime::{
        CloseCode, Message, MessageType, Published, StreamPosition, SubscribeErrorCode, Topic,
        TopicEvents,
    },
};
use serde::Deserialize;

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppJson, AppState, ws_upgrade::WsUpgrade};
use crate::{
    auth::{Identity, origin},
    realtime::Realtime,
    store::{Actor, Audit, Store},
};

/// Routes of the hub.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes({
            // CONNECT is how HTTP/2 opens a WebSocket; OpenAPI has no such method.
            let (schemas, paths, methods) = routes!(upgrade);
            (schemas, paths, methods.connect(upgrade))
        })
        .routes(routes!(history, publish))
}

/// `GET /api/ws` (`CONNECT` over HTTP/2): authenticates and checks the origin before upgrading; a refused client
/// still gets the upgrade, then an immediate close (4401 or 4403) it can read.
#[utoipa::path(
    get,
    path = "/api/ws",
    tag = "realtime",
    operation_id = "realtime_upgrade",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol; frames as in /api/schema/realtime.json. A refused client gets the upgrade and then a close with 4401 (not signed in) or 4403 (another origin)."),
    ),
)]
async fn upgrade(
    ws: WsUpgrade,
    State(realtime): State<Realtime>,
    headers: HeaderMap,
    identity: Result<Identity, ApiError>,
) -> Response {
    let refusal = match (
        &identity,
        origin::same_origin(&headers, &realtime.config().allowed_origins),
    ) {
        (Err(_), _) => Some(CloseCode::NotAuthenticated),
        (Ok(_), false) => Some(CloseCode::Forbidden),
        (Ok(_), true) => None,
    };
    match (refusal, identity) {
        (None, Ok(identity)) => {
            ws.on_upgrade(move |socket| realtime.serve(socket, identity.peer()))
        }
        (refusal, _) => {
            let code = refusal.unwrap_or(CloseCode::NotAuthenticated);
            ws.on_upgrade(move |socket| realtime.refuse(socket, code))
        }
    }
}

fn topic_from_path(name: &str) -> Result<Topic, ApiError> {
    Topic::parse(name).map_err(|err| ApiError::validation("topic", err.0))
}

async fn authorize(
    realtime: &Realtime,
    identity: &Identity,
    topic: &Topic,
) -> Result<(), ApiError> {
    realtime
        .may_follow(&identity.peer(), topic)
        .await
        .map_err(|(code, message)| match code {
            SubscribeErrorCode::NotFound => ApiError::NotFound(message),
            _ => ApiError::Forbidden(message),
        })
}

/// `POST /api/topics/{topic}/events {type, data}`: publish a notice (admins only).
#[utoipa::path(
    post,
    path = "/api/topics/{topic}/events",
    tag = "realtime",
    operation_id = "realtime_publish",
    params(("topic" = String, Path, description = "A topic such as `user:7` or `ops`.")),
    request_body = Message,
    responses(
        (status = 202, description = "Published to the topic's subscribers.", body = Published),
    ),
)]
async fn publish(
    identity: Identity,
    actor: Actor,
    State(store): State<Store>,
    State(realtime): State<Realtime>,
    Path(topic): Path<String>,
    AppJson(message): AppJson<Message>,
) -> Result<(StatusCode, Json<Published>), ApiError> {
    if !identity.is_admin() {
        return Err(ApiError::Forbidden("only admins may publish events".into()));
    }
    let topic = topic_from_path(&topic)?;
    let kind = message.message_type();
    // Domain events other than notices describe committed changes: only the server sends them.
    if kind != MessageType::Notice {
        return Err(ApiError::validation(
            "type",
            format!("{} is not an event that can be published", kind.as_str()),
        ));
    }
    let audit = Audit::new(&actor, AuditAction::EventPublished, "a notice");
    store
        .record_audit(&audit, "topic", &topic.to_string(), None)
        .await?;
    let published = realtime.publish(&topic, message).await;
    Ok((StatusCode::ACCEPTED, Json(published)))
}

/// Query of the history endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    epoch: String,
    after: u64,
    limit: Option<usize>,
}

/// The most events one history page returns.
const MAX_PAGE: usize = 200;

/// `GET /api/topics/{topic}/events?epoch=&after=&limit=`: the events after a position,
/// authorized like a subscription.
#[utoipa::path(
    get,
    path = "/api/topics/{topic}/events",
    tag = "realtime",
    operation_id = "realtime_history",
    params(("topic" = String, Path, description = "A topic such as `user:7` or `ops`."), HistoryQuery),
    responses(
        (status = 200, description = "The events after the position, oldest first, or whether they are lost.", body = TopicEvents),
    ),
)]
async fn history(
    identity: Identity,
    State(realtime): State<Realtime>,
    Path(topic): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<TopicEvents>, ApiError> {
    let topic = topic_from_path(&topic)?;
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    authorize(&realtime, &identity, &topic).await?;
    let since = StreamPosition {
        epoch: query.epoch,
        seq: query.after,
    };
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    Ok(Json(realtime.history(&topic, &since, limit).await))
}
