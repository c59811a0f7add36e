//! `spawn_app()`: the test harness. Each test gets its own server on port 0 and its own
//! database — a SQLite file in a temporary directory, or, when `HATCHERY_TEST_POSTGRES`
//! names a PostgreSQL server, a fresh database on it — and a [`TestApp`] with one helper per
//! endpoint. Every server starts with three real accounts and an API token for each:
//! `alice` and `bob` (users with those ids) and `root` (an admin, token name `admin`).

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    str::FromStr,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use hatchery_server::{
    Application,
    auth::{AuthConfig, Role, TOKEN_PREFIX, password, secret},
    config::Config,
    realtime::{Realtime, RealtimeConfig},
    runner::{RunnerConfig, local::provider::LocalConfig},
    store::{
        Audit, DatabaseConfig, NewApiToken, NewMessageRow, NewRun, NewUser, RunRow, RunStart,
        RunThread, Store,
    },
    telemetry::{LogConfig, LogFormat},
};
use hatchery_shared::api::{
    audit::AuditAction,
    runs::RunTrigger,
    threads::{MessageRole, ThreadKind},
};
use sqlx::{Connection, migrate::Migrator, postgres::PgConnectOptions};
use tempfile::TempDir;
use tokio::{
    sync::{OnceCell, oneshot},
    task::JoinHandle,
};

use crate::conformance;

/// The password of every test account.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// A client that never follows redirects, so tests see exactly what the server sent.
    pub client: reqwest::Client,
    /// The server's database, shared with the server.
    pub store: Store,
    /// The server's real-time hub.
    pub realtime: Realtime,
    /// The data directory; keeps the temporary directory alive while the test runs.
    pub data: TestData,
    /// API token secrets by name: `alice`, `bob`, `admin`.
    tokens: HashMap<&'static str, String>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// A parameter of [`TestData::execute`].
pub enum SqlParam<'a> {
    /// A time.
    Time(DateTime<Utc>),
    /// A text.
    Text(&'a str),
    /// A whole number.
    Int(i64),
}

/// A data directory and database that outlive one server, so a test can restart on them.
pub struct TestData {
    dir: TempDir,
    postgres: Option<(String, PgConnectOptions)>,
}

impl TestData {
    /// A new, empty data directory and database.
    pub fn new() -> Self {
        let postgres = std::env::var("HATCHERY_TEST_POSTGRES").ok().map(|url| {
            let name = format!("test_{}", uuid::Uuid::new_v4().simple());
            let options = PgConnectOptions::from_str(&url)
                .expect("HATCHERY_TEST_POSTGRES is a PostgreSQL URL")
                .database(&name);
            let server = url
                .rsplit_once('/')
                .map_or(url.as_str(), |(server, _)| server);
            (format!("{server}/{name}"), options)
        });
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            postgres,
        }
    }

    /// The directory's path.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Whether the tests run on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The migrations this backend applies.
    pub fn migrations(&self) -> &'static Migrator {
        if self.is_postgres() {
            &hatchery_server::store::POSTGRES_MIGRATIONS
        } else {
            &hatchery_server::store::SQLITE_MIGRATIONS
        }
    }

    /// `HATCHERY_DATABASE_URL` for this directory's database.
    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some((url, _)) => url.clone(),
            None => format!("sqlite://{}", self.path().join("hatchery.db").display()),
        }
    }

    /// Creates the PostgreSQL database if it does not exist yet.
    pub async fn create_database(&self) {
        let Some((_, options)) = &self.postgres else {
            return;
        };
        let name = options.get_database().expect("a database name").to_owned();
        let mut admin = sqlx::PgConnection::connect_with(&options.clone().database("postgres"))
            .await
            .expect("the test PostgreSQL server answers");
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(&name)
                .fetch_one(&mut admin)
                .await
                .unwrap();
        if !exists {
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }

    /// Runs `sql` on the database outside the server, with `params` bound as `$1`, `$2`:
    /// for a test that sets up what the API cannot, such as runs of past days.
    pub async fn execute(&self, sql: &str, params: &[SqlParam<'_>]) {
        macro_rules! run_on {
            ($connection:expr) => {{
                let mut query = sqlx::query(sql);
                for param in params {
                    query = match param {
                        SqlParam::Time(time) => query.bind(*time),
                        SqlParam::Text(text) => query.bind(*text),
                        SqlParam::Int(n) => query.bind(*n),
                    };
                }
                query.execute($connection).await.unwrap();
            }};
        }
        match &self.postgres {
            Some((_, options)) => {
                run_on!(&mut sqlx::PgConnection::connect_with(options).await.unwrap())
            }
            None => run_on!(
                &mut sqlx::SqliteConnection::connect(&self.database_url())
                    .await
                    .unwrap()
            ),
        }
    }

    /// The configuration of a server on this directory and database.
    pub fn config(&self) -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: self.path(),
            agents_dir: None,
            database: match &self.postgres {
                Some((_, options)) => DatabaseConfig::Postgres(options.clone()),
                None => DatabaseConfig::sqlite_file(self.path().join("hatchery.db")),
            },
            log: LogConfig {
                filter: "warn".into(),
                format: LogFormat::Pretty,
            },
            shutdown_grace: Duration::from_secs(5),
            realtime: RealtimeConfig::default(),
            worker_threads: None,
            auth: AuthConfig::default(),
            // No provider and no model file: runs fail at once, saying the file is missing
            // (the tests of the local model point at the real one).
            runner: RunnerConfig {
                local: LocalConfig {
                    model_file: self.path().join("no-model.gguf"),
                    ..LocalConfig::default()
                },
                ..RunnerConfig::default()
            },
            scheduler: hatchery_server::scheduler::SchedulerConfig::default(),
            audit: hatchery_server::audit::AuditConfig::default(),
            system_log: hatchery_server::audit::system_log::SystemLogConfig::default(),
            webhooks: hatchery_server::webhooks::WebhookConfig::default(),
            serve: hatchery_server::serve::ServeLimits::default(),
        }
    }
}

