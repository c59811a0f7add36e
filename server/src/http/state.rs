//! The state every handler can reach: the services, the metrics and the site's settings.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{
    agents::Agents, auth::Auth, realtime::Realtime, runner::Runner, store::Store,
    webhooks::Webhooks,
};

/// What every handler can reach. Cheap to clone; handlers take the parts they need
/// through `State<…>` thanks to [`FromRef`].
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The real-time hub.
    pub realtime: Realtime,
    /// Decides who each request comes from; signs people in and out.
    pub auth: Auth,
    /// Starts and stops agent runs.
    pub runner: Runner,
    /// Changes agents and runs them.
    pub agents: Agents,
    /// Webhook triggers and their intake.
    pub webhooks: Webhooks,
    /// Every Prometheus metric of the process.
    pub metrics: prometheus::Registry,
    /// Where the site's files are and what the bundle is called.
    pub leptos: LeptosOptions,
}
