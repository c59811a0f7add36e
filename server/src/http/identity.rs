//! The [`Identity`] extractor: who a request acts as, decided once per request by the
//! `auth` service and kept in the request's extensions.

use axum::{extract::FromRequestParts, http::request::Parts};

use super::{ApiError, AppState};
use crate::auth::Identity;

impl FromRequestParts<AppState> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(identity) = parts.extensions.get::<Self>() {
            return Ok(identity.clone());
        }
        let identity = state.auth.authenticate(parts).await?;
        parts.extensions.insert(identity.clone());
        Ok(identity)
    }
}
