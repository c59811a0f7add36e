//! Daily cost caps per user and per agent: today's (UTC) cost of finished runs, and what
//! the runs in flight are expected to cost, against the configured caps. A run that would
//! take spending past a cap is refused until midnight UTC.

use chrono::{DateTime, Days, NaiveTime, Utc};
use hatchery_shared::api::usage::CapStatus;

use crate::store::{RunFilter, Store, StoreError};

/// The configured caps, in millionths of a dollar a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostCaps {
    /// Over all of one user's agents (`HATCHERY_USER_DAILY_COST_CAP_USD`).
    pub per_user: Option<u64>,
    /// For each agent (`HATCHERY_AGENT_DAILY_COST_CAP_USD`).
    pub per_agent: Option<u64>,
}

/// The start of today (UTC) and of tomorrow.
pub fn today(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = now.date_naive().and_time(NaiveTime::MIN).and_utc();
    let next = start
        .checked_add_days(Days::new(1))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (start, next)
}

fn dollars(micros: u64) -> f64 {
    micros as f64 / 1_000_000.0
}

/// Today's spending against `cap` by the runs `filter` selects (its time range is set
/// here); `None` without a cap.
pub async fn status(
    store: &Store,
    cap: Option<u64>,
    mut filter: RunFilter,
) -> Result<Option<CapStatus>, StoreError> {
    let Some(cap) = cap else {
        return Ok(None);
    };
    let (start, _) = today(Utc::now());
    filter.from = Some(start);
    let spent = store.spent(&filter).await?;
    Ok(Some(CapStatus {
        cap_usd: dollars(cap),
        spent_usd: dollars(spent),
        left_usd: dollars(cap.saturating_sub(spent)),
    }))
}

impl CostCaps {
    /// Why a new run of `agent_id` (owned by `owner_id`) may not start today, if it would
    /// take spending past a cap: `in_flight` is what the runs in flight of the user and of
    /// the agent, the new one included, are expected to cost (millionths of a dollar).
    pub async fn reached(
        &self,
        store: &Store,
        owner_id: &str,
        agent_id: &str,
        in_flight: (u64, u64),
    ) -> Result<Option<String>, StoreError> {
        let checks = [
            (
                self.per_user,
                RunFilter {
                    owner_id: Some(owner_id.to_owned()),
                    ..RunFilter::default()
                },
                in_flight.0,
                "your daily cost cap",
            ),
            (
                self.per_agent,
                RunFilter {
                    agent_id: Some(agent_id.to_owned()),
                    ..RunFilter::default()
                },
                in_flight.1,
                "this agent's daily cost cap",
            ),
        ];
        for (cap, filter, expected, what) in checks {
            if let Some(status) = status(store, cap, filter).await?
                && status.spent_usd + dollars(expected) > status.cap_usd
            {
                return Ok(Some(format!(
                    "{what} of ${:.2} would be passed (${:.2} spent today, ${:.2} expected of \
                     the runs in progress and this one); runs start again at midnight UTC",
                    status.cap_usd,
                    status.spent_usd,
                    dollars(expected)
                )));
            }
        }
        Ok(None)
    }
}
