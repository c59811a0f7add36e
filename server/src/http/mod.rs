//! The HTTP surface: one router per resource, merged here, with the layers every request
//! passes through (request id, tracing, the host and origin checks), and the API's error
//! and JSON types.

mod actor;
mod agents;
mod auth;
mod contract;
mod error;
mod guard;
mod health;
mod identity;
mod json;
mod logs;
mod metrics;
mod owned;
mod page;
mod realtime;
mod request_id;
mod rooms;
mod runs;
mod schedules;
mod scope;
mod site;
mod state;
mod threads;
mod tokens;
mod triggers;
mod usage;
mod users;
mod ws_upgrade;

use axum::http::{HeaderName, HeaderValue, header};
use axum::{Router, routing::any};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;
use utoipa_axum::router::OpenApiRouter;

pub use contract::{openapi, realtime_schema};
pub use error::ApiError;
pub use json::AppJson;
pub use metrics::HttpMetrics;
pub use state::{AppState, Parts};

/// Every documented route: the API's resources, the contract documents, health and
/// metrics. The router and the OpenAPI document are both made from this.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(contract::base())
        .merge(health::router())
        .merge(metrics::router())
        .merge(contract::router())
        .merge(realtime::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(tokens::router())
        .merge(agents::router())
        .merge(threads::router())
        .merge(runs::router())
        .merge(schedules::router())
        .merge(triggers::router())
        .merge(usage::router())
        .merge(rooms::router())
        .merge(logs::router())
}

/// Builds the whole HTTP application: API routes, the site, and the shared layers.
pub fn router(state: AppState) -> Router {
    let (routes, _) = routes().split_for_parts();
    let api = routes
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .route_layer(axum::middleware::from_fn_with_state(
            state.http_metrics.clone(),
            metrics::track,
        ))
        .with_state(state.clone());

    Router::new()
        .merge(site::router(&state, api.clone()).with_state(state.clone()))
        .merge(api)
        .layer(
            ServiceBuilder::new()
                .map_request(request_id::drop_unusable)
                .layer(SetRequestIdLayer::x_request_id(request_id::MakeUuidV7))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_id::make_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(security_header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(security_header(header::REFERRER_POLICY, "same-origin"))
                .layer(security_header(header::X_FRAME_OPTIONS, "DENY"))
                .layer(axum::middleware::from_fn_with_state(
                    state,
                    guard::addressed_here,
                )),
        )
}

/// Sets a header on every response that has not set it (pages set their own
/// Content-Security-Policy, see `site`).
fn security_header(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

/// Any path under `/api` that no resource claims: a JSON 404, never the HTML site.
async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("no API endpoint at {}", uri.path()))
}
