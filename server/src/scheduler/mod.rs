//! The scheduler: one tracked task that sleeps until the next scheduled agent is due (no
//! polling), starts its run, and plans its next time. A change to an agent, and the end of
//! a scheduled run, wake it to plan that agent again. Occurrences that cannot run (the
//! previous run still going, missed while the server was down) are recorded as skipped;
//! after repeated failures an agent's schedule backs off.

mod clock;
pub mod schedule;

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

pub use self::clock::Clock;
use self::schedule::Schedule;

/// Settings of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How late a time missed while the server was down may still run once at start-up
    /// (`HATCHERY_SCHEDULE_CATCH_UP_SECS`, default 600); older ones are skipped.
    pub catch_up_grace: Duration,
    /// Failed scheduled runs in a row after which the schedule backs off
    /// (`HATCHERY_SCHEDULE_MAX_FAILURES`, default 3).
    pub max_failures: u32,
    /// The first back-off; it doubles with each further failure, up to a day
    /// (`HATCHERY_SCHEDULE_BACKOFF_SECS`, default 300).
    pub backoff: Duration,
    /// Where the time is read (tests start it at a chosen instant).
    pub clock: Clock,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            catch_up_grace: Duration::from_secs(600),
            max_failures: 3,
            backoff: Duration::from_secs(300),
            clock: Clock::System,
        }
    }
}

/// The longest back-off after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest the scheduler sleeps at once, so that a change of the system clock is
/// noticed within this time.
const MAX_SLEEP: Duration = Duration::from_secs(300);

/// An agent's schedule and what the scheduler needs to plan it.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The agent.
    pub agent_id: String,
    /// Its schedule, in its time zone.
    pub schedule: Schedule,
    /// The next run time stored when it was last planned.
    pub stored_next: Option<DateTime<Utc>>,
    /// Its scheduled runs that failed in a row, newest first, up to the last success.
    pub failures: u32,
    /// When the last of those failures ended.
    pub last_failure_at: Option<DateTime<Utc>>,
}

/// What came of a due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// A run started.
    Started,
    /// The time was skipped, for this reason.
    Skipped(String),
    /// The agent is gone or no longer scheduled.
    Gone,
}

/// What the scheduler reads and does: the agents' schedules, starting their runs, and
/// recording what it planned and skipped. The server's are the agents in the database
/// (`agents::schedules::Live`).
pub trait Schedules: Send + Sync + 'static {
    /// Every agent with a schedule that is not disabled.
    fn all(&self) -> impl Future<Output = Vec<Planned>> + Send;
    /// One agent's schedule; `None` when it is gone, disabled or has no schedule.
    fn one(&self, agent_id: &str) -> impl Future<Output = Option<Planned>> + Send;
    /// Starts the run of `agent_id` due at `due`.
    fn fire(&self, agent_id: &str, due: DateTime<Utc>) -> impl Future<Output = Fired> + Send;
    /// Records that the time `due` of `agent_id` did not run, and why.
    fn skipped(
        &self,
        agent_id: &str,
        due: DateTime<Utc>,
        reason: &str,
    ) -> impl Future<Output = ()> + Send;
    /// Records when `agent_id` runs next (`None`: not scheduled) and, while its schedule
    /// backs off after failures, why.
    fn planned(
        &self,
        agent_id: &str,
        next: Option<DateTime<Utc>>,
        backing_off: Option<String>,
    ) -> impl Future<Output = ()> + Send;
}

/// Tells the scheduler that agents changed. Cheap to clone; the scheduler's task holds one
/// too.
#[derive(Debug, Clone, Default)]
pub struct Scheduler {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Agents to plan again: at most one entry per agent.
    changed: Mutex<HashSet<String>>,
    wake: Notify,
    metrics: SchedulerMetrics,
}

