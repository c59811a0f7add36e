//! The logs people read: `GET /api/audit`, the audit log (admins read every record,
//! anyone else the records about their own account and objects), and `GET /api/logs`, the
//! system log (admins only; new records are tailed live on the `logs` topic). Both newest
//! first, filtered and paged.

use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use hatchery_shared::api::{
    Page,
    audit::{AuditQuery, AuditRecord},
    logs::{LogQuery, LogRecord},
};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    ApiError, AppState,
    page::{PageQuery, time_range},
};
use crate::{
    auth::Identity,
    store::{AuditFilter, LogFilter, Store},
};

/// Routes of the audit and system logs.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(audit))
        .routes(routes!(system_log))
}

/// `GET /api/logs?level=&category=&text=&run=&request=&from=&to=&limit=&cursor=`.
#[utoipa::path(
    get,
    path = "/api/logs",
    tag = "logs",
    operation_id = "logs_system_log",
    params(LogQuery),
    responses(
        (status = 200, description = "System log records, newest first (admins).", body = Page<LogRecord>),
    ),
)]
async fn system_log(
    identity: Identity,
    State(store): State<Store>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> Result<Json<Page<LogRecord>>, ApiError> {
    if !identity.is_admin() {
        return Err(ApiError::Forbidden(
            "only admins may read the system log".into(),
        ));
    }
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let (from, to) = time_range(query.from.as_deref(), query.to.as_deref())?;
    let filter = LogFilter {
        level: query.level,
        category: query.category,
        text: query.text.filter(|text| !text.trim().is_empty()),
        run_id: query.run,
        request_id: query.request,
        from,
        to,
    };
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let records = store
        .log_records(&filter, page.cursor.as_deref(), page.fetch())
        .await?;
    Ok(Json(page.page_of(records, |item| item.id.clone())))
}

/// `GET /api/audit?actor=&action=&target_kind=&target_id=&from=&to=&limit=&cursor=`.
#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "logs",
    operation_id = "logs_audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Audit records, newest first: all for admins, else those about the caller.", body = Page<AuditRecord>),
    ),
)]
async fn audit(
    identity: Identity,
    State(store): State<Store>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Page<AuditRecord>>, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::BadRequest(err.body_text()))?;
    let (from, to) = time_range(query.from.as_deref(), query.to.as_deref())?;
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
    Ok(Json(page.page_of(records, |item| item.id.clone())))
}
