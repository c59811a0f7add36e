//! Agents: their settings and state, listed by owner or all, newest first; agents kept
//! as files, written by the file they come from.

use chrono::{DateTime, Utc};
use hatchery_shared::api::{
    agents::{AgentStatus, Tool},
    rooms::MemberRole,
};

use super::{Audit, BeginWrite, Store, StoreError, audited_change, insert_audit, on_pool};

/// An agent as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    /// The agent's id.
    pub id: String,
    /// Its owner's user id.
    pub owner_id: String,
    /// Its settings and state.
    pub change: AgentChange,
    /// Why the last run failed.
    pub last_error: Option<String>,
    /// When it last ran.
    pub last_run_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The file that defines it, for an agent kept as a file.
    pub file: Option<AgentFileRow>,
}

/// The file an agent kept as a file comes from, as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFileRow {
    /// The file's path.
    pub path: String,
    /// The file's modification time when it was last read, in nanoseconds since 1970: a
    /// different time on disk means the file changed since.
    pub modified_ns: i64,
    /// Why the file's content is not in force (it does not parse, or it was deleted).
    pub error: Option<String>,
    /// The role the agent takes when added to a room without one.
    pub room_role: Option<MemberRole>,
}

/// Everything a create or an update writes, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentChange {
    /// Its name.
    pub name: String,
    /// The system prompt.
    pub system_instructions: String,
    /// The task of scheduled and manual runs.
    pub task_instructions: String,
    /// The model.
    pub model: String,
    /// Sampling temperature.
    pub temperature: f64,
    /// Allowed tools.
    pub tools: Vec<Tool>,
    /// A cron expression.
    pub schedule: Option<String>,
    /// The schedule's IANA time zone.
    pub time_zone: String,
    /// How many earlier scheduled runs a scheduled run sees of its thread.
    pub schedule_memory_runs: u32,
    /// What it is doing.
    pub status: AgentStatus,
    /// When the schedule next fires.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// Which agents a list shows.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    /// Only this user's agents; all agents when `None`.
    pub owner_id: Option<String>,
}

/// Where a page of agents starts: after the agent with this id.
pub type AgentCursor = String;

#[derive(sqlx::FromRow)]
pub(super) struct RawAgent {
    id: String,
    owner_id: String,
    name: String,
    system_instructions: String,
    task_instructions: String,
    model: String,
    temperature: f64,
    tools: String,
    schedule: Option<String>,
    time_zone: String,
    schedule_memory_runs: i64,
    status: String,
    last_error: Option<String>,
    last_run_at: Option<DateTime<Utc>>,
    next_run_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    file_path: Option<String>,
    file_modified_ns: Option<i64>,
    file_error: Option<String>,
    file_room_role: Option<String>,
}

impl super::audit::Subject for RawAgent {
    fn subject(&self) -> &str {
        &self.owner_id
    }
}

impl TryFrom<RawAgent> for AgentRow {
    type Error = StoreError;

    fn try_from(raw: RawAgent) -> Result<Self, StoreError> {
        let tools = serde_json::from_str(&raw.tools).map_err(|err| {
            StoreError::Database(sqlx::Error::Decode(
                format!("agents.tools is not a list of tools: {err}").into(),
            ))
        })?;
        let file = match raw.file_path {
            Some(path) => Some(AgentFileRow {
                path,
                modified_ns: raw.file_modified_ns.unwrap_or_default(),
                error: raw.file_error,
                room_role: raw
                    .file_room_role
                    .map(|role| super::parse_column("agents.file_room_role", &role))
                    .transpose()?,
            }),
            None => None,
        };
        Ok(Self {
            id: raw.id,
            owner_id: raw.owner_id,
            change: AgentChange {
                name: raw.name,
                system_instructions: raw.system_instructions,
                task_instructions: raw.task_instructions,
                model: raw.model,
                temperature: raw.temperature,
                tools,
                schedule: raw.schedule,
                time_zone: raw.time_zone,
                schedule_memory_runs: u32::try_from(raw.schedule_memory_runs).unwrap_or(0),
                status: super::parse_column("agents.status", &raw.status)?,
                next_run_at: raw.next_run_at,
            },
            last_error: raw.last_error,
            last_run_at: raw.last_run_at,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            file,
        })
    }
}

