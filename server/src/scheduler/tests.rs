//! The scheduler's task with paused time, over schedules kept in memory: the instants it
//! fires at (across a change of clocks), replanning, overlap, missed times and back-off.

use std::collections::HashSet;

use super::schedule::parse_time_zone;
use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 time")
}

fn planned(agent_id: &str, cron: &str, zone: &str) -> Planned {
    Planned {
        agent_id: agent_id.into(),
        schedule: Schedule::parse(cron, parse_time_zone(zone).unwrap()).unwrap(),
        stored_next: None,
        failures: 0,
        last_failure_at: None,
    }
}

/// What the scheduler planned for an agent: its next time and why it backs off.
type NextTime = (Option<DateTime<Utc>>, Option<String>);

/// Schedules in memory, and what the scheduler did with them.
#[derive(Default)]
struct Memory {
    agents: Mutex<HashMap<String, Planned>>,
    busy: Mutex<HashSet<String>>,
    fired: Mutex<Vec<(String, DateTime<Utc>)>>,
    skipped: Mutex<Vec<(String, DateTime<Utc>, String)>>,
    next: Mutex<HashMap<String, NextTime>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Schedules for Arc<Memory> {
    async fn all(&self) -> Vec<Planned> {
        lock(&self.agents).values().cloned().collect()
    }

    async fn one(&self, agent_id: &str) -> Option<Planned> {
        lock(&self.agents).get(agent_id).cloned()
    }

    async fn fire(&self, agent_id: &str, due: DateTime<Utc>) -> Fired {
        if lock(&self.busy).contains(agent_id) {
            return Fired::Skipped("still running".into());
        }
        lock(&self.fired).push((agent_id.into(), due));
        Fired::Started
    }

    async fn skipped(&self, agent_id: &str, due: DateTime<Utc>, reason: &str) {
        lock(&self.skipped).push((agent_id.into(), due, reason.into()));
    }

    async fn planned(&self, agent_id: &str, next: Option<DateTime<Utc>>, why: Option<String>) {
        lock(&self.next).insert(agent_id.into(), (next, why));
    }
}

/// A scheduler over `agents`, its clock starting at `start`, and a way to stop it.
struct Running {
    memory: Arc<Memory>,
    scheduler: Scheduler,
    stop: CancellationToken,
    tasks: TaskTracker,
}

fn start(start: &str, agents: Vec<Planned>, tune: impl FnOnce(&mut SchedulerConfig)) -> Running {
    let memory = Arc::new(Memory::default());
    for agent in agents {
        lock(&memory.agents).insert(agent.agent_id.clone(), agent);
    }
    let mut config = SchedulerConfig {
        clock: Clock::starting_at(at(start)),
        ..SchedulerConfig::default()
    };
    tune(&mut config);
    let scheduler = Scheduler::new();
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    scheduler.start(memory.clone(), config, &tasks, stop.clone());
    Running {
        memory,
        scheduler,
        stop,
        tasks,
    }
}

impl Running {
    fn fired(&self) -> Vec<(String, DateTime<Utc>)> {
        lock(&self.memory.fired).clone()
    }

    fn skipped(&self) -> Vec<(String, DateTime<Utc>, String)> {
        lock(&self.memory.skipped).clone()
    }

    fn next(&self, agent_id: &str) -> NextTime {
        lock(&self.memory.next)
            .get(agent_id)
            .cloned()
            .unwrap_or_default()
    }

