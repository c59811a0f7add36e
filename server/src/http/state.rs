//! The state every handler can reach: the services, the metrics and the site's settings.

use std::{ops::Deref, sync::Arc};

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::{
    agents::Agents, auth::Auth, realtime::Realtime, rooms::Rooms, runner::Runner, store::Store,
    webhooks::Webhooks,
};

/// What every handler can reach: the [`Parts`] behind one shared pointer, since axum clones
/// the state for every request. Handlers take the parts they need through `State<…>`
/// thanks to [`FromRef`].
#[derive(Clone)]
pub struct AppState(Arc<Parts>);

/// The parts of the [`AppState`].
pub struct Parts {
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
    /// Rooms and their conversations.
    pub rooms: Rooms,
    /// Every Prometheus metric of the process.
    pub metrics: prometheus::Registry,
    /// The metrics of the API's requests.
    pub http_metrics: super::metrics::HttpMetrics,
    /// Where the site's files are and what the bundle is called.
    pub leptos: LeptosOptions,
}

impl AppState {
    /// The state made of these parts.
    pub fn new(parts: Parts) -> Self {
        Self(Arc::new(parts))
    }
}

impl Deref for AppState {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

/// Lets handlers take each part by type, as `State<Store>` and the like.
macro_rules! parts_by_type {
    ($($field:ident: $part:ty),* $(,)?) => {
        $(impl FromRef<AppState> for $part {
            fn from_ref(state: &AppState) -> Self {
                state.$field.clone()
            }
        })*
    };
}

parts_by_type! {
    store: Store,
    realtime: Realtime,
    auth: Auth,
    runner: Runner,
    agents: Agents,
    webhooks: Webhooks,
    rooms: Rooms,
    metrics: prometheus::Registry,
    http_metrics: super::metrics::HttpMetrics,
    leptos: LeptosOptions,
}
