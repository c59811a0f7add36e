//! What the scheduler reads and writes: scheduled agents, their failed runs in a row, their
//! next run time, the times they skipped, and their `scheduled` thread.

use chrono::{DateTime, Utc};
use hatchery_shared::api::{audit::AuditAction, threads::ThreadKind};

use super::{AgentRow, Audit, BeginWrite, Store, StoreError, ThreadRow, on_pool};

/// An agent's schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScheduledAgentRow {
    /// The agent.
    pub id: String,
    /// Its cron expression.
    pub schedule: String,
    /// Its time zone.
    pub time_zone: String,
    /// Its status (`error` when its last run failed).
    pub status: String,
    /// When it was last planned to run next.
    pub next_run_at: Option<DateTime<Utc>>,
}

/// A time a schedule came round without a run.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScheduleSkipRow {
    /// The time that was skipped.
    pub due_at: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// Skips kept per agent; older ones are deleted as new ones come.
const SKIPS_KEPT: i64 = 100;

const SCHEDULED: &str = "SELECT id, schedule, time_zone, status, next_run_at FROM agents \
                         WHERE schedule IS NOT NULL AND status <> 'disabled'";

impl Store {
    /// Every agent with a schedule that is not disabled.
    pub async fn scheduled_agents(&self) -> Result<Vec<ScheduledAgentRow>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(SCHEDULED).fetch_all(pool).await?
        }))
    }

    /// The agent `id`'s schedule, unless it has none or is disabled.
    pub async fn scheduled_agent(&self, id: &str) -> Result<Option<ScheduledAgentRow>, StoreError> {
        let sql = format!("{SCHEDULED} AND id = $1");
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        }))
    }

    /// How many of the agent's latest ended scheduled runs failed in a row (looking at no
    /// more than `limit`), and when the newest of them ended.
    pub async fn schedule_failures(
        &self,
        agent_id: &str,
        limit: u32,
    ) -> Result<(u32, Option<DateTime<Utc>>), StoreError> {
        let rows: Vec<(String, Option<DateTime<Utc>>)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT status, finished_at FROM runs \
                 WHERE agent_id = $1 AND triggered_by = 'schedule' \
                       AND status IN ('succeeded', 'failed', 'cancelled') \
                 ORDER BY created_at DESC LIMIT $2",
            )
            .bind(agent_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        let failures = rows
            .iter()
            .take_while(|(status, _)| status == "failed")
            .count();
        let last = rows.first().and_then(|(_, finished)| *finished);
        Ok((u32::try_from(failures).unwrap_or(u32::MAX), last))
    }

    /// Stores when the agent runs next; while its schedule backs off after failures, also
    /// puts it in `error` with `backing_off` as the reason (unless it is disabled). Returns
    /// the agent when that changed it.
    pub async fn set_next_run(
        &self,
        agent_id: &str,
        next: Option<DateTime<Utc>>,
        backing_off: Option<&str>,
    ) -> Result<Option<AgentRow>, StoreError> {
        let changed = on_pool!(self, |pool| {
            let next_changed = sqlx::query(
                "UPDATE agents SET next_run_at = $2 \
                 WHERE id = $1 AND next_run_at IS DISTINCT FROM $2",
            )
            .bind(agent_id)
            .bind(next)
            .execute(pool)
            .await?
            .rows_affected();
            let status_changed = match backing_off {
                Some(reason) => sqlx::query(
                    "UPDATE agents SET status = 'error', last_error = $2, updated_at = $3 \
                     WHERE id = $1 AND status <> 'disabled' \
                           AND last_error IS DISTINCT FROM $2",
                )
                .bind(agent_id)
                .bind(reason)
                .bind(super::now())
                .execute(pool)
                .await?
                .rows_affected(),
                None => 0,
            };
            next_changed + status_changed > 0
        });
        if changed {
            self.agent(agent_id).await
        } else {
            Ok(None)
        }
    }

    /// Records that `agent_id`'s time `due_at` did not run, and why; keeps the latest
    /// skips of the agent only.
    pub async fn record_schedule_skip(
        &self,
        agent_id: &str,
        due_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO schedule_skips (id, agent_id, due_at, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(super::new_id())
            .bind(agent_id)
            .bind(due_at)
            .bind(reason)
            .bind(super::now())
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM schedule_skips WHERE agent_id = $1 AND id NOT IN \
                 (SELECT id FROM schedule_skips WHERE agent_id = $1 \
                  ORDER BY due_at DESC LIMIT $2)",
            )
            .bind(agent_id)
            .bind(SKIPS_KEPT)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The agent's latest skipped times, newest first.
    pub async fn schedule_skips(
        &self,
        agent_id: &str,
        limit: u32,
    ) -> Result<Vec<ScheduleSkipRow>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT due_at, reason FROM schedule_skips WHERE agent_id = $1 \
                 ORDER BY due_at DESC LIMIT $2",
            )
            .bind(agent_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        }))
    }

    /// The agent's `scheduled` thread, created on first use; `None` when the agent is gone.
    pub async fn scheduled_thread(&self, agent_id: &str) -> Result<Option<ThreadRow>, StoreError> {
        let existing: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM threads WHERE agent_id = $1 AND kind = 'scheduled' \
                 ORDER BY id LIMIT 1",
            )
            .bind(agent_id)
            .fetch_optional(pool)
            .await?
        });
        match existing {
            Some(id) => self.thread(&id).await,
            None => {
                let audit =
                    Audit::by_system(AuditAction::ThreadCreated, "for the agent's scheduled runs");
                self.create_thread(agent_id, "Scheduled runs", ThreadKind::Scheduled, &audit)
                    .await
            }
        }
    }
}
