//! The `installation` row: this installation's identity, its schema version, and the
//! one-time claim of the first-run setup.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, on_pool};

/// Facts about this installation that outlive restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// Random id given when the database was first created.
    pub id: String,
    /// When the database was first created (UTC).
    pub created_at: DateTime<Utc>,
    /// The newest migration applied.
    pub schema_version: i64,
}

pub(super) async fn get(store: &Store) -> Result<Installation, StoreError> {
    let (id, created_at, schema_version) = on_pool!(store, |pool| {
        sqlx::query_as::<_, (String, DateTime<Utc>, i64)>(
            "SELECT installation_id, created_at, \
                    (SELECT MAX(version) FROM _sqlx_migrations WHERE success) \
             FROM installation WHERE id = 1",
        )
        .fetch_one(pool)
        .await?
    });
    Ok(Installation {
        id,
        created_at,
        schema_version,
    })
}
