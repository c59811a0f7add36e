//! One run, start to end: wait for a slot, then step — stream a reply into the thread's
//! topic (and its observer's), run its tool calls concurrently, store the reply and the
//! results in one transaction — until a final answer, the step limit, an error or a
//! cancellation; then record how it ended.

use std::{
    sync::PoisonError,
    time::{Duration, Instant},
};

use futures_util::{StreamExt, future::join_all};
use hatchery_shared::{
    api::{
        runs::{RunStatus, RunTrigger, StreamChunk, StreamStep},
        threads::{MessageRole, ThreadMessage, ToolCallView},
    },
    realtime::{Message, Topic},
};
use tokio::sync::OwnedSemaphorePermit;

use super::metrics::RunnerMetrics;
use super::{
    AgentTouched, Cancel, LOCAL_MODEL, RunOutcome, Runner, context,
    provider::{ChatMessage, ChatRequest, ProviderError, ReplyStream, StreamEvent, ToolCall},
    reply::Reply,
    tools,
};
use crate::store::{AgentRow, NewMessageRow, RunEnd, RunRow};

/// How many messages of a thread a step sends to the model at most (the latest).
const HISTORY_LIMIT: u32 = 1_000;

/// How a step ended.
enum Step {
    /// A final answer: the run succeeded.
    Final,
    /// Tools ran: another step follows.
    ToolsRan,
    /// Cancelled.
    Cancelled,
    /// Failed, with a message for people.
    Failed(String),
}

/// What a run is working with.
struct Context<'a> {
    runner: &'a Runner,
    run: &'a RunRow,
    agent: &'a AgentRow,
    cancel: &'a Cancel,
    /// Where the stream frames go besides the thread's topic.
    stream_to: Option<Topic>,
    prompt_tokens: u64,
    completion_tokens: u64,
    /// The text of the last reply that had any.
    text: String,
}

/// Runs `run` of `agent` to its end, recording the end however it comes; its stream frames
/// go to `stream_to` too. Returns how it ended, once recorded.
pub(super) async fn execute(
    runner: &Runner,
    run: RunRow,
    agent: AgentRow,
    stream_to: Option<Topic>,
    cancel: &Cancel,
) -> Option<RunOutcome> {
    let inner = &runner.inner;
    let mut context = Context {
        runner,
        run: &run,
        agent: &agent,
        cancel,
        stream_to,
        prompt_tokens: 0,
        completion_tokens: 0,
        text: String::new(),
    };
    let slots = tokio::select! {
        slots = slots_for(runner, &run.model) => slots,
        () = cancel.token.cancelled() => None,
    };
    let (status, error) = match slots {
        None => (RunStatus::Cancelled, Some(context.cancel_reason())),
        Some(_slots) => context.steps().await,
    };
    let end = RunEnd {
        status,
        prompt_tokens: context.prompt_tokens,
        completion_tokens: context.completion_tokens,
        cost_micros: super::cost_micros(
            runner.price_of(&run.model),
            context.prompt_tokens,
            context.completion_tokens,
        ),
        error,
    };
    count_end(&inner.metrics, &run, &end);
    match end.status {
        RunStatus::Failed => tracing::warn!(
            agent = %run.agent_id,
            trigger = run.trigger.as_str(),
            error = end.error.as_deref().unwrap_or_default(),
            "the run failed"
        ),
        status => tracing::info!(
            agent = %run.agent_id,
            trigger = run.trigger.as_str(),
            status = status.as_str(),
            cost_micros = end.cost_micros,
            "the run ended"
        ),
    }
    match inner.store.finish_run(&run.id, &end).await {
        Ok(Some((finished, agent))) => {
            context.announce_run(&finished, Some(agent)).await;
            Some(RunOutcome {
                run: finished,
                text: context.text,
            })
        }
        Ok(None) => {
            tracing::warn!(run = %run.id, "the run vanished before it ended");
            None
        }
        Err(err) => {
            tracing::error!(run = %run.id, error = %err, "cannot record the end of a run");
            None
        }
    }
}

/// Waits for a run of `model` to be allowed to go: for one of the local model's slots if
/// it answers, then for one of the runner's. `None` once the runner is closed.
async fn slots_for(
    runner: &Runner,
    model: &str,
) -> Option<(Option<OwnedSemaphorePermit>, OwnedSemaphorePermit)> {
    let inner = &runner.inner;
    let local = if model == LOCAL_MODEL {
        Some(inner.local_slots.clone().acquire_owned().await.ok()?)
    } else {
        None
    };
    let slot = inner.slots.clone().acquire_owned().await.ok()?;
    Some((local, slot))
}