pub(super) const COLUMNS: &str = "id, owner_id, name, system_instructions, task_instructions, model, \
                       temperature, tools, schedule, time_zone, schedule_memory_runs, status, \
                       last_error, last_run_at, next_run_at, created_at, updated_at, \
                       file_path, file_modified_ns, file_error, file_room_role";

/// Binds the fields of an [`AgentChange`] to `$query`, in the order of the agent's columns
/// from `name` to `next_run_at`.
macro_rules! bind_change {
    ($query:expr, $change:expr) => {
        $query
            .bind(&$change.name)
            .bind(&$change.system_instructions)
            .bind(&$change.task_instructions)
            .bind(&$change.model)
            .bind($change.temperature)
            .bind(tools_json(&$change.tools))
            .bind(&$change.schedule)
            .bind(&$change.time_zone)
            .bind(i64::from($change.schedule_memory_runs))
            .bind($change.status.as_str())
            .bind($change.next_run_at)
    };
}

fn tools_json(tools: &[Tool]) -> String {
    serde_json::to_string(tools).expect("a list of tool names serialises")
}

impl Store {
    /// Creates an agent owned by `owner_id`, with its audit record.
    pub async fn create_agent(
        &self,
        owner_id: &str,
        change: &AgentChange,
        audit: &Audit,
    ) -> Result<AgentRow, StoreError> {
        self.put_agent(owner_id, change, None, audit).await
    }

