//! The format of an agent kept as a file: YAML front matter between two `---` lines with
//! the agent's settings, then the system instructions as the body (Markdown), as in
//!
//! ```text
//! ---
//! name: Reviewer
//! model: gpt-4o-mini
//! temperature: 0.2
//! tools: [calculator]
//! room_role: critic
//! ---
//! You review what the others write.
//! ```
//!
//! Read by [`parse`] and written by [`export`], so that an exported agent reads back the
//! same.

use hatchery_shared::api::{
    agents::{AgentStatus, NewAgent, Tool},
    rooms::MemberRole,
};
use serde::{Deserialize, Serialize};

use crate::store::AgentRow;

/// The settings a file's front matter may give. An unknown key is an error, so that a
/// misspelt setting is reported instead of silently ignored.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    /// The agent's name; the file's name without `.md` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule_memory_runs: Option<u32>,
    /// The task of scheduled and manual runs.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    task: String,
    /// The role the agent takes when added to a room without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    room_role: Option<MemberRole>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
}

/// What a file defines.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The agent, as a create would ask for it (checked by the caller like any other).
    pub agent: NewAgent,
    /// The role it takes when added to a room without one.
    pub room_role: Option<MemberRole>,
}

/// Reads a file's `text`; `file_stem` (its name without `.md`) names an agent whose front
/// matter gives no name. A file without front matter is all instructions. The error says
/// what is wrong, for people.
pub fn parse(text: &str, file_stem: &str) -> Result<Definition, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (front, body) = match split(text)? {
        Some((front, body)) if !front.trim().is_empty() => {
            let front = yaml_serde::from_str::<FrontMatter>(front)
                .map_err(|err| format!("the front matter does not parse: {err}"))?;
            (front, body)
        }
        Some((_, body)) => (FrontMatter::default(), body),
        None => (FrontMatter::default(), text),
    };
    Ok(Definition {
        agent: NewAgent {
            name: front.name.unwrap_or_else(|| file_stem.to_owned()),
            system_instructions: body.trim().to_owned(),
            task_instructions: front.task,
            model: front.model,
            temperature: front.temperature,
            tools: front.tools,
            schedule: front.schedule,
            time_zone: front.time_zone,
            schedule_memory_runs: front.schedule_memory_runs,
            disabled: front.disabled,
        },
        room_role: front.room_role,
    })
}

/// The front matter and the body of `text` when it starts with a `---` line; an error when
/// that front matter is never closed by another `---` line.
fn split(text: &str) -> Result<Option<(&str, &str)>, String> {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Ok(None);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Ok(Some((&rest[..offset], &rest[offset + line.len()..])));
        }
        offset += line.len();
    }
    Err("the front matter has no closing `---` line".into())
}

/// `row` as a file that [`parse`] reads back as the same agent (its instructions without
/// leading and trailing blank space).
pub fn export(row: &AgentRow) -> String {
    let change = &row.change;
    let front = FrontMatter {
        name: Some(change.name.clone()),
        model: Some(change.model.clone()),
        temperature: Some(change.temperature),
        tools: change.tools.clone(),
        schedule: change.schedule.clone(),
        time_zone: Some(change.time_zone.clone()),
        schedule_memory_runs: Some(change.schedule_memory_runs),
        task: change.task_instructions.clone(),
        room_role: row.file.as_ref().and_then(|file| file.room_role),
        disabled: change.status == AgentStatus::Disabled,
    };
    let yaml = yaml_serde::to_string(&front).expect("front matter of plain values serialises");
    format!("---\n{yaml}---\n\n{}\n", change.system_instructions.trim())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::AgentChange;

    #[test]
    fn reads_front_matter_and_body() {
        let text = "---\nname: Reviewer\nmodel: gpt-4o\ntemperature: 0.2\ntools: [calculator]\n\
                    room_role: critic\ntask: |\n  Check the news.\n  Then sum up.\n---\n\n\
                    You review.\n";
        let definition = parse(text, "reviewer").unwrap();
        assert_eq!(definition.agent.name, "Reviewer");
        assert_eq!(definition.agent.model.as_deref(), Some("gpt-4o"));
        assert_eq!(definition.agent.temperature, Some(0.2));
        assert_eq!(definition.agent.tools, vec![Tool::Calculator]);
        assert_eq!(
            definition.agent.task_instructions,
            "Check the news.\nThen sum up.\n"
        );
        assert_eq!(definition.agent.system_instructions, "You review.");
        assert_eq!(definition.room_role, Some(MemberRole::Critic));
    }

    #[test]
    fn a_file_without_front_matter_is_instructions_named_by_the_file() {
        let definition = parse("Be brief.\n", "helper").unwrap();
        assert_eq!(definition.agent.name, "helper");
        assert_eq!(definition.agent.system_instructions, "Be brief.");
        assert_eq!(definition.agent.model, None);
    }

    #[test]
    fn bad_front_matter_says_what_is_wrong() {
        let unclosed = parse("---\nname: x\n", "x").unwrap_err();
        assert!(unclosed.contains("closing `---`"), "{unclosed}");
        let unknown = parse("---\nnmae: x\n---\nhi", "x").unwrap_err();
        assert!(unknown.contains("nmae"), "{unknown}");
        let wrong_type = parse("---\ntemperature: warm\n---\nhi", "x").unwrap_err();
        assert!(wrong_type.contains("temperature"), "{wrong_type}");
    }

    #[test]
    fn an_exported_agent_reads_back_the_same() {
        let now = Utc::now();
        let row = AgentRow {
            id: "a1".into(),
            owner_id: "u1".into(),
            change: AgentChange {
                name: "Night: \"watch\"".into(),
                system_instructions: "Line one.\n\n---\nLine two.".into(),
                task_instructions: "Look around.\nReport.".into(),
                model: "gpt-4o-mini".into(),
                temperature: 0.3,
                tools: vec![Tool::CurrentTime, Tool::HttpRequest],
                schedule: Some("0 9 * * 1-5".into()),
                time_zone: "Europe/Paris".into(),
                schedule_memory_runs: 3,
                status: AgentStatus::Disabled,
                next_run_at: None,
            },
            last_error: None,
            last_run_at: None,
            created_at: now,
            updated_at: now,
            file: None,
        };
        let back = parse(&export(&row), "other").unwrap().agent;
        let change = &row.change;
        assert_eq!(back.name, change.name);
        assert_eq!(back.system_instructions, change.system_instructions);
        assert_eq!(back.task_instructions, change.task_instructions);
        assert_eq!(back.model.as_deref(), Some(change.model.as_str()));
        assert_eq!(back.temperature, Some(change.temperature));
        assert_eq!(back.tools, change.tools);
        assert_eq!(back.schedule, change.schedule);
        assert_eq!(back.time_zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(back.schedule_memory_runs, Some(3));
        assert!(back.disabled);
    }
}
