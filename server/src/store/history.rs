//! Run history and usage: pages of runs filtered by owner, agent, status, trigger and time,
//! newest first, and their runs, tokens and cost added up per day, agent or model.

use chrono::{DateTime, Utc};
use hatchery_shared::api::{
    runs::{RunStatus, RunTrigger},
    usage::{UsageBucket, UsageFigures, UsageGroup},
};

use sqlx::Row;

use super::{Store, StoreError, on_pool, runs::RawRun};

/// Which runs a list or a sum covers.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs of this user's agents.
    pub owner_id: Option<String>,
    /// Only runs of this agent.
    pub agent_id: Option<String>,
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// Only runs started this way.
    pub trigger: Option<RunTrigger>,
    /// Only runs created at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only runs created before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// Where a page of runs starts: after the run created at this instant with this id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCursor {
    /// The last run's creation time.
    pub created_at: DateTime<Utc>,
    /// The last run's id.
    pub id: String,
}

impl RunCursor {
    /// The cursor after `run`, as the API hands it out (safe in a query string as is).
    pub fn after(run: &super::RunRow) -> String {
        let time = run
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        format!("{time}_{}", run.id)
    }

    /// Reads a cursor handed out by [`RunCursor::after`]; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let (time, id) = text.split_once('_')?;
        Some(Self {
            created_at: DateTime::parse_from_rfc3339(time).ok()?.to_utc(),
            id: id.to_owned(),
        })
    }
}

/// The `WHERE` clause of `filter` over `runs r`, the keyset
/// condition when `after` is given, and the number of the next parameter.
fn where_clause(filter: &RunFilter, after: Option<&RunCursor>) -> (String, usize) {
    super::Conditions::default()
        .add("r.owner_id =", filter.owner_id.as_ref())
        .add("r.agent_id =", filter.agent_id.as_ref())
        .add("r.status =", filter.status)
        .add("r.triggered_by =", filter.trigger)
        .add("r.created_at >=", filter.from)
        .add("r.created_at <", filter.to)
        .add_before("r.created_at", "r.id", after)
        .finish()
}

/// Binds the parameters of [`where_clause`] in its order.
macro_rules! bind_filter {
    ($query:expr, $filter:expr, $after:expr) => {{
        let mut query = $query;
        if let Some(owner) = &$filter.owner_id {
            query = query.bind(owner);
        }
        if let Some(agent) = &$filter.agent_id {
            query = query.bind(agent);
        }
        if let Some(status) = $filter.status {
            query = query.bind(status.as_str());
        }
        if let Some(trigger) = $filter.trigger {
            query = query.bind(trigger.as_str());
        }
        if let Some(from) = $filter.from {
            query = query.bind(from);
        }
        if let Some(to) = $filter.to {
            query = query.bind(to);
        }
        if let Some(after) = $after {
            query = query.bind(after.created_at).bind(&after.id);
        }
        query
    }};
}

#[derive(sqlx::FromRow)]
struct RawBucket {
    key: String,
    label: String,
    runs: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cost_micros: i64,
}

impl From<RawBucket> for UsageBucket {
    fn from(raw: RawBucket) -> Self {
        let count = |n: i64| u64::try_from(n).unwrap_or_default();
        Self {
            key: raw.key,
            label: raw.label,
            figures: UsageFigures {
                runs: count(raw.runs),
                prompt_tokens: count(raw.prompt_tokens),
                completion_tokens: count(raw.completion_tokens),
                cost_usd: raw.cost_micros as f64 / 1_000_000.0,
            },
        }
    }
}

impl Store {
    /// Up to `limit` runs matching `filter`, newest first, after the cursor when given.
    pub async fn runs(
        &self,
        filter: &RunFilter,
        after: Option<&RunCursor>,
        limit: u32,
    ) -> Result<Vec<super::RunRow>, StoreError> {
        let sql = self.runs_sql(filter, after);
        let raws = on_pool!(self, |pool| {
            bind_filter!(sqlx::query_as::<_, RawRun>(&sql), filter, after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// The query plan of [`Store::runs`] for `filter`, one line per step, as the database
    /// explains it.
    pub async fn runs_plan(&self, filter: &RunFilter) -> Result<String, StoreError> {
        let sql = self.runs_sql(filter, None);
        let explain = format!("{} {sql}", self.explain());
        let lines: Vec<String> = on_pool!(self, |pool| {
            let rows = bind_filter!(sqlx::query(&explain), filter, None::<&RunCursor>)
                .bind(50_i64)
                .fetch_all(pool)
                .await?;
            // The plan's text is the last column in both (SQLite's `detail`, PostgreSQL's
            // only one).
            rows.iter()
                .map(|row| row.try_get::<String, _>(row.len() - 1))
                .collect::<Result<_, sqlx::Error>>()?
        });
        Ok(lines.join("\n"))
    }

    fn runs_sql(&self, filter: &RunFilter, after: Option<&RunCursor>) -> String {
        let (clause, limit_param) = where_clause(filter, after);
        format!(
            "SELECT {columns} FROM runs r {clause} \
             ORDER BY r.created_at DESC, r.id DESC LIMIT ${limit_param}",
            columns = super::runs::run_columns("r.")
        )
    }

    /// Runs, tokens and cost of the runs matching `filter`, per `group`: days oldest first,
    /// agents and models costliest first.
    pub async fn usage(
        &self,
        filter: &RunFilter,
        group: UsageGroup,
    ) -> Result<Vec<UsageBucket>, StoreError> {
        let (clause, _) = where_clause(filter, None);
        let (key, label, order) = match group {
            UsageGroup::Day => {
                let day = self.utc_day("r.created_at");
                (day.clone(), day, "key")
            }
            UsageGroup::Agent => (
                "r.agent_id".into(),
                "MAX(a.name)".into(),
                "cost_micros DESC, key",
            ),
            UsageGroup::Model => ("r.model".into(), "r.model".into(), "cost_micros DESC, key"),
        };
        // Only the agents' names need their table.
        let join = match group {
            UsageGroup::Agent => "JOIN agents a ON a.id = r.agent_id",
            UsageGroup::Day | UsageGroup::Model => "",
        };
        let sql = format!(
            "SELECT {key} AS key, {label} AS label, COUNT(*) AS runs, \
                    CAST(SUM(r.prompt_tokens) AS BIGINT) AS prompt_tokens, \
                    CAST(SUM(r.completion_tokens) AS BIGINT) AS completion_tokens, \
                    CAST(SUM(r.cost_micros) AS BIGINT) AS cost_micros \
             FROM runs r {join} {clause} \
             GROUP BY {key} ORDER BY {order}"
        );
        let raws = on_pool!(self, |pool| {
            bind_filter!(
                sqlx::query_as::<_, RawBucket>(&sql),
                filter,
                None::<&RunCursor>
            )
            .fetch_all(pool)
            .await?
        });
        Ok(raws.into_iter().map(Into::into).collect())
    }

    /// The cost of the runs matching `filter`, in millionths of a dollar.
    pub async fn spent(&self, filter: &RunFilter) -> Result<u64, StoreError> {
        let (clause, _) = where_clause(filter, None);
        let sql =
            format!("SELECT CAST(COALESCE(SUM(r.cost_micros), 0) AS BIGINT) FROM runs r {clause}");
        let spent: i64 = on_pool!(self, |pool| {
            bind_filter!(sqlx::query_scalar(&sql), filter, None::<&RunCursor>)
                .fetch_one(pool)
                .await?
        });
        Ok(u64::try_from(spent).unwrap_or_default())
    }
}
