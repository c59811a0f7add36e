//! Rooms, their members and their messages, and the counters that keep a room within its
//! caps (turns taken, what its agents spent today).

use chrono::{DateTime, Utc};
use hatchery_shared::api::rooms::{
    AuthorKind, MemberActivity, MemberRole, Room, RoomMember, RoomMessage, RoomMessageKind,
    RoomSettings, RoomState,
};

use super::{Audit, BeginWrite, Store, StoreError, audited_change, insert_audit, on_pool};

/// Millionths of a dollar in a dollar.
const MICROS: f64 = 1_000_000.0;

/// A room as stored, with its members in turn order.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomRow {
    /// The room's id.
    pub id: String,
    /// Its owner.
    pub owner_id: String,
    /// What a create or an update writes.
    pub change: RoomChange,
    /// Where its conversation is.
    pub state: RoomState,
    /// Agent turns taken so far.
    pub turns_taken: u64,
    /// What its agents spent on the UTC day they last spent, in millionths of a dollar.
    pub spent_micros: u64,
    /// That day (`2026-12-02`).
    pub spent_day: String,
    /// Its agents, in turn order.
    pub members: Vec<MemberRow>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The fields of a room that people set, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomChange {
    /// Its name, unique per owner.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// How its conversation runs.
    pub settings: RoomSettings,
}

/// An agent in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// The agent.
    pub agent_id: String,
    /// Its name (joined).
    pub name: String,
    /// What it does in the room.
    pub role: MemberRole,
    /// Its place in the turn order.
    pub position: u32,
    /// Its thread in this room, once it has taken a turn.
    pub thread_id: Option<String>,
}

impl RoomRow {
    /// What the room's agents spent today (UTC), in millionths of a dollar.
    pub fn spent_today(&self) -> u64 {
        if self.spent_day == today() {
            self.spent_micros
        } else {
            0
        }
    }

    /// The room as the API shows it, with each member's `activity` and the current `round`
    /// from the room's live state.
    pub fn view(&self, activity: impl Fn(&str) -> MemberActivity, round: u32) -> Room {
        Room {
            id: self.id.clone(),
            owner_id: self.owner_id.clone(),
            name: self.change.name.clone(),
            description: self.change.description.clone(),
            state: self.state,
            settings: self.change.settings.clone(),
            members: self
                .members
                .iter()
                .map(|member| RoomMember {
                    agent_id: member.agent_id.clone(),
                    name: member.name.clone(),
                    role: member.role,
                    position: member.position,
                    activity: activity(&member.agent_id),
                })
                .collect(),
            turns_taken: self.turns_taken,
            round,
            cost_today_usd: self.spent_today() as f64 / MICROS,
            created_at: super::rfc3339(self.created_at),
            updated_at: super::rfc3339(self.updated_at),
        }
    }
}

/// A room message to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRoomMessageRow {
    /// Who wrote it.
    pub author_kind: AuthorKind,
    /// The person or agent.
    pub author_id: Option<String>,
    /// Their name now.
    pub author_name: String,
    /// What it is.
    pub kind: RoomMessageKind,
    /// The text.
    pub content: String,
    /// The run that wrote it.
    pub run_id: Option<String>,
    /// For a critique: the message it judges.
    pub critique_of: Option<String>,
    /// Prompt tokens of the turn.
    pub prompt_tokens: u64,
    /// Completion tokens of the turn.
    pub completion_tokens: u64,
    /// What the turn cost, in millionths of a dollar: added to the room's spending today.
    pub cost_micros: u64,
    /// Whether the reply was cut off.
    pub interrupted: bool,
}

impl NewRoomMessageRow {
    /// A message of the room itself.
    pub fn system(content: String) -> Self {
        Self {
            author_kind: AuthorKind::System,
            author_id: None,
            author_name: "Room".into(),
            kind: RoomMessageKind::System,
            content,
            run_id: None,
            critique_of: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_micros: 0,
            interrupted: false,
        }
    }
}

/// Why a room may not take another turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnRefusal {
    /// Its `max_turns` are taken.
    Turns(u64),
    /// Its agents spent its daily cost cap (in millionths of a dollar).
    Cost(u64),
    /// It no longer exists.
    Gone,
}

