//! The audit log: records written by the other table families inside the transaction of
//! the change they describe ([`insert_audit!`]), read back in pages newest first, and
//! pruned after the retention period.
//!
//! Record ids are UUIDv7, so their order is the order in time, and a time range is an id
//! range (see `id_page`).

use chrono::{DateTime, Utc};
use hatchery_shared::api::audit::{AuditAction, AuditRecord};

use super::{
    Store, StoreError,
    id_page::{IdPage, first_id_at},
    on_pool, rfc3339,
};

/// Who did something, and from where: the first half of each audit record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The account that acted; `None` for the server itself or someone not signed in.
    pub user_id: Option<String>,
    /// The personal API token it acted with (not a browser session).
    pub token_id: Option<String>,
    /// The client's address.
    pub client_address: Option<String>,
    /// The request that acted (`X-Request-Id`).
    pub request_id: Option<String>,
}

impl Actor {
    /// The server itself (`system`): a schedule, an agents directory, a retention task.
    pub fn system() -> Self {
        Self::default()
    }
}

/// What an actor did, for a store method to record with the object it changes: the store
/// adds which object (kind and id) and whose it is.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Who did it.
    pub actor: Actor,
    /// What was done.
    pub action: AuditAction,
    /// What changed, in a few words: field names, never secrets or passwords.
    pub summary: String,
}

impl Audit {
    /// `actor` did `action`; `summary` says what changed.
    pub fn new(actor: &Actor, action: AuditAction, summary: impl Into<String>) -> Self {
        Self {
            actor: actor.clone(),
            action,
            summary: summary.into(),
        }
    }

    /// The server itself did `action` (see [`Actor::system`]).
    pub fn by_system(action: AuditAction, summary: impl Into<String>) -> Self {
        Self::new(&Actor::system(), action, summary)
    }
}

/// The columns of a record, in the order [`bind_audit!`] binds them, with the account the
/// record is about last.
const RECORD_COLUMNS: &str = "id, at, actor_user_id, actor_token_id, action, target_kind, \
                              target_id, summary, client_address, request_id, subject_user_id";

/// Binds to `$query`, after its own parameters, the first ten of [`RECORD_COLUMNS`] for the
/// record of `$audit` (an [`Audit`]) about the `$kind` object `$id`: a new id, the time,
/// the actor, the action, the object, the summary, the client address and the request.
macro_rules! bind_audit {
    ($query:expr, $audit:expr, $kind:expr, $id:expr) => {{
        let audit: &$crate::store::Audit = $audit;
        $query
            .bind($crate::store::new_id())
            .bind($crate::store::now())
            .bind(&audit.actor.user_id)
            .bind(&audit.actor.token_id)
            .bind(audit.action.as_str())
            .bind($kind)
            .bind($id)
            .bind(&audit.summary)
            .bind(&audit.actor.client_address)
            .bind(&audit.actor.request_id)
    }};
}
pub(super) use bind_audit;

/// Inserts the record of `$audit` (an [`Audit`]) about the `$kind` object `$id` of the
/// account `$subject` (`Option<&str>`) through `$executor`: a transaction's connection
/// (`&mut *tx`), so that the record and the change commit or fail together. Evaluates to
/// the statement's `Result`. With `$sql` first, that statement (which begins with
/// [`INSERT_RECORD`]) is run instead.
macro_rules! insert_audit {
    ($executor:expr, $audit:expr, $kind:expr, $id:expr, $subject:expr) => {
        $crate::store::audit::insert_audit!(
            &$crate::store::audit::INSERT_RECORD;
            $executor, $audit, $kind, $id, $subject
        )
    };
    ($sql:expr; $executor:expr, $audit:expr, $kind:expr, $id:expr, $subject:expr) => {{
        $crate::store::audit::bind_audit!(sqlx::query($sql), $audit, $kind, $id)
            .bind($subject)
            .execute($executor)
            .await
    }};
}
pub(super) use insert_audit;

/// The statement of [`insert_audit!`].
pub(super) static INSERT_RECORD: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO audit_log ({RECORD_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    )
});

