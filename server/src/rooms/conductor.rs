//! The conductor of one room: a tracked task that takes the room's commands one at a time
//! and runs its rounds. A person's message cuts off the replies in flight (waiting for
//! their runs to record what they had written), is stored, and starts a new round; so two
//! quick messages never start two overlapping rounds. Each participant's message is judged
//! by the room's critics before the next participant (in `round_robin`) speaks. The
//! conductor leaves once the room is at rest, under the lock under which commands are sent.

use std::collections::VecDeque;

use hatchery_shared::api::rooms::{
    MemberActivity, MemberRole, Room, RoomMessage, RoomState, TurnPolicy,
};
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinSet,
};

use super::{
    RoomError, Rooms,
    turn::{self, TurnDone, TurnEnd},
};
use crate::{
    runner::{CANCELLED_BY_INTERRUPTION, CANCELLED_BY_STOP},
    store::{NewRoomMessageRow, RoomRow, TurnRefusal},
};

/// What a room's conductor is asked to do.
pub enum Command {
    /// A person speaks: cut off the turns in flight, store `message`, start a new round.
    Speak {
        message: NewRoomMessageRow,
        reply: oneshot::Sender<Result<RoomMessage, RoomError>>,
    },
    /// Finish the turns in flight and start no new one.
    Pause {
        reply: oneshot::Sender<Result<Room, RoomError>>,
    },
    /// Go on where the room paused.
    Resume {
        reply: oneshot::Sender<Result<Room, RoomError>>,
    },
    /// Cut off the turns in flight and start no new round.
    Stop {
        reply: oneshot::Sender<Result<Room, RoomError>>,
    },
}

/// The rounds a person's message started: how many may still follow, and the participants
/// yet to speak in this one.
struct Plan {
    /// The round under way, from 1.
    round: u32,
    /// Rounds left, this one included.
    rounds_left: u32,
    /// Participants yet to start their turn in this round, in order.
    waiting: VecDeque<String>,
    /// Whether a participant said something in this round.
    spoke: bool,
    /// Participants that passed in this round.
    passed: usize,
}

struct Conductor {
    rooms: Rooms,
    room_id: String,
    commands: mpsc::Receiver<Command>,
    /// The state last written for the room.
    state: RoomState,
    paused: bool,
    plan: Option<Plan>,
    /// Participants' messages the critics have yet to judge (while the room is paused).
    unjudged: Vec<RoomMessage>,
    /// The turns in flight, each a task of its own: a turn must go on while the conductor
    /// awaits something else, or a turn holding a database write would stall the
    /// conductor's own writes until the database's busy timeout.
    turns: JoinSet<TurnDone>,
    /// Cuts off the turns in flight; replaced after each cut.
    interrupt: watch::Sender<Option<&'static str>>,
}

/// Runs the conductor of room `room_id` until the room is at rest and no command waits, or
/// the server stops.
pub async fn conduct(rooms: Rooms, room_id: String, commands: mpsc::Receiver<Command>) {
    let mut conductor = Conductor {
        rooms,
        room_id,
        commands,
        state: RoomState::Idle,
        paused: false,
        plan: None,
        unjudged: Vec::new(),
        turns: JoinSet::new(),
        interrupt: watch::Sender::new(None),
    };
    conductor.run().await;
}

impl Conductor {
    async fn run(&mut self) {
        let stopping = self.rooms.inner.stopping.clone();
        loop {
            if stopping.is_cancelled() {
                // The runner's shutdown ends the runs; their turns are recorded, and the
                // room is left running for the next start to say it was interrupted.
                self.plan = None;
                while let Some(done) = next_turn(&mut self.turns).await {
                    self.finished(done).await;
                }
                // No command is taken while stopping: the queue is dropped with its replies.
                while !self.leave() {
                    drop(self.commands.try_recv());
                }
                return;
            }
            self.advance().await;
            if self.turns.is_empty() && self.plan.is_none() && !self.paused {
                self.set_state(RoomState::Idle).await;
                if self.leave() {
                    return;
                }
            }
            tokio::select! {
                () = stopping.cancelled() => {}
                Some(done) = next_turn(&mut self.turns), if !self.turns.is_empty() => {
                    self.finished(done).await;
                }
                command = self.commands.recv() => match command {
                    Some(command) => self.handle(command).await,
                    None => return,
                },
            }
        }
    }

    /// Leaves when no command waits (false when one does): forgets the room's command
    /// queue and live state under the lock under which commands are sent, so that a new
    /// conductor started for the room keeps its own.
    fn leave(&mut self) -> bool {
        let mut conductors = self.rooms.conductors();
        if !self.commands.is_empty() {
            return false;
        }
        conductors.remove(&self.room_id);
        self.rooms.live().remove(&self.room_id);
        true
    }

