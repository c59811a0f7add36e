//! Pages of the logs (audit and system), whose rows are keyed by UUIDv7 ids: newest first,
//! after a cursor (the last id seen), filtered by text columns, with a time range read as
//! an id range so that every filter seeks through one index ordered by id.

use chrono::{DateTime, Utc};

use super::{Conditions, Store, StoreError, on_pool};

/// The conditions of one page and their values, in parameter order.
#[derive(Debug, Default)]
pub(super) struct IdPage {
    conditions: Conditions,
    values: Vec<String>,
}

impl IdPage {
    /// Adds `{column} {operator} $n` (such as `level =`) when `value` is present.
    pub(super) fn condition(mut self, column_operator: &str, value: Option<String>) -> Self {
        self.conditions = self.conditions.add(column_operator, value.as_ref());
        self.values.extend(value);
        self
    }

    /// Adds `{column} LIKE $n` when `pattern` is present (see [`Conditions::add_like`]).
    pub(super) fn like(mut self, column: &str, pattern: Option<String>) -> Self {
        self.conditions = self.conditions.add_like(column, pattern.as_ref());
        self.values.extend(pattern);
        self
    }

    /// Adds `condition`, whose `$?` stands for `value`, when `value` is present (see
    /// [`Conditions::add_shaped`]).
    pub(super) fn shaped(mut self, condition: &str, value: Option<String>) -> Self {
        self.conditions = self.conditions.add_shaped(condition, value.as_ref());
        self.values.extend(value);
        self
    }

    /// Keeps the rows made at or after `from` and before `to`.
    pub(super) fn time_range(self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Self {
        self.condition("id >=", from.map(first_id_at))
            .condition("id <", to.map(first_id_at))
    }

    /// Up to `limit` rows of `select` (a `SELECT … FROM table`) meeting the conditions,
    /// newest first, after the row `after`.
    pub(super) async fn fetch<R>(
        self,
        store: &Store,
        select: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<R>, StoreError>
    where
        R: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        let page = self.condition("id <", after.map(str::to_owned));
        let (clause, limit_param) = page.conditions.finish();
        let sql = format!("{select} {clause} ORDER BY id DESC LIMIT ${limit_param}");
        let rows = on_pool!(store, |pool| {
            let mut query = sqlx::query_as::<_, R>(&sql);
            for value in &page.values {
                query = query.bind(value);
            }
            query.bind(i64::from(limit)).fetch_all(pool).await?
        });
        Ok(rows)
    }
}

/// The lowest id a row made at `time` or later can have: a UUIDv7 with that millisecond
/// and nothing after it.
pub(super) fn first_id_at(time: DateTime<Utc>) -> String {
    let millis = u64::try_from(time.timestamp_millis()).unwrap_or_default();
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    uuid::Uuid::from_bytes(bytes).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instant_bounds_the_ids_made_from_it_on() {
        let time = DateTime::parse_from_rfc3339("2026-12-03T10:00:00.123Z")
            .unwrap()
            .to_utc();
        let bound = first_id_at(time);
        let made = |nanos| {
            uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                1_796_292_000,
                nanos,
            ))
            .to_string()
        };
        assert_eq!(time.timestamp(), 1_796_292_000);
        assert!(bound <= made(123_000_000), "made then");
        assert!(made(122_999_999) < bound, "made before");
    }
}
