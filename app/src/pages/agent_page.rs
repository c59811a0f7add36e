//! The agent page, `/agents/{id}`: its settings, schedule, webhook triggers and runs on
//! tabs (`?tab=`), under a header that follows the agent live. `/agents/new` is the
//! settings form alone.

use hatchery_shared::{
    api::agents::Agent,
    realtime::{Message, Topic},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_params_map, use_query_map},
};

use super::{
    agent_form::AgentForm, agent_schedule::ScheduleTab, agent_triggers::TriggersTab,
    runs::RunsTable,
};
use crate::{live, session::SignedIn};

/// The tabs, in order: (query value, label).
const TABS: [(&str, &str); 4] = [
    ("settings", "Settings"),
    ("schedule", "Schedule"),
    ("triggers", "Triggers"),
    ("runs", "Runs"),
];

/// `/agents/{id}` and `/agents/new`.
#[component]
pub fn AgentPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|params| params.get("id")).unwrap_or_default();
    view! {
        <SignedIn>
            {move || {
                let id = id();
                if id == "new" {
                    view! { <Title text="New agent" /> <AgentForm id=None /> }.into_any()
                } else {
                    view! { <AgentTabs id /> }.into_any()
                }
            }}
        </SignedIn>
    }
}

#[component]
fn AgentTabs(id: String) -> impl IntoView {
    let query = use_query_map();
    let tab = move || {
        let asked = query.with(|query| query.get("tab"));
        TABS.iter()
            .find(|(value, _)| asked.as_deref() == Some(*value))
            .map_or("settings", |(value, _)| *value)
    };
    let topic = Topic::agent(&id);
    let loaded = live::load::<Agent>(topic.clone(), {
        let id = id.clone();
        move || format!("/api/agents/{id}")
    });
    live::follow(loaded, topic, move |envelope| {
        match &envelope.message {
            // The event carries only the start of long instructions: load the whole agent.
            Message::AgentUpdated(updated) if updated.instructions_trimmed => loaded.refetch(),
            Message::AgentUpdated(updated) => live::edit(loaded, |agent| *agent = updated.clone()),
            _ => {}
        }
    });
    let agent = move || live::state(loaded).and_then(Result::ok);
    let failure = move || loaded.failure();
    let name = move || agent().map(|agent| agent.name);
    let base = format!("/agents/{id}");
    let chat = format!("/agents/{id}/chat");
    let export = format!("/api/agents/{id}/export");
    let panel_id = id.clone();
    view! {
        <Transition>
            <Title text=move || name().unwrap_or_else(|| "Agent".into()) />
            <section class="agent-header">
                <h1>{move || name().unwrap_or_else(|| "Agent".into())}</h1>
                {move || agent().map(|agent| {
                    let status = agent.status.as_str();
                    view! { <span class=format!("badge badge-{status}") data-testid="agent-status">{status}</span> }
                })}
                <A href=chat attr:class="button">"Chat"</A>
                <a href=export class="button" download="" title="Download the agent as a file for the agents directory">
                    "Export"
                </a>
            </section>
            {move || agent().and_then(|agent| agent.file).map(|file| view! {
                <div class="agent-file" data-testid="agent-file">
                    <p class="muted">
                        "Kept as the file " <code>{file.path}</code>
                        " on the server: it changes when the file does."
                    </p>
                    {file.error.map(|error| view! {
                        <p class="form-error" role="alert" data-testid="agent-file-error">
                            "The file's current version is not in force: " {error}
                        </p>
                    })}
                </div>
            }.into_any())}
            {move || agent().and_then(|agent| agent.last_error).map(|error| view! {
                <p class="muted agent-error">{error}</p>
            })}
            {move || failure().map(|message| view! {
                <p class="form-error" role="alert">"Cannot load the agent: " {message}</p>
            })}
        </Transition>
        <nav class="tabs" role="tablist" aria-label="Agent">
            {TABS
                .map(|(value, label)| {
                    let href = format!("{base}?tab={value}");
                    view! {
                        <A
                            href=href
                            attr:role="tab"
                            attr:aria-selected=move || (tab() == value).to_string()
                            attr:class=move || if tab() == value { "tab active" } else { "tab" }
                        >
                            {label}
                        </A>
                    }
                })
                .collect_view()}
        </nav>
        <div role="tabpanel" class="tab-panel">
            {move || {
                let id = panel_id.clone();
                match tab() {
                    "schedule" => view! { <ScheduleTab agent_id=id /> }.into_any(),
                    "triggers" => view! { <TriggersTab agent_id=id /> }.into_any(),
                    "runs" => view! {
                        <RunsTable
                            path=format!("/api/agents/{id}/runs")
                            topic=Topic::agent(&id)
                            show_agent=false
                        />
                    }
                    .into_any(),
                    _ => view! { <AgentForm id=Some(id) /> }.into_any(),
                }
            }}
        </div>
    }
}
