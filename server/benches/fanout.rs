//! Load generator for the real-time hub: real WebSocket clients against the real `hatchery`
//! binary, publishing through its REST API; and the same generator against the floor, a
//! bare broadcast server that re-sends each frame a client sends to every socket
//! (`../shared/tools/wsfloor`, built on first use), so that the two are measured side by
//! side.
//!
//! ```text
//! cargo bench -p hatchery-server --bench fanout -- fanout  [--subs 1000] [--secs 10] [--publishers 256] [--window 300] [--pin] [--floor]
//! cargo bench -p hatchery-server --bench fanout -- latency [--subs 100] [--rate 1000] [--secs 10] [--pin] [--floor]
//! cargo bench -p hatchery-server --bench fanout -- idle    [--conns 10000] [--secs 30] [--pin] [--floor]
//! cargo bench -p hatchery-server --bench fanout -- compare [--runs 3] [--secs 10] [--pin]
//! ```
//! `--pin` runs the server on core 1 and this generator on core 0, one runtime thread each.
//! `--floor` runs a scenario against the floor instead of Hatchery; `compare` runs every
//! scenario against both, one after the other, and prints the medians and their ratios.
//! Latency is measured from a timestamp the publisher writes into each event's payload.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

mod support;

use std::{
    cell::{Cell, RefCell},
    path::PathBuf,
    process::Stdio,
    rc::Rc,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt, stream::SplitSink};
use hdrhistogram::Histogram;
use support::{Args, Server, cpu_seconds, pin, rss_kib};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::TcpStream,
    process::{Child, Command},
    task::LocalSet,
};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, protocol::WebSocketConfig},
};

/// Payload filler so that each event's `data` is about 100 bytes.
const FILL: &str = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

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
        let kind = if args.flag("floor") {
            Kind::Floor
        } else {
            Kind::Hatchery
        };
        let pinned = args.flag("pin");
        let heartbeat = args.number("heartbeat-ms", 25_000);
        let secs = args.number("secs", 10);
        match args.scenario.as_str() {
            "fanout" => {
                let target = Target::start(kind, pinned, heartbeat).await;
                let scenario = Fanout {
                    subs: args.number("subs", 1000),
                    secs,
                    publishers: args.number("publishers", 256),
                    window: args.number("window", 300),
                };
                scenario.run(&target).await.print(&target, &scenario);
            }
            "latency" => {
                let target = Target::start(kind, pinned, heartbeat).await;
                let scenario = Latency {
                    subs: args.number("subs", 100),
                    rate: args.number("rate", 1000),
                    secs,
                };
                scenario.run(&target).await.print(&target, &scenario);
            }
            "idle" => {
                let target = Target::start(kind, pinned, heartbeat).await;
                let scenario = Idle {
                    conns: args.number("conns", 10_000),
                    secs: args.number("secs", 30),
                };
                scenario.run(&target).await.print(&target, &scenario);
            }
            "compare" => compare(args.number("runs", 3), secs, pinned).await,
            other => eprintln!("unknown scenario {other:?}: fanout, latency, idle or compare"),
        }
    });
}

/// Which server a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The `hatchery` binary: subscribers follow `ops`, publishes go through REST.
    Hatchery,
    /// The floor: every socket gets every frame, published over a socket of its own.
    Floor,
}

/// A running server under test.
enum Target {
    Hatchery(Server),
    Floor { child: Child, addr: String },
}

