//! The agent runner: starts runs through one entry point, [`Runner::start`], for every
//! trigger (one tracked task each, at most a configured number at once, the rest waiting as
//! `queued`), streams replies from the LLM provider into the thread's topic, runs tool
//! calls, stores each step's messages, cancels on request and on shutdown, and fails what a
//! crash interrupted.
//!
//! The services above it hear what runs did to their agents as [`AgentTouched`] events on
//! a channel: the runner calls none of them.

mod admission;
pub use admission::AdmissionConfig;
pub mod caps;
mod context;
pub mod local;
pub mod metrics;
pub mod provider;
pub mod reply;
mod run;
pub mod tools;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures_util::future::BoxFuture;
use hatchery_shared::{
    api::{
        agents::{AgentStatus, Models},
        audit::AuditAction,
        runs::RunTrigger,
        threads::{MessageRole, ThreadMessage},
    },
    realtime::{Message, Notice, NoticeLevel, Topic},
};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;

use self::{
    admission::{Admission, Limits, Ticket},
    caps::CostCaps,
    local::provider::{LOCAL_MODEL, LocalConfig, LocalModel},
    metrics::RunnerMetrics,
    provider::{OpenAiCompatible, OpenAiConfig, Provider},
    tools::ToolConfig,
};
use crate::{
    realtime::Realtime,
    store::{
        Actor, AgentRow, Audit, NewMessageRow, NewRun, RunRow, RunStart, RunThread, StartedRun,
        Store, StoreError, WebhookDelivery,
    },
};

/// What one model costs, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Per million prompt tokens.
    pub input: f64,
    /// Per million completion tokens.
    pub output: f64,
}

/// The price of a model that costs nothing to run.
const FREE: Price = Price {
    input: 0.0,
    output: 0.0,
};

/// Settings of the runner.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// The OpenAI-compatible provider (`HATCHERY_LLM_BASE_URL`, `HATCHERY_LLM_API_KEY`,
    /// `HATCHERY_LLM_TIMEOUT_SECS`); `None`: the built-in local model answers every run.
    pub provider: Option<OpenAiConfig>,
    /// The built-in local model, which answers agents whose model is [`LOCAL_MODEL`], and
    /// every agent when no provider is set.
    pub local: LocalConfig,
    /// The model of agents created without one (`HATCHERY_LLM_MODEL`, default
    /// `gpt-4o-mini`); an agent's own model is what its runs call.
    pub default_model: String,
    /// Steps (model calls) one run may take (`HATCHERY_RUN_MAX_STEPS`, default 10).
    pub max_steps: u32,
    /// Runs at once; more wait as `queued` (`HATCHERY_MAX_CONCURRENT_RUNS`, default 16).
    pub max_concurrent_runs: usize,
    /// Tool timeouts and limits (`HATCHERY_TOOL_TIMEOUT_SECS`, `HATCHERY_HTTP_TOOL_ALLOW`).
    pub tools: ToolConfig,
    /// Prices per model (`HATCHERY_LLM_PRICES`), for the runs' cost; a dated version of a
    /// model (`gpt-4o-mini-2024-07-18`) has the price of the model it names.
    pub prices: HashMap<String, Price>,
    /// The price of models not in `prices` (`HATCHERY_LLM_DEFAULT_PRICE`).
    pub default_price: Option<Price>,
    /// Limits on runs in flight.
    pub admission: AdmissionConfig,
    /// Attempts at a reply before its first token, with backoff between them.
    pub attempts: u32,
    /// Daily cost caps (`HATCHERY_USER_DAILY_COST_CAP_USD`,
    /// `HATCHERY_AGENT_DAILY_COST_CAP_USD`).
    pub caps: CostCaps,
    /// Bytes of the thread's text a step sends at most: the newest turns that fit
    /// (`HATCHERY_RUN_CONTEXT_BYTES`, default 256 KiB, about 64,000 tokens).
    pub context_bytes: usize,
    /// Tool calls of one step that run; the model is told the others did not
    /// (`HATCHERY_RUN_MAX_TOOL_CALLS`, default 16).
    pub max_tool_calls: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            provider: None,
            local: LocalConfig::default(),
            default_model: hatchery_shared::api::agents::DEFAULT_MODEL.to_owned(),
            max_steps: 10,
            max_concurrent_runs: 16,
            tools: ToolConfig::default(),
            prices: HashMap::new(),
            default_price: None,
            admission: AdmissionConfig::default(),
            attempts: 3,
            caps: CostCaps::default(),
            context_bytes: 256 << 10,
            max_tool_calls: 16,
        }
    }
}

