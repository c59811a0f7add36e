//! What a create or an update of an agent asks for, checked: every field's error at once,
//! defaults filled in, the tool list and schedule normalised, the next run time computed.

use chrono::Utc;
use hatchery_shared::api::{
    FieldErrors,
    agents::{
        AgentPatch, AgentStatus, DEFAULT_SCHEDULE_MEMORY_RUNS, DEFAULT_TEMPERATURE, MAX_NAME_CHARS,
        NewAgent,
    },
};

use crate::{
    scheduler::schedule::{self, Schedule},
    store::{AgentChange, AgentRow},
};

/// The longest instructions accepted, in characters.
const MAX_INSTRUCTIONS_CHARS: usize = 100_000;
/// The most earlier scheduled runs a scheduled run may see.
const MAX_SCHEDULE_MEMORY_RUNS: u32 = 100;
/// The longest model name accepted, in characters.
const MAX_MODEL_CHARS: usize = 200;

/// The settings of a new agent, with defaults filled in (`default_model` when it names no
/// model), or every field's error.
pub fn new_change(new: NewAgent, default_model: &str) -> Result<AgentChange, FieldErrors> {
    let change = AgentChange {
        name: new.name.trim().to_owned(),
        system_instructions: new.system_instructions,
        task_instructions: new.task_instructions,
        model: new
            .model
            .map_or_else(|| default_model.to_owned(), |m| m.trim().to_owned()),
        temperature: new.temperature.unwrap_or(DEFAULT_TEMPERATURE),
        tools: new.tools,
        schedule: new.schedule,
        time_zone: new.time_zone.unwrap_or_else(|| "UTC".into()),
        schedule_memory_runs: new
            .schedule_memory_runs
            .unwrap_or(DEFAULT_SCHEDULE_MEMORY_RUNS),
        status: if new.disabled {
            AgentStatus::Disabled
        } else {
            AgentStatus::Idle
        },
        next_run_at: None,
    };
    checked(change)
}

/// `current` with `patch` applied, or every field's error.
pub fn patched(current: &AgentRow, patch: AgentPatch) -> Result<AgentChange, FieldErrors> {
    let mut change = current.change.clone();
    if let Some(name) = patch.name {
        change.name = name.trim().to_owned();
    }
    if let Some(text) = patch.system_instructions {
        change.system_instructions = text;
    }
    if let Some(text) = patch.task_instructions {
        change.task_instructions = text;
    }
    if let Some(model) = patch.model {
        change.model = model.trim().to_owned();
    }
    if let Some(temperature) = patch.temperature {
        change.temperature = temperature;
    }
    if let Some(tools) = patch.tools {
        change.tools = tools;
    }
    if let Some(schedule) = patch.schedule {
        change.schedule = schedule;
    }
    if let Some(time_zone) = patch.time_zone {
        change.time_zone = time_zone;
    }
    if let Some(runs) = patch.schedule_memory_runs {
        change.schedule_memory_runs = runs;
    }
    match (patch.disabled, change.status) {
        (Some(true), _) => change.status = AgentStatus::Disabled,
        (Some(false), AgentStatus::Disabled) => change.status = AgentStatus::Idle,
        _ => {}
    }
    checked(change)
}

/// Validates every field, normalises the tool list and the schedule, and computes the next
/// run time.
fn checked(mut change: AgentChange) -> Result<AgentChange, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut error = |field: &str, message: String| {
        errors.insert(field.to_owned(), message);
    };
    let name_chars = change.name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS {
        error(
            "name",
            format!("enter a name of 1 to {MAX_NAME_CHARS} characters"),
        );
    }
    for (field, text) in [
        ("system_instructions", &change.system_instructions),
        ("task_instructions", &change.task_instructions),
    ] {
        if text.chars().count() > MAX_INSTRUCTIONS_CHARS {
            error(
                field,
                format!("keep it under {MAX_INSTRUCTIONS_CHARS} characters"),
            );
        }
    }
    if change.model.is_empty() || change.model.chars().count() > MAX_MODEL_CHARS {
        error(
            "model",
            format!("enter a model name of 1 to {MAX_MODEL_CHARS} characters"),
        );
    }
    if !(0.0..=2.0).contains(&change.temperature) {
        error("temperature", "use a temperature from 0 to 2".into());
    }
    if change.schedule_memory_runs > MAX_SCHEDULE_MEMORY_RUNS {
        error(
            "schedule_memory_runs",
            format!("use 0 to {MAX_SCHEDULE_MEMORY_RUNS} earlier runs"),
        );
    }
    change.tools.sort_unstable();
    change.tools.dedup();
    change.schedule = change
        .schedule
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    change.next_run_at = None;
    match schedule::parse_time_zone(&change.time_zone) {
        Err(message) => error("time_zone", message),
        Ok(zone) => {
            if let Some(expression) = &change.schedule {
                match Schedule::parse(expression, zone) {
                    Err(message) => error("schedule", message),
                    Ok(schedule) if change.status != AgentStatus::Disabled => {
                        change.next_run_at = schedule.next_after(Utc::now());
                    }
                    Ok(_) => {}
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(change)
    } else {
        Err(errors)
    }
}

/// The names of the settings `after` changes from `before`, as the audit log shows them
/// (`name, model`), or "nothing" when it changes none.
pub fn changed_fields(before: &AgentChange, after: &AgentChange) -> String {
    let fields = [
        ("name", before.name != after.name),
        (
            "system_instructions",
            before.system_instructions != after.system_instructions,
        ),
        (
            "task_instructions",
            before.task_instructions != after.task_instructions,
        ),
        ("model", before.model != after.model),
        ("temperature", before.temperature != after.temperature),
        ("tools", before.tools != after.tools),
        ("schedule", before.schedule != after.schedule),
        ("time_zone", before.time_zone != after.time_zone),
        (
            "schedule_memory_runs",
            before.schedule_memory_runs != after.schedule_memory_runs,
        ),
        (
            "disabled",
            (before.status == AgentStatus::Disabled) != (after.status == AgentStatus::Disabled),
        ),
    ];
    let changed: Vec<&str> = fields
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect();
    if changed.is_empty() {
        "nothing".to_owned()
    } else {
        changed.join(", ")
    }
}
