//! One agent's turn in a room: the room's recent conversation rendered for it, a run started
//! through the runner's single entry point (its stream frames on the room's topic), cut off
//! when the room is interrupted, and what it said stored as the room's message — or nothing,
//! when it passed.

use hatchery_shared::{
    api::{
        rooms::{AuthorKind, MemberRole, RoomMessage, RoomMessageKind},
        runs::{RunStatus, RunTrigger},
        threads::ThreadKind,
    },
    realtime::Topic,
};
use tokio::sync::{oneshot, watch};

use super::{
    Rooms,
    transcript::{self, MAX_MESSAGES_READ},
};
use crate::{
    runner::{Observer, StartRequest, ThreadChoice},
    store::{MemberRow, NewRoomMessageRow, RoomRow},
};

/// Why the turns in flight are being cut off, once they are (`None` until then).
pub type Interrupt = watch::Receiver<Option<&'static str>>;

/// How a turn ended.
#[derive(Debug)]
pub enum TurnEnd {
    /// It said something (cut off if `interrupted`).
    Spoke(Box<RoomMessage>),
    /// It answered with the room's pass marker.
    Passed,
    /// It said nothing: cut off before any text, refused, failed, or its agent is gone
    /// (the room says why where it is worth saying).
    Silent,
}

/// A finished turn: whose and how it ended.
#[derive(Debug)]
pub struct TurnDone {
    /// The agent whose turn it was.
    pub agent_id: String,
    /// What it does in the room.
    pub role: MemberRole,
    /// How it ended.
    pub end: TurnEnd,
}

/// Takes `member`'s turn in `room` (for a critic, on `judged`), cutting its reply off when
/// `interrupt` says so.
pub async fn take(
    rooms: Rooms,
    room: RoomRow,
    member: MemberRow,
    judged: Option<RoomMessage>,
    interrupt: Interrupt,
) -> TurnDone {
    let end = match speak(&rooms, &room, &member, judged, interrupt).await {
        Ok(end) => end,
        Err(problem) => {
            rooms.say(&room.id, problem).await;
            TurnEnd::Silent
        }
    };
    TurnDone {
        agent_id: member.agent_id,
        role: member.role,
        end,
    }
}

/// The turn itself; an error is what the room should say about it.
async fn speak(
    rooms: &Rooms,
    room: &RoomRow,
    member: &MemberRow,
    judged: Option<RoomMessage>,
    mut interrupt: Interrupt,
) -> Result<TurnEnd, String> {
    let store = &rooms.inner.store;
    let name = &member.name;
    let database = |err| format!("{name} could not take its turn: database error: {err}");
    let Some(agent) = store.agent(&member.agent_id).await.map_err(database)? else {
        return Ok(TurnEnd::Silent);
    };
    let settings = &room.change.settings;
    let with_critiques = settings.critics_visible_to_agents || member.role == MemberRole::Critic;
    let history = store
        .latest_room_messages(&room.id, MAX_MESSAGES_READ, with_critiques)
        .await
        .map_err(database)?;
    let input = transcript::render(
        &transcript::Turn {
            room,
            agent_id: &agent.id,
            name: &agent.change.name,
            role: member.role,
            judged: judged.as_ref(),
        },
        &history,
    );
    let thread = match &member.thread_id {
        Some(id) => ThreadChoice::Existing(id.clone()),
        None => ThreadChoice::New {
            kind: ThreadKind::Room,
            title: format!("Room: {}", room.change.name),
        },
    };
    let (ended, outcome) = oneshot::channel();
    let started = rooms
        .inner
        .runner
        .start(StartRequest {
            agent,
            thread,
            input,
            trigger: RunTrigger::Room,
            delivery: None,
            observer: Some(Observer {
                stream_to: Topic::room(&room.id),
                ended,
            }),
            audit: None,
        })
        .await
        .map_err(|err| format!("{name} could not take its turn: {err}"))?;
    if member.thread_id.is_none() {
        store
            .set_member_thread(&room.id, &member.agent_id, &started.run.thread_id)
            .await
            .map_err(database)?;
    }
    let run_id = started.run.id;
    let mut outcome = std::pin::pin!(outcome);
    let outcome = tokio::select! {
        outcome = &mut outcome => outcome,
        reason = interrupted(&mut interrupt) => {
            rooms.inner.runner.cancel(&run_id, reason);
            outcome.await
        }
    };
    let Ok(outcome) = outcome else {
        return Err(format!(
            "{name}'s turn ended without its end being recorded"
        ));
    };
    let run = outcome.run;
    let text = outcome.text.trim();
    let cut_off = run.status == RunStatus::Cancelled;
    let passed = member.role == MemberRole::Participant
        && !cut_off
        && transcript::is_pass(text, &settings.pass_marker);
    if passed || text.is_empty() {
        store
            .spend_in_room(&room.id, run.cost_micros)
            .await
            .map_err(database)?;
        return match (passed, run.status, run.error) {
            (true, _, _) => Ok(TurnEnd::Passed),
            (false, RunStatus::Failed, error) => Err(format!(
                "{name}'s turn failed: {}",
                error.unwrap_or_else(|| "no reason given".into())
            )),
            _ => Ok(TurnEnd::Silent),
        };
    }
    let message = NewRoomMessageRow {
        author_kind: AuthorKind::Agent,
        author_id: Some(member.agent_id.clone()),
        author_name: name.clone(),
        kind: if judged.is_some() {
            RoomMessageKind::Critique
        } else {
            RoomMessageKind::Message
        },
        content: text.to_owned(),
        run_id: Some(run.id),
        critique_of: judged.map(|message| message.id),
        prompt_tokens: run.prompt_tokens,
        completion_tokens: run.completion_tokens,
        cost_micros: run.cost_micros,
        interrupted: cut_off,
    };
    let stored = store
        .store_room_message(&room.id, &message)
        .await
        .map_err(database)?;
    rooms.publish_message(&stored).await;
    Ok(TurnEnd::Spoke(Box::new(stored)))
}

/// Waits until the turns are cut off; returns why.
async fn interrupted(interrupt: &mut Interrupt) -> &'static str {
    loop {
        if let Some(reason) = *interrupt.borrow_and_update() {
            return reason;
        }
        if interrupt.changed().await.is_err() {
            // The conductor is gone without cutting the turn off: it runs to its end.
            std::future::pending::<()>().await;
        }
    }
}
