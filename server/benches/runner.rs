//! Load generator for the runner: the real `hatchery` binary streaming many replies at once
//! from a fake OpenAI-compatible provider (in this process) to WebSocket clients (also in
//! this process), so that one clock times a token from the moment the provider writes it
//! to the moment its `stream_chunk` frame reaches a client.
//!
//! ```text
//! cargo bench -p hatchery-server --bench runner -- [--runs 50] [--rate 200] [--secs 10] [--pin]
//! ```
//! Each token's text carries the microsecond it was written; the report gives the latency
//! quantiles and the server's CPU use while the replies stream.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::{
    cell::RefCell,
    rc::Rc,
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::{Router, routing::post};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use support::{Args, Server, cpu_seconds, pin, serve_provider, streamed_reply};
use tokio::task::LocalSet;
use tokio_tungstenite::tungstenite::Message;

/// The clock both sides read.
static START: OnceLock<Instant> = OnceLock::new();

fn micros() -> u64 {
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn main() {
    let args = Args::parse("runner");
    if args.flag("pin") {
        pin(std::process::id(), 0);
    }
    let runs = args.number("runs", 50);
    let rate = args.number("rate", 200);
    let secs = args.number("secs", 10);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    LocalSet::new().block_on(&runtime, async move {
        micros();
        let provider = fake_provider(rate, rate * secs).await;
        let env = [
            ("HATCHERY_AUTH", "disabled"),
            ("HATCHERY_LLM_BASE_URL", provider.as_str()),
            ("HATCHERY_MAX_CONCURRENT_RUNS", "1000"),
            ("HATCHERY_MAX_RUNS_PER_USER", "1000"),
            ("HATCHERY_WS_MAX_CONNECTIONS_PER_USER", "100000"),
        ];
        let server = Server::start(args.flag("pin"), &env).await;
        measure(&server, runs, rate, secs).await;
    });
}

/// A provider that streams `tokens` tokens at `rate` per second for every request, each
/// token's text the microsecond it was written.
async fn fake_provider(rate: u64, tokens: u64) -> String {
    let every = Duration::from_micros(1_000_000 / rate.max(1));
    let app = Router::new().route(
        "/v1/chat/completions",
        post(
            move || async move { streamed_reply(Some(every), tokens, || format!("{} ", micros())) },
        ),
    );
    serve_provider(app).await
}

/// Starts `runs` replies at once, each followed by its own WebSocket client, and reports.
async fn measure(server: &Server, runs: u64, rate: u64, secs: u64) {
    let client = reqwest::Client::new();
    let api = |path: &str| format!("http://{}{path}", server.addr);
    let agent: Value = client
        .post(api("/api/agents"))
        .json(&json!({"name": "bench"}))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("an agent");
    let agent = agent["id"].as_str().expect("an id").to_owned();
    let latency = Rc::new(RefCell::new(
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("a histogram"),
    ));
    let mut threads = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..runs {
        let thread: Value = client
            .post(api(&format!("/api/agents/{agent}/threads")))
            .json(&json!({}))
            .send()
            .await
            .expect("the server answers")
            .json()
            .await
            .expect("a thread");
        let thread = thread["id"].as_str().expect("an id").to_owned();
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/api/ws", server.addr))
            .await
            .expect("a WebSocket");
        let subscribe = json!({"v": 1, "type": "subscribe",
            "data": {"topics": [{"topic": format!("thread:{thread}")}]}});
        ws.send(Message::text(subscribe.to_string()))
            .await
            .expect("subscribed");
        let latency = latency.clone();
        readers.push(tokio::task::spawn_local(async move {
            let mut received = 0u64;
            while let Some(Ok(frame)) = ws.next().await {
                let Message::Text(text) = frame else { continue };
                let now = micros();
                let Ok(envelope) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                match envelope["type"].as_str() {
                    Some("stream_chunk") => {
                        if let Some(sent) = envelope["data"]["text"]
                            .as_str()
                            .and_then(|t| t.trim().parse::<u64>().ok())
                        {
                            let _ = latency.borrow_mut().record(now.saturating_sub(sent).max(1));
                            received += 1;
                        }
                    }
                    Some("stream_end") => break,
                    _ => {}
                }
            }
            received
        }));
        threads.push(thread);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    for thread in &threads {
        let response = client
            .post(api(&format!("/api/threads/{thread}/messages")))
            .json(&json!({"content": "go"}))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 202, "a run starts");
    }
    let mut received = 0;
    for reader in readers {
        received += reader.await.expect("a reader");
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let latency = latency.borrow();
    let ms = |q: f64| latency.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{runs} replies at {rate} tokens/s for {secs} s: {received} tokens received of {} sent",
        runs * rate * secs
    );
    println!(
        "  provider → WebSocket client: p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        latency.max() as f64 / 1000.0
    );
    println!(
        "  server CPU: {:.2} s over {wall:.1} s = {:.2} of a core; generator CPU {:.1} s",
        cpu,
        cpu / wall,
        cpu_seconds(std::process::id())
    );
}
