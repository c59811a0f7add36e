//! The agent's settings form, for a new agent and on the agent page's Settings tab, with
//! the server's field errors shown on their fields.

use gloo_net::http::Method;
use hatchery_shared::api::agents::{Agent, AgentPatch, DEFAULT_TEMPERATURE, NewAgent, Tool};
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_navigate};
use strum::IntoEnumIterator;

use crate::{
    api::{self, Failure},
    components::form::{FormError, TextField, TimeZoneField},
};

/// The form's values, one signal per field.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    model: RwSignal<String>,
    temperature: RwSignal<String>,
    system_instructions: RwSignal<String>,
    task_instructions: RwSignal<String>,
    tools: RwSignal<Vec<Tool>>,
    schedule: RwSignal<String>,
    time_zone: RwSignal<String>,
    disabled: RwSignal<bool>,
}

impl Fields {
    fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            model: RwSignal::new(String::new()),
            temperature: RwSignal::new(DEFAULT_TEMPERATURE.to_string()),
            system_instructions: RwSignal::new(String::new()),
            task_instructions: RwSignal::new(String::new()),
            tools: RwSignal::new(Vec::new()),
            schedule: RwSignal::new(String::new()),
            time_zone: RwSignal::new("UTC".to_owned()),
            disabled: RwSignal::new(false),
        }
    }

    fn fill(&self, agent: &Agent) {
        self.name.set(agent.name.clone());
        self.model.set(agent.model.clone());
        self.temperature.set(agent.temperature.to_string());
        self.system_instructions
            .set(agent.system_instructions.clone());
        self.task_instructions.set(agent.task_instructions.clone());
        self.tools.set(agent.tools.clone());
        self.schedule
            .set(agent.schedule.clone().unwrap_or_default());
        self.time_zone.set(agent.time_zone.clone());
        self.disabled
            .set(agent.status == hatchery_shared::api::agents::AgentStatus::Disabled);
    }

    /// The temperature as a number, or the field error to show.
    fn temperature(&self) -> Result<f64, Failure> {
        self.temperature
            .get_untracked()
            .trim()
            .parse()
            .map_err(|_| Failure {
                status: 0,
                message: "check the temperature".into(),
                fields: [(
                    "temperature".to_owned(),
                    "enter a number from 0 to 2".to_owned(),
                )]
                .into(),
            })
    }

    fn schedule(&self) -> Option<String> {
        Some(self.schedule.get_untracked().trim().to_owned()).filter(|text| !text.is_empty())
    }

    fn new_agent(&self) -> Result<NewAgent, Failure> {
        Ok(NewAgent {
            name: self.name.get_untracked(),
            system_instructions: self.system_instructions.get_untracked(),
            task_instructions: self.task_instructions.get_untracked(),
            model: Some(self.model.get_untracked().trim().to_owned()).filter(|m| !m.is_empty()),
            temperature: Some(self.temperature()?),
            tools: self.tools.get_untracked(),
            schedule: self.schedule(),
            time_zone: Some(self.time_zone.get_untracked()),
            disabled: self.disabled.get_untracked(),
        })
    }

    fn patch(&self) -> Result<AgentPatch, Failure> {
        Ok(AgentPatch {
            name: Some(self.name.get_untracked()),
            system_instructions: Some(self.system_instructions.get_untracked()),
            task_instructions: Some(self.task_instructions.get_untracked()),
            model: Some(self.model.get_untracked()),
            temperature: Some(self.temperature()?),
            tools: Some(self.tools.get_untracked()),
            schedule: Some(self.schedule()),
            time_zone: Some(self.time_zone.get_untracked()),
            disabled: Some(self.disabled.get_untracked()),
        })
    }
}

