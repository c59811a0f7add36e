//! The real binary's memory, on loopback. A bounded chaos run: for a few seconds, while a
//! publisher publishes, clients connect and subscribe and never read, send garbage, ping
//! with huge request ids without reading, cut their connection in the middle of a frame,
//! and come and go; well-behaved readers must see every event in order, and the server's
//! resident memory must stay under [`MEMORY_BOUND_MIB`]. And memory that history held is
//! given back to the system once the history expires. Both stop by themselves.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::{io::AsyncWriteExt, net::TcpStream, task::JoinSet};
use tokio_tungstenite::{connect_async, tungstenite::Message as WsMessage};

use crate::{
    helpers::TestData,
    process::{hatchery, started},
};

/// How long the chaos lasts.
const CHAOS: Duration = Duration::from_secs(8);
/// Events the publisher sends, evenly over the chaos.
const EVENTS: u64 = 1_200;
/// Readers that check they get every event.
const READERS: usize = 4;
/// The most the server's resident memory may reach (a debug build), in MiB.
const MEMORY_BOUND_MIB: u64 = 160;

/// The server's resident memory, in KiB.
fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn subscribe_ops() -> WsMessage {
    WsMessage::text(
        json!({"v": 1, "type": "subscribe", "req": "s", "data": {"topics": [{"topic": "ops"}]}})
            .to_string(),
    )
}

/// Reads `ops` until `events` notices came, answering the server's pings as every client
/// does; returns their sequence numbers.
async fn read_every_event(url: String, subscribed: Arc<tokio::sync::Barrier>) -> Vec<u64> {
    let (mut ws, _) = connect_async(&url).await.unwrap();
    ws.send(subscribe_ops()).await.unwrap();
    let mut seqs = Vec::new();
    let mut waiting = true;
    while (seqs.len() as u64) < EVENTS {
        let frame = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("events keep coming")
            .expect("the reader's socket stays open")
            .expect("the reader's socket works");
        let WsMessage::Text(text) = frame else {
            continue;
        };
        let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
        match frame["type"].as_str() {
            Some("subscribed") if waiting && frame["topic"] == "ops" => {
                waiting = false;
                subscribed.wait().await;
            }
            Some("notice") => seqs.push(frame["seq"].as_u64().unwrap()),
            Some("ping") => {
                let pong = json!({"v": 1, "type": "pong", "data": {}});
                ws.send(WsMessage::text(pong.to_string())).await.unwrap();
            }
            _ => {}
        }
    }
    seqs
}

