//! Cursor pagination: the `limit` and `cursor` query parameters and the [`Page`] answer,
//! and the time bounds of filtered lists.

use chrono::{DateTime, Utc};
use hatchery_shared::api::{MAX_PAGE_SIZE, Page};
use serde::Deserialize;

use super::ApiError;

/// `?limit=&cursor=` of a list endpoint.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items to return: clamped to 1–200, default 50.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Items per page when the request does not say.
const DEFAULT_PAGE_SIZE: u32 = 50;

impl PageQuery {
    /// The page size asked for, clamped.
    pub fn limit(&self) -> u32 {
        self.limit
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE)
    }

    /// How many rows to fetch: one more than a page, to learn whether another page follows.
    pub fn fetch(&self) -> u32 {
        self.limit() + 1
    }

    /// The page made of `rows` (fetched with [`PageQuery::fetch`]) as they are, with the
    /// cursor after the last one given by `cursor_of`.
    pub fn page_of<T>(&self, mut rows: Vec<T>, cursor_of: impl Fn(&T) -> String) -> Page<T> {
        let limit = self.limit() as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        Page {
            next_cursor: more.then(|| rows.last().map(&cursor_of)).flatten(),
            items: rows,
        }
    }

    /// The page made of `rows` (fetched with [`PageQuery::fetch`]), each shown by `view`,
    /// with the cursor after the last one given by `cursor_of`.
    pub fn page<R, T>(
        &self,
        rows: Vec<R>,
        cursor_of: impl Fn(&R) -> String,
        view: impl Fn(&R) -> T,
    ) -> Page<T> {
        let page = self.page_of(rows, cursor_of);
        Page {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// A time range, `from` inclusive and `to` exclusive; either end may be open.
pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The `from` and `to` query parameters (RFC 3339, either may be absent), or a validation
/// error that names the one that is not a time or says that the range ends before it
/// starts.
pub fn time_range(from: Option<&str>, to: Option<&str>) -> Result<TimeRange, ApiError> {
    let from = time_param("from", from)?;
    let to = time_param("to", to)?;
    super::runs::check_range(from, to)?;
    Ok((from, to))
}

/// The RFC 3339 time given as the query parameter `field` (absent: `None`), or a
/// validation error that names the field.
fn time_param(field: &str, text: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
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
