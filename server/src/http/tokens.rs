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
    auth::{Auth, AuthError, Credential, Identity, TOKEN_PREFIX, secret},
    store::{self, Store},
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
    State(store): State<Store>,
    AppJson(body): AppJson<NewApiToken>,
) -> Result<(StatusCode, Json<CreatedApiToken>), ApiError> {
    if matches!(identity.credential, Credential::Token(_)) {
        return Err(AuthError::SessionOnly("API tokens can be created").into());
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation(
            "name",
            "enter a name of 1 to 100 characters",
        ));
    }
    let secret = secret::generate(TOKEN_PREFIX);
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let row = store
        .create_api_token(&store::NewApiToken {
            user_id: &identity.user_id,
            name,
            hash: &secret::hash(&secret),
            prefix: &prefix,
        })
        .await?;
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
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if auth.revoke_token(&identity.user_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("there is no such token".into()))
    }
}
