//! `GET/POST /api/users`: admins list users and create accounts for them.

use axum::{
    Json, Router,
    extract::{Query, State},
    http::StatusCode,
    routing::get,
};
use hatchery_shared::api::{
    Page,
    accounts::{NewAccount, Role, User},
};

use super::{ApiError, AppJson, AppState, page::PageQuery};
use crate::{
    auth::{Auth, Identity},
    store::Store,
};

/// Routes of user management.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/users", get(list).post(create))
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
    State(auth): State<Auth>,
    State(store): State<Store>,
    AppJson(body): AppJson<NewAccount>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    admin_only(&identity)?;
    let role = body.role.unwrap_or(Role::User);
    let user = store
        .create_user(&auth.new_account(body, role).await?)
        .await?;
    tracing::info!(user = %user.id, by = %identity.user_id, "user created");
    Ok((StatusCode::CREATED, Json(user.view())))
}
