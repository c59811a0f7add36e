//! Load generator for accounts and agents: the real `hatchery` binary over HTTP, with a
//! database seeded with many agents of one user.
//!
//! ```text
//! cargo bench -p hatchery-server --bench agents -- [--agents 100000] [--requests 2000] [--signers 1] [--pin]
//! scripts/with-postgres.sh cargo bench -p hatchery-server --bench agents -- --postgres
//! ```
//! It measures, one request at a time over a kept-alive connection: the first page of 50,
//! pages of 50 from random cursors, and single agents by id; then sign-ins (one argon2
//! verification each), and single agents again while `--signers` clients sign in without
//! pause.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use hatchery_server::store::{AgentChange, Audit, DatabaseConfig, Store};
use hatchery_shared::api::{
    agents::{AgentStatus, Tool},
    audit::AuditAction,
};
use support::{Args, Server, get_as, measure, pin};

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench password 123";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse("agents");
    let agents = args.number("agents", 100_000);
    let requests = args.number("requests", 2_000);
    if args.flag("pin") {
        pin(std::process::id(), 0);
    }

    let data = tempfile::tempdir().expect("a temporary directory");
    let (database, url) = support::database(&args, &data).await;
    let backend = support::backend(&args);
    let (token, ids) = seed(&database, agents).await;

    let server = Server::on_database(data, &args, &url).await;
    let client = reqwest::Client::new();
    let get = |path: String| {
        let response = get_as(&client, &token, server.url(&path));
        async move {
            response.await.bytes().await.expect("a body");
        }
    };
    let pick = |n: u64| &ids[(n.wrapping_mul(2_654_435_761) % ids.len() as u64) as usize];

    println!("{backend}, {agents} agents of one user, {requests} requests per line, one at a time");
    measure("warm-up (not a result)", requests / 4, |n| {
        get(format!("/api/agents/{}", pick(n)))
    })
    .await;
    measure("list: first page of 50", requests, |_| {
        get("/api/agents?limit=50".into())
    })
    .await;
    measure("list: page of 50 after a random cursor", requests, |n| {
        get(format!("/api/agents?limit=50&cursor={}", pick(n)))
    })
    .await;
    let alone = measure("fetch one agent", requests, |n| {
        get(format!("/api/agents/{}", pick(n)))
    })
    .await;

    let sign_in = |_| {
        let request = client
            .post(server.url("/api/auth/sign-in"))
            .json(&serde_json::json!({"email": EMAIL, "password": PASSWORD}));
        async move {
            let response = request.send().await.expect("the server answers");
            assert!(response.status().is_success(), "{}", response.status());
        }
    };
    measure("sign-in (one argon2 verification)", 30, sign_in).await;

    let stop = Arc::new(AtomicBool::new(false));
    let signer_count = args.number("signers", 1);
    let signers: Vec<_> = (0..signer_count)
        .map(|_| {
            let stop = stop.clone();
            let request = client
                .post(server.url("/api/auth/sign-in"))
                .json(&serde_json::json!({"email": EMAIL, "password": PASSWORD}))
                .build()
                .expect("a request");
            let client = client.clone();
            tokio::spawn(async move {
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let request = request.try_clone().expect("a cloneable request");
                    client.execute(request).await.expect("the server answers");
                    count += 1;
                }
                count
            })
        })
        .collect();
    let started = Instant::now();
    let label = format!("fetch one agent, {signer_count} client(s) signing in meanwhile");
    let busy = measure(&label, requests, |n| {
        get(format!("/api/agents/{}", pick(n)))
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut sign_ins = 0;
    for signer in signers {
        sign_ins += signer.await.expect("a signer");
    }
    println!(
        "    ({sign_ins} sign-ins ran alongside, {:.1}/s; p99 {:.2} ms alone vs {:.2} ms meanwhile)",
        sign_ins as f64 / started.elapsed().as_secs_f64(),
        alone.value_at_quantile(0.99) as f64 / 1000.0,
        busy.value_at_quantile(0.99) as f64 / 1000.0,
    );
    drop(server);
}

/// Creates the user, an API token and `count` agents (some scheduled); returns the token
/// and the agents' ids.
async fn seed(database: &DatabaseConfig, count: u64) -> (String, Vec<String>) {
    let started = Instant::now();
    let store = Store::connect(database).await.expect("the database opens");
    store.migrate().await.expect("the schema applies");
    let (user_id, token) = support::bench_user(&store, EMAIL, PASSWORD).await;
    let writers = 8;
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = store.clone();
            let owner = user_id.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in (writer..count).step_by(writers as usize) {
                    let change = AgentChange {
                        name: format!("agent {n}"),
                        system_instructions: "You are a careful assistant.".into(),
                        task_instructions: "Summarise the news.".into(),
                        model: "gpt-4o-mini".into(),
                        temperature: 0.7,
                        tools: vec![Tool::CurrentTime, Tool::HttpRequest],
                        schedule: (n % 10 == 0).then(|| "0 9 * * 1-5".into()),
                        time_zone: "Europe/Paris".into(),
                        schedule_memory_runs: 10,
                        status: AgentStatus::Idle,
                        next_run_at: None,
                    };
                    ids.push(
                        store
                            .create_agent(
                                &owner,
                                &change,
                                &Audit::by_system(AuditAction::AgentCreated, "for a bench"),
                            )
                            .await
                            .expect("an agent")
                            .id,
                    );
                }
                ids
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.expect("a writer"));
    }
    store.close().await;
    println!(
        "seeded {count} agents in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    (token, ids)
}
