//! The audit log: records written by the other table families inside the transaction of
//! the change they describe ([`insert_audit!`]), read back in pages newest first, and
//! pruned after the retention period.
//!
//! Record ids are UUIDv7, so their order is the order in time, and a time range is an id
//! range: every filter seeks through one index ordered by id.

use chrono::{DateTime, Utc};
use hatchery_shared::api::audit::{AuditAction, AuditRecord};

use super::{Store, StoreError, on_pool, rfc3339};

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

/// Inserts the record of `$audit` (an [`Audit`]) about the `$kind` object `$id` of the
/// account `$subject` (`Option<&str>`) through `$executor`: a transaction's connection
/// (`&mut *tx`), so that the record and the change commit or fail together. Evaluates to
/// the statement's `Result`.
macro_rules! insert_audit {
    ($executor:expr, $audit:expr, $kind:expr, $id:expr, $subject:expr) => {{
        let audit: &$crate::store::Audit = $audit;
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor_user_id, actor_token_id, action, \
                                    target_kind, target_id, subject_user_id, summary, \
                                    client_address, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind($crate::store::new_id())
        .bind($crate::store::now())
        .bind(&audit.actor.user_id)
        .bind(&audit.actor.token_id)
        .bind(audit.action.as_str())
        .bind($kind)
        .bind($id)
        .bind($subject)
        .bind(&audit.summary)
        .bind(&audit.actor.client_address)
        .bind(&audit.actor.request_id)
        .execute($executor)
        .await
    }};
}
pub(super) use insert_audit;

/// Runs `$query` — a `query_scalar` that changes the `$kind` object `$id` and returns the
/// id of the account it belongs to, or no row when there is no such object — in a
/// transaction on `$pool`, with the record of `$audit`. Evaluates to whether the object
/// existed (and so was changed); `?` returns the statements' errors.
macro_rules! audited_change {
    ($pool:expr, $audit:expr, $kind:expr, $id:expr, $query:expr) => {{
        let mut tx = $pool.begin().await?;
        let owner: Option<String> = $query.fetch_optional(&mut *tx).await?;
        if let Some(owner) = &owner {
            $crate::store::audit::insert_audit!(&mut *tx, $audit, $kind, $id, Some(owner))?;
            tx.commit().await?;
        }
        owner.is_some()
    }};
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

/// The lowest id a record made at `time` or later can have: a UUIDv7 with that
/// millisecond and nothing after it.
fn first_id_at(time: DateTime<Utc>) -> String {
    let millis = u64::try_from(time.timestamp_millis()).unwrap_or_default();
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    uuid::Uuid::from_bytes(bytes).to_string()
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
        let from = filter.from.map(first_id_at);
        let to = filter.to.map(first_id_at);
        let (clause, limit_param) = super::Conditions::default()
            .add("subject_user_id =", filter.subject_user_id.as_ref())
            .add("actor_user_id =", filter.actor_user_id.as_ref())
            .add("action =", filter.action)
            .add("target_kind =", filter.target_kind.as_ref())
            .add("target_id =", filter.target_id.as_ref())
            .add("id >=", from.as_ref())
            .add("id <", to.as_ref())
            .add("id <", after)
            .finish();
        let sql = format!(
            "SELECT id, at, actor_user_id, actor_token_id, action, target_kind, target_id, \
                    summary, client_address, request_id \
             FROM audit_log {clause} ORDER BY id DESC LIMIT ${limit_param}"
        );
        let raws = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, RawRecord>(&sql);
            for value in [
                &filter.subject_user_id,
                &filter.actor_user_id,
                &filter.action.map(|action| action.as_str().to_owned()),
                &filter.target_kind,
                &filter.target_id,
                &from,
                &to,
                &after.map(str::to_owned),
            ]
            .into_iter()
            .flatten()
            {
                query = query.bind(value.clone());
            }
            query.bind(i64::from(limit)).fetch_all(pool).await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Deletes the records made before `before`, a batch at a time; how many it deleted.
    pub async fn prune_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let below = first_id_at(before);
        let mut deleted = 0;
        loop {
            let batch = on_pool!(self, |pool| {
                sqlx::query(
                    "DELETE FROM audit_log WHERE id IN \
                     (SELECT id FROM audit_log WHERE id < $1 ORDER BY id LIMIT $2)",
                )
                .bind(&below)
                .bind(PRUNE_BATCH)
                .execute(pool)
                .await?
                .rows_affected()
            });
            deleted += batch;
            if batch < PRUNE_BATCH as u64 {
                return Ok(deleted);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_bounds_the_ids_made_from_it_on() {
        let time = DateTime::parse_from_rfc3339("2026-12-03T10:00:00.123Z")
            .unwrap()
            .to_utc();
        let bound = first_id_at(time);
        let made_then = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_796_292_000,
            123_000_000,
        ))
        .to_string();
        let made_before = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_796_292_000,
            122_999_999,
        ))
        .to_string();
        assert_eq!(time.timestamp(), 1_796_292_000);
        assert!(bound <= made_then, "{bound} > {made_then}");
        assert!(made_before < bound, "{made_before} >= {bound}");
    }
}
