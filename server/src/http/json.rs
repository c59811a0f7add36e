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
            Err(JsonRejection::JsonDataError(err)) => Err(field_error(&err.body_text())),
            Err(err) if err.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Err(ApiError::BadRequest(
                    "send the body as JSON with Content-Type: application/json".into(),
                ))
            }
            Err(err) => Err(ApiError::BadRequest(err.body_text())),
        }
    }
}

/// A 422 naming the field that failed to deserialize. axum's message reads "Failed to
/// deserialize the JSON body into the target type: tools[0]: unknown variant …"; the path
/// before the detail names the field (`tools`), and the body as a whole when there is none.
fn field_error(text: &str) -> ApiError {
    let detail = text
        .split_once("target type: ")
        .map_or(text, |(_, detail)| detail);
    match detail.split_once(": ") {
        Some((path, message)) if !path.contains(' ') => {
            let field = path.split(['[', '.']).next().unwrap_or(path);
            ApiError::validation(field, message)
        }
        _ => ApiError::validation("body", detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_field_is_named() {
        let err = field_error(
            "Failed to deserialize the JSON body into the target type: tools[0]: unknown \
             variant `shell`, expected one of `current_time`",
        );
        let ApiError::Validation(fields) = err else {
            panic!("a validation error")
        };
        assert!(
            fields["tools"].starts_with("unknown variant `shell`"),
            "{fields:?}"
        );
        let ApiError::Validation(fields) = field_error(
            "Failed to deserialize the JSON body into the target type: missing field `name` \
             at line 1 column 2",
        ) else {
            panic!("a validation error")
        };
        assert!(
            fields["body"].starts_with("missing field `name`"),
            "{fields:?}"
        );
    }
}
