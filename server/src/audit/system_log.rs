//! The system log: a `tracing` layer ([`SystemLogLayer`]) turns warnings, errors and the
//! information of chosen categories into records and hands them to a bounded channel
//! without ever waiting (when it is full, the record is dropped and counted); one tracked
//! task ([`start_writer`]) writes them to the database in batches and tails them on the
//! `logs` topic.
//!
//! Each record carries the request id of the `request` span and the run id of the `run`
//! span it was logged in, when there is one.

use std::{fmt, time::Duration};

use chrono::Utc;
use hatchery_shared::{
    api::logs::{LogCategory, LogLevel, LogRecord, LogRecords},
    realtime::{Message, Topic},
};
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{
    Event, Level, Metadata, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{Layer, layer::Context, registry::LookupSpan};

use crate::{
    realtime::Realtime,
    store::{Store, rfc3339},
};

/// The target of the writer's own complaints, which the layer never keeps (a failing
/// database would otherwise feed itself records about failing to take them).
pub const WRITER_TARGET: &str = "system_log";
/// How many records wait for the writer at most.
const CHANNEL_RECORDS: usize = 4096;
/// How many records the writer takes per batch at most.
const MAX_BATCH: usize = 1000;
/// How many batches a second the writer spreads its pace over when the queue is full.
const BATCHES_PER_SECOND: usize = 20;
/// How many records of a batch the live tail shows at most; under a flood it shows the
/// newest and says how many it left out.
const MAX_TAIL: usize = 100;
/// The longest message kept, in bytes; longer ones are cut.
const MAX_MESSAGE_BYTES: usize = 1024;
/// The most bytes of field values kept per record; further fields are left out.
const MAX_FIELD_BYTES: usize = 3072;
/// The longest single field value kept, in bytes.
const MAX_VALUE_BYTES: usize = 512;

/// Which records the system log keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemLogConfig {
    /// The categories whose information (not only warnings and errors) is kept
    /// (`HATCHERY_SYSTEM_LOG_INFO`, default runner, scheduler, webhooks, auth, agents and
    /// rooms: what happened to runs and who signed in, but not every request).
    pub info_categories: Vec<LogCategory>,
    /// How long records are kept (`HATCHERY_SYSTEM_LOG_RETENTION_DAYS`, default 14).
    pub retention: Duration,
    /// The most records written a second, sustained (`HATCHERY_SYSTEM_LOG_MAX_PER_SECOND`,
    /// default 1,000): beyond it the queue fills and a flood is dropped and counted, so that
    /// writing it never takes the database and the processor from the requests.
    pub max_per_second: u32,
}

impl Default for SystemLogConfig {
    fn default() -> Self {
        Self {
            info_categories: vec![
                LogCategory::Runner,
                LogCategory::Scheduler,
                LogCategory::Webhooks,
                LogCategory::Auth,
                LogCategory::Agents,
                LogCategory::Rooms,
            ],
            retention: Duration::from_secs(14 * 24 * 3600),
            max_per_second: 1_000,
        }
    }
}

/// The layer that hands records to the writer.
#[derive(Debug)]
pub struct SystemLogLayer {
    records: mpsc::Sender<LogRecord>,
    dropped: prometheus::IntCounter,
    /// The categories whose information is kept, for [`SystemLogLayer::keeper`].
    info_categories: Vec<LogCategory>,
}

/// The other end of the layer's channel, for [`start_writer`], and the count of records
/// dropped because the channel was full.
#[derive(Debug)]
pub struct SystemLogIntake {
    /// The records, in the order they were logged.
    pub records: mpsc::Receiver<LogRecord>,
    /// `hatchery_system_log_dropped_total`.
    pub dropped: prometheus::IntCounter,
}

/// A layer and the intake its records go to.
pub fn channel(config: &SystemLogConfig) -> (SystemLogLayer, SystemLogIntake) {
    let (sender, records) = mpsc::channel(CHANNEL_RECORDS);
    let dropped = prometheus::IntCounter::new(
        "hatchery_system_log_dropped_total",
        "System log records dropped because the writer was behind.",
    )
    .expect("a valid metric");
    let layer = SystemLogLayer {
        records: sender,
        dropped: dropped.clone(),
        info_categories: config.info_categories.clone(),
    };
    (layer, SystemLogIntake { records, dropped })
}

