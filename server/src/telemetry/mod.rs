//! Log setup: a `tracing` subscriber writing pretty or JSON lines to stdout, and handing
//! warnings and errors to the system log.

use tracing_subscriber::{
    EnvFilter, Layer, filter::filter_fn, fmt, layer::SubscriberExt, util::SubscriberInitExt,
};

use crate::audit::system_log::{self, SystemLogConfig, SystemLogIntake};

/// How log lines are filtered and written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing` filter directive such as `info` or `info,hatchery_server=debug`.
    pub filter: String,
    /// Human-readable or JSON lines.
    pub format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Coloured, human-readable lines for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber: log lines on stdout as `log` says, and the system log's
/// layer as `system_log` says, whose records wait in the returned intake until a server
/// takes them (see `Application::with_system_log`). Call once, before anything logs.
///
/// The filter was validated when the configuration was read; it applies to the lines on
/// stdout only, so that the system log keeps its warnings and errors whatever it says.
pub fn init(log: &LogConfig, system_log: &SystemLogConfig) -> SystemLogIntake {
    let filter = EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, intake) = system_log::channel(system_log);
    let kept = filter_fn(layer.keeper());
    let registry = tracing_subscriber::registry().with(layer.with_filter(kept));
    match log.format {
        LogFormat::Pretty => registry.with(fmt::layer().with_filter(filter)).init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_filter(filter),
            )
            .init(),
    }
    intake
}
