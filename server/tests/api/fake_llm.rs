//! A fake OpenAI-compatible Chat Completions server for tests: real HTTP and real SSE over
//! a real socket on 127.0.0.1, answering each request with the next scripted reply (of the
//! agent whose instructions it carries, when scripted per agent) and recording what it was
//! sent.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::{Value, json};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// A 200 SSE stream: each `data:` payload after its delay; `done` adds `[DONE]`.
    Stream {
        chunks: Vec<(Duration, String)>,
        done: bool,
    },
    /// A 200 `application/json` completion, as some providers answer even a stream request.
    Json(Value),
    /// An error status with headers and a body.
    Error {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
}

impl Scripted {
    /// A reply streaming `tokens` one chunk each, then usage and `[DONE]`.
    pub fn tokens(tokens: &[&str], every: Duration) -> Self {
        let mut chunks: Vec<_> = tokens
            .iter()
            .map(|token| (every, content_chunk(token)))
            .collect();
        chunks.push((Duration::ZERO, usage_chunk(11, tokens.len() as u64)));
        Self::Stream { chunks, done: true }
    }
}

/// The SSE payload of a chunk carrying `text`.
pub fn content_chunk(text: &str) -> String {
    json!({"choices": [{"index": 0, "delta": {"content": text}}]}).to_string()
}

/// The SSE payload of a chunk that ends the choice for `reason` (`stop`, `tool_calls`).
pub fn finish_chunk(reason: &str) -> String {
    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}).to_string()
}

/// The SSE payload of the final usage chunk.
pub fn usage_chunk(prompt: u64, completion: u64) -> String {
    json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}})
        .to_string()
}

/// The SSE payload of a piece of tool call `index`.
pub fn tool_call_chunk(
    index: u32,
    id: Option<&str>,
    name: Option<&str>,
    arguments: &str,
) -> String {
    let mut call = json!({"index": index, "function": {"arguments": arguments}});
    if let Some(id) = id {
        call["id"] = json!(id);
        call["type"] = json!("function");
    }
    if let Some(name) = name {
        call["function"]["name"] = json!(name);
    }
    json!({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}).to_string()
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Scripted>>,
    /// Scripts per agent: a request whose system message contains the key takes the next
    /// reply of that script.
    routes: Mutex<Vec<(String, VecDeque<Scripted>)>>,
    received: Mutex<Vec<(HeaderMap, Value)>>,
}

/// A running fake provider.
pub struct FakeLlm {
    /// Its base URL, as `HATCHERY_LLM_BASE_URL` would name it.
    pub base_url: String,
    shared: Arc<Shared>,
}

impl FakeLlm {
    /// Starts a fake provider that answers with `script`, one reply per request.
    pub async fn start(script: Vec<Scripted>) -> Self {
        Self::serve(Shared {
            script: Mutex::new(script.into()),
            ..Shared::default()
        })
        .await
    }

    /// Starts a fake provider scripted per agent: a request whose system message contains
    /// a route's key (a phrase of that agent's instructions) gets that route's next reply,
    /// and its last one again once the others are used up.
    pub async fn routed(routes: Vec<(&str, Vec<Scripted>)>) -> Self {
        Self::serve(Shared {
            routes: Mutex::new(
                routes
                    .into_iter()
                    .map(|(key, script)| (key.to_owned(), script.into()))
                    .collect(),
            ),
            ..Shared::default()
        })
        .await
    }

    async fn serve(shared: Shared) -> Self {
        let shared = Arc::new(shared);
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base_url: format!("http://{addr}/v1"),
            shared,
        }
    }

    /// The requests received so far: their headers and JSON bodies.
    pub fn received(&self) -> Vec<(HeaderMap, Value)> {
        self.shared.received.lock().unwrap().clone()
    }
}

async fn complete(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let system = body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    shared.received.lock().unwrap().push((headers, body));
    let routed = shared
        .routes
        .lock()
        .unwrap()
        .iter_mut()
        .find(|(key, _)| system.contains(key.as_str()))
        .map(|(_, script)| {
            if script.len() > 1 {
                script.pop_front()
            } else {
                script.front().cloned()
            }
        });
    let next = match routed {
        Some(next) => next,
        None => shared.script.lock().unwrap().pop_front(),
    };
    match next {
        None => Response::builder()
            .status(500)
            .body(Body::from("no scripted reply left"))
            .unwrap(),
        Some(Scripted::Error {
            status,
            headers,
            body,
        }) => {
            let mut response = Response::builder().status(StatusCode::from_u16(status).unwrap());
            for (name, value) in headers {
                response = response.header(name, value);
            }
            response.body(Body::from(body)).unwrap()
        }
        Some(Scripted::Json(completion)) => Json(completion).into_response(),
        Some(Scripted::Stream { chunks, done }) => {
            let stream = async_stream::stream! {
                for (delay, data) in chunks {
                    tokio::time::sleep(delay).await;
                    yield Ok::<_, std::io::Error>(Bytes::from(format!("data: {data}\n\n")));
                }
                if done {
                    yield Ok(Bytes::from_static(b"data: [DONE]\n\n"));
                }
            };
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    }
}
