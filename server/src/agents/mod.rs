//! The Agents service: every change to an agent goes write → tell the scheduler →
//! announce, in that order and in one place; its chat threads are changed here too
//! ([`threads`]); running an agent (chat, Run now) goes through the runner's single entry
//! point. It also hears what runs did to their agents, and
//! gives the scheduler its view of the agents ([`schedules::Live`]). Agents kept as files
//! are read by [`files::AgentFiles`] and cannot be changed through the API.
//!
//! Storage is in `store::agents`, routes in `http::agents`.

mod change;
mod file_format;
pub mod files;
pub mod schedules;
mod threads;

use chrono::Utc;
use hatchery_shared::{
    api::{
        FieldErrors,
        agents::{Agent, AgentDeleted, AgentFile, AgentPatch, EVENT_INSTRUCTIONS_CHARS, NewAgent},
        audit::AuditAction,
        runs::RunTrigger,
        threads::ThreadKind,
    },
    realtime::Message,
};
use tokio::sync::mpsc;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use self::schedules::Live;
use crate::{
    realtime::Realtime,
    runner::{AgentTouched, Runner, StartError, StartRequest, ThreadChoice},
    scheduler::{Scheduler, schedule},
    store::{Actor, AgentRow, Audit, StartedRun, Store, StoreError, ThreadRow, rfc3339},
};

/// The longest chat message accepted, in characters.
const MAX_MESSAGE_CHARS: usize = 100_000;

/// Why a change to an agent, or a run of it, was refused.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The agent is gone (deleted meanwhile).
    #[error("there is no agent {0}")]
    NotFound(String),
    /// The thread is gone (deleted meanwhile).
    #[error("there is no thread {0}")]
    ThreadNotFound(String),
    /// Fields are not valid, each with its reason.
    #[error("invalid input")]
    Invalid(FieldErrors),
    /// The agent is kept as the file at this path: it changes when the file does.
    #[error("this agent is kept as the file {0} on the server: change or delete the file instead")]
    KeptAsFile(String),
    /// The run could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AgentError {
    fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid(FieldErrors::from([(field.to_owned(), message.to_owned())]))
    }
}

/// The Agents service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Agents {
    store: Store,
    realtime: Realtime,
    runner: Runner,
    scheduler: Scheduler,
}

impl Agents {
    /// Agents stored in `store`, announced on `realtime`, run by `runner` and planned by
    /// `scheduler`.
    pub fn new(store: Store, realtime: Realtime, runner: Runner, scheduler: Scheduler) -> Self {
        Self {
            store,
            realtime,
            runner,
            scheduler,
        }
    }

    /// Creates an agent owned by `owner_id`, as `actor` asks.
    pub async fn create(
        &self,
        actor: &Actor,
        owner_id: &str,
        new: NewAgent,
    ) -> Result<Agent, AgentError> {
        let change =
            change::new_change(new, self.runner.default_model()).map_err(AgentError::Invalid)?;
        let audit = Audit::new(
            actor,
            AuditAction::AgentCreated,
            format!("named {:?}", change.name),
        );
        let row = self.store.create_agent(owner_id, &change, &audit).await?;
        Ok(self.changed(&row, Message::AgentCreated).await)
    }

    /// Changes the fields `patch` gives of `current`, as `actor` asks.
    pub async fn update(
        &self,
        actor: &Actor,
        current: &AgentRow,
        patch: AgentPatch,
    ) -> Result<Agent, AgentError> {
        writable(current)?;
        let change = change::patched(current, patch).map_err(AgentError::Invalid)?;
        let audit = Audit::new(
            actor,
            AuditAction::AgentUpdated,
            change::changed_fields(&current.change, &change),
        );
        let row = self
            .store
            .update_agent(&current.id, &change, &audit)
            .await?
            .ok_or_else(|| AgentError::NotFound(current.id.clone()))?;
        Ok(self.changed(&row, Message::AgentUpdated).await)
    }

    /// Deletes `row` with its threads and runs, as `actor` asks; its runs in progress stop.
    pub async fn delete(&self, actor: &Actor, row: &AgentRow) -> Result<(), AgentError> {
        writable(row)?;
        self.runner.cancel_runs_of(Some(&row.id), None);
        let audit = Audit::new(
            actor,
            AuditAction::AgentDeleted,
            format!("named {:?}", row.change.name),
        );
        if !self.store.delete_agent(&row.id, &audit).await? {
            return Err(AgentError::NotFound(row.id.clone()));
        }
        self.scheduler.agent_changed(&row.id);
        let deleted = Message::AgentDeleted(AgentDeleted {
            id: row.id.clone(),
            owner_id: row.owner_id.clone(),
        });
        announce(&self.realtime, row, deleted).await;
        Ok(())
    }

    /// "Run now": runs the agent's task instructions in a new `manual` thread, as `actor`
    /// asks.
    pub async fn run_now(&self, actor: &Actor, agent: AgentRow) -> Result<StartedRun, AgentError> {
        let task = agent.change.task_instructions.trim().to_owned();
        if task.is_empty() {
            return Err(AgentError::invalid(
                "task_instructions",
                "the agent has no task instructions to run; write them first",
            ));
        }
        let title = format!("Run of {}", Utc::now().format("%Y-%m-%d %H:%M UTC"));
        let request = StartRequest {
            agent,
            thread: ThreadChoice::New {
                kind: ThreadKind::Manual,
                title,
            },
            input: task,
            trigger: RunTrigger::Manual,
            delivery: None,
            observer: None,
            audit: Some(Audit::new(actor, AuditAction::RunStarted, "run now")),
        };
        Ok(self.runner.start(request).await?)
    }

