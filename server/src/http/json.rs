//! `AppJson<T>`: a JSON body whose rejections come back in the API's error format.

use axum::{
    extract::{FromRequest, Request, rejection::JsonRejection},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Like `axum::Json`, but a body that is not JSON is a 400 and JSON of the wrong shape a
/// 422, both as [`ApiError`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::JsonDataError(err)) => {
                Err(ApiError::validation("body", err.body_text()))
            }
            Err(err) if err.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Err(ApiError::BadRequest(
                    "send the body as JSON with Content-Type: application/json".into(),
                ))
            }
            Err(err) => Err(ApiError::BadRequest(err.body_text())),
        }
    }
}
