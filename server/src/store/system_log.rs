//! The system log's table: records written a batch per statement, read back in pages
//! newest first (a search of their messages through a trigram index), and pruned after the
//! retention period. As in the audit log, ids are UUIDv7 and a time range is an id range.

use chrono::{DateTime, Utc};
use hatchery_shared::api::logs::{LogCategory, LogLevel, LogRecord};

use super::{
    BeginWrite, Pool, Store, StoreError,
    id_page::{IdPage, first_id_at},
    on_pool, rfc3339,
};

/// Which records a page covers; every field given must match.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Only records at least this serious.
    pub level: Option<LogLevel>,
    /// Only records of this category.
    pub category: Option<LogCategory>,
    /// Only records whose message contains this text, in any case.
    pub text: Option<String>,
    /// Only records of this run.
    pub run_id: Option<String>,
    /// Only records of this request.
    pub request_id: Option<String>,
    /// Only records at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only records before this instant.
    pub to: Option<DateTime<Utc>>,
}

/// The columns of a record, in the order [`Store::write_log_records`] binds them.
const COLUMNS: &str = "id, at, level, category, message, fields, request_id, run_id";
/// How many records one statement writes at most (8 parameters each).
const ROWS_PER_STATEMENT: usize = 500;
/// How many records one pruning statement deletes at most.
const PRUNE_BATCH: i64 = 10_000;

#[derive(sqlx::FromRow)]
struct RawRecord {
    id: String,
    at: DateTime<Utc>,
    level: String,
    category: String,
    message: String,
    fields: String,
    request_id: Option<String>,
    run_id: Option<String>,
}

impl TryFrom<RawRecord> for LogRecord {
    type Error = StoreError;

    fn try_from(raw: RawRecord) -> Result<Self, StoreError> {
        Ok(Self {
            level: super::parse_column("level", &raw.level)?,
            category: super::parse_column("category", &raw.category)?,
            fields: serde_json::from_str(&raw.fields).unwrap_or_default(),
            id: raw.id,
            at: rfc3339(raw.at),
            message: raw.message,
            request_id: raw.request_id,
            run_id: raw.run_id,
        })
    }
}

impl IdPage {
    /// Keeps the records whose message contains `text`, in any case, through the index of
    /// messages: on SQLite a trigram phrase of the full-text table (a text of fewer than
    /// three characters has no trigram, and is looked for row by row); on PostgreSQL a
    /// `LIKE` that the trigram index answers.
    fn text(self, store: &Store, text: Option<&str>) -> Self {
        match (&store.pool, text) {
            (Pool::Sqlite(_), Some(text)) if text.chars().count() >= 3 => self.shaped(
                "seq IN (SELECT rowid FROM system_log_text WHERE system_log_text MATCH $?)",
                Some(phrase(text)),
            ),
            _ => self.like("LOWER(message)", text.map(contains_pattern)),
        }
    }
}

/// `text` as a full-text phrase: in double quotes, its own quotes doubled.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `text` as a `LIKE` pattern that finds it anywhere, lower-cased, with `\` escaping the
/// pattern's own wildcards.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    /// Writes `records` in one transaction, a few hundred per statement. A record whose
    /// time does not read as RFC 3339 is written as of now.
    pub async fn write_log_records(&self, records: &[LogRecord]) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            for chunk in records.chunks(ROWS_PER_STATEMENT) {
                let rows: Vec<String> = (0..chunk.len())
                    .map(|row| {
                        let n = row * 8;
                        format!(
                            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                            n + 1,
                            n + 2,
                            n + 3,
                            n + 4,
                            n + 5,
                            n + 6,
                            n + 7,
                            n + 8
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO system_log ({COLUMNS}) VALUES {}",
                    rows.join(", ")
                );
                let mut query = sqlx::query(&sql);
                for record in chunk {
                    query = query
                        .bind(&record.id)
                        .bind(
                            DateTime::parse_from_rfc3339(&record.at)
                                .map_or_else(|_| super::now(), |at| at.to_utc()),
                        )
                        .bind(record.level.as_str())
                        .bind(record.category.as_str())
                        .bind(&record.message)
                        .bind(serde_json::Value::Object(record.fields.clone()).to_string())
                        .bind(&record.request_id)
                        .bind(&record.run_id);
                }
                query.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Up to `limit` records matching `filter`, newest first, after the record `after`.
    pub async fn log_records(
        &self,
        filter: &LogFilter,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let raws: Vec<RawRecord> = IdPage::default()
            .condition(
                "level =",
                (filter.level == Some(LogLevel::Error)).then(|| "error".into()),
            )
            .condition(
                "level <>",
                (filter.level == Some(LogLevel::Warn)).then(|| "info".into()),
            )
            .condition("category =", filter.category.map(|c| c.as_str().to_owned()))
            .text(self, filter.text.as_deref())
            .condition("run_id =", filter.run_id.clone())
            .condition("request_id =", filter.request_id.clone())
            .time_range(filter.from, filter.to)
            .fetch(
                self,
                &format!("SELECT {COLUMNS} FROM system_log"),
                after,
                limit,
            )
            .await?;
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Deletes the records logged before `before`, a batch at a time; how many it deleted.
    pub async fn prune_log_records(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.prune_by_id("system_log", &first_id_at(before), PRUNE_BATCH)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_text_is_found_anywhere_and_its_wildcards_are_plain_characters() {
        assert_eq!(contains_pattern("Disk FULL"), "%disk full%");
        assert_eq!(contains_pattern("100%_a\\b"), "%100\\%\\_a\\\\b%");
        assert_eq!(phrase(r#"say "hi""#), r#""say ""hi""""#);
    }
}
