//! Typed configuration, read once from the environment at start-up.
//!
//! Every variable has a default that suits a laptop; a value that does not parse stops
//! start-up with an error naming the variable. [`Settings`] declares each variable for
//! clap, which parses it; [`Config`] is what the layers get, with the checks that involve
//! several variables.

use std::{
    collections::HashMap, env::VarError, ffi::OsString, net::SocketAddr, num::NonZeroU32,
    path::PathBuf, time::Duration,
};

use clap::{CommandFactory, FromArgMatches, Parser, error::ContextKind};
use hatchery_shared::api::logs::LogCategory;
use secrecy::SecretBox;
use strum::IntoEnumIterator;

use crate::{
    audit::{AuditConfig, system_log::SystemLogConfig},
    auth::{AuthConfig, AuthMode},
    realtime::RealtimeConfig,
    runner::{
        Price, RunnerConfig,
        local::provider::{DEFAULT_MODEL_FILE, LOCAL_MODEL},
        provider::OpenAiConfig,
    },
    scheduler::SchedulerConfig,
    serve::ServeLimits,
    store::DatabaseConfig,
    telemetry::{LogConfig, LogFormat},
    webhooks::{WebhookConfig, sealing},
};

/// Everything the server needs to start, parsed and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the HTTP server listens (`HATCHERY_ADDR`, default `127.0.0.1:3000`).
    pub addr: SocketAddr,
    /// Directory for Hatchery's own files (`HATCHERY_DATA_DIR`, default `./data`); created
    /// at start-up when missing.
    pub data_dir: PathBuf,
    /// The database (`HATCHERY_DATABASE_URL`, default a SQLite file in the data directory).
    pub database: DatabaseConfig,
    /// A directory of agents kept as `*.md` files, owned by the first admin
    /// (`HATCHERY_AGENTS_DIR`, unset by default).
    pub agents_dir: Option<PathBuf>,
    /// Log settings (`HATCHERY_LOG`, `HATCHERY_LOG_FORMAT`).
    pub log: LogConfig,
    /// How long shutdown waits for in-flight requests before cutting them off
    /// (`HATCHERY_SHUTDOWN_GRACE_SECS`, default 10).
    pub shutdown_grace: Duration,
    /// The real-time hub (`HATCHERY_WS_HEARTBEAT_MS`, `HATCHERY_ALLOWED_ORIGINS`,
    /// `HATCHERY_WS_MAX_CONNECTIONS_PER_USER`).
    pub realtime: RealtimeConfig,
    /// Threads of the async runtime (`HATCHERY_WORKER_THREADS`, default one per core).
    pub worker_threads: Option<usize>,
    /// Sign-in and sessions (`HATCHERY_AUTH`, `HATCHERY_SIGNUP`, `HATCHERY_SESSION_TTL_SECS`,
    /// `HATCHERY_SIGNIN_MAX_FAILURES`, `HATCHERY_TRUSTED_PROXIES`).
    pub auth: AuthConfig,
    /// The agent runner (`HATCHERY_LLM_*` including `HATCHERY_LLM_MODEL`, `HATCHERY_RUN_MAX_STEPS`,
    /// `HATCHERY_MAX_CONCURRENT_RUNS`, `HATCHERY_TOOL_TIMEOUT_SECS`,
    /// `HATCHERY_HTTP_TOOL_ALLOW`).
    pub runner: RunnerConfig,
    /// The scheduler (`HATCHERY_SCHEDULE_CATCH_UP_SECS`, `HATCHERY_SCHEDULE_MAX_FAILURES`,
    /// `HATCHERY_SCHEDULE_BACKOFF_SECS`).
    pub scheduler: SchedulerConfig,
    /// Webhook triggers (`HATCHERY_SECRET_KEY`, `HATCHERY_WEBHOOK_RATE_PER_MIN`,
    /// `HATCHERY_WEBHOOK_ROTATION_GRACE_SECS`, `HATCHERY_WEBHOOK_RETENTION_DAYS`).
    pub webhooks: WebhookConfig,
    /// The audit log (`HATCHERY_AUDIT_RETENTION_DAYS`).
    pub audit: AuditConfig,
    /// The system log (`HATCHERY_SYSTEM_LOG_INFO`, `HATCHERY_SYSTEM_LOG_RETENTION_DAYS`,
    /// `HATCHERY_SYSTEM_LOG_MAX_PER_SECOND`).
    pub system_log: SystemLogConfig,
    /// Connection and request limits of the HTTP server.
    pub serve: ServeLimits,
}

