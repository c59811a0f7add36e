//! `/api/users`: admins list users, create accounts for them, disable or enable them, and
//! revoke their API tokens.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::{delete, get, patch},
};
use hatchery_shared::api::{
    Page,
    accounts::{NewAccount, Role, User, UserPatch},
};

use super::{ApiError, AppJson, AppState, page::PageQuery};
use crate::{
    auth::{Auth, Identity},
    store::{Actor, Store},
};

/// Routes of user management.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users", get(list).post(create))
        .route("/api/users/{id}", patch(update))
        .route("/api/users/{id}/tokens", delete(revoke_tokens))
}

fn admin_only(identity: &Identity) -> Result<(), ApiError> {
    if identity.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only admins manage users".into()))
    }
}

/// `GET /api/users?limit=&cursor=`: every user, newest first (admins only).
async fn list(
    identity: Identity,
    State(store): State<Store>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    admin_only(&identity)?;
    let rows = store.users(query.cursor.as_deref(), query.fetch()).await?;
    Ok(Json(query.page(
        rows,
        |user| user.id.clone(),
        |user| user.view(),
    )))
}

/// `POST /api/users {email, display_name, password, role}`: a new account (admins only).
async fn create(
    identity: Identity,
    actor: Actor,
    State(auth): State<Auth>,
    AppJson(body): AppJson<NewAccount>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    admin_only(&identity)?;
    let role = body.role.unwrap_or(Role::User);
    let user = auth.create_user(&actor, body, role).await?;
    tracing::info!(user = %user.id, by = %identity.user_id, "user created");
    Ok((StatusCode::CREATED, Json(user.view())))
}

/// `PATCH /api/users/{id} {disabled}`: disables an account (its sessions end, its tokens
/// are revoked, their sockets close) or enables it again (admins only; not their own).
async fn update(
    identity: Identity,
    actor: Actor,
    State(auth): State<Auth>,
    Path(id): Path<String>,
    AppJson(body): AppJson<UserPatch>,
) -> Result<Json<User>, ApiError> {
    admin_only(&identity)?;
    let user = auth
        .set_disabled(&actor, &identity, &id, body.disabled)
        .await?;
    tracing::info!(user = %id, disabled = body.disabled, by = %identity.user_id, "account changed");
    Ok(Json(user.view()))
}

/// `DELETE /api/users/{id}/tokens`: revokes every API token of a user and closes their
/// sockets (admins only).
async fn revoke_tokens(
    identity: Identity,
    actor: Actor,
    State(auth): State<Auth>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin_only(&identity)?;
    let revoked = auth.revoke_tokens_of(&actor, &id).await?;
    tracing::info!(user = %id, revoked, by = %identity.user_id, "tokens revoked");
    Ok(StatusCode::NO_CONTENT)
}
