//! Webhook triggers: creating them with a generated secret (sealed at rest), rotating it
//! with a grace period for the old one, and receiving signed requests — checked for time,
//! signature and replay first, then rate limited per trigger, so that requests without a
//! valid signature (limited per client address instead) can never keep the real sender out
//! — that start the agent's run with the request's body as its input. Deliveries are logged for a retention period: accepted ones
//! with their run, refused ones with the status the sender got (which the HTTP layer
//! decides, see [`Webhooks::log_refusal`]).

pub mod adapter;
pub mod sealing;

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::HeaderMap;
use chrono::Utc;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};
use hatchery_shared::api::{
    audit::AuditAction,
    runs::RunTrigger,
    threads::ThreadKind,
    triggers::{DeliveryAccepted, Trigger},
};
use secrecy::{ExposeSecret, SecretBox};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::{
    adapter::{Adapter, Received, Verified},
    sealing::Sealer,
};
use crate::{
    auth::{
        limiter::{AttemptLimiter, address_key},
        secret,
    },
    periodic,
    runner::{Delivery, Runner, StartError, StartRequest, ThreadChoice},
    store::{Actor, Audit, Store, StoreError, TriggerRow, rfc3339},
};

/// The prefix of a webhook secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// The largest body a trigger reads.
pub const MAX_BODY_BYTES: usize = 128 * 1024;

/// How often old deliveries are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Settings of webhook triggers.
#[derive(Debug)]
pub struct WebhookConfig {
    /// Requests per minute each trigger accepts (`HATCHERY_WEBHOOK_RATE_PER_MIN`, default
    /// 60); more get 429.
    pub rate_per_minute: NonZeroU32,
    /// How long the secret before a rotation keeps working
    /// (`HATCHERY_WEBHOOK_ROTATION_GRACE_SECS`, default a day).
    pub rotation_grace: Duration,
    /// How long deliveries are kept (`HATCHERY_WEBHOOK_RETENTION_DAYS`, default 7).
    pub retention: Duration,
    /// The key that seals secrets (`HATCHERY_SECRET_KEY`, 64 hex digits); without it, the
    /// key in `secret.key` in the data directory, created on first start.
    pub secret_key: Option<SecretBox<[u8; 32]>>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            rate_per_minute: NonZeroU32::new(60).expect("60 is not zero"),
            rotation_grace: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(7 * 24 * 3600),
            secret_key: None,
        }
    }
}

impl Clone for WebhookConfig {
    fn clone(&self) -> Self {
        Self {
            rate_per_minute: self.rate_per_minute,
            rotation_grace: self.rotation_grace,
            retention: self.retention,
            secret_key: self
                .secret_key
                .as_ref()
                .map(|key| SecretBox::new(Box::new(*key.expose_secret()))),
        }
    }
}

/// Every outcome of a request to a trigger, as `hatchery_webhook_deliveries_total` counts
/// them.
const OUTCOMES: [&str; 7] = [
    "accepted",
    "not_found",
    "rate_limited",
    "unauthorized",
    "not_text",
    "run_refused",
    "store_error",
];

/// Why a request to a trigger was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No such trigger, or its agent is disabled.
    #[error("there is no enabled webhook trigger with this id")]
    NotFound,
    /// Over the trigger's rate; try again after this long.
    #[error("this trigger takes at most {0} requests a minute; try again later")]
    TooMany(NonZeroU32, Duration),
    /// Too many requests without a valid signature from this client address.
    #[error("too many requests without a valid signature from this address; try again later")]
    TooManyUnsigned(Duration),
    /// A missing, stale or wrong timestamp or signature.
    #[error("{0}")]
    Unauthorized(String),
    /// The body is not text.
    #[error("the body must be UTF-8 text, such as JSON")]
    NotText,
    /// The run could not start (a replayed signature among the reasons).
    #[error(transparent)]
    Start(#[from] StartError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Webhook triggers and their intake. Cheap to clone.
#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

struct Inner {
    /// Deliveries by outcome.
    deliveries: prometheus::IntCounterVec,
    store: Store,
    runner: Runner,
    sealer: Sealer,
    limiter: DefaultKeyedRateLimiter<String>,
    /// Requests that failed verification, per client address.
    unsigned: AttemptLimiter,
    config: WebhookConfig,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks").finish_non_exhaustive()
    }
}

/// A request to a trigger, as received.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Its headers, which carry the signature.
    pub headers: &'a HeaderMap,
    /// The raw body.
    pub body: &'a [u8],
    /// Where it came from.
    pub client: IpAddr,
}

/// Client addresses whose failed requests are counted.
const UNSIGNED_KEYS: usize = 100_000;