/// [`INSERT_RECORD`], then the end of the transaction that [`audited_change!`] begins on
/// SQLite together with the change: the record and the commit in one round trip.
pub(super) static INSERT_RECORD_AND_COMMIT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("{}; COMMIT", *INSERT_RECORD));

/// A connection of SQLite's pool inside a transaction that [`audited_change!`] begins and
/// ends with its own statements (`BEGIN IMMEDIATE; <change>`, then `<record>; COMMIT`), so
/// that the change and its record take two round trips to SQLite's worker thread rather
/// than four. sqlx does not know of this transaction: unless [`ManualTransaction::ended`]
/// says it ended, the connection is closed when this is dropped (on an error, or when the
/// caller stops waiting), which rolls the transaction back, instead of going back to the
/// pool still inside it.
pub(super) struct ManualTransaction {
    connection: Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
}

impl ManualTransaction {
    /// A connection from `pool`, for statements that begin a transaction.
    pub(super) async fn acquire(pool: &sqlx::SqlitePool) -> Result<Self, sqlx::Error> {
        Ok(Self {
            connection: Some(pool.acquire().await?),
        })
    }

    /// The connection, to run the transaction's statements on.
    pub(super) fn connection(&mut self) -> &mut sqlx::SqliteConnection {
        self.connection
            .as_deref_mut()
            .expect("the connection is held until the transaction ends")
    }

    /// The transaction committed or rolled back: the connection goes back to the pool.
    pub(super) fn ended(mut self) {
        drop(self.connection.take());
    }
}

impl Drop for ManualTransaction {
    fn drop(&mut self) {
        if let Some(connection) = &mut self.connection {
            connection.close_on_drop();
        }
    }
}

/// `change` — a statement that returns the account its object belongs to as `subject` —
/// made to write the audit record itself on PostgreSQL, in a data-modifying `WITH`: one
/// statement, one round trip, and no record unless a row changed. The record's values are
/// the parameters after the change's own ([`bind_audit!`]).
pub(super) fn recorded_in(change: &str) -> String {
    let first = highest_parameter(change) + 1;
    let values: Vec<String> = (first..first + 10).map(|n| format!("${n}")).collect();
    format!(
        "WITH changed AS ({change}), \
              recorded AS (INSERT INTO audit_log ({RECORD_COLUMNS}) \
                           SELECT {}, subject FROM changed) \
         SELECT * FROM changed",
        values.join(", ")
    )
}

