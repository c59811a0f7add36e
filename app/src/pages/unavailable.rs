//! The page for a part of the product that this version does not have yet.

use leptos::prelude::*;
use leptos_meta::Title;

/// Says plainly that `title` is not available in this version.
#[component]
pub fn Unavailable(
    /// The name of the section, e.g. "Agents".
    title: &'static str,
) -> impl IntoView {
    view! {
        <Title text=title />
        <header class="page-header">
            <h1>{title}</h1>
        </header>
        <section class="empty-state" role="status">
            <h2>{format!("{title} are not available in this version yet")}</h2>
            <p class="muted">"This section of Hatchery has not been released. Nothing here is stored or running."</p>
        </section>
    }
}
