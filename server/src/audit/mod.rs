//! Accountability: the audit log and the system log. Audit records are written by `store`
//! inside each change's transaction (see `store::audit`); the system log's records come
//! from a `tracing` layer through a bounded channel to one writer ([`system_log`]). Both
//! are kept for their retention periods.

pub mod system_log;

use std::time::Duration;

use chrono::Utc;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::system_log::SystemLogConfig;
use crate::{periodic, store::Store};

/// How often records older than their retention period are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Settings of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// How long records are kept (`HATCHERY_AUDIT_RETENTION_DAYS`, default 90).
    pub retention: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// Starts the tracked tasks that delete the audit and system log records of `store` older
/// than their retention periods, hourly, until `stop`.
pub fn start_pruning(
    store: &Store,
    audit: &AuditConfig,
    system: &SystemLogConfig,
    tasks: &TaskTracker,
    stop: &CancellationToken,
) {
    let keep_audit = chrono::Duration::from_std(audit.retention).unwrap_or(chrono::Duration::MAX);
    let audit_store = store.clone();
    periodic::every(
        tasks,
        stop.clone(),
        PRUNE_EVERY,
        "deleted old audit records",
        move || {
            let store = audit_store.clone();
            async move { store.prune_audit(Utc::now() - keep_audit).await }
        },
    );
    let keep_log = chrono::Duration::from_std(system.retention).unwrap_or(chrono::Duration::MAX);
    let log_store = store.clone();
    periodic::every(
        tasks,
        stop.clone(),
        PRUNE_EVERY,
        "deleted old system log records",
        move || {
            let store = log_store.clone();
            async move { store.prune_log_records(Utc::now() - keep_log).await }
        },
    );
}