/// How late scheduled times fire, and how many are skipped.
#[derive(Debug, Clone)]
pub struct SchedulerMetrics {
    /// `hatchery_schedule_lag_seconds`: when a time fired, minus when it was due.
    pub lag: prometheus::Histogram,
    /// `hatchery_schedule_skips_total{reason}` (`missed`: the server was down past the
    /// catch-up grace; `refused`: a run was still going or a cap refused it).
    pub skips: prometheus::IntCounterVec,
}

impl Default for SchedulerMetrics {
    fn default() -> Self {
        Self {
            lag: prometheus::Histogram::with_opts(
                prometheus::HistogramOpts::new(
                    "hatchery_schedule_lag_seconds",
                    "How late scheduled times fired",
                )
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 300.0]),
            )
            .expect("valid histogram options"),
            skips: prometheus::IntCounterVec::new(
                prometheus::Opts::new(
                    "hatchery_schedule_skips_total",
                    "Scheduled times that did not run, by reason",
                ),
                &["reason"],
            )
            .expect("valid counter options"),
        }
    }
}

impl Scheduler {
    /// A scheduler whose task is not started yet (see [`Scheduler::start`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A scheduler as [`Scheduler::new`], whose metrics are in `registry`.
    pub fn with_metrics(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let scheduler = Self::new();
        let metrics = &scheduler.shared.metrics;
        for reason in ["missed", "refused"] {
            metrics.skips.with_label_values(&[reason]);
        }
        registry.register(Box::new(metrics.lag.clone()))?;
        registry.register(Box::new(metrics.skips.clone()))?;
        Ok(scheduler)
    }

    /// Plans `agent_id` again: after it was created, changed, enabled, disabled or deleted,
    /// or one of its scheduled runs ended.
    pub fn agent_changed(&self, agent_id: &str) {
        self.shared
            .changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(agent_id.to_owned());
        self.shared.wake.notify_one();
    }

    /// Starts the scheduler's task on `tasks`; it stops when `stop` is cancelled.
    pub fn start<S: Schedules>(
        &self,
        schedules: S,
        config: SchedulerConfig,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) {
        let task = Task {
            shared: self.shared.clone(),
            schedules,
            config,
            agenda: Agenda::default(),
        };
        tasks.spawn(task.run(stop));
    }
}

/// The agents' next times, soonest first.
#[derive(Debug, Default)]
struct Agenda {
    queue: BTreeSet<(DateTime<Utc>, String)>,
    entries: HashMap<String, (DateTime<Utc>, Schedule)>,
}

impl Agenda {
    fn set(&mut self, agent_id: &str, due: DateTime<Utc>, schedule: Schedule) {
        self.remove(agent_id);
        self.queue.insert((due, agent_id.to_owned()));
        self.entries.insert(agent_id.to_owned(), (due, schedule));
    }

    fn remove(&mut self, agent_id: &str) {
        if let Some((due, _)) = self.entries.remove(agent_id) {
            self.queue.remove(&(due, agent_id.to_owned()));
        }
    }

    fn next_due(&self) -> Option<DateTime<Utc>> {
        self.queue.first().map(|(due, _)| *due)
    }

    /// Takes the first agent due at or before `now`, with its due time and schedule.
    fn pop_due(&mut self, now: DateTime<Utc>) -> Option<(String, DateTime<Utc>, Schedule)> {
        let (due, agent_id) = self.queue.first().filter(|(due, _)| *due <= now)?.clone();
        self.queue.remove(&(due, agent_id.clone()));
        let (_, schedule) = self.entries.remove(&agent_id)?;
        Some((agent_id, due, schedule))
    }
}

struct Task<S> {
    shared: Arc<Shared>,
    schedules: S,
    config: SchedulerConfig,
    agenda: Agenda,
}

