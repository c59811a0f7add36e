//! The connection indicator in the top bar: connected, connecting, reconnecting in N s,
//! signed out.

use leptos::prelude::*;

use crate::realtime::{ConnectionState, use_ws_client};

/// A dot and a word saying whether live updates flow.
#[component]
pub fn ConnectionIndicator() -> impl IntoView {
    let state = use_ws_client().state;
    let label = move || match state.get() {
        ConnectionState::Connecting => "Connecting…".to_owned(),
        ConnectionState::Open => "Live".to_owned(),
        ConnectionState::Reconnecting { in_secs: 0 } => "Reconnecting…".to_owned(),
        ConnectionState::Reconnecting { in_secs } => format!("Reconnecting in {in_secs} s"),
        ConnectionState::SignedOut => "Signed out".to_owned(),
        ConnectionState::Refused => "Disconnected".to_owned(),
    };
    let kind = move || match state.get() {
        ConnectionState::Open => "open",
        ConnectionState::Connecting => "connecting",
        ConnectionState::Reconnecting { .. } => "reconnecting",
        ConnectionState::SignedOut | ConnectionState::Refused => "closed",
    };
    view! {
        <span
            class="connection"
            data-testid="connection"
            data-state=kind
            role="status"
            title="Live updates (Ctrl+Shift+D shows the frames)"
        >
            <span class="connection-dot" aria-hidden="true"></span>
            {label}
        </span>
    }
}
