//! One run, `/runs/{id}`: its status followed live, what started it, its model, times,
//! tokens and cost, a link to the thread it wrote to (and, for admins, to its records in the
//! system log), and a way to stop it while it runs.

use gloo_net::http::Method;
use hatchery_shared::{
    api::{accounts::Role, agents::Agent, runs::Run},
    realtime::{Message, Topic},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use super::{agents::exact_time, runs::duration};
use crate::{
    api,
    realtime::use_live_state,
    session::{SignedIn, use_session},
};

/// `/runs/{id}`.
#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <Title text="Run" />
        <SignedIn>
            {move || {
                let id = params.with(|params| params.get("id")).unwrap_or_default();
                view! { <LoadedRun id /> }
            }}
        </SignedIn>
    }
}

/// Loads the run `id` and then its agent, and shows them. Both loads are made here, outside
/// the `<Transition>`s that read them, as every load is: one made by a component built inside
/// a `<Transition>` may be thrown away, on the server, while the page waits for it.
#[component]
fn LoadedRun(id: String) -> impl IntoView {
    let run = api::load::<Run>(move || format!("/api/runs/{id}"));
    let agent = api::load_with(
        move || run.with(|run| run.as_ref()?.as_ref().ok().map(|run| run.agent_id.clone())),
        |agent_id: Option<String>| {
            let agent = agent_id.map(|id| api::get::<Agent>(&format!("/api/agents/{id}")));
            async move {
                match agent {
                    Some(agent) => agent.await.map(Some),
                    None => Ok(None),
                }
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading the run…"</p> }>
            {move || run.get().map(|loaded| match loaded {
                Ok(loaded) => view! { <RunDetails loaded agent /> }.into_any(),
                Err(err) => view! {
                    <h1>"Run"</h1>
                    <p class="form-error" role="alert">"Cannot load the run: " {err.message}</p>
                }
                .into_any(),
            })}
        </Transition>
    }
}

/// The run as `loaded`, then kept current by its agent's topic, with the name of its `agent`.
#[component]
fn RunDetails(loaded: Run, agent: api::Load<Option<Agent>>) -> impl IntoView {
    let id = loaded.id.clone();
    let agent_id = loaded.agent_id.clone();
    let thread = format!("/agents/{agent_id}/chat?thread={}", loaded.thread_id);
    let agent_link = format!("/agents/{agent_id}");
    let logs = api::with_query("/logs", &[("tab", "system"), ("run", &id)]);
    let session = use_session();
    let is_admin = move || session.user().is_some_and(|user| user.role == Role::Admin);
    let run = RwSignal::new(loaded);

    let path = format!("/api/runs/{id}");
    let refetch = Action::new(move |_: &()| api::get::<Run>(&path));
    Effect::new(move || {
        if let Some(Ok(fresh)) = refetch.value().get() {
            run.set(fresh);
        }
    });
    let run_id = id.clone();
    // The run's agent is known only once the run has loaded, so its topic's position is not:
    // the run is asked for again once the subscription is live.
    use_live_state(
        Topic::agent(&agent_id),
        None,
        move |envelope| {
            if let Message::RunUpdated(updated) = &envelope.message
                && updated.id == run_id
            {
                run.set(updated.clone());
            }
        },
        move || {
            refetch.dispatch(());
        },
    );

    let agent_name = move || match agent.get() {
        Some(Ok(Some(agent))) => agent.name,
        _ => "Agent".to_owned(),
    };

    let stop = Action::new(move |_: &()| {
        let path = format!("/api/runs/{id}/cancel");
        async move { api::call(Method::POST, &path).await }
    });
    let stop_failure = move || stop.value().get().and_then(Result::err);
    let ended = move || run.with(|run| run.status.is_final());
    let time = |at: Option<String>| at.as_deref().map_or_else(|| "—".to_owned(), exact_time);

    view! {
        <section class="agent-header">
            <h1>"Run"</h1>
            {move || {
                let status = run.with(|run| run.status.as_str());
                view! { <span class=format!("badge badge-{status}") data-testid="run-status">{status}</span> }
            }}
            <A href=thread attr:class="button">"Open thread"</A>
            <Show when=is_admin>
                <A href=logs.clone() attr:class="button" attr:data-testid="run-logs">"Logs"</A>
            </Show>
            <Show when=move || !ended()>
                <button
                    class="button danger"
                    disabled=move || stop.pending().get()
                    on:click=move |_| {
                        stop.dispatch(());
                    }
                >
                    "Stop"
                </button>
            </Show>
        </section>
        {move || stop_failure().map(|err| view! {
            <p class="form-error" role="alert">"Cannot stop the run: " {err.message}</p>
        })}
        {move || run.with(|run| run.error.clone()).map(|error| view! {
            <p class="form-error" data-testid="run-error">{error}</p>
        })}
        <section class="card">
            <dl class="facts" data-testid="run-facts">
                <dt>"Agent"</dt>
                <dd><A href=agent_link><Transition>{agent_name}</Transition></A></dd>
                <dt>"Trigger"</dt>
                <dd>{move || run.with(|run| run.trigger.as_str())}</dd>
                <dt>"Model"</dt>
                <dd>{move || run.with(|run| run.model.clone())}</dd>
                <dt>"Created"</dt>
                <dd>{move || run.with(|run| exact_time(&run.created_at))}</dd>
                <dt>"Started"</dt>
                <dd>{move || time(run.with(|run| run.started_at.clone()))}</dd>
                <dt>"Ended"</dt>
                <dd>{move || time(run.with(|run| run.finished_at.clone()))}</dd>
                <dt>"Duration"</dt>
                <dd>{move || run.with(|run| run.duration_ms.map_or_else(|| "—".to_owned(), duration))}</dd>
                <dt>"Tokens"</dt>
                <dd>{move || run.with(|run| format!(
                    "{} prompt + {} completion",
                    run.prompt_tokens, run.completion_tokens
                ))}</dd>
                <dt>"Cost"</dt>
                <dd>{move || run.with(|run| format!("${:.4}", run.cost_usd))}</dd>
            </dl>
        </section>
    }
}