impl SystemLogLayer {
    /// Which events the layer keeps (for its per-layer filter): warnings, errors and the
    /// information of the chosen categories; spans always pass, for their ids.
    pub fn keeper(&self) -> impl Fn(&Metadata<'_>) -> bool + Send + Sync + 'static {
        let info_categories = self.info_categories.clone();
        move |metadata| {
            if metadata.is_span() {
                return true;
            }
            if metadata.target() == WRITER_TARGET {
                return false;
            }
            match *metadata.level() {
                Level::ERROR | Level::WARN => true,
                Level::INFO => info_categories.contains(&category_of(metadata.target())),
                _ => false,
            }
        }
    }
}

/// The category of a record logged by the module `target`.
pub fn category_of(target: &str) -> LogCategory {
    let module = target
        .strip_prefix("hatchery_server::")
        .map_or(target, |rest| rest.split("::").next().unwrap_or(rest));
    match module {
        "runner" => LogCategory::Runner,
        "scheduler" => LogCategory::Scheduler,
        "webhooks" => LogCategory::Webhooks,
        "auth" => LogCategory::Auth,
        "realtime" => LogCategory::Realtime,
        "http" | "serve" | "application" => LogCategory::Http,
        "store" => LogCategory::Store,
        "agents" => LogCategory::Agents,
        "rooms" => LogCategory::Rooms,
        _ if target.starts_with("sqlx") => LogCategory::Store,
        _ if target.starts_with("tower_http") || target.starts_with("axum") => LogCategory::Http,
        _ => LogCategory::Server,
    }
}

/// The ids a span carries for the records logged inside it.
#[derive(Debug, Default, Clone)]
struct SpanIds {
    request_id: Option<String>,
    run_id: Option<String>,
}

impl Visit for SpanIds {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "request_id" if !value.is_empty() => self.request_id = Some(value.to_owned()),
            "run_id" => self.run_id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "request_id" | "run_id") {
            self.record_str(field, &format!("{value:?}").replace('"', ""));
        }
    }
}

/// An event's message and fields, within their bounds.
#[derive(Debug, Default)]
struct Fields {
    message: String,
    fields: Map<String, Value>,
    bytes: usize,
    ids: SpanIds,
}

