//! Who is making a request: the [`Identity`] extractor and the [`Authenticator`] behind it.
//!
//! Sign-in does not exist in this version: the server runs with [`BuiltInAdmin`], which
//! treats every request as the built-in admin. Handlers only ever see [`Identity`], so
//! accounts replace the authenticator without touching them.

use std::sync::Arc;

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::{application::AppState, http::ApiError};

/// The user a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's id (as it appears in topics such as `user:{id}`).
    pub user_id: String,
    /// What the user may do.
    pub role: Role,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sees and changes their own things.
    User,
    /// Sees and changes everything.
    Admin,
}

impl Identity {
    /// Whether this identity is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// Why a request has no identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// Decides who a request comes from, from its headers (cookie, `Authorization`) or query.
pub trait Authenticator: Send + Sync + 'static {
    /// The identity of the request, or why it has none.
    fn authenticate(&self, parts: &Parts) -> Result<Identity, AuthError>;
}

/// Every request acts as the built-in admin `dev`: the mode of a server without accounts.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltInAdmin;

impl BuiltInAdmin {
    /// The user id every request gets.
    pub const USER_ID: &str = "dev";
}

impl Authenticator for BuiltInAdmin {
    fn authenticate(&self, _: &Parts) -> Result<Identity, AuthError> {
        Ok(Identity {
            user_id: Self::USER_ID.into(),
            role: Role::Admin,
        })
    }
}

/// The authenticator a server uses, shared by every request.
pub type SharedAuthenticator = Arc<dyn Authenticator>;

impl FromRequestParts<AppState> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .auth
            .authenticate(parts)
            .map_err(|err| ApiError::Unauthorized(err.0))
    }
}
