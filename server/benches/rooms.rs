//! Load generator for rooms: the real `hatchery` binary running a room of agents that all
//! answer at once from a fake OpenAI-compatible provider (in this process), followed by a
//! WebSocket client on the room's topic (also in this process), so that one clock times a
//! token from the moment the provider writes it to the moment its `stream_chunk` frame
//! reaches the client. Then the server time of one turn, in a room with a short history and
//! in one with a long history.
//!
//! ```text
//! cargo bench -p hatchery-server --bench rooms -- [--agents 8] [--rounds 10] [--rate 200] [--tokens 40] [--turns 20]
//! ```

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::{Json, Router, routing::post};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use support::{Args, Server, serve_provider, streamed_reply};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

/// The clock both sides read.
static START: OnceLock<Instant> = OnceLock::new();

fn micros() -> u64 {
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_micros()).unwrap_or(u64::MAX)
}

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

fn main() {
    let args = Args::parse("rooms");
    let agents = args.number("agents", 8);
    let rounds = args.number("rounds", 10);
    let rate = args.number("rate", 200);
    let tokens = args.number("tokens", 40);
    let turns = args.number("turns", 20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        micros();
        let provider = fake_provider(rate, tokens).await;
        let env = [
            ("HATCHERY_AUTH", "disabled"),
            ("HATCHERY_LLM_BASE_URL", provider.as_str()),
            ("HATCHERY_MAX_CONCURRENT_RUNS", "1000"),
            ("HATCHERY_MAX_RUNS_PER_USER", "1000"),
        ];
        let server = Server::start(false, &env).await;
        let api = Api {
            client: reqwest::Client::new(),
            base: format!("http://{}", server.addr),
        };
        streaming(&api, &server, agents, rounds, rate).await;
        for history in [100, 10_000] {
            turn_time(&api, &server, history, turns).await;
        }
    });
}

/// A provider that streams `tokens` tokens at `rate` per second, each token's text the
/// microsecond it was written; an agent whose instructions say "quick" gets one token at
/// once.
async fn fake_provider(rate: u64, tokens: u64) -> String {
    let every = Duration::from_micros(1_000_000 / rate.max(1));
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| async move {
            let quick = body["messages"][0]["content"]
                .as_str()
                .is_some_and(|system| system.contains("quick"));
            let token = || format!("{} ", micros());
            if quick {
                streamed_reply(None, 1, token)
            } else {
                streamed_reply(Some(every), tokens, token)
            }
        }),
    );
    serve_provider(app).await
}

/// The server's API.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("the server answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    /// A new agent named `name` with `instructions`; its id.
    async fn agent(&self, name: &str, instructions: &str) -> String {
        let agent = self
            .post(
                "/api/agents",
                json!({"name": name, "system_instructions": instructions}),
            )
            .await;
        agent["id"].as_str().expect("an id").to_owned()
    }

    /// A new room with `agents` as participants and `settings`; its id.
    async fn room(&self, name: &str, agents: &[String], settings: Value) -> String {
        let members: Vec<Value> = agents.iter().map(|id| json!({"agent_id": id})).collect();
        let room = self
            .post(
                "/api/rooms",
                json!({"name": name, "settings": settings, "members": members}),
            )
            .await;
        room["id"].as_str().expect("an id").to_owned()
    }

    /// A WebSocket following `room:{id}`.
    async fn follow(&self, room: &str) -> Socket {
        let url = format!("{}/api/ws", self.base.replacen("http", "ws", 1));
        let (mut ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("a WebSocket");
        let subscribe = json!({"v": 1, "type": "subscribe",
            "data": {"topics": [{"topic": format!("room:{room}")}]}});
        ws.send(Message::text(subscribe.to_string()))
            .await
            .expect("subscribed");
        while let Some(Ok(frame)) = ws.next().await {
            if let Message::Text(text) = frame
                && text.contains("\"subscribed\"")
            {
                break;
            }
        }
        ws
    }
}

