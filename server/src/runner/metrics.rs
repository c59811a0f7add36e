//! The runner's Prometheus metrics: runs started and ended, their duration, tokens and
//! cost; the providers' time to first token and errors; tool calls. Every label takes
//! values from a fixed set (triggers, statuses, providers, error kinds, tool names).

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};

use hatchery_shared::api::{
    agents::Tool,
    runs::{RunStatus, RunTrigger},
};
use strum::IntoEnumIterator;

use super::provider::ProviderError;

/// Counters and histograms of runs, providers and tools.
#[derive(Debug, Clone)]
pub struct RunnerMetrics {
    /// `hatchery_runs_started_total{trigger}`.
    pub runs_started: IntCounterVec,
    /// `hatchery_runs_ended_total{trigger, status}`.
    pub runs_ended: IntCounterVec,
    /// `hatchery_run_duration_seconds{trigger}`: from its creation to its end.
    pub run_duration: HistogramVec,
    /// `hatchery_run_tokens_total{kind}` (`prompt`, `completion`).
    pub tokens: IntCounterVec,
    /// `hatchery_run_cost_micros_total`: in millionths of a dollar.
    pub cost_micros: IntCounter,
    /// `hatchery_provider_first_token_seconds{provider}` (`remote`, `local`).
    pub first_token: HistogramVec,
    /// `hatchery_provider_errors_total{provider, kind}`.
    pub provider_errors: IntCounterVec,
    /// `hatchery_tool_calls_total{tool, outcome}` (`ok`, `error`).
    pub tool_calls: IntCounterVec,
}

impl RunnerMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let metrics = Self {
            runs_started: IntCounterVec::new(
                Opts::new("hatchery_runs_started_total", "Runs started, by trigger"),
                &["trigger"],
            )?,
            runs_ended: IntCounterVec::new(
                Opts::new(
                    "hatchery_runs_ended_total",
                    "Runs ended, by trigger and status",
                ),
                &["trigger", "status"],
            )?,
            run_duration: HistogramVec::new(
                HistogramOpts::new(
                    "hatchery_run_duration_seconds",
                    "How long runs took, from creation to end, by trigger",
                )
                .buckets(vec![
                    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
                ]),
                &["trigger"],
            )?,
            tokens: IntCounterVec::new(
                Opts::new("hatchery_run_tokens_total", "Tokens used by runs, by kind"),
                &["kind"],
            )?,
            cost_micros: IntCounter::new(
                "hatchery_run_cost_micros_total",
                "Cost of runs, in millionths of a dollar",
            )?,
            first_token: HistogramVec::new(
                HistogramOpts::new(
                    "hatchery_provider_first_token_seconds",
                    "Time from a model call to its first streamed event, by provider",
                )
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]),
                &["provider"],
            )?,
            provider_errors: IntCounterVec::new(
                Opts::new(
                    "hatchery_provider_errors_total",
                    "Failed model calls, by provider and kind",
                ),
                &["provider", "kind"],
            )?,
            tool_calls: IntCounterVec::new(
                Opts::new(
                    "hatchery_tool_calls_total",
                    "Tool calls, by tool and outcome",
                ),
                &["tool", "outcome"],
            )?,
        };
        metrics.start_at_zero();
        registry.register(Box::new(metrics.runs_started.clone()))?;
        registry.register(Box::new(metrics.runs_ended.clone()))?;
        registry.register(Box::new(metrics.run_duration.clone()))?;
        registry.register(Box::new(metrics.tokens.clone()))?;
        registry.register(Box::new(metrics.cost_micros.clone()))?;
        registry.register(Box::new(metrics.first_token.clone()))?;
        registry.register(Box::new(metrics.provider_errors.clone()))?;
        registry.register(Box::new(metrics.tool_calls.clone()))?;
        Ok(metrics)
    }

    /// Creates every series of the fixed label sets, so that each is scraped (at zero)
    /// before anything happened.
    fn start_at_zero(&self) {
        for trigger in RunTrigger::iter() {
            self.runs_started.with_label_values(&[trigger.as_str()]);
            self.run_duration.with_label_values(&[trigger.as_str()]);
            for status in RunStatus::iter().filter(|status| status.is_final()) {
                self.runs_ended
                    .with_label_values(&[trigger.as_str(), status.as_str()]);
            }
        }
        for kind in ["prompt", "completion"] {
            self.tokens.with_label_values(&[kind]);
        }
        for provider in ["remote", "local"] {
            self.first_token.with_label_values(&[provider]);
            for kind in ERROR_KINDS {
                self.provider_errors.with_label_values(&[provider, kind]);
            }
        }
        for tool in Tool::iter() {
            for outcome in ["ok", "error"] {
                self.tool_calls.with_label_values(&[tool.as_str(), outcome]);
            }
        }
    }

    /// The histogram of first-token times of `provider`.
    pub fn first_token_of(&self, provider: &str) -> Histogram {
        self.first_token.with_label_values(&[provider])
    }
}

/// Every `kind` of provider error.
const ERROR_KINDS: [&str; 8] = [
    "unauthorized",
    "rate_limited",
    "server",
    "rejected",
    "timeout",
    "unreachable",
    "malformed",
    "local_model",
];

/// The `kind` label of a provider error (one of [`ERROR_KINDS`]).
pub fn error_kind(err: &ProviderError) -> &'static str {
    match err {
        ProviderError::Unauthorized(_) => "unauthorized",
        ProviderError::RateLimited(_) => "rate_limited",
        ProviderError::Server { .. } => "server",
        ProviderError::Rejected { .. } => "rejected",
        ProviderError::Timeout(_) => "timeout",
        ProviderError::Unreachable { .. } => "unreachable",
        ProviderError::Malformed(_) => "malformed",
        ProviderError::LocalModel(_) => "local_model",
    }
}