/// The highest `$n` placeholder in `sql` (0 when there is none).
fn highest_parameter(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|after| {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            after[..digits].parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// A row a change returns, which names the account its object belongs to.
pub(super) trait Subject {
    /// The account the changed object belongs to: who the record is about.
    fn subject(&self) -> &str;
}

impl Subject for String {
    fn subject(&self) -> &str {
        self
    }
}

/// Runs the change `$sql` — a statement that changes the `$kind` object `$id` and returns
/// the account it belongs to as `subject`, or no row when there is no such object — built
/// by `$make` (`sqlx::query_scalar::<_, String>` or `sqlx::query_as::<_, Row>`, a row that
/// is a [`Subject`]) and bound by `$bind`, together with the record of `$audit`: both or
/// neither. On PostgreSQL it is one statement ([`recorded_in`]). SQLite has no
/// data-modifying `WITH`: there the change and the record share a transaction of two round
/// trips, `BEGIN IMMEDIATE` with the change and the record with `COMMIT`
/// ([`ManualTransaction`]). Evaluates to the row the change returned, or `None`, as a
/// `Result<_, sqlx::Error>`.
macro_rules! audited_change {
    ($store:expr, $audit:expr, $kind:expr, $id:expr, $sql:expr, |$query:ident = $make:path| $bind:expr) => {
        async {
            match &$store.pool {
                $crate::store::Pool::Postgres(pool) => {
                    let sql = $crate::store::audit::recorded_in($sql);
                    let $query = $make(&sql);
                    $crate::store::audit::bind_audit!($bind, $audit, $kind, $id)
                        .fetch_optional(pool)
                        .await
                }
                $crate::store::Pool::Sqlite(pool) => {
                    let mut open = $crate::store::audit::ManualTransaction::acquire(pool).await?;
                    let sql = format!("BEGIN IMMEDIATE; {}", $sql);
                    let $query = $make(&sql);
                    let row = $bind.fetch_all(open.connection()).await?.into_iter().next();
                    match &row {
                        Some(row) => {
                            let subject = $crate::store::audit::Subject::subject(row);
                            $crate::store::audit::insert_audit!(
                                &$crate::store::audit::INSERT_RECORD_AND_COMMIT;
                                open.connection(),
                                $audit,
                                $kind,
                                $id,
                                Some(subject)
                            )?;
                        }
                        None => {
                            sqlx::query("ROLLBACK").execute(open.connection()).await?;
                        }
                    }
                    open.ended();
                    Ok::<_, sqlx::Error>(row)
                }
            }
        }
        .await
    };
}
pub(super) use audited_change;

/// Which records a page covers; every field given must match.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only records about this account's objects or itself (what a non-admin may read).
    pub subject_user_id: Option<String>,
    /// Only what this account did.
    pub actor_user_id: Option<String>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only records about objects of this kind.
    pub target_kind: Option<String>,
    /// Only records about this object.
    pub target_id: Option<String>,
    /// Only records at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only records before this instant.
    pub to: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct RawRecord {
    id: String,
    at: DateTime<Utc>,
    actor_user_id: Option<String>,
    actor_token_id: Option<String>,
    action: String,
    target_kind: String,
    target_id: String,
    summary: String,
    client_address: Option<String>,
    request_id: Option<String>,
}

impl TryFrom<RawRecord> for AuditRecord {
    type Error = StoreError;

    fn try_from(raw: RawRecord) -> Result<Self, StoreError> {
        Ok(Self {
            action: super::parse_column("action", &raw.action)?,
            id: raw.id,
            at: rfc3339(raw.at),
            actor_user_id: raw.actor_user_id,
            actor_token_id: raw.actor_token_id,
            target_kind: raw.target_kind,
            target_id: raw.target_id,
            summary: raw.summary,
            client_address: raw.client_address,
            request_id: raw.request_id,
        })
    }
}

/// How many records one pruning statement deletes at most, so that it never holds the
/// database for long.
const PRUNE_BATCH: i64 = 5_000;

impl Store {
    /// Writes one record that goes with no change of its own (a refused sign-in, a
    /// cancel, a published event) about the `kind` object `id` of the account `subject`.
    pub async fn record_audit(
        &self,
        audit: &Audit,
        kind: &str,
        id: &str,
        subject: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            insert_audit!(pool, audit, kind, id, subject)?;
        });
        Ok(())
    }

    /// Up to `limit` records matching `filter`, newest first, after the record `after`.
    pub async fn audit_records(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let raws: Vec<RawRecord> = IdPage::default()
            .condition("subject_user_id =", filter.subject_user_id.clone())
            .condition("actor_user_id =", filter.actor_user_id.clone())
            .condition("action =", filter.action.map(|a| a.as_str().to_owned()))
            .condition("target_kind =", filter.target_kind.clone())
            .condition("target_id =", filter.target_id.clone())
            .time_range(filter.from, filter.to)
            .fetch(
                self,
                "SELECT id, at, actor_user_id, actor_token_id, action, target_kind, target_id, \
                        summary, client_address, request_id FROM audit_log",
                after,
                limit,
            )
            .await?;
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Deletes the records made before `before`, a batch at a time; how many it deleted.
    pub async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.prune_by_id("audit_log", &first_id_at(before), PRUNE_BATCH)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::{highest_parameter, recorded_in};

    #[test]
    fn the_record_takes_the_parameters_after_the_change() {
        assert_eq!(highest_parameter("SELECT 1"), 0);
        assert_eq!(
            highest_parameter("UPDATE t SET a = $2, b = $10 WHERE id = $1"),
            10
        );
        let sql = recorded_in("DELETE FROM t WHERE id = $1 RETURNING owner AS subject");
        assert!(sql.contains("SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, subject"));
        assert!(!sql.contains("$12"));
    }
}
