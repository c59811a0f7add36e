//! Webhook triggers: managing them (`/api/agents/{id}/triggers`, `/api/triggers/{id}`),
//! their deliveries, and the intake that signed requests go to (`POST /api/hooks/{id}`).

use axum::{
    Json, Router,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    routing::{get, post},
};
use hatchery_shared::api::{
    Page,
    triggers::{
        Delivery, DeliveryAccepted, NewTrigger, SIGNATURE_HEADER, TIMESTAMP_HEADER, Trigger,
        TriggerWithSecret,
    },
};

use super::{ApiError, AppJson, page::PageQuery, runs::start_error};
use crate::{
    application::AppState,
    auth::Identity,
    store::{Store, TriggerRow},
    webhooks::{self, MAX_BODY_BYTES, Refusal, Request, Webhooks},
};

/// Routes of triggers.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/agents/{id}/triggers", get(list).post(create))
        .route("/api/triggers/{id}", get(read).delete(remove))
        .route("/api/triggers/{id}/rotate", post(rotate))
        .route("/api/triggers/{id}/deliveries", get(deliveries))
        .route("/api/hooks/{id}", post(receive))
}

/// The longest trigger name.
const MAX_NAME_CHARS: usize = 100;

/// `GET /api/agents/{id}/triggers`: the agent's triggers, newest first.
async fn list(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<Page<Trigger>>, ApiError> {
    agent_of(&store, &identity, &id).await?;
    let rows = store.triggers_of(&id).await?;
    Ok(Json(Page {
        items: rows.iter().map(webhooks::view).collect(),
        next_cursor: None,
    }))
}

/// `POST /api/agents/{id}/triggers`: a new trigger, with its secret shown this once.
async fn create(
    identity: Identity,
    State(store): State<Store>,
    State(webhooks): State<Webhooks>,
    Path(id): Path<String>,
    AppJson(body): AppJson<NewTrigger>,
) -> Result<(StatusCode, Json<TriggerWithSecret>), ApiError> {
    agent_of(&store, &identity, &id).await?;
    let name = body.name.as_deref().map_or("Webhook", str::trim);
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::validation(
            "name",
            format!("enter a name of 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let (row, secret) = webhooks
        .create(&id, name)
        .await?
        .ok_or_else(|| no_agent(&id))?;
    Ok((
        StatusCode::CREATED,
        Json(TriggerWithSecret {
            trigger: webhooks::view(&row),
            secret,
        }),
    ))
}

/// `GET /api/triggers/{id}`.
async fn read(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<Trigger>, ApiError> {
    Ok(Json(webhooks::view(
        &visible(&store, &identity, &id).await?,
    )))
}

/// `POST /api/triggers/{id}/rotate`: a new secret, shown this once; the old one keeps
/// working for the grace period.
async fn rotate(
    identity: Identity,
    State(store): State<Store>,
    State(webhooks): State<Webhooks>,
    Path(id): Path<String>,
) -> Result<Json<TriggerWithSecret>, ApiError> {
    visible(&store, &identity, &id).await?;
    let (row, secret) = webhooks.rotate(&id).await?.ok_or_else(|| no_trigger(&id))?;
    Ok(Json(TriggerWithSecret {
        trigger: webhooks::view(&row),
        secret,
    }))
}

/// `DELETE /api/triggers/{id}`: the trigger and its deliveries.
async fn remove(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    visible(&store, &identity, &id).await?;
    if !store.delete_trigger(&id).await? {
        return Err(no_trigger(&id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/triggers/{id}/deliveries?limit=&cursor=`: newest first.
async fn deliveries(
    identity: Identity,
    State(store): State<Store>,
    State(webhooks): State<Webhooks>,
    Path(id): Path<String>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    visible(&store, &identity, &id).await?;
    let rows = webhooks
        .deliveries(&id, page.cursor.as_ref(), page.fetch())
        .await?;
    Ok(Json(page.page(
        rows,
        |delivery| delivery.id.clone(),
        Clone::clone,
    )))
}

/// `POST /api/hooks/{id}`: a signed request that starts the agent's run (202). At most
/// 128 KiB of body is read: a larger `Content-Length` gets 413 before any of it is read,
/// and so does a longer body without one. No credentials but the signature.
async fn receive(
    State(webhooks): State<Webhooks>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<DeliveryAccepted>), ApiError> {
    let too_large = || ApiError::TooLarge(format!("send at most {MAX_BODY_BYTES} bytes"));
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let request = Request {
        timestamp: header(TIMESTAMP_HEADER),
        signature: header(SIGNATURE_HEADER),
        body: &body,
    };
    match webhooks.receive(&id, request).await {
        Ok(accepted) => Ok((StatusCode::ACCEPTED, Json(accepted))),
        Err(refusal) => Err(refused(refusal)),
    }
}

fn refused(refusal: Refusal) -> ApiError {
    let message = refusal.to_string();
    match refusal {
        Refusal::NotFound => ApiError::NotFound(message),
        Refusal::TooMany(_, retry_after) => ApiError::TooManyRequests {
            message,
            retry_after,
        },
        Refusal::Unauthorized(_) => ApiError::Unauthorized(message),
        Refusal::NotText => ApiError::BadRequest(message),
        Refusal::Replay => ApiError::Conflict(message),
        Refusal::Start(err) => start_error(err),
        Refusal::Store(err) => err.into(),
    }
}

/// Checks that the caller may manage the agent `id`.
async fn agent_of(store: &Store, identity: &Identity, id: &str) -> Result<(), ApiError> {
    match store.agent(id).await? {
        Some(agent) if identity.may_manage(&agent.owner_id) => Ok(()),
        _ => Err(no_agent(id)),
    }
}

/// The trigger `id` if the caller may manage its agent.
async fn visible(store: &Store, identity: &Identity, id: &str) -> Result<TriggerRow, ApiError> {
    match store.trigger(id).await? {
        Some(row) if identity.may_manage(&row.owner_id) => Ok(row),
        _ => Err(no_trigger(id)),
    }
}

fn no_agent(id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no agent {id}"))
}

fn no_trigger(id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no trigger {id}"))
}
