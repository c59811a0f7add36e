//! The Rooms service: several agents and people in one conversation. Every change to a room
//! goes write → announce on `room:{id}`; what happens in a room's conversation — a person
//! speaking, the agents' rounds, pause, resume, stop — goes through the room's
//! [`conductor`], one tracked task per room in motion, so that commands never overlap.
//! Each agent's turn is a run started through the runner's single entry point.
//!
//! Storage is in `store::rooms`, routes in `http::rooms`.

mod conductor;
mod settings;
mod transcript;
mod turn;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use hatchery_shared::{
    api::{
        FieldErrors,
        audit::AuditAction,
        rooms::{
            AuthorKind, MAX_ROOM_MEMBERS, MAX_ROOM_MESSAGE_CHARS, MemberActivity, MemberRole,
            NewMember, NewRoom, Room, RoomMessage, RoomMessageKind, RoomPatch,
        },
    },
    realtime::{Message, Topic},
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::conductor::Command;
use crate::{
    realtime::Realtime,
    runner::Runner,
    store::{Actor, Audit, NewRoomMessageRow, RoomRow, Store, StoreError},
};

/// Commands that may wait for a room's conductor; more at once are refused as busy.
const COMMANDS_PER_ROOM: usize = 16;

/// Why a change to a room, or something said in it, was refused.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    /// The room, or the agent named, is gone (or never was).
    #[error("there is no {0}")]
    NotFound(String),
    /// Fields are not valid, each with its reason.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The room is not in a state that allows it.
    #[error("{0}")]
    Conflict(String),
    /// Too many requests for this room are waiting.
    #[error("this room has too many requests waiting; try again in a moment")]
    Busy,
    /// The server is stopping.
    #[error("the server is shutting down; try again in a moment")]
    ShuttingDown,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RoomError {
    fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid(FieldErrors::from([(field.to_owned(), message.to_owned())]))
    }
}

/// The Rooms service. Cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms").finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    realtime: Realtime,
    runner: Runner,
    /// The command queue of each room's conductor, while it runs.
    conductors: Mutex<HashMap<String, mpsc::Sender<Command>>>,
    /// What each room in motion is doing, for its views.
    live: Mutex<HashMap<String, Live>>,
    tasks: TaskTracker,
    stopping: CancellationToken,
}

/// What a room in motion is doing: each member's activity and the round under way.
#[derive(Debug, Clone, Default)]
struct Live {
    activity: HashMap<String, MemberActivity>,
    round: u32,
}

