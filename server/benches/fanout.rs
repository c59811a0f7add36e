//! Load generator for the real-time hub: real WebSocket clients against the real `hatchery`
//! binary, publishing through its REST API.
//!
//! ```text
//! cargo bench -p hatchery-server --bench fanout -- fanout  [--subs 1000] [--secs 10] [--publishers 32] [--window 200] [--pin]
//! cargo bench -p hatchery-server --bench fanout -- latency [--subs 100] [--rate 1000] [--secs 10] [--pin]
//! cargo bench -p hatchery-server --bench fanout -- idle    [--conns 10000] [--secs 30] [--pin]
//! ```
//! `--pin` runs the server on core 1 and this generator on core 0, one runtime thread each.
//! Latency is measured from a timestamp the publisher writes into each event's payload.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use support::{Args, Server, cpu_seconds, pin};
use tokio::task::LocalSet;
use tokio_tungstenite::tungstenite::{Message, protocol::WebSocketConfig};

/// Payload filler so that each event's `data` is about 100 bytes.
const FILL: &str = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij";

fn main() {
    let args = Args::parse("fanout");
    if args.flag("pin") {
        pin(std::process::id(), 0);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    LocalSet::new().block_on(&runtime, async move {
        let heartbeat = args.number("heartbeat-ms", 25_000).to_string();
        let env = [
            ("HATCHERY_AUTH", "disabled"),
            ("HATCHERY_WS_HEARTBEAT_MS", heartbeat.as_str()),
            ("HATCHERY_WS_MAX_CONNECTIONS_PER_USER", "100000"),
        ];
        let server = Server::start(args.flag("pin"), &env).await;
        match args.scenario.as_str() {
            "fanout" => {
                fanout(
                    &server,
                    args.number("subs", 1000),
                    args.number("secs", 10),
                    args.number("publishers", 32),
                    args.number("window", 200),
                )
                .await;
            }
            "latency" => {
                latency(
                    &server,
                    args.number("subs", 100),
                    args.number("rate", 1000),
                    args.number("secs", 10),
                )
                .await;
            }
            "idle" => {
                idle(
                    &server,
                    args.number("conns", 10_000),
                    args.number("secs", 30),
                )
                .await
            }
            other => eprintln!("unknown scenario {other:?}: fanout, latency or idle"),
        }
    });
}

/// What all subscribers saw, shared by their tasks (one thread).
#[derive(Default)]
struct Tally {
    delivered: Cell<u64>,
    /// The last `seq` each subscriber received, so publishers can wait for the slowest.
    last_seqs: RefCell<Vec<u64>>,
    /// Publishers waiting for deliveries to catch up (see `fanout`).
    waiting: Cell<bool>,
    caught_up: tokio::sync::Notify,
    gaps: Cell<u64>,
    closed: Cell<u64>,
    latency_us: RefCell<Option<Histogram<u64>>>,
}

/// Microseconds since the generator started: the clock written into payloads.
fn micros(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Opens `count` sockets (subscribed to `topic` when given) and reads them in tasks.
async fn connect(
    server: &Server,
    count: u64,
    topic: Option<&str>,
    tally: &Rc<Tally>,
    start: Instant,
) {
    let url = format!("ws://{}/api/ws", server.addr);
    let config = WebSocketConfig::default().read_buffer_size(4 << 10);
    for index in 0..count {
        let index = usize::try_from(index).expect("a count that fits memory");
        tally.last_seqs.borrow_mut().push(0);
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
            .await
            .expect("a WebSocket connection");
        if let Some(topic) = topic {
            let subscribe = format!(
                r#"{{"v":1,"type":"subscribe","data":{{"topics":[{{"topic":"{topic}"}}]}}}}"#
            );
            ws.send(Message::Text(subscribe.into()))
                .await
                .expect("subscribe");
            // hello, subscribed (own topic), subscribed (topic)
            for _ in 0..3 {
                ws.next().await.expect("a reply").expect("a frame");
            }
        }
        let tally = tally.clone();
        tokio::task::spawn_local(async move {
            let mut last_seq = 0;
            while let Some(Ok(frame)) = ws.next().await {
                let Message::Text(text) = frame else { continue };
                if text.starts_with(r#"{"v":1,"type":"ping""#) {
                    let _ = ws
                        .send(Message::Text(r#"{"v":1,"type":"pong"}"#.into()))
                        .await;
                    continue;
                }
                let (Some(sent), Some(seq)) = (sent_at(&text), seq_of(&text)) else {
                    continue;
                };
                if seq != last_seq + 1 && last_seq != 0 {
                    tally.gaps.set(tally.gaps.get() + 1);
                }
                last_seq = seq;
                tally.last_seqs.borrow_mut()[index] = seq;
                tally.delivered.set(tally.delivered.get() + 1);
                if tally.waiting.replace(false) {
                    tally.caught_up.notify_waiters();
                }
                if let Some(histogram) = tally.latency_us.borrow_mut().as_mut() {
                    let _ = histogram.record(micros(start).saturating_sub(sent).max(1));
                }
            }
            tally.closed.set(tally.closed.get() + 1);
        });
    }
}

/// The publisher's timestamp: serde writes a notice's text at a fixed offset, so look there
/// first (the generator must stay cheaper than the server it measures).
fn sent_at(text: &str) -> Option<u64> {
    const TEXT_AT: usize = r#"{"v":1,"type":"notice","data":{"level":"info","text":"t="#.len();
    if text.get(TEXT_AT - 2..TEXT_AT) == Some("t=") {
        return number_after(text, TEXT_AT);
    }
    number_after(text, text.find("t=")? + 2)
}

/// The frame's `seq`, which serde writes near its end.
fn seq_of(text: &str) -> Option<u64> {
    const MARKER: &str = r#""seq":"#;
    number_after(text, text.rfind(MARKER)? + MARKER.len())
}

/// The decimal number that starts at byte `at` of `text`.
fn number_after(text: &str, at: usize) -> Option<u64> {
    let digits = text.get(at..)?.as_bytes();
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    text.get(at..at + end)?.parse().ok()
}

/// Publishes one notice stamped with the current time.
async fn publish(client: &reqwest::Client, url: &str, start: Instant) {
    let body = format!(
        r#"{{"type":"notice","data":{{"level":"info","text":"t={} {FILL}"}}}}"#,
        micros(start)
    );
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the publish request completes");
    assert_eq!(response.status(), 202, "publish refused");
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

fn report_latency(tally: &Tally) {
    if let Some(histogram) = tally.latency_us.borrow().as_ref() {
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "latency ms: p50 {:.3}  p99 {:.3}  p999 {:.3}  max {:.3}",
            ms(0.5),
            ms(0.99),
            ms(0.999),
            histogram.max() as f64 / 1000.0
        );
    }
}

/// Waits until `expected` deliveries arrived or nothing moved for two seconds.
async fn drain(tally: &Tally, expected: u64) {
    let mut last = tally.delivered.get();
    let mut still = Instant::now();
    while tally.delivered.get() < expected && still.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if tally.delivered.get() != last {
            last = tally.delivered.get();
            still = Instant::now();
        }
    }
}

/// One topic, `subs` subscribers, publishes as fast as the server delivers them from
/// `publishers` concurrent HTTP clients, with at most `window` publishes not yet received
/// by the slowest subscriber (under each connection's queue limit of 500 frames, so a
/// generator that falls behind slows the publishers instead of being cut off).
async fn fanout(server: &Server, subs: u64, secs: u64, publishers: u64, window: u64) {
    let start = Instant::now();
    let tally = Rc::new(Tally::default());
    connect(server, subs, Some("ops"), &tally, start).await;
    *tally.latency_us.borrow_mut() = Some(new_histogram());
    let url = format!("http://{}/api/topics/ops/events", server.addr);
    let published = Rc::new(Cell::new(0u64));
    let (cpu_before, own_before, measure_from) = (
        server.cpu_seconds(),
        cpu_seconds(std::process::id()),
        Instant::now(),
    );
    let deadline = measure_from + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..publishers {
        let (tally, published, url) = (tally.clone(), published.clone(), url.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let client = reqwest::Client::new();
            while Instant::now() < deadline {
                let slowest = tally.last_seqs.borrow().iter().copied().min().unwrap_or(0);
                if published.get() >= slowest + window {
                    let caught_up = tally.caught_up.notified();
                    tally.waiting.set(true);
                    caught_up.await;
                    continue;
                }
                published.set(published.get() + 1);
                publish(&client, &url, start).await;
            }
        }));
    }
    for publisher in tasks {
        publisher.await.expect("a publisher");
    }
    drain(&tally, published.get() * subs).await;
    let elapsed = measure_from.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu_before;
    let own = cpu_seconds(std::process::id()) - own_before;
    let delivered = tally.delivered.get();
    let expected = published.get() * subs;
    println!(
        "fanout: {subs} subscribers, {} publishes in {elapsed:.1} s",
        published.get()
    );
    println!(
        "deliveries/s: {:.0}  loss: {} of {expected}  gaps: {}  closed: {}  server CPU: {cpu:.2} s ({:.3} µs/delivery)  generator CPU: {own:.2} s",
        delivered as f64 / elapsed,
        expected.saturating_sub(delivered),
        tally.gaps.get(),
        tally.closed.get(),
        cpu * 1e6 / delivered.max(1) as f64,
    );
    report_latency(&tally);
}

/// `rate` publishes per second to `subs` subscribers: delivery latency.
async fn latency(server: &Server, subs: u64, rate: u64, secs: u64) {
    let start = Instant::now();
    let tally = Rc::new(Tally::default());
    connect(server, subs, Some("ops"), &tally, start).await;
    *tally.latency_us.borrow_mut() = Some(new_histogram());
    let url = Rc::new(format!("http://{}/api/topics/ops/events", server.addr));
    let client = reqwest::Client::new();
    let mut ticks =
        tokio::time::interval(Duration::from_secs(1) / u32::try_from(rate).unwrap_or(1000));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = rate * secs;
    for _ in 0..total {
        ticks.tick().await;
        let (client, url) = (client.clone(), url.clone());
        tokio::task::spawn_local(async move { publish(&client, &url, start).await });
    }
    drain(&tally, total * subs).await;
    println!("latency: {subs} subscribers, {rate} publishes/s for {secs} s");
    println!(
        "delivered: {} of {}  gaps: {}  closed: {}",
        tally.delivered.get(),
        total * subs,
        tally.gaps.get(),
        tally.closed.get()
    );
    report_latency(&tally);
}

/// `conns` idle connections held for `secs` seconds: memory per connection, and whether
/// heartbeats kept every one open.
async fn idle(server: &Server, conns: u64, secs: u64) {
    let start = Instant::now();
    let tally = Rc::new(Tally::default());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = server.rss_kib();
    connect(server, conns, None, &tally, start).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    println!(
        "idle: {conns} connections, server RSS {before} KiB -> {after} KiB: {:.2} KiB per connection",
        (after.saturating_sub(before)) as f64 / conns as f64
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    println!(
        "after {secs} s: {} of {conns} connections closed, server RSS {} KiB",
        tally.closed.get(),
        server.rss_kib()
    );
}
