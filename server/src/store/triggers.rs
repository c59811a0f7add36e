//! Webhook triggers (with their sealed secrets) and the deliveries they received.

use chrono::{DateTime, Utc};
use hatchery_shared::api::{
    agents::AgentStatus,
    triggers::{Delivery, DeliveryOutcome},
};

use super::{Audit, Store, StoreError, audited_change, on_pool};

/// A trigger as stored, with its agent's owner and status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TriggerRow {
    /// The trigger's id.
    pub id: String,
    /// Its agent.
    pub agent_id: String,
    /// The agent's owner.
    pub owner_id: String,
    /// The agent's status.
    pub agent_status: String,
    /// What to call it.
    pub name: String,
    /// The current secret, sealed.
    pub sealed_secret: String,
    /// The secret before the last rotation, sealed.
    pub sealed_previous: Option<String>,
    /// Until when that one is accepted.
    pub previous_valid_until: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its secret was last rotated.
    pub rotated_at: Option<DateTime<Utc>>,
}

impl TriggerRow {
    /// Whether its agent may run (not disabled).
    pub fn agent_enabled(&self) -> bool {
        self.agent_status != AgentStatus::Disabled.as_str()
    }
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct RawDelivery {
    id: String,
    received_at: DateTime<Utc>,
    outcome: String,
    status_code: i32,
    run_id: Option<String>,
    error: Option<String>,
}

impl TryFrom<RawDelivery> for Delivery {
    type Error = StoreError;

    fn try_from(raw: RawDelivery) -> Result<Self, StoreError> {
        Ok(Self {
            outcome: super::parse_column::<DeliveryOutcome>(
                "trigger_deliveries.outcome",
                &raw.outcome,
            )?,
            id: raw.id,
            received_at: super::rfc3339(raw.received_at),
            status_code: u16::try_from(raw.status_code).unwrap_or_default(),
            run_id: raw.run_id,
            error: raw.error,
        })
    }
}

const TRIGGER_COLUMNS: &str = "t.id, t.agent_id, a.owner_id, a.status AS agent_status, t.name, \
                               t.sealed_secret, t.sealed_previous, t.previous_valid_until, \
                               t.created_at, t.rotated_at";

/// Triggers listed per agent at most.
const TRIGGERS_LISTED: i64 = 200;

impl Store {
    /// Creates the trigger `id` of `agent_id`; `None` when the agent is gone.
    pub async fn create_trigger(
        &self,
        id: &str,
        agent_id: &str,
        name: &str,
        sealed_secret: &str,
        audit: &Audit,
    ) -> Result<Option<TriggerRow>, StoreError> {
        let inserted = audited_change!(
            self,
            audit,
            "trigger",
            id,
            "INSERT INTO triggers (id, agent_id, name, sealed_secret, created_at) \
                 SELECT $1, id, $3, $4, $5 FROM agents WHERE id = $2 \
                 RETURNING (SELECT owner_id FROM agents WHERE agents.id = triggers.agent_id) AS subject",
            |query = sqlx::query_scalar::<_, String>| query.bind(id).bind(agent_id).bind(name).bind(sealed_secret).bind(super::now())
        )?
        .is_some();
        if !inserted {
            return Ok(None);
        }
        self.trigger(id).await
    }

    /// The trigger `id`, with its agent's owner and status.
    pub async fn trigger(&self, id: &str) -> Result<Option<TriggerRow>, StoreError> {
        let sql = format!(
            "SELECT {TRIGGER_COLUMNS} FROM triggers t JOIN agents a ON a.id = t.agent_id \
             WHERE t.id = $1"
        );
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        }))
    }

    /// The agent's triggers, newest first.
    pub async fn triggers_of(&self, agent_id: &str) -> Result<Vec<TriggerRow>, StoreError> {
        let sql = format!(
            "SELECT {TRIGGER_COLUMNS} FROM triggers t JOIN agents a ON a.id = t.agent_id \
             WHERE t.agent_id = $1 ORDER BY t.id DESC LIMIT $2"
        );
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(agent_id)
                .bind(TRIGGERS_LISTED)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Replaces the trigger's secret with `sealed_secret`; the old one stays accepted until
    /// `previous_valid_until`.
    pub async fn rotate_trigger(
        &self,
        id: &str,
        sealed_secret: &str,
        previous_valid_until: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<Option<TriggerRow>, StoreError> {
        let updated = audited_change!(
            self,
            audit,
            "trigger",
            id,
            "UPDATE triggers SET sealed_previous = sealed_secret, sealed_secret = $2, \
                        previous_valid_until = $3, rotated_at = $4 WHERE id = $1 \
                 RETURNING (SELECT owner_id FROM agents WHERE agents.id = triggers.agent_id) AS subject",
            |query = sqlx::query_scalar::<_, String>| query.bind(id).bind(sealed_secret).bind(previous_valid_until).bind(super::now())
        )?
        .is_some();
        if !updated {
            return Ok(None);
        }
        self.trigger(id).await
    }

    /// Deletes the trigger `id` and its deliveries, with its audit record; true when it
    /// existed.
    pub async fn delete_trigger(&self, id: &str, audit: &Audit) -> Result<bool, StoreError> {
        let deleted = audited_change!(
            self,
            audit,
            "trigger",
            id,
            "DELETE FROM triggers WHERE id = $1 \
                 RETURNING (SELECT owner_id FROM agents WHERE agents.id = triggers.agent_id) AS subject",
            |query = sqlx::query_scalar::<_, String>| query.bind(id)
        )?
        .is_some();
        Ok(deleted)
    }

    /// Records a delivery to `trigger_id` refused with `status_code` because of `error`
    /// (accepted ones are recorded with their run, by `start_webhook_run`).
    pub async fn record_refusal(
        &self,
        trigger_id: &str,
        status_code: u16,
        error: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO trigger_deliveries (id, trigger_id, received_at, outcome, \
                                                 status_code, error) \
                 VALUES ($1, $2, $3, 'refused', $4, $5)",
            )
            .bind(super::new_id())
            .bind(trigger_id)
            .bind(super::now())
            .bind(i32::from(status_code))
            .bind(error)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Up to `limit` deliveries of the trigger, newest first, before the delivery id
    /// `before`.
    pub async fn deliveries(
        &self,
        trigger_id: &str,
        before: Option<&String>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (clause, limit_param) = super::Conditions::default()
            .add("trigger_id =", Some(trigger_id))
            .add("id <", before)
            .finish();
        let sql = format!(
            "SELECT id, received_at, outcome, status_code, run_id, error \
             FROM trigger_deliveries {clause} ORDER BY id DESC LIMIT ${limit_param}"
        );
        let raws: Vec<RawDelivery> = on_pool!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(trigger_id);
            if let Some(before) = before {
                query = query.bind(before);
            }
            query.bind(i64::from(limit)).fetch_all(pool).await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Deletes deliveries received before `cutoff`; returns how many.
    pub async fn prune_deliveries(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query("DELETE FROM trigger_deliveries WHERE received_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected()
        }))
    }
}
