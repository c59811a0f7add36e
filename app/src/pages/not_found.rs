//! The page for a path that matches no route (the server's fallback sends it with 404).

use leptos::prelude::*;
use leptos_meta::Title;

/// "Page not found", with a way back.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Page not found" />
        <section class="empty-state">
            <p class="empty-code">"404"</p>
            <h1>"Page not found"</h1>
            <p class="muted">"Nothing lives at this address. It may have moved, or the link is wrong."</p>
            <a class="button" href="/">"Back to the dashboard"</a>
        </section>
    }
}