/// The agent's settings: a new agent's when `id` is `None`. Saving goes back to the
/// dashboard.
#[component]
pub fn AgentForm(id: Option<String>) -> impl IntoView {
    let fields = Fields::new();
    let failure = RwSignal::new(None::<Failure>);
    let loaded = RwSignal::new(id.is_none());
    let navigate = use_navigate();

    if let Some(id) = id.clone() {
        let load = api::get_now::<Agent>(format!("/api/agents/{id}"));
        Effect::new(move || match load.value().get() {
            Some(Ok(agent)) => {
                fields.fill(&agent);
                loaded.set(true);
            }
            Some(Err(err)) => failure.set(Some(err)),
            None => {}
        });
    }

    let editing = id.clone();
    let save = Action::new_local(move |_: &()| {
        let editing = editing.clone();
        async move {
            match editing {
                Some(id) => {
                    let patch = fields.patch()?;
                    api::send::<Agent>(Method::PATCH, &format!("/api/agents/{id}"), &patch).await
                }
                None => {
                    let new = fields.new_agent()?;
                    api::send::<Agent>(Method::POST, "/api/agents", &new).await
                }
            }
        }
    });
    let pending = save.pending();
    Effect::new(move || match save.value().get() {
        Some(Ok(_)) => navigate("/", Default::default()),
        Some(Err(err)) => failure.set(Some(err)),
        None => {}
    });

    let heading = if id.is_some() {
        "Edit agent"
    } else {
        "New agent"
    };
    view! {
        <section class="card narrow">
            <h1>{heading}</h1>
            <Show
                when=move || loaded.get()
                fallback=move || view! {
                    <FormError failure />
                    <p class="muted" aria-busy="true">"Loading…"</p>
                }
            >
                // The server checks every field and names the bad ones; the browser's own
                // checks would stop some of them from reaching it.
                <form novalidate on:submit=move |event| {
                    event.prevent_default();
                    failure.set(None);
                    save.dispatch(());
                }>
                    <TextField label="Name" name="name" value=fields.name failure />
                    <TextField
                        label="Model"
                        name="model"
                        value=fields.model
                        failure
                        hint="Empty: the server's default model."
                    />
                    <TextField
                        label="Temperature"
                        name="temperature"
                        value=fields.temperature
                        failure
                        hint="0 is focused, 2 is most varied."
                    />
                    <TextField
                        label="System instructions"
                        name="system_instructions"
                        value=fields.system_instructions
                        failure
                        multiline=true
                    />
                    <TextField
                        label="Task instructions"
                        name="task_instructions"
                        value=fields.task_instructions
                        failure
                        multiline=true
                        hint="What a scheduled or manual run asks the agent to do."
                    />
                    <fieldset class="field">
                        <legend>"Tools"</legend>
                        {Tool::iter()
                            .map(|tool| {
                                let id = format!("tool-{}", tool.as_str());
                                let label_for = id.clone();
                                view! {
                                    <label class="checkbox" for=label_for>
                                        <input
                                            id=id
                                            type="checkbox"
                                            prop:checked=move || fields.tools.with(|tools| tools.contains(&tool))
                                            on:change=move |event| {
                                                let on = event_target_checked(&event);
                                                fields.tools.update(|tools| {
                                                    tools.retain(|t| *t != tool);
                                                    if on {
                                                        tools.push(tool);
                                                    }
                                                });
                                            }
                                        />
                                        {tool.as_str()}
                                    </label>
                                }
                            })
                            .collect_view()}
                        <p class="field-error">{move || failure.get().and_then(|f| f.field("tools"))}</p>
                    </fieldset>
                    <TextField
                        label="Schedule"
                        name="schedule"
                        value=fields.schedule
                        failure
                        hint="Cron: minute hour day month weekday, e.g. 0 9 * * 1-5. Empty: manual only."
                    />
                    <TimeZoneField value=fields.time_zone failure />
                    <label class="checkbox">
                        <input
                            type="checkbox"
                            prop:checked=move || fields.disabled.get()
                            on:change=move |event| fields.disabled.set(event_target_checked(&event))
                        />
                        "Disabled (nothing triggers it)"
                    </label>
                    <FormError failure />
                    <div class="form-actions">
                        <button class="button primary" type="submit" disabled=move || pending.get()>
                            {move || if pending.get() { "Saving…" } else { "Save" }}
                        </button>
                        <A href="/" attr:class="button">"Cancel"</A>
                    </div>
                </form>
            </Show>
        </section>
    }
}
