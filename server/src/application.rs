//! Building, running and stopping the server: [`Application::build`] binds the listener
//! and prepares the database, [`Application::run_until`] serves until told to stop and
//! then shuts down gracefully.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use secrecy::ExposeSecret;
use tokio::{net::TcpListener, sync::mpsc};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    agents::{Agents, files::AgentFiles},
    audit::{
        self, AuditConfig,
        system_log::{self, SystemLogConfig, SystemLogIntake},
    },
    auth::Auth,
    config::Config,
    http::{self, AppState, HttpMetrics, Parts},
    realtime::Realtime,
    rooms::Rooms,
    runner::{AgentTouched, Freshen, Runner, metrics::RunnerMetrics},
    scheduler::{Scheduler, SchedulerConfig},
    serve::{self, ServeLimits},
    store::{Store, StoreError},
    webhooks::{Webhooks, sealing},
};

/// A reason the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The agents directory is not a directory that can be read.
    #[error("HATCHERY_AGENTS_DIR {path}: {message}")]
    AgentsDir {
        /// The directory.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The site's settings (`LEPTOS_*` variables) are invalid.
    #[error("site settings: {0}")]
    Site(String),
    /// The key that seals webhook secrets could not be read or created.
    #[error("secret key: {0}")]
    SecretKey(io::Error),
    /// The metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// A server that has bound its address and migrated its database, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown_grace: Duration,
    scheduler: Scheduler,
    scheduler_config: SchedulerConfig,
    /// The agents kept as files, when there is an agents directory.
    agent_files: Option<AgentFiles>,
    /// What runs did to their agents, for the Agents service to follow once running.
    agent_events: mpsc::Receiver<AgentTouched>,
    serve_limits: ServeLimits,
    /// The size of SQLite's write-ahead log, kept by the checkpoint task.
    log_bytes: prometheus::IntGauge,
    /// The audit log's settings, for its retention task.
    audit: AuditConfig,
    /// The system log's settings, for its retention task.
    system_log: SystemLogConfig,
    /// The records of the system log's layer, when the process installed one.
    system_log_intake: Option<SystemLogIntake>,
}

