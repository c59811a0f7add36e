//! Database access: the connection pool, embedded migrations, and one module per table
//! family. Only this module writes SQL.
//!
//! SQLite and PostgreSQL run the same SQL: every statement is written once, in the subset
//! both understand (`$1` placeholders, `RETURNING`, `ON CONFLICT`), and [`on_pool!`] expands
//! it for whichever pool is open. What differs between the two — the pool's settings and the
//! schema's column types — lives here and in `migrations/{sqlite,postgres}` only.

mod agents;
mod audit;
mod checkpoints;
mod history;
mod id_page;
mod installation;
mod rooms;
mod runs;
mod schedules;
mod sessions;
mod system_log;
mod threads;
mod tokens;
mod triggers;
mod users;

use std::{path::PathBuf, str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use agents::{AgentChange, AgentCursor, AgentFileRow, AgentFilter, AgentRow};
pub use audit::{Actor, Audit, AuditFilter};
pub use history::{RunCursor, RunFilter};
pub use installation::Installation;
pub use rooms::{
    MemberRow, NewRoomMessageRow, RoomChange, RoomMessageCursor, RoomRow, TurnRefusal,
};
pub use runs::{
    NewMessageRow, NewRun, RunEnd, RunRow, RunStart, RunThread, StartedRun, WebhookDelivery,
};
pub use schedules::{ScheduleSkipRow, ScheduledAgentRow};
pub use sessions::SessionRow;
pub use system_log::LogFilter;
pub use threads::ThreadRow;
pub use tokens::{ApiTokenRow, NewApiToken};
pub use triggers::TriggerRow;
pub use users::{NewUser, UserRow, Withdrawn, email_key};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::{
    audit::{audited_change, insert_audit},
    checkpoints::Commits,
};

/// Which database to use and how to reach it (`HATCHERY_DATABASE_URL`).
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// An SQLite database, usually a file in the data directory.
    Sqlite(SqliteConnectOptions),
    /// A PostgreSQL database (the password, if any, is never logged).
    Postgres(PgConnectOptions),
}

impl DatabaseConfig {
    /// An SQLite database in the file at `path`, created when missing.
    pub fn sqlite_file(path: PathBuf) -> Self {
        Self::Sqlite(SqliteConnectOptions::new().filename(path))
    }

    /// The database a `sqlite:` or `postgres:` URL names, or what is wrong with the URL.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme);
        match scheme {
            Some("sqlite") => SqliteConnectOptions::from_str(url)
                .map(Self::Sqlite)
                .map_err(|err| format!("not a usable SQLite URL: {err}")),
            Some("postgres" | "postgresql") => PgConnectOptions::from_str(url)
                .map(Self::Postgres)
                .map_err(|err| format!("not a usable PostgreSQL URL: {err}")),
            _ => Err(
                "expected a URL starting with sqlite: or postgres: (for example \
                      sqlite://data/hatchery.db or postgres://hatchery@localhost/hatchery)"
                    .into(),
            ),
        }
    }
}

/// The migrations for SQLite, embedded in the binary and applied at start-up.
pub static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
/// The migrations for PostgreSQL, embedded in the binary and applied at start-up.
pub static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// A failure to reach or prepare the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused a query or could not be reached.
    #[error(transparent)]
    Database(sqlx::Error),
    /// A migration failed to apply.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A row would break a uniqueness rule (such as a second account with one email).
    #[error("{0} already exists")]
    Conflict(&'static str),
}

/// `hatchery_db_query_errors_total`: every failed statement of the process, counted where
/// it becomes a [`StoreError`] (so one counter serves every pool and every registry).
static QUERY_ERRORS: std::sync::LazyLock<prometheus::IntCounter> = std::sync::LazyLock::new(|| {
    prometheus::IntCounter::new(
        "hatchery_db_query_errors_total",
        "Database statements that failed",
    )
    .expect("a valid metric")
});

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        QUERY_ERRORS.inc();
        Self::Database(err)
    }
}