/// What starts a run: every trigger (chat, Run now, schedule, webhook, a room's turn) asks
/// for one through [`Runner::start`].
#[derive(Debug)]
pub struct StartRequest {
    /// The agent that runs.
    pub agent: AgentRow,
    /// Where it writes: a thread that exists, or a new one.
    pub thread: ThreadChoice,
    /// The message the run replies to.
    pub input: String,
    /// Why it runs.
    pub trigger: RunTrigger,
    /// The verified webhook delivery that asked for it, recorded with the run.
    pub delivery: Option<Delivery>,
    /// Who follows the run from above, such as a room taking its turns.
    pub observer: Option<Observer>,
    /// The audit record of a person starting it by hand, written with the run.
    pub audit: Option<Audit>,
}

/// How the service that started a run follows it: the run's stream frames go to its topic
/// too, and its outcome is sent to it when the run's end is recorded.
#[derive(Debug)]
pub struct Observer {
    /// Where the run's `stream_start`, `stream_chunk` and `stream_end` frames also go.
    pub stream_to: Topic,
    /// Told how the run ended (dropped, unsent, if its end could not be recorded).
    pub ended: oneshot::Sender<RunOutcome>,
}

/// How a run ended, for its [`Observer`].
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The run as recorded at its end: status, tokens, cost, error.
    pub run: RunRow,
    /// The text of its last reply: its final answer, or what had come of the reply when it
    /// was cut off.
    pub text: String,
}

/// The thread a run writes to.
#[derive(Debug, Clone)]
pub enum ThreadChoice {
    /// This thread (by id).
    Existing(String),
    /// A new thread, created with the run (nothing is left behind if it is refused).
    New {
        /// Its kind (`manual`, `webhook`, …).
        kind: hatchery_shared::api::threads::ThreadKind,
        /// Its title.
        title: String,
    },
}

/// A verified webhook delivery: recorded as accepted in the run's transaction.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The trigger it came to.
    pub trigger_id: String,
    /// Its signature digest (hex): the same one again is refused as a replay.
    pub signature: String,
}

/// What a run changed of its agent, sent to the services above the runner, which announce
/// the agent and plan its schedule again.
#[derive(Debug, Clone)]
pub struct AgentTouched {
    /// The agent as the run left it (status, last run, last error).
    pub agent: AgentRow,
    /// How the run was triggered, once it has ended; `None` when it has just started.
    pub ended: Option<RunTrigger>,
}

/// How many [`AgentTouched`] events may wait for the services above; a run that ends while
/// they are all waiting waits too.
const AGENT_EVENTS: usize = 1024;

/// Why a run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The thread is already replying.
    #[error("this thread is already replying; stop that reply or wait for it")]
    Busy,
    /// The webhook delivery was already accepted.
    #[error("this request was already received (same signature); sign each request anew")]
    Replay,
    /// The agent is disabled.
    #[error("the agent is disabled; enable it to run it")]
    Disabled,
    /// A daily cost cap is reached.
    #[error("{0}")]
    CapReached(String),
    /// Caps are set and the model has no price, so its cost could not be kept within them.
    #[error(
        "the model {0} has no price, so the daily cost caps cannot be kept: add it to \
         HATCHERY_LLM_PRICES or set HATCHERY_LLM_DEFAULT_PRICE"
    )]
    Unpriced(String),
    /// The user has as many runs in flight as one user may.
    #[error("you have {0} runs in progress, as many as one person may; start more once one ends")]
    TooManyInFlight(usize),
    /// The server is stopping.
    #[error("the server is shutting down; try again in a moment")]
    ShuttingDown,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A run's cancellation: the token its task watches, why it was cancelled, and what the
