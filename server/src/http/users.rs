//! `/api/users`: admins list users, create accounts for them, disable or enable them, and
//! revoke their API tokens.

use axum::{
    Json,
    extract::{Path, Query, State},
    http::StatusCode,
};
use hatchery_shared::api::{
    Page,
    accounts::{NewAccount, Role, User, UserPatch},
};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppJson, AppState, page::PageQuery};
use crate::{
    auth::{Auth, Identity},
    store::{Actor, Store},
};

/// Routes of user management.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update))
        .routes(routes!(revoke_tokens))
}

fn admin_only(identity: &Identity) -> Result<(), ApiError> {
    if identity.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only admins manage users".into()))
    }
}

/// `GET /api/users?limit=&cursor=`: every user, newest first (admins only).
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "users",
    operation_id = "users_list",
    params(PageQuery),
    responses(
        (status = 200, description = "Every user, newest first (admins).", body = Page<User>),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/api/users",
    tag = "users",
    operation_id = "users_create",
    request_body = NewAccount,
    responses(
        (status = 201, description = "The new account (admins).", body = User),
    ),
)]
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
#[utoipa::path(
    patch,
    path = "/api/users/{id}",
    tag = "users",
    operation_id = "users_update",
    params(("id" = String, Path, description = "The user's id.")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The account as changed (admins).", body = User),
    ),
)]
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
#[utoipa::path(
    delete,
    path = "/api/users/{id}/tokens",
    tag = "users",
    operation_id = "users_revoke_tokens",
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "Every API token of the user is revoked (admins)."),
    ),
)]
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
