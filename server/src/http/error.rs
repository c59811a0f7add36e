//! The API's error type and its JSON shape:
//! `{"error":{"code":"not_found","message":"…","fields":{…}}}`.

use std::collections::BTreeMap;

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

/// An error an API handler returns; each variant maps to one status and one `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The request has no valid identity (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The identity may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The thing asked for does not exist, or the caller may not know it exists (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is well-formed but its values are not acceptable (422), per field.
    #[error("invalid input")]
    Validation(BTreeMap<String, String>),
}

impl ApiError {
    /// A validation error about one field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(BTreeMap::from([(field.to_owned(), message.into())]))
    }

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The stable, machine-readable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Validation(_) => "validation_failed",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        if let Self::Validation(fields) = &self {
            error["fields"] = json!(fields);
        }
        (self.status(), Json(json!({ "error": error }))).into_response()
    }
}