/// run belongs to.
struct Cancel {
    token: CancellationToken,
    reason: Mutex<Option<&'static str>>,
    agent_id: String,
    thread_id: String,
}

/// Starts and stops runs. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Brings agents up to date before their runs start, when some agents are kept as files.
    freshen: Option<Arc<dyn Freshen>>,
    realtime: Realtime,
    /// Where runs tell the services above what they did to their agents.
    agent_events: mpsc::Sender<AgentTouched>,
    /// The configured provider, if any.
    remote: Option<Arc<dyn Provider>>,
    local: Arc<LocalModel>,
    config: RunnerConfig,
    /// One per run that may go at once.
    slots: Arc<Semaphore>,
    /// One per reply the local model may generate at once, taken by its runs before a slot.
    local_slots: Arc<Semaphore>,
    tasks: TaskTracker,
    active: Mutex<HashMap<String, Arc<Cancel>>>,
    admission: Arc<Admission>,
    stopping: CancellationToken,
    metrics: RunnerMetrics,
}

/// Brings an agent up to date just before a run of it starts: an agent kept as a file is
/// read again when its file changed since it was last read (see `agents::files`).
pub trait Freshen: Send + Sync + std::fmt::Debug {
    /// `agent` as it is now.
    fn freshen(&self, agent: AgentRow) -> BoxFuture<'_, AgentRow>;
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

/// The reason a run stopped by a person gets.
pub const CANCELLED_BY_USER: &str = "stopped by the user";
/// The reason runs of a deleted agent or thread get.
pub const CANCELLED_BY_DELETE: &str = "its agent or thread was deleted";
/// The reason runs still going at shutdown get.
pub const CANCELLED_BY_SHUTDOWN: &str = "server shutdown";
/// The reason a room's turns get when a person speaks while they reply.
pub const CANCELLED_BY_INTERRUPTION: &str = "interrupted by a person in the room";
/// The reason a room's turns get when the room is stopped.
pub const CANCELLED_BY_STOP: &str = "the room was stopped";

/// What a run admitted by [`Runner::start`] takes to its task.
struct Launch {
    agent: AgentRow,
    ticket: Ticket,
    observer: Option<Observer>,
}

impl Runner {
    /// A runner over `store` and `realtime`, and the channel on which it tells what its runs
    /// did to their agents (see [`AgentTouched`]); `freshen`, when given, sees each agent
    /// before its run starts; `metrics` count what runs do. Runs a crash left queued or
    /// running are failed first ("interrupted by restart").
    pub async fn new(
        config: RunnerConfig,
        store: Store,
        realtime: Realtime,
        freshen: Option<Arc<dyn Freshen>>,
        metrics: RunnerMetrics,
    ) -> Result<(Self, mpsc::Receiver<AgentTouched>), StoreError> {
        let interrupted = store.fail_interrupted_runs().await?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "runs interrupted by the last stop were marked failed"
            );
        }
        let remote = config
            .provider
            .as_ref()
            .map(|provider| Arc::new(OpenAiCompatible::new(provider.clone())) as Arc<dyn Provider>);
        if remote.is_none() {
            tracing::info!(model = %config.local.model_file.display(), "no LLM provider configured (HATCHERY_LLM_BASE_URL): the local model answers");
        }
        let (agent_events, agent_events_out) = mpsc::channel(AGENT_EVENTS);
        let runner = Self {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(config.max_concurrent_runs.max(1))),
                local_slots: Arc::new(Semaphore::new(config.local.concurrency.max(1))),
                store,
                freshen,
                realtime,
                agent_events,
                remote,
                local: Arc::new(LocalModel::new(config.local.clone())),
                config,
                tasks: TaskTracker::new(),
                active: Mutex::default(),
                admission: Arc::default(),
                stopping: CancellationToken::new(),
                metrics,
            }),
        };
        Ok((runner, agent_events_out))
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Cancel>>> {
        self.inner
            .active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a run: brings its agent up to date ([`Freshen`]), admits it (not while
    /// stopping, nor for a disabled agent, nor past a daily cost cap), stores its delivery, thread, message and run in one transaction,
    /// announces them and launches its task.
    pub async fn start(&self, mut request: StartRequest) -> Result<StartedRun, StartError> {
        if let Some(freshen) = &self.inner.freshen {
            request.agent = freshen.freshen(request.agent).await;
        }
        let ticket = self.admit(&request.agent).await?;
        let message = NewMessageRow {
            role: Some(MessageRole::User),
            content: request.input,
            ..NewMessageRow::default()
        };
        let thread = match &request.thread {
            ThreadChoice::Existing(id) => RunThread::Existing(id),
            ThreadChoice::New { kind, title } => RunThread::New { kind: *kind, title },
        };
        let stored = self
            .inner
            .store
            .start_run(&NewRun {
                agent_id: &request.agent.id,
                thread,
                trigger: request.trigger,
                model: self.model_for(&request.agent),
                message: &message,
                delivery: request.delivery.as_ref().map(|delivery| WebhookDelivery {
                    trigger_id: &delivery.trigger_id,
                    signature: &delivery.signature,
                }),
                audit: request.audit.as_ref(),
            })
            .await?;
        match stored {
            RunStart::Started(started) => {
                self.inner
                    .metrics
                    .runs_started
                    .with_label_values(&[started.run.trigger.as_str()])
                    .inc();
                let launch = Launch {
                    agent: request.agent,
                    ticket,
                    observer: request.observer,
                };
                self.launch(launch, &started.message, &started.run).await;
                Ok(*started)
            }
            RunStart::ThreadBusy => Err(StartError::Busy),
            RunStart::Replay => Err(StartError::Replay),
        }
    }

    /// Whether a run of `agent` may start now: not while the server stops, nor for a
    /// disabled agent, nor beyond the runs one user may have in flight, nor past a daily
    /// cost cap (its owner is told).
    async fn admit(&self, agent: &AgentRow) -> Result<Ticket, StartError> {
        if self.inner.stopping.is_cancelled() {
            return Err(StartError::ShuttingDown);
        }
        if agent.change.status == AgentStatus::Disabled {
            return Err(StartError::Disabled);
        }
        let config = &self.inner.config;
        let limits = Limits {
            config: &config.admission,
            caps: &config.caps,
            price: self.price_of(self.model_for(agent)),
        };
        let admitted = self
            .inner
            .admission
            .admit(&self.inner.store, agent, limits)
            .await;
        if let Err(refused @ (StartError::CapReached(_) | StartError::Unpriced(_))) = &admitted {
            let notice = Message::Notice(Notice {
                level: NoticeLevel::Warning,
                text: format!("A run of {} was refused: {refused}.", agent.change.name),
            });
            self.inner
                .realtime
                .publish(&Topic::user(&agent.owner_id), notice)
                .await;
        }
        admitted
    }

    /// The price of `model` (see [`price_for`]); the local model costs nothing.
    pub fn price_of(&self, model: &str) -> Option<&Price> {
        if model == LOCAL_MODEL {
            return Some(&FREE);
        }
        let config = &self.inner.config;
        price_for(&config.prices, config.default_price.as_ref(), model)
    }

    /// The model that answers `agent`'s runs, and that they record: the agent's own, or the
    /// local model when no provider is set.
    fn model_for<'a>(&self, agent: &'a AgentRow) -> &'a str {
        if self.inner.remote.is_none() {
            LOCAL_MODEL
        } else {
            &agent.change.model
        }
    }

    /// The provider that answers runs of `model` (see [`Self::model_for`]).
    /// The provider that answers `model`, and its `provider` label in the metrics.
    fn provider_for(&self, model: &str) -> (Arc<dyn Provider>, &'static str) {
        match &self.inner.remote {
            Some(remote) if model != LOCAL_MODEL => (remote.clone(), "remote"),
            _ => (self.inner.local.clone(), "local"),
        }
    }

    /// Announces a run just stored with its first `message`, and starts its task, which holds
    /// the run's ticket until its end is recorded, then tells its observer.
    async fn launch(&self, launch: Launch, message: &ThreadMessage, run: &RunRow) {
        let Launch {
            agent,
            ticket,
            observer,
        } = launch;
        let realtime = &self.inner.realtime;
        realtime
            .publish(
                &Topic::thread(&run.thread_id),
                Message::ThreadMessageCreated(message.clone()),
            )
            .await;
        realtime
            .publish_about_agent(&agent.id, &agent.owner_id, Message::RunCreated(run.view()))
            .await;
        let cancel = Arc::new(Cancel {
            token: CancellationToken::new(),
            reason: Mutex::new(None),
            agent_id: agent.id.clone(),
            thread_id: run.thread_id.clone(),
        });
        self.active().insert(run.id.clone(), cancel.clone());
        let runner = self.clone();
        let task_run = run.clone();
        // Records logged by the run carry its id (and the request's that started it).
        let span = tracing::info_span!("run", run_id = %run.id);
        let task = async move {
            let id = task_run.id.clone();
            let (stream_to, ended) = observer.map(|o| (o.stream_to, o.ended)).unzip();
            let outcome = run::execute(&runner, task_run, agent, stream_to, &cancel).await;
            runner.active().remove(&id);
            // Its cost is stored: it no longer counts as expected.
            drop(ticket);
            if let (Some(ended), Some(outcome)) = (ended, outcome) {
                // The observer may have stopped waiting.
                let _ = ended.send(outcome);
            }
        };
        self.inner.tasks.spawn(task.instrument(span));
    }

    /// The daily cost caps.
    pub fn caps(&self) -> CostCaps {
        self.inner.config.caps
    }

    /// The model of agents created without one.
    pub fn default_model(&self) -> &str {
        &self.inner.config.default_model
    }

    /// Which models answer agents here.
    pub fn models(&self) -> Models {
        let config = &self.inner.config;
        Models {
            provider: config.provider.as_ref().map(|provider| {
                reqwest::Url::parse(&provider.base_url)
                    .ok()
                    .and_then(|url| url.host_str().map(str::to_owned))
                    .unwrap_or_else(|| provider.base_url.clone())
            }),
            local: LOCAL_MODEL.to_owned(),
            default_model: config.default_model.clone(),
        }
    }

    /// Asks the run `id` to stop, for `reason` (such as [`CANCELLED_BY_USER`]); false when
    /// it is not running here.
    pub fn cancel(&self, id: &str, reason: &'static str) -> bool {
        let Some(cancel) = self.active().get(id).cloned() else {
            return false;
        };
        cancel_with(&cancel, reason);
        true
    }

    /// A person (`actor`) cancels `run`, as [`Self::cancel`] does, and it goes in the audit
    /// log; false when the run has already ended. The run records its own end, so the
    /// record follows the cancel rather than sharing a transaction with it.
    pub async fn cancel_as(&self, actor: &Actor, run: &RunRow) -> Result<bool, StoreError> {
        if run.status.is_final() || !self.cancel(&run.id, CANCELLED_BY_USER) {
            return Ok(false);
        }
        let audit = Audit::new(actor, AuditAction::RunCancelled, "by a person");
        self.inner
            .store
            .record_audit(&audit, "run", &run.id, Some(&run.owner_id))
            .await?;
        Ok(true)
    }

    /// Cancels the runs of an agent (by `agent_id`) or of a thread (by `thread_id`) that is
    /// being deleted.
    pub fn cancel_runs_of(&self, agent_id: Option<&str>, thread_id: Option<&str>) {
        let doomed: Vec<_> = self
            .active()
            .values()
            .filter(|cancel| {
                agent_id == Some(cancel.agent_id.as_str())
                    || thread_id == Some(cancel.thread_id.as_str())
            })
            .cloned()
            .collect();
        for cancel in doomed {
            cancel_with(&cancel, CANCELLED_BY_DELETE);
        }
    }

    /// Stops starting runs, gives running ones `grace` to finish, then cancels the rest
    /// ("server shutdown") and waits for them to record it.
    pub async fn shutdown(&self, grace: Duration) {
        self.inner.stopping.cancel();
        self.inner.tasks.close();
        if tokio::time::timeout(grace, self.inner.tasks.wait())
            .await
            .is_ok()
        {
            return;
        }
        let running: Vec<_> = self.active().values().cloned().collect();
        tracing::warn!(
            runs = running.len(),
            "cancelling runs still going at shutdown"
        );
        for cancel in running {
            cancel_with(&cancel, CANCELLED_BY_SHUTDOWN);
        }
        self.inner.tasks.wait().await;
    }
}

