//! Typed configuration, read once from the environment at start-up.
//!
//! Every variable has a default that suits a laptop; a value that does not parse stops
//! start-up with an error naming the variable.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration};

use secrecy::SecretBox;

use crate::{
    auth::{AuthConfig, AuthMode},
    realtime::RealtimeConfig,
    runner::{Price, RunnerConfig, provider::OpenAiConfig},
    scheduler::SchedulerConfig,
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
}

/// A variable whose value cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong with its value.
    pub message: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|var| std::env::var(var))
    }

    /// Reads the configuration through `lookup`, which answers like [`std::env::var`].
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Result<String, std::env::VarError>,
    ) -> Result<Self, ConfigError> {
        let read = |var: &'static str| -> Result<Option<String>, ConfigError> {
            match lookup(var) {
                Ok(value) if value.trim().is_empty() => Ok(None),
                Ok(value) => Ok(Some(value.trim().to_owned())),
                Err(std::env::VarError::NotPresent) => Ok(None),
                Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError {
                    var,
                    message: "the value is not valid UTF-8".into(),
                }),
            }
        };

        let addr = match read("HATCHERY_ADDR")? {
            Some(text) => text.parse().map_err(|_| ConfigError {
                var: "HATCHERY_ADDR",
                message: format!("{text:?} is not an address like 127.0.0.1:3000"),
            })?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let data_dir = PathBuf::from(read("HATCHERY_DATA_DIR")?.unwrap_or_else(|| "data".into()));
        let database = match read("HATCHERY_DATABASE_URL")? {
            Some(url) => DatabaseConfig::from_url(&url).map_err(|message| ConfigError {
                var: "HATCHERY_DATABASE_URL",
                message,
            })?,
            None => DatabaseConfig::sqlite_file(data_dir.join("hatchery.db")),
        };
        let log = LogConfig {
            filter: read("HATCHERY_LOG")?.unwrap_or_else(|| "info".into()),
            format: match read("HATCHERY_LOG_FORMAT")?.as_deref() {
                None | Some("pretty") => LogFormat::Pretty,
                Some("json") => LogFormat::Json,
                Some(other) => {
                    return Err(ConfigError {
                        var: "HATCHERY_LOG_FORMAT",
                        message: format!("{other:?} is not one of: pretty, json"),
                    });
                }
            },
        };
        tracing_subscriber::EnvFilter::try_new(&log.filter).map_err(|err| ConfigError {
            var: "HATCHERY_LOG",
            message: format!("{:?} is not a log filter: {err}", log.filter),
        })?;
        let shutdown_grace = match read("HATCHERY_SHUTDOWN_GRACE_SECS")? {
            Some(text) => {
                text.parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| ConfigError {
                        var: "HATCHERY_SHUTDOWN_GRACE_SECS",
                        message: format!("{text:?} is not a whole number of seconds"),
                    })?
            }
            None => Duration::from_secs(10),
        };

        let mut realtime = RealtimeConfig::default();
        if let Some(text) = read("HATCHERY_WS_HEARTBEAT_MS")? {
            realtime.heartbeat = text
                .parse::<u64>()
                .ok()
                .filter(|ms| (100..=3_600_000).contains(ms))
                .map(Duration::from_millis)
                .ok_or_else(|| ConfigError {
                    var: "HATCHERY_WS_HEARTBEAT_MS",
                    message: format!(
                        "{text:?} is not a number of milliseconds from 100 to 3600000"
                    ),
                })?;
        }
        if let Some(text) = read("HATCHERY_ALLOWED_ORIGINS")? {
            realtime.allowed_origins = text
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                .filter(|origin| !origin.is_empty())
                .collect();
            if let Some(bad) = realtime
                .allowed_origins
                .iter()
                .find(|origin| !origin.starts_with("http://") && !origin.starts_with("https://"))
            {
                return Err(ConfigError {
                    var: "HATCHERY_ALLOWED_ORIGINS",
                    message: format!("{bad:?} is not an origin like https://hatchery.example.com"),
                });
            }
        }

        if let Some(text) = read("HATCHERY_WS_MAX_CONNECTIONS_PER_USER")? {
            realtime.max_connections_per_user = text
                .parse::<usize>()
                .ok()
                .filter(|max| *max >= 1)
                .ok_or_else(|| ConfigError {
                    var: "HATCHERY_WS_MAX_CONNECTIONS_PER_USER",
                    message: format!("{text:?} is not a positive number"),
                })?;
        }
        let worker_threads = match read("HATCHERY_WORKER_THREADS")? {
            Some(text) => Some(
                text.parse::<usize>()
                    .ok()
                    .filter(|threads| (1..=1024).contains(threads))
                    .ok_or_else(|| ConfigError {
                        var: "HATCHERY_WORKER_THREADS",
                        message: format!("{text:?} is not a number of threads from 1 to 1024"),
                    })?,
            ),
            None => None,
        };

        let mut auth = AuthConfig::default();
        match read("HATCHERY_AUTH")?.as_deref() {
            None | Some("accounts") => {}
            Some("disabled") if addr.ip().is_loopback() => auth.mode = AuthMode::Disabled,
            Some("disabled") => {
                return Err(ConfigError {
                    var: "HATCHERY_AUTH",
                    message: format!(
                        "\"disabled\" lets anyone act as an admin, so it only listens on a \
                         loopback address, and HATCHERY_ADDR is {addr}"
                    ),
                });
            }
            Some(other) => {
                return Err(ConfigError {
                    var: "HATCHERY_AUTH",
                    message: format!("{other:?} is not one of: accounts, disabled"),
                });
            }
        }
        match read("HATCHERY_SIGNUP")?.as_deref() {
            None | Some("closed") => {}
            Some("open") => auth.signup_open = true,
            Some(other) => {
                return Err(ConfigError {
                    var: "HATCHERY_SIGNUP",
                    message: format!("{other:?} is not one of: closed, open"),
                });
            }
        }
        if let Some(text) = read("HATCHERY_SESSION_TTL_SECS")? {
            auth.session_ttl = text
                .parse::<u64>()
                .ok()
                .filter(|secs| (1..=31_536_000).contains(secs))
                .map(Duration::from_secs)
                .ok_or_else(|| ConfigError {
                    var: "HATCHERY_SESSION_TTL_SECS",
                    message: format!("{text:?} is not a number of seconds from 1 to 31536000"),
                })?;
        }
        if let Some(text) = read("HATCHERY_SIGNIN_MAX_FAILURES")? {
            auth.max_failures = text
                .parse::<u32>()
                .ok()
                .filter(|max| *max >= 1)
                .ok_or_else(|| ConfigError {
                    var: "HATCHERY_SIGNIN_MAX_FAILURES",
                    message: format!("{text:?} is not a positive number"),
                })?;
        }

        if let Some(text) = read("HATCHERY_TRUSTED_PROXIES")? {
            auth.trusted_proxies = networks("HATCHERY_TRUSTED_PROXIES", &text)?;
        }

        let runner = runner_config(&read)?;
        let scheduler = scheduler_config(&read)?;
        let webhooks = webhook_config(&read)?;

        Ok(Self {
            addr,
            data_dir,
            database,
            log,
            shutdown_grace,
            realtime,
            worker_threads,
            auth,
            runner,
            scheduler,
            webhooks,
        })
    }
}

