//! The checks every request passes before it is routed: it must be addressed to a name this
//! server answers to (so that a page which rebinds its own DNS name to this server's
//! address cannot use it, whatever the authentication mode), and a change sent by a browser
//! page must come from this server's own origin or an allowed one.

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::ApiError;
use crate::{auth::origin, realtime::Realtime};

/// Refuses, with 403 and before anything else runs, a request addressed to another name,
/// or a change whose `Origin` is another site. It takes only the hub (whose settings hold
/// the allowed origins): extracting the whole application state would clone it on every
/// request.
pub async fn addressed_here(
    State(realtime): State<Realtime>,
    request: Request,
    next: Next,
) -> Response {
    let allowed = &realtime.config().allowed_origins;
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        });
    if let Some(host) = host
        && !origin::host_allowed(host, allowed)
    {
        return ApiError::Forbidden(format!(
            "this server does not answer to the name {host}; an operator can add its origin \
             to HATCHERY_ALLOWED_ORIGINS"
        ))
        .into_response();
    }
    let is_change = !request.method().is_safe();
    if is_change && !origin::origin_allowed_if_any(headers, allowed) {
        return ApiError::Forbidden(
            "cross-site request refused: changes must come from this site's own pages".into(),
        )
        .into_response();
    }
    next.run(request).await
}
