//! Load generator for the audit and system logs.
//!
//! ```text
//! cargo bench -p hatchery-server --bench logs -- [--records 1000000] [--requests 2000] [--pin]
//! scripts/with-postgres.sh cargo bench -p hatchery-server --bench logs -- --postgres
//! cargo bench -p hatchery-server --bench logs -- write [--records 1000000] [--requests 2000]
//! cargo bench -p hatchery-server --bench logs -- flood [--rate 100000] [--rounds 5]
//! ```
//! The default scenario seeds `--records` audit records and as many system log records,
//! then measures over HTTP, one request at a time against the real binary: filtered first
//! pages and pages after random cursors of both logs.
//!
//! `write` seeds `--records` audit records and measures what writing a record adds to an
//! agent update: the store's update with its record taking turns with the same statement
//! alone on a plain connection.
//!
//! `flood` runs a server in this process with the system log's layer installed, and
//! measures `GET /api/agents` quiet and while another thread logs `--rate` warnings a
//! second, taking turns for `--rounds` rounds so that the machine's drift falls on both;
//! it reports how many records were written and how many dropped.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::{
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use hatchery_server::{
    Application, Config,
    store::{Actor, AgentChange, Audit, LogFilter, Store},
};
use hatchery_shared::api::{
    Page,
    agents::AgentStatus,
    audit::{AuditAction, AuditRecord},
    logs::{LogCategory, LogLevel, LogRecord},
};
use hdrhistogram::Histogram;
use strum::IntoEnumIterator;
use support::{Args, Server, get_as, measure, pin};

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench password 123";
/// Accounts the seeded audit records are spread over.
const ACTORS: u64 = 100;
/// Runs the seeded system records are spread over.
const RUNS: u64 = 50_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse("pages");
    if args.flag("pin") {
        pin(std::process::id(), 0);
    }
    match args.scenario.as_str() {
        "pages" => pages(&args).await,
        "flood" => flood(&args).await,
        "write" => write(&args).await,
        other => panic!("unknown scenario {other}: use pages, write or flood"),
    }
}

/// Filtered pages of both logs over HTTP, and the cost of an audit record in the store.
async fn pages(args: &Args) {
    let records = args.number("records", 1_000_000);
    let requests = args.number("requests", 2_000);
    let data = tempfile::tempdir().expect("a temporary directory");
    let (database, url) = support::database(args, &data).await;
    let backend = support::backend(args);
    let store = Store::connect(&database).await.expect("the database opens");
    store.migrate().await.expect("the schema applies");
    let plain = Plain::connect(&url).await;
    let (user_id, token) = support::bench_user(&store, EMAIL, PASSWORD).await;
    support::make_admin(&url, &user_id).await;
    let started = Instant::now();
    seed_audit(&store, &plain, records).await;
    seed_system_log(&store, &plain, records).await;
    println!(
        "{backend}: {records} audit and {records} system records seeded in {:.0} s; {requests} requests per line, one at a time",
        started.elapsed().as_secs_f64()
    );
    store.close().await;

    let server = Server::on_database(data, args, &url).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let response = get_as(&client, &token, server.url(&path));
        async move { response.await.bytes().await.expect("a body").to_vec() }
    };
    let audit_cursors = cursors::<AuditRecord, _, _>(&get, "/api/audit?limit=50", |r| &r.id).await;
    let log_cursors = cursors::<LogRecord, _, _>(&get, "/api/logs?limit=50", |r| &r.id).await;
    let pick = |list: &[String], n: u64| {
        list[(n.wrapping_mul(2_654_435_761) % list.len() as u64) as usize].clone()
    };

    measure("warm-up (not a result)", requests / 4, |n| {
        let response = get(format!(
            "/api/audit?limit=50&cursor={}",
            pick(&audit_cursors, n)
        ));
        async move {
            response.await;
        }
    })
    .await;
    let lines: [(&str, PathOf); 8] = [
        (
            "audit: first page, one action",
            Box::new(|_| "/api/audit?action=agent_updated&limit=50".into()),
        ),
        (
            "audit: one action, after a random cursor",
            Box::new(|n| {
                format!(
                    "/api/audit?action=agent_updated&limit=50&cursor={}",
                    pick(&audit_cursors, n)
                )
            }),
        ),
        (
            "audit: first page, one actor",
            Box::new(|n| format!("/api/audit?actor=user-{}&limit=50", n % ACTORS)),
        ),
        (
            "audit: last hour, after a random cursor",
            Box::new(|n| {
                format!(
                    "/api/audit?from={}&limit=50&cursor={}",
                    an_hour_ago(),
                    pick(&audit_cursors, n)
                )
            }),
        ),
        (
            "system: first page, runner warnings and errors",
            Box::new(|_| "/api/logs?level=warn&category=runner&limit=50".into()),
        ),
        (
            "system: warnings and errors, after a random cursor",
            Box::new(|n| {
                format!(
                    "/api/logs?level=warn&limit=50&cursor={}",
                    pick(&log_cursors, n)
                )
            }),
        ),
        (
            "system: one run's records",
            Box::new(|n| format!("/api/logs?run=run-{}&limit=50", n % RUNS)),
        ),
        (
            "system: one category, after a random cursor",
            Box::new(|n| {
                format!(
                    "/api/logs?category=store&limit=50&cursor={}",
                    pick(&log_cursors, n)
                )
            }),
        ),
    ];
    for (label, path) in &lines {
        measure(label, requests, |n| {
            let response = get(path(n));
            async move {
                response.await;
            }
        })
        .await;
    }
    measure("system: text search (trigram index)", requests / 20, |_| {
        let response = get("/api/logs?text=record%20999999&limit=50".into());
        async move {
            response.await;
        }
    })
    .await;
    drop(server);
}