impl Target {
    /// Starts a fresh server of `kind` (on core 1 when `pinned`, one runtime thread).
    async fn start(kind: Kind, pinned: bool, heartbeat_ms: u64) -> Self {
        match kind {
            Kind::Hatchery => {
                let heartbeat = heartbeat_ms.to_string();
                let env = [
                    ("HATCHERY_AUTH", "disabled"),
                    ("HATCHERY_WS_HEARTBEAT_MS", heartbeat.as_str()),
                    ("HATCHERY_WS_MAX_CONNECTIONS_PER_USER", "100000"),
                ];
                Self::Hatchery(Server::start(pinned, &env).await)
            }
            Kind::Floor => {
                let mut child = Command::new(floor_binary())
                    .args(["--addr", "127.0.0.1:0", "--threads", "1"])
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("the floor server starts");
                if pinned {
                    pin(child.id().expect("a pid"), 1);
                }
                let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
                let addr = loop {
                    let line = lines.next_line().await.ok().flatten().expect("it listens");
                    if let Some(addr) = line.strip_prefix("wsfloor: listening on ") {
                        break addr.to_owned();
                    }
                };
                tokio::task::spawn_local(async move {
                    while let Ok(Some(_)) = lines.next_line().await {}
                });
                Self::Floor { child, addr }
            }
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Self::Hatchery(_) => Kind::Hatchery,
            Self::Floor { .. } => Kind::Floor,
        }
    }

    fn name(&self) -> &'static str {
        match self.kind() {
            Kind::Hatchery => "hatchery",
            Kind::Floor => "floor",
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Self::Hatchery(server) => server.pid(),
            Self::Floor { child, .. } => child.id().expect("the floor runs"),
        }
    }

    fn ws_url(&self) -> String {
        match self {
            Self::Hatchery(server) => format!("ws://{}/api/ws", server.addr),
            Self::Floor { addr, .. } => format!("ws://{addr}/"),
        }
    }

    /// Opens a socket that receives the topic's events once this returns (with
    /// `subscribe`; otherwise one that only stays connected).
    async fn join(&self, subscribe: bool) -> Socket {
        let config = WebSocketConfig::default().read_buffer_size(4 << 10);
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(self.ws_url(), Some(config), false)
                .await
                .expect("a WebSocket connection");
        match self.kind() {
            Kind::Hatchery if subscribe => {
                let subscribe = r#"{"v":1,"type":"subscribe","data":{"topics":[{"topic":"ops"}]}}"#;
                ws.send(Message::Text(subscribe.into()))
                    .await
                    .expect("subscribe");
                // hello, subscribed (own topic), subscribed (ops)
                for _ in 0..3 {
                    ws.next().await.expect("a reply").expect("a frame");
                }
            }
            Kind::Hatchery => {}
            // Broadcasts reach the socket once it has said it is ready.
            Kind::Floor => {
                ws.next().await.expect("ready").expect("a frame");
            }
        }
        ws
    }

    /// What publishes: `count` REST clients for Hatchery, one socket for the floor (so that
    /// its frames keep their order, the floor having no sequence numbers of its own).
    async fn publishers(&self, count: u64) -> Vec<Publisher> {
        match self {
            Self::Hatchery(server) => (0..count)
                .map(|_| Publisher::Rest {
                    client: reqwest::Client::new(),
                    url: format!("http://{}/api/topics/ops/events", server.addr),
                })
                .collect(),
            Self::Floor { .. } => {
                let (sink, mut stream) = self.join(true).await.split();
                // The floor sends the publisher its own frames too: read and drop them.
                tokio::task::spawn_local(async move { while stream.next().await.is_some() {} });
                vec![Publisher::Socket { sink, seq: 0 }]
            }
        }
    }
}

/// The floor's binary, built from `../shared/tools/wsfloor` into `target/wsfloor`.
fn floor_binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let source = root.join("../shared/tools/wsfloor/Cargo.toml");
    let target = root.join("target/wsfloor");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&source)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .is_ok_and(|status| status.success());
    assert!(built, "cannot build the floor from {}", source.display());
    target.join("release/wsfloor")
}

/// One publishing client.
enum Publisher {
    /// `POST /api/topics/ops/events` (Hatchery numbers the events).
    Rest {
        client: reqwest::Client,
        url: String,
    },
    /// A text frame on a socket, numbered here.
    Socket {
        sink: SplitSink<Socket, Message>,
        seq: u64,
    },
}