impl<S: Schedules> Task<S> {
    async fn run(mut self, stop: CancellationToken) {
        let started = std::time::Instant::now();
        let loaded = self.schedules.all().await;
        let agents = loaded.len();
        for planned in loaded {
            self.plan(planned, true).await;
        }
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(agents, elapsed_ms, "scheduler ready");
        loop {
            let changed: Vec<String> = self
                .shared
                .changed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .drain()
                .collect();
            for agent_id in changed {
                match self.schedules.one(&agent_id).await {
                    Some(planned) => self.plan(planned, false).await,
                    None => {
                        self.agenda.remove(&agent_id);
                        self.schedules.planned(&agent_id, None, None).await;
                    }
                }
            }
            while let Some((agent_id, due, schedule)) = self.agenda.pop_due(self.now()) {
                if stop.is_cancelled() {
                    return;
                }
                self.fire(agent_id, due, schedule).await;
            }
            let sleep = self.agenda.next_due().map_or(MAX_SLEEP, |due| {
                (due - self.now())
                    .to_std()
                    .unwrap_or_default()
                    .min(MAX_SLEEP)
            });
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    /// Puts the agent on the agenda at its next time, after any back-off; at start-up,
    /// first runs once, or records as skipped, the last time missed while the server was
    /// down.
    async fn plan(&mut self, planned: Planned, at_start: bool) {
        let now = self.now();
        let id = planned.agent_id.clone();
        if at_start && let Some(missed) = self.missed(&planned, now) {
            let late = (now - missed).to_std().unwrap_or_default();
            if late <= self.config.catch_up_grace {
                self.agenda.set(&id, missed, planned.schedule);
                self.schedules.planned(&id, Some(missed), None).await;
                return;
            }
            let reason = "missed while the server was down";
            self.shared
                .metrics
                .skips
                .with_label_values(&["missed"])
                .inc();
            self.schedules.skipped(&id, missed, reason).await;
        }
        let (after, backing_off) = match self.resume_at(&planned) {
            Some(resume) if resume > now => (
                resume,
                Some(format!(
                    "{} scheduled runs failed in a row; the schedule waits until {} before \
                     trying again",
                    planned.failures,
                    crate::store::rfc3339(resume)
                )),
            ),
            _ => (now, None),
        };
        let next = planned.schedule.next_after(after);
        let unchanged = next == planned.stored_next && backing_off.is_none();
        match next {
            Some(next) => self.agenda.set(&id, next, planned.schedule),
            None => self.agenda.remove(&id),
        }
        // At start-up most agents are planned as they were stored: nothing to write.
        if !unchanged {
            self.schedules.planned(&id, next, backing_off).await;
        }
    }

    /// The last time the agent should have run while the server was down, if any.
    fn missed(&self, planned: &Planned, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let stored = planned.stored_next.filter(|stored| *stored <= now)?;
        planned
            .schedule
            .last_at_or_before(now)
            .filter(|missed| *missed >= stored)
    }

    /// When the schedule may try again after failures in a row: the last failure plus a
    /// back-off that doubles with each failure beyond the limit.
    fn resume_at(&self, planned: &Planned) -> Option<DateTime<Utc>> {
        let beyond = planned.failures.checked_sub(self.config.max_failures)?;
        let backoff = self
            .config
            .backoff
            .saturating_mul(2_u32.saturating_pow(beyond.min(16)))
            .min(MAX_BACKOFF);
        Some(planned.last_failure_at? + chrono::Duration::from_std(backoff).ok()?)
    }

    async fn fire(&mut self, agent_id: String, due: DateTime<Utc>, schedule: Schedule) {
        let lag = (self.now() - due).to_std().unwrap_or_default();
        self.shared.metrics.lag.observe(lag.as_secs_f64());
        match self.schedules.fire(&agent_id, due).await {
            Fired::Started => {}
            Fired::Skipped(reason) => {
                self.shared
                    .metrics
                    .skips
                    .with_label_values(&["refused"])
                    .inc();
                self.schedules.skipped(&agent_id, due, &reason).await;
            }
            Fired::Gone => {
                self.schedules.planned(&agent_id, None, None).await;
                return;
            }
        }
        let next = schedule.next_after(due.max(self.now()));
        if let Some(next) = next {
            self.agenda.set(&agent_id, next, schedule);
        }
        self.schedules.planned(&agent_id, next, None).await;
    }
}

#[cfg(test)]
mod tests;
