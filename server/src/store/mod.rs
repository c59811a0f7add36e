//! Database access: the connection pool, embedded migrations, and one module per table
//! family. Only this module writes SQL.

mod installation;

use std::time::Duration;

use sqlx::{
    SqlitePool,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

pub use installation::Installation;

use crate::config::DatabaseConfig;

/// The migrations for SQLite, embedded in the binary and applied at start-up.
pub static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");

/// A failure to reach or prepare the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused a query or could not be reached.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed to apply.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Hatchery's database: a shared, cheaply cloned handle to the connection pool.
///
/// Callers use its methods and never see the pool, so another backend can be added behind
/// it without changing them.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens the database (creating an SQLite file when missing) without migrating it.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, StoreError> {
        let DatabaseConfig::Sqlite(options) = config;
        let options: SqliteConnectOptions = options
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Applies every embedded migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        SQLITE_MIGRATIONS.run(&self.pool).await?;
        Ok(())
    }

    /// Who this installation is and which schema it runs: the readiness check's query.
    pub async fn installation(&self) -> Result<Installation, StoreError> {
        installation::get(&self.pool).await
    }

    /// Closes every connection; later queries fail at once.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
