//! Run history: `/runs` (the caller's runs) and the agent page's Runs tab, newest first,
//! kept up to date by a real-time topic. Each run links to its page.

use hatchery_shared::{
    api::runs::Run,
    realtime::{Message, Topic},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::agents::short_time;
use crate::{
    api,
    paged::{LoadMore, Paged},
    session::{SignedIn, use_session},
};

/// `/runs`: the caller's runs.
#[component]
pub fn RunsPage() -> impl IntoView {
    view! {
        <Title text="Runs" />
        <SignedIn>
            <h1>"Runs"</h1>
            <MyRuns />
        </SignedIn>
    }
}

#[component]
fn MyRuns() -> impl IntoView {
    let user_id = use_session().user_id_now();
    view! { <RunsTable path="/api/runs".into() topic=Topic::user(&user_id) show_agent=true /> }
}

/// The runs `path` lists, newest first, with "Load more"; `run_created` and `run_updated`
/// on `topic` add and change rows as they happen.
#[component]
pub fn RunsTable(
    /// The list endpoint, such as `/api/agents/{id}/runs`.
    path: String,
    /// The topic whose run events keep the table current.
    topic: Topic,
    /// Whether to show each run's agent (a link to its page).
    show_agent: bool,
) -> impl IntoView {
    let runs = Paged::<Run>::new(topic, move || api::with_query(&path, &[("limit", "50")]));
    runs.follow(move |envelope| match &envelope.message {
        Message::RunCreated(run) => runs.prepend(run, |r| r.id.clone()),
        Message::RunUpdated(run) => runs.replace(run, |r| r.id.clone()),
        _ => {}
    });
    view! {
        <section class="card" aria-label="Runs">
            <Transition fallback=|| view! { <p class="muted" aria-busy="true">"Loading runs…"</p> }>
                {move || runs.failure().map(|message| view! {
                    <p class="form-error" role="alert">"Cannot load the runs: " {message}</p>
                })}
                {move || runs.items().map(|items| {
                    if items.is_empty() {
                        view! {
                            <p class="empty" data-testid="runs-empty">
                                "No runs yet. Chat, \"Run now\", a schedule or a webhook starts one."
                            </p>
                        }
                        .into_any()
                    } else {
                        view! {
                            <table class="table" data-testid="runs">
                                <thead>
                                    <tr>
                                        <th scope="col">"Status"</th>
                                        {show_agent.then(|| view! { <th scope="col">"Agent"</th> })}
                                        <th scope="col">"Trigger"</th>
                                        <th scope="col">"Started"</th>
                                        <th scope="col">"Duration"</th>
                                        <th scope="col">"Tokens"</th>
                                        <th scope="col">"Cost"</th>
                                        <th scope="col"><span class="visually-hidden">"Details"</span></th>
                                    </tr>
                                </thead>
                                <tbody>
                                    <For
                                        each=move || items.clone()
                                        key=|run| (run.id.clone(), run.status, run.finished_at.clone())
                                        children=move |run| run_row(run, show_agent)
                                    />
                                </tbody>
                            </table>
                        }
                        .into_any()
                    }
                })}
                <LoadMore records=runs />
            </Transition>
        </section>
    }
}

fn run_row(run: Run, show_agent: bool) -> impl IntoView {
    let status = run.status.as_str();
    let details = format!("/runs/{}", run.id);
    let agent = format!("/agents/{}", run.agent_id);
    let started = run
        .started_at
        .as_deref()
        .unwrap_or(&run.created_at)
        .to_owned();
    view! {
        <tr data-run=run.id.clone()>
            <td>
                <span class=format!("badge badge-{status}")>{status}</span>
                {run.error.clone().map(|error| view! { <br /><span class="muted">{error}</span> })}
            </td>
            {show_agent.then(|| view! { <td><A href=agent>"Agent"</A></td> })}
            <td>{run.trigger.as_str()}</td>
            <td>{short_time(&started)}</td>
            <td>{run.duration_ms.map_or_else(|| "—".to_owned(), duration)}</td>
            <td>{run.prompt_tokens + run.completion_tokens}</td>
            <td>{format!("${:.4}", run.cost_usd)}</td>
            <td><A href=details attr:class="button small">"Open"</A></td>
        </tr>
    }
}

/// A duration in milliseconds for people: `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        _ => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1_000),
    }
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_345), "12.3 s");
        assert_eq!(duration(245_000), "4 min 05 s");
    }
}
