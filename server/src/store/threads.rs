//! Threads of an agent and their messages.

use chrono::{DateTime, Utc};
use hatchery_shared::api::threads::{MessageRole, Thread, ThreadKind, ThreadMessage, ToolCallView};

use super::{Audit, Store, StoreError, audited_change, on_pool};

/// A thread as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadRow {
    /// The thread's id.
    pub id: String,
    /// Its agent.
    pub agent_id: String,
    /// The agent's owner (joined, for authorization).
    pub owner_id: String,
    /// Its title.
    pub title: String,
    /// What started it.
    pub kind: ThreadKind,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl ThreadRow {
    /// The thread as the API shows it.
    pub fn view(&self) -> Thread {
        Thread {
            id: self.id.clone(),
            agent_id: self.agent_id.clone(),
            title: self.title.clone(),
            kind: self.kind,
            created_at: super::rfc3339(self.created_at),
            updated_at: super::rfc3339(self.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct RawThread {
    id: String,
    agent_id: String,
    owner_id: String,
    title: String,
    kind: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<RawThread> for ThreadRow {
    type Error = StoreError;

    fn try_from(raw: RawThread) -> Result<Self, StoreError> {
        Ok(Self {
            kind: super::parse_column("threads.kind", &raw.kind)?,
            id: raw.id,
            agent_id: raw.agent_id,
            owner_id: raw.owner_id,
            title: raw.title,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
        })
    }
}

const THREAD_COLUMNS: &str =
    "t.id, t.agent_id, a.owner_id, t.title, t.kind, t.created_at, t.updated_at";

/// A `messages` row as read.
#[derive(sqlx::FromRow)]
pub(super) struct RawMessage {
    id: String,
    thread_id: String,
    role: String,
    content: String,
    tool_calls: Option<String>,
    tool_call_id: Option<String>,
    tool_name: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    cut_off: bool,
    created_at: DateTime<Utc>,
}

impl TryFrom<RawMessage> for ThreadMessage {
    type Error = StoreError;

    fn try_from(raw: RawMessage) -> Result<Self, StoreError> {
        let tool_calls: Vec<ToolCallView> = match &raw.tool_calls {
            Some(json) => serde_json::from_str(json).map_err(|err| {
                StoreError::Database(sqlx::Error::Decode(
                    format!("messages.tool_calls is not a list of calls: {err}").into(),
                ))
            })?,
            None => Vec::new(),
        };
        let role: MessageRole = super::parse_column("messages.role", &raw.role)?;
        Ok(Self {
            id: raw.id,
            thread_id: raw.thread_id,
            role,
            content: raw.content,
            tool_calls,
            tool_call_id: raw.tool_call_id,
            tool_name: raw.tool_name,
            prompt_tokens: raw.prompt_tokens.and_then(|n| u64::try_from(n).ok()),
            completion_tokens: raw.completion_tokens.and_then(|n| u64::try_from(n).ok()),
            cut_off: raw.cut_off,
            created_at: super::rfc3339(raw.created_at),
        })
    }
}

const MESSAGE_COLUMNS: &str = "id, thread_id, role, content, tool_calls, tool_call_id, tool_name, \
                               prompt_tokens, completion_tokens, cut_off, created_at";

impl Store {
    /// Creates a thread of `agent_id`.
    pub async fn create_thread(
        &self,
        agent_id: &str,
        title: &str,
        kind: ThreadKind,
        audit: &Audit,
    ) -> Result<Option<ThreadRow>, StoreError> {
        let id = super::new_id();
        let inserted = audited_change!(
            self,
            audit,
            "thread",
            &id,
            "INSERT INTO threads (id, agent_id, title, kind, created_at, updated_at) \
                 SELECT $1, id, $3, $4, $5, $5 FROM agents WHERE id = $2 \
                 RETURNING (SELECT owner_id FROM agents WHERE id = $2) AS subject",
            |query = sqlx::query_scalar::<_, String>| query.bind(&id).bind(agent_id).bind(title).bind(kind.as_str()).bind(super::now())
        )?
        .is_some();
        if !inserted {
            return Ok(None);
        }
        self.thread(&id).await
    }

    /// The thread `id`, with its agent's owner.
    pub async fn thread(&self, id: &str) -> Result<Option<ThreadRow>, StoreError> {
        let sql = format!(
            "SELECT {THREAD_COLUMNS} FROM threads t JOIN agents a ON a.id = t.agent_id \
             WHERE t.id = $1"
        );
        let raw = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawThread>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        raw.map(TryInto::try_into).transpose()
    }

    /// Up to `limit` threads of `agent_id`, newest first, after the thread id `before`.
    pub async fn threads(
        &self,
        agent_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ThreadRow>, StoreError> {
        let (clause, limit_param) = super::Conditions::default()
            .add("t.agent_id =", Some(agent_id))
            .add("t.id <", before)
            .finish();
        let sql = format!(
            "SELECT {THREAD_COLUMNS} FROM threads t JOIN agents a ON a.id = t.agent_id \
             {clause} ORDER BY t.id DESC LIMIT ${limit_param}"
        );
        let raws = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, RawThread>(&sql).bind(agent_id);
            if let Some(before) = before {
                query = query.bind(before);
            }
            query.bind(i64::from(limit)).fetch_all(pool).await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Renames a thread; false when it does not exist.
    pub async fn rename_thread(
        &self,
        id: &str,
        title: &str,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        self.change_thread(
            "UPDATE threads SET title = $2, updated_at = $3 WHERE id = $1 \
             RETURNING (SELECT owner_id FROM agents WHERE agents.id = threads.agent_id) AS subject",
            id,
            Some(title),
            audit,
        )
        .await
    }

    /// Deletes a thread and its messages, with its audit record; false when it does not
    /// exist.
    pub async fn delete_thread(&self, id: &str, audit: &Audit) -> Result<bool, StoreError> {
        self.change_thread(
            "DELETE FROM threads WHERE id = $1 \
             RETURNING (SELECT owner_id FROM agents WHERE agents.id = threads.agent_id) AS subject",
            id,
            None,
            audit,
        )
        .await
    }

    /// Runs `sql` (which changes the thread `$1`, given the title `$2` and the time `$3`
    /// when `title` is given, and returns its owner as `subject`) with the audit record of
    /// the change;
    /// false when the thread does not exist.
    async fn change_thread(
        &self,
        sql: &str,
        id: &str,
        title: Option<&str>,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let changed = audited_change!(
            self,
            audit,
            "thread",
            id,
            sql,
            |query = sqlx::query_scalar::<_, String>| {
                let query = query.bind(id);
                match title {
                    Some(title) => query.bind(title).bind(super::now()),
                    None => query,
                }
            }
        )?
        .is_some();
        Ok(changed)
    }

    /// The latest `limit` messages of a thread, oldest first; with `within_runs`, only those
    /// written since the start of the thread's latest `within_runs + 1` runs (the newest
    /// run and as many before it).
    pub async fn latest_messages(
        &self,
        thread_id: &str,
        limit: u32,
        within_runs: Option<u32>,
    ) -> Result<Vec<ThreadMessage>, StoreError> {
        // With fewer runs than that, the subquery finds none and every message counts.
        let since = if within_runs.is_some() {
            "AND created_at >= COALESCE((SELECT created_at FROM runs WHERE thread_id = $1 \
                                         ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET $3), \
                                        created_at)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = $1 {since} \
             ORDER BY id DESC LIMIT $2"
        );
        let raws = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, RawMessage>(&sql)
                .bind(thread_id)
                .bind(i64::from(limit));
            if let Some(runs) = within_runs {
                query = query.bind(i64::from(runs));
            }
            query.fetch_all(pool).await?
        });
        let mut messages = raws
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<ThreadMessage>, _>>()?;
        messages.reverse();
        Ok(messages)
    }

    /// Up to `limit` messages of a thread, oldest first, after the message id `after`.
    pub async fn messages(
        &self,
        thread_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ThreadMessage>, StoreError> {
        let (clause, limit_param) = super::Conditions::default()
            .add("thread_id =", Some(thread_id))
            .add("id >", after)
            .finish();
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages {clause} ORDER BY id LIMIT ${limit_param}"
        );
        let raws = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, RawMessage>(&sql).bind(thread_id);
            if let Some(after) = after {
                query = query.bind(after);
            }
            query.bind(i64::from(limit)).fetch_all(pool).await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }
}