#[derive(sqlx::FromRow)]
struct RawRoom {
    id: String,
    owner_id: String,
    name: String,
    description: String,
    state: String,
    turn_policy: String,
    max_rounds_per_message: i64,
    max_turns: i64,
    daily_cost_cap_micros: Option<i64>,
    pass_marker: String,
    critics_visible_to_agents: bool,
    context_tokens: i64,
    turns_taken: i64,
    spent_day: String,
    spent_micros: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const ROOM_COLUMNS: &str = "id, owner_id, name, description, state, turn_policy, \
                            max_rounds_per_message, max_turns, daily_cost_cap_micros, \
                            pass_marker, critics_visible_to_agents, context_tokens, turns_taken, \
                            spent_day, spent_micros, created_at, updated_at";

impl RawRoom {
    fn into_row(self, members: Vec<MemberRow>) -> Result<RoomRow, StoreError> {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(RoomRow {
            change: RoomChange {
                name: self.name,
                description: self.description,
                settings: RoomSettings {
                    turn_policy: super::parse_column("rooms.turn_policy", &self.turn_policy)?,
                    max_rounds_per_message: u32::try_from(self.max_rounds_per_message).unwrap_or(1),
                    max_turns: count(self.max_turns),
                    daily_cost_cap_usd: self
                        .daily_cost_cap_micros
                        .map(|micros| count(micros) as f64 / MICROS),
                    pass_marker: self.pass_marker,
                    critics_visible_to_agents: self.critics_visible_to_agents,
                    context_tokens: u32::try_from(self.context_tokens).unwrap_or(0),
                },
            },
            state: super::parse_column("rooms.state", &self.state)?,
            id: self.id,
            owner_id: self.owner_id,
            turns_taken: count(self.turns_taken),
            spent_day: self.spent_day,
            spent_micros: count(self.spent_micros),
            members,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawMember {
    room_id: String,
    agent_id: String,
    name: String,
    role: String,
    position: i64,
    thread_id: Option<String>,
}

const MEMBER_SQL: &str = "SELECT m.room_id, m.agent_id, a.name, m.role, m.position, m.thread_id \
                          FROM room_members m JOIN agents a ON a.id = m.agent_id";

impl TryFrom<RawMember> for MemberRow {
    type Error = StoreError;

    fn try_from(raw: RawMember) -> Result<Self, StoreError> {
        Ok(Self {
            role: super::parse_column("room_members.role", &raw.role)?,
            agent_id: raw.agent_id,
            name: raw.name,
            position: u32::try_from(raw.position).unwrap_or(0),
            thread_id: raw.thread_id,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RawRoomMessage {
    id: String,
    room_id: String,
    author_kind: String,
    author_id: Option<String>,
    author_name: String,
    kind: String,
    content: String,
    run_id: Option<String>,
    critique_of: Option<String>,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
    interrupted: bool,
    created_at: DateTime<Utc>,
}

const MESSAGE_COLUMNS: &str = "id, room_id, author_kind, author_id, author_name, kind, content, \
                               run_id, critique_of, prompt_tokens, completion_tokens, \
                               cost_micros, interrupted, created_at";

impl TryFrom<RawRoomMessage> for RoomMessage {
    type Error = StoreError;

    fn try_from(raw: RawRoomMessage) -> Result<Self, StoreError> {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Self {
            author_kind: super::parse_column("room_messages.author_kind", &raw.author_kind)?,
            kind: super::parse_column("room_messages.kind", &raw.kind)?,
            id: raw.id,
            room_id: raw.room_id,
            author_id: raw.author_id,
            author_name: raw.author_name,
            content: raw.content,
            run_id: raw.run_id,
            critique_of: raw.critique_of,
            prompt_tokens: count(raw.prompt_tokens),
            completion_tokens: count(raw.completion_tokens),
            cost_usd: count(raw.cost_micros) as f64 / MICROS,
            interrupted: raw.interrupted,
            created_at: super::rfc3339(raw.created_at),
        })
    }
}

/// Where a page of a room's messages starts: before this message (by time, then id).
pub type RoomMessageCursor = String;

/// Today's UTC date, as `spent_day` holds it.
fn today() -> String {
    super::now().format("%Y-%m-%d").to_string()
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A dollar amount in millionths.
fn micros(usd: f64) -> i64 {
    (usd * MICROS).round() as i64
}

/// Binds the settings of a [`RoomChange`] to `$query`, in the order of the room's columns
/// from `name` to `context_tokens`.
macro_rules! bind_change {
    ($query:expr, $change:expr) => {{
        let settings = &$change.settings;
        $query
            .bind(&$change.name)
            .bind(&$change.description)
            .bind(settings.turn_policy.as_str())
            .bind(i64::from(settings.max_rounds_per_message))
            .bind(to_i64(settings.max_turns))
            .bind(settings.daily_cost_cap_usd.map(micros))
            .bind(&settings.pass_marker)
            .bind(settings.critics_visible_to_agents)
            .bind(i64::from(settings.context_tokens))
    }};
}

impl Store {
    /// Creates a room owned by `owner_id` with its first `members` (agents that exist, in
    /// turn order), in one transaction; a name the owner already uses is a conflict.
    pub async fn create_room(
        &self,
        owner_id: &str,
        change: &RoomChange,
        members: &[(String, MemberRole)],
        audit: &Audit,
    ) -> Result<RoomRow, StoreError> {
        let id = super::new_id();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            bind_change!(
                sqlx::query(
                    "INSERT INTO rooms (id, owner_id, name, description, turn_policy, \
                                        max_rounds_per_message, max_turns, \
                                        daily_cost_cap_micros, pass_marker, \
                                        critics_visible_to_agents, context_tokens, created_at, \
                                        updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                )
                .bind(&id)
                .bind(owner_id),
                change
            )
            .bind(super::now())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::unique("a room with this name"))?;
            for (position, (agent_id, role)) in members.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO room_members (room_id, agent_id, role, position) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&id)
                .bind(agent_id)
                .bind(role.as_str())
                .bind(i64::try_from(position).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::unique("this agent in the room"))?;
            }
            insert_audit!(&mut *tx, audit, "room", &id, Some(owner_id))?;
            tx.commit().await?;
        });
        self.room(&id)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// The room `id` with its members.
    pub async fn room(&self, id: &str) -> Result<Option<RoomRow>, StoreError> {
        let sql = format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = $1");
        let members_sql = format!("{MEMBER_SQL} WHERE m.room_id = $1 ORDER BY m.position, a.name");
        let (raw, members) = on_pool!(self, |pool| {
            let raw = sqlx::query_as::<_, RawRoom>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            let members = match raw {
                Some(_) => {
                    sqlx::query_as::<_, RawMember>(&members_sql)
                        .bind(id)
                        .fetch_all(pool)
                        .await?
                }
                None => Vec::new(),
            };
            (raw, members)
        });
        let Some(raw) = raw else {
            return Ok(None);
        };
        let members = members
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?;
        raw.into_row(members).map(Some)
    }

    /// Up to `limit` rooms of `owner_id` (all rooms when `None`), newest first, after the
    /// room `after`, each with its members.
    pub async fn rooms(
        &self,
        owner_id: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RoomRow>, StoreError> {
        let (clause, limit_param) = super::Conditions::default()
            .add("owner_id =", owner_id)
            .add("id <", after)
            .finish();
        let sql = format!(
            "SELECT {ROOM_COLUMNS} FROM rooms {clause} ORDER BY id DESC LIMIT ${limit_param}"
        );
        let (raws, members) = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, RawRoom>(&sql);
            if let Some(owner) = owner_id {
                query = query.bind(owner);
            }
            if let Some(after) = after {
                query = query.bind(after);
            }
            let raws = query.bind(i64::from(limit)).fetch_all(pool).await?;
            // The members of this page's rooms, in one query.
            let members = if raws.is_empty() {
                Vec::new()
            } else {
                let ids = (1..=raws.len())
                    .map(|n| format!("${n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql =
                    format!("{MEMBER_SQL} WHERE m.room_id IN ({ids}) ORDER BY m.position, a.name");
                let mut query = sqlx::query_as::<_, RawMember>(&sql);
                for raw in &raws {
                    query = query.bind(&raw.id);
                }
                query.fetch_all(pool).await?
            };
            (raws, members)
        });
        let mut members: Vec<(String, MemberRow)> = members
            .into_iter()
            .map(|raw| Ok((raw.room_id.clone(), raw.try_into()?)))
            .collect::<Result<_, StoreError>>()?;
        raws.into_iter()
            .map(|raw| {
                let (own, rest) = members
                    .drain(..)
                    .partition(|(room_id, _)| *room_id == raw.id);
                members = rest;
                raw.into_row(own.into_iter().map(|(_, member)| member).collect())
            })
            .collect()
    }

    /// Writes `change` over the room `id`, with its audit record; `None` when it no longer
    /// exists.
    pub async fn update_room(
        &self,
        id: &str,
        change: &RoomChange,
        audit: &Audit,
    ) -> Result<Option<RoomRow>, StoreError> {
        let updated = audited_change!(
            self,
            audit,
            "room",
            id,
            "UPDATE rooms SET name = $2, description = $3, turn_policy = $4, \
                    max_rounds_per_message = $5, max_turns = $6, daily_cost_cap_micros = $7, \
                    pass_marker = $8, critics_visible_to_agents = $9, context_tokens = $10, \
                    updated_at = $11 \
             WHERE id = $1 RETURNING owner_id AS subject",
            |query = sqlx::query_scalar::<_, String>| {
                bind_change!(query.bind(id), change).bind(super::now())
            }
        )
        .map_err(StoreError::unique("a room with this name"))?
        .is_some();
        if !updated {
            return Ok(None);
        }
        self.room(id).await
    }

    /// Sets the state of the room `id`; false when it no longer exists.
    pub async fn set_room_state(&self, id: &str, state: RoomState) -> Result<bool, StoreError> {
        let updated = on_pool!(self, |pool| {
            sqlx::query("UPDATE rooms SET state = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(state.as_str())
                .bind(super::now())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    /// Deletes the room `id` with its members and messages, with its audit record; true
    /// when it existed.
    pub async fn delete_room(&self, id: &str, audit: &Audit) -> Result<bool, StoreError> {
        let deleted = audited_change!(
            self,
            audit,
            "room",
            id,
            "DELETE FROM rooms WHERE id = $1 RETURNING owner_id AS subject",
            |query = sqlx::query_scalar::<_, String>| query.bind(id)
        )?
        .is_some();
        Ok(deleted)
    }

    /// Adds the agent `agent_id` to the room `room_id` with `role` at `position` (after the
    /// others when `None`), or changes its role and place if it is there already. Touches
    /// nothing of the room's conversation.
    pub async fn put_room_member(
        &self,
        room_id: &str,
        agent_id: &str,
        role: MemberRole,
        position: Option<u32>,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO room_members (room_id, agent_id, role, position) \
                 VALUES ($1, $2, $3, COALESCE($4, \
                     (SELECT COALESCE(MAX(position) + 1, 0) FROM room_members WHERE room_id = $1))) \
                 ON CONFLICT (room_id, agent_id) DO UPDATE \
                 SET role = excluded.role, \
                     position = COALESCE($4, room_members.position)",
            )
            .bind(room_id)
            .bind(agent_id)
            .bind(role.as_str())
            .bind(position.map(i64::from))
            .execute(&mut *tx)
            .await?;
            let owner: String = sqlx::query_scalar(
                "UPDATE rooms SET updated_at = $2 WHERE id = $1 RETURNING owner_id",
            )
            .bind(room_id)
            .bind(super::now())
            .fetch_one(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit, "room", room_id, Some(&owner))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Takes the agent `agent_id` out of the room `room_id`; false when it was not in it.
    pub async fn remove_room_member(
        &self,
        room_id: &str,
        agent_id: &str,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let removed = audited_change!(
            self,
            audit,
            "room",
            room_id,
            "DELETE FROM room_members WHERE room_id = $1 AND agent_id = $2 \
                 RETURNING (SELECT owner_id FROM rooms WHERE rooms.id = room_members.room_id) AS subject",
            |query = sqlx::query_scalar::<_, String>| query.bind(room_id).bind(agent_id)
        )?
        .is_some();
        Ok(removed)
    }

    /// Remembers the thread in which the agent `agent_id` takes its turns in `room_id`.
    pub async fn set_member_thread(
        &self,
        room_id: &str,
        agent_id: &str,
        thread_id: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE room_members SET thread_id = $3 WHERE room_id = $1 AND agent_id = $2",
            )
            .bind(room_id)
            .bind(agent_id)
            .bind(thread_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Counts a turn of the room `id` if it is within its caps (turns taken, and what its
    /// agents spent today), atomically: of two turns racing for the last one, one gets it.
    pub async fn take_room_turn(&self, id: &str) -> Result<Result<(), TurnRefusal>, StoreError> {
        let today = today();
        let taken = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE rooms SET turns_taken = turns_taken + 1 \
                 WHERE id = $1 AND turns_taken < max_turns \
                   AND (daily_cost_cap_micros IS NULL OR spent_day <> $2 \
                        OR spent_micros < daily_cost_cap_micros)",
            )
            .bind(id)
            .bind(&today)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if taken == 1 {
            return Ok(Ok(()));
        }
        Ok(Err(match self.room(id).await? {
            None => TurnRefusal::Gone,
            Some(room) if room.turns_taken >= room.change.settings.max_turns => {
                TurnRefusal::Turns(room.change.settings.max_turns)
            }
            Some(room) => TurnRefusal::Cost(room.spent_today()),
        }))
    }

    /// Adds `cost_micros` to what the room `id` spent today.
    pub async fn spend_in_room(&self, id: &str, cost_micros: u64) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(SPEND_SQL)
                .bind(id)
                .bind(today())
                .bind(to_i64(cost_micros))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Stores a message in the room `room_id`, adding its cost to what the room spent today
    /// in the same transaction.
    pub async fn store_room_message(
        &self,
        room_id: &str,
        message: &NewRoomMessageRow,
    ) -> Result<RoomMessage, StoreError> {
        let sql = format!(
            "INSERT INTO room_messages (id, room_id, author_kind, author_id, author_name, kind, \
                                        content, run_id, critique_of, prompt_tokens, \
                                        completion_tokens, cost_micros, interrupted, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             RETURNING {MESSAGE_COLUMNS}"
        );
        let raw = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let raw = sqlx::query_as::<_, RawRoomMessage>(&sql)
                .bind(super::new_id())
                .bind(room_id)
                .bind(message.author_kind.as_str())
                .bind(&message.author_id)
                .bind(&message.author_name)
                .bind(message.kind.as_str())
                .bind(&message.content)
                .bind(&message.run_id)
                .bind(&message.critique_of)
                .bind(to_i64(message.prompt_tokens))
                .bind(to_i64(message.completion_tokens))
                .bind(to_i64(message.cost_micros))
                .bind(message.interrupted)
                .bind(super::now())
                .fetch_one(&mut *tx)
                .await?;
            if message.cost_micros > 0 {
                sqlx::query(SPEND_SQL)
                    .bind(room_id)
                    .bind(today())
                    .bind(to_i64(message.cost_micros))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            raw
        });
        raw.try_into()
    }

    /// The newest `limit` messages of the room `room_id`, oldest first, leaving out
    /// critiques unless `with_critiques`: what an agent's turn sees (at most `limit` rows
    /// read, however long the room's history).
    pub async fn latest_room_messages(
        &self,
        room_id: &str,
        limit: u32,
        with_critiques: bool,
    ) -> Result<Vec<RoomMessage>, StoreError> {
        let critiques = if with_critiques {
            ""
        } else {
            "AND kind <> 'critique'"
        };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM room_messages WHERE room_id = $1 {critiques} \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let raws = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawRoomMessage>(&sql)
                .bind(room_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        let mut messages = raws
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<RoomMessage>, _>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// Up to `limit` messages of the room `room_id`, newest first, before the message
    /// `before` when given.
    pub async fn room_messages(
        &self,
        room_id: &str,
        before: Option<&RoomMessageCursor>,
        limit: u32,
    ) -> Result<Vec<RoomMessage>, StoreError> {
        let after_cursor = if before.is_some() {
            "AND (created_at, id) < (SELECT created_at, id FROM room_messages \
                                     WHERE id = $3 AND room_id = $1)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM room_messages WHERE room_id = $1 {after_cursor} \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let raws = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, RawRoomMessage>(&sql)
                .bind(room_id)
                .bind(i64::from(limit));
            if let Some(before) = before {
                query = query.bind(before);
            }
            query.fetch_all(pool).await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Sets every room a stop left running or paused back to idle; returns their ids.
    pub async fn reset_busy_rooms(&self) -> Result<Vec<String>, StoreError> {
        let ids = on_pool!(self, |pool| {
            sqlx::query_scalar::<_, String>(
                "UPDATE rooms SET state = 'idle', updated_at = $1 WHERE state <> 'idle' \
                 RETURNING id",
            )
            .bind(super::now())
            .fetch_all(pool)
            .await?
        });
        Ok(ids)
    }
}

/// Adds `$3` millionths of a dollar to what the room `$1` spent on the day `$2`, starting
/// the day afresh when the last spending was on another day.
const SPEND_SQL: &str = "UPDATE rooms SET \
                             spent_micros = CASE WHEN spent_day = $2 THEN spent_micros + $3 \
                                                 ELSE $3 END, \
                             spent_day = $2 \
                         WHERE id = $1";
