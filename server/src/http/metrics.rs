//! `GET /metrics`: every metric in the Prometheus text format.

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use prometheus::{Encoder, TextEncoder};

use crate::{application::AppState, realtime::Realtime};

/// The metrics route.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(
    State(registry): State<prometheus::Registry>,
    State(realtime): State<Realtime>,
) -> impl IntoResponse {
    realtime.refresh_gauges();
    let mut body = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(err) = encoder.encode(&registry.gather(), &mut body) {
        tracing::error!(error = %err, "cannot encode metrics");
    }
    (
        [(header::CONTENT_TYPE, encoder.format_type().to_owned())],
        body,
    )
}
