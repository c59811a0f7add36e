//! The audit log service: the records themselves are written by `store` inside each
//! change's transaction (see `store::audit`); this keeps them for the retention period.

use std::time::Duration;

use chrono::Utc;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{periodic, store::Store};

/// How often records older than the retention period are deleted.
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

/// Starts the tracked task that deletes the records of `store` older than the retention
/// period, hourly, until `stop`.
pub fn start_pruning(
    store: &Store,
    config: &AuditConfig,
    tasks: &TaskTracker,
    stop: CancellationToken,
) {
    let store = store.clone();
    let retention = chrono::Duration::from_std(config.retention).unwrap_or(chrono::Duration::MAX);
    periodic::every(
        tasks,
        stop,
        PRUNE_EVERY,
        "deleted old audit records",
        move || {
            let store = store.clone();
            async move { store.prune_audit(Utc::now() - retention).await }
        },
    );
}