/// The next frame of type `kind` on `ws`, with the microsecond it arrived.
async fn next_of(ws: &mut Socket, kind: &str) -> (Value, u64) {
    while let Some(Ok(frame)) = ws.next().await {
        let Message::Text(text) = frame else { continue };
        let now = micros();
        let envelope: Value = serde_json::from_str(&text).expect("JSON");
        if envelope["type"] == kind {
            return (envelope, now);
        }
    }
    panic!("the socket ended before a {kind}");
}

/// `agents` participants answering at once for `rounds` rounds after one message: how long
/// each token took from the provider to the room's WebSocket client.
async fn streaming(api: &Api, server: &Server, agents: u64, rounds: u64, rate: u64) {
    let mut ids = Vec::new();
    for n in 0..agents {
        ids.push(api.agent(&format!("agent {n}"), "Answer.").await);
    }
    let room = api
        .room(
            "streaming",
            &ids,
            json!({"turn_policy": "all_at_once", "max_rounds_per_message": rounds, "max_turns": 100_000}),
        )
        .await;
    let mut ws = api.follow(&room).await;
    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("a histogram");
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    api.post(
        &format!("/api/rooms/{room}/messages"),
        json!({"content": "go"}),
    )
    .await;
    let mut messages = 0;
    while messages < agents * rounds {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("the socket ended");
        };
        let now = micros();
        let envelope: Value = serde_json::from_str(&text).expect("JSON");
        match envelope["type"].as_str() {
            Some("stream_chunk") => {
                if let Some(sent) = envelope["data"]["text"]
                    .as_str()
                    .and_then(|t| t.trim().parse::<u64>().ok())
                {
                    let _ = latency.record(now.saturating_sub(sent).max(1));
                }
            }
            // The person's message is announced too: only the agents' replies count.
            Some("room_message_created") if envelope["data"]["author_kind"] == "agent" => {
                messages += 1;
            }
            _ => {}
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{agents} agents at once, {rounds} rounds, {rate} tokens/s each: {} tokens in {wall:.1} s",
        latency.len()
    );
    println!(
        "  provider → room's WebSocket client: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(0.5),
        ms(0.99),
        latency.max() as f64 / 1000.0
    );
    println!("  server CPU: {cpu:.2} s = {:.2} of a core", cpu / wall);
}

/// The server time of one turn in a room holding `history` messages: from a person's
/// message to the agent's stored reply, with a provider that answers one token at once.
async fn turn_time(api: &Api, server: &Server, history: u64, turns: u64) {
    let room = api
        .room(
            &format!("history {history}"),
            &[],
            json!({"max_turns": 100_000}),
        )
        .await;
    let path = format!("/api/rooms/{room}/messages");
    for n in 0..history {
        api.post(
            &path,
            json!({"content": format!("message {n} of the history")}),
        )
        .await;
    }
    let agent = api.agent(&format!("quick {history}"), "Be quick.").await;
    api.post(
        &format!("/api/rooms/{room}/members"),
        json!({"agent_id": agent}),
    )
    .await;
    let mut ws = api.follow(&room).await;
    let mut times = Vec::new();
    let cpu_before = server.cpu_seconds();
    for _ in 0..turns {
        let spoke = micros();
        api.post(&path, json!({"content": "go"})).await;
        // The person's message, then the agent's.
        next_of(&mut ws, "room_message_created").await;
        let (_, answered) = next_of(&mut ws, "room_message_created").await;
        times.push(answered - spoke);
        // The room at rest again before the next message.
        loop {
            let (room, _) = next_of(&mut ws, "room_updated").await;
            if room["data"]["state"] == "idle" {
                break;
            }
        }
    }
    let cpu = server.cpu_seconds() - cpu_before;
    times.sort_unstable();
    let ms = |q: f64| times[((times.len() - 1) as f64 * q) as usize] as f64 / 1000.0;
    println!(
        "a turn in a room of {history} messages: median {:.2} ms, p90 {:.2} ms ({turns} turns, server CPU {:.1} ms a turn)",
        ms(0.5),
        ms(0.9),
        cpu * 1000.0 / turns as f64
    );
}