    async fn handle(&mut self, command: Command) {
        match command {
            Command::Speak { message, reply } => {
                let _ = reply.send(self.speak(message).await);
            }
            Command::Pause { reply } => {
                self.paused = true;
                self.set_state(RoomState::Paused).await;
                let _ = reply.send(self.view().await);
            }
            Command::Resume { reply } => {
                if !self.paused {
                    let _ = reply.send(Err(RoomError::Conflict("the room is not paused".into())));
                    return;
                }
                self.paused = false;
                self.set_state(RoomState::Running).await;
                self.judge().await;
                let _ = reply.send(self.view().await);
            }
            Command::Stop { reply } => {
                self.cut_off(CANCELLED_BY_STOP).await;
                self.plan = None;
                self.paused = false;
                self.set_state(RoomState::Idle).await;
                let _ = reply.send(self.view().await);
            }
        }
    }

    /// A person's message: the turns in flight are cut off and recorded first, then the
    /// message is stored and a new round planned.
    async fn speak(&mut self, message: NewRoomMessageRow) -> Result<RoomMessage, RoomError> {
        self.cut_off(CANCELLED_BY_INTERRUPTION).await;
        let stored = self
            .rooms
            .inner
            .store
            .store_room_message(&self.room_id, &message)
            .await?;
        self.rooms.publish_message(&stored).await;
        let room = self.room().await?;
        let participants = participants(&room);
        self.plan = Some(Plan {
            round: 1,
            rounds_left: room.change.settings.max_rounds_per_message,
            waiting: participants,
            spoke: false,
            passed: 0,
        });
        {
            let mut live = self.rooms.live();
            let live = live.entry(self.room_id.clone()).or_default();
            live.activity.clear();
            live.round = 1;
        }
        let state = if self.paused {
            RoomState::Paused
        } else {
            RoomState::Running
        };
        self.set_state(state).await;
        Ok(stored)
    }

    /// Cuts off every turn in flight for `reason` and waits for each to record what it had
    /// written.
    async fn cut_off(&mut self, reason: &'static str) {
        self.unjudged.clear();
        if self.turns.is_empty() {
            return;
        }
        self.interrupt.send_replace(Some(reason));
        while let Some(done) = next_turn(&mut self.turns).await {
            self.record(&done);
        }
        self.interrupt = watch::Sender::new(None);
        self.announce().await;
    }

    /// Starts what the plan calls for next, unless the room is paused or turns are in
    /// flight: the next participant (`round_robin`) or all of them (`all_at_once`), and the
    /// next round once one has ended — none after a round in which every participant
    /// passed.
    async fn advance(&mut self) {
        loop {
            if self.paused || !self.turns.is_empty() || self.plan.is_none() {
                return;
            }
            let Ok(room) = self.room().await else {
                self.plan = None;
                return;
            };
            let participants = participants(&room);
            let Some(plan) = self.plan.as_mut() else {
                return;
            };
            if plan.waiting.is_empty() {
                let all_passed = !plan.spoke && plan.passed > 0;
                plan.rounds_left = plan.rounds_left.saturating_sub(1);
                if !plan.spoke || plan.rounds_left == 0 || participants.is_empty() {
                    self.plan = None;
                    if all_passed {
                        let text =
                            "Every participant passed; the room waits for a person to write.";
                        self.rooms.say(&self.room_id, text.into()).await;
                    }
                    return;
                }
                plan.round += 1;
                plan.waiting = participants;
                plan.spoke = false;
                plan.passed = 0;
                let round = plan.round;
                self.rooms
                    .live()
                    .entry(self.room_id.clone())
                    .or_default()
                    .round = round;
            }
            let starting: Vec<String> = match room.change.settings.turn_policy {
                TurnPolicy::RoundRobin => plan.waiting.pop_front().into_iter().collect(),
                TurnPolicy::AllAtOnce => plan.waiting.drain(..).collect(),
            };
            for agent_id in starting {
                self.launch(&room, &agent_id, None).await;
            }
            if !self.turns.is_empty() {
                self.announce().await;
                return;
            }
        }
    }