impl Context<'_> {
    fn cancel_reason(&self) -> String {
        self.cancel
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or(super::CANCELLED_BY_USER)
            .to_owned()
    }

    /// Publishes a message on the run's thread's topic.
    async fn publish(&self, message: Message) {
        self.runner
            .inner
            .realtime
            .publish(&Topic::thread(&self.run.thread_id), message)
            .await;
    }

    /// Publishes a frame of the run's reply on its thread's topic and its observer's.
    async fn publish_stream(&self, message: Message) {
        if let Some(topic) = &self.stream_to {
            self.runner
                .inner
                .realtime
                .publish(topic, message.clone())
                .await;
        }
        self.publish(message).await;
    }

    /// Publishes the run's new state, and tells the services above what the run did to its
    /// agent (read again unless given).
    async fn announce_run(&self, run: &RunRow, agent: Option<AgentRow>) {
        let inner = &self.runner.inner;
        inner
            .realtime
            .publish_about_agent(
                &self.agent.id,
                &self.agent.owner_id,
                Message::RunUpdated(run.view()),
            )
            .await;
        let agent = match agent {
            Some(agent) => Some(agent),
            None => inner
                .store
                .agent(&run.agent_id)
                .await
                .inspect_err(|err| tracing::error!(error = %err, "cannot read the agent of a run"))
                .ok()
                .flatten(),
        };
        if let Some(agent) = agent {
            let ended = run.status.is_final().then_some(run.trigger);
            // Fails only once the services above have stopped listening, at shutdown.
            let _ = inner.agent_events.send(AgentTouched { agent, ended }).await;
        }
    }

    /// Marks the run running and steps until it ends; returns how.
    async fn steps(&mut self) -> (RunStatus, Option<String>) {
        match self.runner.inner.store.mark_run_running(&self.run.id).await {
            Ok(Some(running)) => self.announce_run(&running, None).await,
            Ok(None) => {
                return (
                    RunStatus::Cancelled,
                    Some("the run was ended elsewhere".into()),
                );
            }
            Err(err) => return (RunStatus::Failed, Some(format!("database error: {err}"))),
        }
        let max_steps = self.runner.inner.config.max_steps;
        for number in 1..=max_steps {
            match self.step(number).await {
                Step::Final => return (RunStatus::Succeeded, None),
                Step::ToolsRan => {}
                Step::Cancelled => return (RunStatus::Cancelled, Some(self.cancel_reason())),
                Step::Failed(message) => return (RunStatus::Failed, Some(message)),
            }
        }
        (
            RunStatus::Failed,
            Some(format!(
                "stopped after {max_steps} steps without a final answer (HATCHERY_RUN_MAX_STEPS)"
            )),
        )
    }

    /// The conversation as the model sees it: the agent's instructions, then the thread (for
    /// a scheduled run, its last `schedule_memory_runs` runs and this one).
    async fn request(&self) -> Result<ChatRequest, String> {
        let change = &self.agent.change;
        // A scheduled run sees its thread's last few runs only: a rolling context. A room's
        // turn sees its own run only, whose message holds the room's conversation.
        let within_runs = match self.run.trigger {
            RunTrigger::Schedule => Some(change.schedule_memory_runs),
            RunTrigger::Room => Some(0),
            _ => None,
        };
        let history = self
            .runner
            .inner
            .store
            .latest_messages(&self.run.thread_id, HISTORY_LIMIT, within_runs)
            .await
            .map_err(|err| format!("database error: {err}"))?;
        let system = [
            change.system_instructions.as_str(),
            change.task_instructions.as_str(),
        ]
        .into_iter()
        .filter(|text| !text.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
        let mut messages = Vec::with_capacity(history.len() + 2);
        if !system.is_empty() {
            messages.push(ChatMessage {
                role: "system".into(),
                content: Some(system),
                tool_calls: Vec::new(),
                tool_call_id: None,
            });
        }
        messages.extend(context::conversation(
            &history,
            self.runner.inner.config.context_bytes,
        ));
        // The local model cannot call tools: they are not offered to it.
        let tools = if self.run.model == LOCAL_MODEL {
            Vec::new()
        } else {
            change.tools.iter().map(|tool| tools::spec(*tool)).collect()
        };
        Ok(ChatRequest {
            model: self.run.model.clone(),
            temperature: change.temperature,
            messages,
            tools,
        })
    }

    /// One model call and, if it asks for them, its tool calls.
    async fn step(&mut self, number: u32) -> Step {
        let request = match self.request().await {
            Ok(request) => request,
            Err(message) => return Step::Failed(message),
        };
        let marker = StreamStep {
            run_id: self.run.id.clone(),
            agent_id: self.agent.id.clone(),
            step: number,
        };
        self.publish_stream(Message::StreamStart(marker.clone()))
            .await;
        let outcome = self.stream_reply(request).await;
        self.publish_stream(Message::StreamEnd(marker)).await;
        let (reply, ended) = outcome;
        self.prompt_tokens += reply.prompt_tokens;
        self.completion_tokens += reply.completion_tokens;
        if !reply.text.is_empty() {
            self.text.clone_from(&reply.text);
        }
        // A reply cut off mid-stream keeps its text but not its calls: they never ran, and
        // their arguments may be incomplete.
        let calls = if ended.is_none() {
            reply.tool_calls()
        } else {
            Vec::new()
        };
        let mut step_messages = Vec::new();
        if !reply.text.is_empty() || !calls.is_empty() {
            step_messages.push(NewMessageRow {
                role: Some(MessageRole::Assistant),
                content: reply.text.clone(),
                tool_calls: calls.iter().map(call_view).collect(),
                prompt_tokens: Some(reply.prompt_tokens),
                completion_tokens: Some(reply.completion_tokens),
                cut_off: ended.is_some(),
                ..NewMessageRow::default()
            });
        }
        let next = match ended {
            Some(ended) => ended,
            None if calls.is_empty() => Step::Final,
            None => {
                let (results, cancelled) = self.run_tools(calls).await;
                step_messages.extend(results);
                if cancelled {
                    Step::Cancelled
                } else {
                    Step::ToolsRan
                }
            }
        };
        // The step's messages — the reply and its tools' results — in one transaction.
        if !step_messages.is_empty()
            && let Err(message) = self.store(&step_messages).await
        {
            return Step::Failed(message);
        }
        next
    }

    /// Streams one reply, retrying before its first event; returns what arrived and, when
    /// the reply did not end normally, how the step ends.
    async fn stream_reply(&self, request: ChatRequest) -> (Reply, Option<Step>) {
        let inner = &self.runner.inner;
        let (provider, provider_label) = self.runner.provider_for(&self.run.model);
        let metrics = &inner.metrics;
        let mut reply = Reply::default();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let asked = Instant::now();
            let started = tokio::select! {
                started = provider.stream(request.clone()) => started,
                () = self.cancel.token.cancelled() => return (reply, Some(Step::Cancelled)),
            };
            let first_token = FirstToken {
                asked,
                histogram: metrics.first_token_of(provider_label),
            };
            let failure = match started {
                Ok(stream) => match self.read(stream, &mut reply, first_token).await {
                    Ok(()) => return (reply, None),
                    Err(ReadEnd::Cancelled) => return (reply, Some(Step::Cancelled)),
                    Err(ReadEnd::Failed(err)) => err,
                },
                Err(err) => err,
            };
            metrics
                .provider_errors
                .with_label_values(&[provider_label, super::metrics::error_kind(&failure)])
                .inc();
            let untouched = reply == Reply::default();
            if !(untouched && failure.is_retryable() && attempt < inner.config.attempts) {
                return (reply, Some(Step::Failed(failure.to_string())));
            }
            let wait = backoff(attempt, &failure);
            tracing::warn!(run = %self.run.id, attempt, error = %failure, ?wait, "retrying the model call");
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.cancel.token.cancelled() => return (reply, Some(Step::Cancelled)),
            }
        }
    }

    /// Reads a reply stream into `reply`, publishing each piece; the time to its first
    /// event goes to `first_token`.
    async fn read(
        &self,
        mut stream: ReplyStream,
        reply: &mut Reply,
        first_token: FirstToken,
    ) -> Result<(), ReadEnd> {
        let mut first_token = Some(first_token);
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                () = self.cancel.token.cancelled() => return Err(ReadEnd::Cancelled),
            };
            let event = match next {
                None => return Ok(()),
                Some(Err(err)) => return Err(ReadEnd::Failed(err)),
                Some(Ok(event)) => event,
            };
            if let Some(first) = first_token.take() {
                first.histogram.observe(first.asked.elapsed().as_secs_f64());
            }
            let run_id = self.run.id.clone();
            let chunk = match &event {
                StreamEvent::Token(text) => Some(StreamChunk::AssistantToken {
                    run_id,
                    text: text.clone(),
                }),
                StreamEvent::ToolCallDelta {
                    index,
                    id,
                    name,
                    arguments,
                } => Some(StreamChunk::ToolCall {
                    run_id,
                    index: *index,
                    call_id: id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                }),
                StreamEvent::Usage { .. } => None,
            };
            reply.apply(&event);
            if let Some(chunk) = chunk {
                self.publish_stream(Message::StreamChunk(chunk)).await;
            }
        }
    }

    /// Runs the calls of a step at once (the first `max_tool_calls`; the others are answered
    /// with an error) and publishes each result as it comes. Returns a result for every call
    /// — a call the run's cancellation interrupted gets one saying so, so that the thread
    /// stays one that providers accept — and whether the run was cancelled.
    async fn run_tools(&self, calls: Vec<ToolCall>) -> (Vec<NewMessageRow>, bool) {
        let inner = &self.runner.inner;
        let allowed = &self.agent.change.tools;
        let max = inner.config.max_tool_calls;
        let work = join_all(calls.into_iter().enumerate().map(|(index, call)| async move {
            let output = if index >= max {
                format!(
                    "error: at most {max} tool calls run in one step; this one did not run. \
                     Call fewer tools at once."
                )
            } else {
                let run = tools::call(&call.name, &call.arguments, allowed, &inner.config.tools);
                tokio::select! {
                    output = run => {
                        let outcome = if output.is_ok() { "ok" } else { "error" };
                        inner
                            .metrics
                            .tool_calls
                            .with_label_values(&[tools::label(&call.name), outcome])
                            .inc();
                        output.unwrap_or_else(|err| format!("error: {err}"))
                    }
                    () = self.cancel.token.cancelled() => {
                        format!("error: the run was cancelled before this tool finished ({})", self.cancel_reason())
                    }
                }
            };
            self.publish_stream(Message::StreamChunk(StreamChunk::ToolOutput {
                run_id: self.run.id.clone(),
                call_id: call.id.clone(),
                name: call.name.clone(),
                output: output.clone(),
            }))
            .await;
            NewMessageRow {
                role: Some(MessageRole::Tool),
                content: output,
                tool_call_id: Some(call.id),
                tool_name: Some(call.name),
                ..NewMessageRow::default()
            }
        }));
        let results = work.await;
        (results, self.cancel.token.is_cancelled())
    }

    /// Stores a step's messages and publishes each.
    async fn store(&self, messages: &[NewMessageRow]) -> Result<(), String> {
        let stored: Vec<ThreadMessage> = self
            .runner
            .inner
            .store
            .store_messages(&self.run.thread_id, messages)
            .await
            .map_err(|err| format!("database error: {err}"))?;
        for message in stored {
            self.publish(Message::ThreadMessageCreated(message)).await;
        }
        Ok(())
    }
}