impl StoreError {
    /// Maps a unique-constraint violation to [`StoreError::Conflict`] about `what`.
    fn unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(what),
            _ => err.into(),
        }
    }
}

/// The open pool, of one backend or the other.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Begins a transaction that writes; every transaction of the store begins here.
trait BeginWrite {
    type Database: sqlx::Database;

    /// On SQLite the transaction takes the write lock at its start (`BEGIN IMMEDIATE`):
    /// one that first reads (preparing a statement on a full-text table reads that table's
    /// settings) and then writes would otherwise fail at once with "database is locked"
    /// when another connection wrote in between, where waiting its turn (the busy
    /// timeout) is what is wanted. On PostgreSQL, rows lock as they are written.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}

/// Runs `$body` with `$pool` bound to the open pool, whichever backend it is: the body is
/// compiled once per backend from one source.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}
use on_pool;

/// Hatchery's database: a shared, cheaply cloned handle to the connection pool.
///
/// Callers use its methods and never see the pool or the backend.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    /// Signalled on every SQLite commit, for the checkpoint task.
    commits: Commits,
    /// `hatchery_db_connections{state}`: the pool's connections in use and idle, set when
    /// the metrics are read.
    connections: prometheus::IntGaugeVec,
}

impl Store {
    /// Opens the database (creating an SQLite file when missing) without migrating it.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let commits = Commits::default();
        let pool = match config {
            DatabaseConfig::Sqlite(options) => {
                let options: SqliteConnectOptions = options
                    .clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
                    // Checkpoints run in the background (see `checkpoints`), not in a commit.
                    .pragma("wal_autocheckpoint", "0")
                    .pragma("journal_size_limit", checkpoints::LOG_SIZE_LIMIT);
                let hook = commits.clone();
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(8)
                        // A local file does not drop its connections: no ping before each use.
                        .test_before_acquire(false)
                        .acquire_timeout(Duration::from_secs(5))
                        .after_connect(move |connection, _| {
                            let hook = hook.clone();
                            Box::pin(async move {
                                connection.lock_handle().await?.set_commit_hook(move || {
                                    hook.committed();
                                    true
                                });
                                Ok(())
                            })
                        })
                        .connect_with(options)
                        .await?,
                )
            }
            DatabaseConfig::Postgres(options) => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(options.clone())
                    .await?,
            ),
        };
        let connections = prometheus::IntGaugeVec::new(
            prometheus::Opts::new(
                "hatchery_db_connections",
                "Connections of the database pool, by state (in_use, idle)",
            ),
            &["state"],
        )
        .expect("a valid metric");
        Ok(Self {
            pool,
            commits,
            connections,
        })
    }

    /// Starts the tracked task that keeps SQLite's write-ahead log short and sets
    /// `log_bytes` to its size, until `stop`; PostgreSQL needs none.
    pub fn start_checkpoints(
        &self,
        log_bytes: prometheus::IntGauge,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) {
        if let Pool::Sqlite(pool) = &self.pool {
            let mut log = pool.connect_options().get_filename().as_os_str().to_owned();
            log.push("-wal");
            self.commits
                .clone()
                .start(pool.clone(), log.into(), log_bytes, tasks, stop);
        }
    }

    /// Applies every embedded migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Who this installation is and which schema it runs: the readiness check's query.
    pub async fn installation(&self) -> Result<Installation, StoreError> {
        installation::get(self).await
    }

    /// The statement that shows a query's plan: prefixed to the query.
    fn explain(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "EXPLAIN QUERY PLAN",
            Pool::Postgres(_) => "EXPLAIN",
        }
    }

    /// The UTC day (`2026-11-24`) of a time column, as SQL.
    fn utc_day(&self, column: &str) -> String {
        match self.pool {
            // Stored as RFC 3339 text in UTC: the date is its first ten characters.
            Pool::Sqlite(_) => format!("substr({column}, 1, 10)"),
            Pool::Postgres(_) => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        }
    }

    /// Deletes the rows of `table` (keyed by UUIDv7 ids) with ids below `below`, `batch`
    /// rows per statement so that none holds the database for long; how many it deleted.
    async fn prune_by_id(&self, table: &str, below: &str, batch: i64) -> Result<u64, StoreError> {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN \
             (SELECT id FROM {table} WHERE id < $1 ORDER BY id LIMIT $2)"
        );
        let mut deleted = 0;
        loop {
            let done = on_pool!(self, |pool| {
                sqlx::query(&sql)
                    .bind(below)
                    .bind(batch)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
            deleted += done;
            if done < u64::try_from(batch).unwrap_or(u64::MAX) {
                return Ok(deleted);
            }
        }
    }

    /// Registers the database's metrics in `registry`: its pool's connections and the
    /// failed statements.
    pub fn register_metrics(&self, registry: &prometheus::Registry) -> prometheus::Result<()> {
        registry.register(Box::new(self.connections.clone()))?;
        registry.register(Box::new(QUERY_ERRORS.clone()))
    }

    /// Sets the gauges of the pool's connections in use and idle to what they are now.
    pub fn refresh_gauges(&self) {
        let (size, idle) = on_pool!(self, |pool| (pool.size(), pool.num_idle()));
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        self.connections
            .with_label_values(&["in_use"])
            .set(i64::from(size.saturating_sub(idle)));
        self.connections
            .with_label_values(&["idle"])
            .set(i64::from(idle));
    }

    /// Closes every connection; later queries fail at once.
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
    }
}

