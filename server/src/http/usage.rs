//! `GET /api/usage`: runs, tokens and cost per day, agent or model over a time range; and
//! `GET /api/usage/caps`: today's spending against the daily cost caps.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use chrono::{DateTime, Days, Utc};
use hatchery_shared::api::usage::{Caps, Usage, UsageFigures, UsageGroup};
use serde::Deserialize;

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppState, runs::check_range, scope::Scope};
use crate::{
    auth::Identity,
    runner::{Runner, caps},
    store::{RunFilter, Store, rfc3339},
};

/// Routes of usage.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(usage))
        .routes(routes!(caps_of))
}

/// Days covered when the request gives no `from`: today and the 29 before it.
const DEFAULT_DAYS: u64 = 30;

/// The longest period `days` may ask for.
const MAX_DAYS: u64 = 366;

/// `?group_by=day|agent|model&from=&to=&days=&scope=mine|all`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct UsageQuery {
    #[serde(default = "by_day")]
    group_by: UsageGroup,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// Without `from`: the period is the last `days` UTC days, today included.
    days: Option<u64>,
    #[serde(default)]
    #[param(inline)]
    scope: Scope,
}

fn by_day() -> UsageGroup {
    UsageGroup::Day
}

/// `GET /api/usage`: the runs created from `from` (default: the start of the UTC day
/// `days - 1` days before `to`, with `days` 30 unless given) until `to` (default: now),
/// added up per group in the database.
#[utoipa::path(
    get,
    path = "/api/usage",
    tag = "usage",
    operation_id = "usage_usage",
    params(UsageQuery),
    responses(
        (status = 200, description = "Runs, tokens and cost in buckets.", body = Usage),
    ),
)]
async fn usage(
    identity: Identity,
    State(store): State<Store>,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Json<Usage>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let to = query.to.unwrap_or_else(Utc::now);
    let days = query.days.unwrap_or(DEFAULT_DAYS);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::BadRequest(format!(
            "days must be from 1 to {MAX_DAYS}"
        )));
    }
    let from = query.from.unwrap_or_else(|| {
        let today = to.date_naive();
        let first = today.checked_sub_days(Days::new(days - 1)).unwrap_or(today);
        first.and_time(chrono::NaiveTime::MIN).and_utc()
    });
    check_range(Some(from), Some(to))?;
    let filter = RunFilter {
        owner_id: query.scope.owner(&identity, "usage")?,
        from: Some(from),
        to: Some(to),
        ..RunFilter::default()
    };
    let buckets = store.usage(&filter, query.group_by).await?;
    let total = buckets
        .iter()
        .fold(UsageFigures::default(), |total, bucket| UsageFigures {
            runs: total.runs + bucket.figures.runs,
            prompt_tokens: total.prompt_tokens + bucket.figures.prompt_tokens,
            completion_tokens: total.completion_tokens + bucket.figures.completion_tokens,
            cost_usd: total.cost_usd + bucket.figures.cost_usd,
        });
    Ok(Json(Usage {
        group_by: query.group_by,
        from: rfc3339(from),
        to: rfc3339(to),
        buckets,
        total,
    }))
}

/// `?agent=` of the caps.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CapsQuery {
    agent: Option<String>,
}

/// `GET /api/usage/caps?agent=`: today's spending against the caller's daily cap and, when
/// asked, the agent's.
#[utoipa::path(
    get,
    path = "/api/usage/caps",
    tag = "usage",
    operation_id = "usage_caps_of",
    params(CapsQuery),
    responses(
        (status = 200, description = "Today's spending against the daily caps.", body = Caps),
    ),
)]
async fn caps_of(
    identity: Identity,
    State(store): State<Store>,
    State(runner): State<Runner>,
    query: Result<Query<CapsQuery>, QueryRejection>,
) -> Result<Json<Caps>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let configured = runner.caps();
    let agent = match &query.agent {
        Some(id) => {
            match store.agent(id).await? {
                Some(agent) if identity.may_manage(&agent.owner_id) => {}
                _ => return Err(ApiError::NotFound(format!("there is no agent {id}"))),
            }
            let filter = RunFilter {
                agent_id: Some(id.clone()),
                ..RunFilter::default()
            };
            caps::status(&store, configured.per_agent, filter).await?
        }
        None => None,
    };
    let filter = RunFilter {
        owner_id: Some(identity.user_id.clone()),
        ..RunFilter::default()
    };
    let user = caps::status(&store, configured.per_user, filter).await?;
    let (start, resets_at) = caps::today(Utc::now());
    Ok(Json(Caps {
        day: start.date_naive().to_string(),
        resets_at: rfc3339(resets_at),
        user,
        agent,
    }))
}
