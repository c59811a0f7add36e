//! Agents: their settings and state, listed by owner or all, newest first.

use chrono::{DateTime, Utc};
use hatchery_shared::api::agents::{AgentStatus, Tool};

use super::{Store, StoreError, on_pool};

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
}

impl TryFrom<RawAgent> for AgentRow {
    type Error = StoreError;

    fn try_from(raw: RawAgent) -> Result<Self, StoreError> {
        let tools = serde_json::from_str(&raw.tools).map_err(|err| {
            StoreError::Database(sqlx::Error::Decode(
                format!("agents.tools is not a list of tools: {err}").into(),
            ))
        })?;
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
        })
    }
}

pub(super) const COLUMNS: &str = "id, owner_id, name, system_instructions, task_instructions, model, \
                       temperature, tools, schedule, time_zone, schedule_memory_runs, status, \
                       last_error, last_run_at, next_run_at, created_at, updated_at";

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
    /// Creates an agent owned by `owner_id`.
    pub async fn create_agent(
        &self,
        owner_id: &str,
        change: &AgentChange,
    ) -> Result<AgentRow, StoreError> {
        let sql = format!(
            "INSERT INTO agents (id, owner_id, name, system_instructions, task_instructions, \
                                 model, temperature, tools, schedule, time_zone, \
                                 schedule_memory_runs, status, next_run_at, created_at, \
                                 updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) \
             RETURNING {COLUMNS}"
        );
        let raw = on_pool!(self, |pool| {
            bind_change!(
                sqlx::query_as::<_, RawAgent>(&sql)
                    .bind(super::new_id())
                    .bind(owner_id),
                change
            )
            .bind(super::now())
            .fetch_one(pool)
            .await?
        });
        raw.try_into()
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

    /// Writes `change` over the agent `id`; `None` when it no longer exists.
    pub async fn update_agent(
        &self,
        id: &str,
        change: &AgentChange,
    ) -> Result<Option<AgentRow>, StoreError> {
        let sql = format!(
            "UPDATE agents SET name = $2, system_instructions = $3, task_instructions = $4, \
                    model = $5, temperature = $6, tools = $7, schedule = $8, time_zone = $9, \
                    schedule_memory_runs = $10, status = $11, next_run_at = $12, \
                    updated_at = $13 \
             WHERE id = $1 RETURNING {COLUMNS}"
        );
        let raw = on_pool!(self, |pool| {
            bind_change!(sqlx::query_as::<_, RawAgent>(&sql).bind(id), change)
                .bind(super::now())
                .fetch_optional(pool)
                .await?
        });
        raw.map(TryInto::try_into).transpose()
    }

    /// Deletes the agent `id`; true when it existed.
    pub async fn delete_agent(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM agents WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted == 1)
    }
}
