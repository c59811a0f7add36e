//! LLM providers: the [`Provider`] interface the run loop streams replies through, and its
//! implementation for OpenAI-compatible Chat Completions (OpenAI, Ollama, vLLM,
//! llama.cpp's server, LM Studio, OpenRouter, …) with streaming, usage and tool calls.

use std::{pin::Pin, time::Duration};

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A request for one reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    /// The model to call.
    pub model: String,
    /// Sampling temperature.
    pub temperature: f64,
    /// The conversation so far, oldest first.
    pub messages: Vec<ChatMessage>,
    /// The tools the model may call.
    pub tools: Vec<ToolSpec>,
}

/// One message of the conversation, as the provider sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text (absent on an assistant message that only calls tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The tools an assistant message calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// On a tool message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool the model may call, described by a JSON Schema of its arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    /// The tool's name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

/// A call of a tool by the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id of the call, echoed on its result.
    pub id: String,
    /// The tool called.
    pub name: String,
    /// Its arguments: JSON text, as the model wrote it.
    pub arguments: String,
}

/// What a reply stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// The next piece of the reply's text.
    Token(String),
    /// A piece of a tool call: `index` identifies the call within the reply; the id and
    /// name come with its first piece, the arguments in pieces.
    ToolCallDelta {
        /// Which call of the reply.
        index: u32,
        /// The call's id (first piece only).
        id: Option<String>,
        /// The tool's name (first piece only).
        name: Option<String>,
        /// The next piece of the arguments' JSON text.
        arguments: String,
    },
    /// Tokens counted by the provider for the whole request.
    Usage {
        /// Tokens of the prompt.
        prompt_tokens: u64,
        /// Tokens of the reply.
        completion_tokens: u64,
    },
}

/// Why a reply failed, worded so that a person can act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider refused the API key (401/403).
    #[error("the LLM provider refused the API key (HTTP {0}); check HATCHERY_LLM_API_KEY")]
    Unauthorized(u16),
    /// Too many requests (429); try again after the delay, if the provider gave one.
    #[error("the LLM provider is rate limiting requests (HTTP 429)")]
    RateLimited(Option<Duration>),
    /// The provider failed (5xx).
    #[error("the LLM provider failed (HTTP {status}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// What it said, shortened.
        message: String,
    },
    /// The provider refused the request itself (another 4xx), e.g. an unknown model.
    #[error("the LLM provider refused the request (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// What it said, shortened.
        message: String,
    },
    /// No answer in time.
    #[error("the LLM provider did not answer within {0:?}")]
    Timeout(Duration),
    /// The provider could not be reached.
    #[error("cannot reach the LLM provider at {url}: {message}")]
    Unreachable {
        /// Where it was looked for.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// The stream was not what the protocol says (bad JSON, cut off).
    #[error("the LLM provider sent a malformed stream: {0}")]
    Malformed(String),
    /// The built-in local model cannot be used (its file is missing or unreadable).
    #[error("the local model cannot answer: {0}")]
    LocalModel(String),
}

impl ProviderError {
    /// Whether trying again may help (before any token reached the user).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited(_)
                | Self::Server { .. }
                | Self::Timeout(_)
                | Self::Unreachable { .. }
                | Self::Malformed(_)
        )
    }
}

/// The events of one reply, ending after the last one (or at the first error).
pub type ReplyStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// Something that streams replies from a model.
pub trait Provider: Send + Sync + 'static {
    /// Starts a reply to `request`. The future fails when the request is refused; the
    /// stream fails when the reply breaks off.
    fn stream(
        &self,
        request: ChatRequest,
    ) -> Pin<Box<dyn Future<Output = Result<ReplyStream, ProviderError>> + Send + '_>>;
}

/// Where an OpenAI-compatible provider is and how to talk to it.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// The API's base URL, such as `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// The API key, sent as a bearer token (never logged).
    pub api_key: Option<SecretString>,
    /// How long to wait for the response to start, and then between two chunks.
    pub timeout: Duration,
}

/// An OpenAI-compatible Chat Completions API.
#[derive(Debug, Clone)]
pub struct OpenAiCompatible {
    config: OpenAiConfig,
    client: reqwest::Client,
}