/// A variable whose value cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: String,
    /// What is wrong with its value.
    pub message: String,
}

/// Every variable, as clap reads it: each field's `env` is its variable, and its value is
/// parsed by the field's type or `value_parser` (whose error names what is wrong). Values
/// come only from [`Config::from_lookup`]: an empty variable counts as unset.
#[derive(Debug, Parser)]
#[command(name = "hatchery", no_binary_name = true)]
struct Settings {
    #[arg(long, env = "HATCHERY_ADDR", default_value = "127.0.0.1:3000", value_parser = address)]
    addr: SocketAddr,
    #[arg(long, env = "HATCHERY_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    #[arg(long, env = "HATCHERY_DATABASE_URL", value_parser = DatabaseConfig::from_url)]
    database_url: Option<DatabaseConfig>,
    #[arg(long, env = "HATCHERY_AGENTS_DIR")]
    agents_dir: Option<PathBuf>,
    #[arg(long, env = "HATCHERY_LOG", default_value = "info", value_parser = log_filter)]
    log: String,
    #[arg(long, env = "HATCHERY_LOG_FORMAT", default_value = "pretty", value_parser = log_format)]
    log_format: LogFormat,
    #[arg(long, env = "HATCHERY_SHUTDOWN_GRACE_SECS", default_value = "10", value_parser = number::<0, 86_400>)]
    shutdown_grace_secs: u64,
    #[arg(long, env = "HATCHERY_WS_HEARTBEAT_MS", value_parser = number::<100, 3_600_000>)]
    ws_heartbeat_ms: Option<u64>,
    #[arg(long, env = "HATCHERY_ALLOWED_ORIGINS", value_parser = origins)]
    allowed_origins: Option<Origins>,
    #[arg(long, env = "HATCHERY_WS_MAX_CONNECTIONS_PER_USER", value_parser = number::<1, 100_000>)]
    ws_max_connections_per_user: Option<u64>,
    #[arg(long, env = "HATCHERY_WS_HISTORY_TOPIC_BYTES", value_parser = number::<1024, 1_073_741_824>)]
    ws_history_topic_bytes: Option<u64>,
    #[arg(long, env = "HATCHERY_WS_HISTORY_TOTAL_BYTES", value_parser = number::<1024, 68_719_476_736>)]
    ws_history_total_bytes: Option<u64>,
    #[arg(long, env = "HATCHERY_WS_HISTORY_SECS", value_parser = number::<1, 86_400>)]
    ws_history_secs: Option<u64>,
    #[arg(long, env = "HATCHERY_MAX_CONNECTIONS", value_parser = number::<1, 10_000_000>)]
    max_connections: Option<u64>,
    #[arg(long, env = "HATCHERY_HEADER_TIMEOUT_SECS", value_parser = number::<1, 3600>)]
    header_timeout_secs: Option<u64>,
    #[arg(long, env = "HATCHERY_REQUEST_TIMEOUT_SECS", value_parser = number::<1, 86_400>)]
    request_timeout_secs: Option<u64>,
    #[arg(long, env = "HATCHERY_WORKER_THREADS", value_parser = number::<1, 1024>)]
    worker_threads: Option<u64>,
    #[arg(long, env = "HATCHERY_AUTH", default_value = "accounts", value_parser = auth_mode)]
    auth: AuthMode,
    #[arg(
        long,
        env = "HATCHERY_SIGNUP",
        default_value = "closed",
        value_parser = signup_open,
        action = clap::ArgAction::Set
    )]
    signup: bool,
    #[arg(long, env = "HATCHERY_SESSION_TTL_SECS", value_parser = number::<1, 31_536_000>)]
    session_ttl_secs: Option<u64>,
    #[arg(long, env = "HATCHERY_SIGNIN_MAX_FAILURES", value_parser = number::<1, 1_000_000>)]
    signin_max_failures: Option<u64>,
    #[arg(long, env = "HATCHERY_TRUSTED_PROXIES", value_parser = networks)]
    trusted_proxies: Option<Networks>,
    #[arg(long, env = "HATCHERY_LLM_BASE_URL", value_parser = base_url)]
    llm_base_url: Option<String>,
    #[arg(long, env = "HATCHERY_LLM_API_KEY")]
    llm_api_key: Option<String>,
    #[arg(long, env = "HATCHERY_LLM_TIMEOUT_SECS", default_value = "60", value_parser = number::<1, 3600>)]
    llm_timeout_secs: u64,
    #[arg(long, env = "HATCHERY_LLM_MODEL")]
    llm_model: Option<String>,
    #[arg(long, env = "HATCHERY_MODELS_DIR")]
    models_dir: Option<PathBuf>,
    #[arg(long, env = "HATCHERY_LOCAL_MODEL")]
    local_model: Option<PathBuf>,
    #[arg(long, env = "HATCHERY_LOCAL_MAX_TOKENS", value_parser = number::<1, 8192>)]
    local_max_tokens: Option<u64>,
    #[arg(long, env = "HATCHERY_LOCAL_CONCURRENCY", value_parser = number::<1, 64>)]
    local_concurrency: Option<u64>,
    #[arg(long, env = "HATCHERY_LLM_PRICES", value_parser = prices)]
    llm_prices: Option<Prices>,
    #[arg(long, env = "HATCHERY_LLM_DEFAULT_PRICE", value_parser = price_of)]
    llm_default_price: Option<Price>,
    #[arg(long, env = "HATCHERY_MAX_RUNS_PER_USER", value_parser = number::<1, 10_000>)]
    max_runs_per_user: Option<u64>,
    #[arg(long, env = "HATCHERY_RUN_COST_ESTIMATE_USD", value_parser = dollars)]
    run_cost_estimate_usd: Option<u64>,
    #[arg(long, env = "HATCHERY_RUN_MAX_STEPS", value_parser = number::<1, 100>)]
    run_max_steps: Option<u64>,
    #[arg(long, env = "HATCHERY_RUN_CONTEXT_BYTES", value_parser = number::<1024, 1_073_741_824>)]
    run_context_bytes: Option<u64>,
    #[arg(long, env = "HATCHERY_RUN_MAX_TOOL_CALLS", value_parser = number::<1, 1000>)]
    run_max_tool_calls: Option<u64>,
    #[arg(long, env = "HATCHERY_MAX_CONCURRENT_RUNS", value_parser = number::<1, 10_000>)]
    max_concurrent_runs: Option<u64>,
    #[arg(long, env = "HATCHERY_TOOL_TIMEOUT_SECS", value_parser = number::<1, 3600>)]
    tool_timeout_secs: Option<u64>,
    #[arg(long, env = "HATCHERY_HTTP_TOOL_ALLOW", value_parser = networks)]
    http_tool_allow: Option<Networks>,
    #[arg(long, env = "HATCHERY_HTTP_TOOL_PORTS", value_parser = ports)]
    http_tool_ports: Option<Ports>,
    #[arg(long, env = "HATCHERY_USER_DAILY_COST_CAP_USD", value_parser = dollars)]
    user_daily_cost_cap_usd: Option<u64>,
    #[arg(long, env = "HATCHERY_AGENT_DAILY_COST_CAP_USD", value_parser = dollars)]
    agent_daily_cost_cap_usd: Option<u64>,
    #[arg(long, env = "HATCHERY_SCHEDULE_CATCH_UP_SECS", value_parser = number::<0, 604_800>)]
    schedule_catch_up_secs: Option<u64>,
    #[arg(long, env = "HATCHERY_SCHEDULE_MAX_FAILURES", value_parser = number::<1, 1_000>)]
    schedule_max_failures: Option<u64>,
    #[arg(long, env = "HATCHERY_SCHEDULE_BACKOFF_SECS", value_parser = number::<1, 86_400>)]
    schedule_backoff_secs: Option<u64>,
    #[arg(long, env = "HATCHERY_WEBHOOK_RATE_PER_MIN", value_parser = number::<1, 1_000_000>)]
    webhook_rate_per_min: Option<u64>,
    #[arg(long, env = "HATCHERY_WEBHOOK_ROTATION_GRACE_SECS", value_parser = number::<0, 2_592_000>)]
    webhook_rotation_grace_secs: Option<u64>,
    #[arg(long, env = "HATCHERY_WEBHOOK_RETENTION_DAYS", value_parser = number::<1, 3650>)]
    webhook_retention_days: Option<u64>,
    #[arg(long, env = "HATCHERY_AUDIT_RETENTION_DAYS", value_parser = number::<1, 36500>)]
    audit_retention_days: Option<u64>,
    #[arg(long, env = "HATCHERY_SYSTEM_LOG_INFO", value_parser = categories)]
    system_log_info: Option<Categories>,
    #[arg(long, env = "HATCHERY_SYSTEM_LOG_RETENTION_DAYS", value_parser = number::<1, 3650>)]
    system_log_retention_days: Option<u64>,
    #[arg(long, env = "HATCHERY_SYSTEM_LOG_MAX_PER_SECOND", value_parser = number::<1, 1_000_000>)]
    system_log_max_per_second: Option<u64>,
    #[arg(long, env = "HATCHERY_SECRET_KEY", value_parser = secret_key)]
    secret_key: Option<[u8; 32]>,
}

