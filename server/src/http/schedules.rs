//! Schedules: an agent's next run times and skipped times, and a preview of a schedule
//! being written.

use axum::{
    Json,
    extract::{Path, Query, State, rejection::QueryRejection},
};
use chrono::Utc;
use hatchery_shared::api::agents::{AgentSchedule, AgentStatus, SchedulePreview, SkippedTime};
use serde::Deserialize;

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppState};
use crate::{
    auth::Identity,
    scheduler::schedule::{self, Schedule, parse_time_zone},
    store::{Store, rfc3339},
};

/// Routes of schedules.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(of_agent))
        .routes(routes!(preview))
}

/// Run times listed ahead.
const UPCOMING: usize = 5;
/// Skipped times listed.
const SKIPPED: u32 = 20;

/// `GET /api/agents/{id}/schedule`.
#[utoipa::path(
    get,
    path = "/api/agents/{id}/schedule",
    tag = "schedules",
    operation_id = "schedules_of_agent",
    params(("id" = String, Path, description = "The agent's id.")),
    responses(
        (status = 200, description = "The agent's schedule in words, its next times and skipped ones.", body = AgentSchedule),
    ),
)]
async fn of_agent(
    identity: Identity,
    State(store): State<Store>,
    Path(id): Path<String>,
) -> Result<Json<AgentSchedule>, ApiError> {
    let agent = match store.agent(&id).await? {
        Some(agent) if identity.may_manage(&agent.owner_id) => agent,
        _ => return Err(ApiError::NotFound(format!("there is no agent {id}"))),
    };
    let change = &agent.change;
    let parsed = change.schedule.as_deref().and_then(|expression| {
        let zone = parse_time_zone(&change.time_zone).ok()?;
        Schedule::parse(expression, zone).ok()
    });
    // From the stored next time, which already includes any back-off after failures.
    let upcoming = match (parsed, change.next_run_at) {
        (Some(schedule), Some(next)) if change.status != AgentStatus::Disabled => {
            std::iter::once(next)
                .chain(schedule.upcoming(next, UPCOMING - 1))
                .map(rfc3339)
                .collect()
        }
        _ => Vec::new(),
    };
    let skipped = store
        .schedule_skips(&id, SKIPPED)
        .await?
        .into_iter()
        .map(|skip| SkippedTime {
            due_at: rfc3339(skip.due_at),
            reason: skip.reason,
        })
        .collect();
    Ok(Json(AgentSchedule {
        description: change.schedule.as_deref().and_then(schedule::describe),
        schedule: change.schedule.clone(),
        time_zone: change.time_zone.clone(),
        upcoming,
        skipped,
    }))
}

/// `?schedule=&time_zone=` of the preview.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
    schedule: String,
    time_zone: Option<String>,
}

/// `GET /api/schedule/preview`: the schedule in words and its next five times; 422 naming
/// the field when the schedule or the time zone is not valid.
#[utoipa::path(
    get,
    path = "/api/schedule/preview",
    tag = "schedules",
    operation_id = "schedules_preview",
    params(PreviewQuery),
    responses(
        (status = 200, description = "The schedule in words and its next five times.", body = SchedulePreview),
    ),
)]
async fn preview(
    _identity: Identity,
    query: Result<Query<PreviewQuery>, QueryRejection>,
) -> Result<Json<SchedulePreview>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let zone = parse_time_zone(query.time_zone.as_deref().unwrap_or("UTC"))
        .map_err(|message| ApiError::validation("time_zone", message))?;
    let schedule = Schedule::parse(&query.schedule, zone)
        .map_err(|message| ApiError::validation("schedule", message))?;
    Ok(Json(SchedulePreview {
        description: schedule::describe(&query.schedule),
        upcoming: schedule
            .upcoming(Utc::now(), UPCOMING)
            .into_iter()
            .map(rfc3339)
            .collect(),
    }))
}