    /// A person's message in `thread`, and the run that replies to it.
    pub async fn post_message(
        &self,
        thread: &ThreadRow,
        content: String,
    ) -> Result<StartedRun, AgentError> {
        let length = content.trim().chars().count();
        if length == 0 || length > MAX_MESSAGE_CHARS {
            return Err(AgentError::invalid(
                "content",
                &format!("write 1 to {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        let agent = self
            .store
            .agent(&thread.agent_id)
            .await?
            .ok_or_else(|| AgentError::NotFound(thread.agent_id.clone()))?;
        let request = StartRequest {
            agent,
            thread: ThreadChoice::Existing(thread.id.clone()),
            input: content,
            trigger: RunTrigger::Chat,
            delivery: None,
            observer: None,
            audit: None,
        };
        Ok(self.runner.start(request).await?)
    }

    /// The agents' schedules as the scheduler reads and fires them.
    pub fn schedules(&self) -> Live {
        Live::new(
            self.store.clone(),
            self.runner.clone(),
            self.realtime.clone(),
        )
    }

    /// Starts the tracked task that hears what runs did to their agents: it announces each
    /// agent's new state and, when a scheduled run ends, has the scheduler plan the agent
    /// again. On `stop` it handles what is already queued, then ends; it ends too when the
    /// runner is gone.
    pub fn follow_runs(
        &self,
        mut touched: mpsc::Receiver<AgentTouched>,
        tasks: &TaskTracker,
        stop: CancellationToken,
    ) {
        let agents = self.clone();
        tasks.spawn(async move {
            loop {
                let event = tokio::select! {
                    // Queued events first: those of runs that ended as the server stopped.
                    biased;
                    event = touched.recv() => event,
                    () = stop.cancelled() => touched.try_recv().ok(),
                };
                let Some(event) = event else {
                    return;
                };
                agents.touched(event).await;
            }
        });
    }

    /// What a run did to its agent: announced, and planned again after a scheduled run.
    async fn touched(&self, AgentTouched { agent, ended }: AgentTouched) {
        if ended == Some(RunTrigger::Schedule) {
            self.scheduler.agent_changed(&agent.id);
        }
        let event = Message::AgentUpdated(event_view(&agent));
        announce(&self.realtime, &agent, event).await;
    }

    /// After `row` was written: the scheduler plans it again, and the change is announced
    /// as `event`. Returns the agent as the API shows it.
    async fn changed(&self, row: &AgentRow, event: fn(Agent) -> Message) -> Agent {
        self.scheduler.agent_changed(&row.id);
        announce(&self.realtime, row, event(event_view(row))).await;
        view(row)
    }
}

/// Refuses to change an agent kept as a file.
fn writable(row: &AgentRow) -> Result<(), AgentError> {
    match &row.file {
        Some(file) => Err(AgentError::KeptAsFile(file.path.clone())),
        None => Ok(()),
    }
}

/// `row` as a file of the agents directory, which reads back as the same agent.
pub fn export(row: &AgentRow) -> String {
    file_format::export(row)
}

/// The agent as the API shows it.
pub fn view(row: &AgentRow) -> Agent {
    let change = &row.change;
    Agent {
        id: row.id.clone(),
        owner_id: row.owner_id.clone(),
        name: change.name.clone(),
        system_instructions: change.system_instructions.clone(),
        task_instructions: change.task_instructions.clone(),
        model: change.model.clone(),
        temperature: change.temperature,
        tools: change.tools.clone(),
        schedule: change.schedule.clone(),
        schedule_description: change.schedule.as_deref().and_then(schedule::describe),
        time_zone: change.time_zone.clone(),
        schedule_memory_runs: change.schedule_memory_runs,
        status: change.status,
        last_error: row.last_error.clone(),
        last_run_at: row.last_run_at.map(rfc3339),
        next_run_at: change.next_run_at.map(rfc3339),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        instructions_trimmed: false,
        file: row.file.as_ref().map(|file| AgentFile {
            path: file.path.clone(),
            error: file.error.clone(),
            room_role: file.room_role,
        }),
    }
}

/// The agent as its topic events show it: its instructions cut to
/// [`EVENT_INSTRUCTIONS_CHARS`]. An agent's topic carries an event on every run, and whole
/// instructions (up to 100,000 characters each) would make each one as large as a
/// connection's queue.
pub fn event_view(row: &AgentRow) -> Agent {
    let mut agent = view(row);
    for text in [&mut agent.system_instructions, &mut agent.task_instructions] {
        if let Some((cut, _)) = text.char_indices().nth(EVENT_INSTRUCTIONS_CHARS) {
            text.truncate(cut);
            agent.instructions_trimmed = true;
        }
    }
    agent
}

/// Publishes a committed change of an agent on its topic and its owner's.
async fn announce(realtime: &Realtime, row: &AgentRow, message: Message) {
    realtime
        .publish_about_agent(&row.id, &row.owner_id, message)
        .await;
}
