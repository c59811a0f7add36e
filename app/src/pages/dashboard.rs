//! The dashboard: the first page, with the state of the system at a glance.

use hatchery_shared::{
    health::{CheckStatus, Readiness},
    realtime::Topic,
};
use leptos::prelude::*;
use leptos_meta::Title;

use crate::{api, pages::agents::AgentsTable, realtime::use_topic, session::SignedIn};

/// The dashboard page.
#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <Title text="Dashboard" />
        <header class="page-header">
            <h1>"Dashboard"</h1>
            <p class="muted">"Your agents, runs and costs at a glance."</p>
        </header>
        <SignedIn>
            <AgentsTable />
            <SystemCard />
        </SignedIn>
    }
}

/// The server's version and, on request, whether its database answers. Follows the `ops`
/// topic: when a reconnect finds events lost (a server restart), it checks again by itself.
#[component]
fn SystemCard() -> impl IntoView {
    let check = Action::new(|_: &()| api::on_page(fetch_readiness()));
    let pending = check.pending();
    use_topic(
        Topic::ops(),
        |_| {},
        move || {
            check.dispatch(());
        },
    );

    view! {
        <section class="card" aria-labelledby="system-heading">
            <div class="card-header">
                <h2 id="system-heading">"System"</h2>
                <button
                    class="button"
                    on:click=move |_| {
                        check.dispatch(());
                    }
                    disabled=move || pending.get()
                >
                    {move || if pending.get() { "Checking…" } else { "Check now" }}
                </button>
            </div>
            <dl class="facts">
                <dt>"Version"</dt>
                <dd>{hatchery_shared::VERSION}</dd>
                <dt>"Database"</dt>
                <dd data-testid="database-status" aria-live="polite">
                    {move || match check.value().get() {
                        None => view! { <span class="muted">"Not checked yet"</span> }.into_any(),
                        Some(Ok(readiness)) => readiness_view(&readiness).into_any(),
                        Some(Err(message)) => {
                            view! { <span class="badge badge-error">"Unreachable"</span> " " {message} }
                                .into_any()
                        }
                    }}
                </dd>
            </dl>
        </section>
    }
}

fn readiness_view(readiness: &Readiness) -> impl IntoView + use<> {
    let database = &readiness.database;
    let (class, label) = match database.status {
        CheckStatus::Ok => ("badge badge-ok", "Ready"),
        CheckStatus::Unavailable => ("badge badge-error", "Unavailable"),
    };
    let detail = match database.schema_version {
        Some(schema) => format!("answered in {} ms · schema {schema}", database.latency_ms),
        None => format!("no answer after {} ms", database.latency_ms),
    };
    view! { <span class=class>{label}</span> " " <span class="muted">{detail}</span> }
}

/// Asks the server's readiness endpoint; a 503 still carries a readable body.
async fn fetch_readiness() -> Result<Readiness, String> {
    let response = gloo_net::http::Request::get("/readyz")
        .send()
        .await
        .map_err(|err| format!("the server did not answer: {err}"))?;
    let status = response.status();
    response
        .json::<Readiness>()
        .await
        .map_err(|err| format!("unexpected answer (HTTP {status}): {err}"))
}