/// The current time as stored: UTC, to the microsecond (what both backends keep).
fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// A new row id: a UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A time as the API shows it: RFC 3339 in UTC with a `Z`, to the millisecond.
pub fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses an enum column; the CHECK constraints make a failure a sign of a corrupt row.
fn parse_column<T: FromStr>(column: &str, text: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| {
        StoreError::Database(sqlx::Error::Decode(
            format!("{column} holds the unknown value {text:?}").into(),
        ))
    })
}

/// A `WHERE` clause built from the conditions a list query needs, each with its own `$n`
/// parameters in order. Written out rather than as `($1 IS NULL OR col = $1)`, which keeps
/// the planners from seeking through an index.
#[derive(Debug, Default)]
struct Conditions {
    parts: Vec<String>,
    params: usize,
}

impl Conditions {
    /// Adds `{column} {operator} $n` (such as `owner_id =`) when `value` is present.
    fn add<T>(mut self, column_operator: &str, value: Option<T>) -> Self {
        if value.is_some() {
            self.params += 1;
            self.parts
                .push(format!("{column_operator} ${}", self.params));
        }
        self
    }

    /// Adds `{column} LIKE $n ESCAPE '\'` when `pattern` is present: `\` escapes the
    /// pattern's own `%`, `_` and `\`.
    fn add_like<T>(mut self, column: &str, pattern: Option<T>) -> Self {
        if pattern.is_some() {
            self.params += 1;
            self.parts
                .push(format!("{column} LIKE ${} ESCAPE '\\'", self.params));
        }
        self
    }

    /// Adds `condition` with its one `$?` numbered as the next parameter when `value` is
    /// present: a condition of another shape, such as `id IN (SELECT … = $?)`.
    fn add_shaped<T>(mut self, condition: &str, value: Option<T>) -> Self {
        if value.is_some() {
            self.params += 1;
            self.parts
                .push(condition.replace("$?", &format!("${}", self.params)));
        }
        self
    }

    /// Adds `({first}, {second}) < ($n, $n+1)` when `value` is present: "after this row" in
    /// a list ordered by both columns, newest first.
    fn add_before<T>(mut self, first: &str, second: &str, value: Option<T>) -> Self {
        if value.is_some() {
            let n = self.params + 1;
            self.params += 2;
            self.parts
                .push(format!("({first}, {second}) < (${n}, ${})", n + 1));
        }
        self
    }

    /// The clause (empty when there is no condition) and the number of the next parameter.
    fn finish(self) -> (String, usize) {
        let next = self.params + 1;
        if self.parts.is_empty() {
            (String::new(), next)
        } else {
            (format!("WHERE {}", self.parts.join(" AND ")), next)
        }
    }
}
