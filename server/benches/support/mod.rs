//! What the load generators share: their command line, pinning to a core, and the
//! `hatchery` binary under test with a throwaway data directory.

#![allow(dead_code, reason = "each benchmark uses part of this module")]

use std::{collections::HashMap, process::Stdio, str::FromStr, time::Instant};

use axum::serve::ListenerExt;
use hatchery_server::{
    auth::{Role, TOKEN_PREFIX, password, secret},
    store::{Audit, DatabaseConfig, NewApiToken, NewUser, Store},
};
use hatchery_shared::api::audit::AuditAction;
use hdrhistogram::Histogram;
use sqlx::{Connection, postgres::PgConnectOptions};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// Command-line arguments: a scenario and `--name value` pairs (cargo's `--bench` ignored).
pub struct Args {
    pub scenario: String,
    options: HashMap<String, String>,
}

impl Args {
    pub fn parse(default_scenario: &str) -> Self {
        let mut scenario = String::from(default_scenario);
        let mut options = HashMap::new();
        let mut args = std::env::args()
            .skip(1)
            .filter(|arg| arg != "--bench")
            .peekable();
        while let Some(arg) = args.next() {
            match arg.strip_prefix("--") {
                Some(name) => {
                    let value = match args.peek() {
                        Some(next) if !next.starts_with("--") => args.next().unwrap_or_default(),
                        _ => String::new(),
                    };
                    options.insert(name.to_owned(), value);
                }
                None => scenario = arg,
            }
        }
        Self { scenario, options }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.options.contains_key(name)
    }

    pub fn number(&self, name: &str, default: u64) -> u64 {
        self.options
            .get(name)
            .map(|value| {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("--{name} takes a number"))
            })
            .unwrap_or(default)
    }
}

/// Pins every thread of process `pid` to `core`.
pub fn pin(pid: u32, core: u32) {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "taskset could not pin pid {pid}"
    );
}

/// The `hatchery` binary under test, with a throwaway data directory.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: String,
    /// The JSON log lines after "listening" (the oldest dropped past 1,024 unread).
    logs: tokio::sync::mpsc::Receiver<serde_json::Value>,
    _data: tempfile::TempDir,
}

impl Server {
    /// Starts the binary (on core 1 with `pin_core`, one runtime thread) with `env` on top
    /// of the defaults, and waits until it listens.
    pub async fn start(pin_core: bool, env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().expect("a temporary directory");
        Self::start_in(data, pin_core, env).await
    }

    /// Like [`Server::start`], on an existing data directory.
    pub async fn start_in(data: tempfile::TempDir, pin_core: bool, env: &[(&str, &str)]) -> Self {
        // `HATCHERY_BENCH_BINARY` names another build to measure (say, the one before a change).
        let binary = std::env::var_os("HATCHERY_BENCH_BINARY")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_hatchery").into());
        let mut child = Command::new(binary)
            .env("HATCHERY_ADDR", "127.0.0.1:0")
            .env("HATCHERY_DATA_DIR", data.path())
            .env("HATCHERY_WORKER_THREADS", "1")
            .env("HATCHERY_LOG", "warn,hatchery=info")
            .env("HATCHERY_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the hatchery binary starts");
        if pin_core {
            pin(child.id().expect("a pid"), 1);
        }
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let addr = loop {
            let line = lines
                .next_line()
                .await
                .ok()
                .flatten()
                .expect("the server listens");
            if let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line)
                && entry["message"] == "listening"
            {
                break entry["addr"].as_str().expect("an address").to_owned();
            }
        };
        let (sender, logs) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(entry) = serde_json::from_str(&line) {
                    let _ = sender.try_send(entry);
                }
            }
        });
        Self {
            child,
            addr,
            logs,
            _data: data,
        }
    }

    /// Like [`Server::start_in`], on the database at `url` (see [`database`]), pinned with
    /// `--pin`.
    pub async fn on_database(data: tempfile::TempDir, args: &Args, url: &str) -> Self {
        Self::start_in(data, args.flag("pin"), &[("HATCHERY_DATABASE_URL", url)]).await
    }

    /// The absolute URL of `path` on it.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Waits for the log line whose message is `message`, and returns it.
    pub async fn log_line(&mut self, message: &str) -> serde_json::Value {
        loop {
            let entry = self.logs.recv().await.expect("the server logs it");
            if entry["message"] == message {
                return entry;
            }
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server runs")
    }

    /// CPU seconds the server has used (user + system).
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }
}

/// Resident memory of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// The most resident memory process `pid` has had, in KiB.
pub fn rss_peak_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// A size in `/proc/{pid}/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU seconds process `pid` has used (user + system), from `/proc/{pid}/stat`.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(") ")
        .next()
        .unwrap_or_default()
        .split(' ')
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|t| t.parse::<u64>().ok()).sum());
    ticks as f64 / 100.0
}

/// Runs `request(n)` for n in 0..count, one at a time, and prints the latency quantiles.
pub async fn measure<F, Fut>(label: &str, count: u64, mut request: F) -> Histogram<u64>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut latency = Histogram::<u64>::new(3).expect("a histogram");
    for n in 0..count {
        let start = Instant::now();
        request(n).await;
        latency
            .record(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX))
            .expect("a recordable latency");
    }
    report(label, &latency);
    latency
}