/// Why reading a reply stopped early.
enum ReadEnd {
    Cancelled,
    Failed(ProviderError),
}

/// The wait before attempt `attempt + 1`: what the provider asked for (at most a minute),
/// or 0.5 s doubling.
fn backoff(attempt: u32, failure: &ProviderError) -> Duration {
    match failure {
        ProviderError::RateLimited(Some(wait)) => (*wait).min(Duration::from_secs(60)),
        _ => Duration::from_millis(500) * 2u32.pow(attempt.saturating_sub(1).min(6)),
    }
}

fn call_view(call: &ToolCall) -> ToolCallView {
    ToolCallView {
        id: call.id.clone(),
        name: call.name.clone(),
        arguments: call.arguments.clone(),
    }
}

/// When a model call was made, for the histogram of its time to first event.
struct FirstToken {
    asked: Instant,
    histogram: prometheus::Histogram,
}

/// Counts the end of `run` in `metrics`: its status, duration, tokens and cost.
fn count_end(metrics: &RunnerMetrics, run: &RunRow, end: &RunEnd) {
    let trigger = run.trigger.as_str();
    metrics
        .runs_ended
        .with_label_values(&[trigger, end.status.as_str()])
        .inc();
    let took = (chrono::Utc::now() - run.created_at)
        .to_std()
        .unwrap_or_default();
    metrics
        .run_duration
        .with_label_values(&[trigger])
        .observe(took.as_secs_f64());
    metrics
        .tokens
        .with_label_values(&["prompt"])
        .inc_by(end.prompt_tokens);
    metrics
        .tokens
        .with_label_values(&["completion"])
        .inc_by(end.completion_tokens);
    metrics.cost_micros.inc_by(end.cost_micros);
}
