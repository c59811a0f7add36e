//! `/api/tokens`: a user's personal API tokens — create (the secret is shown once), list,
//! revoke.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{delete, get},
};
use hatchery_shared::api::{
    Page,
    accounts::{ApiToken, CreatedApiToken, NewApiToken},
};

use super::{ApiError, AppJson, AppState, page::PageQuery};
use crate::{
    auth::{Auth, Identity},
    store::{Actor, Store},
};

/// Routes of API tokens.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(list).post(create))
        .route("/api/tokens/{id}", delete(revoke))
}

/// `GET /api/tokens?limit=&cursor=`: the caller's tokens, newest first.
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
