//! The API's error type and its JSON shape:
//! `{"error":{"code":"not_found","message":"…","fields":{…}}}`.

use std::{collections::BTreeMap, time::Duration};

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use hatchery_shared::api::{ErrorBody, ErrorDetail, FieldErrors};

use crate::{
    agents::AgentError,
    auth::{AccountError, AuthError, password},
    rooms::RoomError,
    runner::{StartError, caps},
    store::StoreError,
    webhooks::Refusal,
};

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
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The request's body is larger than the endpoint takes (413).
    #[error("{0}")]
    TooLarge(String),
    /// The request is well-formed but its values are not acceptable (422), per field.
    #[error("invalid input")]
    Validation(FieldErrors),
    /// Too many requests; try again after `retry_after` (429 with `Retry-After`).
    #[error("{message}")]
    TooManyRequests {
        /// What was limited.
        message: String,
        /// How long to wait.
        retry_after: Duration,
    },
    /// The server cannot take this now (503), such as while shutting down.
    #[error("{0}")]
    Unavailable(String),
    /// The server is too busy for this right now (503 with `Retry-After: 1`).
    #[error("{0}")]
    Busy(String),
    /// Something failed on the server's side (500); the detail goes to the log only.
    #[error("something went wrong on the server; the error was logged")]
    Internal,
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            err => {
                tracing::error!(error = %err, "database error");
                Self::Internal
            }
        }
    }
}

impl From<password::Busy> for ApiError {
    fn from(busy: password::Busy) -> Self {
        Self::Busy(busy.to_string())
    }
}

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(fields) => Self::Validation(fields),
            AccountError::Busy(busy) => busy.into(),
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(fields: FieldErrors) -> Self {
        Self::Validation(fields)
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Unauthenticated(_) | AuthError::WrongPassword => {
                Self::Unauthorized(err.to_string())
            }
            AuthError::CrossSite => Self::Forbidden(err.to_string()),
            AuthError::AlreadySetUp | AuthError::OwnAccount => Self::Conflict(err.to_string()),
            AuthError::Disabled | AuthError::SessionOnly(_) | AuthError::SignUpClosed => {
                Self::Forbidden(err.to_string())
            }
            AuthError::NoSuchUser(_) => Self::NotFound(err.to_string()),
            AuthError::Busy(busy) => busy.into(),
            AuthError::Invalid(fields) => Self::Validation(fields),
            AuthError::TooManyFailures(retry_after) => Self::TooManyRequests {
                message: err.to_string(),
                retry_after,
            },
            AuthError::Store(err) => err.into(),
        }
    }
}

impl From<StartError> for ApiError {
    fn from(err: StartError) -> Self {
        match err {
            StartError::Store(err) => err.into(),
            StartError::ShuttingDown => Self::Unavailable(err.to_string()),
            StartError::CapReached(message) => {
                let now = chrono::Utc::now();
                let (_, midnight) = caps::today(now);
                Self::TooManyRequests {
                    message,
                    retry_after: (midnight - now).to_std().unwrap_or_default(),
                }
            }
            StartError::TooManyInFlight(_) => Self::TooManyRequests {
                message: err.to_string(),
                retry_after: Duration::from_secs(5),
            },
            StartError::Busy
            | StartError::Disabled
            | StartError::Replay
            | StartError::Unpriced(_) => Self::Conflict(err.to_string()),
        }
    }
}

impl From<AgentError> for ApiError {
    fn from(err: AgentError) -> Self {
        match err {
            AgentError::NotFound(_) | AgentError::ThreadNotFound(_) => {
                Self::NotFound(err.to_string())
            }
            AgentError::Invalid(fields) => Self::Validation(fields),
            AgentError::KeptAsFile(_) => Self::Conflict(err.to_string()),
            AgentError::Start(err) => err.into(),
            AgentError::Store(err) => err.into(),
        }
    }
}

impl From<RoomError> for ApiError {
    fn from(err: RoomError) -> Self {
        match err {
            RoomError::NotFound(_) => Self::NotFound(err.to_string()),
            RoomError::Invalid(fields) => Self::Validation(fields),
            RoomError::Conflict(message) => Self::Conflict(message),
            RoomError::Busy => Self::Busy(err.to_string()),
            RoomError::ShuttingDown => Self::Unavailable(err.to_string()),
            RoomError::Store(err) => err.into(),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            Refusal::NotFound => Self::NotFound(message),
            Refusal::TooMany(_, retry_after) | Refusal::TooManyUnsigned(retry_after) => {
                Self::TooManyRequests {
                    message,
                    retry_after,
                }
            }
            Refusal::Unauthorized(_) => Self::Unauthorized(message),
            Refusal::NotText => Self::BadRequest(message),
            Refusal::Start(err) => err.into(),
            Refusal::Store(err) => err.into(),
        }
    }
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
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) | Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Validation(_) => "validation_failed",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Busy(_) => "busy",
            Self::TooLarge(_) => "payload_too_large",
            Self::Internal => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().into(),
                message: self.to_string(),
                fields: match &self {
                    Self::Validation(fields) => fields.clone(),
                    _ => BTreeMap::new(),
                },
            },
        };
        let mut response = (self.status(), Json(body)).into_response();
        let retry_after = match &self {
            Self::TooManyRequests { retry_after, .. } => Some(*retry_after),
            Self::Busy(_) => Some(Duration::from_secs(1)),
            _ => None,
        };
        if let Some(retry_after) = retry_after {
            // Whole seconds, rounded up so that a client waiting that long is let in.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