/// One round of misbehaviour, chosen by `kind`.
async fn misbehave(kind: usize, url: String, addr: String, pad: Arc<String>) {
    match kind % 5 {
        // Subscribes and never reads.
        0 => {
            if let Ok((mut ws, _)) = connect_async(&url).await {
                let _ = ws.send(subscribe_ops()).await;
                tokio::time::sleep(CHAOS).await;
            }
        }
        // Garbage: not JSON, binary, unknown types, bad topics.
        1 => {
            if let Ok((mut ws, _)) = connect_async(&url).await {
                for n in 0..50 {
                    let garbage = match n % 4 {
                        0 => WsMessage::text("{not json"),
                        1 => WsMessage::binary(vec![0xff; 100]),
                        2 => WsMessage::text(r#"{"v":1,"type":"launch","data":{}}"#),
                        _ => WsMessage::text(
                            json!({"v":1,"type":"subscribe","data":{"topics":[{"topic":"agent:../../x"}]}})
                                .to_string(),
                        ),
                    };
                    if ws.send(garbage).await.is_err() {
                        break;
                    }
                }
            }
        }
        // Pings with a large request id, never reading the pongs.
        2 => {
            if let Ok((mut ws, _)) = connect_async(&url).await {
                let ping = json!({"v": 1, "type": "ping", "req": pad.as_str(), "data": {}});
                let ping = WsMessage::text(ping.to_string());
                let _ = tokio::time::timeout(CHAOS, async {
                    while ws.send(ping.clone()).await.is_ok() {}
                })
                .await;
            }
        }
        // A WebSocket handshake, then half a frame, then gone.
        3 => {
            if let Ok(mut tcp) = TcpStream::connect(&addr).await {
                let handshake = format!(
                    "GET /api/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                     Sec-WebSocket-Version: 13\r\n\r\n"
                );
                let _ = tcp.write_all(handshake.as_bytes()).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                // A masked text frame announcing 1,000 bytes, of which 10 come.
                let _ = tcp.write_all(&[0x81, 0xfe, 0x03, 0xe8, 1, 2, 3, 4]).await;
                let _ = tcp.write_all(&[b'x'; 10]).await;
            }
        }
        // Connects and leaves at once.
        _ => {
            if let Ok((mut ws, _)) = connect_async(&url).await {
                let _ = ws.close(None).await;
            }
        }
    }
}

#[tokio::test]
async fn under_chaos_readers_miss_nothing_and_memory_stays_bounded() {
    if std::env::var_os("HATCHERY_TEST_POSTGRES").is_some() {
        return; // The binary runs on its own SQLite file: once is enough.
    }
    let data = TestData::new();
    let mut command = hatchery(&data);
    command.env("HATCHERY_AUTH", "disabled");
    let (child, mut lines, addr) = started(command).await;
    // The log is read so that the server never waits on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let pid = child.id().unwrap();
    let url = format!("ws://{addr}/api/ws");
    let before = resident_kib(pid);

    let subscribed = Arc::new(tokio::sync::Barrier::new(READERS + 1));
    let readers: Vec<_> = (0..READERS)
        .map(|_| tokio::spawn(read_every_event(url.clone(), subscribed.clone())))
        .collect();
    subscribed.wait().await;

    let running = Arc::new(AtomicBool::new(true));
    let mut chaos = JoinSet::new();
    let pad = Arc::new("r".repeat(60_000));
    {
        let (url, addr, running, pad) = (url.clone(), addr.clone(), running.clone(), pad.clone());
        chaos.spawn(async move {
            let mut clients = JoinSet::new();
            let mut kind = 0;
            while running.load(Ordering::Relaxed) {
                // At most 60 misbehaving clients at once.
                while clients.len() >= 60 {
                    clients.join_next().await;
                }
                clients.spawn(misbehave(kind, url.clone(), addr.clone(), pad.clone()));
                kind += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            clients.abort_all();
            kind
        });
    }

    let client = reqwest::Client::new();
    let text = "n".repeat(400);
    let started_at = Instant::now();
    let mut peak = before;
    for n in 0..EVENTS {
        let published = client
            .post(format!("http://{addr}/api/topics/ops/events"))
            .json(&json!({"type": "notice", "data": {"level": "info", "text": format!("{n} {text}")}}))
            .send()
            .await
            .unwrap();
        assert!(published.status().is_success(), "{}", published.status());
        if n % 50 == 0 {
            peak = peak.max(resident_kib(pid));
        }
        let due = started_at + CHAOS.mul_f64((n + 1) as f64 / EVENTS as f64);
        tokio::time::sleep_until(due.into()).await;
    }
    running.store(false, Ordering::Relaxed);
    let misbehaved = chaos.join_next().await.unwrap().unwrap();
    peak = peak.max(resident_kib(pid));

    for reader in readers {
        let seqs = reader.await.unwrap();
        let first = seqs[0];
        assert_eq!(
            seqs,
            (first..first + EVENTS).collect::<Vec<_>>(),
            "every event, in order"
        );
    }
    eprintln!(
        "chaos: {misbehaved} misbehaving clients, {EVENTS} events to {READERS} readers in {:?}; \
         resident memory {} MiB before, {} MiB at peak (bound {MEMORY_BOUND_MIB} MiB)",
        started_at.elapsed(),
        before / 1024,
        peak / 1024
    );
    assert!(
        peak < MEMORY_BOUND_MIB * 1024,
        "the server reached {} MiB",
        peak / 1024
    );
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
}

/// The history's size in bytes, from `/metrics`.
async fn history_bytes(client: &reqwest::Client, addr: &str) -> u64 {
    let metrics = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("hatchery_realtime_history_bytes "))
        .and_then(|value| value.trim().parse().ok())
        .expect("the history's size is in /metrics")
}

#[tokio::test]
async fn memory_held_by_history_goes_back_to_the_system_when_it_expires() {
    if std::env::var_os("HATCHERY_TEST_POSTGRES").is_some() {
        return; // The binary runs on its own SQLite file: once is enough.
    }
    let data = TestData::new();
    let mut command = hatchery(&data);
    command
        .env("HATCHERY_AUTH", "disabled")
        // Long enough for the whole history to be published before any of it expires, even
        // on a machine busy with the other tests.
        .env("HATCHERY_WS_HISTORY_SECS", "20");
    let (child, mut lines, addr) = started(command).await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let pid = child.id().unwrap();
    let client = reqwest::Client::new();
    let publish = |topic: String, text: String| {
        let client = client.clone();
        let url = format!("http://{addr}/api/topics/{topic}/events");
        async move {
            let published = client
                .post(url)
                .json(&json!({"type": "notice", "data": {"level": "info", "text": text}}))
                .send()
                .await
                .unwrap();
            assert!(published.status().is_success(), "{}", published.status());
        }
    };
    publish("ops".into(), "warm-up".into()).await;
    let before = resident_kib(pid);

    // About 48 MiB of history: 40 KiB events, 12 to each of 100 topics, two at a time.
    let mut publishing = JoinSet::new();
    for n in 0..1_200 {
        if publishing.len() >= 2 {
            publishing.join_next().await.unwrap().unwrap();
        }
        publishing.spawn(publish(
            format!("thread:t{}", n % 100),
            format!("{n} {}", "h".repeat(40 << 10)),
        ));
    }
    while let Some(done) = publishing.join_next().await {
        done.unwrap();
    }
    let held = history_bytes(&client, &addr).await;
    let peak = resident_kib(pid);
    assert!(held > 40 << 20, "the history held {held} bytes");

    let gone = tokio::time::timeout(Duration::from_secs(40), async {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if history_bytes(&client, &addr).await == 0 && resident_kib(pid) < before + 16 * 1024 {
                return;
            }
        }
    })
    .await;
    let after = resident_kib(pid);
    eprintln!(
        "history: resident memory {} MiB before, {} MiB holding {} MiB of history, {} MiB \
         after it expired",
        before / 1024,
        peak / 1024,
        held >> 20,
        after / 1024
    );
    assert!(
        gone.is_ok(),
        "the memory was not given back: {} MiB before, {} MiB after",
        before / 1024,
        after / 1024
    );
}
