//! Load generator for automation: run history pages over a million runs, webhook intake at
//! a steady rate, and the scheduler's start-up with many scheduled agents and its idle cost.
//! The real `hatchery` binary, over HTTP.
//!
//! ```text
//! cargo bench -p hatchery-server --bench automation -- history [--runs 1000000] [--agents 1000] [--requests 2000] [--pin]
//! scripts/with-postgres.sh cargo bench -p hatchery-server --bench automation -- history --postgres
//! cargo bench -p hatchery-server --bench automation -- webhooks [--rate 500] [--seconds 10] [--pin]
//! cargo bench -p hatchery-server --bench automation -- scheduler [--agents 10000] [--seconds 10] [--pin]
//! ```

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{SubsecRound, Utc};
use hatchery_server::{
    scheduler::schedule::{Schedule, parse_time_zone},
    store::{AgentChange, Audit, Store},
    webhooks::adapter,
};
use hatchery_shared::api::{
    Page, agents::AgentStatus, audit::AuditAction, runs::Run, threads::ThreadKind,
    triggers::TriggerWithSecret,
};
use hdrhistogram::Histogram;
use sqlx::Connection;
use support::{Args, Server, database, get_as, measure, pin};

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench password 123";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse("history");
    if args.flag("pin") {
        pin(std::process::id(), 0);
    }
    match args.scenario.as_str() {
        "history" => history(&args).await,
        "webhooks" => webhooks(&args).await,
        "scheduler" => scheduler(&args).await,
        other => panic!("unknown scenario {other}: history, webhooks or scheduler"),
    }
}

/// What a seeding statement binds: a thread as `$1`, a count as `$2`, a time as `$3`.
type Seed<'a> = (&'a str, i64, chrono::DateTime<Utc>);

/// Runs `sql` on the database at `url`, with `seed` bound when given.
async fn execute(url: &str, sql: &str, seed: Option<Seed<'_>>) {
    macro_rules! run_on {
        ($connection:expr) => {{
            let mut query = sqlx::query(sql);
            if let Some((thread, count, at)) = seed {
                query = query.bind(thread).bind(count).bind(at);
            }
            query
                .execute($connection)
                .await
                .expect("the statement runs");
        }};
    }
    if url.starts_with("postgres") {
        run_on!(&mut sqlx::PgConnection::connect(url).await.unwrap());
    } else {
        run_on!(&mut sqlx::SqliteConnection::connect(url).await.unwrap());
    }
}