impl Application {
    /// Creates the data directory, opens and migrates the database, and binds the listener
    /// (port 0 picks a free port; see [`Application::local_addr`]).
    pub async fn build(config: &Config) -> Result<Self, StartupError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartupError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let store = Store::connect(&config.database).await?;
        store.migrate().await?;
        let leptos = leptos::config::get_configuration(None)
            .map_err(|err| StartupError::Site(err.to_string()))?
            .leptos_options;
        let listener =
            TcpListener::bind(config.addr)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.addr,
                    source,
                })?;
        let metrics = prometheus::Registry::new();
        let log_bytes = prometheus::IntGauge::new(
            "hatchery_sqlite_wal_bytes",
            "Size of SQLite's write-ahead log after the last checkpoint",
        )?;
        metrics.register(Box::new(log_bytes.clone()))?;
        store.register_metrics(&metrics)?;
        let realtime = Realtime::new(config.realtime.clone(), &metrics, store.clone())?;
        let auth = Auth::new(config.auth.clone(), store.clone(), realtime.clone()).await?;
        let scheduler = Scheduler::with_metrics(&metrics)?;
        let agent_files = match &config.agents_dir {
            Some(dir) => Some(AgentFiles::new(
                agents_dir(dir)?,
                store.clone(),
                realtime.clone(),
                scheduler.clone(),
                config.runner.default_model.clone(),
            )),
            None => None,
        };
        let (runner, agent_events) = Runner::new(
            config.runner.clone(),
            store.clone(),
            realtime.clone(),
            agent_files
                .clone()
                .map(|files| Arc::new(files) as Arc<dyn Freshen>),
            RunnerMetrics::register(&metrics)?,
        )
        .await?;
        let agents = Agents::new(
            store.clone(),
            realtime.clone(),
            runner.clone(),
            scheduler.clone(),
        );
        let key = match &config.webhooks.secret_key {
            Some(key) => *key.expose_secret(),
            None => sealing::key_from_file(&config.data_dir.join("secret.key"))
                .map_err(StartupError::SecretKey)?,
        };
        let webhooks = Webhooks::new(
            config.webhooks.clone(),
            &key,
            store.clone(),
            runner.clone(),
            &metrics,
        )?;
        let rooms = Rooms::new(store.clone(), realtime.clone(), runner.clone());
        rooms.recover().await?;
        Ok(Self {
            listener,
            state: AppState::new(Parts {
                store,
                realtime,
                auth,
                runner,
                agents,
                webhooks,
                rooms,
                http_metrics: HttpMetrics::register(&metrics)?,
                metrics,
                leptos,
            }),
            shutdown_grace: config.shutdown_grace,
            scheduler,
            scheduler_config: config.scheduler.clone(),
            agent_files,
            agent_events,
            serve_limits: config.serve,
            log_bytes,
            audit: config.audit.clone(),
            system_log: config.system_log.clone(),
            system_log_intake: None,
        })
    }

    /// Keeps the records of the system log's layer (see [`crate::telemetry::init`]) in the
    /// database and tails them on the `logs` topic; counts those dropped in `/metrics`.
    pub fn with_system_log(mut self, intake: SystemLogIntake) -> Result<Self, StartupError> {
        self.state
            .metrics
            .register(Box::new(intake.dropped.clone()))?;
        self.system_log_intake = Some(intake);
        Ok(self)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// The database, for callers that run beside the server (such as tests).
    pub fn store(&self) -> &Store {
        &self.state.store
    }

    /// Authentication, for callers that run beside the server (such as tests).
    pub fn auth(&self) -> &Auth {
        &self.state.auth
    }

    /// The real-time hub, for callers that run beside the server (such as tests).
    pub fn realtime(&self) -> &Realtime {
        &self.state.realtime
    }

    /// Serves until `shutdown` completes, then stops accepting connections, closes
    /// WebSockets with 1001, gives in-flight requests up to the configured grace period,
    /// and closes the database.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> io::Result<()> {
        let Self {
            listener,
            state,
            shutdown_grace,
            scheduler,
            scheduler_config,
            agent_files,
            agent_events,
            serve_limits,
            log_bytes,
            audit,
            system_log,
            system_log_intake,
        } = self;
        let store = state.store.clone();
        let realtime = state.realtime.clone();
        let runner = state.runner.clone();
        let rooms = state.rooms.clone();
        let stop = CancellationToken::new();
        let background = TaskTracker::new();
        let stop_background = CancellationToken::new();
        scheduler.start(
            state.agents.schedules(),
            scheduler_config,
            &background,
            stop_background.clone(),
        );
        // Runs outlive the other background tasks at shutdown (they get the grace period), so
        // what they do to their agents is followed until the runner has stopped.
        let followers = TaskTracker::new();
        let stop_following = CancellationToken::new();
        state
            .agents
            .follow_runs(agent_events, &followers, stop_following.clone());
        state
            .webhooks
            .start_pruning(&background, stop_background.clone());
        store.start_checkpoints(log_bytes, &background, stop_background.clone());
        audit::start_pruning(&store, &audit, &system_log, &background, &stop_background);
        // The system log's writer stops last, to keep what the rest logs as it stops.
        let writer = TaskTracker::new();
        let stop_writer = CancellationToken::new();
        if let Some(intake) = system_log_intake {
            system_log::start_writer(
                intake,
                store.clone(),
                realtime.clone(),
                system_log.max_per_second,
                &writer,
                stop_writer.clone(),
            );
        }
        if let Some(files) = agent_files {
            files.watch(&background, stop_background.clone());
        }
        state
            .auth
            .start_expiry(&background, stop_background.clone());
        let app = http::router(state);
        let mut server = tokio::spawn(serve::serve(listener, app, serve_limits, stop.clone()));

        let finished_early = tokio::select! {
            result = &mut server => Some(result),
            () = shutdown => None,
        };
        let result = match finished_early {
            Some(result) => result.map_err(io::Error::other),
            None => {
                tracing::info!(grace = ?shutdown_grace, "shutting down: finishing in-flight requests");
                stop.cancel();
                match tokio::time::timeout(shutdown_grace, &mut server).await {
                    Ok(result) => result.map_err(io::Error::other),
                    Err(_) => {
                        tracing::warn!(
                            "requests still running after the grace period were cut off"
                        );
                        server.abort();
                        Ok(())
                    }
                }
            }
        };
        stop_background.cancel();
        background.close();
        background.wait().await;
        // Rooms wait for their turns' runs, which the runner's shutdown ends.
        tokio::join!(runner.shutdown(shutdown_grace), rooms.shutdown());
        stop_following.cancel();
        followers.close();
        followers.wait().await;
        stop_writer.cancel();
        writer.close();
        writer.wait().await;
        realtime.shutdown(shutdown_grace).await;
        store.close().await;
        tracing::info!("stopped");
        result
    }
}

/// `dir` made absolute (agents name their file by its full path), or why it cannot serve as
/// the agents directory.
fn agents_dir(dir: &Path) -> Result<PathBuf, StartupError> {
    let refused = |message: String| StartupError::AgentsDir {
        path: dir.display().to_string(),
        message,
    };
    let absolute = std::fs::canonicalize(dir).map_err(|err| refused(err.to_string()))?;
    if !absolute.is_dir() {
        return Err(refused("not a directory".into()));
    }
    Ok(absolute)
}

/// Completes on the first SIGINT (Ctrl+C) or SIGTERM. The handlers are installed when this
/// is called, not when the future is first polled, so a signal that comes at once after
/// (say, right after "listening" is logged) is not lost to the default action.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            let (mut interrupt, mut terminate) = match (interrupt, terminate) {
                (Ok(interrupt), Ok(terminate)) => (interrupt, terminate),
                (Err(err), _) | (_, Err(err)) => {
                    tracing::error!(error = %err, "cannot listen for SIGINT and SIGTERM");
                    return std::future::pending().await;
                }
            };
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("received SIGINT"),
                _ = terminate.recv() => tracing::info!("received SIGTERM"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("received Ctrl+C");
        }
    }
}
