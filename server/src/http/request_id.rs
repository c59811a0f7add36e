//! Request ids: taken from `X-Request-Id` when the caller sent a usable one, otherwise a
//! new UUIDv7; carried by the request's tracing span and returned in the response header.

use axum::http::{HeaderValue, Request};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;
use uuid::Uuid;

const HEADER: &str = "x-request-id";

/// The longest request id accepted from a caller.
const MAX_LEN: usize = 128;

/// Generates UUIDv7 request ids (time-ordered, so logs sort by them).
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUuidV7;

impl MakeRequestId for MakeUuidV7 {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = Uuid::now_v7().to_string();
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// Removes a caller's request id that is too long or has characters other than letters,
/// digits and `-_.:`, so that a fresh one is generated instead of logging junk.
pub fn drop_unusable<B>(mut request: Request<B>) -> Request<B> {
    let usable = request.headers().get(HEADER).is_none_or(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_LEN
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    if !usable {
        request.headers_mut().remove(HEADER);
    }
    request
}

/// The span every request runs in: method, path and request id.
pub fn make_span<B>(request: &Request<B>) -> Span {
    let request_id = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
    )
}