    /// The agent with this id.
    pub async fn agent(&self, id: &str) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM agents WHERE id = $1");
        let raw = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawAgent>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        raw.map(TryInto::try_into).transpose()
    }

    /// Up to `limit` agents matching `filter`, newest first, after the cursor when given.
    pub async fn agents(
        &self,
        filter: &AgentFilter,
        after: Option<&AgentCursor>,
        limit: u32,
    ) -> Result<Vec<AgentRow>, StoreError> {
        let (clause, limit_param) = super::Conditions::default()
            .add("owner_id =", filter.owner_id.as_ref())
            .add("id <", after)
            .finish();
        let sql =
            format!("SELECT {COLUMNS} FROM agents {clause} ORDER BY id DESC LIMIT ${limit_param}");
        let raws = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, RawAgent>(&sql);
            if let Some(owner) = &filter.owner_id {
                query = query.bind(owner);
            }
            if let Some(after) = after {
                query = query.bind(after);
            }
            query.bind(i64::from(limit)).fetch_all(pool).await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Writes `change` over the agent `id`, with its audit record; `None` when it no longer
    /// exists.
    pub async fn update_agent(
        &self,
        id: &str,
        change: &AgentChange,
        audit: &Audit,
    ) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!(
            "UPDATE agents SET name = $2, system_instructions = $3, task_instructions = $4, \
                    model = $5, temperature = $6, tools = $7, schedule = $8, time_zone = $9, \
                    schedule_memory_runs = $10, status = $11, next_run_at = $12, \
                    updated_at = $13 \
             WHERE id = $1 RETURNING {COLUMNS}, owner_id AS subject"
        );
        let raw = audited_change!(
            self,
            audit,
            "agent",
            id,
            &sql,
            |query = sqlx::query_as::<_, RawAgent>| {
                bind_change!(query.bind(id), change).bind(super::now())
            }
        )?;
        raw.map(TryInto::try_into).transpose()
    }

    /// Deletes the agent `id`, with its audit record; true when it existed.
    pub async fn delete_agent(&self, id: &str, audit: &Audit) -> Result<bool, StoreError> {
        let deleted = audited_change!(
            self,
            audit,
            "agent",
            id,
            "DELETE FROM agents WHERE id = $1 RETURNING owner_id AS subject",
            |query = sqlx::query_scalar::<_, String>| query.bind(id)
        )?;
        Ok(deleted.is_some())
    }

    /// The agents kept as files.
    pub async fn file_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM agents WHERE file_path IS NOT NULL");
        let raws = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawAgent>(&sql).fetch_all(pool).await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Writes the agent defined by `file`: a new agent owned by `owner_id` when no agent
    /// comes from that path yet, else `change` and `file` over the existing one. An existing
    /// agent keeps its owner, and its status unless the file disables or enables it (a
    /// running agent stays running).
    pub async fn write_file_agent(
        &self,
        owner_id: &str,
        change: &AgentChange,
        file: &AgentFileRow,
        audit: &Audit,
    ) -> Result<AgentRow, StoreError> {
        self.put_agent(owner_id, change, Some(file), audit).await
    }

    /// Inserts an agent, or (for an agent kept as a file) updates the one from the same
    /// file: without a file, the path is NULL, which never conflicts. With its audit record.
    async fn put_agent(
        &self,
        owner_id: &str,
        change: &AgentChange,
        file: Option<&AgentFileRow>,
        audit: &Audit,
    ) -> Result<AgentRow, StoreError> {
        let sql = format!(
            "INSERT INTO agents (id, owner_id, name, system_instructions, task_instructions, \
                                 model, temperature, tools, schedule, time_zone, \
                                 schedule_memory_runs, status, next_run_at, created_at, \
                                 updated_at, file_path, file_modified_ns, file_error, \
                                 file_room_role) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, \
                     $16, $17, $18) \
             ON CONFLICT (file_path) DO UPDATE SET \
                 name = excluded.name, system_instructions = excluded.system_instructions, \
                 task_instructions = excluded.task_instructions, model = excluded.model, \
                 temperature = excluded.temperature, tools = excluded.tools, \
                 schedule = excluded.schedule, time_zone = excluded.time_zone, \
                 schedule_memory_runs = excluded.schedule_memory_runs, \
                 status = CASE WHEN excluded.status = 'disabled' \
                                    OR agents.status = 'disabled' \
                               THEN excluded.status ELSE agents.status END, \
                 next_run_at = excluded.next_run_at, updated_at = excluded.updated_at, \
                 file_modified_ns = excluded.file_modified_ns, \
                 file_error = excluded.file_error, file_room_role = excluded.file_room_role \
             RETURNING {COLUMNS}"
        );
        let raw = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let raw = bind_change!(
                sqlx::query_as::<_, RawAgent>(&sql)
                    .bind(super::new_id())
                    .bind(owner_id),
                change
            )
            .bind(super::now())
            .bind(file.map(|file| &file.path))
            .bind(file.map(|file| file.modified_ns))
            .bind(file.and_then(|file| file.error.as_ref()))
            .bind(file.and_then(|file| file.room_role).map(MemberRole::as_str))
            .fetch_one(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit, "agent", &raw.id, Some(&raw.owner_id))?;
            tx.commit().await?;
            raw
        });
        raw.try_into()
    }

    /// Records why the file of the agent `id` is not in force, read at `modified_ns`, and
    /// sets its status (a deleted file disables its agent). Its settings stay as they were.
    pub async fn set_agent_file_error(
        &self,
        id: &str,
        modified_ns: i64,
        error: &str,
        status: AgentStatus,
    ) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!(
            "UPDATE agents SET file_modified_ns = $2, file_error = $3, status = $4, \
                    next_run_at = CASE WHEN $4 = 'disabled' THEN NULL ELSE next_run_at END, \
                    updated_at = $5 \
             WHERE id = $1 RETURNING {COLUMNS}"
        );
        let raw = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawAgent>(&sql)
                .bind(id)
                .bind(modified_ns)
                .bind(error)
                .bind(status.as_str())
                .bind(super::now())
                .fetch_optional(pool)
                .await?
        });
        raw.map(TryInto::try_into).transpose()
    }
}