impl Fields {
    fn keep(&mut self, name: &str, value: Value) {
        let size = name.len() + value.to_string().len();
        if self.bytes + size > MAX_FIELD_BYTES {
            self.fields.insert("truncated".into(), Value::Bool(true));
            return;
        }
        self.bytes += size;
        self.fields.insert(name.to_owned(), value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = cut(value, MAX_MESSAGE_BYTES),
            "request_id" | "run_id" => self.ids.record_str(field, value),
            name => self.keep(name, Value::String(cut(value, MAX_VALUE_BYTES))),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.keep(field.name(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.keep(field.name(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.keep(field.name(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.keep(field.name(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_str(field, &value.to_string());
    }
}

/// `text` cut to at most `max` bytes, on a character boundary, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl<S> Layer<S> for SystemLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut ids = SpanIds::default();
        attrs.record(&mut ids);
        if (ids.request_id.is_some() || ids.run_id.is_some())
            && let Some(span) = ctx.span(id)
        {
            span.extensions_mut().insert(ids);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // When the writer is behind, the record is dropped before anything is made of it.
        if self.records.capacity() == 0 {
            self.dropped.inc();
            return;
        }
        let metadata = event.metadata();
        let level = match *metadata.level() {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            _ => return,
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(ids) = span.extensions().get::<SpanIds>() {
                    fields.ids.request_id = fields.ids.request_id.or(ids.request_id.clone());
                    fields.ids.run_id = fields.ids.run_id.or(ids.run_id.clone());
                }
            }
        }
        let record = LogRecord {
            id: uuid::Uuid::now_v7().to_string(),
            at: rfc3339(Utc::now()),
            level,
            category: category_of(metadata.target()),
            message: fields.message,
            fields: fields.fields,
            request_id: fields.ids.request_id,
            run_id: fields.ids.run_id,
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.records.try_send(record) {
            self.dropped.inc();
        }
    }
}

/// Starts the tracked task that writes the records of `intake` to `store` in batches and
/// publishes each batch on the `logs` topic, until `stop`: then it writes what is already
/// waiting and ends.
pub fn start_writer(
    mut intake: SystemLogIntake,
    store: Store,
    realtime: Realtime,
    max_per_second: u32,
    tasks: &TaskTracker,
    stop: CancellationToken,
) {
    let per_record = Duration::from_secs(1) / max_per_second.max(1);
    // A twentieth of a second's records at most, so that under a flood the writing is
    // spread out in small batches rather than taken in a burst a second.
    let batch_limit = (max_per_second as usize / BATCHES_PER_SECOND).clamp(1, MAX_BATCH);
    tasks.spawn(async move {
        let mut batch = Vec::with_capacity(batch_limit);
        loop {
            let received = tokio::select! {
                received = intake.records.recv_many(&mut batch, batch_limit) => received,
                () = stop.cancelled() => {
                    intake.records.close();
                    while let Ok(record) = intake.records.try_recv() {
                        batch.push(record);
                    }
                    for chunk in batch.chunks(MAX_BATCH) {
                        write(&store, &realtime, chunk).await;
                    }
                    return;
                }
            };
            if received == 0 {
                return;
            }
            let started = tokio::time::Instant::now();
            write(&store, &realtime, &batch).await;
            // Paced to `max_per_second`: meanwhile the queue takes bursts, and drops floods.
            let paced = started + per_record * received as u32;
            batch.clear();
            tokio::select! {
                () = tokio::time::sleep_until(paced) => {}
                () = stop.cancelled() => {}
            }
        }
    });
}

/// Writes `batch`, then tails its newest records on the `logs` topic.
async fn write(store: &Store, realtime: &Realtime, batch: &[LogRecord]) {
    if batch.is_empty() {
        return;
    }
    if let Err(err) = store.write_log_records(batch).await {
        tracing::error!(target: WRITER_TARGET, error = %err, records = batch.len(), "cannot write system log records");
        return;
    }
    let tail = &batch[batch.len().saturating_sub(MAX_TAIL)..];
    let message = Message::LogRecords(LogRecords {
        records: tail.iter().map(LogRecord::clone).collect(),
        left_out: (batch.len() - tail.len()) as u64,
    });
    realtime.publish(&Topic::logs(), message).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_fall_into_the_category_of_their_module() {
        assert_eq!(
            category_of("hatchery_server::runner::run"),
            LogCategory::Runner
        );
        assert_eq!(category_of("hatchery_server::serve"), LogCategory::Http);
        assert_eq!(category_of("sqlx::query"), LogCategory::Store);
        assert_eq!(
            category_of("tower_http::trace::on_response"),
            LogCategory::Http
        );
        assert_eq!(category_of("hyper_util"), LogCategory::Server);
    }

    /// Runs `log` with only `layer` installed (no writer takes the records).
    fn logged_with(layer: SystemLogLayer, log: impl FnOnce()) {
        use tracing_subscriber::layer::SubscriberExt;
        let kept = tracing_subscriber::filter::filter_fn(layer.keeper());
        let subscriber = tracing_subscriber::registry().with(layer.with_filter(kept));
        tracing::subscriber::with_default(subscriber, log);
    }

    #[test]
    fn records_carry_the_ids_of_their_request_and_run_and_their_fields() {
        let (layer, mut intake) = channel(&SystemLogConfig::default());
        logged_with(layer, || {
            let request = tracing::info_span!("request", request_id = "req-1");
            let _request = request.enter();
            let run = tracing::info_span!("run", run_id = %"run-7");
            let _run = run.enter();
            tracing::warn!(target: "hatchery_server::runner::run", agent = "a-1", attempt = 2, "the run failed");
            tracing::debug!(target: "hatchery_server::runner::run", "not kept: debug");
            tracing::info!(target: "hatchery_server::http", "not kept: info of http");
            tracing::warn!(target: WRITER_TARGET, "not kept: the writer's own");
        });
        let record = intake.records.try_recv().expect("the warning is kept");
        assert_eq!(record.message, "the run failed");
        assert_eq!(record.level, LogLevel::Warn);
        assert_eq!(record.category, LogCategory::Runner);
        assert_eq!(record.request_id.as_deref(), Some("req-1"));
        assert_eq!(record.run_id.as_deref(), Some("run-7"));
        assert_eq!(record.fields["agent"], "a-1");
        assert_eq!(record.fields["attempt"], 2);
        assert!(intake.records.try_recv().is_err(), "nothing else is kept");
    }

    #[test]
    fn a_flood_is_dropped_and_counted_rather_than_waited_for() {
        let (layer, mut intake) = channel(&SystemLogConfig::default());
        let flood = CHANNEL_RECORDS + 1000;
        logged_with(layer, || {
            for n in 0..flood {
                tracing::error!(n, "{}", "x".repeat(5000));
            }
        });
        assert_eq!(intake.dropped.get(), 1000);
        let mut kept = 0;
        while let Ok(record) = intake.records.try_recv() {
            assert!(record.message.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8());
            kept += 1;
        }
        assert_eq!(kept, CHANNEL_RECORDS, "the first ones wait for the writer");
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(cut("héllo", 2), "h…");
        assert_eq!(cut("short", 10), "short");
    }
}