/// Starts a server with a fresh, empty database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestData::new()).await
}

/// Starts a server whose real-time settings `tune` changed first.
pub async fn spawn_app_with(tune: impl FnOnce(&mut RealtimeConfig)) -> TestApp {
    spawn_app_configured(|config| tune(&mut config.realtime)).await
}

/// Starts a server whose configuration `tune` changed first.
pub async fn spawn_app_configured(tune: impl FnOnce(&mut Config)) -> TestApp {
    let data = TestData::new();
    let mut config = data.config();
    tune(&mut config);
    start(data, config).await
}

/// Starts a server on an existing data directory (to test restarts).
pub async fn spawn_app_on(data: TestData) -> TestApp {
    spawn_app_on_configured(data, |_| {}).await
}

/// Starts a server on an existing data directory, its configuration changed by `tune`.
pub async fn spawn_app_on_configured(data: TestData, tune: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = data.config();
    tune(&mut config);
    start(data, config).await
}

/// Starts a server on a database without any account, as on first run.
pub async fn spawn_app_without_accounts() -> TestApp {
    let data = TestData::new();
    let config = data.config();
    start_with(data, config, false).await
}

/// One argon2 hash of [`PASSWORD`], shared by every test account of the process.
async fn password_hash() -> String {
    static HASH: OnceCell<String> = OnceCell::const_new();
    HASH.get_or_init(|| async {
        password::Hashing::for_this_machine()
            .hash(PASSWORD.into())
            .await
            .expect("one hash fits")
    })
    .await
    .clone()
}

/// Makes sure the test accounts exist and gives each a new API token.
async fn seed_accounts(store: &Store) -> HashMap<&'static str, String> {
    let hash = password_hash().await;
    let mut tokens = HashMap::new();
    for (token_name, id, role) in [
        ("alice", "alice", Role::User),
        ("bob", "bob", Role::User),
        ("admin", "root", Role::Admin),
    ] {
        store
            .ensure_user(
                id,
                &NewUser {
                    email: format!("{id}@example.com"),
                    display_name: id.to_owned(),
                    role,
                    password_hash: Some(hash.clone()),
                },
            )
            .await
            .expect("a test account");
        let token = secret::generate(TOKEN_PREFIX);
        store
            .create_api_token(
                &NewApiToken {
                    user_id: id,
                    name: "tests",
                    hash: &secret::hash(&token),
                    prefix: &token[..10],
                },
                &by_tests(AuditAction::TokenCreated),
            )
            .await
            .expect("a test token");
        tokens.insert(token_name, token);
    }
    tokens
}

async fn start(data: TestData, config: Config) -> TestApp {
    start_with(data, config, true).await
}

