//! The scheduler's view of the agents: their schedules in the database, runs started
//! through the runner in each agent's `scheduled` thread, and the next run times announced
//! to the agent's watchers.

use chrono::{DateTime, Utc};
use hatchery_shared::{
    api::{agents::AgentStatus, runs::RunTrigger},
    realtime::Message,
};

use super::{announce, event_view};
use crate::{
    realtime::Realtime,
    runner::{Runner, StartError, StartRequest, ThreadChoice},
    scheduler::{
        Fired, Planned, Schedules,
        schedule::{Schedule, parse_time_zone},
    },
    store::{ScheduledAgentRow, Store},
};

/// Failed runs looked at to count failures in a row.
const FAILURES_LOOKED_AT: u32 = 32;

/// Schedules of the agents in the database.
#[derive(Debug, Clone)]
pub struct Live {
    store: Store,
    runner: Runner,
    realtime: Realtime,
}

impl Live {
    /// The schedules in `store`, whose runs `runner` starts, announced on `realtime`.
    pub(super) fn new(store: Store, runner: Runner, realtime: Realtime) -> Self {
        Self {
            store,
            runner,
            realtime,
        }
    }

    async fn planned(&self, row: ScheduledAgentRow) -> Option<Planned> {
        let schedule = parse_time_zone(&row.time_zone)
            .and_then(|zone| Schedule::parse(&row.schedule, zone))
            .inspect_err(|err| {
                tracing::warn!(agent = %row.id, error = %err, "an agent's stored schedule does not parse");
            })
            .ok()?;
        // Only an agent whose last run failed can have failed scheduled runs in a row.
        let (failures, last_failure_at) = if row.status == AgentStatus::Error.as_str() {
            self.store
                .schedule_failures(&row.id, FAILURES_LOOKED_AT)
                .await
                .inspect_err(|err| tracing::error!(error = %err, "cannot count failed runs"))
                .unwrap_or_default()
        } else {
            (0, None)
        };
        Some(Planned {
            agent_id: row.id,
            schedule,
            stored_next: row.next_run_at,
            failures,
            last_failure_at,
        })
    }
}

impl Schedules for Live {
    async fn all(&self) -> Vec<Planned> {
        let rows = self.store.scheduled_agents().await.unwrap_or_else(|err| {
            tracing::error!(error = %err, "cannot load the scheduled agents");
            Vec::new()
        });
        let mut planned = Vec::with_capacity(rows.len());
        for row in rows {
            planned.extend(self.planned(row).await);
        }
        planned
    }

    async fn one(&self, agent_id: &str) -> Option<Planned> {
        match self.store.scheduled_agent(agent_id).await {
            Ok(row) => self.planned(row?).await,
            Err(err) => {
                tracing::error!(agent = %agent_id, error = %err, "cannot load a schedule");
                None
            }
        }
    }

    async fn fire(&self, agent_id: &str, due: DateTime<Utc>) -> Fired {
        tracing::info!(agent = %agent_id, due = %due, "scheduled run due");
        let thread = match self.store.scheduled_thread(agent_id).await {
            Ok(Some(thread)) => thread,
            Ok(None) => return Fired::Gone,
            Err(err) => return Fired::Skipped(format!("the database failed: {err}")),
        };
        let agent = match self.store.agent(agent_id).await {
            Ok(Some(agent)) => agent,
            Ok(None) => return Fired::Gone,
            Err(err) => return Fired::Skipped(format!("the database failed: {err}")),
        };
        let task = agent.change.task_instructions.trim().to_owned();
        if task.is_empty() {
            return Fired::Skipped("the agent has no task instructions to run".into());
        }
        let request = StartRequest {
            agent,
            thread: ThreadChoice::Existing(thread.id),
            input: task,
            trigger: RunTrigger::Schedule,
            delivery: None,
            observer: None,
            audit: None,
        };
        match self.runner.start(request).await {
            Ok(_) => Fired::Started,
            Err(StartError::Busy) => {
                Fired::Skipped("the previous scheduled run was still going".into())
            }
            Err(StartError::Disabled) => Fired::Gone,
            Err(err) => Fired::Skipped(err.to_string()),
        }
    }

    async fn skipped(&self, agent_id: &str, due: DateTime<Utc>, reason: &str) {
        tracing::info!(agent = %agent_id, due = %due, reason, "scheduled time skipped");
        if let Err(err) = self.store.record_schedule_skip(agent_id, due, reason).await {
            tracing::error!(agent = %agent_id, error = %err, "cannot record a skipped time");
        }
    }

    async fn planned(
        &self,
        agent_id: &str,
        next: Option<DateTime<Utc>>,
        backing_off: Option<String>,
    ) {
        match self
            .store
            .set_next_run(agent_id, next, backing_off.as_deref())
            .await
        {
            Ok(Some(row)) => {
                announce(
                    &self.realtime,
                    &row,
                    Message::AgentUpdated(event_view(&row)),
                )
                .await;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!(agent = %agent_id, error = %err, "cannot store the next run time")
            }
        }
    }
}
