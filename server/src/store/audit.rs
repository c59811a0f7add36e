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
