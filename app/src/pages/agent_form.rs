//! The agent's settings form, for a new agent and on the agent page's Settings tab, with
//! the server's field errors shown on their fields.

use gloo_net::http::Method;
use hatchery_shared::api::agents::{
    Agent, AgentPatch, AgentStatus, DEFAULT_MODEL, DEFAULT_SCHEDULE_MEMORY_RUNS,
    DEFAULT_TEMPERATURE, LOCAL_MODEL, Models, NewAgent, Tool,
};
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_navigate};
use strum::IntoEnumIterator;

use crate::{
    api::{self, Failure},
    components::form::{FormError, TextField, TimeZoneField},
};

/// Models the model field offers: the built-in one and the usual default of a provider.
const MODEL_SUGGESTIONS: &[&str] = &[LOCAL_MODEL, DEFAULT_MODEL];

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
    schedule_memory_runs: RwSignal<String>,
    disabled: RwSignal<bool>,
}

impl Fields {
    /// The fields of `agent`, or of a new agent.
    fn new(agent: Option<&Agent>) -> Self {
        let text = |value: fn(&Agent) -> String, default: &str| {
            RwSignal::new(agent.map_or_else(|| default.to_owned(), value))
        };
        Self {
            name: text(|agent| agent.name.clone(), ""),
            model: text(|agent| agent.model.clone(), ""),
            temperature: text(
                |agent| agent.temperature.to_string(),
                &DEFAULT_TEMPERATURE.to_string(),
            ),
            system_instructions: text(|agent| agent.system_instructions.clone(), ""),
            task_instructions: text(|agent| agent.task_instructions.clone(), ""),
            tools: RwSignal::new(agent.map(|agent| agent.tools.clone()).unwrap_or_default()),
            schedule: text(|agent| agent.schedule.clone().unwrap_or_default(), ""),
            time_zone: text(|agent| agent.time_zone.clone(), "UTC"),
            schedule_memory_runs: text(
                |agent| agent.schedule_memory_runs.to_string(),
                &DEFAULT_SCHEDULE_MEMORY_RUNS.to_string(),
            ),
            disabled: RwSignal::new(
                agent.is_some_and(|agent| agent.status == AgentStatus::Disabled),
            ),
        }
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

    /// How many earlier runs a scheduled run sees, or the field error to show.
    fn schedule_memory_runs(&self) -> Result<u32, Failure> {
        self.schedule_memory_runs
            .get_untracked()
            .trim()
            .parse()
            .map_err(|_| Failure {
                status: 0,
                message: "check how many runs scheduled runs remember".into(),
                fields: [(
                    "schedule_memory_runs".to_owned(),
                    "enter a whole number from 0 to 100".to_owned(),
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
            schedule_memory_runs: Some(self.schedule_memory_runs()?),
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
            schedule_memory_runs: Some(self.schedule_memory_runs()?),
            disabled: Some(self.disabled.get_untracked()),
        })
    }
}

/// The agent's settings: a new agent's when `id` is `None`. Saving goes back to the
/// dashboard.
#[component]
pub fn AgentForm(id: Option<String>) -> impl IntoView {
    let Some(id) = id else {
        return view! { <SettingsForm agent=None /> }.into_any();
    };
    let agent = api::load::<Agent>(move || format!("/api/agents/{id}"));
    let card = |content: AnyView| {
        view! { <section class="card narrow"><h1>"Edit agent"</h1>{content}</section> }
    };
    view! {
        <Transition fallback=move || card(view! { <p class="muted" aria-busy="true">"Loading…"</p> }.into_any())>
            {move || agent.get().map(|loaded| match loaded {
                Ok(agent) => view! { <SettingsForm agent=Some(agent) /> }.into_any(),
                Err(failure) => card(view! {
                    <p class="form-error" role="alert">{failure.message}</p>
                }.into_any()).into_any(),
            })}
        </Transition>
    }
    .into_any()
}

/// The settings form, filled with `agent`'s (or empty for a new agent).
#[component]
fn SettingsForm(agent: Option<Agent>) -> impl IntoView {
    let fields = Fields::new(agent.as_ref());
    let models: api::Load<Models> = api::load(|| "/api/models".to_owned());
    let failure = RwSignal::new(None::<Failure>);
    let navigate = use_navigate();
    // An agent kept as a file changes only with its file: its settings are shown, not edited.
    let read_only = agent.as_ref().is_some_and(|agent| agent.file.is_some());
    let id = agent.map(|agent| agent.id);

    let editing = id.clone();
    let save = Action::new(move |_: &()| {
        let editing = editing.clone();
        async move {
            match editing {
                Some(id) => {
                    let patch = fields.patch()?;
                    api::send::<Agent, _>(Method::PATCH, &format!("/api/agents/{id}"), &patch).await
                }
                None => {
                    let new = fields.new_agent()?;
                    api::send::<Agent, _>(Method::POST, "/api/agents", &new).await
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

    let heading = match (&id, read_only) {
        (Some(_), true) => "Settings (from its file)",
        (Some(_), false) => "Edit agent",
        (None, _) => "New agent",
    };
    view! {
        <section class="card narrow">
            <h1>{heading}</h1>
            // The server checks every field and names the bad ones; the browser's own
            // checks would stop some of them from reaching it.
            <form novalidate on:submit=move |event| {
                event.prevent_default();
                failure.set(None);
                save.dispatch(());
            }>
                <fieldset class="read-only" disabled=read_only>
                    <SettingsFields fields failure models />
                </fieldset>
                <FormError failure />
                <div class="form-actions">
                    <Show when=move || !read_only>
                        <button class="button primary" type="submit" disabled=move || pending.get()>
                            {move || if pending.get() { "Saving…" } else { "Save" }}
                        </button>
                    </Show>
                    <A href="/" attr:class="button">{if read_only { "Back" } else { "Cancel" }}</A>
                </div>
            </form>
        </section>
    }
}

/// The form's fields. Their view is type-erased: nested in the form's, its full type makes
/// the page's server render overflow a thread's stack in debug builds.
#[component]
fn SettingsFields(
    fields: Fields,
    failure: RwSignal<Option<Failure>>,
    models: api::Load<Models>,
) -> AnyView {
    view! {
        <TextField label="Name" name="name" value=fields.name failure />
        <TextField
            label="Model"
            name="model"
            value=fields.model
            failure
            hint="Empty: the server's default model."
            suggestions=MODEL_SUGGESTIONS
        />
        <Transition fallback=|| ()>
            {move || answerer(models, fields.model).map(|answerer| view! {
                <p class="hint" data-testid="answered-by">{answerer.to_string()}</p>
            })}
        </Transition>
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
            <Transition fallback=|| ()>
                {move || answerer(models, fields.model).filter(|answerer| answerer.is_local()).map(|_| view! {
                    <p class="hint" data-testid="no-tools">
                        "The built-in model cannot call tools: they are not offered to it."
                    </p>
                })}
            </Transition>
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
        <TextField
            label="Earlier runs remembered"
            name="schedule_memory_runs"
            kind="number"
            value=fields.schedule_memory_runs
            failure
            hint="How many earlier scheduled runs each scheduled run sees (0 to 100; 0: each starts afresh)."
        />
        <label class="checkbox">
            <input
                type="checkbox"
                prop:checked=move || fields.disabled.get()
                on:change=move |event| fields.disabled.set(event_target_checked(&event))
            />
            "Disabled (nothing triggers it)"
        </label>
    }
    .into_any()
}

/// What answers an agent's runs on this server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answerer {
    /// The built-in model, chosen.
    Local,
    /// The built-in model, because no provider is set.
    LocalForLackOfProvider(String),
    /// The provider at this host.
    Provider(String),
}

impl Answerer {
    fn is_local(&self) -> bool {
        !matches!(self, Self::Provider(_))
    }
}

impl std::fmt::Display for Answerer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local => write!(f, "Answered by the built-in model, inside this server."),
            Self::LocalForLackOfProvider(local) => write!(
                f,
                "No provider is set on this server: the built-in model {local} answers instead."
            ),
            Self::Provider(host) => write!(f, "Answered by the provider at {host}."),
        }
    }
}

/// What answers an agent whose model field says `model` (empty: the server's default), once
/// `models` has loaded (tracked).
fn answerer(models: api::Load<Models>, model: RwSignal<String>) -> Option<Answerer> {
    let models = models.get()?.ok()?;
    let model = model.get();
    let model = match model.trim() {
        "" => models.default_model.as_str(),
        model => model,
    };
    Some(match models.provider {
        _ if model == models.local => Answerer::Local,
        None => Answerer::LocalForLackOfProvider(models.local),
        Some(host) => Answerer::Provider(host),
    })
}