impl Publisher {
    /// Publishes one notice stamped with the current time.
    async fn publish(&mut self, start: Instant) {
        let notice = format!(
            r#""type":"notice","data":{{"level":"info","text":"t={} {FILL}"}}"#,
            micros(start)
        );
        match self {
            Self::Rest { client, url } => {
                let response = client
                    .post(url.as_str())
                    .header("content-type", "application/json")
                    .body(format!("{{{notice}}}"))
                    .send()
                    .await
                    .expect("the publish request completes");
                assert_eq!(response.status(), 202, "publish refused");
            }
            Self::Socket { sink, seq } => {
                *seq += 1;
                let frame = format!(r#"{{{notice},"seq":{seq}}}"#);
                sink.send(Message::Text(frame.into()))
                    .await
                    .expect("the publish frame is sent");
            }
        }
    }
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

/// Opens `count` sockets (subscribed with `subscribe`) and reads them in tasks.
async fn connect(target: &Target, count: u64, subscribe: bool, tally: &Rc<Tally>, start: Instant) {
    for index in 0..count {
        let index = usize::try_from(index).expect("a count that fits memory");
        tally.last_seqs.borrow_mut().push(0);
        let mut ws = target.join(subscribe).await;
        let tally = tally.clone();
        tokio::task::spawn_local(async move {
            let mut last_seq = 0;
            while let Some(Ok(frame)) = ws.next().await {
                let Message::Text(text) = frame else { continue };
                if text.len() < 160 && text.contains(r#""type":"ping""#) {
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

/// The publisher's timestamp: the notice's text starts with it.
fn sent_at(text: &str) -> Option<u64> {
    const MARKER: &str = r#""text":"t="#;
    number_after(text, text.find(MARKER)? + MARKER.len())
}

/// The frame's `seq`, which comes after the payload.
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

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds")
}

/// The latency quantile `q` in milliseconds.
fn latency_ms(tally: &Tally, q: f64) -> f64 {
    tally.latency_us.borrow().as_ref().map_or(0.0, |histogram| {
        histogram.value_at_quantile(q) as f64 / 1000.0
    })
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
/// `publishers` concurrent HTTP clients (one socket for the floor), with at most `window`
/// publishes not yet received by the slowest subscriber (under each connection's queue
/// limit of 500 frames, so a generator that falls behind slows the publishers instead of
/// being cut off).
struct Fanout {
    subs: u64,
    secs: u64,
    publishers: u64,
    window: u64,
}

/// What [`Fanout`] measured.
struct FanoutResult {
    published: u64,
    elapsed: f64,
    delivered: u64,
    expected: u64,
    gaps: u64,
    closed: u64,
    server_cpu: f64,
    generator_cpu: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl FanoutResult {
    fn per_second(&self) -> f64 {
        self.delivered as f64 / self.elapsed
    }

    fn cpu_us_per_delivery(&self) -> f64 {
        self.server_cpu * 1e6 / self.delivered.max(1) as f64
    }

    fn print(&self, target: &Target, scenario: &Fanout) {
        println!(
            "fanout ({}): {} subscribers, {} publishes in {:.1} s",
            target.name(),
            scenario.subs,
            self.published,
            self.elapsed
        );
        println!(
            "deliveries/s: {:.0}  loss: {} of {}  gaps: {}  closed: {}  server CPU: {:.2} s ({:.3} µs/delivery)  generator CPU: {:.2} s",
            self.per_second(),
            self.expected.saturating_sub(self.delivered),
            self.expected,
            self.gaps,
            self.closed,
            self.server_cpu,
            self.cpu_us_per_delivery(),
            self.generator_cpu,
        );
        println!("latency ms: p50 {:.3}  p99 {:.3}", self.p50_ms, self.p99_ms);
    }
}

impl Fanout {
    async fn run(&self, target: &Target) -> FanoutResult {
        let start = Instant::now();
        let tally = Rc::new(Tally::default());
        connect(target, self.subs, true, &tally, start).await;
        *tally.latency_us.borrow_mut() = Some(new_histogram());
        let published = Rc::new(Cell::new(0u64));
        let (cpu_before, own_before, measure_from) = (
            cpu_seconds(target.pid()),
            cpu_seconds(std::process::id()),
            Instant::now(),
        );
        let deadline = measure_from + Duration::from_secs(self.secs);
        let window = self.window;
        let mut tasks = Vec::new();
        for mut publisher in target.publishers(self.publishers).await {
            let (tally, published) = (tally.clone(), published.clone());
            tasks.push(tokio::task::spawn_local(async move {
                while Instant::now() < deadline {
                    let slowest = tally.last_seqs.borrow().iter().copied().min().unwrap_or(0);
                    if published.get() >= slowest + window {
                        let caught_up = tally.caught_up.notified();
                        tally.waiting.set(true);
                        caught_up.await;
                        continue;
                    }
                    published.set(published.get() + 1);
                    publisher.publish(start).await;
                }
            }));
        }
        for publisher in tasks {
            publisher.await.expect("a publisher");
        }
        drain(&tally, published.get() * self.subs).await;
        FanoutResult {
            published: published.get(),
            elapsed: measure_from.elapsed().as_secs_f64(),
            delivered: tally.delivered.get(),
            expected: published.get() * self.subs,
            gaps: tally.gaps.get(),
            closed: tally.closed.get(),
            server_cpu: cpu_seconds(target.pid()) - cpu_before,
            generator_cpu: cpu_seconds(std::process::id()) - own_before,
            p50_ms: latency_ms(&tally, 0.5),
            p99_ms: latency_ms(&tally, 0.99),
        }
    }
}

/// `rate` publishes per second to `subs` subscribers: delivery latency.
struct Latency {
    subs: u64,
    rate: u64,
    secs: u64,
}

/// What [`Latency`] measured.
struct LatencyResult {
    delivered: u64,
    expected: u64,
    gaps: u64,
    closed: u64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
}

impl LatencyResult {
    fn print(&self, target: &Target, scenario: &Latency) {
        println!(
            "latency ({}): {} subscribers, {} publishes/s for {} s",
            target.name(),
            scenario.subs,
            scenario.rate,
            scenario.secs
        );
        println!(
            "delivered: {} of {}  gaps: {}  closed: {}",
            self.delivered, self.expected, self.gaps, self.closed
        );
        println!(
            "latency ms: p50 {:.3}  p99 {:.3}  p999 {:.3}",
            self.p50_ms, self.p99_ms, self.p999_ms
        );
    }
}

impl Latency {
    async fn run(&self, target: &Target) -> LatencyResult {
        let start = Instant::now();
        let tally = Rc::new(Tally::default());
        connect(target, self.subs, true, &tally, start).await;
        *tally.latency_us.borrow_mut() = Some(new_histogram());
        let mut publishers = target.publishers(1).await;
        let mut publisher = publishers.pop().expect("a publisher");
        let mut ticks = tokio::time::interval(
            Duration::from_secs(1) / u32::try_from(self.rate).unwrap_or(1000),
        );
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let total = self.rate * self.secs;
        for _ in 0..total {
            ticks.tick().await;
            match &mut publisher {
                // Requests overlap, as independent publishers' would.
                Publisher::Rest { client, url } => {
                    let mut one = Publisher::Rest {
                        client: client.clone(),
                        url: url.clone(),
                    };
                    tokio::task::spawn_local(async move { one.publish(start).await });
                }
                Publisher::Socket { .. } => publisher.publish(start).await,
            }
        }
        drain(&tally, total * self.subs).await;
        LatencyResult {
            delivered: tally.delivered.get(),
            expected: total * self.subs,
            gaps: tally.gaps.get(),
            closed: tally.closed.get(),
            p50_ms: latency_ms(&tally, 0.5),
            p99_ms: latency_ms(&tally, 0.99),
            p999_ms: latency_ms(&tally, 0.999),
        }
    }
}

/// `conns` idle connections held for `secs` seconds: memory per connection, and whether
/// heartbeats kept every one open.
struct Idle {
    conns: u64,
    secs: u64,
}

/// What [`Idle`] measured.
struct IdleResult {
    before_kib: u64,
    after_kib: u64,
    closed: u64,
    end_kib: u64,
}

impl IdleResult {
    fn kib_per_connection(&self, scenario: &Idle) -> f64 {
        self.after_kib.saturating_sub(self.before_kib) as f64 / scenario.conns as f64
    }

    fn print(&self, target: &Target, scenario: &Idle) {
        println!(
            "idle ({}): {} connections, server RSS {} KiB -> {} KiB: {:.2} KiB per connection",
            target.name(),
            scenario.conns,
            self.before_kib,
            self.after_kib,
            self.kib_per_connection(scenario)
        );
        println!(
            "after {} s: {} of {} connections closed, server RSS {} KiB",
            scenario.secs, self.closed, scenario.conns, self.end_kib
        );
    }
}

impl Idle {
    async fn run(&self, target: &Target) -> IdleResult {
        let start = Instant::now();
        let tally = Rc::new(Tally::default());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before_kib = rss_kib(target.pid());
        connect(target, self.conns, false, &tally, start).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after_kib = rss_kib(target.pid());
        tokio::time::sleep(Duration::from_secs(self.secs)).await;
        IdleResult {
            before_kib,
            after_kib,
            closed: tally.closed.get(),
            end_kib: rss_kib(target.pid()),
        }
    }
}

/// The median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Every scenario `runs` times against the floor and then Hatchery (a fresh server each),
/// then a table of the medians and Hatchery's ratio to the floor.
async fn compare(runs: u64, secs: u64, pinned: bool) {
    let fanout_1000 = Fanout {
        subs: 1000,
        secs,
        publishers: 256,
        window: 300,
    };
    let fanout_100 = Fanout {
        subs: 100,
        ..fanout_1000
    };
    let latency = Latency {
        subs: 100,
        rate: 1000,
        secs,
    };
    let idle = Idle {
        conns: 10_000,
        secs: 5,
    };
    // Per server kind, per figure: the value of each run.
    let mut figures: Vec<[Vec<f64>; 8]> = vec![Default::default(), Default::default()];
    for run in 1..=runs {
        for (index, kind) in [Kind::Floor, Kind::Hatchery].into_iter().enumerate() {
            let row = &mut figures[index];
            let target = Target::start(kind, pinned, 25_000).await;
            let big = fanout_1000.run(&target).await;
            big.print(&target, &fanout_1000);
            drop(target);
            let target = Target::start(kind, pinned, 25_000).await;
            let small = fanout_100.run(&target).await;
            small.print(&target, &fanout_100);
            drop(target);
            let target = Target::start(kind, pinned, 25_000).await;
            let timed = latency.run(&target).await;
            timed.print(&target, &latency);
            drop(target);
            let target = Target::start(kind, pinned, 5_000).await;
            let held = idle.run(&target).await;
            held.print(&target, &idle);
            drop(target);
            let values = [
                big.per_second(),
                big.cpu_us_per_delivery(),
                big.generator_cpu / big.elapsed,
                small.per_second(),
                small.cpu_us_per_delivery(),
                timed.p50_ms,
                timed.p99_ms,
                held.kib_per_connection(&idle),
            ];
            for (figure, value) in row.iter_mut().zip(values) {
                figure.push(value);
            }
            println!("-- run {run} of {runs} done for {kind:?}");
        }
    }
    let labels = [
        "fan-out 1,000 subs: deliveries/s",
        "fan-out 1,000 subs: server CPU µs/delivery",
        "fan-out 1,000 subs: generator CPU (cores)",
        "fan-out 100 subs: deliveries/s",
        "fan-out 100 subs: server CPU µs/delivery",
        "1,000/s × 100 subs: p50 ms",
        "1,000/s × 100 subs: p99 ms",
        "10,000 idle: KiB per connection",
    ];
    println!(
        "\nmedians of {runs} runs{}:",
        if pinned { ", pinned" } else { "" }
    );
    println!(
        "{:<44} {:>12} {:>12} {:>8}",
        "", "floor", "hatchery", "ratio"
    );
    for (figure, label) in labels.iter().enumerate() {
        let floor = median(figures[0][figure].clone());
        let hatchery = median(figures[1][figure].clone());
        println!(
            "{label:<44} {floor:>12.3} {hatchery:>12.3} {:>8.2}",
            hatchery / floor
        );
    }
}
