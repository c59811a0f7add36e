//! `GET /metrics`: every metric in the Prometheus text format, for admins (a scraper sends
//! an admin's API token as `Authorization: Bearer …`).

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use prometheus::{Encoder, TextEncoder};

use super::{ApiError, AppState};
use crate::{auth::Identity, realtime::Realtime};

/// The metrics route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(
    identity: Identity,
    State(registry): State<prometheus::Registry>,
    State(realtime): State<Realtime>,
) -> Result<impl IntoResponse, ApiError> {
    if !identity.is_admin() {
        return Err(ApiError::Forbidden(
            "only admins may read the metrics".into(),
        ));
    }
    realtime.refresh_gauges();
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(err) = encoder.encode(&registry.gather(), &mut body) {
        tracing::error!(error = %err, "cannot encode metrics");
    }
    Ok((
        [(header::CONTENT_TYPE, encoder.format_type().to_owned())],
        body,
    ))
}
