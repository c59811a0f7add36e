//! What the chat shows of one thread, as a plain state machine: the stored messages, the
//! reply streaming in, the run in progress and how the last one ended. Loads, posts and
//! real-time events are applied to it in any order they arrive; the components around it
//! only read it. Tested natively, without a browser.

use std::collections::VecDeque;

use hatchery_shared::{
    api::{
        runs::{Posted, Run, RunStatus, StreamChunk},
        threads::{MessageRole, ThreadMessage},
    },
    realtime::Message,
};

/// How many ended runs are remembered, to tell a late answer about one from a live run.
const ENDED_RUNS_KEPT: usize = 32;

/// One thread as the chat shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadState {
    thread_id: String,
    /// The stored messages, oldest first, each once.
    messages: Vec<ThreadMessage>,
    /// Goes up each time `messages` changes, so a view can follow the messages alone.
    messages_revision: u64,
    /// The reply being written, if any.
    streaming: Option<Streaming>,
    /// The run replying now (the Stop button stops it).
    active_run: Option<String>,
    /// The latest runs seen to end, newest last: the answer to a send, or a run's first
    /// frames, can arrive after its last event.
    ended_runs: VecDeque<String>,
    /// Why the last run failed or was cancelled.
    run_error: Option<String>,
}

/// The reply being written: its run, its text so far, and its tool calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Streaming {
    /// The run writing it.
    pub run_id: String,
    /// The text so far.
    pub text: String,
    /// Its tool calls so far.
    pub tools: Vec<LiveTool>,
}

/// A tool call of the reply being written: its arguments as they stream, then its output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveTool {
    /// Which call of the step.
    pub index: u32,
    /// The call's id (it may come with a later piece).
    pub call_id: String,
    /// The tool.
    pub name: String,
    /// Its arguments so far.
    pub arguments: String,
    /// What it returned, once it has.
    pub output: Option<String>,
}

impl ThreadState {
    /// An empty thread `thread_id`, before its messages have loaded.
    pub fn new(thread_id: String) -> Self {
        Self {
            thread_id,
            ..Self::default()
        }
    }

    /// The stored messages, oldest first.
    pub fn messages(&self) -> &[ThreadMessage] {
        &self.messages
    }

    /// A number that changes exactly when the stored messages do (not with each token).
    pub fn messages_revision(&self) -> u64 {
        self.messages_revision
    }

    /// The reply being written, once it has something to show.
    pub fn streaming(&self) -> Option<&Streaming> {
        self.streaming
            .as_ref()
            .filter(|s| !s.text.is_empty() || !s.tools.is_empty())
    }

    /// The run replying now.
    pub fn active_run(&self) -> Option<&str> {
        self.active_run.as_deref()
    }

    /// Why the last run did not succeed.
    pub fn run_error(&self) -> Option<&str> {
        self.run_error.as_deref()
    }

    /// The thread's messages as loaded (again) over REST: they replace what was shown,
    /// keeping the messages that events brought meanwhile.
    pub fn loaded(&mut self, messages: Vec<ThreadMessage>) {
        let newer: Vec<ThreadMessage> = self
            .messages
            .drain(..)
            .filter(|shown| !messages.iter().any(|m| m.id == shown.id))
            .collect();
        self.messages = messages;
        self.messages_revision += 1;
        for message in newer {
            self.add(message);
        }
    }

    /// The answer to sending a message: the message, and the run that replies to it.
    pub fn posted(&mut self, posted: &Posted) {
        self.run_error = None;
        if !self.has_ended(&posted.run.id) {
            self.active_run = Some(posted.run.id.clone());
        }
        self.add(posted.message.clone());
    }

    /// A run of the thread's agent as it now is (from an event, or asked for again).
    pub fn run_changed(&mut self, run: &Run) {
        if run.thread_id != self.thread_id || !run.status.is_final() {
            return;
        }
        if !self.has_ended(&run.id) {
            self.ended_runs.push_back(run.id.clone());
            if self.ended_runs.len() > ENDED_RUNS_KEPT {
                self.ended_runs.pop_front();
            }
        }
        if self.streaming.as_ref().is_some_and(|s| s.run_id == run.id) {
            self.streaming = None;
        }
        // A late word about an earlier run does not touch the one replying now.
        if self
            .active_run
            .as_deref()
            .is_none_or(|active| active == run.id)
        {
            self.active_run = None;
            if run.status != RunStatus::Succeeded {
                self.run_error.clone_from(&run.error);
            }
        }
    }