/// The longest provider error text kept in a message.
const MAX_ERROR_CHARS: usize = 300;

impl OpenAiCompatible {
    /// A provider at `config.base_url`.
    pub fn new(config: OpenAiConfig) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .build()
            .expect("an HTTP client builds with these settings");
        Self { config, client }
    }

    fn url(&self) -> String {
        format!(
            "{}/chat/completions",
            self.config.base_url.trim_end_matches('/')
        )
    }

    async fn start(&self, request: ChatRequest) -> Result<ReplyStream, ProviderError> {
        let url = self.url();
        let mut body = serde_json::json!({
            "model": request.model,
            "temperature": request.temperature,
            "messages": request.messages.iter().map(wire_message).collect::<Vec<_>>(),
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !request.tools.is_empty() {
            body["tools"] = request
                .tools
                .iter()
                .map(|tool| {
                    serde_json::json!({
                        "type": "function",
                        "function": {
                            "name": tool.name,
                            "description": tool.description,
                            "parameters": tool.parameters,
                        }
                    })
                })
                .collect();
        }
        let mut http = self.client.post(&url).json(&body);
        if let Some(key) = &self.config.api_key {
            http = http.bearer_auth(key.expose_secret());
        }
        let timeout = self.config.timeout;
        let response = tokio::time::timeout(timeout, http.send())
            .await
            .map_err(|_| ProviderError::Timeout(timeout))?
            .map_err(|err| ProviderError::Unreachable {
                url: url.clone(),
                message: err.to_string(),
            })?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = response.text().await.unwrap_or_default();
            let message: String = error_message(&text).chars().take(MAX_ERROR_CHARS).collect();
            return Err(match status {
                401 | 403 => ProviderError::Unauthorized(status),
                429 => ProviderError::RateLimited(retry_after),
                500..=599 => ProviderError::Server { status, message },
                _ => ProviderError::Rejected { status, message },
            });
        }
        Ok(reply_events(response, timeout))
    }
}

impl Provider for OpenAiCompatible {
    fn stream(
        &self,
        request: ChatRequest,
    ) -> Pin<Box<dyn Future<Output = Result<ReplyStream, ProviderError>> + Send + '_>> {
        Box::pin(self.start(request))
    }
}

/// A message in the Chat Completions wire format (tool calls nested as functions).
fn wire_message(message: &ChatMessage) -> Value {
    let mut wire = serde_json::json!({ "role": message.role, "content": message.content });
    if !message.tool_calls.is_empty() {
        wire["tool_calls"] = message
            .tool_calls
            .iter()
            .map(|call| {
                serde_json::json!({
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                })
            })
            .collect();
    }
    if let Some(id) = &message.tool_call_id {
        wire["tool_call_id"] = Value::from(id.as_str());
    }
    wire
}

/// The `error.message` of an OpenAI-style error body, or the body itself.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned())
}

/// One chunk of a streamed completion (only what Hatchery reads).
#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Message,
    finish_reason: Option<String>,
}

/// A whole completion, as a provider answers a request it chose not to stream.
#[derive(Debug, Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<CompletionChoice>,
    usage: Option<Usage>,
}

#[derive(Debug, Deserialize)]
struct CompletionChoice {
    #[serde(default)]
    message: Message,
}

/// A streamed delta or a whole message: text and tool calls (whole or in pieces).
#[derive(Debug, Default, Deserialize)]
struct Message {
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallPiece>,
}

#[derive(Debug, Deserialize)]
struct ToolCallPiece {
    /// Which call of the reply; some providers leave it out and send calls one by one.
    index: Option<u32>,
    id: Option<String>,
    function: Option<FunctionPiece>,
}