/// Networks such as `10.0.0.0/8` (a name of their own, so that clap takes the list as one
/// value rather than one per occurrence).
type Networks = Vec<ipnet::IpNet>;
/// Parsed by [`ports`]; a type of its own so that clap takes it as one value, not a list.
type Ports = Vec<u16>;
/// Origins such as `https://hatchery.example.com`, as one value.
type Origins = Vec<String>;
/// Prices per model, as one value.
type Prices = HashMap<String, Price>;

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var))
    }

    /// Reads the configuration through `lookup`, which answers like [`std::env::var`].
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Result<String, VarError>,
    ) -> Result<Self, ConfigError> {
        let command = Settings::command();
        let mut args = Vec::<OsString>::new();
        for arg in command.get_arguments() {
            let (Some(var), Some(long)) =
                (arg.get_env().and_then(|var| var.to_str()), arg.get_long())
            else {
                continue;
            };
            match lookup(var) {
                Ok(value) if value.trim().is_empty() => {}
                Ok(value) => args.push(format!("--{long}={}", value.trim()).into()),
                Err(VarError::NotPresent) => {}
                Err(VarError::NotUnicode(_)) => {
                    return Err(ConfigError {
                        var: var.to_owned(),
                        message: "the value is not valid UTF-8".into(),
                    });
                }
            }
        }
        // The values were read above, with an empty one as unset: clap must not read them
        // from the process again.
        let matches = command
            .clone()
            .mut_args(|arg| arg.env(None::<&'static str>))
            .try_get_matches_from(args)
            .map_err(|err| config_error(&command, &err))?;
        let settings =
            Settings::from_arg_matches(&matches).map_err(|err| config_error(&command, &err))?;
        settings.into_config()
    }
}

/// The clap error `err` as the variable it is about and what is wrong with its value.
fn config_error(command: &clap::Command, err: &clap::Error) -> ConfigError {
    let invalid = match err.get(ContextKind::InvalidArg) {
        Some(clap::error::ContextValue::String(arg)) => arg.clone(),
        _ => String::new(),
    };
    let var = command
        .get_arguments()
        .find(|arg| {
            arg.get_long().is_some_and(|long| {
                invalid.starts_with(&format!("--{long} ")) || invalid == format!("--{long}")
            })
        })
        .and_then(|arg| arg.get_env())
        .map_or_else(
            || "HATCHERY_*".to_owned(),
            |var| var.to_string_lossy().into_owned(),
        );
    let message =
        std::error::Error::source(err).map_or_else(|| err.kind().to_string(), ToString::to_string);
    ConfigError { var, message }
}

impl Settings {
    /// The configuration of each layer, with the checks that involve several variables.
    fn into_config(self) -> Result<Config, ConfigError> {
        let database = self
            .database_url
            .unwrap_or_else(|| DatabaseConfig::sqlite_file(self.data_dir.join("hatchery.db")));
        let mut realtime = RealtimeConfig::default();
        if let Some(ms) = self.ws_heartbeat_ms {
            realtime.heartbeat = Duration::from_millis(ms);
        }
        if let Some(origins) = self.allowed_origins {
            realtime.allowed_origins = origins;
        }
        if let Some(max) = self.ws_max_connections_per_user {
            realtime.max_connections_per_user = to_usize(max);
        }
        if let Some(bytes) = self.ws_history_topic_bytes {
            realtime.history.topic_bytes = to_usize(bytes);
        }
        if let Some(bytes) = self.ws_history_total_bytes {
            realtime.history.total_bytes = to_usize(bytes);
        }
        if let Some(secs) = self.ws_history_secs {
            realtime.history.max_age = Duration::from_secs(secs);
        }
        if self.auth == AuthMode::Disabled && !self.addr.ip().is_loopback() {
            return Err(ConfigError {
                var: "HATCHERY_AUTH".into(),
                message: format!(
                    "\"disabled\" lets anyone act as an admin, so it only listens on a \
                     loopback address, and HATCHERY_ADDR is {}",
                    self.addr
                ),
            });
        }
        let mut auth = AuthConfig {
            mode: self.auth,
            signup_open: self.signup,
            ..AuthConfig::default()
        };
        if let Some(secs) = self.session_ttl_secs {
            auth.session_ttl = Duration::from_secs(secs);
        }
        if let Some(max) = self.signin_max_failures {
            auth.max_failures = to_u32(max);
        }
        if let Some(networks) = self.trusted_proxies {
            auth.trusted_proxies = networks;
        }

        let mut runner = RunnerConfig {
            provider: self.llm_base_url.map(|base_url| OpenAiConfig {
                base_url,
                api_key: self.llm_api_key.map(Into::into),
                timeout: Duration::from_secs(self.llm_timeout_secs),
            }),
            ..RunnerConfig::default()
        };
        if let Some(model) = self.llm_model {
            runner.default_model = model;
        } else if runner.provider.is_none() {
            runner.default_model = LOCAL_MODEL.to_owned();
        }
        if let Some(dir) = self.models_dir {
            runner.local.model_file = dir.join(DEFAULT_MODEL_FILE);
        }
        if let Some(file) = self.local_model {
            runner.local.model_file = file;
        }
        if let Some(tokens) = self.local_max_tokens {
            runner.local.max_tokens = to_usize(tokens);
        }
        if let Some(concurrency) = self.local_concurrency {
            runner.local.concurrency = to_usize(concurrency);
        }
        runner.default_price = self.llm_default_price;
        if let Some(max) = self.max_runs_per_user {
            runner.admission.max_runs_per_user = to_usize(max);
        }
        if let Some(micros) = self.run_cost_estimate_usd {
            runner.admission.run_estimate_micros = micros;
        }
        if let Some(prices) = self.llm_prices {
            runner.prices = prices;
        }
        if let Some(bytes) = self.run_context_bytes {
            runner.context_bytes = to_usize(bytes);
        }
        if let Some(calls) = self.run_max_tool_calls {
            runner.max_tool_calls = to_usize(calls);
        }
        if let Some(steps) = self.run_max_steps {
            runner.max_steps = to_u32(steps);
        }
        if let Some(runs) = self.max_concurrent_runs {
            runner.max_concurrent_runs = to_usize(runs);
        }
        if let Some(secs) = self.tool_timeout_secs {
            runner.tools.timeout = Duration::from_secs(secs);
        }
        if let Some(networks) = self.http_tool_allow {
            runner.tools.http.allow = networks;
        }
        if let Some(ports) = self.http_tool_ports {
            runner.tools.http.ports = ports;
        }
        runner.caps.per_user = self.user_daily_cost_cap_usd;
        runner.caps.per_agent = self.agent_daily_cost_cap_usd;

        let mut scheduler = SchedulerConfig::default();
        if let Some(secs) = self.schedule_catch_up_secs {
            scheduler.catch_up_grace = Duration::from_secs(secs);
        }
        if let Some(max) = self.schedule_max_failures {
            scheduler.max_failures = to_u32(max);
        }
        if let Some(secs) = self.schedule_backoff_secs {
            scheduler.backoff = Duration::from_secs(secs);
        }

        let mut webhooks = WebhookConfig::default();
        if let Some(rate) = self
            .webhook_rate_per_min
            .and_then(|rate| NonZeroU32::new(to_u32(rate)))
        {
            webhooks.rate_per_minute = rate;
        }
        if let Some(secs) = self.webhook_rotation_grace_secs {
            webhooks.rotation_grace = Duration::from_secs(secs);
        }
        if let Some(days) = self.webhook_retention_days {
            webhooks.retention = Duration::from_secs(days * 24 * 3600);
        }
        webhooks.secret_key = self.secret_key.map(|key| SecretBox::new(Box::new(key)));

        let defaults = ServeLimits::default();
        let serve = ServeLimits {
            max_connections: self
                .max_connections
                .map_or(defaults.max_connections, to_usize),
            header_timeout: self
                .header_timeout_secs
                .map_or(defaults.header_timeout, Duration::from_secs),
            request_timeout: self
                .request_timeout_secs
                .map_or(defaults.request_timeout, Duration::from_secs),
        };
        Ok(Config {
            addr: self.addr,
            data_dir: self.data_dir,
            database,
            agents_dir: self.agents_dir,
            log: LogConfig {
                filter: self.log,
                format: self.log_format,
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            realtime,
            worker_threads: self.worker_threads.map(to_usize),
            auth,
            runner,
            scheduler,
            webhooks,
            audit: AuditConfig {
                retention: self
                    .audit_retention_days
                    .map_or(AuditConfig::default().retention, |days| {
                        Duration::from_secs(days * 24 * 3600)
                    }),
            },
            system_log: {
                let defaults = SystemLogConfig::default();
                SystemLogConfig {
                    info_categories: self
                        .system_log_info
                        .map_or(defaults.info_categories, |Categories(list)| list),
                    retention: self
                        .system_log_retention_days
                        .map_or(defaults.retention, |days| {
                            Duration::from_secs(days * 24 * 3600)
                        }),
                    max_per_second: self
                        .system_log_max_per_second
                        .map_or(defaults.max_per_second, |n| {
                            u32::try_from(n).expect("at most 1,000,000")
                        }),
                }
            },
            serve,
        })
    }
}

/// A list of system log categories, as `HATCHERY_SYSTEM_LOG_INFO` gives it.
#[derive(Debug, Clone)]
struct Categories(Vec<LogCategory>);

/// Reads `runner,scheduler` (or `none`) as a list of categories.
fn categories(text: &str) -> Result<Categories, String> {
    if text.trim() == "none" {
        return Ok(Categories(Vec::new()));
    }
    text.split(',')
        .map(|name| {
            name.trim().parse().map_err(|_| {
                let known: Vec<&str> = LogCategory::iter().map(LogCategory::as_str).collect();
                format!(
                    "{name:?} is not a category; use none or some of {}",
                    known.join(", ")
                )
            })
        })
        .collect::<Result<_, _>>()
        .map(Categories)
}

/// A number the parser kept within a range that fits.
fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A number the parser kept within a range that fits.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A whole number from `MIN` to `MAX`.
fn number<const MIN: u64, const MAX: u64>(text: &str) -> Result<u64, String> {
    text.parse::<u64>()
        .ok()
        .filter(|n| (MIN..=MAX).contains(n))
        .ok_or_else(|| format!("{text:?} is not a number from {MIN} to {MAX}"))
}

fn address(text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not an address like 127.0.0.1:3000"))
}

fn log_filter(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(text)
        .map(|_| text.to_owned())
        .map_err(|err| format!("{text:?} is not a log filter: {err}"))
}

fn log_format(text: &str) -> Result<LogFormat, String> {
    match text {
        "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        other => Err(format!("{other:?} is not one of: pretty, json")),
    }
}

fn auth_mode(text: &str) -> Result<AuthMode, String> {
    match text {
        "accounts" => Ok(AuthMode::Accounts),
        "disabled" => Ok(AuthMode::Disabled),
        other => Err(format!("{other:?} is not one of: accounts, disabled")),
    }
}

fn signup_open(text: &str) -> Result<bool, String> {
    match text {
        "closed" => Ok(false),
        "open" => Ok(true),
        other => Err(format!("{other:?} is not one of: closed, open")),
    }
}

/// Comma-separated origins, without a trailing `/`.
fn origins(text: &str) -> Result<Origins, String> {
    let origins: Origins = text
        .split(',')
        .map(|origin| origin.trim().trim_end_matches('/').to_owned())
        .filter(|origin| !origin.is_empty())
        .collect();
    match origins
        .iter()
        .find(|origin| !origin.starts_with("http://") && !origin.starts_with("https://"))
    {
        Some(bad) => Err(format!(
            "{bad:?} is not an origin like https://hatchery.example.com"
        )),
        None => Ok(origins),
    }
}

/// Comma-separated networks, such as `10.0.0.0/8, 127.0.0.1/32`.
fn networks(text: &str) -> Result<Networks, String> {
    text.split(',')
        .map(str::trim)
        .filter(|net| !net.is_empty())
        .map(|net| {
            net.parse()
                .map_err(|_| format!("{net:?} is not a network like 10.0.0.0/8"))
        })
        .collect()
}

/// Comma-separated TCP ports, such as `80,443`.
fn ports(text: &str) -> Result<Ports, String> {
    text.split(',')
        .map(str::trim)
        .filter(|port| !port.is_empty())
        .map(|port| match port.parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(format!("{port:?} is not a port (1 to 65535)")),
        })
        .collect()
}

fn base_url(text: &str) -> Result<String, String> {
    if text.starts_with("http://") || text.starts_with("https://") {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a URL like https://api.openai.com/v1"
        ))
    }
}