/// What an audit record adds to an agent update, with `--records` records in the log.
async fn write(args: &Args) {
    let records = args.number("records", 1_000_000);
    let requests = args.number("requests", 2_000);
    let data = tempfile::tempdir().expect("a temporary directory");
    let (database, url) = support::database(args, &data).await;
    let store = Store::connect(&database).await.expect("the database opens");
    store.migrate().await.expect("the schema applies");
    let plain = Plain::connect(&url).await;
    let (user_id, _) = support::bench_user(&store, EMAIL, PASSWORD).await;
    let started = Instant::now();
    seed_audit(&store, &plain, records).await;
    println!(
        "{}: {records} audit records seeded in {:.0} s; {requests} updates per line",
        support::backend(args),
        started.elapsed().as_secs_f64()
    );
    audit_write_cost(&store, &plain, &user_id, requests).await;
    store.close().await;
}

/// The path of the n-th request of a line.
type PathOf<'a> = Box<dyn Fn(u64) -> String + 'a>;

fn an_hour_ago() -> String {
    (Utc::now() - chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The cursors of the first 200 pages of `first`, for requests after random cursors.
async fn cursors<T, G, F>(get: &G, first: &str, id: impl Fn(&T) -> &String) -> Vec<String>
where
    T: serde::de::DeserializeOwned,
    G: Fn(String) -> F,
    F: Future<Output = Vec<u8>>,
{
    let mut found = Vec::new();
    let mut path = first.to_owned();
    for _ in 0..200 {
        let page: Page<T> = serde_json::from_slice(&get(path.clone()).await).expect("a page");
        found.extend(page.items.iter().map(|item| id(item).clone()));
        let Some(next) = page.next_cursor else { break };
        path = format!("{first}&cursor={next}");
    }
    found
}

/// Records seeded between two checkpoints of SQLite's log (the bench runs no checkpoint
/// task while it seeds: its truncating checkpoint holds writers up).
const SEEDED_PER_CHECKPOINT: u64 = 100_000;

/// Writes `count` audit records spread over [`ACTORS`] accounts and every action, eight
/// writers at once.
async fn seed_audit(store: &Store, plain: &Plain, count: u64) {
    let actions: Vec<AuditAction> = AuditAction::iter().collect();
    for start in (0..count).step_by(SEEDED_PER_CHECKPOINT as usize) {
        let end = count.min(start + SEEDED_PER_CHECKPOINT);
        seed_audit_range(store, &actions, start..end).await;
        plain.checkpoint().await;
    }
}

/// Writes the audit records numbered `range`, eight writers at once.
async fn seed_audit_range(store: &Store, actions: &[AuditAction], range: std::ops::Range<u64>) {
    let writers: Vec<_> = (0..8u64)
        .map(|writer| {
            let store = store.clone();
            let actions = actions.to_vec();
            let range = range.clone();
            tokio::spawn(async move {
                for n in (range.start + writer..range.end).step_by(8) {
                    let user = format!("user-{}", n % ACTORS);
                    let actor = Actor {
                        user_id: Some(user.clone()),
                        token_id: None,
                        client_address: Some("127.0.0.1".into()),
                        request_id: Some(uuid::Uuid::now_v7().to_string()),
                    };
                    let action = actions[(n as usize / 7) % actions.len()];
                    let audit = Audit::new(&actor, action, "name, model");
                    store
                        .record_audit(
                            &audit,
                            "agent",
                            &format!("agent-{}", n % 10_000),
                            Some(&user),
                        )
                        .await
                        .expect("a record");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer");
    }
}

/// Writes `count` system log records, a thousand per call: mostly information, some
/// warnings and errors, over every category and [`RUNS`] runs.
async fn seed_system_log(store: &Store, plain: &Plain, count: u64) {
    let categories: Vec<LogCategory> = LogCategory::iter().collect();
    let mut batch = Vec::with_capacity(1000);
    for n in 0..count {
        let level = match n % 20 {
            0 => LogLevel::Error,
            1..=3 => LogLevel::Warn,
            _ => LogLevel::Info,
        };
        batch.push(LogRecord {
            id: uuid::Uuid::now_v7().to_string(),
            at: hatchery_server::store::rfc3339(Utc::now()),
            level,
            category: categories[(n as usize / 3) % categories.len()],
            message: format!("record {n}"),
            fields: serde_json::Map::from_iter([("n".to_owned(), n.into())]),
            request_id: Some(uuid::Uuid::now_v7().to_string()),
            run_id: Some(format!("run-{}", n % RUNS)),
        });
        if batch.len() == 1000 {
            store.write_log_records(&batch).await.expect("records");
            batch.clear();
        }
        if n % SEEDED_PER_CHECKPOINT == 0 {
            plain.checkpoint().await;
        }
    }
    store.write_log_records(&batch).await.expect("records");
}

/// The settings of a bench agent named `name`.
fn agent_change(name: &str) -> AgentChange {
    AgentChange {
        name: name.into(),
        system_instructions: "You are careful.".into(),
        task_instructions: String::new(),
        model: "gpt-4o-mini".into(),
        temperature: 0.7,
        tools: Vec::new(),
        schedule: None,
        time_zone: "UTC".into(),
        schedule_memory_runs: 10,
        status: AgentStatus::Idle,
        next_run_at: None,
    }
}

/// A hundred agents of the built-in admin, for the list the flood scenario reads.
async fn seed_agents(store: &Store) {
    let audit = Audit::by_system(AuditAction::AgentCreated, "bench");
    for n in 0..100 {
        store
            .create_agent("dev", &agent_change(&format!("agent {n}")), &audit)
            .await
            .expect("an agent");
    }
}

/// What the audit record adds to an agent update: the store's update (the change and its
/// record, in one statement on PostgreSQL and one transaction on SQLite) taking turns with
/// the same `UPDATE` alone on a plain connection of the store's settings, and in a
/// transaction of its own, so that all three meet the same database.
async fn audit_write_cost(store: &Store, plain: &Plain, user_id: &str, count: u64) {
    let actor = Actor {
        user_id: Some(user_id.to_owned()),
        ..Actor::default()
    };
    let change = agent_change("updated");
    let agent = store
        .create_agent(
            user_id,
            &change,
            &Audit::new(&actor, AuditAction::AgentCreated, "bench"),
        )
        .await
        .expect("an agent");
    plain.checkpoint().await;
    let mut alone = Histogram::<u64>::new(3).expect("a histogram");
    let mut in_transaction = Histogram::<u64>::new(3).expect("a histogram");
    let mut audited = Histogram::<u64>::new(3).expect("a histogram");
    let record = |histogram: &mut Histogram<u64>, started: Instant| {
        histogram
            .record(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX))
            .expect("a recordable latency");
    };
    for n in 0..count {
        let temperature = (n % 20) as f64 / 10.0;
        let started = Instant::now();
        plain.update_agent(&agent.id, temperature, false).await;
        record(&mut alone, started);
        let started = Instant::now();
        plain.update_agent(&agent.id, temperature, true).await;
        record(&mut in_transaction, started);
        let change = AgentChange {
            temperature,
            ..change.clone()
        };
        let audit = Audit::new(&actor, AuditAction::AgentUpdated, "temperature");
        let started = Instant::now();
        store
            .update_agent(&agent.id, &change, &audit)
            .await
            .expect("an update");
        record(&mut audited, started);
    }
    support::report("the update alone (in turns)", &alone);
    support::report("the update in a transaction (in turns)", &in_transaction);
    support::report("the store's update with its record (in turns)", &audited);
    let p = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    for (baseline, label) in [(&alone, "alone"), (&in_transaction, "in a transaction")] {
        println!(
            "    the audit record adds p50 {:+.3} ms, p99 {:+.3} ms to the update {label}",
            p(&audited, 0.5) - p(baseline, 0.5),
            p(&audited, 0.99) - p(baseline, 0.99),
        );
    }
}

/// A pool of either database without the store around it: the baseline of an update.
enum Plain {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Plain {
    /// Connects to `url` with the store's settings for the journal, syncing and
    /// checkpoints (none on commit).
    async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .expect("a SQLite URL")
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .pragma("wal_autocheckpoint", "0");
            Self::Sqlite(
                sqlx::SqlitePool::connect_with(options)
                    .await
                    .expect("SQLite opens"),
            )
        } else {
            Self::Postgres(
                sqlx::PgPool::connect(url)
                    .await
                    .expect("PostgreSQL answers"),
            )
        }
    }

    /// Moves SQLite's write-ahead log into the database file and empties it: between
    /// batches of seeded records, and before measuring.
    async fn checkpoint(&self) {
        if let Self::Sqlite(pool) = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .expect("a checkpoint");
        }
    }

    /// The statement of the store's agent update, without an audit record: on its own, or
    /// in a transaction.
    async fn update_agent(&self, id: &str, temperature: f64, in_transaction: bool) {
        let sql = "UPDATE agents SET name = $2, system_instructions = $3, \
                   task_instructions = $4, model = $5, temperature = $6, updated_at = $7 \
                   WHERE id = $1 RETURNING *";
        macro_rules! update {
            ($pool:expr) => {{
                let query = sqlx::query(sql)
                    .bind(id)
                    .bind("updated")
                    .bind("You are careful.")
                    .bind("")
                    .bind("gpt-4o-mini")
                    .bind(temperature)
                    .bind(Utc::now());
                if in_transaction {
                    let mut tx = $pool.begin().await.expect("a transaction");
                    query.fetch_optional(&mut *tx).await.expect("an update");
                    tx.commit().await.expect("a commit");
                } else {
                    query.fetch_optional($pool).await.expect("an update");
                }
            }};
        }
        match self {
            Self::Sqlite(pool) => update!(pool),
            Self::Postgres(pool) => update!(pool),
        }
    }
}

/// `GET /api/agents` quiet and during a flood of warnings, in turns, with the system log's
/// layer installed in this process.
async fn flood(args: &Args) {
    let rate = args.number("rate", 100_000);
    let requests = args.number("requests", 2_000);
    let data = tempfile::tempdir().expect("a temporary directory");
    let dir = data.path().to_owned();
    let config = Config::from_lookup(|name| match name {
        "HATCHERY_ADDR" => Ok("127.0.0.1:0".into()),
        "HATCHERY_DATA_DIR" => Ok(dir.display().to_string()),
        "HATCHERY_AUTH" => Ok("disabled".into()),
        "HATCHERY_LOG" => Ok("off".into()),
        _ => Err(std::env::VarError::NotPresent),
    })
    .expect("a configuration");
    let intake = hatchery_server::telemetry::init(&config.log, &config.system_log);
    let app = Application::build(&config)
        .await
        .expect("the server builds")
        .with_system_log(intake)
        .expect("the system log attaches");
    let store = app.store().clone();
    seed_agents(&store).await;
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/api/agents?limit=50");
    let get = |_| {
        let request = client.get(&url).send();
        async move {
            request
                .await
                .expect("an answer")
                .bytes()
                .await
                .expect("a body");
        }
    };
    let rounds = args.number("rounds", 5);
    println!(
        "SQLite, the server in this process, {requests} requests per line, one at a time, in \
         {rounds} rounds of quiet and flood taking turns"
    );
    measure("warm-up (not a result)", requests / 4, get).await;

    let flooding = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(true));
    let flooder = {
        let (flooding, running) = (flooding.clone(), running.clone());
        std::thread::spawn(move || {
            let mut sent: u64 = 0;
            let mut flooded = Duration::ZERO;
            while running.load(Ordering::Relaxed) {
                let (started, from) = (Instant::now(), sent);
                while flooding.load(Ordering::Relaxed) {
                    let due = from + (started.elapsed().as_secs_f64() * rate as f64) as u64;
                    while sent < due {
                        tracing::warn!(target: "hatchery_server::runner", n = sent, "a flood of warnings");
                        sent += 1;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                flooded += started.elapsed();
                std::thread::sleep(Duration::from_millis(1));
            }
            (sent, flooded)
        })
    };
    let mut quiet = Histogram::<u64>::new(3).expect("a histogram");
    let mut loud = Histogram::<u64>::new(3).expect("a histogram");
    for round in 1..=rounds {
        // Quiet once the writer has written what the last flood queued (4,096 records at
        // most, at 1,000 a second).
        tokio::time::sleep(Duration::from_secs(5)).await;
        let label = format!("round {round}: GET /api/agents, quiet");
        quiet += measure(&label, requests / rounds, get).await;
        flooding.store(true, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let label = format!("round {round}: GET /api/agents, during the flood");
        loud += measure(&label, requests / rounds, get).await;
        flooding.store(false, Ordering::Relaxed);
    }
    running.store(false, Ordering::Relaxed);
    let (sent, took) = flooder.join().expect("the flooder");
    support::report("GET /api/agents, quiet (all rounds)", &quiet);
    support::report("GET /api/agents, during the flood (all rounds)", &loud);
    // What was queued when the flood stopped is written within a moment.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let written = count_records(&store).await;
    let _ = stop.send(());
    server.await.expect("the server task").expect("the server");
    let p99 = |h: &Histogram<u64>| h.value_at_quantile(0.99) as f64 / 1000.0;
    println!(
        "    flood: {sent} warnings in {:.1} s ({:.0}/s); {written} written, the rest dropped and counted; p99 {:.2} ms quiet vs {:.2} ms during ({:+.2} ms)",
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64(),
        p99(&quiet),
        p99(&loud),
        p99(&loud) - p99(&quiet),
    );
}

/// How many system log records `store` holds, counted a large page at a time.
async fn count_records(store: &Store) -> u64 {
    let mut total = 0;
    let mut after: Option<String> = None;
    loop {
        let page = store
            .log_records(&LogFilter::default(), after.as_deref(), 10_000)
            .await;
        let Ok(page) = page else { return total };
        total += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == 10_000 => after = Some(last.id.clone()),
            _ => return total,
        }
    }
}
