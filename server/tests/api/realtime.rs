//! The WebSocket hub at `/api/ws` and the topic endpoints, through real sockets.

use std::time::Duration;

use hatchery_shared::realtime::{
    ErrorCode, Message, MessageType, Notice, NoticeLevel, StreamPosition, SubscribeErrorCode,
    Topic, Unsubscribe,
};
use reqwest::StatusCode;
use serde_json::Value;

use crate::{
    helpers::{spawn_app, spawn_app_with},
    ws::{Ended, WAIT},
};

fn notice(text: &str) -> Message {
    Message::Notice(Notice {
        level: NoticeLevel::Info,
        text: text.into(),
    })
}

fn text_of(frame: &hatchery_shared::realtime::Envelope) -> &str {
    match &frame.message {
        Message::Notice(notice) => &notice.text,
        other => panic!("not a notice: {other:?}"),
    }
}

#[tokio::test]
async fn hello_comes_first_and_the_users_own_topic_is_subscribed() {
    let app = spawn_app().await;
    let mut ws = app.ws_with(Some("alice"), None).await;

    let hello = ws.expect(MessageType::Hello).await;
    let subscribed = ws.expect(MessageType::Subscribed).await;

    let Message::Hello(hello) = hello.message else {
        unreachable!()
    };
    assert_eq!(hello.user_id, "alice");
    assert_eq!(hello.heartbeat_ms, 25_000);
    assert_eq!(hello.max_topics, 256);
    assert_eq!(hello.server_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(subscribed.topic.unwrap().as_str(), "user:alice");
    app.publish_notice("admin", "user:alice", "for alice").await;
    assert_eq!(text_of(&ws.expect(MessageType::Notice).await), "for alice");
}

#[tokio::test]
async fn topic_events_are_compact_and_replies_carry_a_trace_id_and_time() {
    let app = spawn_app().await;
    let mut ws = app.ws_with(Some("alice"), None).await;
    ws.expect(MessageType::Hello).await;
    let subscribed = ws.expect(MessageType::Subscribed).await;
    app.publish_notice("admin", "user:alice", "compact").await;
    let event = ws.expect(MessageType::Notice).await;

    assert!(!subscribed.id.is_empty() && subscribed.ts.is_some());
    assert_eq!((event.id.as_str(), event.ts), ("", None));
    assert_eq!(event.topic.unwrap().as_str(), "user:alice");
    assert_eq!(event.seq, Some(1));
}

#[tokio::test]
async fn a_socket_without_identity_is_closed_with_4401_and_nothing_else() {
    let app = spawn_app().await;
    for token in [None, Some("forged")] {
        let mut ws = app.ws_with(token, None).await;
        assert_eq!(ws.expect_close(WAIT).await, Ended::Closed(4401));
    }
}

#[tokio::test]
async fn a_browser_from_another_site_is_closed_with_4403_and_the_own_site_is_welcome() {
    let app = spawn_app().await;

    let mut foreign = app
        .ws_with(Some("alice"), Some("https://evil.example"))
        .await;
    assert_eq!(foreign.expect_close(WAIT).await, Ended::Closed(4403));

    let own = format!("http://{}", app.addr);
    let mut ws = app.ws_with(Some("alice"), Some(&own)).await;
    ws.expect(MessageType::Hello).await;
}

#[tokio::test]
async fn subscribe_and_unsubscribe_each_reply_per_topic_and_events_follow_them() {
    let app = spawn_app().await;
    let mut ws = app.ws("admin").await;

    let req = ws.subscribe(&[("ops", None), ("agent:7", None)]).await;
    for expected in ["ops", "agent:7"] {
        let reply = ws.expect(MessageType::Subscribed).await;
        assert_eq!(reply.req.as_deref(), Some(req.as_str()));
        assert_eq!(reply.topic.unwrap().as_str(), expected);
        let Message::Subscribed(subscribed) = reply.message else {
            unreachable!()
        };
        assert_eq!((subscribed.seq, subscribed.recovered), (0, false));
    }
    app.publish_notice("admin", "agent:7", "one").await;
    let event = ws.expect(MessageType::Notice).await;
    assert_eq!(
        (event.topic.unwrap().as_str(), event.seq),
        ("agent:7", Some(1))
    );

    let req = ws
        .send(Message::Unsubscribe(Unsubscribe {
            topics: vec!["agent:7".into()],
        }))
        .await;
    let reply = ws.expect(MessageType::Unsubscribed).await;
    assert_eq!(reply.req.as_deref(), Some(req.as_str()));
    app.publish_notice("admin", "agent:7", "two").await;
    app.publish_notice("admin", "ops", "three").await;
    assert_eq!(text_of(&ws.expect(MessageType::Notice).await), "three");
}

#[tokio::test]
async fn forbidden_unknown_and_malformed_topics_are_refused_one_by_one() {
    let app = spawn_app().await;
    let mut ws = app.ws("alice").await;

    ws.subscribe(&[
        ("user:bob", None),
        ("ops", None),
        ("agent:7", None),
        ("thread:", None),
        ("user:alice", None),
    ])
    .await;

    for expected in [
        SubscribeErrorCode::Forbidden,
        SubscribeErrorCode::Forbidden,
        SubscribeErrorCode::NotFound,
        SubscribeErrorCode::InvalidTopic,
    ] {
        let Message::SubscribeError(error) = ws.expect(MessageType::SubscribeError).await.message
        else {
            unreachable!()
        };
        assert_eq!(error.code, expected, "{error:?}");
    }
    ws.expect(MessageType::Subscribed).await;
    app.publish_notice("admin", "user:bob", "not for alice")
        .await;
    ws.expect_none(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_subscribe_frame_over_the_limit_or_naming_a_topic_twice_is_refused_whole() {
    let app = spawn_app_with(|config| config.max_topics = 3).await;
    let mut ws = app.ws("admin").await;

    // The user's own topic is one of the three.
    ws.subscribe(&[("agent:1", None), ("agent:2", None), ("agent:3", None)])
        .await;
    for topic in ["agent:1", "agent:2", "agent:3"] {
        let Message::SubscribeError(error) = ws.expect(MessageType::SubscribeError).await.message
        else {
            unreachable!()
        };
        assert_eq!(error.code, SubscribeErrorCode::TooManyTopics);
        assert_eq!(error.topic, topic);
    }
    app.publish_notice("admin", "agent:1", "not followed").await;
    ws.expect_none(Duration::from_millis(200)).await;

    let req = ws.subscribe(&[("agent:1", None), ("agent:1", None)]).await;
    let twice = ws.expect(MessageType::Error).await;
    assert_eq!(twice.req.as_deref(), Some(req.as_str()));
    let Message::Error(error) = twice.message else {
        unreachable!()
    };
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert!(error.message.contains("agent:1 twice"), "{error:?}");

    // A frame naming more topics than any connection may hold gets one answer.
    let many: Vec<String> = (0..2_000).map(|i| format!("thread:{i}")).collect();
    let many: Vec<_> = many.iter().map(|topic| (topic.as_str(), None)).collect();
    ws.subscribe(&many).await;
    let Message::Error(error) = ws.expect(MessageType::Error).await.message else {
        unreachable!()
    };
    assert!(error.message.contains("at most 3 topics"), "{error:?}");
    ws.expect_none(Duration::from_millis(200)).await;

    ws.subscribe(&[("agent:1", None), ("agent:2", None)]).await;
    ws.expect(MessageType::Subscribed).await;
    ws.expect(MessageType::Subscribed).await;
}

#[tokio::test]
async fn a_client_that_writes_without_reading_is_held_back_by_its_own_socket() {
    let app = spawn_app_with(|config| {
        config.queue.frames = 50;
        config.queue.bytes = 256 * 1024;
    })
    .await;
    let mut ws = app.ws("alice").await;
    // 60 KB of request id per ping, each echoed on its pong: 120 MB if all were read.
    let big_req = "r".repeat(60_000);
    let ping = format!(r#"{{"v":1,"type":"ping","req":"{big_req}","data":{{}}}}"#);
    let mut sent = 0;
    let stalled = tokio::time::timeout(Duration::from_secs(3), async {
        for _ in 0..2_000 {
            ws.send_raw(ping.clone()).await;
            sent += 1;
        }
    })
    .await;
    assert!(
        stalled.is_err(),
        "the server stopped reading once its replies were not read ({sent} pings sent)"
    );
    assert!(sent < 1_000, "{sent} pings were taken");

    // Reading again lets the connection go on, with no close.
    for _ in 0..20 {
        let pong = ws.expect(MessageType::Pong).await;
        assert_eq!(pong.req.as_deref(), Some(big_req.as_str()));
    }
}

#[tokio::test]
async fn a_replay_larger_than_the_queue_is_refused_instead_of_closing_the_socket() {
    let app = spawn_app_with(|config| {
        config.queue.frames = 50;
        config.queue.bytes = 64 * 1024;
    })
    .await;
    let topic = Topic::parse("ops").unwrap();
    let mut ws = app.ws("admin").await;
    ws.subscribe(&[("ops", None)]).await;
    let Message::Subscribed(start) = ws.expect(MessageType::Subscribed).await.message else {
        unreachable!()
    };
    let pad = "p".repeat(10_000);
    for i in 0..10 {
        app.realtime
            .publish(&topic, notice(&format!("{i} {pad}")))
            .await;
        ws.expect(MessageType::Notice).await;
    }

    let mut again = app.ws("admin").await;
    let since = StreamPosition {
        epoch: start.epoch.clone(),
        seq: 0,
    };
    again.subscribe(&[("ops", Some(since))]).await;
    let Message::Subscribed(subscribed) = again.expect(MessageType::Subscribed).await.message
    else {
        unreachable!()
    };
    assert!(!subscribed.recovered, "100 KB does not fit a 64 KiB queue");
    assert_eq!(subscribed.replayed, 0);
    app.realtime.publish(&topic, notice("live")).await;
    assert_eq!(text_of(&again.expect(MessageType::Notice).await), "live");
}

#[tokio::test]
async fn bad_frames_get_an_error_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let mut ws = app.ws("alice").await;

    for (frame, code) in [
        ("{nope", ErrorCode::BadJson),
        (r#"{"v":2,"type":"ping"}"#, ErrorCode::UnsupportedVersion),
        (
            r#"{"v":1,"type":"dance","req":"d1"}"#,
            ErrorCode::UnknownType,
        ),
        (r#"{"v":1,"type":"hello","data":{}}"#, ErrorCode::BadRequest),
    ] {
        ws.send_raw(frame).await;
        let Message::Error(error) = ws.expect(MessageType::Error).await.message else {
            unreachable!()
        };
        assert_eq!(error.code, code, "{frame}");
    }

    let req = ws.send(Message::Ping(Default::default())).await;
    assert_eq!(ws.expect(MessageType::Pong).await.req, Some(req));
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let app = spawn_app().await;
    let mut ws = app.ws("alice").await;

    let text = "x".repeat(64 * 1024 + 1);
    ws.send_raw(format!(
        r#"{{"v":1,"type":"ping","data":{{"pad":"{text}"}}}}"#
    ))
    .await;

    assert_eq!(ws.expect_close(WAIT).await, Ended::Closed(1009));
}

/// Pings every 100 ms; silence for 400 ms closes the socket.
fn fast_heartbeat(config: &mut hatchery_server::realtime::RealtimeConfig) {
    config.heartbeat = Duration::from_millis(100);
    config.idle_grace = Duration::from_millis(300);
}

#[tokio::test]
async fn the_server_pings_and_closes_a_silent_client_with_4408() {
    let app = spawn_app_with(fast_heartbeat).await;
    let mut ws = app.ws_with(Some("alice"), None).await;

    let (frames, ended) = ws.read_until_end(Duration::from_secs(5)).await;

    let pings = frames
        .iter()
        .filter(|f| f.message.message_type() == MessageType::Ping)
        .count();
    assert!(pings >= 2, "{pings} pings before the close");
    assert_eq!(ended, Ended::Closed(4408));
}

#[tokio::test]
async fn a_client_that_keeps_talking_is_not_closed_for_silence() {
    let app = spawn_app_with(fast_heartbeat).await;
    let mut ws = app.ws("alice").await;

    for _ in 0..8 {
        ws.send(Message::Pong(Default::default())).await;
        ws.expect_none(Duration::from_millis(100)).await;
    }

    let req = ws.send(Message::Ping(Default::default())).await;
    assert_eq!(ws.expect(MessageType::Pong).await.req, Some(req));
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_4409_while_others_get_every_event() {
    let app = spawn_app_with(|config| {
        config.queue.frames = 50;
        config.queue.bytes = 1 << 20;
    })
    .await;
    let mut stalled = app.ws("admin").await;
    let mut reader = app.ws("admin").await;
    let topic = Topic::parse("ops").unwrap();
    stalled.subscribe(&[("ops", None)]).await;
    stalled.expect(MessageType::Subscribed).await;
    reader.subscribe(&[("ops", None)]).await;
    reader.expect(MessageType::Subscribed).await;

    // `reader` reads while events are published; `stalled` reads nothing until the end.
    let count = 400;
    let pad = "p".repeat(32 * 1024);
    let reading = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < count {
            seqs.push(reader.expect(MessageType::Notice).await.seq.unwrap());
        }
        seqs
    });
    for i in 0..count {
        app.realtime
            .publish(&topic, notice(&format!("{i} {pad}")))
            .await;
        tokio::task::yield_now().await;
    }

    let seqs = reading.await.unwrap();
    assert_eq!(
        seqs,
        (1..=count as u64).collect::<Vec<_>>(),
        "the reader got every event in order"
    );
    let (frames, ended) = stalled.read_until_end(Duration::from_secs(10)).await;
    assert_eq!(ended, Ended::Closed(4409));
    assert!(frames.len() < count, "the stalled client was cut off");
    let seqs: Vec<u64> = frames.iter().filter_map(|f| f.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "what it got is in order"
    );
    assert_eq!(
        app.metric("hatchery_ws_slow_consumer_closes_total").await,
        1.0
    );
}

#[tokio::test]
async fn resubscribing_with_since_replays_what_was_missed_then_live_events_with_no_gap() {
    let app = spawn_app().await;
    let topic = Topic::parse("ops").unwrap();
    let mut first = app.ws("admin").await;
    first.subscribe(&[("ops", None)]).await;
    let Message::Subscribed(start) = first.expect(MessageType::Subscribed).await.message else {
        unreachable!()
    };
    for i in 1..=3 {
        app.realtime
            .publish(&topic, notice(&format!("seen {i}")))
            .await;
    }
    let last_seen = first.expect(MessageType::Notice).await.seq.unwrap();
    drop(first);

    // Events keep coming while the client reconnects and during its replay.
    let publisher = {
        let realtime = app.realtime.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                realtime.publish(&topic, notice(&format!("live {i}"))).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut second = app.ws("admin").await;
    second
        .subscribe(&[(
            "ops",
            Some(StreamPosition {
                epoch: start.epoch.clone(),
                seq: last_seen,
            }),
        )])
        .await;
    let Message::Subscribed(subscribed) = second.expect(MessageType::Subscribed).await.message
    else {
        unreachable!()
    };
    assert!(subscribed.recovered);
    assert_eq!(subscribed.epoch, start.epoch);
    assert_eq!(subscribed.replayed, subscribed.seq - last_seen);
    publisher.await.unwrap();

    let mut seqs = Vec::new();
    while seqs.last() != Some(&303) {
        seqs.push(second.expect(MessageType::Notice).await.seq.unwrap());
    }
    assert_eq!(
        seqs,
        (last_seen + 1..=303).collect::<Vec<_>>(),
        "no gap, duplicate or reordering"
    );
    assert_eq!(
        app.metric("hatchery_ws_recoveries_total{outcome=\"recovered\"}")
            .await,
        1.0
    );
}

#[tokio::test]
async fn recovery_is_refused_when_the_epoch_changed_or_history_no_longer_covers_the_gap() {
    let app = spawn_app_with(|config| config.history.events = 3).await;
    let topic = Topic::parse("ops").unwrap();
    let mut ws = app.ws("admin").await;
    ws.subscribe(&[("ops", None)]).await;
    let Message::Subscribed(start) = ws.expect(MessageType::Subscribed).await.message else {
        unreachable!()
    };
    for i in 0..5 {
        app.realtime.publish(&topic, notice(&i.to_string())).await;
    }

    for since in [
        StreamPosition {
            epoch: "another".into(),
            seq: 4,
        },
        StreamPosition {
            epoch: start.epoch.clone(),
            seq: 1,
        },
    ] {
        let mut again = app.ws("admin").await;
        again.subscribe(&[("ops", Some(since))]).await;
        let Message::Subscribed(subscribed) = again.expect(MessageType::Subscribed).await.message
        else {
            unreachable!()
        };
        assert!(!subscribed.recovered);
        assert_eq!((subscribed.replayed, subscribed.seq), (0, 5));
        again.expect_none(Duration::from_millis(100)).await;
    }
    let mut covered = app.ws("admin").await;
    covered
        .subscribe(&[(
            "ops",
            Some(StreamPosition {
                epoch: start.epoch,
                seq: 2,
            }),
        )])
        .await;
    let Message::Subscribed(subscribed) = covered.expect(MessageType::Subscribed).await.message
    else {
        unreachable!()
    };
    assert!(subscribed.recovered, "seq 3 to 5 are the three kept");
    assert_eq!(
        app.metric("hatchery_ws_recoveries_total{outcome=\"lost\"}")
            .await,
        2.0
    );
}

#[tokio::test]
async fn history_is_bounded_in_bytes_per_topic_and_across_topics() {
    let app = spawn_app_with(|config| {
        config.history.topic_bytes = 50 * 1024;
        config.history.total_bytes = 200 * 1024;
    })
    .await;
    let pad = "p".repeat(10_500);
    for agent in 0..20 {
        let topic = Topic::parse(&format!("agent:{agent}")).unwrap();
        for i in 0..5 {
            app.realtime
                .publish(&topic, notice(&format!("{i} {pad}")))
                .await;
        }
    }

    let kept = app.metric("hatchery_realtime_history_bytes").await;
    assert!(
        kept > 150.0 * 1024.0 && kept <= 200.0 * 1024.0,
        "{kept} bytes kept"
    );
    let history = |topic: &'static str, after: u64| {
        let app = &app;
        async move {
            let epoch: Value = app
                .topic_events("admin", topic, "epoch=&after=0")
                .await
                .json()
                .await
                .unwrap();
            let epoch = epoch["epoch"].as_str().unwrap().to_owned();
            let events: Value = app
                .topic_events("admin", topic, &format!("epoch={epoch}&after={after}"))
                .await
                .json()
                .await
                .unwrap();
            events
        }
    };
    // The newest topic keeps what fits in 50 KiB: its last four events.
    assert_eq!(history("agent:19", 0).await["recovered"], false);
    let newest = history("agent:19", 1).await;
    assert_eq!(newest["recovered"], true);
    assert_eq!(newest["events"].as_array().unwrap().len(), 4);
    // The oldest topics were forgotten first to stay within 200 KiB in all.
    assert_eq!(history("agent:0", 4).await["recovered"], false);
}

#[tokio::test]
async fn the_history_endpoint_pages_through_missed_events_for_those_allowed() {
    let app = spawn_app().await;
    let mut epoch = String::new();
    for i in 1..=5 {
        let published: hatchery_shared::realtime::Published = app
            .publish_notice("admin", "user:alice", &format!("n{i}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(published.seq, i);
        epoch = published.epoch;
    }

    let page: hatchery_shared::realtime::TopicEvents = app
        .topic_events(
            "alice",
            "user:alice",
            &format!("epoch={epoch}&after=1&limit=3"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(page.recovered && page.has_more);
    assert_eq!(
        page.events.iter().map(text_of).collect::<Vec<_>>(),
        ["n2", "n3", "n4"]
    );
    assert_eq!(page.events[0].seq, Some(2));

    let stale: hatchery_shared::realtime::TopicEvents = app
        .topic_events("alice", "user:alice", "epoch=old&after=1")
        .await
        .json()
        .await
        .unwrap();
    assert!(!stale.recovered && stale.events.is_empty());
    assert_eq!((stale.epoch, stale.seq), (epoch.clone(), 5));

    let forbidden = app
        .topic_events("bob", "user:alice", &format!("epoch={epoch}&after=0"))
        .await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    let invalid = app.topic_events("alice", "user:", "epoch=x&after=0").await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app
        .send(
            app.client
                .get(app.url("/api/topics/ops/events?epoch=x&after=0")),
        )
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let missing = app.topic_events("alice", "user:alice", "after=0").await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn only_admins_publish_and_only_events_with_valid_data() {
    let app = spawn_app().await;

    assert_eq!(
        app.publish_notice("alice", "user:alice", "hi")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let post = |body: &'static str| {
        app.send(
            app.client
                .post(app.url("/api/topics/ops/events"))
                .bearer_auth(app.bearer("admin"))
                .header("content-type", "application/json")
                .body(body),
        )
    };
    for (body, status, code) in [
        ("{nope", StatusCode::BAD_REQUEST, "bad_request"),
        (
            r#"{"type":"subscribe","data":{"topics":[]}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            r#"{"type":"notice","data":{"level":"loud","text":"x"}}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ] {
        let response = post(body).await.unwrap();
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{body}");
    }
    let history: hatchery_shared::realtime::TopicEvents = app
        .topic_events("admin", "ops", "epoch=x&after=0")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history.seq, 0, "nothing was published");
}

#[tokio::test]
async fn metrics_count_connections_publishes_and_closes() {
    let app = spawn_app().await;
    let ws = app.ws("alice").await;
    assert_eq!(app.metric("hatchery_ws_connections").await, 1.0);
    assert_eq!(app.metric("hatchery_ws_subscriptions").await, 1.0);

    app.publish_notice("admin", "user:alice", "x").await;
    assert_eq!(app.metric("hatchery_realtime_publishes_total").await, 1.0);
    drop(ws);

    let mut closed = 0.0;
    for _ in 0..50 {
        closed = app
            .metric("hatchery_ws_connections_closed_total{code=\"client\"}")
            .await;
        if closed > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(closed, 1.0);
    assert_eq!(app.metric("hatchery_ws_connections").await, 0.0);
    assert_eq!(app.metric("hatchery_ws_subscriptions").await, 0.0);
    assert!(app.metric("hatchery_ws_frames_sent_total").await >= 3.0);
}

#[tokio::test]
async fn shutting_down_closes_sockets_with_1001() {
    let app = spawn_app().await;
    let mut ws = app.ws("alice").await;

    let reading = tokio::spawn(async move { ws.expect_close(WAIT).await });
    app.shutdown().await;

    assert_eq!(reading.await.unwrap(), Ended::Closed(1001));
}

#[tokio::test]
async fn a_user_over_the_connection_limit_is_closed_with_4429_until_one_closes() {
    let app = spawn_app_with(|config| config.max_connections_per_user = 2).await;
    let first = app.ws("alice").await;
    let _second = app.ws("alice").await;

    let mut third = app.ws_with(Some("alice"), None).await;
    assert_eq!(third.expect_close(WAIT).await, Ended::Closed(4429));
    let _bob = app.ws("bob").await;

    drop(first);
    for _ in 0..100 {
        if app
            .metric("hatchery_ws_connections_closed_total{code=\"client\"}")
            .await
            > 0.0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = app.ws_with(Some("alice"), None).await;
    again.expect(MessageType::Hello).await;
}

#[tokio::test]
async fn a_websocket_ping_gets_its_pong_in_order_with_the_other_frames() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

    let app = spawn_app().await;
    let mut request = format!("ws://{}/api/ws", app.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", app.bearer("alice")).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    ws.send(tungstenite::Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();

    // The server greets first; its answer to the ping comes through the same queue.
    let mut texts = 0;
    let pong = tokio::time::timeout(WAIT, async {
        while let Some(frame) = ws.next().await {
            match frame.expect("a frame") {
                tungstenite::Message::Pong(payload) => return payload,
                tungstenite::Message::Text(_) => texts += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        panic!("the socket ended before the pong");
    })
    .await
    .expect("the pong arrives");
    assert_eq!(pong.as_ref(), b"are you there");
    ws.send(tungstenite::Message::Text(
        r#"{"v":1,"type":"ping","req":"after"}"#.into(),
    ))
    .await
    .unwrap();
    let reply = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        reply.to_text().unwrap().contains(r#""req":"after""#),
        "{reply:?}"
    );
    assert!(texts <= 2, "hello and subscribed at most before the pong");
}