    async fn stop(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

async fn pass(duration: Duration) {
    tokio::time::sleep(duration).await;
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test(start_paused = true)]
async fn fires_at_its_times_across_a_change_of_clocks() {
    // Paris skips 02:00–03:00 on 2026-03-29: that day's 02:30 runs as the clocks jump.
    let running = start(
        "2026-03-28T12:00:00Z",
        vec![planned("a", "30 2 * * *", "Europe/Paris")],
        |_| {},
    );
    pass(3 * DAY).await;
    let times: Vec<_> = running.fired().into_iter().map(|(_, due)| due).collect();
    assert_eq!(
        times,
        [
            at("2026-03-29T01:00:00Z"),
            at("2026-03-30T00:30:00Z"),
            at("2026-03-31T00:30:00Z"),
        ]
    );
    assert_eq!(running.next("a").0, Some(at("2026-04-01T00:30:00Z")));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_change_replans_the_agent_at_once_and_a_deletion_stops_it() {
    let running = start(
        "2026-11-24T10:30:00Z",
        vec![planned("a", "0 * * * *", "UTC")],
        |_| {},
    );
    pass(HOUR).await; // fires at 11:00; now 11:30
    lock(&running.memory.agents).insert("a".into(), planned("a", "45 * * * *", "UTC"));
    running.scheduler.agent_changed("a");
    pass(Duration::from_secs(1)).await;
    assert_eq!(running.next("a").0, Some(at("2026-11-24T11:45:00Z")));
    pass(HOUR).await; // fires at 11:45, not at 12:00; now 12:30
    lock(&running.memory.agents).remove("a");
    running.scheduler.agent_changed("a");
    pass(3 * HOUR).await;
    let times: Vec<_> = running.fired().into_iter().map(|(_, due)| due).collect();
    assert_eq!(
        times,
        [at("2026-11-24T11:00:00Z"), at("2026-11-24T11:45:00Z"),]
    );
    assert_eq!(running.next("a"), (None, None));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_disabled_agent_never_fires() {
    // A disabled agent is not among the schedules, at start or after a change.
    let running = start("2026-11-24T10:30:00Z", vec![], |_| {});
    running.scheduler.agent_changed("disabled");
    pass(DAY).await;
    assert!(running.fired().is_empty());
    assert_eq!(running.next("disabled"), (None, None));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_time_that_comes_while_the_last_run_goes_on_is_skipped() {
    let running = start(
        "2026-11-24T10:30:00Z",
        vec![planned("a", "0 * * * *", "UTC")],
        |_| {},
    );
    lock(&running.memory.busy).insert("a".into());
    pass(HOUR).await;
    lock(&running.memory.busy).clear();
    pass(HOUR).await;
    assert_eq!(
        running.skipped(),
        [(
            "a".into(),
            at("2026-11-24T11:00:00Z"),
            "still running".into()
        )]
    );
    assert_eq!(running.fired(), [("a".into(), at("2026-11-24T12:00:00Z"))]);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_time_missed_lately_runs_once_at_start_and_an_old_one_is_skipped() {
    // Down since before 10:00 and 10:15: the last missed time, 10:15, is 5 minutes old.
    let recent = Planned {
        stored_next: Some(at("2026-11-24T10:00:00Z")),
        ..planned("recent", "*/15 * * * *", "UTC")
    };
    // Down since yesterday: its last missed time, 09:00, is 80 minutes old.
    let old = Planned {
        stored_next: Some(at("2026-11-23T09:00:00Z")),
        ..planned("old", "0 9 * * *", "UTC")
    };
    let running = start("2026-11-24T10:20:00Z", vec![recent, old], |_| {});
    pass(Duration::from_secs(60)).await;
    assert_eq!(
        running.fired(),
        [("recent".into(), at("2026-11-24T10:15:00Z"))],
        "one catch-up run, for the last missed time only"
    );
    assert_eq!(
        running.skipped(),
        [(
            "old".into(),
            at("2026-11-24T09:00:00Z"),
            "missed while the server was down".into()
        )]
    );
    assert_eq!(running.next("recent").0, Some(at("2026-11-24T10:30:00Z")));
    assert_eq!(running.next("old").0, Some(at("2026-11-25T09:00:00Z")));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn repeated_failures_back_off_doubling() {
    let failing = |failures| Planned {
        failures,
        last_failure_at: Some(at("2026-11-24T10:29:00Z")),
        ..planned("a", "*/5 * * * *", "UTC")
    };
    let running = start("2026-11-24T10:30:00Z", vec![failing(2)], |config| {
        config.max_failures = 3;
        config.backoff = Duration::from_secs(600);
    });
    pass(Duration::from_secs(1)).await;
    assert_eq!(running.next("a"), (Some(at("2026-11-24T10:35:00Z")), None));

    // The third failure in a row: wait 10 minutes after it.
    lock(&running.memory.agents).insert("a".into(), failing(3));
    running.scheduler.agent_changed("a");
    pass(Duration::from_secs(1)).await;
    let (next, why) = running.next("a");
    assert_eq!(next, Some(at("2026-11-24T10:40:00Z")));
    assert!(why.unwrap().contains("3 scheduled runs failed in a row"));

    // The fourth: 20 minutes.
    lock(&running.memory.agents).insert("a".into(), failing(4));
    running.scheduler.agent_changed("a");
    pass(Duration::from_secs(1)).await;
    assert_eq!(running.next("a").0, Some(at("2026-11-24T10:50:00Z")));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn it_stops_when_told() {
    let running = start(
        "2026-11-24T10:30:00Z",
        vec![planned("a", "0 * * * *", "UTC")],
        |_| {},
    );
    let stop = running.stop.clone();
    let tasks = running.tasks.clone();
    stop.cancel();
    tasks.close();
    tokio::time::timeout(Duration::from_secs(1), tasks.wait())
        .await
        .expect("the task ends");
    pass(DAY).await;
    assert!(running.fired().is_empty());
}