async fn start_with(data: TestData, config: Config, accounts: bool) -> TestApp {
    data.create_database().await;
    let app = Application::build(&config)
        .await
        .expect("the server starts");
    let addr = app.local_addr();
    let store = app.store().clone();
    let realtime = app.realtime().clone();
    let tokens = if accounts {
        seed_accounts(&store).await
    } else {
        HashMap::new()
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    TestApp {
        addr,
        client,
        store,
        realtime,
        data,
        tokens,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// The API token of the test account `name` (`alice`, `bob`, `admin`); any other name
    /// is passed through as is, as a token the server does not know.
    pub fn bearer<'a>(&'a self, name: &'a str) -> &'a str {
        self.tokens.get(name).map_or(name, String::as_str)
    }

    /// A request to `path` with the API token of `who` (see [`TestApp::bearer`]), or
    /// anonymous when `None`, and a JSON body when given.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(who) = who {
            request = request.bearer_auth(self.bearer(who));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await.expect("the request completes")
    }

    /// Sends a request to this server, and checks the answer against the API's OpenAPI
    /// document (see [`conformance`]) before handing it back with its body unread.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let request = request.build()?;
        let method = request.method().to_string();
        let path = request.url().path().to_owned();
        let response = self.client.execute(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        conformance::check_response(&method, &path, status.as_u16(), content_type, &body);
        let mut answer = axum::http::Response::new(body);
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(reqwest::Response::from(answer))
    }

    /// Like [`TestApp::call`], and the answer's JSON body.
    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> T {
        self.call(method, path, who, body)
            .await
            .json()
            .await
            .expect("a JSON answer of the expected shape")
    }

    /// Creates an agent of `who` named `name` through the API, and a chat thread of it;
    /// both ids.
    pub async fn agent_with_thread(&self, who: &str, name: &str) -> (String, String) {
        let agent: serde_json::Value = self
            .json(
                reqwest::Method::POST,
                "/api/agents",
                Some(who),
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        let agent = agent["id"].as_str().expect("an agent id").to_owned();
        let thread = self
            .store
            .create_thread(
                &agent,
                "test",
                ThreadKind::Chat,
                &by_tests(AuditAction::ThreadCreated),
            )
            .await
            .expect("a thread")
            .expect("its agent exists");
        (agent, thread.id)
    }

    /// Stores a queued run of `agent` in `thread` replying to `content`, as the runner
    /// would before starting it (no runner takes it up).
    pub async fn stored_run(
        &self,
        agent: &str,
        thread: &str,
        trigger: RunTrigger,
        model: &str,
        content: &str,
    ) -> RunRow {
        let message = NewMessageRow {
            role: Some(MessageRole::User),
            content: content.into(),
            ..NewMessageRow::default()
        };
        let stored = self
            .store
            .start_run(&NewRun {
                agent_id: agent,
                thread: RunThread::Existing(thread),
                trigger,
                model,
                message: &message,
                delivery: None,
                audit: None,
            })
            .await
            .expect("the run is stored");
        match stored {
            RunStart::Started(started) => started.run,
            other => panic!("the thread is busy: {other:?}"),
        }
    }

    /// Disables alice's agent `id` through the API.
    pub async fn disable_agent(&self, id: &str) {
        let response = self
            .call(
                reqwest::Method::PATCH,
                &format!("/api/agents/{id}"),
                Some("alice"),
                Some(serde_json::json!({"disabled": true})),
            )
            .await;
        assert_eq!(response.status(), reqwest::StatusCode::OK);
    }

    /// Deletes alice's agent `id` through the API.
    pub async fn delete_agent(&self, id: &str) {
        let response = self
            .call(
                reqwest::Method::DELETE,
                &format!("/api/agents/{id}"),
                Some("alice"),
                None,
            )
            .await;
        assert_eq!(response.status(), reqwest::StatusCode::NO_CONTENT);
    }

    /// `POST /api/auth/sign-in`; the response as is.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.send(
            self.client
                .post(self.url("/api/auth/sign-in"))
                .json(&serde_json::json!({ "email": email, "password": password })),
        )
        .await
        .expect("the request completes")
    }

    /// Signs in as `email` with the test password and returns the `Cookie` header value that
    /// carries the session.
    pub async fn session_cookie(&self, email: &str) -> String {
        let response = self.sign_in(email, PASSWORD).await;
        assert_eq!(response.status(), 200, "{email} signs in");
        session_cookie_of(&response).expect("sign-in sets the session cookie")
    }

    /// The absolute URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path` with no extra headers.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.send(self.client.get(self.url(path)))
            .await
            .expect("the request completes")
    }

    /// `POST /api/topics/{topic}/events` with a notice, as the holder of `token`.
    pub async fn publish_notice(&self, token: &str, topic: &str, text: &str) -> reqwest::Response {
        self.send(
            self.client
                .post(self.url(&format!("/api/topics/{topic}/events")))
                .bearer_auth(self.bearer(token))
                .json(
                    &serde_json::json!({"type": "notice", "data": {"level": "info", "text": text}}),
                ),
        )
        .await
        .expect("the request completes")
    }

    /// `GET /api/topics/{topic}/events?{query}` as the holder of `token`.
    pub async fn topic_events(&self, token: &str, topic: &str, query: &str) -> reqwest::Response {
        self.send(
            self.client
                .get(self.url(&format!("/api/topics/{topic}/events?{query}")))
                .bearer_auth(self.bearer(token)),
        )
        .await
        .expect("the request completes")
    }

    /// The value of one metric sample in `GET /metrics`, e.g.
    /// `hatchery_ws_connections_closed_total{code="slow_consumer"}`; 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let response = self
            .call(reqwest::Method::GET, "/metrics", Some("admin"), None)
            .await;
        let text = response.text().await.unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> reqwest::Response {
        self.get("/healthz").await
    }

    /// `GET /readyz`.
    pub async fn readyz(&self) -> reqwest::Response {
        self.get("/readyz").await
    }

    /// Stops the server gracefully and waits for it, returning the data directory so the
    /// test can start another server on it.
    pub async fn shutdown(mut self) -> TestData {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task does not panic")
                .expect("the server stops cleanly");
        }
        self.data
    }
}

/// The `name=value` of the session cookie a response sets, if it sets one with a value.
pub fn session_cookie_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| {
            pair.starts_with("hatchery_session=") && pair.len() > "hatchery_session=".len()
        })
        .map(str::to_owned)
}

/// Polls `check` every 50 ms for up to 15 s.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The audit record of a change the tests make straight in the store.
pub fn by_tests(action: AuditAction) -> Audit {
    Audit::by_system(action, "by the tests")
}