/// `--runs` runs spread over `--agents` agents of one user; pages of 50 through HTTP.
async fn history(args: &Args) {
    let runs = args.number("runs", 1_000_000);
    let agents = args.number("agents", 1_000);
    let requests = args.number("requests", 2_000);
    let data = tempfile::tempdir().expect("a temporary directory");
    let (config, url) = database(args, &data).await;

    let started = Instant::now();
    let store = Store::connect(&config).await.expect("the database opens");
    store.migrate().await.expect("the schema applies");
    let (user_id, token) = support::bench_user(&store, EMAIL, PASSWORD).await;
    let per_agent = runs / agents;
    let mut agent_ids = Vec::new();
    // To the microsecond, as the server stores times.
    let base = (Utc::now() - chrono::Duration::days(30)).trunc_subsecs(6);
    for n in 0..agents {
        let agent = store
            .create_agent(
                &user_id,
                &change(format!("agent {n}"), None),
                &Audit::by_system(AuditAction::AgentCreated, "for a bench"),
            )
            .await
            .expect("an agent");
        let thread = store
            .create_thread(
                &agent.id,
                "history",
                ThreadKind::Chat,
                &Audit::by_system(AuditAction::ThreadCreated, "for a bench"),
            )
            .await
            .expect("a thread")
            .expect("its agent exists");
        // All of one agent's runs at one instant (ids order them), each agent a moment
        // after the last.
        let at = base + chrono::Duration::milliseconds(i64::try_from(n).unwrap_or(0));
        execute(
            &url,
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
             INSERT INTO runs (id, agent_id, thread_id, status, triggered_by, model, \
                               prompt_tokens, completion_tokens, cost_micros, created_at, \
                               owner_id) \
             SELECT $1 || '-' || i, t.agent_id, t.id, 'succeeded', 'chat', 'gpt-4o-mini', \
                    900, 300, 315, $3, a.owner_id \
             FROM n, threads t JOIN agents a ON a.id = t.agent_id WHERE t.id = $1",
            Some((&thread.id, i64::try_from(per_agent).unwrap_or(i64::MAX), at)),
        )
        .await;
        agent_ids.push(agent.id);
    }
    execute(&url, "ANALYZE", None).await;
    store.close().await;
    println!(
        "seeded {} runs over {agents} agents in {:.1} s",
        per_agent * agents,
        started.elapsed().as_secs_f64()
    );

    let server = Server::on_database(data, args, &url).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let response = get_as(&client, &token, server.url(&path));
        async move {
            response
                .await
                .json::<Page<Run>>()
                .await
                .expect("a page of runs")
        }
    };
    let pick = |n: u64| &agent_ids[(n.wrapping_mul(2_654_435_761) % agents) as usize];
    let backend = support::backend(args);
    println!("{backend}, {requests} requests per line, one at a time");
    let mut cursors = Vec::new();
    for n in 0..requests / 4 {
        let page = get(format!("/api/agents/{}/runs?limit=50", pick(n))).await;
        cursors.push((pick(n).clone(), page.next_cursor.expect("a second page")));
    }
    measure("an agent's runs: first page of 50", requests, |n| {
        let page = get(format!("/api/agents/{}/runs?limit=50", pick(n)));
        async move {
            assert_eq!(page.await.items.len(), 50);
        }
    })
    .await;
    measure("an agent's runs: the page after a cursor", requests, |n| {
        let (agent, cursor) = &cursors[n as usize % cursors.len()];
        let page = get(format!("/api/agents/{agent}/runs?limit=50&cursor={cursor}"));
        async move {
            assert_eq!(page.await.items.len(), 50);
        }
    })
    .await;
    measure("all my runs: first page of 50", requests, |_| {
        let page = get("/api/runs?limit=50".into());
        async move {
            assert_eq!(page.await.items.len(), 50);
        }
    })
    .await;
    measure("usage per model, last 30 days (aggregate)", 20, |_| {
        let response = get_as(&client, &token, server.url("/api/usage?group_by=model"));
        async move {
            response.await;
        }
    })
    .await;
    drop(server);
}

fn change(name: String, schedule: Option<(&str, Schedule)>) -> AgentChange {
    let next_run_at = schedule
        .as_ref()
        .and_then(|(_, parsed)| parsed.next_after(Utc::now()));
    AgentChange {
        name,
        system_instructions: "You are a careful assistant.".into(),
        task_instructions: "Summarise the payload.".into(),
        model: "gpt-4o-mini".into(),
        temperature: 0.7,
        tools: Vec::new(),
        schedule: schedule.map(|(expression, _)| expression.to_owned()),
        time_zone: "Europe/Paris".into(),
        schedule_memory_runs: 10,
        status: AgentStatus::Idle,
        next_run_at,
    }
}