fn cancel_with(cancel: &Cancel, reason: &'static str) {
    cancel
        .reason
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert(reason);
    cancel.token.cancel();
}

/// The price of `model` in `prices`: its own, that of the model a dated version of it names
/// (`gpt-4o-mini-2024-07-18`, `gpt-4-0613`), or else `default`.
pub fn price_for<'a>(
    prices: &'a HashMap<String, Price>,
    default: Option<&'a Price>,
    model: &str,
) -> Option<&'a Price> {
    let dated = |name: &String| {
        model.strip_prefix(name.as_str()).is_some_and(|rest| {
            rest.strip_prefix('-').is_some_and(|date| {
                !date.is_empty() && date.chars().all(|c| c.is_ascii_digit() || c == '-')
            })
        })
    };
    prices
        .get(model)
        .or_else(|| {
            prices
                .iter()
                .filter(|(name, _)| dated(name))
                .max_by_key(|(name, _)| name.len())
                .map(|(_, price)| price)
        })
        .or(default)
}

/// The cost of a run's tokens at `price`, in millionths of a dollar.
pub fn cost_micros(price: Option<&Price>, prompt_tokens: u64, completion_tokens: u64) -> u64 {
    price.map_or(0, |price| {
        // Dollars per million tokens are millionths of a dollar per token.
        (prompt_tokens as f64 * price.input + completion_tokens as f64 * price.output).round()
            as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_models_have_their_models_price_and_others_the_default() {
        let mini = Price {
            input: 0.15,
            output: 0.6,
        };
        let big = Price {
            input: 2.5,
            output: 10.0,
        };
        let fallback = Price {
            input: 1.0,
            output: 1.0,
        };
        let prices = HashMap::from([("gpt-4o".to_owned(), big), ("gpt-4o-mini".to_owned(), mini)]);
        assert_eq!(price_for(&prices, None, "gpt-4o-mini"), Some(&mini));
        assert_eq!(
            price_for(&prices, None, "gpt-4o-mini-2024-07-18"),
            Some(&mini)
        );
        assert_eq!(price_for(&prices, None, "gpt-4o-2024-08-06"), Some(&big));
        assert_eq!(price_for(&prices, None, "gpt-4o-audio"), None, "not a date");
        assert_eq!(price_for(&prices, None, "llama3"), None);
        assert_eq!(
            price_for(&prices, Some(&fallback), "llama3"),
            Some(&fallback)
        );
    }

    #[test]
    fn cost_follows_the_price_per_million_tokens() {
        let price = Price {
            input: 0.15,
            output: 0.60,
        };
        // 1,000,000 prompt tokens at $0.15 and 500,000 completion tokens at $0.60/M.
        assert_eq!(cost_micros(Some(&price), 1_000_000, 500_000), 450_000);
        assert_eq!(cost_micros(None, 1_000, 1_000), 0);
    }
}