/// Prints a line of latency quantiles (in microseconds in `latency`) as milliseconds.
pub fn report(label: &str, latency: &Histogram<u64>) {
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "  {label:<52} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        ms(0.5),
        ms(0.99),
        latency.max() as f64 / 1000.0
    );
}

/// A fresh database on the PostgreSQL server named by `HATCHERY_TEST_POSTGRES`.
pub async fn postgres_database() -> (DatabaseConfig, String) {
    let server = std::env::var("HATCHERY_TEST_POSTGRES")
        .expect("--postgres needs HATCHERY_TEST_POSTGRES (run under scripts/with-postgres.sh)");
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let options = PgConnectOptions::from_str(&server).expect("a PostgreSQL URL");
    let mut admin = sqlx::PgConnection::connect_with(&options)
        .await
        .expect("PostgreSQL answers");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("a new database");
    let url = format!(
        "{}/{name}",
        server.rsplit_once('/').map_or(server.as_str(), |(s, _)| s)
    );
    (DatabaseConfig::Postgres(options.database(&name)), url)
}

/// Creates a user with `email` and `password` and an API token of theirs; their id and
/// the token.
pub async fn bench_user(store: &Store, email: &str, password: &str) -> (String, String) {
    let user = store
        .create_user(
            &NewUser {
                email: email.into(),
                display_name: "Bench".into(),
                role: Role::User,
                password_hash: Some(
                    password::Hashing::for_this_machine()
                        .hash(password.into())
                        .await
                        .expect("one hash fits"),
                ),
            },
            &Audit::by_system(AuditAction::UserCreated, "for a bench"),
        )
        .await
        .expect("a user");
    let token = secret::generate(TOKEN_PREFIX);
    store
        .create_api_token(
            &NewApiToken {
                user_id: &user.id,
                name: "bench",
                hash: &secret::hash(&token),
                prefix: &token[..10],
            },
            &Audit::by_system(AuditAction::TokenCreated, "for a bench"),
        )
        .await
        .expect("a token");
    (user.id, token)
}

/// `GET url` with `token` as the bearer token; the answer must be a success.
pub async fn get_as(client: &reqwest::Client, token: &str, url: String) -> reqwest::Response {
    let response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers");
    assert!(response.status().is_success(), "{}", response.status());
    response
}

/// The name of the database the benchmark runs on (`--postgres` or not), for its report.
pub fn backend(args: &Args) -> &'static str {
    if args.flag("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}

/// The database the server under test uses, with `--postgres` a fresh one on the test
/// PostgreSQL, otherwise SQLite in `data`: its settings and its URL.
pub async fn database(args: &Args, data: &tempfile::TempDir) -> (DatabaseConfig, String) {
    if args.flag("postgres") {
        postgres_database().await
    } else {
        let path = data.path().join("hatchery.db");
        (
            DatabaseConfig::sqlite_file(path.clone()),
            format!("sqlite://{}", path.display()),
        )
    }
}

/// A streamed Chat Completions answer: `count` tokens, one every `every` (all at once when
/// `None`), each token's text what `token` gives at the moment it is written, then `[DONE]`.
pub fn streamed_reply(
    every: Option<std::time::Duration>,
    count: u64,
    token: impl Fn() -> String + Send + 'static,
) -> axum::response::Response {
    let stream = async_stream::stream! {
        let mut tick = every.map(tokio::time::interval);
        for _ in 0..count {
            if let Some(tick) = tick.as_mut() {
                tick.tick().await;
            }
            let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"content": token()}}]});
            yield Ok::<_, std::io::Error>(format!("data: {chunk}\n\n"));
        }
        yield Ok("data: [DONE]\n\n".to_owned());
    };
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .body(axum::body::Body::from_stream(stream))
        .expect("a response")
}

/// Serves `app` (a fake provider) on a free loopback port; its base URL, as
/// `HATCHERY_LLM_BASE_URL` names it.
pub async fn serve_provider(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("an address");
    // Each token leaves at once, as a real provider's do: without this, Nagle's algorithm
    // holds a token back until the previous one is acknowledged, which a delayed ACK can
    // put off for 40 ms, and the benches would time the kernel instead of the server.
    let listener = listener.tap_io(|tcp| {
        tcp.set_nodelay(true)
            .expect("TCP_NODELAY on a loopback socket");
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/v1")
}

/// Makes the account `user_id` of the database at `url` an admin.
pub async fn make_admin(url: &str, user_id: &str) {
    let sql = "UPDATE users SET role = 'admin' WHERE id = $1";
    if url.starts_with("sqlite:") {
        let mut connection = sqlx::SqliteConnection::connect(url)
            .await
            .expect("SQLite opens");
        sqlx::query(sql)
            .bind(user_id)
            .execute(&mut connection)
            .await
            .expect("an admin");
    } else {
        let mut connection = sqlx::PgConnection::connect(url)
            .await
            .expect("PostgreSQL answers");
        sqlx::query(sql)
            .bind(user_id)
            .execute(&mut connection)
            .await
            .expect("an admin");
    }
}