#[derive(Debug, Deserialize)]
struct FunctionPiece {
    name: Option<String>,
    arguments: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// The largest completion read when a provider answers with one JSON body.
const MAX_JSON_REPLY_BYTES: usize = 8 << 20;

/// The events of a response, whichever valid shape the provider chose: Server-Sent Events
/// (see [`sse_events`]) or, for a provider that does not stream this request (some do not
/// when tools are offered), one JSON completion. Dropping the stream (a cancelled run)
/// closes the connection.
fn reply_events(response: reqwest::Response, timeout: Duration) -> ReplyStream {
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    if is_json {
        Box::pin(async_stream::try_stream! {
            for event in json_events(response, timeout).await? {
                yield event;
            }
        })
    } else {
        sse_events(response, timeout)
    }
}

/// Each SSE `data:` chunk becomes zero or more events. The reply ends at `[DONE]`, or when
/// the stream closes after a choice said why it finished (some providers send no
/// `[DONE]`); closing before that is a cut-off reply, and silence longer than `timeout`
/// fails.
fn sse_events(response: reqwest::Response, timeout: Duration) -> ReplyStream {
    Box::pin(async_stream::try_stream! {
        let mut sse = response.bytes_stream().eventsource();
        let mut calls = CallIndexes::default();
        let mut finished = false;
        loop {
            let next = tokio::time::timeout(timeout, sse.next())
                .await
                .map_err(|_| ProviderError::Timeout(timeout))?;
            let Some(event) = next else {
                if finished {
                    break;
                }
                Err(ProviderError::Malformed("the stream ended before the reply was finished".into()))?;
                break;
            };
            let event = event.map_err(|err| ProviderError::Malformed(err.to_string()))?;
            let data = event.data.trim();
            if data == "[DONE]" {
                break;
            }
            if data.is_empty() {
                continue;
            }
            let chunk: Chunk = serde_json::from_str(data)
                .map_err(|err| ProviderError::Malformed(format!("{err} in {data:.80}")))?;
            let mut events = Vec::new();
            for choice in chunk.choices {
                finished |= choice.finish_reason.is_some();
                message_events(choice.delta, &mut calls, &mut events);
            }
            events.extend(chunk.usage.map(Usage::event));
            for event in events {
                yield event;
            }
        }
    })
}

/// The events of one JSON completion, read whole (up to [`MAX_JSON_REPLY_BYTES`]).
async fn json_events(
    response: reqwest::Response,
    timeout: Duration,
) -> Result<Vec<StreamEvent>, ProviderError> {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = tokio::time::timeout(timeout, chunks.next())
        .await
        .map_err(|_| ProviderError::Timeout(timeout))?
    {
        let chunk = chunk.map_err(|err| ProviderError::Malformed(err.to_string()))?;
        if body.len() + chunk.len() > MAX_JSON_REPLY_BYTES {
            return Err(ProviderError::Malformed(format!(
                "the completion is larger than {} MiB",
                MAX_JSON_REPLY_BYTES >> 20
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let completion: Completion = serde_json::from_slice(&body).map_err(|err| {
        ProviderError::Malformed(format!("{err} in {:.80}", String::from_utf8_lossy(&body)))
    })?;
    let mut calls = CallIndexes::default();
    let mut events = Vec::new();
    for choice in completion.choices {
        message_events(choice.message, &mut calls, &mut events);
    }
    events.extend(completion.usage.map(Usage::event));
    Ok(events)
}

impl Usage {
    fn event(self) -> StreamEvent {
        StreamEvent::Usage {
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
        }
    }
}

/// Numbers the tool calls of providers that leave out `index`: a piece with an id starts
/// the next call, a piece without one continues the last.
#[derive(Debug, Default)]
struct CallIndexes {
    started: u32,
}

impl CallIndexes {
    fn index_of(&mut self, piece: &ToolCallPiece) -> u32 {
        match (piece.index, &piece.id) {
            (Some(index), _) => {
                self.started = self.started.max(index + 1);
                index
            }
            (None, Some(_)) => {
                self.started += 1;
                self.started - 1
            }
            (None, None) => self.started.saturating_sub(1),
        }
    }
}

/// Appends the events of a delta or whole message: its text, then its tool-call pieces.
fn message_events(message: Message, calls: &mut CallIndexes, events: &mut Vec<StreamEvent>) {
    if let Some(text) = message.content.filter(|text| !text.is_empty()) {
        events.push(StreamEvent::Token(text));
    }
    for piece in message.tool_calls {
        let index = calls.index_of(&piece);
        let (name, arguments) = match piece.function {
            Some(function) => (function.name, function.arguments.unwrap_or_default()),
            None => (None, String::new()),
        };
        events.push(StreamEvent::ToolCallDelta {
            index,
            id: piece.id,
            name,
            arguments,
        });
    }
}
