//! `/api/tokens`: a user's personal API tokens — create (the secret is shown once), list,
//! revoke.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use hatchery_shared::api::{
    Page,
    accounts::{ApiToken, CreatedApiToken, NewApiToken},
};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppJson, AppState, page::PageQuery};
use crate::{
    auth::{Auth, Identity},
    store::{Actor, Store},
};

/// Routes of API tokens.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke))
}

/// `GET /api/tokens?limit=&cursor=`: the caller's tokens, newest first.
#[utoipa::path(
    get,
    path = "/api/tokens",
    tag = "tokens",
    operation_id = "tokens_list",
    params(PageQuery),
    responses(
        (status = 200, description = "The caller's API tokens, newest first.", body = Page<ApiToken>),
    ),
)]
async fn list(
    identity: Identity,
    State(store): State<Store>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<ApiToken>>, ApiError> {
    let rows = store
        .api_tokens(&identity.user_id, query.cursor.as_deref(), query.fetch())
        .await?;
    Ok(Json(query.page(
        rows,
        |token| token.id.clone(),
        |token| token.view(),
    )))
}

/// `POST /api/tokens {name}`: a new token; the answer holds its secret, shown this once.
/// Not with a token: a leaked token cannot make itself others that outlive its revocation.
#[utoipa::path(
    post,
    path = "/api/tokens",
    tag = "tokens",
    operation_id = "tokens_create",
    request_body = NewApiToken,
    responses(
        (status = 201, description = "The new token with its secret, shown this once.", body = CreatedApiToken),
    ),
)]
async fn create(
    identity: Identity,
    actor: Actor,
    State(auth): State<Auth>,
    AppJson(body): AppJson<NewApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    let (row, secret) = auth.create_token(&actor, &identity, &body.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiToken {
            token: row.view(),
            secret,
        }),
    ))
}

/// `DELETE /api/tokens/{id}`: revokes one of the caller's tokens and closes its sockets.
#[utoipa::path(
    delete,
    path = "/api/tokens/{id}",
    tag = "tokens",
    operation_id = "tokens_revoke",
    params(("id" = String, Path, description = "The token's id.")),
    responses(
        (status = 204, description = "Revoked; its sockets close."),
    ),
)]
async fn revoke(
    identity: Identity,
    actor: Actor,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if auth.revoke_token(&actor, &identity.user_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("there is no such token".into()))
    }
}