    /// Starts the turn of the member `agent_id` (for a critic, on `judged`) if the room is
    /// within its caps; a cap reached ends the plan and the room says so.
    async fn launch(&mut self, room: &RoomRow, agent_id: &str, judged: Option<RoomMessage>) {
        let Some(member) = room.members.iter().find(|m| m.agent_id == agent_id) else {
            return;
        };
        let store = &self.rooms.inner.store;
        let refusal = match store.take_room_turn(&self.room_id).await {
            Ok(Ok(())) => None,
            Ok(Err(refusal)) => Some(refusal),
            Err(err) => {
                tracing::error!(room = %self.room_id, error = %err, "cannot count a room's turn");
                Some(TurnRefusal::Gone)
            }
        };
        if let Some(refusal) = refusal {
            self.plan = None;
            let settings = &room.change.settings;
            let text = match refusal {
                TurnRefusal::Turns(max) => format!(
                    "The room has taken all {max} of its turns (max_turns); raise the limit in \
                     its settings to go on."
                ),
                TurnRefusal::Cost(spent) => format!(
                    "The room's agents spent ${:.4} today, its daily cost cap of ${:.4}; the \
                     conversation stops until tomorrow (UTC) or a higher cap.",
                    spent as f64 / 1_000_000.0,
                    settings.daily_cost_cap_usd.unwrap_or_default(),
                ),
                TurnRefusal::Gone => return,
            };
            self.rooms.say(&self.room_id, text).await;
            return;
        }
        self.rooms
            .live()
            .entry(self.room_id.clone())
            .or_default()
            .activity
            .insert(agent_id.to_owned(), MemberActivity::Thinking);
        self.turns.spawn(turn::take(
            self.rooms.clone(),
            room.clone(),
            member.clone(),
            judged,
            self.interrupt.subscribe(),
        ));
    }

    /// A turn ended: recorded, and a participant's message handed to the critics (unless
    /// the server stops).
    async fn finished(&mut self, done: TurnDone) {
        self.record(&done);
        if let (MemberRole::Participant, TurnEnd::Spoke(message)) = (&done.role, &done.end)
            && !message.interrupted
        {
            self.unjudged.push((**message).clone());
        }
        self.judge().await;
        self.announce().await;
    }

    /// Starts the critics' turns on the messages waiting for them, unless the room is
    /// paused (they start when it resumes) or the server stops.
    async fn judge(&mut self) {
        if self.paused || self.unjudged.is_empty() || self.rooms.inner.stopping.is_cancelled() {
            return;
        }
        let Ok(room) = self.room().await else {
            return;
        };
        let critics: Vec<String> = room
            .members
            .iter()
            .filter(|member| member.role == MemberRole::Critic)
            .map(|member| member.agent_id.clone())
            .collect();
        for judged in std::mem::take(&mut self.unjudged) {
            for critic in &critics {
                self.launch(&room, critic, Some(judged.clone())).await;
            }
        }
    }

    /// What a finished turn means for the plan and the members' activity.
    fn record(&mut self, done: &TurnDone) {
        let activity = match done.end {
            TurnEnd::Passed => MemberActivity::Passed,
            TurnEnd::Spoke(_) | TurnEnd::Silent => MemberActivity::Idle,
        };
        if done.role == MemberRole::Participant
            && let Some(plan) = self.plan.as_mut()
        {
            match done.end {
                TurnEnd::Spoke(_) => plan.spoke = true,
                TurnEnd::Passed => plan.passed += 1,
                TurnEnd::Silent => {}
            }
        }
        self.rooms
            .live()
            .entry(self.room_id.clone())
            .or_default()
            .activity
            .insert(done.agent_id.clone(), activity);
    }

    /// Writes the room's state when it changes, and announces it.
    async fn set_state(&mut self, state: RoomState) {
        if state == self.state {
            return;
        }
        match self
            .rooms
            .inner
            .store
            .set_room_state(&self.room_id, state)
            .await
        {
            Ok(_) => self.state = state,
            Err(err) => {
                tracing::error!(room = %self.room_id, error = %err, "cannot record a room's state");
            }
        }
        self.announce().await;
    }

    /// Announces the room as it now is.
    async fn announce(&mut self) {
        if let Err(err) = self.rooms.reannounce(&self.room_id).await {
            tracing::warn!(room = %self.room_id, error = %err, "cannot announce a room");
        }
    }

    /// The room as the API shows it now.
    async fn view(&mut self) -> Result<Room, RoomError> {
        let row = self.rooms.current(&self.room_id).await?;
        let mut room = self.rooms.view(&row);
        // The conductor decides its room's state: it answers with the state it set.
        room.state = self.state;
        Ok(room)
    }

    /// The room as stored now.
    async fn room(&mut self) -> Result<RoomRow, RoomError> {
        self.rooms.current(&self.room_id).await
    }
}

/// The next turn of `turns` to end; `None` when none is left. A turn that panicked is
/// logged and skipped.
async fn next_turn(turns: &mut JoinSet<TurnDone>) -> Option<TurnDone> {
    while let Some(joined) = turns.join_next().await {
        match joined {
            Ok(done) => return Some(done),
            Err(err) => tracing::error!(error = %err, "a room's turn failed"),
        }
    }
    None
}

/// The room's participants, in turn order.
fn participants(room: &RoomRow) -> VecDeque<String> {
    room.members
        .iter()
        .filter(|member| member.role == MemberRole::Participant)
        .map(|member| member.agent_id.clone())
        .collect()
}