/// The whole number in `var`, if set, which must lie in `range`.
fn number(
    read: &impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
    var: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ConfigError> {
    read(var)?
        .map(|text| {
            text.parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| ConfigError {
                    var,
                    message: format!(
                        "{text:?} is not a number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                })
        })
        .transpose()
}

/// The comma-separated networks (`10.0.0.0/8, 127.0.0.1/32`) in `var`'s value `text`.
fn networks(var: &'static str, text: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|net| !net.is_empty())
        .map(|net| {
            net.parse().map_err(|_| ConfigError {
                var,
                message: format!("{net:?} is not a network like 10.0.0.0/8"),
            })
        })
        .collect()
}

/// The scheduler's settings, from the `HATCHERY_SCHEDULE_*` variables.
fn scheduler_config(
    read: &impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
) -> Result<SchedulerConfig, ConfigError> {
    let mut scheduler = SchedulerConfig::default();
    if let Some(secs) = number(read, "HATCHERY_SCHEDULE_CATCH_UP_SECS", 0..=604_800)? {
        scheduler.catch_up_grace = Duration::from_secs(secs);
    }
    if let Some(max) = number(read, "HATCHERY_SCHEDULE_MAX_FAILURES", 1..=1_000)? {
        scheduler.max_failures = u32::try_from(max).unwrap_or(1_000);
    }
    if let Some(secs) = number(read, "HATCHERY_SCHEDULE_BACKOFF_SECS", 1..=86_400)? {
        scheduler.backoff = Duration::from_secs(secs);
    }
    Ok(scheduler)
}

/// Webhook settings, from `HATCHERY_SECRET_KEY` and the `HATCHERY_WEBHOOK_*` variables.
fn webhook_config(
    read: &impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
) -> Result<WebhookConfig, ConfigError> {
    let mut webhooks = WebhookConfig::default();
    if let Some(rate) = number(read, "HATCHERY_WEBHOOK_RATE_PER_MIN", 1..=1_000_000)? {
        webhooks.rate_per_minute = u32::try_from(rate)
            .ok()
            .and_then(NonZeroU32::new)
            .unwrap_or(webhooks.rate_per_minute);
    }
    if let Some(secs) = number(read, "HATCHERY_WEBHOOK_ROTATION_GRACE_SECS", 0..=2_592_000)? {
        webhooks.rotation_grace = Duration::from_secs(secs);
    }
    if let Some(days) = number(read, "HATCHERY_WEBHOOK_RETENTION_DAYS", 1..=3650)? {
        webhooks.retention = Duration::from_secs(days * 24 * 3600);
    }
    if let Some(text) = read("HATCHERY_SECRET_KEY")? {
        let key = sealing::parse_key(text.trim()).ok_or_else(|| ConfigError {
            var: "HATCHERY_SECRET_KEY",
            message: "is not 64 hex digits (32 random bytes, as `openssl rand -hex 32` prints)"
                .into(),
        })?;
        webhooks.secret_key = Some(SecretBox::new(Box::new(key)));
    }
    Ok(webhooks)
}

/// The runner's settings, from the `HATCHERY_LLM_*` and run variables.
fn runner_config(
    read: &impl Fn(&'static str) -> Result<Option<String>, ConfigError>,
) -> Result<RunnerConfig, ConfigError> {
    let number = |var, range| number(read, var, range);
    let mut runner = RunnerConfig::default();
    let timeout = Duration::from_secs(number("HATCHERY_LLM_TIMEOUT_SECS", 1..=3600)?.unwrap_or(60));
    if let Some(url) = read("HATCHERY_LLM_BASE_URL")? {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(ConfigError {
                var: "HATCHERY_LLM_BASE_URL",
                message: format!("{url:?} is not a URL like https://api.openai.com/v1"),
            });
        }
        runner.provider = Some(OpenAiConfig {
            base_url: url,
            api_key: read("HATCHERY_LLM_API_KEY")?.map(Into::into),
            timeout,
        });
    }
    if let Some(model) = read("HATCHERY_LLM_MODEL")? {
        runner.default_model = model;
    }
    if let Some(steps) = number("HATCHERY_RUN_MAX_STEPS", 1..=100)? {
        runner.max_steps = u32::try_from(steps).unwrap_or(100);
    }
    if let Some(runs) = number("HATCHERY_MAX_CONCURRENT_RUNS", 1..=10_000)? {
        runner.max_concurrent_runs = usize::try_from(runs).unwrap_or(10_000);
    }
    if let Some(secs) = number("HATCHERY_TOOL_TIMEOUT_SECS", 1..=3600)? {
        runner.tools.timeout = Duration::from_secs(secs);
    }
    if let Some(text) = read("HATCHERY_HTTP_TOOL_ALLOW")? {
        runner.tools.http.allow = networks("HATCHERY_HTTP_TOOL_ALLOW", &text)?;
    }
    for (var, cap) in [
        (
            "HATCHERY_USER_DAILY_COST_CAP_USD",
            &mut runner.caps.per_user,
        ),
        (
            "HATCHERY_AGENT_DAILY_COST_CAP_USD",
            &mut runner.caps.per_agent,
        ),
    ] {
        if let Some(text) = read(var)? {
            *cap = Some(
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|dollars| dollars.is_finite() && *dollars > 0.0)
                    .map(|dollars| (dollars * 1_000_000.0).round() as u64)
                    .ok_or_else(|| ConfigError {
                        var,
                        message: format!("{text:?} is not an amount of dollars such as 5 or 0.50"),
                    })?,
            );
        }
    }
    if let Some(text) = read("HATCHERY_LLM_PRICES")? {
        runner.prices = parse_prices(&text).map_err(|message| ConfigError {
            var: "HATCHERY_LLM_PRICES",
            message,
        })?;
    }
    Ok(runner)
}

/// `model=input/output,…` in dollars per million tokens, such as
/// `gpt-4o-mini=0.15/0.60,gpt-4o=2.5/10`.
fn parse_prices(text: &str) -> Result<std::collections::HashMap<String, Price>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let bad =
                || format!("{entry:?} is not model=input/output, such as gpt-4o-mini=0.15/0.60");
            let (model, prices) = entry.split_once('=').ok_or_else(bad)?;
            let (input, output) = prices.split_once('/').ok_or_else(bad)?;
            let price = |text: &str| {
                text.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|p| p.is_finite() && *p >= 0.0)
                    .ok_or_else(bad)
            };
            Ok((
                model.trim().to_owned(),
                Price {
                    input: price(input)?,
                    output: price(output)?,
                },
            ))
        })
        .collect()
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
            ("HATCHERY_TRUSTED_PROXIES", "10.0.0.1/8,proxy"),
            ("HATCHERY_LLM_PRICES", "gpt=cheap"),
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
            ("HATCHERY_SECRET_KEY", "hunter2"),
            ("HATCHERY_USER_DAILY_COST_CAP_USD", "-1"),
            ("HATCHERY_AGENT_DAILY_COST_CAP_USD", "lots"),
        ] {
            let err = config_from(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{value:?} was blamed on the wrong variable");
            assert!(err.to_string().starts_with(var), "{err}");
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
