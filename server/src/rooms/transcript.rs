//! What an agent's turn in a room is sent: who it is in the room and what is asked of it,
//! then the room's newest messages that fit in the room's token budget, each attributed by
//! name. The agent's own instructions come before it, as the run's system message.

use hatchery_shared::api::rooms::{AuthorKind, MemberRole, RoomMessage, RoomMessageKind};

use crate::store::RoomRow;

/// Bytes of text per token, roughly, for English text and the usual tokenizers.
const BYTES_PER_TOKEN: usize = 4;

/// The most messages a turn reads from the room, newest first, before its token budget cuts
/// them: the reading stays the same size however long the room's history.
pub const MAX_MESSAGES_READ: u32 = 200;

/// Who takes the turn and on what.
pub struct Turn<'a> {
    /// The room.
    pub room: &'a RoomRow,
    /// The agent taking it.
    pub agent_id: &'a str,
    /// Its name.
    pub name: &'a str,
    /// What it does in the room.
    pub role: MemberRole,
    /// For a critic: the message it judges (also the last of the conversation).
    pub judged: Option<&'a RoomMessage>,
}

/// The turn's message to its agent: `history` (oldest first) cut to the newest messages that
/// fit in the room's token budget — the newest always — after what the turn asks for.
pub fn render(turn: &Turn<'_>, history: &[RoomMessage]) -> String {
    let settings = &turn.room.change.settings;
    let budget = settings.context_tokens as usize * BYTES_PER_TOKEN;
    let lines: Vec<String> = history.iter().map(|message| line(turn, message)).collect();
    let mut kept = 0;
    let mut bytes = 0;
    for line in lines.iter().rev() {
        if kept > 0 && bytes + line.len() > budget {
            break;
        }
        bytes += line.len() + 1;
        kept += 1;
    }
    let others: Vec<&str> = turn
        .room
        .members
        .iter()
        .filter(|member| member.agent_id != turn.agent_id)
        .map(|member| member.name.as_str())
        .collect();
    let mut text = format!(
        "You are {name}, in the room \"{room}\" with people and other agents{others}.",
        name = turn.name,
        room = turn.room.change.name,
        others = if others.is_empty() {
            String::new()
        } else {
            format!(" ({})", others.join(", "))
        },
    );
    if !turn.room.change.description.is_empty() {
        text.push_str(&format!(
            " The room is for: {}",
            turn.room.change.description
        ));
    }
    text.push_str("\n\n");
    match (turn.role, turn.judged) {
        (MemberRole::Critic, Some(judged)) => text.push_str(&format!(
            "You are the room's critic. Judge the last message, by {author}, in a few \
             sentences: is it correct, helpful and on topic? Do not continue the \
             conversation.",
            author = judged.author_name
        )),
        _ => text.push_str(&format!(
            "Write your next message in the conversation as {name}, without a name in front \
             of it. If you have nothing to add, answer exactly {marker}.",
            name = turn.name,
            marker = settings.pass_marker
        )),
    }
    text.push_str("\n\nThe conversation so far, oldest first:\n");
    text.push_str(&lines[lines.len() - kept..].join("\n"));
    text
}

/// One message as the turn sees it: `Name: text`, its own as `You (Name)`, a critique as
/// `Name (critique of Other)`.
fn line(turn: &Turn<'_>, message: &RoomMessage) -> String {
    let author = match message.author_kind {
        AuthorKind::Agent if message.author_id.as_deref() == Some(turn.agent_id) => {
            format!("You ({})", message.author_name)
        }
        AuthorKind::System => "(room)".to_owned(),
        _ => message.author_name.clone(),
    };
    let note = match (message.kind, message.interrupted) {
        (RoomMessageKind::Critique, _) => " (critique)",
        (_, true) => " (interrupted)",
        _ => "",
    };
    format!("{author}{note}: {}", message.content)
}

/// Whether `text` is a pass: the room's `marker`, ignoring case, surrounding space and a
/// final full stop.
pub fn is_pass(text: &str, marker: &str) -> bool {
    let text = text.trim();
    let text = text.strip_suffix('.').unwrap_or(text).trim();
    text.eq_ignore_ascii_case(marker.trim())
}

#[cfg(test)]
mod tests {
    use hatchery_shared::api::rooms::RoomSettings;

    use super::*;
    use crate::store::{MemberRow, RoomChange};

    fn room(context_tokens: u32) -> RoomRow {
        let member = |id: &str, name: &str| MemberRow {
            agent_id: id.into(),
            name: name.into(),
            role: MemberRole::Participant,
            position: 0,
            thread_id: None,
        };
        RoomRow {
            id: "r".into(),
            owner_id: "u".into(),
            change: RoomChange {
                name: "Debate".into(),
                description: String::new(),
                settings: RoomSettings {
                    context_tokens,
                    ..RoomSettings::default()
                },
            },
            state: hatchery_shared::api::rooms::RoomState::Running,
            turns_taken: 0,
            spent_micros: 0,
            spent_day: String::new(),
            members: vec![member("a", "Ada"), member("b", "Bob")],
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    /// Ada's turn as a participant in `room`.
    fn ada(room: &RoomRow) -> Turn<'_> {
        Turn {
            room,
            agent_id: "a",
            name: "Ada",
            role: MemberRole::Participant,
            judged: None,
        }
    }

    fn said(kind: AuthorKind, id: &str, name: &str, content: &str) -> RoomMessage {
        RoomMessage {
            id: format!("m-{content}"),
            room_id: "r".into(),
            author_kind: kind,
            author_id: Some(id.into()),
            author_name: name.into(),
            kind: RoomMessageKind::Message,
            content: content.into(),
            run_id: None,
            critique_of: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            interrupted: false,
            created_at: String::new(),
        }
    }

    #[test]
    fn others_are_named_and_the_agent_sees_itself_as_you() {
        let room = room(4_000);
        let turn = ada(&room);
        let text = render(
            &turn,
            &[
                said(AuthorKind::Person, "u", "Grace", "Is P = NP?"),
                said(AuthorKind::Agent, "a", "Ada", "Nobody knows."),
                said(AuthorKind::Agent, "b", "Bob", "I think not."),
            ],
        );
        assert!(text.starts_with(
            "You are Ada, in the room \"Debate\" with people and other agents (Bob)."
        ));
        assert!(text.contains("answer exactly PASS"));
        assert!(text.ends_with(
            "oldest first:\nGrace: Is P = NP?\nYou (Ada): Nobody knows.\nBob: I think not."
        ));
    }

    #[test]
    fn only_the_newest_messages_that_fit_the_budget_are_sent() {
        let room = room(200);
        let turn = ada(&room);
        let long = "x".repeat(700);
        let older = "older ".repeat(20);
        let history = [
            said(AuthorKind::Person, "u", "Grace", &long),
            said(AuthorKind::Agent, "b", "Bob", &older),
            said(AuthorKind::Agent, "b", "Bob", &long),
            said(AuthorKind::Person, "u", "Grace", "newest"),
        ];
        let text = render(&turn, &history);
        assert!(text.ends_with(&format!("Bob: {long}\nGrace: newest")));
        assert!(
            !text.contains("Bob: older"),
            "800 bytes fit: the newest two lines (720), not the one before (125 more)"
        );
    }

    #[test]
    fn passes_ignore_case_space_and_a_full_stop() {
        assert!(is_pass(" pass. ", "PASS"));
        assert!(is_pass("PASS", "PASS"));
        assert!(!is_pass("I pass on this one", "PASS"));
    }
}
