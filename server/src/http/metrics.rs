//! `GET /metrics`: every metric in the Prometheus text format, for admins (a scraper sends
//! an admin's API token as `Authorization: Bearer …`); and the metrics of the API's own
//! requests, by route template (never the raw path) and status.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppState};
use crate::{auth::Identity, realtime::Realtime, store::Store};

/// The metrics route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    operation_id = "health_metrics",
    responses((status = 200, description = "Every metric, in the Prometheus text format (admins).", content_type = "text/plain; version=0.0.4", body = String)),
)]
async fn metrics(
    identity: Identity,
    State(registry): State<Registry>,
    State(realtime): State<Realtime>,
    State(store): State<Store>,
) -> Result<impl IntoResponse, ApiError> {
    if !identity.is_admin() {
        return Err(ApiError::Forbidden(
            "only admins may read the metrics".into(),
        ));
    }
    realtime.refresh_gauges();
    store.refresh_gauges();
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

/// Requests to the API by route and status, and how long they took.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    /// `hatchery_http_requests_total{method, route, status}`.
    requests: IntCounterVec,
    /// `hatchery_http_request_duration_seconds{method, route}`.
    duration: HistogramVec,
}

impl HttpMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "hatchery_http_requests_total",
                    "API requests, by method, route template and status",
                ),
                &["method", "route", "status"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "hatchery_http_request_duration_seconds",
                    "How long API requests took until their response started",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
                ]),
                &["method", "route"],
            )?,
        };
        registry.register(Box::new(metrics.requests.clone()))?;
        registry.register(Box::new(metrics.duration.clone()))?;
        Ok(metrics)
    }
}

/// Counts and times each request to a route of the API (a route layer, where the route
/// template is known).
pub async fn track(
    State(metrics): State<HttpMetrics>,
    route: MatchedPath,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_str();
    metrics
        .duration
        .with_label_values(&[method.as_str(), route])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .with_label_values(&[method.as_str(), route, response.status().as_str()])
        .inc();
    response
}
