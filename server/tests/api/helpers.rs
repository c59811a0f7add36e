//! `spawn_app()`: the test harness. Each test gets its own server on port 0 and its own
//! database in a temporary directory, and a [`TestApp`] with one helper per endpoint.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use axum::http::request::Parts;
use hatchery_server::{
    Application,
    auth::{AuthError, Authenticator, Identity, Role},
    config::{Config, DatabaseConfig, LogConfig, LogFormat},
    realtime::{Realtime, RealtimeConfig},
    store::Store,
};
use tempfile::TempDir;
use tokio::{sync::oneshot, task::JoinHandle};

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
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// A data directory that outlives one server, so a test can restart on the same database.
pub struct TestData {
    dir: TempDir,
}

impl TestData {
    /// A new, empty data directory.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The directory's path.
    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn config(&self) -> Config {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: self.path(),
            database: DatabaseConfig::sqlite_file(self.path().join("hatchery.db")),
            log: LogConfig {
                filter: "warn".into(),
                format: LogFormat::Pretty,
            },
            shutdown_grace: Duration::from_secs(5),
            realtime: RealtimeConfig::default(),
            worker_threads: None,
        }
    }
}

/// Test identities, chosen by bearer token (header or `?token=`): `alice` and `bob` are
/// users of those ids, `admin` is the admin `root`; anything else is refused.
struct TestTokens;

impl Authenticator for TestTokens {
    fn authenticate(&self, parts: &Parts) -> Result<Identity, AuthError> {
        let from_header = parts
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        let from_query = parts.uri.query().and_then(|query| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("token="))
        });
        match from_header.or(from_query) {
            Some(user @ ("alice" | "bob")) => Ok(Identity {
                user_id: user.into(),
                role: Role::User,
            }),
            Some("admin") => Ok(Identity {
                user_id: "root".into(),
                role: Role::Admin,
            }),
            Some(_) => Err(AuthError("unknown token".into())),
            None => Err(AuthError("sign in first".into())),
        }
    }
}

/// Starts a server with a fresh, empty database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestData::new()).await
}

/// Starts a server whose real-time settings `tune` changed first.
pub async fn spawn_app_with(tune: impl FnOnce(&mut RealtimeConfig)) -> TestApp {
    let data = TestData::new();
    let mut config = data.config();
    tune(&mut config.realtime);
    start(data, config).await
}

/// Starts a server on an existing data directory (to test restarts).
pub async fn spawn_app_on(data: TestData) -> TestApp {
    let config = data.config();
    start(data, config).await
}

async fn start(data: TestData, config: Config) -> TestApp {
    let app = Application::build_with(&config, Arc::new(TestTokens))
        .await
        .expect("the server starts");
    let addr = app.local_addr();
    let store = app.store().clone();
    let realtime = app.realtime().clone();
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
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    /// The absolute URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path` with no extra headers.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("the request completes")
    }

    /// `POST /api/topics/{topic}/events` with a notice, as the holder of `token`.
    pub async fn publish_notice(&self, token: &str, topic: &str, text: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/topics/{topic}/events")))
            .bearer_auth(token)
            .json(&serde_json::json!({"type": "notice", "data": {"level": "info", "text": text}}))
            .send()
            .await
            .expect("the request completes")
    }

    /// `GET /api/topics/{topic}/events?{query}` as the holder of `token`.
    pub async fn topic_events(&self, token: &str, topic: &str, query: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/api/topics/{topic}/events?{query}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("the request completes")
    }

    /// The value of one metric sample in `GET /metrics`, e.g.
    /// `hatchery_ws_connections_closed_total{code="slow_consumer"}`; 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.unwrap();
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