    /// An event of the thread's topic (`thread:{id}`) or its agent's (`agent:{id}`).
    pub fn apply(&mut self, message: &Message) {
        match message {
            Message::ThreadMessageCreated(message) if message.thread_id == self.thread_id => {
                if message.role == MessageRole::Assistant {
                    self.streaming = None;
                }
                self.add(message.clone());
            }
            Message::StreamStart(step) => {
                if !self.has_ended(&step.run_id) {
                    self.active_run = Some(step.run_id.clone());
                }
                self.run_error = None;
                self.streaming = Some(Streaming {
                    run_id: step.run_id.clone(),
                    ..Streaming::default()
                });
            }
            Message::StreamChunk(chunk) => {
                if let Some(streaming) = &mut self.streaming {
                    streaming.apply(chunk);
                }
            }
            Message::RunUpdated(run) => self.run_changed(run),
            _ => {}
        }
    }

    fn add(&mut self, message: ThreadMessage) {
        if !self.messages.iter().any(|m| m.id == message.id) {
            self.messages.push(message);
            self.messages_revision += 1;
        }
    }

    fn has_ended(&self, run_id: &str) -> bool {
        self.ended_runs.iter().any(|ended| ended == run_id)
    }
}

impl Streaming {
    /// Adds a piece of the reply.
    fn apply(&mut self, chunk: &StreamChunk) {
        match chunk {
            StreamChunk::AssistantToken { text, .. } => self.text.push_str(text),
            StreamChunk::ToolCall {
                index,
                call_id,
                name,
                arguments,
                ..
            } => {
                let position = match self.tools.iter().position(|tool| tool.index == *index) {
                    Some(position) => position,
                    None => {
                        self.tools.push(LiveTool {
                            index: *index,
                            ..LiveTool::default()
                        });
                        self.tools.len() - 1
                    }
                };
                let tool = &mut self.tools[position];
                if let Some(id) = call_id {
                    tool.call_id.clone_from(id);
                }
                if let Some(name) = name {
                    tool.name.push_str(name);
                }
                tool.arguments.push_str(arguments);
            }
            StreamChunk::ToolOutput {
                call_id, output, ..
            } => {
                if let Some(tool) = self.tools.iter_mut().find(|tool| tool.call_id == *call_id) {
                    tool.output = Some(output.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hatchery_shared::api::runs::{RunTrigger, StreamStep};

    use super::*;

    const THREAD: &str = "t1";

    fn message(id: &str, role: MessageRole, content: &str) -> ThreadMessage {
        ThreadMessage {
            id: id.into(),
            thread_id: THREAD.into(),
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            tool_name: None,
            prompt_tokens: None,
            completion_tokens: None,
            cut_off: false,
            created_at: "2026-11-30T12:00:00.000Z".into(),
        }
    }

    fn run(id: &str, status: RunStatus, error: Option<&str>) -> Run {
        Run {
            id: id.into(),
            agent_id: "a1".into(),
            thread_id: THREAD.into(),
            status,
            trigger: RunTrigger::Chat,
            model: "m".into(),
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_usd: 0.0,
            error: error.map(Into::into),
            created_at: "2026-11-30T12:00:00.000Z".into(),
            started_at: None,
            finished_at: None,
            duration_ms: None,
        }
    }

    fn start(run_id: &str) -> Message {
        Message::StreamStart(StreamStep {
            run_id: run_id.into(),
            agent_id: "a".into(),
            step: 1,
        })
    }

    fn token(run_id: &str, text: &str) -> Message {
        Message::StreamChunk(StreamChunk::AssistantToken {
            run_id: run_id.into(),
            text: text.into(),
        })
    }

    fn posted(run_id: &str, message_id: &str) -> Posted {
        Posted {
            message: message(message_id, MessageRole::User, "hello"),
            run: run(run_id, RunStatus::Queued, None),
        }
    }

    #[test]
    fn a_reply_streams_in_then_becomes_a_stored_message() {
        let mut state = ThreadState::new(THREAD.into());
        state.posted(&posted("r1", "m1"));
        assert_eq!(state.active_run(), Some("r1"));

        state.apply(&start("r1"));
        assert_eq!(
            state.streaming(),
            None,
            "nothing to show before the first token"
        );
        let before_tokens = state.messages_revision();
        state.apply(&token("r1", "Hel"));
        state.apply(&token("r1", "lo"));
        assert_eq!(state.streaming().map(|s| s.text.as_str()), Some("Hello"));
        assert_eq!(
            state.messages_revision(),
            before_tokens,
            "tokens leave the stored messages as they are"
        );

        let reply = message("m2", MessageRole::Assistant, "Hello");
        state.apply(&Message::ThreadMessageCreated(reply.clone()));
        let after_reply = state.messages_revision();
        assert!(after_reply > before_tokens, "a new message shows");
        state.apply(&Message::ThreadMessageCreated(reply));
        assert_eq!(
            state.messages_revision(),
            after_reply,
            "a repeat changes nothing"
        );
        state.apply(&Message::RunUpdated(run("r1", RunStatus::Succeeded, None)));
        assert_eq!(state.streaming(), None);
        assert_eq!(state.active_run(), None);
        let ids: Vec<&str> = state.messages().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2"]);
    }

    #[test]
    fn the_answer_to_a_send_after_its_run_ended_does_not_revive_the_run() {
        let mut state = ThreadState::new(THREAD.into());
        state.apply(&start("r1"));
        state.apply(&Message::RunUpdated(run("r1", RunStatus::Succeeded, None)));

        state.posted(&posted("r1", "m1"));

        assert_eq!(
            state.active_run(),
            None,
            "Stop would show for a finished run"
        );
        assert_eq!(state.messages().len(), 1);
    }

    #[test]
    fn a_failed_or_cancelled_run_shows_why_until_the_next_reply_starts() {
        let mut state = ThreadState::new(THREAD.into());
        state.posted(&posted("r1", "m1"));
        state.apply(&token("r1", "ignored: no stream started"));
        state.apply(&Message::RunUpdated(run(
            "r1",
            RunStatus::Failed,
            Some("the provider refused the key"),
        )));
        assert_eq!(state.run_error(), Some("the provider refused the key"));

        state.apply(&start("r2"));
        assert_eq!(state.run_error(), None);
        assert_eq!(state.active_run(), Some("r2"));
    }

    #[test]
    fn tool_calls_gather_their_pieces_and_their_output() {
        let mut state = ThreadState::new(THREAD.into());
        state.apply(&start("r1"));
        for (call_id, name, arguments) in [
            (Some("c1"), Some("calcu"), "{\"expr"),
            (None, Some("lator"), "ession\":\"1+1\"}"),
        ] {
            state.apply(&Message::StreamChunk(StreamChunk::ToolCall {
                run_id: "r1".into(),
                index: 0,
                call_id: call_id.map(Into::into),
                name: name.map(Into::into),
                arguments: arguments.into(),
            }));
        }
        state.apply(&Message::StreamChunk(StreamChunk::ToolOutput {
            run_id: "r1".into(),
            call_id: "c1".into(),
            name: "calculator".into(),
            output: "2".into(),
        }));

        let tools = &state.streaming().expect("a reply with a tool call").tools;
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].name, "calculator");
        assert_eq!(tools[0].arguments, "{\"expression\":\"1+1\"}");
        assert_eq!(tools[0].output.as_deref(), Some("2"));
    }

    #[test]
    fn a_reload_keeps_what_events_brought_and_shows_each_message_once() {
        let mut state = ThreadState::new(THREAD.into());
        state.apply(&Message::ThreadMessageCreated(message(
            "m3",
            MessageRole::User,
            "live",
        )));
        state.loaded(vec![
            message("m1", MessageRole::User, "a"),
            message("m2", MessageRole::Assistant, "b"),
        ]);
        state.loaded(vec![
            message("m1", MessageRole::User, "a"),
            message("m2", MessageRole::Assistant, "b"),
            message("m3", MessageRole::User, "live"),
        ]);

        let ids: Vec<&str> = state.messages().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["m1", "m2", "m3"]);
    }

    #[test]
    fn other_threads_runs_and_messages_change_nothing() {
        let mut state = ThreadState::new(THREAD.into());
        state.posted(&posted("r1", "m1"));
        let mut elsewhere = run("r9", RunStatus::Failed, Some("elsewhere"));
        elsewhere.thread_id = "t2".into();
        state.apply(&Message::RunUpdated(elsewhere));
        let mut other = message("m9", MessageRole::User, "elsewhere");
        other.thread_id = "t2".into();
        state.apply(&Message::ThreadMessageCreated(other));

        assert_eq!(state.active_run(), Some("r1"));
        assert_eq!(state.run_error(), None);
        assert_eq!(state.messages().len(), 1);
    }

    #[test]
    fn a_late_end_of_an_earlier_run_leaves_the_current_reply_alone() {
        let mut state = ThreadState::new(THREAD.into());
        state.apply(&start("r2"));
        state.apply(&token("r2", "still writing"));

        state.apply(&Message::RunUpdated(run(
            "r1",
            RunStatus::Cancelled,
            Some("stopped"),
        )));

        assert_eq!(state.active_run(), Some("r2"));
        assert_eq!(state.run_error(), None);
        assert!(state.streaming().is_some());
    }

    #[test]
    fn only_the_latest_ended_runs_are_remembered() {
        let mut state = ThreadState::new(THREAD.into());
        for n in 0..ENDED_RUNS_KEPT + 10 {
            state.run_changed(&run(&format!("r{n}"), RunStatus::Succeeded, None));
        }
        assert_eq!(state.ended_runs.len(), ENDED_RUNS_KEPT);
    }
}
