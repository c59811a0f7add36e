//! `spawn_app()`: the test harness. Each test gets its own server on port 0 and its own
//! database in a temporary directory, and a [`TestApp`] with one helper per endpoint.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use hatchery_server::{
    Application,
    config::{Config, DatabaseConfig, LogConfig, LogFormat},
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
        }
    }
}

/// Starts a server with a fresh, empty database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestData::new()).await
}

/// Starts a server on an existing data directory (to test restarts).
pub async fn spawn_app_on(data: TestData) -> TestApp {
    let app = Application::build(&data.config())
        .await
        .expect("the server starts");
    let addr = app.local_addr();
    let store = app.store().clone();
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