impl Webhooks {
    /// Triggers over `store` whose runs `runner` starts, sealing secrets with `key`.
    ///
    /// Its count of deliveries by outcome, `hatchery_webhook_deliveries_total{outcome}`, is
    /// registered in `registry`.
    pub fn new(
        config: WebhookConfig,
        key: &[u8; 32],
        store: Store,
        runner: Runner,
        registry: &prometheus::Registry,
    ) -> prometheus::Result<Self> {
        let deliveries = prometheus::IntCounterVec::new(
            prometheus::Opts::new(
                "hatchery_webhook_deliveries_total",
                "Requests to webhook triggers, by outcome",
            ),
            &["outcome"],
        )?;
        for outcome in OUTCOMES {
            deliveries.with_label_values(&[outcome]);
        }
        registry.register(Box::new(deliveries.clone()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                deliveries,
                store,
                runner,
                sealer: Sealer::new(key),
                limiter: RateLimiter::keyed(Quota::per_minute(config.rate_per_minute)),
                unsigned: AttemptLimiter::new(
                    config.rate_per_minute.get(),
                    Duration::from_secs(60),
                    UNSIGNED_KEYS,
                ),
                config,
            }),
        })
    }

    /// Creates a trigger of `agent_id` with a new secret; `None` when the agent is gone.
    pub async fn create(
        &self,
        actor: &Actor,
        agent_id: &str,
        name: &str,
    ) -> Result<Option<(TriggerRow, String)>, StoreError> {
        let id = crate::store::new_id();
        let secret = secret::generate(SECRET_PREFIX);
        let sealed = self.inner.sealer.seal(&secret, &id);
        let row = self
            .inner
            .store
            .create_trigger(
                &id,
                agent_id,
                name,
                &sealed,
                &Audit::new(
                    actor,
                    AuditAction::TriggerCreated,
                    format!("named {name:?}"),
                ),
            )
            .await?;
        Ok(row.map(|row| (row, secret)))
    }

    /// Gives the trigger `id` a new secret, as `actor` asks; the old one works for the
    /// grace period.
    pub async fn rotate(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Option<(TriggerRow, String)>, StoreError> {
        let secret = secret::generate(SECRET_PREFIX);
        let sealed = self.inner.sealer.seal(&secret, id);
        let grace = chrono::Duration::from_std(self.inner.config.rotation_grace)
            .unwrap_or(chrono::Duration::MAX);
        let row = self
            .inner
            .store
            .rotate_trigger(
                id,
                &sealed,
                Utc::now() + grace,
                &Audit::new(actor, AuditAction::TriggerRotated, "a new secret"),
            )
            .await?;
        Ok(row.map(|row| (row, secret)))
    }

    /// Deletes `trigger` and its deliveries, as `actor` asks; false when it was gone.
    pub async fn delete(&self, actor: &Actor, trigger: &TriggerRow) -> Result<bool, StoreError> {
        let audit = Audit::new(
            actor,
            AuditAction::TriggerDeleted,
            format!("named {:?}", trigger.name),
        );
        self.inner.store.delete_trigger(&trigger.id, &audit).await
    }

    /// Checks a request to the trigger `trigger_id` and starts its agent's run with the body
    /// as input, logging it as an accepted delivery with the run. The signature is checked
    /// before the trigger's rate is spent; a request that fails the check counts against
    /// its client address (per /64 for IPv6) until the address is refused with 429.
    pub async fn receive(
        &self,
        trigger_id: &str,
        request: Request<'_>,
    ) -> Result<DeliveryAccepted, Refusal> {
        let received = self.check_and_start(trigger_id, request).await;
        let outcome: &'static str = match &received {
            Ok(_) => "accepted",
            Err(Refusal::NotFound) => "not_found",
            Err(Refusal::TooMany(..) | Refusal::TooManyUnsigned(_)) => "rate_limited",
            Err(Refusal::Unauthorized(_)) => "unauthorized",
            Err(Refusal::NotText) => "not_text",
            Err(Refusal::Start(_)) => "run_refused",
            Err(Refusal::Store(_)) => "store_error",
        };
        self.inner.deliveries.with_label_values(&[outcome]).inc();
        received
    }

    /// [`Self::receive`] but for counting its outcome.
    async fn check_and_start(
        &self,
        trigger_id: &str,
        request: Request<'_>,
    ) -> Result<DeliveryAccepted, Refusal> {
        let inner = &self.inner;
        let attempt = inner
            .unsigned
            .attempt(&address_key(request.client), Instant::now())
            .map_err(Refusal::TooManyUnsigned)?;
        let trigger = inner
            .store
            .trigger(trigger_id)
            .await?
            .filter(TriggerRow::agent_enabled)
            .ok_or(Refusal::NotFound)?;
        let verified = self.verify(&trigger, request)?;
        inner.unsigned.succeeded(attempt);
        if let Err(not_until) = inner.limiter.check_key(&trigger.id) {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            return Err(Refusal::TooMany(inner.config.rate_per_minute, wait));
        }
        let payload = std::str::from_utf8(request.body).map_err(|_| Refusal::NotText)?;
        self.start_run(&trigger, verified.replay_key, payload).await
    }

    /// The request, once the trigger's secret (or the previous one, during its grace
    /// period) signs it in Hatchery's scheme ([`Adapter::Hatchery`]) at a recent time.
    fn verify(&self, trigger: &TriggerRow, request: Request<'_>) -> Result<Verified, Refusal> {
        let now = Utc::now();
        let previous = trigger.sealed_previous.as_deref().filter(|_| {
            trigger
                .previous_valid_until
                .is_some_and(|until| until > now)
        });
        let secrets: Vec<String> = std::iter::once(trigger.sealed_secret.as_str())
            .chain(previous)
            .filter_map(|sealed| self.inner.sealer.open(sealed, &trigger.id).ok())
            .collect();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let received = Received {
            headers: request.headers,
            body: request.body,
            now: now.timestamp(),
        };
        Adapter::Hatchery
            .verify(&secrets, received)
            .map_err(|unverified| Refusal::Unauthorized(unverified.to_string()))
    }

    /// Logs a refused delivery to the trigger `trigger_id`: the status the sender got and
    /// why. Refusals before the trigger is known to exist are not logged.
    pub async fn log_refusal(
        &self,
        trigger_id: &str,
        status: u16,
        error: &str,
    ) -> Result<(), StoreError> {
        self.inner
            .store
            .record_refusal(trigger_id, status, error)
            .await
    }

    /// Starts the run of a verified delivery in a new `webhook` thread; the runner records
    /// the delivery with the run, in one transaction (a replay when its signature was
    /// already accepted).
    async fn start_run(
        &self,
        trigger: &TriggerRow,
        signature: String,
        payload: &str,
    ) -> Result<DeliveryAccepted, Refusal> {
        let agent = self
            .inner
            .store
            .agent(&trigger.agent_id)
            .await?
            .ok_or(Refusal::NotFound)?;
        let title = format!(
            "{}: {}",
            trigger.name,
            Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        let task = agent.change.task_instructions.trim();
        let input = if task.is_empty() {
            payload.to_owned()
        } else {
            format!("{task}\n\nWebhook payload:\n{payload}")
        };
        let request = StartRequest {
            agent,
            thread: ThreadChoice::New {
                kind: ThreadKind::Webhook,
                title,
            },
            input,
            trigger: RunTrigger::Webhook,
            delivery: Some(Delivery {
                trigger_id: trigger.id.clone(),
                signature,
            }),
            observer: None,
            audit: None,
        };
        let started = self.inner.runner.start(request).await?;
        Ok(DeliveryAccepted {
            delivery_id: started.delivery_id.unwrap_or_default(),
            run_id: started.run.id,
        })
    }

    /// Up to `limit` deliveries of a trigger, newest first, before the delivery `before`.
    pub async fn deliveries(
        &self,
        trigger_id: &str,
        before: Option<&String>,
        limit: u32,
    ) -> Result<Vec<hatchery_shared::api::triggers::Delivery>, StoreError> {
        self.inner.store.deliveries(trigger_id, before, limit).await
    }

    /// Starts the tracked task that deletes deliveries older than the retention period,
    /// hourly, until `stop`.
    pub fn start_pruning(&self, tasks: &TaskTracker, stop: CancellationToken) {
        let store = self.inner.store.clone();
        let retention = chrono::Duration::from_std(self.inner.config.retention)
            .unwrap_or(chrono::Duration::MAX);
        periodic::every(
            tasks,
            stop,
            PRUNE_EVERY,
            "deleted old webhook deliveries",
            move || {
                let store = store.clone();
                async move { store.prune_deliveries(Utc::now() - retention).await }
            },
        );
    }
}

impl Refusal {
    /// Whether the delivery log keeps this refusal: every one about a trigger that was
    /// found, but for rate limits and failures of the database itself.
    pub fn is_logged(&self) -> bool {
        !matches!(
            self,
            Self::NotFound | Self::TooMany(..) | Self::TooManyUnsigned(_) | Self::Store(_)
        )
    }
}

/// A trigger as the API shows it.
pub fn view(row: &TriggerRow) -> Trigger {
    Trigger {
        id: row.id.clone(),
        agent_id: row.agent_id.clone(),
        name: row.name.clone(),
        path: format!("/api/hooks/{}", row.id),
        created_at: rfc3339(row.created_at),
        rotated_at: row.rotated_at.map(rfc3339),
        previous_secret_valid_until: row
            .previous_valid_until
            .filter(|until| *until > Utc::now())
            .map(rfc3339),
    }
}