impl Rooms {
    /// Rooms stored in `store`, announced on `realtime`, whose turns `runner` runs.
    pub fn new(store: Store, realtime: Realtime, runner: Runner) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                realtime,
                runner,
                conductors: Mutex::default(),
                live: Mutex::default(),
                tasks: TaskTracker::new(),
                stopping: CancellationToken::new(),
            }),
        }
    }

    /// Sets the rooms a stop left running or paused back to idle, each with a system message
    /// saying that its round was interrupted by a restart. Called once at start-up.
    pub async fn recover(&self) -> Result<(), StoreError> {
        let store = &self.inner.store;
        for id in store.reset_busy_rooms().await? {
            let message = NewRoomMessageRow::system(
                "The round was interrupted by a restart of the server; write again to go on."
                    .into(),
            );
            store.store_room_message(&id, &message).await?;
        }
        Ok(())
    }

    /// Creates a room owned by `owner_id`, with its first members, as `actor` asks.
    pub async fn create(
        &self,
        actor: &Actor,
        owner_id: &str,
        new: NewRoom,
    ) -> Result<Room, RoomError> {
        let change = settings::new_change(&new).map_err(RoomError::Invalid)?;
        if new.members.len() > MAX_ROOM_MEMBERS {
            return Err(RoomError::invalid(
                "members",
                &format!("a room holds at most {MAX_ROOM_MEMBERS} agents"),
            ));
        }
        let mut members: Vec<(String, MemberRole)> = Vec::with_capacity(new.members.len());
        for (index, member) in new.members.iter().enumerate() {
            let field = format!("members[{index}].agent_id");
            let role = self.member_role(owner_id, member, &field).await?;
            if members.iter().any(|(id, _)| *id == member.agent_id) {
                return Err(RoomError::invalid(
                    &field,
                    "this agent is in the list twice",
                ));
            }
            members.push((member.agent_id.clone(), role));
        }
        let row = self
            .inner
            .store
            .create_room(
                owner_id,
                &change,
                &members,
                &Audit::new(
                    actor,
                    AuditAction::RoomCreated,
                    format!("named {:?} with {} agents", change.name, members.len()),
                ),
            )
            .await
            .map_err(name_taken)?;
        Ok(self.announce(&row).await)
    }

    /// The room as the API shows it, with what its members are doing right now.
    pub fn view(&self, row: &RoomRow) -> Room {
        let live = self.live().get(&row.id).cloned().unwrap_or_default();
        row.view(
            |agent_id| {
                live.activity
                    .get(agent_id)
                    .copied()
                    .unwrap_or(MemberActivity::Idle)
            },
            live.round,
        )
    }

    /// Changes the fields `patch` gives of `current`; the next turn follows the new
    /// settings.
    pub async fn update(
        &self,
        actor: &Actor,
        current: &RoomRow,
        patch: RoomPatch,
    ) -> Result<Room, RoomError> {
        let fields: Vec<&str> = [
            ("name", patch.name.is_some()),
            ("description", patch.description.is_some()),
            ("settings", patch.settings.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, given)| given.then_some(field))
        .collect();
        let change = settings::patched(current, patch).map_err(RoomError::Invalid)?;
        let audit = Audit::new(actor, AuditAction::RoomUpdated, fields.join(", "));
        let row = self
            .inner
            .store
            .update_room(&current.id, &change, &audit)
            .await
            .map_err(name_taken)?
            .ok_or_else(|| RoomError::NotFound(format!("room {}", current.id)))?;
        Ok(self.announce(&row).await)
    }

    /// Deletes `row` with its members and messages, as `actor` asks; its turns in flight
    /// stop first.
    pub async fn delete(&self, actor: &Actor, row: &RoomRow) -> Result<(), RoomError> {
        let _stopped = self
            .command_if_running(&row.id, |reply| Command::Stop { reply })
            .await?;
        let audit = Audit::new(
            actor,
            AuditAction::RoomDeleted,
            format!("named {:?}", row.change.name),
        );
        if !self.inner.store.delete_room(&row.id, &audit).await? {
            return Err(RoomError::NotFound(format!("room {}", row.id)));
        }
        Ok(())
    }

    /// Adds an agent of the room's owner to `row` (with the role of [`Self::member_role`]),
    /// or changes its role or place. Cheap however long the conversation: nothing of it is
    /// read.
    pub async fn put_member(
        &self,
        actor: &Actor,
        row: &RoomRow,
        member: NewMember,
    ) -> Result<Room, RoomError> {
        let role = self.member_role(&row.owner_id, &member, "agent_id").await?;
        let is_new = !row.members.iter().any(|m| m.agent_id == member.agent_id);
        if is_new && row.members.len() >= MAX_ROOM_MEMBERS {
            return Err(RoomError::invalid(
                "agent_id",
                &format!("a room holds at most {MAX_ROOM_MEMBERS} agents"),
            ));
        }
        self.inner
            .store
            .put_room_member(
                &row.id,
                &member.agent_id,
                role,
                member.position,
                &Audit::new(
                    actor,
                    AuditAction::RoomMemberPut,
                    format!("agent {} as {}", member.agent_id, role.as_str()),
                ),
            )
            .await?;
        self.reannounce(&row.id).await
    }

    /// Takes the agent `agent_id` out of `row`, as `actor` asks; what it said stays.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        row: &RoomRow,
        agent_id: &str,
    ) -> Result<Room, RoomError> {
        let audit = Audit::new(
            actor,
            AuditAction::RoomMemberRemoved,
            format!("agent {agent_id}"),
        );
        if !self
            .inner
            .store
            .remove_room_member(&row.id, agent_id, &audit)
            .await?
        {
            return Err(RoomError::NotFound(format!(
                "agent {agent_id} in this room"
            )));
        }
        self.reannounce(&row.id).await
    }

    /// A person (`user_id`) speaks in `row`: replies in flight are cut off (their text
    /// kept, marked interrupted), the message is stored, and a new round starts that sees
    /// it (unless the room is paused). Returns the message as stored.
    pub async fn speak(
        &self,
        row: &RoomRow,
        user_id: &str,
        content: String,
    ) -> Result<RoomMessage, RoomError> {
        let chars = content.trim().chars().count();
        if chars == 0 || chars > MAX_ROOM_MESSAGE_CHARS {
            return Err(RoomError::invalid(
                "content",
                &format!("write 1 to {MAX_ROOM_MESSAGE_CHARS} characters"),
            ));
        }
        let author = self
            .inner
            .store
            .user(user_id)
            .await?
            .map_or_else(|| "Someone".to_owned(), |user| user.display_name);
        let message = NewRoomMessageRow {
            author_kind: AuthorKind::Person,
            author_id: Some(user_id.to_owned()),
            author_name: author,
            kind: RoomMessageKind::Message,
            content,
            ..NewRoomMessageRow::system(String::new())
        };
        self.command(&row.id, true, |reply| Command::Speak { message, reply })
            .await?
    }

    /// Pauses `row`, as `actor` asks: the turns in flight finish and no new one starts
    /// until resumed.
    pub async fn pause(&self, actor: &Actor, row: &RoomRow) -> Result<Room, RoomError> {
        let paused = self
            .command_if_running(&row.id, |reply| Command::Pause { reply })
            .await?
            .unwrap_or_else(|| Err(RoomError::Conflict("the room is not running".into())))?;
        self.controlled(actor, row, "paused").await?;
        Ok(paused)
    }

    /// Resumes a paused `row` where it stopped, as `actor` asks.
    pub async fn resume(&self, actor: &Actor, row: &RoomRow) -> Result<Room, RoomError> {
        let resumed = self
            .command_if_running(&row.id, |reply| Command::Resume { reply })
            .await?
            .unwrap_or_else(|| Err(RoomError::Conflict("the room is not paused".into())))?;
        self.controlled(actor, row, "resumed").await?;
        Ok(resumed)
    }

    /// Stops `row`, as `actor` asks: replies in flight are cut off as by a person's
    /// message, and no new round starts. A room at rest is left as it is.
    pub async fn stop(&self, actor: &Actor, row: &RoomRow) -> Result<Room, RoomError> {
        let stopped = match self
            .command_if_running(&row.id, |reply| Command::Stop { reply })
            .await?
        {
            Some(stopped) => stopped?,
            None => return self.reannounce(&row.id).await,
        };
        self.controlled(actor, row, "stopped").await?;
        Ok(stopped)
    }

    /// Records that `actor` paused, resumed or stopped `row` (`how`). The room's conductor
    /// writes the state itself, so the record follows the change rather than sharing its
    /// transaction.
    async fn controlled(&self, actor: &Actor, row: &RoomRow, how: &str) -> Result<(), RoomError> {
        let audit = Audit::new(actor, AuditAction::RoomControlled, how);
        self.inner
            .store
            .record_audit(&audit, "room", &row.id, Some(&row.owner_id))
            .await?;
        Ok(())
    }

    /// Stops every room's conductor: no new turn starts, the turns in flight end with their
    /// runs (which the runner's shutdown gives their grace period), and the rooms are left
    /// as they are, for [`Self::recover`] at the next start.
    pub async fn shutdown(&self) {
        self.inner.stopping.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// The role `member` takes in a room of `owner_id`: the one asked for, else the one its
    /// agent's file suggests, else participant; refused (on `field`) unless the agent is
    /// one of the owner's.
    async fn member_role(
        &self,
        owner_id: &str,
        member: &NewMember,
        field: &str,
    ) -> Result<MemberRole, RoomError> {
        match self.inner.store.agent(&member.agent_id).await? {
            Some(agent) if agent.owner_id == owner_id => Ok(member
                .role
                .or_else(|| agent.file.and_then(|file| file.room_role))
                .unwrap_or(MemberRole::Participant)),
            _ => Err(RoomError::invalid(field, "there is no such agent of yours")),
        }
    }

    /// Reads the room `id` again and announces it.
    async fn reannounce(&self, id: &str) -> Result<Room, RoomError> {
        let row = self.current(id).await?;
        Ok(self.announce(&row).await)
    }

    /// The room `id` as stored now.
    async fn current(&self, id: &str) -> Result<RoomRow, RoomError> {
        self.inner
            .store
            .room(id)
            .await?
            .ok_or_else(|| RoomError::NotFound(format!("room {id}")))
    }

    /// Stores what the room `room_id` itself says (a cap reached, a turn that failed) and
    /// publishes it.
    async fn say(&self, room_id: &str, text: String) {
        let message = NewRoomMessageRow::system(text);
        match self.inner.store.store_room_message(room_id, &message).await {
            Ok(stored) => self.publish_message(&stored).await,
            Err(err) => {
                tracing::error!(room = %room_id, error = %err, "cannot store a room's message");
            }
        }
    }

    /// Publishes a stored message on its room's topic: `critique_created` for a critique,
    /// `room_message_created` for anything else.
    async fn publish_message(&self, message: &RoomMessage) {
        let event = if message.kind == RoomMessageKind::Critique {
            Message::CritiqueCreated(message.clone())
        } else {
            Message::RoomMessageCreated(message.clone())
        };
        self.inner
            .realtime
            .publish(&Topic::room(&message.room_id), event)
            .await;
    }

    /// Publishes `row` as `room_updated` on its topic; returns it as the API shows it.
    async fn announce(&self, row: &RoomRow) -> Room {
        let room = self.view(row);
        self.inner
            .realtime
            .publish(&Topic::room(&row.id), Message::RoomUpdated(room.clone()))
            .await;
        room
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, Live>> {
        self.inner
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn conductors(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::Sender<Command>>> {
        self.inner
            .conductors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a command to the conductor of room `id` and waits for its answer; starts the
    /// conductor first when it is not running.
    async fn command<T>(
        &self,
        id: &str,
        start: bool,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, RoomError> {
        self.command_to(id, start, make)
            .await?
            .ok_or_else(|| RoomError::Conflict("the room is not running".into()))
    }

    /// Sends a command to the conductor of room `id` if it is running; `None` when it is
    /// not.
    async fn command_if_running<T>(
        &self,
        id: &str,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<Option<T>, RoomError> {
        self.command_to(id, false, make).await
    }

    async fn command_to<T>(
        &self,
        id: &str,
        start: bool,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<Option<T>, RoomError> {
        if self.inner.stopping.is_cancelled() {
            return Err(RoomError::ShuttingDown);
        }
        let (reply, answer) = oneshot::channel();
        {
            // Commands are sent under the lock under which a conductor that runs out of
            // work leaves: none is sent to a conductor that has left.
            let mut conductors = self.conductors();
            let sender = match conductors.get(id) {
                Some(sender) => sender.clone(),
                None if start => {
                    let (sender, commands) = mpsc::channel(COMMANDS_PER_ROOM);
                    conductors.insert(id.to_owned(), sender.clone());
                    let rooms = self.clone();
                    let room_id = id.to_owned();
                    self.inner.tasks.spawn(async move {
                        conductor::conduct(rooms, room_id, commands).await;
                    });
                    sender
                }
                None => return Ok(None),
            };
            sender.try_send(make(reply)).map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => RoomError::Busy,
                mpsc::error::TrySendError::Closed(_) => RoomError::ShuttingDown,
            })?;
        }
        answer.await.map(Some).map_err(|_| RoomError::ShuttingDown)
    }
}

/// A name the owner already uses, as the field error it is.
fn name_taken(err: StoreError) -> RoomError {
    match err {
        StoreError::Conflict(_) => {
            RoomError::invalid("name", "you already have a room with this name")
        }
        err => RoomError::Store(err),
    }
}