/// An amount of dollars, in millionths.
fn dollars(text: &str) -> Result<u64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|dollars| dollars.is_finite() && *dollars > 0.0)
        .map(|dollars| (dollars * 1_000_000.0).round() as u64)
        .ok_or_else(|| format!("{text:?} is not an amount of dollars such as 5 or 0.50"))
}

fn secret_key(text: &str) -> Result<[u8; 32], String> {
    sealing::parse_key(text).ok_or_else(|| {
        "is not 64 hex digits (32 random bytes, as `openssl rand -hex 32` prints)".to_owned()
    })
}

/// `model=input/output,…` in dollars per million tokens, such as
/// `gpt-4o-mini=0.15/0.60,gpt-4o=2.5/10`.
fn prices(text: &str) -> Result<Prices, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad =
                || format!("{entry:?} is not model=input/output, such as gpt-4o-mini=0.15/0.60");
            let (model, price) = entry.split_once('=').ok_or_else(bad)?;
            Ok((model.trim().to_owned(), price_of(price).map_err(|_| bad())?))
        })
        .collect()
}

/// `input/output` in dollars per million tokens, such as `0.15/0.60`.
fn price_of(text: &str) -> Result<Price, String> {
    let bad =
        || format!("{text:?} is not input/output in dollars per million tokens, such as 0.15/0.60");
    let (input, output) = text.split_once('/').ok_or_else(bad)?;
    let dollars = |text: &str| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|p| p.is_finite() && *p >= 0.0)
            .ok_or_else(bad)
    };
    Ok(Price {
        input: dollars(input)?,
        output: dollars(output)?,
    })
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, env::VarError};

    use super::*;

    fn config_from(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|var| vars.get(var).cloned().ok_or(VarError::NotPresent))
    }

    #[test]
    fn defaults_serve_on_loopback_with_an_sqlite_file_in_the_data_dir() {
        let config = config_from(&[]).unwrap();
        assert_eq!(config.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("data"));
        let DatabaseConfig::Sqlite(options) = config.database else {
            panic!("the default database is SQLite");
        };
        assert_eq!(options.get_filename(), PathBuf::from("data/hatchery.db"));
        assert_eq!(config.auth.mode, AuthMode::Accounts);
        assert_eq!(config.log.format, LogFormat::Pretty);
        assert_eq!(config.shutdown_grace, Duration::from_secs(10));
    }

    #[test]
    fn the_database_file_follows_the_data_dir() {
        let config = config_from(&[("HATCHERY_DATA_DIR", "/var/lib/hatchery")]).unwrap();
        let DatabaseConfig::Sqlite(options) = config.database else {
            panic!("the default database is SQLite");
        };
        assert_eq!(
            options.get_filename(),
            PathBuf::from("/var/lib/hatchery/hatchery.db")
        );
    }

    #[test]
    fn each_bad_value_is_reported_with_its_variable() {
        for (var, value) in [
            ("HATCHERY_ADDR", "localhost"),
            ("HATCHERY_DATABASE_URL", "mysql://db/hatchery"),
            ("HATCHERY_DATABASE_URL", "postgres://db:port/hatchery"),
            ("HATCHERY_AUTH", "off"),
            ("HATCHERY_SIGNUP", "yes"),
            ("HATCHERY_SESSION_TTL_SECS", "0"),
            ("HATCHERY_SIGNIN_MAX_FAILURES", "none"),
            ("HATCHERY_LLM_BASE_URL", "api.openai.com"),
            ("HATCHERY_RUN_MAX_STEPS", "0"),
            ("HATCHERY_HTTP_TOOL_ALLOW", "10.0.0.0/33"),
            ("HATCHERY_HTTP_TOOL_PORTS", "443,http"),
            ("HATCHERY_TRUSTED_PROXIES", "10.0.0.1/8,proxy"),
            ("HATCHERY_LLM_PRICES", "gpt=cheap"),
            ("HATCHERY_LLM_DEFAULT_PRICE", "1"),
            ("HATCHERY_MAX_RUNS_PER_USER", "0"),
            ("HATCHERY_LOG", "info,[bad"),
            ("HATCHERY_LOG_FORMAT", "xml"),
            ("HATCHERY_SHUTDOWN_GRACE_SECS", "-1"),
            ("HATCHERY_WS_HEARTBEAT_MS", "5"),
            ("HATCHERY_ALLOWED_ORIGINS", "example.com"),
            ("HATCHERY_WORKER_THREADS", "0"),
            ("HATCHERY_SCHEDULE_CATCH_UP_SECS", "ten minutes"),
            ("HATCHERY_SCHEDULE_MAX_FAILURES", "0"),
            ("HATCHERY_SCHEDULE_BACKOFF_SECS", "0"),
            ("HATCHERY_WEBHOOK_RATE_PER_MIN", "0"),
            ("HATCHERY_WEBHOOK_ROTATION_GRACE_SECS", "forever"),
            ("HATCHERY_WEBHOOK_RETENTION_DAYS", "0"),
            ("HATCHERY_SYSTEM_LOG_MAX_PER_SECOND", "0"),
            ("HATCHERY_SECRET_KEY", "hunter2"),
            ("HATCHERY_USER_DAILY_COST_CAP_USD", "-1"),
            ("HATCHERY_AGENT_DAILY_COST_CAP_USD", "lots"),
        ] {
            let err = config_from(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value:?} was blamed on the wrong variable");
            assert!(err.to_string().starts_with(var), "{err}");
            // What is wrong is said, with the (last) value at fault, except for secrets.
            if var != "HATCHERY_SECRET_KEY" && var != "HATCHERY_DATABASE_URL" {
                let at_fault = value.rsplit(',').next().unwrap_or(value).trim();
                assert!(err.message.contains(at_fault), "{err}");
            }
        }
    }

    #[test]
    fn a_postgres_url_selects_postgres() {
        let config = config_from(&[(
            "HATCHERY_DATABASE_URL",
            "postgres://hatchery:secret@db.internal:5433/hatchery",
        )])
        .unwrap();
        let DatabaseConfig::Postgres(options) = config.database else {
            panic!("a postgres: URL is PostgreSQL");
        };
        assert_eq!(options.get_host(), "db.internal");
        assert_eq!(options.get_port(), 5433);
    }

    #[test]
    fn the_runner_reads_its_provider_and_prices() {
        let config = config_from(&[
            ("HATCHERY_LLM_BASE_URL", "http://localhost:11434/v1"),
            ("HATCHERY_LLM_API_KEY", "sk-secret"),
            ("HATCHERY_LLM_PRICES", "gpt-4o-mini=0.15/0.60, llama3=0/0"),
            ("HATCHERY_MAX_CONCURRENT_RUNS", "4"),
        ])
        .unwrap();
        let provider = config.runner.provider.unwrap();
        assert_eq!(provider.base_url, "http://localhost:11434/v1");
        assert!(
            !format!("{provider:?}").contains("sk-secret"),
            "the key is never printed"
        );
        assert_eq!(config.runner.prices["gpt-4o-mini"].output, 0.60);
        assert_eq!(config.runner.prices.len(), 2);
        assert_eq!(config.runner.max_concurrent_runs, 4);
        assert!(config_from(&[]).unwrap().runner.provider.is_none());
    }

    #[test]
    fn sign_up_opens_and_an_empty_variable_counts_as_unset() {
        assert!(
            config_from(&[("HATCHERY_SIGNUP", "open")])
                .unwrap()
                .auth
                .signup_open
        );
        assert!(
            !config_from(&[("HATCHERY_SIGNUP", "closed")])
                .unwrap()
                .auth
                .signup_open
        );
        let config =
            config_from(&[("HATCHERY_ADDR", "  "), ("HATCHERY_WORKER_THREADS", "")]).unwrap();
        assert_eq!(config.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(config.worker_threads, None);
    }

    #[test]
    fn developer_mode_listens_on_loopback_only() {
        let config = config_from(&[("HATCHERY_AUTH", "disabled")]).unwrap();
        assert_eq!(config.auth.mode, AuthMode::Disabled);
        let err = config_from(&[
            ("HATCHERY_AUTH", "disabled"),
            ("HATCHERY_ADDR", "0.0.0.0:3000"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "HATCHERY_AUTH");
        assert!(err.message.contains("loopback"), "{err}");
    }

    #[test]
    fn json_logs_and_explicit_values_are_taken() {
        let config = config_from(&[
            ("HATCHERY_ADDR", "0.0.0.0:8080"),
            ("HATCHERY_DATABASE_URL", "sqlite://elsewhere.db"),
            ("HATCHERY_LOG", "debug"),
            ("HATCHERY_LOG_FORMAT", "json"),
            ("HATCHERY_SHUTDOWN_GRACE_SECS", "3"),
            ("HATCHERY_WS_HEARTBEAT_MS", "1500"),
            (
                "HATCHERY_ALLOWED_ORIGINS",
                "https://a.example, https://b.example/",
            ),
            ("HATCHERY_WORKER_THREADS", "1"),
        ])
        .unwrap();
        assert_eq!(config.addr.port(), 8080);
        let DatabaseConfig::Sqlite(options) = config.database else {
            panic!("a sqlite: URL is SQLite");
        };
        assert_eq!(options.get_filename(), PathBuf::from("elsewhere.db"));
        assert_eq!(
            config.log,
            LogConfig {
                filter: "debug".into(),
                format: LogFormat::Json
            }
        );
        assert_eq!(config.shutdown_grace, Duration::from_secs(3));
        assert_eq!(config.realtime.heartbeat, Duration::from_millis(1500));
        assert_eq!(config.worker_threads, Some(1));
        assert_eq!(
            config.realtime.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
    }
}
