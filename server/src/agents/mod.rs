//! Agents: checking what a create or an update asks for, and showing an agent through the
//! API. Storage is in `store::agents`, routes in `http::agents`.

pub mod schedule;

use std::collections::BTreeMap;

use chrono::Utc;
use hatchery_shared::api::agents::{
    Agent, AgentPatch, AgentStatus, DEFAULT_TEMPERATURE, MAX_NAME_CHARS, NewAgent,
};

use hatchery_shared::realtime::Message;

use self::schedule::Schedule;
use crate::{
    realtime::Realtime,
    store::{AgentChange, AgentRow, rfc3339},
};

/// The longest instructions accepted, in characters.
const MAX_INSTRUCTIONS_CHARS: usize = 100_000;
/// The longest model name accepted, in characters.
const MAX_MODEL_CHARS: usize = 200;

/// Field errors, by field name.
pub type FieldErrors = BTreeMap<String, String>;

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

/// The agent as the API shows it.
pub fn view(row: &AgentRow) -> Agent {
    let change = &row.change;
    Agent {
        id: row.id.clone(),
        owner_id: row.owner_id.clone(),
        name: change.name.clone(),
        system_instructions: change.system_instructions.clone(),
        task_instructions: change.task_instructions.clone(),
        model: change.model.clone(),
        temperature: change.temperature,
        tools: change.tools.clone(),
        schedule: change.schedule.clone(),
        schedule_description: change.schedule.as_deref().and_then(schedule::describe),
        time_zone: change.time_zone.clone(),
        status: change.status,
        last_error: row.last_error.clone(),
        last_run_at: row.last_run_at.map(rfc3339),
        next_run_at: change.next_run_at.map(rfc3339),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

/// Publishes a committed change of an agent on its topic and its owner's.
pub async fn announce(realtime: &Realtime, row: &AgentRow, message: Message) {
    realtime
        .publish_to(&format!("agent:{}", row.id), message.clone())
        .await;
    realtime
        .publish_to(&format!("user:{}", row.owner_id), message)
        .await;
}
