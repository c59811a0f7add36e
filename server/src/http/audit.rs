//! `GET /api/audit`: the audit log, newest first, filtered and paged. Admins read every
//! record; anyone else reads the records about their own account and objects only.

use axum::{
    Json, Router,
    extract::{Query, State, rejection::QueryRejection},
    routing::get,
};
use chrono::{DateTime, Utc};
use hatchery_shared::api::{
    Page,
    audit::{AuditQuery, AuditRecord},
};

use super::{ApiError, AppState, page::PageQuery};
use crate::{
    auth::Identity,
    store::{AuditFilter, Store},
};

/// Routes of the audit log.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/audit", get(list))
}

/// `GET /api/audit?actor=&action=&target_kind=&target_id=&from=&to=&limit=&cursor=`.
async fn list(
    identity: Identity,
    State(store): State<Store>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Page<AuditRecord>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let from = instant("from", query.from.as_deref())?;
    let to = instant("to", query.to.as_deref())?;
    super::runs::check_range(from, to)?;
    let filter = AuditFilter {
        subject_user_id: (!identity.is_admin()).then(|| identity.user_id.clone()),
        actor_user_id: query.actor,
        action: query.action,
        target_kind: query.target_kind,
        target_id: query.target_id,
        from,
        to,
    };
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let records = store
        .audit_records(&filter, page.cursor.as_deref(), page.fetch())
        .await?;
    Ok(Json(page.page(
        records,
        |record| record.id.clone(),
        AuditRecord::clone,
    )))
}

/// The RFC 3339 time of the query parameter `field`, or its error.
fn instant(field: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|time| time.to_utc())
            .map_err(|_| {
                ApiError::validation(
                    field,
                    format!("{text:?} is not a time such as 2026-12-03T10:00:00Z"),
                )
            })
    })
    .transpose()
}
