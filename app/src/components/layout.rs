//! The frame around every page: the navigation bar with the connection indicator, the
//! content area, the footer, notices and the debug overlay.

use leptos::prelude::*;
use leptos_router::components::A;

use super::{
    account_menu::AccountMenu, connection_indicator::ConnectionIndicator,
    debug_overlay::DebugOverlay, notices::Notices,
};

/// The navigation entries, in order: (path, label).
const NAVIGATION: [(&str, &str); 6] = [
    ("/", "Dashboard"),
    ("/agents", "Agents"),
    ("/runs", "Runs"),
    ("/usage", "Usage"),
    ("/rooms", "Rooms"),
    ("/logs", "Logs"),
];

/// The page frame: header with navigation, the page itself, and the footer.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    view! {
        <div class="app">
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    "Hatchery"
                </A>
                <nav class="nav" aria-label="Main">
                    {NAVIGATION
                        .into_iter()
                        .map(|(href, label)| view! { <A href=href exact=true>{label}</A> })
                        .collect_view()}
                </nav>
                <ConnectionIndicator />
                <AccountMenu />
            </header>
            <main class="content">{children()}</main>
            <footer class="footer">
                <span>"Hatchery " <span class="version">{format!("v{}", hatchery_shared::VERSION)}</span></span>
                <A href="/api-docs">"API"</A>
                <a href="/healthz">"Health"</a>
            </footer>
            <Notices />
            <DebugOverlay />
        </div>
    }
}
