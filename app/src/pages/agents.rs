//! The agents table: the caller's agents with their status, model, schedule and last run,
//! kept up to date by the owner's real-time topic, with delete (after confirmation).

use gloo_net::http::Method;
use hatchery_shared::{
    api::agents::Agent,
    realtime::{Message, Topic},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::{
    api,
    paged::{LoadMore, Paged},
    session::{SignedIn, use_session},
};

/// `/agents`: the agents table on a page of its own.
#[component]
pub fn AgentsPage() -> impl IntoView {
    view! {
        <Title text="Agents" />
        <SignedIn>
            <AgentsTable />
        </SignedIn>
    }
}

/// The caller's agents, newest first, with "Load more" for further pages.
#[component]
pub fn AgentsTable() -> impl IntoView {
    let session = use_session();
    let user_id = session.user_id_now();
    let agents = Paged::<Agent>::new(Topic::user(&user_id), || "/api/agents?limit=50".to_owned());
    agents.follow(move |envelope| match &envelope.message {
        Message::AgentCreated(agent) => agents.prepend(agent, |a| a.id.clone()),
        Message::AgentUpdated(agent) => agents.replace(agent, |a| a.id.clone()),
        Message::AgentDeleted(deleted) => agents.remove(|a| a.id == deleted.id),
        _ => {}
    });

    view! {
        <section class="card" aria-labelledby="agents-heading">
            <div class="card-header">
                <h2 id="agents-heading">"Agents"</h2>
                <A href="/agents/new" attr:class="button primary">"New agent"</A>
            </div>
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading agents…"</p> }>
                {move || agents.failure().map(|message| view! {
                    <p class="form-error" role="alert">"Cannot load the agents: " {message}</p>
                })}
                {move || agents.items().map(|items| {
                    if items.is_empty() {
                        view! {
                            <div class="empty" data-testid="agents-empty">
                                <p>"No agents yet."</p>
                                <p class="muted">"An agent has instructions, a model and tools; it can run on a schedule."</p>
                            </div>
                        }
                        .into_any()
                    } else {
                        view! { <AgentRows items agents /> }.into_any()
                    }
                })}
                <LoadMore records=agents />
            </Transition>
        </section>
    }
}

/// The table itself.
#[component]
fn AgentRows(items: Vec<Agent>, agents: Paged<Agent>) -> impl IntoView {
    view! {
        <table class="table" data-testid="agents">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Model"</th>
                    <th scope="col">"Schedule"</th>
                    <th scope="col">"Last run"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                <For
                    each=move || items.clone()
                    key=|agent| (agent.id.clone(), agent.updated_at.clone())
                    children=move |agent| view! { <AgentRow agent agents /> }
                />
            </tbody>
        </table>
    }
}

/// One agent's row, with its delete confirmation.
///
/// Returns an `AnyView`: a row's full view type, nested inside `<For>` and the table, is
/// deeper than the compiler's layout limit in release builds, where Leptos keeps view types.
#[component]
fn AgentRow(agent: Agent, agents: Paged<Agent>) -> AnyView {
    let confirming = RwSignal::new(false);
    let id = agent.id.clone();
    let delete = Action::new(move |_: &()| {
        let path = format!("/api/agents/{id}");
        async move { api::call(Method::DELETE, &path).await }
    });
    // The `agent_deleted` event removes the row too; this covers a connection that is down.
    let id = agent.id.clone();
    Effect::new(move || {
        if let Some(Ok(())) = delete.value().get() {
            agents.remove(|a| a.id == id);
        }
    });
    let delete_error = move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|err| err.message)
    };
    let schedule = match (&agent.schedule, &agent.schedule_description) {
        (None, _) => view! { <span class="muted">"Manual"</span> }.into_any(),
        (Some(expression), description) => {
            let words = description.clone().unwrap_or_else(|| expression.clone());
            let next = agent
                .next_run_at
                .as_deref()
                .map(|at| format!("next {}", short_time(at)));
            view! {
                <span title=expression.clone()>{words}</span>
                {next.map(|next| view! { <br /><span class="muted">{next}</span> })}
            }
            .into_any()
        }
    };
    let status = agent.status.as_str();
    let edit = format!("/agents/{}", agent.id);
    let name = agent.name.clone();
    let chat = format!("/agents/{}/chat", agent.id);
    view! {
        <tr data-agent=agent.id.clone()>
            <td><A href=edit.clone()>{agent.name.clone()}</A></td>
            <td><span class=format!("badge badge-{status}")>{status}</span>
                {agent.last_error.clone().map(|error| view! { <br /><span class="muted">{error}</span> })}
            </td>
            <td>{agent.model.clone()}</td>
            <td>{schedule}</td>
            <td>{agent.last_run_at.as_deref().map_or_else(|| "Never".to_owned(), short_time)}</td>
            <td class="actions">
                <Show
                    when=move || confirming.get()
                    fallback=move || view! {
                        <A href=chat.clone() attr:class="button small">"Chat"</A>
                        <A href=edit.clone() attr:class="button small">"Edit"</A>
                        <button class="button small danger" on:click=move |_| confirming.set(true)>"Delete"</button>
                    }
                >
                    <span>"Delete " {name.clone()} "?"</span>
                    <button
                        class="button small danger"
                        on:click=move |_| {
                            delete.dispatch(());
                        }
                    >
                        "Yes, delete"
                    </button>
                    <button class="button small" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </Show>
                {move || delete_error().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            </td>
        </tr>
    }
    .into_any()
}

/// `2026-11-24T09:00:00.000Z` as `2026-11-24 09:00 UTC`.
pub fn short_time(rfc3339: &str) -> String {
    readable_time(rfc3339, 16)
}

/// `2026-11-24T09:00:05.123Z` as `2026-11-24 09:00:05 UTC`.
pub fn exact_time(rfc3339: &str) -> String {
    readable_time(rfc3339, 19)
}

/// The first `len` characters of an RFC 3339 UTC time, with a space for the `T`.
fn readable_time(rfc3339: &str, len: usize) -> String {
    match rfc3339.get(..len) {
        Some(prefix) => format!("{} UTC", prefix.replacen('T', " ", 1)),
        None => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{exact_time, short_time};

    #[test]
    fn times_read_in_utc_to_the_minute_or_the_second() {
        assert_eq!(
            short_time("2026-11-24T09:00:05.123Z"),
            "2026-11-24 09:00 UTC"
        );
        assert_eq!(
            exact_time("2026-11-24T09:00:05.123Z"),
            "2026-11-24 09:00:05 UTC"
        );
        assert_eq!(exact_time("soon"), "soon");
    }
}
