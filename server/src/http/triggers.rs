//! Webhook triggers: managing them (`/api/agents/{id}/triggers`, `/api/triggers/{id}`),
//! their deliveries, and the intake that signed requests go to (`POST /api/hooks/{id}`).

use std::net::SocketAddr;

use axum::{
    Json,
    body::Body,
    extract::{ConnectInfo, Path, Query, State},
    http::{HeaderMap, StatusCode, header},
};
use hatchery_shared::api::{
    Page,
    triggers::{Delivery, DeliveryAccepted, NewTrigger, Trigger, TriggerWithSecret},
};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppJson, AppState, owned::Owned, page::PageQuery};
use crate::{
    auth::{Auth, client_address::client_address},
    store::{Actor, AgentRow, Store, TriggerRow},
    webhooks::{self, MAX_BODY_BYTES, Request, Webhooks},
};

/// Routes of triggers.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, remove))
        .routes(routes!(rotate))
        .routes(routes!(deliveries))
        .routes(routes!(receive))
}

/// The longest trigger name.
const MAX_NAME_CHARS: usize = 100;

/// `GET /api/agents/{id}/triggers`: the agent's triggers, newest first.
#[utoipa::path(
    get,
    path = "/api/agents/{id}/triggers",
    tag = "triggers",
    operation_id = "triggers_list",
    params(("id" = String, Path, description = "The agent's id."), PageQuery),
    responses(
        (status = 200, description = "The agent's triggers, newest first.", body = Page<Trigger>),
    ),
)]
async fn list(
    State(store): State<Store>,
    Owned(agent): Owned<AgentRow>,
) -> Result<Json<Page<Trigger>>, ApiError> {
    let rows = store.triggers_of(&agent.id).await?;
    Ok(Json(Page {
        items: rows.iter().map(webhooks::view).collect(),
        next_cursor: None,
    }))
}

/// `POST /api/agents/{id}/triggers`: a new trigger, with its secret shown this once.
#[utoipa::path(
    post,
    path = "/api/agents/{id}/triggers",
    tag = "triggers",
    operation_id = "triggers_create",
    params(("id" = String, Path, description = "The agent's id.")),
    request_body = NewTrigger,
    responses(
        (status = 201, description = "The new trigger with its secret, shown this once.", body = TriggerWithSecret),
    ),
)]
async fn create(
    actor: Actor,
    State(webhooks): State<Webhooks>,
    Owned(agent): Owned<AgentRow>,
    AppJson(body): AppJson<NewTrigger>,
) -> Result<(StatusCode, Json<TriggerWithSecret>), ApiError> {
    let name = body.name.as_deref().map_or("Webhook", str::trim);
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::validation(
            "name",
            format!("enter a name of 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let (row, secret) = webhooks
        .create(&actor, &agent.id, name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("there is no agent {}", agent.id)))?;
    Ok((
        StatusCode::CREATED,
        Json(TriggerWithSecret {
            trigger: webhooks::view(&row),
            secret,
        }),
    ))
}

/// `GET /api/triggers/{id}`.
#[utoipa::path(
    get,
    path = "/api/triggers/{id}",
    tag = "triggers",
    operation_id = "triggers_read",
    params(("id" = String, Path, description = "The trigger's id.")),
    responses(
        (status = 200, description = "The trigger.", body = Trigger),
    ),
)]
async fn read(Owned(trigger): Owned<TriggerRow>) -> Json<Trigger> {
    Json(webhooks::view(&trigger))
}

/// `POST /api/triggers/{id}/rotate`: a new secret, shown this once; the old one keeps
/// working for the grace period.
#[utoipa::path(
    post,
    path = "/api/triggers/{id}/rotate",
    tag = "triggers",
    operation_id = "triggers_rotate",
    params(("id" = String, Path, description = "The trigger's id.")),
    responses(
        (status = 200, description = "The new secret, shown this once; the old one keeps working for a grace period.", body = TriggerWithSecret),
    ),
)]
async fn rotate(
    actor: Actor,
    State(webhooks): State<Webhooks>,
    Owned(trigger): Owned<TriggerRow>,
) -> Result<Json<TriggerWithSecret>, ApiError> {
    let (row, secret) = webhooks
        .rotate(&actor, &trigger.id)
        .await?
        .ok_or_else(|| no_trigger(&trigger.id))?;
    Ok(Json(TriggerWithSecret {
        trigger: webhooks::view(&row),
        secret,
    }))
}

/// `DELETE /api/triggers/{id}`: the trigger and its deliveries.
#[utoipa::path(
    delete,
    path = "/api/triggers/{id}",
    tag = "triggers",
    operation_id = "triggers_remove",
    params(("id" = String, Path, description = "The trigger's id.")),
    responses(
        (status = 204, description = "Deleted with its deliveries."),
    ),
)]
async fn remove(
    actor: Actor,
    State(webhooks): State<Webhooks>,
    Owned(trigger): Owned<TriggerRow>,
) -> Result<StatusCode, ApiError> {
    if !webhooks.delete(&actor, &trigger).await? {
        return Err(no_trigger(&trigger.id));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/triggers/{id}/deliveries?limit=&cursor=`: newest first.
#[utoipa::path(
    get,
    path = "/api/triggers/{id}/deliveries",
    tag = "triggers",
    operation_id = "triggers_deliveries",
    params(("id" = String, Path, description = "The trigger's id."), PageQuery),
    responses(
        (status = 200, description = "The trigger's deliveries, newest first.", body = Page<Delivery>),
    ),
)]
async fn deliveries(
    State(webhooks): State<Webhooks>,
    Owned(trigger): Owned<TriggerRow>,
    Query(page): Query<PageQuery>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    let rows = webhooks
        .deliveries(&trigger.id, page.cursor.as_ref(), page.fetch())
        .await?;
    Ok(Json(page.page_of(rows, |item| item.id.clone())))
}

/// `POST /api/hooks/{id}`: a signed request that starts the agent's run (202). At most
/// 128 KiB of body is read: a larger `Content-Length` gets 413 before any of it is read,
/// and so does a longer body without one. No credentials but the signature.
#[utoipa::path(
    post,
    path = "/api/hooks/{id}",
    tag = "triggers",
    operation_id = "triggers_receive",
    params(("id" = String, Path, description = "The trigger's id."), ("X-Hatchery-Timestamp" = String, Header, description = "Unix seconds when the request was signed."), ("X-Hatchery-Signature" = String, Header, description = "`sha256=` and the hex HMAC-SHA256 of `{timestamp}.{body}` under the trigger's secret.")),
    request_body(content = Object, description = "Any JSON; the agent gets it with its task (at most 128 KiB).", content_type = "application/json"),
    security(()),
    responses(
        (status = 202, description = "Accepted: the agent's run is started.", body = DeliveryAccepted),
    ),
)]
async fn receive(
    State(webhooks): State<Webhooks>,
    State(auth): State<Auth>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
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
    let request = Request {
        headers: &headers,
        body: &body,
        client: client_address(peer.ip(), &headers, &auth.config().trusted_proxies),
    };
    match webhooks.receive(&id, request).await {
        Ok(accepted) => Ok((StatusCode::ACCEPTED, Json(accepted))),
        Err(refusal) => {
            let logged = refusal.is_logged();
            let error = ApiError::from(refusal);
            if logged {
                webhooks
                    .log_refusal(&id, error.status().as_u16(), &error.to_string())
                    .await?;
            }
            Err(error)
        }
    }
}

fn no_trigger(id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no trigger {id}"))
}