/// `--rate` signed webhook requests a second for `--seconds`, each a new delivery that
/// starts a run; the latency of each answer (202).
async fn webhooks(args: &Args) {
    let rate = args.number("rate", 500);
    let seconds = args.number("seconds", 10);
    let server = Server::start(
        args.flag("pin"),
        &[
            ("HATCHERY_AUTH", "disabled"),
            ("HATCHERY_WEBHOOK_RATE_PER_MIN", "1000000"),
            ("HATCHERY_MAX_CONCURRENT_RUNS", "64"),
            ("HATCHERY_MAX_RUNS_PER_USER", "10000"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let agent: serde_json::Value = client
        .post(server.url("/api/agents"))
        .json(&serde_json::json!({"name": "Hooked", "task_instructions": "Triage."}))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("an agent");
    let created: TriggerWithSecret = client
        .post(server.url(&format!(
            "/api/agents/{}/triggers",
            agent["id"].as_str().unwrap()
        )))
        .json(&serde_json::json!({"name": "bench"}))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a trigger");
    let url = Arc::new(server.url(&created.trigger.path));
    let secret = Arc::new(created.secret);

    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    let mut sends = Vec::with_capacity(total as usize);
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for n in 0..total {
        ticks.tick().await;
        let (client, url, secret) = (client.clone(), url.clone(), secret.clone());
        sends.push(tokio::spawn(async move {
            let body = format!(r#"{{"event":"push","n":{n}}}"#);
            let timestamp = Utc::now().timestamp().to_string();
            let signed = adapter::hatchery_signature(&secret, &timestamp, body.as_bytes());
            let sent = Instant::now();
            let response = client
                .post(url.as_str())
                .header("X-Hatchery-Timestamp", timestamp)
                .header("X-Hatchery-Signature", signed)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("the server answers");
            (response.status().as_u16(), sent.elapsed())
        }));
    }
    let mut latency = Histogram::<u64>::new(3).expect("a histogram");
    let mut accepted = 0;
    for send in sends {
        let (status, took) = send.await.expect("a request");
        accepted += u64::from(status == 202);
        latency
            .record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX))
            .expect("a recordable latency");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "webhook intake, {total} requests at {rate}/s: {accepted} accepted, {:.0}/s achieved",
        total as f64 / elapsed
    );
    println!(
        "  latency p50 {:.2} ms   p99 {:.2} ms   p999 {:.2} ms   max {:.2} ms",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        latency.max() as f64 / 1000.0
    );
    println!("  server CPU {:.2} cores", cpu / elapsed);
    drop(server);
}

/// `--agents` scheduled agents: how long the scheduler takes to load and plan them at
/// start-up, and the server's CPU while nothing is due for `--seconds`.
async fn scheduler(args: &Args) {
    let agents = args.number("agents", 10_000);
    let seconds = args.number("seconds", 10);
    let data = tempfile::tempdir().expect("a temporary directory");
    let (config, url) = database(args, &data).await;
    let store = Store::connect(&config).await.expect("the database opens");
    store.migrate().await.expect("the schema applies");
    let (user_id, _) = support::bench_user(&store, EMAIL, PASSWORD).await;
    // Once a year, so that nothing fires while the idle cost is measured.
    let expression = "0 0 1 1 *";
    let zone = parse_time_zone("Europe/Paris").expect("a zone");
    let schedule = Schedule::parse(expression, zone).expect("a schedule");
    for n in 0..agents {
        let change = change(format!("agent {n}"), Some((expression, schedule.clone())));
        store
            .create_agent(
                &user_id,
                &change,
                &Audit::by_system(AuditAction::AgentCreated, "for a bench"),
            )
            .await
            .expect("an agent");
    }
    store.close().await;

    let started = Instant::now();
    let mut server = Server::start_in(
        data,
        args.flag("pin"),
        &[("HATCHERY_DATABASE_URL", url.as_str())],
    )
    .await;
    let ready = server.log_line("scheduler ready").await;
    println!(
        "scheduler: {} agents loaded and planned in {} ms ({:.0} ms from process start)",
        ready["agents"],
        ready["elapsed_ms"],
        started.elapsed().as_secs_f64() * 1000.0
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_before = server.cpu_seconds();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let cpu = server.cpu_seconds() - cpu_before;
    println!(
        "  idle for {seconds} s: {:.3} CPU seconds ({:.2}% of a core)",
        cpu,
        cpu / seconds as f64 * 100.0
    );
    drop(server);
}
