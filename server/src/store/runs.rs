//! Runs, and the writes a run makes: what starts it (delivery, thread, message, run) in one
//! transaction, the messages of each step in one transaction, its end together with the
//! agent's status.

use chrono::{DateTime, Utc};
use hatchery_shared::api::{
    agents::AgentStatus,
    runs::{Posted, Run, RunStatus, RunTrigger},
    threads::{MessageRole, ThreadKind, ThreadMessage, ToolCallView},
};

use super::{
    AgentRow, Audit, BeginWrite, Store, StoreError, agents::RawAgent, insert_audit, on_pool,
    threads::RawMessage,
};

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    /// The run's id.
    pub id: String,
    /// Its agent.
    pub agent_id: String,
    /// Its thread.
    pub thread_id: String,
    /// Its agent's owner.
    pub owner_id: String,
    /// Where it is.
    pub status: RunStatus,
    /// What started it.
    pub trigger: RunTrigger,
    /// The model called.
    pub model: String,
    /// Prompt tokens over all steps.
    pub prompt_tokens: u64,
    /// Completion tokens over all steps.
    pub completion_tokens: u64,
    /// The cost in millionths of a dollar.
    pub cost_micros: u64,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl RunRow {
    /// The run as the API shows it.
    pub fn view(&self) -> Run {
        let duration_ms = match (self.started_at, self.finished_at) {
            (Some(start), Some(end)) => u64::try_from((end - start).num_milliseconds()).ok(),
            _ => None,
        };
        Run {
            id: self.id.clone(),
            agent_id: self.agent_id.clone(),
            thread_id: self.thread_id.clone(),
            status: self.status,
            trigger: self.trigger,
            model: self.model.clone(),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
            cost_usd: self.cost_micros as f64 / 1_000_000.0,
            error: self.error.clone(),
            created_at: super::rfc3339(self.created_at),
            started_at: self.started_at.map(super::rfc3339),
            finished_at: self.finished_at.map(super::rfc3339),
            duration_ms,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct RawRun {
    id: String,
    agent_id: String,
    thread_id: String,
    owner_id: String,
    status: String,
    triggered_by: String,
    model: String,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<RawRun> for RunRow {
    type Error = StoreError;

    fn try_from(raw: RawRun) -> Result<Self, StoreError> {
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        Ok(Self {
            status: super::parse_column("runs.status", &raw.status)?,
            trigger: super::parse_column("runs.triggered_by", &raw.triggered_by)?,
            id: raw.id,
            agent_id: raw.agent_id,
            thread_id: raw.thread_id,
            owner_id: raw.owner_id,
            model: raw.model,
            prompt_tokens: count(raw.prompt_tokens),
            completion_tokens: count(raw.completion_tokens),
            cost_micros: count(raw.cost_micros),
            error: raw.error,
            created_at: raw.created_at,
            started_at: raw.started_at,
            finished_at: raw.finished_at,
        })
    }
}

const RUN_COLUMNS: [&str; 14] = [
    "id",
    "agent_id",
    "thread_id",
    "owner_id",
    "status",
    "triggered_by",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cost_micros",
    "error",
    "created_at",
    "started_at",
    "finished_at",
];

/// The columns of a run, each prefixed (with a table alias such as `r.`).
pub(super) fn run_columns(prefix: &str) -> String {
    RUN_COLUMNS
        .map(|column| format!("{prefix}{column}"))
        .join(", ")
}
const MESSAGE_COLUMNS: &str = "id, thread_id, role, content, tool_calls, tool_call_id, \
                               tool_name, prompt_tokens, completion_tokens, cut_off, created_at";

/// A message to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessageRow {
    /// Who wrote it.
    pub role: Option<MessageRole>,
    /// Its text.
    pub content: String,
    /// The tools it calls.
    pub tool_calls: Vec<ToolCallView>,
    /// The call a tool message answers.
    pub tool_call_id: Option<String>,
    /// The tool of a tool message.
    pub tool_name: Option<String>,
    /// Prompt tokens of the step.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens of the step.
    pub completion_tokens: Option<u64>,
    /// Whether the text was cut off.
    pub cut_off: bool,
}

/// A verified webhook delivery to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookDelivery<'a> {
    /// The trigger it came to.
    pub trigger_id: &'a str,
    /// Its signature digest (hex): the same one again is a replay.
    pub signature: &'a str,
}

/// The thread a new run writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunThread<'a> {
    /// A thread that exists, by id.
    Existing(&'a str),
    /// A new thread of this kind and title, created with the run.
    New {
        /// What started it (`manual`, `webhook`, …).
        kind: ThreadKind,
        /// Its title.
        title: &'a str,
    },
}

/// What starts a run, stored by [`Store::start_run`].
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    /// The agent that runs.
    pub agent_id: &'a str,
    /// Where it writes.
    pub thread: RunThread<'a>,
    /// Why it runs.
    pub trigger: RunTrigger,
    /// The model it calls.
    pub model: &'a str,
    /// The message it replies to, stored first.
    pub message: &'a NewMessageRow,
    /// The webhook delivery that asked for it, recorded as accepted.
    pub delivery: Option<WebhookDelivery<'a>>,
    /// The audit record of a person starting it, written with it.
    pub audit: Option<&'a Audit>,
}

/// A run just stored: its first message, the run (queued), and the webhook delivery's id
/// when one asked for it.
#[derive(Debug, Clone)]
pub struct StartedRun {
    /// The message the run replies to.
    pub message: ThreadMessage,
    /// The run.
    pub run: RunRow,
    /// The recorded webhook delivery.
    pub delivery_id: Option<String>,
}

impl StartedRun {
    /// The answer to the request that started it: the message and the run.
    pub fn posted(self) -> Posted {
        Posted {
            message: self.message,
            run: self.run.view(),
        }
    }
}

/// What came of [`Store::start_run`].
#[derive(Debug, Clone)]
pub enum RunStart {
    /// Stored.
    Started(Box<StartedRun>),
    /// The thread already has an active run; nothing was stored.
    ThreadBusy,
    /// The delivery's signature was already accepted; nothing was stored.
    Replay,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// `succeeded`, `failed` or `cancelled`.
    pub status: RunStatus,
    /// Prompt tokens over all steps.
    pub prompt_tokens: u64,
    /// Completion tokens over all steps.
    pub completion_tokens: u64,
    /// The cost in millionths of a dollar.
    pub cost_micros: u64,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// Stores what starts a run, in one transaction: the webhook delivery that asked for
    /// it (if any), a new thread (if asked for), the first `message`, and the queued run
    /// replying to it. Nothing is stored when the thread already has an active run, or
    /// when the delivery's signature was already accepted.
    pub async fn start_run(&self, new: &NewRun<'_>) -> Result<RunStart, StoreError> {
        let now = super::now();
        let run_id = super::new_id();
        let message_sql = insert_message_sql();
        let run_sql = format!(
            "INSERT INTO runs (id, agent_id, thread_id, status, triggered_by, model, created_at, \
                               owner_id) \
             VALUES ($1, $2, $3, 'queued', $4, $5, $6, \
                     (SELECT owner_id FROM agents WHERE id = $2)) RETURNING {columns}",
            columns = run_columns("")
        );
        let thread_id = match new.thread {
            RunThread::Existing(id) => id.to_owned(),
            RunThread::New { .. } => super::new_id(),
        };
        let stored = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let delivery_id = match &new.delivery {
                None => None,
                Some(delivery) => {
                    let id = super::new_id();
                    let recorded = sqlx::query(
                        "INSERT INTO trigger_deliveries (id, trigger_id, received_at, outcome, \
                                                         status_code, run_id, signature) \
                         VALUES ($1, $2, $3, 'accepted', 202, $4, $5)",
                    )
                    .bind(&id)
                    .bind(delivery.trigger_id)
                    .bind(now)
                    .bind(&run_id)
                    .bind(delivery.signature)
                    .execute(&mut *tx)
                    .await;
                    match recorded {
                        Ok(_) => Some(id),
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                            return Ok(RunStart::Replay);
                        }
                        Err(err) => return Err(err.into()),
                    }
                }
            };
            if let RunThread::New { kind, title } = new.thread {
                sqlx::query(
                    "INSERT INTO threads (id, agent_id, title, kind, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(&thread_id)
                .bind(new.agent_id)
                .bind(title)
                .bind(kind.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            let raw = bind_message!(
                sqlx::query_as::<_, RawMessage>(&message_sql),
                &thread_id,
                new.message,
                now
            )
            .fetch_one(&mut *tx)
            .await?;
            let run = sqlx::query_as::<_, RawRun>(&run_sql)
                .bind(&run_id)
                .bind(new.agent_id)
                .bind(&thread_id)
                .bind(new.trigger.as_str())
                .bind(new.model)
                .bind(now)
                .fetch_one(&mut *tx)
                .await;
            match run {
                Ok(run) => {
                    if let Some(audit) = new.audit {
                        insert_audit!(&mut *tx, audit, "run", &run_id, Some(&run.owner_id))?;
                    }
                    tx.commit().await?;
                    (raw, run, delivery_id)
                }
                // One active run per thread (a partial unique index).
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    return Ok(RunStart::ThreadBusy);
                }
                Err(err) => return Err(err.into()),
            }
        });
        let (raw, run, delivery_id) = stored;
        Ok(RunStart::Started(Box::new(StartedRun {
            message: raw.try_into()?,
            run: run.try_into()?,
            delivery_id,
        })))
    }

    /// Marks a run running and its agent `running` (unless disabled).
    pub async fn mark_run_running(&self, id: &str) -> Result<Option<RunRow>, StoreError> {
        let now = super::now();
        let sql = format!(
            "UPDATE runs SET status = 'running', started_at = $2 \
             WHERE id = $1 AND status = 'queued' RETURNING {columns}",
            columns = run_columns("")
        );
        let raw = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let raw = sqlx::query_as::<_, RawRun>(&sql)
                .bind(id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(raw) = &raw {
                sqlx::query(
                    "UPDATE agents SET status = 'running', updated_at = $2 \
                     WHERE id = $1 AND status <> 'disabled'",
                )
                .bind(&raw.agent_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            raw
        });
        raw.map(TryInto::try_into).transpose()
    }

    /// Stores the messages of one step in one transaction.
    pub async fn store_messages(
        &self,
        thread_id: &str,
        messages: &[NewMessageRow],
    ) -> Result<Vec<ThreadMessage>, StoreError> {
        let sql = insert_message_sql();
        let raws = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let mut raws = Vec::with_capacity(messages.len());
            for message in messages {
                let now = super::now();
                raws.push(
                    bind_message!(
                        sqlx::query_as::<_, RawMessage>(&sql),
                        thread_id,
                        message,
                        now
                    )
                    .fetch_one(&mut *tx)
                    .await?,
                );
            }
            tx.commit().await?;
            raws
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Ends a run and sets its agent's status to match (`error` with the reason when it
    /// failed, `idle` otherwise; a disabled agent stays disabled). Returns the run and its
    /// agent as they are now.
    pub async fn finish_run(
        &self,
        id: &str,
        end: &RunEnd,
    ) -> Result<Option<(RunRow, AgentRow)>, StoreError> {
        let now = super::now();
        let sql = format!(
            "UPDATE runs SET status = $2, prompt_tokens = $3, completion_tokens = $4, \
                    cost_micros = $5, error = $6, finished_at = $7, \
                    started_at = COALESCE(started_at, $7) \
             WHERE id = $1 RETURNING {columns}",
            columns = run_columns("")
        );
        let (agent_status, last_error) = match end.status {
            RunStatus::Failed => (AgentStatus::Error, end.error.clone()),
            _ => (AgentStatus::Idle, None),
        };
        let agent_sql = format!(
            "UPDATE agents SET status = CASE WHEN status = 'disabled' THEN status \
                                             ELSE $2 END, \
                    last_error = $3, last_run_at = $4, updated_at = $4 \
             WHERE id = $1 RETURNING {}",
            super::agents::COLUMNS
        );
        let rows = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let raw = sqlx::query_as::<_, RawRun>(&sql)
                .bind(id)
                .bind(end.status.as_str())
                .bind(signed(end.prompt_tokens))
                .bind(signed(end.completion_tokens))
                .bind(signed(end.cost_micros))
                .bind(&end.error)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let agent = match &raw {
                Some(raw) => {
                    sqlx::query_as::<_, RawAgent>(&agent_sql)
                        .bind(&raw.agent_id)
                        .bind(agent_status.as_str())
                        .bind(&last_error)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                None => None,
            };
            tx.commit().await?;
            raw.zip(agent)
        });
        rows.map(|(run, agent)| Ok((run.try_into()?, agent.try_into()?)))
            .transpose()
    }

    /// The run `id`.
    pub async fn run(&self, id: &str) -> Result<Option<RunRow>, StoreError> {
        let sql = format!("SELECT {} FROM runs WHERE id = $1", run_columns(""));
        let raw = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawRun>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        raw.map(TryInto::try_into).transpose()
    }

    /// At start-up: runs a crash left queued or running fail ("interrupted by restart") and
    /// their agents go back to idle. Returns how many runs.
    pub async fn fail_interrupted_runs(&self) -> Result<u64, StoreError> {
        let now = super::now();
        let failed = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let failed = sqlx::query(
                "UPDATE runs SET status = 'failed', error = 'interrupted by restart', \
                        finished_at = $1 WHERE status IN ('queued', 'running')",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE agents SET status = 'idle', updated_at = $1 WHERE status = 'running'",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            failed
        });
        Ok(failed)
    }
}

fn insert_message_sql() -> String {
    format!(
        "INSERT INTO messages (id, thread_id, role, content, tool_calls, tool_call_id, tool_name, \
                               prompt_tokens, completion_tokens, cut_off, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {MESSAGE_COLUMNS}"
    )
}

/// Binds a [`NewMessageRow`] of `$thread` written at `$now` to the insert of
/// [`insert_message_sql`].
macro_rules! bind_message {
    ($query:expr, $thread:expr, $message:expr, $now:expr) => {
        $query
            .bind(super::new_id())
            .bind($thread)
            .bind($message.role.unwrap_or(MessageRole::User).as_str())
            .bind(&$message.content)
            .bind((!$message.tool_calls.is_empty()).then(|| {
                serde_json::to_string(&$message.tool_calls).expect("tool calls serialise")
            }))
            .bind(&$message.tool_call_id)
            .bind(&$message.tool_name)
            .bind($message.prompt_tokens.map(signed))
            .bind($message.completion_tokens.map(signed))
            .bind($message.cut_off)
            .bind($now)
    };
}
use bind_message;
